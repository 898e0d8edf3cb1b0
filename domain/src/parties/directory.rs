//! Suppliers and clients as parties to the brokerage: self-registration,
//! company details (checked: INN, KPP, OGRN, bank account against BIK),
//! e-mail confirmation, moderation of suppliers on the onboarding workflow,
//! and the history of every change of details.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use engine::{ObjectRef, Sql, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, scope};
use crate::accounts::{MIN_PASSWORD_LEN, NewUser, insert_user};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::notify::{self, NewNotification};
use crate::parties::orgs::{self, NewOrganisation};
use crate::services::Services;
use crate::values::{
    Bik, CorrespondentAccount, Email, Inn, InnKind, Kpp, Ogrn, OgrnKind, PhoneNumber,
    SettlementAccount, VatMode,
};
use crate::{access::audit, accounts::tokens, args};

/// The workflow that moderates suppliers.
pub const ONBOARDING: &str = "supplier_onboarding";

/// Company details as typed into a form (every field a string, kept as
/// typed so a form with errors can be shown again).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyInput {
    pub legal_form: String,
    pub name: String,
    pub short_name: String,
    pub inn: String,
    pub kpp: String,
    pub ogrn: String,
    pub legal_address: String,
    pub postal_address: String,
    pub region: String,
    pub bank_name: String,
    pub bik: String,
    pub settlement_account: String,
    pub corr_account: String,
    pub vat_mode: String,
    pub director_name: String,
    pub director_post: String,
    pub contact_name: String,
    pub phone: String,
    pub email: String,
}

/// Checked company details, normalised for storage.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CompanyDetails {
    pub legal_form: String,
    pub name: String,
    pub short_name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub legal_address: Option<String>,
    pub postal_address: Option<String>,
    pub region: Option<String>,
    pub bank_name: Option<String>,
    pub bik: Option<String>,
    pub settlement_account: Option<String>,
    pub corr_account: Option<String>,
    pub vat_mode: Option<String>,
    pub director_name: Option<String>,
    pub director_post: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Fields whose change sends an approved supplier back to moderation:
/// who the company is and where its money goes.
pub const MODERATED_FIELDS: [&str; 12] = [
    "legal_form",
    "name",
    "inn",
    "kpp",
    "ogrn",
    "legal_address",
    "bank_name",
    "bik",
    "settlement_account",
    "corr_account",
    "vat_mode",
    "director_name",
];

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// How strictly to check: suppliers need everything for payouts; clients
/// need bank details only when the contract is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    Supplier,
    Client,
}

impl CompanyInput {
    pub fn validate(&self, strictness: Strictness) -> Result<CompanyDetails, FieldErrors> {
        let mut e = FieldErrors::new();
        let form = self.legal_form.trim();
        let allowed: &[&str] = match strictness {
            Strictness::Supplier => &["ooo", "ao", "pao", "ip", "self_employed"],
            Strictness::Client => &["ooo", "ao", "pao", "ip", "self_employed", "person"],
        };
        if form.is_empty() {
            e.add("legal_form", "required");
        } else if !allowed.contains(&form) {
            e.add("legal_form", "legal_form.invalid");
        }
        let is_company = matches!(form, "ooo" | "ao" | "pao");
        let is_person_like = matches!(form, "ip" | "self_employed" | "person");
        if self.name.trim().is_empty() {
            e.add("name", "required");
        }
        // INN: 10 digits for a company, 12 for a person; optional for a private client.
        let inn = match opt(&self.inn) {
            None if form == "person" => None,
            None => {
                e.add("inn", "required");
                None
            }
            Some(s) => match Inn::parse(&s) {
                Ok(inn) => {
                    match (inn.kind(), is_company, is_person_like) {
                        (InnKind::LegalEntity, false, true) => e.add("inn", "inn.needs_12"),
                        (InnKind::Individual, true, _) => e.add("inn", "inn.needs_10"),
                        _ => {}
                    }
                    Some(inn.as_str().to_string())
                }
                Err(err) => {
                    e.add("inn", &format!("inn.{}", err.code()));
                    None
                }
            },
        };
        let kpp = match (opt(&self.kpp), is_company) {
            (None, true) => {
                e.add("kpp", "required");
                None
            }
            (None, false) => None,
            (Some(_), false) => {
                e.add("kpp", "kpp.not_for_person");
                None
            }
            (Some(s), true) => match Kpp::parse(&s) {
                Ok(k) => Some(k.as_str().to_string()),
                Err(err) => {
                    e.add("kpp", &format!("kpp.{}", err.code()));
                    None
                }
            },
        };
        let ogrn = match (opt(&self.ogrn), form) {
            (None, "ooo" | "ao" | "pao" | "ip") => {
                e.add("ogrn", "required");
                None
            }
            (None, _) => None,
            (Some(s), f) => {
                let kind = if f == "ip" {
                    OgrnKind::Individual
                } else {
                    OgrnKind::LegalEntity
                };
                match Ogrn::parse_kind(&s, kind) {
                    Ok(o) => Some(o.as_str().to_string()),
                    Err(err) => {
                        e.add("ogrn", &format!("ogrn.{}", err.code()));
                        None
                    }
                }
            }
        };
        if strictness == Strictness::Supplier && self.legal_address.trim().is_empty() {
            e.add("legal_address", "required");
        }
        // Bank details: all or nothing for clients, required for suppliers.
        let any_bank = [
            &self.bik,
            &self.settlement_account,
            &self.corr_account,
            &self.bank_name,
        ]
        .iter()
        .any(|s| !s.trim().is_empty());
        let (mut bik, mut account, mut corr) = (None, None, None);
        if strictness == Strictness::Supplier || any_bank {
            match opt(&self.bik).map(|s| Bik::parse(&s)) {
                None => e.add("bik", "required"),
                Some(Err(err)) => e.add("bik", &format!("bik.{}", err.code())),
                Some(Ok(b)) => bik = Some(b),
            }
            match opt(&self.settlement_account) {
                None => e.add("settlement_account", "required"),
                Some(s) => match (SettlementAccount::parse(&s), &bik) {
                    (Err(err), _) => {
                        e.add("settlement_account", &format!("account.{}", err.code()))
                    }
                    (Ok(a), Some(b)) => match a.check_with_bik(b) {
                        Ok(()) => account = Some(a.as_str().to_string()),
                        Err(_) => e.add("settlement_account", "account.key_mismatch"),
                    },
                    (Ok(a), None) => account = Some(a.as_str().to_string()),
                },
            }
            match opt(&self.corr_account) {
                None => e.add("corr_account", "required"),
                Some(s) => match (CorrespondentAccount::parse(&s), &bik) {
                    (Err(err), _) => e.add("corr_account", &format!("corr.{}", err.code())),
                    (Ok(c), Some(b)) => match c.check_with_bik(b) {
                        Ok(()) => corr = Some(c.as_str().to_string()),
                        Err(err) => e.add("corr_account", &format!("corr.{}", err.code())),
                    },
                    (Ok(c), None) => corr = Some(c.as_str().to_string()),
                },
            }
            if self.bank_name.trim().is_empty() {
                e.add("bank_name", "required");
            }
        }
        let vat_mode = match opt(&self.vat_mode) {
            None if strictness == Strictness::Supplier => {
                e.add("vat_mode", "required");
                None
            }
            None => None,
            Some(v) => match VatMode::parse(&v) {
                Ok(m) if form == "self_employed" && m != VatMode::None => {
                    e.add("vat_mode", "vat.self_employed_no_vat");
                    None
                }
                Ok(m) => Some(m.as_str().to_string()),
                Err(_) => {
                    e.add("vat_mode", "vat.invalid");
                    None
                }
            },
        };
        let phone = e.required("phone", &self.phone, "phone.invalid", PhoneNumber::parse);
        let email = e.required("email", &self.email, "email.invalid", Email::parse);
        if !e.is_empty() {
            return Err(e);
        }
        Ok(CompanyDetails {
            legal_form: form.to_string(),
            name: self.name.trim().to_string(),
            short_name: opt(&self.short_name),
            inn,
            kpp,
            ogrn,
            legal_address: opt(&self.legal_address),
            postal_address: opt(&self.postal_address),
            region: opt(&self.region),
            bank_name: opt(&self.bank_name),
            bik: bik.map(|b| b.as_str().to_string()),
            settlement_account: account,
            corr_account: corr,
            vat_mode,
            director_name: opt(&self.director_name),
            director_post: opt(&self.director_post),
            contact_name: opt(&self.contact_name),
            phone,
            email,
        })
    }
}

impl CompanyDetails {
    fn as_map(&self) -> BTreeMap<&'static str, Option<String>> {
        let mut m = BTreeMap::new();
        m.insert("legal_form", Some(self.legal_form.clone()));
        m.insert("name", Some(self.name.clone()));
        m.insert("short_name", self.short_name.clone());
        m.insert("inn", self.inn.clone());
        m.insert("kpp", self.kpp.clone());
        m.insert("ogrn", self.ogrn.clone());
        m.insert("legal_address", self.legal_address.clone());
        m.insert("postal_address", self.postal_address.clone());
        m.insert("region", self.region.clone());
        m.insert("bank_name", self.bank_name.clone());
        m.insert("bik", self.bik.clone());
        m.insert("settlement_account", self.settlement_account.clone());
        m.insert("corr_account", self.corr_account.clone());
        m.insert("vat_mode", self.vat_mode.clone());
        m.insert("director_name", self.director_name.clone());
        m.insert("director_post", self.director_post.clone());
        m.insert("contact_name", self.contact_name.clone());
        m.insert("phone", self.phone.clone());
        m.insert("email", self.email.clone());
        m
    }
}

/// An organisation's full details, as cards and edit forms show them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Party {
    pub id: i64,
    pub kind: String,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub details: CompanyDetails,
    pub status: String,
    pub status_reason: Option<String>,
    pub approved_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Party {
    /// The details as a form shows them for editing.
    pub fn to_input(&self) -> CompanyInput {
        let d = &self.details;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        CompanyInput {
            legal_form: d.legal_form.clone(),
            name: d.name.clone(),
            short_name: s(&d.short_name),
            inn: s(&d.inn),
            kpp: s(&d.kpp),
            ogrn: s(&d.ogrn),
            legal_address: s(&d.legal_address),
            postal_address: s(&d.postal_address),
            region: s(&d.region),
            bank_name: s(&d.bank_name),
            bik: s(&d.bik),
            settlement_account: s(&d.settlement_account),
            corr_account: s(&d.corr_account),
            vat_mode: s(&d.vat_mode),
            director_name: s(&d.director_name),
            director_post: s(&d.director_post),
            contact_name: s(&d.contact_name),
            phone: s(&d.phone),
            email: s(&d.email),
        }
    }
}

const PARTY_COLUMNS: &str = "o.id, o.kind, o.legal_form, o.name, o.short_name, o.inn, o.kpp, o.ogrn, o.legal_address, o.postal_address, o.region, o.bank_name, o.bik, o.settlement_account, o.corr_account, o.vat_mode, o.director_name, o.director_post, o.contact_name, o.phone, o.email, o.status, o.status_reason, o.approved_at, o.created_at, o.updated_at";

/// A party the actor may see.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Party> {
    let mut sql = Sql::new("SELECT ");
    sql.push(PARTY_COLUMNS)
        .push(" FROM organisations o WHERE o.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Organisation, "o");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

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

/// The outcome of a registration.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub org_id: i64,
    pub user_id: i64,
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
) -> DomainResult<Registered> {
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
            password: Some(input.password.clone()),
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
    Ok(Registered { org_id, user_id })
}

/// Registers a client: a company (details as for suppliers, bank details
/// optional until the contract) or a private person (name, phone, e-mail).
/// No moderation: a client may place requests at once.
pub async fn register_client(s: &Services, input: &RegistrationInput) -> DomainResult<Registered> {
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
            phone: if details.legal_form == "person" {
                details.phone.clone()
            } else {
                None
            },
            roles: vec![Role::Client],
            password: Some(input.password.clone()),
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
    Ok(Registered { org_id, user_id })
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

async fn write_details(
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
    let reg = register_supplier(s, input).await?;
    let mut tx = s.db.begin().await?;
    email_confirmed(s, &mut tx, reg.user_id).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(reg)
}

async fn start_moderation(
    s: &Services,
    tx: &mut Tx,
    org_id: i64,
    name: &str,
    inn: Option<&str>,
    actor: Option<i64>,
) -> DomainResult<()> {
    let mut data = Map::new();
    data.insert("company_name".into(), Value::from(name));
    data.insert("inn".into(), Value::from(inn.unwrap_or_default()));
    s.engine
        .start_in_tx(
            tx,
            ONBOARDING,
            ObjectRef {
                kind: "supplier".into(),
                id: org_id,
            },
            data,
            actor,
        )
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
    Ok(())
}

async fn set_status_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    org_id: i64,
    status: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    let approved = if status == "approved" {
        Some(to_db_time(now))
    } else {
        None
    };
    sqlx::query(
        "UPDATE organisations SET status = $1, status_reason = $2, approved_at = COALESCE($3, approved_at), updated_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(reason.map(str::to_string))
    .bind(approved)
    .bind(to_db_time(now))
    .bind(org_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves a supplier to a moderation status; called by the onboarding
/// workflow's `supplier.set_status` action. Idempotent. Tells the owner.
pub async fn apply_moderation_status(
    s: &Services,
    org_id: i64,
    status: &str,
    reason: Option<&str>,
) -> DomainResult<()> {
    const ALLOWED: [&str; 4] = ["pending", "approved", "rejected", "changes_requested"];
    if !ALLOWED.contains(&status) {
        return Err(DomainError::field("status", "status.invalid"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM organisations WHERE id = $1 AND kind = 'supplier'")
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(current) = current else {
        return Err(DomainError::NotFound);
    };
    if current == status {
        return Ok(());
    }
    set_status_in(&mut tx, now, org_id, status, reason).await?;
    if status != "pending" {
        let owners: Vec<(i64, Option<String>, String)> = sqlx::query_as(
            "SELECT u.id, u.email, u.full_name FROM users u JOIN user_roles r ON r.user_id = u.id
             WHERE u.org_id = $1 AND r.role = 'owner' AND u.status = 'active'",
        )
        .bind(org_id)
        .fetch_all(&mut *tx)
        .await?;
        for (uid, email, name) in owners {
            let Some(email) = email else { continue };
            let a = args![
                "name" => name,
                "reason" => reason.unwrap_or_default(),
                "link" => format!("{}/supplier/profile", s.base_url)
            ];
            notify::enqueue(
                &mut tx,
                now,
                NewNotification {
                    channel: "email".into(),
                    recipient: email,
                    user_id: Some(uid),
                    subject: s
                        .texts
                        .text(&format!("mail-moderation-{status}-subject"), &a),
                    body: s.texts.text(&format!("mail-moderation-{status}-body"), &a),
                },
            )
            .await?;
        }
    }
    audit::record(
        &mut tx,
        now,
        None,
        "supplier.status",
        "organisation",
        Some(org_id),
        json!({"status": status, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// What an edit of company details did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DetailsSaved {
    Unchanged,
    Saved,
    /// Legal or bank details changed: the supplier is back in moderation.
    SentToModeration,
}

/// Saves an organisation's details (by a member with the right role, or by
/// staff), records what changed, and sends a supplier whose legal or bank
/// details changed back to moderation.
pub async fn update_details(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    input: &CompanyInput,
) -> DomainResult<DetailsSaved> {
    let party = get(s, actor, org_id).await?;
    let strictness = if party.kind == "supplier" {
        Strictness::Supplier
    } else {
        Strictness::Client
    };
    let details = input.validate(strictness).map_err(DomainError::Invalid)?;
    if party.kind == "supplier" && details.inn != party.details.inn {
        // A different INN is a different company: it must register anew.
        return Err(DomainError::field("inn", "inn.cannot_change"));
    }
    let before = party.details.as_map();
    let after = details.as_map();
    let changed: Vec<(&str, Option<String>, Option<String>)> = after
        .iter()
        .filter_map(|(k, v)| {
            let old = before.get(k).cloned().flatten();
            (old != *v).then(|| (*k, old, v.clone()))
        })
        .collect();
    if changed.is_empty() {
        return Ok(DetailsSaved::Unchanged);
    }
    let moderated =
        party.kind == "supplier" && changed.iter().any(|(k, _, _)| MODERATED_FIELDS.contains(k));
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    write_details(&mut tx, now, org_id, &details).await?;
    let change_log: Vec<Value> = changed
        .iter()
        .map(|(k, old, new)| json!({"field": k, "old": old, "new": new}))
        .collect();
    sqlx::query("INSERT INTO org_changes (org_id, at, user_id, changes) VALUES ($1, $2, $3, $4)")
        .bind(org_id)
        .bind(to_db_time(now))
        .bind(actor.user())
        .bind(Value::Array(change_log).to_string())
        .execute(&mut *tx)
        .await?;
    let mut result = DetailsSaved::Saved;
    if moderated {
        match party.status.as_str() {
            "approved" | "rejected" => {
                set_status_in(&mut tx, now, org_id, "pending", None).await?;
                start_moderation(
                    s,
                    &mut tx,
                    org_id,
                    &details.name,
                    details.inn.as_deref(),
                    actor.user(),
                )
                .await?;
                result = DetailsSaved::SentToModeration;
            }
            _ => {}
        }
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "organisation.details_changed",
        "organisation",
        Some(org_id),
        json!({"fields": changed.iter().map(|c| c.0).collect::<Vec<_>>()}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(result)
}

/// The supplier answers a request for changes: the application goes back
/// to the manager's check.
pub async fn resubmit(s: &Services, actor: &Actor) -> DomainResult<()> {
    let party = get(s, actor, actor.org_id).await?;
    if party.status != "changes_requested" {
        return Err(DomainError::Conflict("application.not_awaiting_changes"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    set_status_in(&mut tx, now, party.id, "pending", None).await?;
    s.engine
        .emit_to_object_in_tx(
            &mut tx,
            "supplier",
            party.id,
            "application.resubmitted",
            json!({"company_name": party.details.name, "inn": party.details.inn}),
            actor.user(),
        )
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "supplier.resubmitted",
        "organisation",
        Some(party.id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// One change of details, for the history on a card.
#[derive(Debug, Clone, Serialize)]
pub struct DetailsChange {
    pub at: i64,
    pub user_name: Option<String>,
    pub changes: Value,
}

pub async fn changes(s: &Services, actor: &Actor, org_id: i64) -> DomainResult<Vec<DetailsChange>> {
    get(s, actor, org_id).await?;
    let rows: Vec<(i64, Option<String>, String)> = sqlx::query_as(
        "SELECT c.at, u.full_name, c.changes FROM org_changes c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.org_id = $1 ORDER BY c.at DESC, c.id DESC LIMIT 200",
    )
    .bind(org_id)
    .fetch_all(s.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, user_name, changes)| DetailsChange {
            at,
            user_name,
            changes: serde_json::from_str(&changes).unwrap_or(Value::Null),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sber() -> CompanyInput {
        CompanyInput {
            legal_form: "pao".into(),
            name: "ПАО Сбербанк".into(),
            inn: "7707083893".into(),
            kpp: "773601001".into(),
            ogrn: "1027700132195".into(),
            legal_address: "г. Москва, ул. Вавилова, д. 19".into(),
            bank_name: "ПАО Сбербанк".into(),
            bik: "044525225".into(),
            settlement_account: "40702810200000012345".into(),
            corr_account: "30101810400000000225".into(),
            vat_mode: "vat22".into(),
            phone: "+7 495 500-55-50".into(),
            email: "Info@Sber.test".into(),
            ..Default::default()
        }
    }

    #[test]
    fn real_company_details_pass_and_are_normalised() {
        let d = sber().validate(Strictness::Supplier).expect("valid");
        assert_eq!(d.phone.as_deref(), Some("+74955005550"));
        assert_eq!(d.email.as_deref(), Some("info@sber.test"));
    }

    #[test]
    fn each_wrong_field_is_named() {
        let mut i = sber();
        i.inn = "7707083894".into();
        i.settlement_account = "40702810300000012345".into();
        i.kpp = "77360100".into();
        i.vat_mode = "".into();
        let e = i.validate(Strictness::Supplier).expect_err("invalid");
        assert_eq!(e.get("inn"), Some("inn.checksum"));
        assert_eq!(e.get("settlement_account"), Some("account.key_mismatch"));
        assert!(e.get("kpp").is_some_and(|c| c.starts_with("kpp.")));
        assert_eq!(e.get("vat_mode"), Some("required"));
    }

    #[test]
    fn a_sole_proprietor_needs_a_12_digit_inn_and_an_ogrnip() {
        let mut i = sber();
        i.legal_form = "ip".into();
        i.kpp = String::new();
        let e = i.validate(Strictness::Supplier).expect_err("invalid");
        assert_eq!(e.get("inn"), Some("inn.needs_12"));
        assert!(e.get("ogrn").is_some_and(|c| c.starts_with("ogrn.")));
    }

    #[test]
    fn a_private_client_needs_only_name_phone_and_email() {
        let i = CompanyInput {
            legal_form: "person".into(),
            name: "Иван Петров".into(),
            phone: "89161234567".into(),
            email: "ivan@example.test".into(),
            ..Default::default()
        };
        assert!(i.validate(Strictness::Client).is_ok());
        assert!(i.validate(Strictness::Supplier).is_err());
    }
}

/// What a lookup in the company registry did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    Filled,
    NotFound,
    /// No registry account is configured: the fields stay manual.
    NotConfigured,
    /// The registry did not answer; the user may type the details.
    Unavailable,
}

/// Fills empty fields of a company form from the registry by INN (and the
/// bank by BIK). What the user already typed is kept.
pub async fn fill_from_registry(s: &Services, input: &CompanyInput) -> (CompanyInput, Lookup) {
    let mut out = input.clone();
    if !s.registry.is_configured() {
        return (out, Lookup::NotConfigured);
    }
    let Ok(inn) = Inn::parse(&input.inn) else {
        return (out, Lookup::NotFound);
    };
    let fill = |field: &mut String, value: Option<String>| {
        if field.trim().is_empty()
            && let Some(v) = value
        {
            *field = v;
        }
    };
    let result = match s.registry.find_by_inn(inn.as_str()).await {
        Ok(Some(c)) => {
            fill(
                &mut out.legal_form,
                c.legal_form.map(|f| f.as_str().to_string()),
            );
            fill(&mut out.name, Some(c.full_name.clone()));
            fill(&mut out.short_name, c.short_name.clone());
            fill(&mut out.kpp, c.kpp.clone());
            fill(&mut out.ogrn, c.ogrn.clone());
            fill(&mut out.director_name, c.director_name.clone());
            fill(&mut out.director_post, c.director_post.clone());
            if let Some(a) = &c.address {
                fill(&mut out.legal_address, Some(a.value.clone()));
                fill(&mut out.region, a.region.clone());
            }
            Lookup::Filled
        }
        Ok(None) => Lookup::NotFound,
        Err(e) => {
            tracing::warn!(error = %e, "company registry lookup failed");
            Lookup::Unavailable
        }
    };
    if let Ok(bik) = Bik::parse(&input.bik)
        && let Ok(Some(bank)) = s.registry.find_bank_by_bik(bik.as_str()).await
    {
        fill(&mut out.bank_name, Some(bank.name.clone()));
        fill(&mut out.corr_account, bank.correspondent_account.clone());
    }
    (out, result)
}

/// Staff suspend an approved supplier (it stops receiving requests) or
/// lift the suspension.
pub async fn set_suspended(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    suspended: bool,
    reason: &str,
) -> DomainResult<()> {
    if !actor.is_staff() {
        return Err(DomainError::Forbidden);
    }
    let party = get(s, actor, org_id).await?;
    if party.kind != "supplier" {
        return Err(DomainError::NotFound);
    }
    let (from, to) = if suspended {
        ("approved", "suspended")
    } else {
        ("suspended", "approved")
    };
    if party.status != from {
        return Err(DomainError::Conflict("supplier.status_not_allowed"));
    }
    if suspended && reason.trim().is_empty() {
        return Err(DomainError::field("reason", "required"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    set_status_in(
        &mut tx,
        now,
        org_id,
        to,
        Some(reason.trim()).filter(|r| !r.is_empty()),
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "supplier.suspension",
        "organisation",
        Some(org_id),
        json!({"suspended": suspended, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Filters of the staff's directories.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DirectoryFilter {
    pub q: Option<String>,
    pub status: Option<String>,
    pub region: Option<String>,
    /// Suppliers having an active machine of this category.
    pub category: Option<String>,
}

/// A line of a directory.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DirectoryRow {
    pub id: i64,
    pub name: String,
    pub legal_form: String,
    pub inn: Option<String>,
    pub region: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub machines: i64,
}

/// Suppliers or clients, for the broker's staff.
pub async fn directory(
    s: &Services,
    actor: &Actor,
    kind: OrgKind,
    f: &DirectoryFilter,
) -> DomainResult<Vec<DirectoryRow>> {
    if !actor.is_staff() || kind == OrgKind::Broker {
        return Err(DomainError::Forbidden);
    }
    let mut sql = Sql::new(
        "SELECT o.id, o.name, o.legal_form, o.inn, o.region, o.phone, o.email, o.status, o.created_at,
                (SELECT COUNT(*) FROM machines m WHERE m.org_id = o.id AND m.status = 'active') AS machines
         FROM organisations o WHERE o.kind = ",
    );
    sql.bind(kind.as_str());
    scope(&mut sql, actor, Resource::Organisation, "o");
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(" AND o.search_text LIKE ")
            .bind(crate::search::pattern(q))
            .push(" ESCAPE '\\'");
    }
    if let Some(st) = f.status.as_deref().filter(|v| !v.is_empty()) {
        sql.push(" AND o.status = ").bind(st);
    }
    if let Some(r) = f.region.as_deref().filter(|v| !v.is_empty()) {
        // The region is part of the folded search text.
        sql.push(" AND o.search_text LIKE ")
            .bind(crate::search::pattern(r))
            .push(" ESCAPE '\\'");
    }
    if let Some(c) = f.category.as_deref().filter(|v| !v.is_empty()) {
        sql.push(" AND EXISTS (SELECT 1 FROM machines m WHERE m.org_id = o.id AND m.status = 'active' AND m.category = ")
            .bind(c)
            .push(")");
    }
    sql.push(" ORDER BY o.name LIMIT 1000");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A client's contact person.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub org_id: i64,
    pub full_name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactInput {
    pub full_name: String,
    pub position: String,
    pub phone: String,
    pub email: String,
}

pub async fn contacts(s: &Services, actor: &Actor, org_id: i64) -> DomainResult<Vec<Contact>> {
    let mut sql = Sql::new(
        "SELECT c.id, c.org_id, c.full_name, c.position, c.phone, c.email FROM org_contacts c WHERE c.org_id = ",
    );
    sql.bind(org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "c");
    sql.push(" ORDER BY c.full_name");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

pub async fn add_contact(s: &Services, actor: &Actor, input: &ContactInput) -> DomainResult<i64> {
    let mut e = FieldErrors::new();
    if input.full_name.trim().is_empty() {
        e.add("full_name", "required");
    }
    let phone = e.optional("phone", &input.phone, "phone.invalid", PhoneNumber::parse);
    let email = e.optional("email", &input.email, "email.invalid", Email::parse);
    if phone.is_none() && email.is_none() && e.get("phone").is_none() && e.get("email").is_none() {
        e.add("phone", "contact.phone_or_email_required");
    }
    e.into_result()?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO org_contacts (org_id, full_name, position, phone, email, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(actor.org_id)
    .bind(input.full_name.trim())
    .bind(opt(&input.position))
    .bind(phone)
    .bind(email)
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "contact.added",
        "organisation",
        Some(actor.org_id),
        json!({"contact_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_contact(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    let mut sql = Sql::new(
        "SELECT c.id, c.org_id, c.full_name, c.position, c.phone, c.email FROM org_contacts c WHERE c.id = ",
    );
    sql.bind(id);
    scope(&mut sql, actor, Resource::OrgOwned, "c");
    let found: Option<Contact> = sql.query_as().fetch_optional(s.db.pool()).await?;
    let c = found.ok_or(DomainError::NotFound)?;
    if c.org_id != actor.org_id {
        return Err(DomainError::NotFound);
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query("DELETE FROM org_contacts WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "contact.removed",
        "organisation",
        Some(actor.org_id),
        json!({"contact_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
