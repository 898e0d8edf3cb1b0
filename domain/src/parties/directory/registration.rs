use super::*;

/// Self-registration: the company, and its first user (owner of a supplier,
/// or a client user).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationInput {
    #[serde(flatten)]
    pub company: CompanyInput,
    pub person_name: String,
    pub password: String,
    pub confirm: String,
    /// Consent to the processing of personal data (152-FZ).
    pub consent: String,
}

/// A registration that created its company and user.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub org_id: i64,
    pub user_id: i64,
}

/// The outcome of a registration. The registration form answers both the
/// same way ("check your e-mail"), so it cannot be used to learn who has an
/// account; the address's owner hears about the attempt instead.
#[derive(Debug, Clone, Serialize)]
pub enum Registration {
    New(Registered),
    /// The e-mail (or phone) already belongs to an account: nothing was
    /// created, and the account's owner was told someone tried.
    AddressTaken,
}

/// An existing account with this e-mail or phone: (id, name, e-mail, phone).
async fn existing_account(
    s: &Services,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Option<(i64, String, Option<String>, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, full_name, email, phone FROM users WHERE email = $1 OR phone = $2 ORDER BY id LIMIT 1",
    )
    .bind(email)
    .bind(phone)
    .fetch_optional(s.db.pool())
    .await
}

/// Tells an account's owner that someone tried to register with their
/// address (by e-mail, else SMS), and records the attempt. The caller has
/// hashed the password already (and throws it away), so the answer takes as
/// long as a registration that goes through.
async fn tell_address_taken(
    s: &Services,
    (user_id, name, email, phone): (i64, String, Option<String>, Option<String>),
) -> DomainResult<Registration> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let a = args!["name" => name, "link" => format!("{}/password/forgot", s.base_url)];
    let (channel, recipient) = match (email, phone) {
        (Some(e), _) => ("email", e),
        (None, Some(p)) => ("sms", p),
        (None, None) => return Ok(Registration::AddressTaken),
    };
    notify::enqueue(
        &mut tx,
        now,
        NewNotification {
            channel: channel.into(),
            recipient,
            user_id: Some(user_id),
            subject: s.texts.text("mail-registration-taken-subject", &a),
            body: s.texts.text("mail-registration-taken-body", &a),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        None,
        "registration.address_taken",
        "user",
        Some(user_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(Registration::AddressTaken)
}

fn check_person(input: &RegistrationInput, e: &mut FieldErrors) {
    if input.person_name.trim().is_empty() {
        e.add("person_name", "required");
    }
    if input.password.chars().count() < MIN_PASSWORD_LEN {
        e.add("password", "password.too_short");
    }
    if input.password != input.confirm {
        e.add("confirm", "password.mismatch");
    }
    if input.consent.is_empty() {
        e.add("consent", "consent.required");
    }
}

/// Registers a supplier company and its owner. The application goes to
/// moderation once the owner confirms their e-mail.
pub async fn register_supplier(
    s: &Services,
    input: &RegistrationInput,
) -> DomainResult<Registration> {
    let mut e = FieldErrors::new();
    let details = match input.company.validate(Strictness::Supplier) {
        Ok(d) => Some(d),
        Err(errs) => {
            e = errs;
            None
        }
    };
    check_person(input, &mut e);
    e.into_result()?;
    let details = details.ok_or(DomainError::Conflict("validation"))?;
    // Hashed before the transaction opens (see `PasswordHash`).
    let password = PasswordHash::of(&input.password).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    // One application per INN: a second registration of the same company is
    // a mistake or a duplicate (a rejected one may apply again).
    let dup: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM organisations WHERE kind = 'supplier' AND inn = $1 AND status <> 'rejected'",
    )
    .bind(details.inn.clone())
    .fetch_one(&mut *tx)
    .await?;
    if dup > 0 {
        return Err(DomainError::field("inn", "inn.already_registered"));
    }
    if let Some(existing) = existing_account(s, details.email.as_deref(), None).await? {
        drop(tx);
        return tell_address_taken(s, existing).await;
    }
    let org_id = insert_party(&mut tx, now, OrgKind::Supplier, &details, "unconfirmed").await?;
    let user_id = insert_user(
        &mut tx,
        now,
        org_id,
        &NewUser {
            full_name: input.person_name.trim().to_string(),
            email: details.email.clone(),
            phone: None,
            roles: vec![Role::Owner],
            password: Some(password),
        },
    )
    .await?;
    sqlx::query(
        "INSERT INTO employees (org_id, user_id, role, full_name, phone, email, created_at, updated_at)
         VALUES ($1, $2, 'owner', $3, $4, $5, $6, $6)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(input.person_name.trim())
    .bind(details.phone.clone())
    .bind(details.email.clone())
    .bind(to_db_time(now))
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE organisations SET registered_by = $1 WHERE id = $2")
        .bind(user_id)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    send_confirmation(
        s,
        &mut tx,
        now,
        user_id,
        &input.person_name,
        details.email.as_deref(),
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        None,
        "supplier.registered",
        "organisation",
        Some(org_id),
        json!({"inn": details.inn}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(Registration::New(Registered { org_id, user_id }))
}

/// Registers a client: a company (details as for suppliers, bank details
/// optional until the contract) or a private person (name, phone, e-mail).
/// No moderation: a client may place requests at once.
pub async fn register_client(
    s: &Services,
    input: &RegistrationInput,
) -> DomainResult<Registration> {
    let mut e = FieldErrors::new();
    let mut company = input.company.clone();
    if company.legal_form == "person" && company.name.trim().is_empty() {
        company.name = input.person_name.clone();
    }
    let details = match company.validate(Strictness::Client) {
        Ok(d) => Some(d),
        Err(errs) => {
            e = errs;
            None
        }
    };
    check_person(input, &mut e);
    e.into_result()?;
    let details = details.ok_or(DomainError::Conflict("validation"))?;
    let login_phone = if details.legal_form == "person" {
        details.phone.clone()
    } else {
        None
    };
    // Hashed before the transaction opens (see `PasswordHash`), and before
    // the address check, so a taken address answers as slowly as a new one.
    let password = PasswordHash::of(&input.password).await?;
    if let Some(existing) =
        existing_account(s, details.email.as_deref(), login_phone.as_deref()).await?
    {
        return tell_address_taken(s, existing).await;
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let org_id = insert_party(&mut tx, now, OrgKind::Client, &details, "active").await?;
    let user_id = insert_user(
        &mut tx,
        now,
        org_id,
        &NewUser {
            full_name: input.person_name.trim().to_string(),
            email: details.email.clone(),
            phone: login_phone,
            roles: vec![Role::Client],
            password: Some(password),
        },
    )
    .await?;
    send_confirmation(
        s,
        &mut tx,
        now,
        user_id,
        &input.person_name,
        details.email.as_deref(),
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        None,
        "client.registered",
        "organisation",
        Some(org_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(Registration::New(Registered { org_id, user_id }))
}

async fn insert_party(
    tx: &mut Tx,
    now: DateTime<Utc>,
    kind: OrgKind,
    d: &CompanyDetails,
    status: &str,
) -> DomainResult<i64> {
    let id = orgs::insert(
        tx,
        now,
        &NewOrganisation {
            kind,
            legal_form: d.legal_form.clone(),
            name: d.name.clone(),
            short_name: d.short_name.clone(),
            inn: d.inn.clone(),
            kpp: d.kpp.clone(),
            ogrn: d.ogrn.clone(),
            phone: d.phone.clone(),
            email: d.email.clone(),
            status: status.to_string(),
        },
    )
    .await?;
    write_details(tx, now, id, d).await?;
    Ok(id)
}

pub(super) async fn write_details(
    tx: &mut Tx,
    now: DateTime<Utc>,
    id: i64,
    d: &CompanyDetails,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organisations SET legal_form = $1, name = $2, short_name = $3, inn = $4, kpp = $5, ogrn = $6,
            legal_address = $7, postal_address = $8, region = $9, bank_name = $10, bik = $11,
            settlement_account = $12, corr_account = $13, vat_mode = $14, director_name = $15,
            director_post = $16, contact_name = $17, phone = $18, email = $19, updated_at = $20
         WHERE id = $21",
    )
    .bind(&d.legal_form)
    .bind(&d.name)
    .bind(d.short_name.clone())
    .bind(d.inn.clone())
    .bind(d.kpp.clone())
    .bind(d.ogrn.clone())
    .bind(d.legal_address.clone())
    .bind(d.postal_address.clone())
    .bind(d.region.clone())
    .bind(d.bank_name.clone())
    .bind(d.bik.clone())
    .bind(d.settlement_account.clone())
    .bind(d.corr_account.clone())
    .bind(d.vat_mode.clone())
    .bind(d.director_name.clone())
    .bind(d.director_post.clone())
    .bind(d.contact_name.clone())
    .bind(d.phone.clone())
    .bind(d.email.clone())
    .bind(to_db_time(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    crate::search::index_organisation(tx, id).await?;
    Ok(())
}

async fn send_confirmation(
    s: &Services,
    tx: &mut Tx,
    now: DateTime<Utc>,
    user_id: i64,
    name: &str,
    email: Option<&str>,
) -> DomainResult<()> {
    let Some(email) = email else { return Ok(()) };
    let token = tokens::issue(
        tx,
        now,
        "confirm_email",
        Some(user_id),
        &json!({"email": email}),
        Duration::days(3),
    )
    .await?;
    let link = format!("{}/confirm/{token}", s.base_url);
    let a = args!["name" => name.trim(), "link" => link];
    notify::enqueue(
        tx,
        now,
        NewNotification {
            channel: "email".into(),
            recipient: email.to_string(),
            user_id: Some(user_id),
            subject: s.texts.text("mail-confirm-subject", &a),
            body: s.texts.text("mail-confirm-body", &a),
        },
    )
    .await?;
    Ok(())
}

/// Confirms an e-mail address by its one-time link. A supplier's
/// application then goes to moderation. Returns the user id.
pub async fn confirm_email(s: &Services, token: &str) -> DomainResult<i64> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let Some((Some(user_id), _)) = tokens::consume(&mut tx, now, "confirm_email", token).await?
    else {
        return Err(DomainError::Conflict("link.invalid"));
    };
    email_confirmed(s, &mut tx, user_id).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(user_id)
}

/// Records that `user_id` confirmed their e-mail; an unconfirmed supplier
/// application goes to moderation.
async fn email_confirmed(s: &Services, tx: &mut Tx, user_id: i64) -> DomainResult<()> {
    let now = s.db.now();
    sqlx::query(
        "UPDATE users SET email_confirmed_at = $1 WHERE id = $2 AND email_confirmed_at IS NULL",
    )
    .bind(to_db_time(now))
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    let org: Option<(i64, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT o.id, o.kind, o.status, o.name, o.inn FROM organisations o JOIN users u ON u.org_id = o.id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((org_id, kind, status, name, inn)) = org
        && kind == "supplier"
        && status == "unconfirmed"
    {
        set_status_in(tx, now, org_id, "pending", None).await?;
        start_moderation(s, tx, org_id, &name, inn.as_deref(), Some(user_id)).await?;
    }
    audit::record(
        tx,
        now,
        None,
        "email.confirmed",
        "user",
        Some(user_id),
        json!({}),
    )
    .await?;
    Ok(())
}

/// Registers a supplier whose owner's e-mail counts as confirmed: its
/// application goes straight to moderation (the demo's pending supplier).
pub async fn register_confirmed_supplier(
    s: &Services,
    input: &RegistrationInput,
) -> DomainResult<Registered> {
    let Registration::New(reg) = register_supplier(s, input).await? else {
        return Err(DomainError::field("email", "email.taken"));
    };
    let mut tx = s.db.begin().await?;
    email_confirmed(s, &mut tx, reg.user_id).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(reg)
}
