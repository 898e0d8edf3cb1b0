use super::*;

/// Places a request through the operator, hunter or cabinet channel.
pub async fn place(s: &Services, actor: &Actor, r: IntakeRequest) -> DomainResult<Created> {
    check_channel(actor, r.channel)?;
    let now = s.db.now();
    let mut e = FieldErrors::new();
    let mut input = r.input.clone();
    let mut client = r.client.clone();
    if r.channel == Channel::Cabinet {
        client = ClientChoice::Existing(actor.org_id());
        // The client's own contact, unless they name someone else.
        let me: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT email, phone FROM users WHERE id = $1")
                .bind(actor.user_id())
                .fetch_optional(s.db.pool())
                .await?;
        if input.contact_name.trim().is_empty() {
            input.contact_name = actor.full_name().to_string();
        }
        if let Some((email, phone)) = me {
            if input.contact_email.trim().is_empty() {
                input.contact_email = email.unwrap_or_default();
            }
            if input.contact_phone.trim().is_empty() {
                input.contact_phone = phone.unwrap_or_default();
            }
        }
    }
    let t = request_type(&s.request_types, &input.request_type, &mut e);
    // The contact centre always notes who called; a new client needs a contact.
    let contact_required = r.channel == Channel::Operator || matches!(client, ClientChoice::New(_));
    let valid = match t.map(|t| input.validate(t, s, now, contact_required)) {
        Some(Ok(v)) => Some(v),
        Some(Err(errs)) => {
            e.0.extend(errs.0);
            None
        }
        None => None,
    };
    let new_client = match &client {
        ClientChoice::New(c) => match with_request_contact(c, &input).validate(true) {
            Ok(v) => Some(v),
            Err(errs) => {
                merge_client_errors(&mut e, errs);
                None
            }
        },
        ClientChoice::Existing(_) => None,
    };
    if r.attachments.len() > MAX_ATTACHMENTS {
        e.add("attachments", "attachments.too_many");
    }
    e.into_result()?;
    let (Some(t), Some(mut valid)) = (t, valid) else {
        return Err(DomainError::Conflict("validation"));
    };
    // Before the transaction: the geocoder is an outside call.
    crate::intake::addresses::locate(s, t, &mut valid).await;
    let stored = accept_files(s, &r.attachments).await?;
    let result = store_placed(s, actor, r.channel, &client, new_client, t, &valid, &stored).await;
    if result.is_err() {
        discard_files(s, &stored).await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn store_placed(
    s: &Services,
    actor: &Actor,
    channel: Channel,
    client: &ClientChoice,
    new_client: Option<ValidClient>,
    t: &RequestType,
    valid: &ValidRequest,
    files: &[StoredFile],
) -> DomainResult<Created> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let hunter = (channel == Channel::Hunter).then_some(actor.user_id());
    let client_id = match (client, new_client) {
        (ClientChoice::Existing(id), _) => *id,
        // Staff placing for a caller or their own client: they spoke to the
        // person, and offers go to the client's verified contacts anyway.
        (ClientChoice::New(_), Some(v)) => match find_client(&mut tx, &v).await? {
            Some(m) => m.org_id,
            None => create_client(&mut tx, now, &v, channel, hunter).await?,
        },
        (ClientChoice::New(_), None) => return Err(DomainError::Conflict("validation")),
    };
    let row = client_row(&mut tx, client_id)
        .await?
        .filter(|c| c.kind == "client")
        .ok_or(DomainError::NotFound)?;
    if let Some(h) = hunter
        && !hunter_may_take(&row, h)
    {
        return Err(DomainError::Conflict("client.not_yours"));
    }
    let created = requests::insert(
        s,
        &mut tx,
        valid,
        &Placement {
            client_org_id: row.id,
            channel,
            hunter_user_id: hunter,
            created_by: actor.user(),
        },
        t,
    )
    .await?;
    attach(&mut tx, now, created.id, row.id, actor.user(), files).await?;
    confirm(s, &mut tx, now, &created, valid, t).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(created)
}

pub(super) async fn attach(
    tx: &mut Tx,
    now: DateTime<Utc>,
    request_id: i64,
    org_id: i64,
    user: Option<i64>,
    files: &[StoredFile],
) -> Result<(), sqlx::Error> {
    for f in files {
        let file_id = f.record(tx, now, org_id, user).await?;
        sqlx::query("INSERT INTO request_files (request_id, file_id) VALUES ($1, $2)")
            .bind(request_id)
            .bind(file_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Tells the request's contact its number, by e-mail and/or SMS (through
/// the notification outbox, in the request's transaction).
pub(super) async fn confirm(
    s: &Services,
    tx: &mut Tx,
    now: DateTime<Utc>,
    created: &Created,
    r: &ValidRequest,
    t: &RequestType,
) -> Result<usize, sqlx::Error> {
    let a = args![
        "name" => r.contact_name.clone().unwrap_or_default(),
        "number" => created.number,
        "type" => t.title
    ];
    let mut sent = 0;
    if let Some(email) = &r.contact_email {
        notify::enqueue(
            tx,
            now,
            NewNotification {
                channel: "email".into(),
                recipient: email.clone(),
                user_id: None,
                subject: s.texts.text("mail-request-received-subject", &a),
                body: s.texts.text("mail-request-received-body", &a),
            },
        )
        .await?;
        sent += 1;
    }
    if let Some(phone) = &r.contact_phone {
        notify::enqueue(
            tx,
            now,
            NewNotification {
                channel: "sms".into(),
                recipient: phone.clone(),
                user_id: None,
                subject: String::new(),
                body: s.texts.text("sms-request-received", &a),
            },
        )
        .await?;
        sent += 1;
    }
    Ok(sent)
}

/// Creates a client record: the organisation (a private person's name is
/// the organisation's), and a company's contact person.
pub(super) async fn create_client(
    tx: &mut Tx,
    now: DateTime<Utc>,
    c: &ValidClient,
    channel: Channel,
    hunter: Option<i64>,
) -> DomainResult<i64> {
    let id = orgs::insert(
        tx,
        now,
        &NewOrganisation {
            kind: OrgKind::Client,
            legal_form: c.legal_form.clone(),
            name: c.name.clone(),
            short_name: None,
            inn: c.inn.clone(),
            kpp: None,
            ogrn: None,
            phone: c.phone.clone(),
            email: c.email.clone(),
            status: "active".into(),
        },
    )
    .await?;
    sqlx::query(
        "UPDATE organisations SET contact_name = $1, acquisition_channel = $2, hunter_user_id = $3 WHERE id = $4",
    )
    .bind(c.contact_name.clone())
    .bind(channel.as_str())
    .bind(hunter)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if c.is_company()
        && let Some(name) = &c.contact_name
    {
        sqlx::query(
            "INSERT INTO org_contacts (org_id, full_name, phone, email, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(c.phone.clone())
        .bind(c.email.clone())
        .bind(to_db_time(now))
        .execute(&mut **tx)
        .await?;
        // The contact's name and phone find the client too.
        crate::search::add_contact_terms(tx, id, name, c.phone.as_deref()).await?;
    }
    audit::record(
        tx,
        now,
        None,
        "client.created",
        "organisation",
        Some(id),
        json!({"channel": channel, "hunter": hunter}),
    )
    .await?;
    Ok(id)
}
