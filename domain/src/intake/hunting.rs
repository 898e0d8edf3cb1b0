//! Request intake: how requests come in, and whose they are.
//!
//! Channels (M5):
//!
//! - **website** — a visitor fills the public form (a page per type, the
//!   embeddable copy, or the JSON endpoint). Spam is kept out by a honeypot
//!   field, a per-address rate limit ([`admit_public`]) and a [`Captcha`]
//!   hook; the visitor becomes a client (found again by INN, phone or
//!   e-mail on the next visit) and gets the request's number by e-mail
//!   and/or SMS ([`submit_public`]).
//! - **operator** — the contact centre: a phone lookup first
//!   ([`lookup`]: the caller's company, history, open requests, responsible
//!   manager), then the form; a new caller becomes a client inline.
//! - **hunter** — a hunter's own clients ([`hunter_clients`],
//!   [`add_hunter_client`]) and their requests.
//! - **cabinet** — a client places a request itself.
//!
//! Whatever the channel, [`place`] or [`submit_public`] checks everything
//! first, stores the attachments, then writes the client (if new), the
//! request, its workflow, its files and the confirmation in one
//! transaction: a refused or failed request leaves nothing behind.
//!
//! Ownership (DESIGN §4) is decided by [`crate::intake::ownership`] when the request
//! is stored; [`hand_over`] is what the workflow action `client.first_order`
//! runs when a client's first order goes into work, and [`set_manager`] is
//! an admin choosing the responsible manager instead of the least loaded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use engine::{Sql, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::files::{Purpose, StoredFile};
use crate::intake::request_types::{FieldKind, RequestType, RequestTypes};
use crate::intake::requests::{
    self, Channel, Created, Placement, RequestInput, RequestRow, ValidRequest,
};
use crate::notify::{self, NewNotification};
use crate::parties::orgs::{self, NewOrganisation};
use crate::rate_limit::{self, Limit};
use crate::services::Services;
use crate::values::{Email, Inn, InnKind, PhoneNumber};
use crate::{access::audit, args, intake::ownership};

/// At most this many files per request.
pub const MAX_ATTACHMENTS: usize = 10;

/// A file sent with a request.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The captcha hook of the public form. The default, [`NoCaptcha`], lets
/// everyone through (the honeypot and the rate limit still apply). To use a
/// provider (Yandex SmartCaptcha, hCaptcha…), implement this trait — send
/// the token and the visitor's address to the provider's verification
/// endpoint with the secret key — and put it in the web state
/// (`AppState::captcha`); the form's widget must post its answer in the
/// field `captcha_token` (the JSON endpoint takes it under the same name).
#[engine::async_trait]
pub trait Captcha: Send + Sync + 'static {
    /// Whether the visitor's answer is right. An error (the provider did
    /// not answer) refuses the submission as a failed captcha would.
    async fn verify(&self, token: &str, ip: Option<&str>) -> anyhow::Result<bool>;

    /// Whether forms should show the provider's widget.
    fn enabled(&self) -> bool {
        false
    }
}

/// No captcha: every answer passes.
pub struct NoCaptcha;

#[engine::async_trait]
impl Captcha for NoCaptcha {
    async fn verify(&self, _token: &str, _ip: Option<&str>) -> anyhow::Result<bool> {
        Ok(true)
    }
}

/// A new client as typed by staff or a visitor (every value as typed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientInput {
    /// `person`, or a company's legal form (`ooo`, `ao`, `pao`, `ip`,
    /// `self_employed`); empty: a company if a company name is given (its
    /// form guessed from the INN), else a private person.
    pub legal_form: String,
    pub company_name: String,
    pub inn: String,
    /// The person (for a private client, the client's own name).
    pub contact_name: String,
    pub phone: String,
    pub email: String,
}

/// A checked new client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidClient {
    pub legal_form: String,
    pub name: String,
    pub inn: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl ValidClient {
    fn is_company(&self) -> bool {
        self.legal_form != "person"
    }
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl ClientInput {
    /// Checks a new client. With `require_contact`, a phone or an e-mail
    /// is needed to reach them.
    pub fn validate(&self, require_contact: bool) -> Result<ValidClient, FieldErrors> {
        let mut e = FieldErrors::new();
        let company_name = self.company_name.trim();
        let inn = match opt(&self.inn) {
            None => None,
            Some(s) => match Inn::parse(&s) {
                Ok(i) => Some(i),
                Err(err) => {
                    e.add("inn", &format!("inn.{}", err.code()));
                    None
                }
            },
        };
        let legal_form = match self.legal_form.trim() {
            "" | "company" if !company_name.is_empty() => match inn.as_ref().map(Inn::kind) {
                Some(InnKind::Individual) => "ip".to_string(),
                _ => "ooo".to_string(),
            },
            "" | "company" => "person".to_string(),
            f if orgs::LEGAL_FORMS.contains(&f) => f.to_string(),
            _ => {
                e.add("legal_form", "legal_form.invalid");
                "person".to_string()
            }
        };
        if let Some(i) = &inn {
            match (i.kind(), legal_form.as_str()) {
                (InnKind::LegalEntity, "person" | "ip" | "self_employed") => {
                    e.add("inn", "inn.needs_12")
                }
                (InnKind::Individual, "ooo" | "ao" | "pao") => e.add("inn", "inn.needs_10"),
                _ => {}
            }
        }
        let contact_name = opt(&self.contact_name);
        let name = if legal_form == "person" {
            if contact_name.is_none() {
                e.add("contact_name", "required");
            }
            contact_name.clone().unwrap_or_default()
        } else {
            if company_name.is_empty() {
                e.add("company_name", "required");
            } else if company_name.chars().count() > 300 {
                e.add("company_name", "text.too_long");
            }
            company_name.to_string()
        };
        let phone = e.optional("phone", &self.phone, "phone.invalid", PhoneNumber::parse);
        let email = e.optional("email", &self.email, "email.invalid", Email::parse);
        if require_contact
            && phone.is_none()
            && email.is_none()
            && e.get("phone").is_none()
            && e.get("email").is_none()
        {
            e.add("phone", "contact.phone_or_email_required");
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ValidClient {
            legal_form,
            name,
            inn: inn.map(|i| i.as_str().to_string()),
            contact_name,
            phone,
            email,
        })
    }
}

/// For whom a request is placed.
#[derive(Debug, Clone)]
pub enum ClientChoice {
    /// A client that exists (for a client's own cabinet: its organisation).
    Existing(i64),
    /// A new client typed with the request; its contact defaults to the
    /// request's contact. Found again instead of duplicated when a client
    /// with the same INN, phone or e-mail exists.
    New(ClientInput),
}

/// A request placed by a signed-in person.
#[derive(Debug, Clone)]
pub struct IntakeRequest {
    pub channel: Channel,
    pub client: ClientChoice,
    pub input: RequestInput,
    pub attachments: Vec<Attachment>,
}

/// A client's row as the ownership rule reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ClientRow {
    id: i64,
    kind: String,
    hunter_user_id: Option<i64>,
    manager_user_id: Option<i64>,
}

async fn client_row(tx: &mut Tx, id: i64) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, hunter_user_id, manager_user_id FROM organisations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Whether a hunter may place requests for a client: their own, or one
/// that nobody handles yet (it becomes theirs).
fn hunter_may_take(c: &ClientRow, hunter: i64) -> bool {
    c.hunter_user_id == Some(hunter) || (c.hunter_user_id.is_none() && c.manager_user_id.is_none())
}

/// Who may place requests through which channel.
fn check_channel(actor: &Actor, channel: Channel) -> DomainResult<()> {
    let ok = match channel {
        Channel::Cabinet => actor.org_kind == OrgKind::Client && actor.has(Role::Client),
        Channel::Operator => {
            actor.is_staff() && actor.has_any(&[Role::Admin, Role::Operator, Role::Manager])
        }
        Channel::Hunter => actor.is_staff() && actor.has(Role::Hunter),
        Channel::Website | Channel::Api => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

fn request_type<'a>(
    types: &'a RequestTypes,
    code: &str,
    e: &mut FieldErrors,
) -> Option<&'a RequestType> {
    let t = types.get(code.trim());
    if t.is_none() {
        e.add("request_type", "request_type.unknown");
    }
    t
}

/// Adds a client's errors to the request's, under the request form's names
/// (the client's contact is the request's contact).
fn merge_client_errors(e: &mut FieldErrors, client: FieldErrors) {
    for err in client.0 {
        let field = match err.field.as_str() {
            "contact_name" => "contact_name",
            "phone" => "contact_phone",
            "email" => "contact_email",
            other => other,
        };
        if e.get(field).is_none() {
            e.add(field, &err.code);
        }
    }
}

fn with_request_contact(c: &ClientInput, r: &RequestInput) -> ClientInput {
    let pick = |own: &str, from: &str| {
        if own.trim().is_empty() {
            from.to_string()
        } else {
            own.to_string()
        }
    };
    ClientInput {
        contact_name: pick(&c.contact_name, &r.contact_name),
        phone: pick(&c.phone, &r.contact_phone),
        email: pick(&c.email, &r.contact_email),
        ..c.clone()
    }
}

/// Checks and stores the files; on a refused one, removes those already
/// stored and reports it.
async fn accept_files(s: &Services, files: &[Attachment]) -> DomainResult<Vec<StoredFile>> {
    let mut stored = Vec::new();
    for f in files {
        match s
            .files
            .accept("attachments", Purpose::Document, &f.name, &f.bytes)
            .await
        {
            Ok(x) => stored.push(x),
            Err(e) => {
                for x in &stored {
                    s.files.discard(x).await;
                }
                return Err(e);
            }
        }
    }
    Ok(stored)
}

async fn discard_files(s: &Services, files: &[StoredFile]) {
    for f in files {
        s.files.discard(f).await;
    }
}

/// Places a request through the operator, hunter or cabinet channel.
pub async fn place(s: &Services, actor: &Actor, r: IntakeRequest) -> DomainResult<Created> {
    check_channel(actor, r.channel)?;
    let now = s.db.now();
    let mut e = FieldErrors::new();
    let mut input = r.input.clone();
    let mut client = r.client.clone();
    if r.channel == Channel::Cabinet {
        client = ClientChoice::Existing(actor.org_id);
        // The client's own contact, unless they name someone else.
        let me: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT email, phone FROM users WHERE id = $1")
                .bind(actor.user_id)
                .fetch_optional(s.db.pool())
                .await?;
        if input.contact_name.trim().is_empty() {
            input.contact_name = actor.full_name.clone();
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
    let (Some(t), Some(valid)) = (t, valid) else {
        return Err(DomainError::Conflict("validation"));
    };
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
    let hunter = (channel == Channel::Hunter).then_some(actor.user_id);
    let client_id = match (client, new_client) {
        (ClientChoice::Existing(id), _) => *id,
        (ClientChoice::New(_), Some(v)) => match find_client(&mut tx, &v).await? {
            Some(id) => id,
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

async fn attach(
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
async fn confirm(
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

/// An existing client with this INN, phone or e-mail (in that order): the
/// organisation's own, a contact person's or a client user's.
async fn find_client(tx: &mut Tx, c: &ValidClient) -> Result<Option<i64>, sqlx::Error> {
    if let Some(inn) = &c.inn {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM organisations WHERE kind = 'client' AND inn = $1 ORDER BY id LIMIT 1",
        )
        .bind(inn)
        .fetch_optional(&mut **tx)
        .await?;
        if id.is_some() {
            return Ok(id);
        }
    }
    for (column, value) in [("phone", &c.phone), ("email", &c.email)] {
        let Some(value) = value else { continue };
        // `column` is one of two fixed names, never input.
        let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT o.id FROM organisations o WHERE o.kind = 'client' AND (o.{column} = $1
               OR EXISTS (SELECT 1 FROM org_contacts c WHERE c.org_id = o.id AND c.{column} = $1)
               OR EXISTS (SELECT 1 FROM users u WHERE u.org_id = o.id AND u.{column} = $1))
             ORDER BY o.id LIMIT 1"
        )))
        .bind(value)
        .fetch_optional(&mut **tx)
        .await?;
        if id.is_some() {
            return Ok(id);
        }
    }
    Ok(None)
}

/// Creates a client record: the organisation (a private person's name is
/// the organisation's), and a company's contact person.
async fn create_client(
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

/// What a website visitor sends besides the request itself.
#[derive(Debug, Clone, Default)]
pub struct PublicSubmission {
    pub input: RequestInput,
    /// A company, if the visitor orders for one.
    pub company_name: String,
    pub inn: String,
    /// The honeypot: a field people do not see and bots fill in.
    pub website: String,
    pub captcha_token: String,
}

/// The key of the public form's rate limit.
fn public_key(ip: Option<&str>) -> String {
    format!("public_request:{}", ip.unwrap_or("unknown"))
}

/// Counts a submission of the public form (page or JSON) from `ip` against
/// `limit`, before anything else is read: a flood is refused cheaply, and
/// its refused attempts keep counting.
pub async fn admit_public(s: &Services, ip: Option<&str>, limit: Limit) -> DomainResult<()> {
    rate_limit::hit(&s.db, &public_key(ip), limit).await
}

/// A website visitor's request (after [`admit_public`]): honeypot, captcha,
/// the request and the visitor checked; then the visitor's client record
/// (found or created, with a manager at once — a passive channel), the
/// request and its files, and the confirmation — all in one transaction.
pub async fn submit_public(
    s: &Services,
    captcha: &dyn Captcha,
    ip: Option<&str>,
    sub: PublicSubmission,
    attachments: Vec<Attachment>,
) -> DomainResult<Created> {
    if !sub.website.trim().is_empty() {
        return Err(DomainError::field("website", "spam.honeypot"));
    }
    let passed = captcha
        .verify(sub.captcha_token.trim(), ip)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "captcha provider failed");
            false
        });
    if !passed {
        return Err(DomainError::field("captcha_token", "captcha.failed"));
    }
    let now = s.db.now();
    let mut e = FieldErrors::new();
    let t = request_type(&s.request_types, &sub.input.request_type, &mut e);
    let client = ClientInput {
        company_name: sub.company_name.clone(),
        inn: sub.inn.clone(),
        ..Default::default()
    };
    let valid = match t.map(|t| sub.input.validate(t, s, now, true)) {
        Some(Ok(v)) => Some(v),
        Some(Err(errs)) => {
            e.0.extend(errs.0);
            None
        }
        None => None,
    };
    let valid_client = match with_request_contact(&client, &sub.input).validate(true) {
        Ok(v) => Some(v),
        Err(errs) => {
            merge_client_errors(&mut e, errs);
            None
        }
    };
    if attachments.len() > MAX_ATTACHMENTS {
        e.add("attachments", "attachments.too_many");
    }
    e.into_result()?;
    let (Some(t), Some(valid), Some(client)) = (t, valid, valid_client) else {
        return Err(DomainError::Conflict("validation"));
    };
    let stored = accept_files(s, &attachments).await?;
    let result = store_public(s, t, &valid, &client, &stored).await;
    if result.is_err() {
        discard_files(s, &stored).await;
    }
    result
}

async fn store_public(
    s: &Services,
    t: &RequestType,
    valid: &ValidRequest,
    client: &ValidClient,
    files: &[StoredFile],
) -> DomainResult<Created> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let client_id = match find_client(&mut tx, client).await? {
        Some(id) => id,
        None => create_client(&mut tx, now, client, Channel::Website, None).await?,
    };
    let created = requests::insert(
        s,
        &mut tx,
        valid,
        &Placement {
            client_org_id: client_id,
            channel: Channel::Website,
            hunter_user_id: None,
            created_by: None,
        },
        t,
    )
    .await?;
    attach(&mut tx, now, created.id, client_id, None, files).await?;
    confirm(s, &mut tx, now, &created, valid, t).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(created)
}

/// Reads the JSON body of the public endpoint into a submission, strictly:
/// unknown keys, values of the wrong JSON type and fields the type does not
/// have are refused field by field (`f.<id>` for the type's own fields).
pub fn submission_from_json(
    types: &RequestTypes,
    body: &Value,
) -> Result<PublicSubmission, FieldErrors> {
    let mut e = FieldErrors::new();
    let Some(obj) = body.as_object() else {
        e.add("body", "json.not_an_object");
        return Err(e);
    };
    const TEXT_KEYS: [&str; 11] = [
        "request_type",
        "wanted_from",
        "wanted_to",
        "comment",
        "contact_name",
        "contact_phone",
        "contact_email",
        "company_name",
        "inn",
        "website",
        "captcha_token",
    ];
    let mut sub = PublicSubmission::default();
    let mut fields_value = None;
    for (k, v) in obj {
        let text = match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => Some(String::new()),
            _ => None,
        };
        match k.as_str() {
            "fields" => fields_value = Some(v),
            "duration" => match v {
                Value::Number(n) => sub.input.duration = n.to_string(),
                Value::String(s) => sub.input.duration = s.clone(),
                Value::Null => {}
                _ => e.add("duration", "json.type"),
            },
            key if TEXT_KEYS.contains(&key) => match text {
                None => e.add(key, "json.type"),
                Some(t) => {
                    let slot = match key {
                        "request_type" => &mut sub.input.request_type,
                        "wanted_from" => &mut sub.input.wanted_from,
                        "wanted_to" => &mut sub.input.wanted_to,
                        "comment" => &mut sub.input.comment,
                        "contact_name" => &mut sub.input.contact_name,
                        "contact_phone" => &mut sub.input.contact_phone,
                        "contact_email" => &mut sub.input.contact_email,
                        "company_name" => &mut sub.company_name,
                        "inn" => &mut sub.inn,
                        "website" => &mut sub.website,
                        _ => &mut sub.captcha_token,
                    };
                    *slot = t;
                }
            },
            other => e.add(other, "field.unknown"),
        }
    }
    if sub.input.request_type.trim().is_empty() && e.get("request_type").is_none() {
        e.add("request_type", "required");
    }
    let t = types.get(sub.input.request_type.trim());
    if t.is_none() && e.get("request_type").is_none() {
        e.add("request_type", "request_type.unknown");
    }
    match (fields_value, t) {
        (Some(Value::Object(fields)), Some(t)) => {
            read_json_fields(t, fields, &mut sub.input, &mut e)
        }
        (Some(Value::Object(_)), None) | (None, None) => {}
        (Some(Value::Null) | None, Some(t)) => {
            read_json_fields(t, &Map::new(), &mut sub.input, &mut e)
        }
        (Some(_), _) => e.add("fields", "json.type"),
    }
    if e.is_empty() { Ok(sub) } else { Err(e) }
}

fn read_json_fields(
    t: &RequestType,
    fields: &Map<String, Value>,
    input: &mut RequestInput,
    e: &mut FieldErrors,
) {
    for (id, v) in fields {
        let key = format!("f.{id}");
        let Some(f) = t.field(id) else {
            e.add(&key, "field.unknown");
            continue;
        };
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        };
        match (f.kind, v) {
            (FieldKind::Address, Value::Object(a)) => {
                for (part, suffix) in [
                    ("address", ""),
                    ("lat", ".lat"),
                    ("lon", ".lon"),
                    ("timezone", ".tz"),
                ] {
                    match a.get(part).map(scalar) {
                        Some(Some(text)) => {
                            input.fields.insert(format!("{key}{suffix}"), text);
                        }
                        Some(None) => e.add(&key, "json.type"),
                        None => {}
                    }
                }
                if let Some(unknown) = a
                    .keys()
                    .find(|k| !["address", "lat", "lon", "timezone"].contains(&k.as_str()))
                {
                    e.add(&format!("{key}.{unknown}"), "field.unknown");
                }
            }
            (FieldKind::Boolean, Value::Bool(b)) => {
                input
                    .fields
                    .insert(key, if *b { "true" } else { "false" }.into());
            }
            (FieldKind::Boolean, _) => e.add(&key, "json.type"),
            (FieldKind::Integer | FieldKind::Decimal, Value::Bool(_)) => e.add(&key, "json.type"),
            (_, other) => match scalar(other) {
                Some(text) => {
                    input.fields.insert(key, text);
                }
                None => e.add(&key, "json.type"),
            },
        }
    }
    // A boolean left out takes its default (a form's unchecked box is "no",
    // but a JSON caller that says nothing means the default).
    for f in &t.fields {
        if f.kind == FieldKind::Boolean
            && !fields.contains_key(&f.id)
            && let Some(Value::Bool(true)) = f.default
        {
            input.fields.insert(format!("f.{}", f.id), "true".into());
        }
    }
}

/// A person of the broker, for choosers.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub full_name: String,
}

/// The active managers, for an admin choosing a client's manager.
pub async fn managers(s: &Services) -> DomainResult<Vec<Person>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.full_name FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'manager'
         JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker'
         WHERE u.status = 'active' ORDER BY u.full_name, u.id",
    )
    .fetch_all(s.db.pool())
    .await?)
}

/// Who handles a client, as cards and the operator's lookup show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ClientOwnership {
    pub id: i64,
    pub name: String,
    pub legal_form: String,
    pub inn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub contact_name: Option<String>,
    pub hunter_user_id: Option<i64>,
    pub hunter_name: Option<String>,
    pub manager_user_id: Option<i64>,
    pub manager_name: Option<String>,
    pub next_manager_user_id: Option<i64>,
    pub next_manager_name: Option<String>,
    pub first_order_at: Option<i64>,
    pub acquisition_channel: Option<String>,
    pub created_at: i64,
}

impl ClientOwnership {
    /// Whether the client is still in the hunter's hands (no first order yet).
    pub fn with_hunter(&self) -> bool {
        self.hunter_user_id.is_some()
            && self.first_order_at.is_none()
            && self.manager_user_id.is_none()
    }
}

const OWNERSHIP_COLUMNS: &str = "o.id, o.name, o.legal_form, o.inn, o.phone, o.email, o.contact_name,
    o.hunter_user_id, hu.full_name AS hunter_name, o.manager_user_id, mu.full_name AS manager_name,
    o.next_manager_user_id, nu.full_name AS next_manager_name, o.first_order_at, o.acquisition_channel, o.created_at
    FROM organisations o LEFT JOIN users hu ON hu.id = o.hunter_user_id
    LEFT JOIN users mu ON mu.id = o.manager_user_id LEFT JOIN users nu ON nu.id = o.next_manager_user_id";

/// A client's ownership (staff only).
pub async fn client_ownership(
    s: &Services,
    actor: &Actor,
    id: i64,
) -> DomainResult<ClientOwnership> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let mut sql = Sql::new("SELECT ");
    sql.push(OWNERSHIP_COLUMNS)
        .push(" WHERE o.kind = 'client' AND o.id = ")
        .bind(id);
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// The latest requests of a client (the actor's scope applies).
pub async fn client_requests(
    s: &Services,
    actor: &Actor,
    client_id: i64,
    tz: Tz,
) -> DomainResult<Vec<RequestRow>> {
    let f = requests::RequestFilter {
        client: Some(client_id),
        limit: Some(20),
        ..Default::default()
    };
    requests::list(s, actor, &f, tz).await
}

/// A caller found by the contact centre's lookup.
#[derive(Debug, Clone, Serialize)]
pub struct CallerMatch {
    pub client: ClientOwnership,
    /// The latest requests, newest first.
    pub requests: Vec<RequestRow>,
    pub open_requests: usize,
}

/// What the operator's lookup found.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    /// The phone as stored (`+7…`) when the query was a phone number.
    pub phone: Option<String>,
    pub matches: Vec<CallerMatch>,
}

/// The contact centre's first step: who is calling? A phone number (typed
/// any way) finds clients by their own, their contacts', their users' or
/// their requests' phone; any other text searches client names and INNs.
pub async fn lookup(
    s: &Services,
    actor: &Actor,
    query: &str,
    tz: Tz,
) -> DomainResult<LookupResult> {
    if !actor.is_staff() {
        return Err(DomainError::Forbidden);
    }
    let q = query.trim();
    if q.is_empty() {
        return Ok(LookupResult {
            phone: None,
            matches: Vec::new(),
        });
    }
    let phone = PhoneNumber::parse(q).ok().map(|p| p.as_str().to_string());
    let mut sql = Sql::new("SELECT ");
    sql.push(OWNERSHIP_COLUMNS)
        .push(" WHERE o.kind = 'client' AND ");
    match &phone {
        Some(p) => {
            sql.push("(o.phone = ")
                .bind(p.clone())
                .push(" OR EXISTS (SELECT 1 FROM org_contacts c WHERE c.org_id = o.id AND c.phone = ")
                .bind(p.clone())
                .push(") OR EXISTS (SELECT 1 FROM users u WHERE u.org_id = o.id AND u.phone = ")
                .bind(p.clone())
                .push(") OR EXISTS (SELECT 1 FROM requests q WHERE q.client_org_id = o.id AND q.contact_phone = ")
                .bind(p.clone())
                .push("))");
        }
        None => {
            sql.push("o.search_text LIKE ")
                .bind(crate::search::pattern(q))
                .push(" ESCAPE '\\'");
        }
    }
    sql.push(" ORDER BY o.name, o.id LIMIT 10");
    let clients: Vec<ClientOwnership> = sql.query_as().fetch_all(s.db.pool()).await?;
    // Open requests are counted over all of them, not the 20 shown.
    let mut open: HashMap<i64, i64> = HashMap::new();
    if !clients.is_empty() {
        let mut sql = Sql::new(
            "SELECT r.client_org_id, CAST(COUNT(*) AS BIGINT) FROM requests r WHERE r.client_org_id IN (",
        );
        sql.bind_list(clients.iter().map(|c| c.id))
            .push(") AND r.status NOT IN (")
            .bind_list(requests::CLOSED_STATUSES)
            .push(")");
        scope(&mut sql, actor, Resource::Request, "r");
        sql.push(" GROUP BY r.client_org_id");
        let rows: Vec<(i64, i64)> = sql.query_as().fetch_all(s.db.pool()).await?;
        open.extend(rows);
    }
    let mut matches = Vec::new();
    for client in clients {
        let requests = client_requests(s, actor, client.id, tz).await?;
        let open_requests = open.get(&client.id).copied().unwrap_or(0) as usize;
        matches.push(CallerMatch {
            client,
            requests,
            open_requests,
        });
    }
    Ok(LookupResult { phone, matches })
}

/// A client of a hunter's own list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HunterClient {
    pub id: i64,
    pub name: String,
    pub legal_form: String,
    pub inn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub manager_name: Option<String>,
    pub first_order_at: Option<i64>,
    pub requests: i64,
    pub open_requests: i64,
    pub created_at: i64,
}

/// The clients a hunter brought (all of them: those still theirs and those
/// handed to a manager after their first order — the hunter keeps the credit).
pub async fn hunter_clients(
    s: &Services,
    actor: &Actor,
    q: &str,
) -> DomainResult<Vec<HunterClient>> {
    if !actor.is_staff() || !actor.has(Role::Hunter) {
        return Err(DomainError::Forbidden);
    }
    let mut sql = Sql::new(
        "SELECT o.id, o.name, o.legal_form, o.inn, o.phone, o.email, mu.full_name AS manager_name, o.first_order_at,
                (SELECT COUNT(*) FROM requests r WHERE r.client_org_id = o.id) AS requests,
                (SELECT COUNT(*) FROM requests r WHERE r.client_org_id = o.id AND r.status NOT IN (",
    );
    sql.bind_list(requests::CLOSED_STATUSES)
        .push(
            ")) AS open_requests,
                o.created_at
         FROM organisations o LEFT JOIN users mu ON mu.id = o.manager_user_id
         WHERE o.kind = 'client' AND o.hunter_user_id = ",
        )
        .bind(actor.user_id);
    let q = q.trim();
    if !q.is_empty() {
        sql.push(" AND o.search_text LIKE ")
            .bind(crate::search::pattern(q))
            .push(" ESCAPE '\\'");
    }
    sql.push(" ORDER BY o.name, o.id");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A hunter adds a client as theirs. A client that exists already (same
/// INN, phone or e-mail) is taken if nobody handles it yet; another
/// hunter's or a manager's client is refused.
pub async fn add_hunter_client(
    s: &Services,
    actor: &Actor,
    input: &ClientInput,
) -> DomainResult<i64> {
    check_channel(actor, Channel::Hunter)?;
    let valid = input.validate(true).map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id = match find_client(&mut tx, &valid).await? {
        Some(id) => {
            let row = client_row(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound)?;
            if !hunter_may_take(&row, actor.user_id) {
                return Err(DomainError::Conflict("client.not_yours"));
            }
            sqlx::query(
                "UPDATE organisations SET hunter_user_id = $1, acquisition_channel = COALESCE(acquisition_channel, 'hunter') WHERE id = $2",
            )
            .bind(actor.user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => create_client(&mut tx, now, &valid, Channel::Hunter, Some(actor.user_id)).await?,
    };
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "client.hunted",
        "organisation",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Open requests of a client with their owners (what a change of manager
/// moves).
async fn open_requests(tx: &mut Tx, client: i64) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    let mut sql = Sql::new("SELECT id, owner_user_id FROM requests WHERE client_org_id = ");
    sql.bind(client)
        .push(" AND status NOT IN (")
        .bind_list(requests::ENDED_STATUSES)
        .push(")");
    sql.query_as().fetch_all(&mut **tx).await
}

/// Tells the workflows of requests whose owner changed (their open
/// qualification task moves to the new owner).
async fn owners_changed(
    s: &Services,
    tx: &mut Tx,
    before: &[(i64, Option<i64>)],
    owner: Option<i64>,
    actor: Option<i64>,
) -> DomainResult<()> {
    for (id, old) in before {
        if *old != owner {
            s.engine
                .emit_to_object_in_tx(
                    tx,
                    "request",
                    *id,
                    "owner.changed",
                    json!({"owner_user_id": owner}),
                    actor,
                )
                .await
                .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
        }
    }
    Ok(())
}

/// The client's first order went into work (the workflow action
/// `client.first_order`): the responsible manager takes the client — the
/// one an admin chose, else the least loaded — with its open requests, and
/// every later one. The hunter keeps the credit. Repeated calls change
/// nothing. Returns the manager.
pub async fn hand_over(
    s: &Services,
    client_org_id: i64,
    chosen: Option<i64>,
) -> DomainResult<Option<i64>> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let before = open_requests(&mut tx, client_org_id).await?;
    let already: Option<Option<i64>> =
        sqlx::query_scalar("SELECT first_order_at FROM organisations WHERE id = $1")
            .bind(client_org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(already) = already else {
        return Err(DomainError::NotFound);
    };
    let manager = ownership::first_order_started(&mut tx, now, client_org_id, chosen).await?;
    if already.is_none() {
        owners_changed(s, &mut tx, &before, manager, None).await?;
        audit::record(
            &mut tx,
            now,
            None,
            "client.first_order",
            "organisation",
            Some(client_org_id),
            json!({"manager": manager}),
        )
        .await?;
    }
    tx.commit().await?;
    s.after_commit();
    Ok(manager)
}

/// What choosing a manager did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerSet {
    /// The client is still its hunter's: the manager takes over at the
    /// first order.
    Planned,
    /// The manager is responsible now, with the client's open requests.
    Assigned,
}

/// An admin chooses a client's responsible manager instead of the least
/// loaded one. While a hunter still handles the client, the choice waits
/// for the first order (the rule); otherwise the manager takes the client
/// and its open requests at once. `None` clears a waiting choice.
pub async fn set_manager(
    s: &Services,
    actor: &Actor,
    client_id: i64,
    manager_id: Option<i64>,
) -> DomainResult<ManagerSet> {
    if !actor.is_staff() || !actor.has(Role::Admin) {
        return Err(DomainError::Forbidden);
    }
    let current = client_ownership(s, actor, client_id).await?;
    if let Some(m) = manager_id
        && !managers(s).await?.iter().any(|p| p.id == m)
    {
        return Err(DomainError::field("manager_id", "manager.invalid"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result = if current.with_hunter() {
        sqlx::query("UPDATE organisations SET next_manager_user_id = $1 WHERE id = $2")
            .bind(manager_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        ManagerSet::Planned
    } else {
        let Some(m) = manager_id else {
            return Err(DomainError::field("manager_id", "required"));
        };
        let before = open_requests(&mut tx, client_id).await?;
        sqlx::query(
            "UPDATE organisations SET manager_user_id = $1, next_manager_user_id = NULL WHERE id = $2",
        )
        .bind(m)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        crate::intake::ownership::move_requests(&mut tx, client_id, m).await?;
        owners_changed(s, &mut tx, &before, Some(m), actor.user()).await?;
        ManagerSet::Assigned
    };
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "client.manager_chosen",
        "organisation",
        Some(client_id),
        json!({"manager": manager_id, "result": result}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(result)
}

/// One line of the intake report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportLine {
    /// The channel code or the hunter's user id.
    pub key: String,
    /// The hunter's name.
    pub name: Option<String>,
    pub requests: i64,
    /// Distinct clients with a request in the period.
    pub clients: i64,
    /// Of those clients, the ones whose first order went into work in the period.
    pub first_orders: i64,
    /// first_orders ÷ clients, in per cent (one decimal).
    pub conversion: Option<f64>,
}

impl ReportLine {
    fn from_counts(
        key: String,
        name: Option<String>,
        requests: i64,
        clients: i64,
        first: i64,
    ) -> ReportLine {
        ReportLine {
            key,
            name,
            requests,
            clients,
            first_orders: first,
            conversion: (clients > 0)
                .then(|| (first as f64 * 1000.0 / clients as f64).round() / 10.0),
        }
    }
}

/// Requests, first orders and conversion per channel and per hunter.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeReport {
    pub by_channel: Vec<ReportLine>,
    pub by_hunter: Vec<ReportLine>,
    pub total: ReportLine,
}

/// The intake report over `[from, to)` (UTC milliseconds): per channel of
/// the requests, per hunter of the requests, and in total. A client counts
/// as converted when its first order went into work within the period.
/// Admins and managers only.
pub async fn report(s: &Services, actor: &Actor, from: i64, to: i64) -> DomainResult<IntakeReport> {
    if !actor.is_staff() || !actor.has_any(&[Role::Admin, Role::Manager]) {
        return Err(DomainError::Forbidden);
    }
    let counts = "COUNT(*), COUNT(DISTINCT r.client_org_id),
        COUNT(DISTINCT CASE WHEN o.first_order_at >= $1 AND o.first_order_at < $2 THEN r.client_org_id END)";
    let from_where = " FROM requests r JOIN organisations o ON o.id = r.client_org_id
        WHERE r.created_at >= $1 AND r.created_at < $2";
    let by_channel: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.channel, {counts}{from_where} GROUP BY r.channel"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(s.db.pool())
    .await?;
    let by_hunter: Vec<(i64, String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.hunter_user_id, MAX(u.full_name), {counts}
         FROM requests r JOIN organisations o ON o.id = r.client_org_id LEFT JOIN users u ON u.id = r.hunter_user_id
         WHERE r.created_at >= $1 AND r.created_at < $2 AND r.hunter_user_id IS NOT NULL
         GROUP BY r.hunter_user_id"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(s.db.pool())
    .await?
    .into_iter()
    .map(|(id, name, a, b, c): (i64, Option<String>, i64, i64, i64)| (id, name.unwrap_or_default(), a, b, c))
    .collect();
    let total: (i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {counts}{from_where}")))
            .bind(from)
            .bind(to)
            .fetch_one(s.db.pool())
            .await?;
    // Every channel appears, in the usual order, even with nothing in it.
    let channel_lines = Channel::ALL
        .iter()
        .map(|c| {
            let (r, cl, f) = by_channel
                .iter()
                .find(|x| x.0 == c.as_str())
                .map(|x| (x.1, x.2, x.3))
                .unwrap_or_default();
            ReportLine::from_counts(c.as_str().to_string(), None, r, cl, f)
        })
        .collect();
    let mut hunter_lines: Vec<ReportLine> = by_hunter
        .into_iter()
        .map(|(id, name, r, cl, f)| ReportLine::from_counts(id.to_string(), Some(name), r, cl, f))
        .collect();
    hunter_lines.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(IntakeReport {
        by_channel: channel_lines,
        by_hunter: hunter_lines,
        total: ReportLine::from_counts("total".into(), None, total.0, total.1, total.2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_is_a_person_unless_a_company_is_named() {
        let person = ClientInput {
            contact_name: "Иван Петров".into(),
            phone: "8 916 123-45-67".into(),
            ..Default::default()
        }
        .validate(true)
        .expect("valid");
        assert_eq!(person.legal_form, "person");
        assert_eq!(person.name, "Иван Петров");
        assert_eq!(person.phone.as_deref(), Some("+79161234567"));
        let company = ClientInput {
            company_name: "ООО «Вектор»".into(),
            inn: "7707083893".into(),
            contact_name: "Иван".into(),
            email: "a@b.test".into(),
            ..Default::default()
        }
        .validate(true)
        .expect("valid");
        assert_eq!(company.legal_form, "ooo");
        assert_eq!(company.name, "ООО «Вектор»");
        let e = ClientInput {
            legal_form: "person".into(),
            inn: "7707083894".into(),
            ..Default::default()
        }
        .validate(true)
        .expect_err("invalid");
        assert_eq!(e.get("inn"), Some("inn.checksum"));
        assert_eq!(e.get("contact_name"), Some("required"));
        assert_eq!(e.get("phone"), Some("contact.phone_or_email_required"));
    }

    #[test]
    fn json_values_of_the_wrong_type_are_named() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workflows/request_types"
        ));
        let c = crate::fleet::catalogue::EquipmentCatalogue::builtin().expect("catalogue");
        let types = RequestTypes::load_dir(dir, &c).expect("types");
        let body = json!({
            "request_type": "machinery",
            "contact_name": ["x"],
            "fields": {"work": "Копать", "site_address": {"address": "Тверь", "lat": 56.8, "lon": 35.9}, "wings": 2, "with_operator": "да"}
        });
        let e = submission_from_json(&types, &body).expect_err("invalid");
        assert_eq!(e.get("contact_name"), Some("json.type"));
        assert_eq!(e.get("f.wings"), Some("field.unknown"));
        assert_eq!(e.get("f.with_operator"), Some("json.type"));
        let ok = submission_from_json(
            &types,
            &json!({"request_type": "machinery", "duration": 2, "fields": {"site_address": {"address": "Тверь", "lat": 56.8}}}),
        )
        .expect("valid");
        assert_eq!(ok.input.fields["f.site_address.lat"], "56.8");
        assert_eq!(ok.input.fields["f.with_operator"], "true", "default");
        assert_eq!(ok.input.duration, "2");
    }
}
