use super::*;

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
    pub(super) fn is_company(&self) -> bool {
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
pub(super) struct ClientRow {
    pub(super) id: i64,
    pub(super) kind: String,
    hunter_user_id: Option<i64>,
    manager_user_id: Option<i64>,
}

pub(super) async fn client_row(tx: &mut Tx, id: i64) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, hunter_user_id, manager_user_id FROM organisations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Whether a hunter may place requests for a client: their own, or one
/// that nobody handles yet (it becomes theirs).
pub(super) fn hunter_may_take(c: &ClientRow, hunter: i64) -> bool {
    c.hunter_user_id == Some(hunter) || (c.hunter_user_id.is_none() && c.manager_user_id.is_none())
}

/// Who may place requests through which channel.
pub(super) fn check_channel(actor: &Actor, channel: Channel) -> DomainResult<()> {
    let ok = match channel {
        Channel::Cabinet => actor.org_kind() == OrgKind::Client && actor.has(Role::Client),
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

pub(super) fn request_type<'a>(
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
pub(super) fn merge_client_errors(e: &mut FieldErrors, client: FieldErrors) {
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

pub(super) fn with_request_contact(c: &ClientInput, r: &RequestInput) -> ClientInput {
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
pub(super) async fn accept_files(
    s: &Services,
    files: &[Attachment],
) -> DomainResult<Vec<StoredFile>> {
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

pub(super) async fn discard_files(s: &Services, files: &[StoredFile]) {
    for f in files {
        s.files.discard(f).await;
    }
}
