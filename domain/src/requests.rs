//! Requests: what a client asks for. Whatever the channel — the website,
//! the contact centre, a hunter, the client's cabinet or the API — a request
//! is created here: checked against its type, numbered, given an owner by
//! the hunter → manager rule (see [`crate::ownership`]), and started on its
//! workflow in the same transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use engine::{ObjectRef, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::request_types::{DurationKind, RequestType};
use crate::services::Services;
use crate::values::{Email, PhoneNumber};
use crate::{audit, ownership};

/// How a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The public form on the website (or its JSON endpoint).
    Website,
    /// A contact-centre operator during a call.
    Operator,
    /// A hunter, for a client they brought.
    Hunter,
    /// The client in their own cabinet.
    Cabinet,
    /// An integration through the JSON API.
    Api,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Website => "website",
            Channel::Operator => "operator",
            Channel::Hunter => "hunter",
            Channel::Cabinet => "cabinet",
            Channel::Api => "api",
        }
    }

    pub const ALL: [Channel; 5] = [
        Channel::Website,
        Channel::Operator,
        Channel::Hunter,
        Channel::Cabinet,
        Channel::Api,
    ];

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A request as typed (every value text, kept as typed for redisplay).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestInput {
    pub request_type: String,
    /// Local date and time at the site, `YYYY-MM-DDTHH:MM` (an input of type
    /// datetime-local) or `dd.mm.yyyy HH:MM`.
    pub wanted_from: String,
    /// Optional end of a window, same format.
    pub wanted_to: String,
    /// Hours or shifts, as the type asks.
    pub duration: String,
    pub comment: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    /// The type's own fields: `f.<id>` (and `f.<id>.lat|lon|tz` for addresses).
    pub fields: BTreeMap<String, String>,
}

/// A checked request, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidRequest {
    pub request_type: String,
    pub wanted_from: Option<DateTime<Utc>>,
    pub wanted_to: Option<DateTime<Utc>>,
    pub duration: Option<f64>,
    pub comment: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub site_address: Option<String>,
    pub site_lat: Option<f64>,
    pub site_lon: Option<f64>,
    pub site_timezone: String,
    pub fields: Map<String, Value>,
}

/// Parses a local date-time typed by a person.
pub fn parse_local(input: &str) -> Option<NaiveDateTime> {
    let s = input.trim();
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

fn to_utc(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    // A local time skipped by a clock change has no instant; an ambiguous
    // one takes the earlier.
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

impl RequestInput {
    /// Checks the request against its type. `now` refuses dates in the past.
    pub fn validate(
        &self,
        t: &RequestType,
        s: &Services,
        now: DateTime<Utc>,
        contact_required: bool,
    ) -> Result<ValidRequest, FieldErrors> {
        let mut e = FieldErrors::new();
        let fields = match t.parse_fields(&self.fields, &s.equipment) {
            Ok(f) => f,
            Err(errs) => {
                e.0.extend(errs.0);
                Map::new()
            }
        };
        let site = fields.get(&t.site);
        let tz_name = site
            .and_then(|a| a.get("timezone"))
            .and_then(Value::as_str)
            .unwrap_or("Europe/Moscow")
            .to_string();
        let tz: Tz = tz_name.parse().unwrap_or(chrono_tz::Europe::Moscow);
        let wanted_from = match self.wanted_from.trim() {
            "" => {
                e.add("wanted_from", "required");
                None
            }
            v => match parse_local(v).and_then(|l| to_utc(l, tz)) {
                Some(t) if t < now => {
                    e.add("wanted_from", "date.in_past");
                    None
                }
                Some(t) => Some(t),
                None => {
                    e.add("wanted_from", "datetime.invalid");
                    None
                }
            },
        };
        let wanted_to = match self.wanted_to.trim() {
            "" => None,
            v => match parse_local(v).and_then(|l| to_utc(l, tz)) {
                Some(t) if wanted_from.is_some_and(|f| t <= f) => {
                    e.add("wanted_to", "date.before_start");
                    None
                }
                Some(t) => Some(t),
                None => {
                    e.add("wanted_to", "datetime.invalid");
                    None
                }
            },
        };
        let duration = match (t.duration, self.duration.trim()) {
            (DurationKind::None, _) | (_, "") => None,
            (kind, v) => match v.replace(',', ".").parse::<f64>() {
                Ok(d)
                    if d > 0.0
                        && d <= if kind == DurationKind::Hours {
                            24.0 * 60.0
                        } else {
                            365.0
                        } =>
                {
                    Some(d)
                }
                _ => {
                    e.add("duration", "duration.invalid");
                    None
                }
            },
        };
        let contact_phone = e.optional(
            "contact_phone",
            &self.contact_phone,
            "phone.invalid",
            PhoneNumber::parse,
        );
        let contact_email = e.optional(
            "contact_email",
            &self.contact_email,
            "email.invalid",
            Email::parse,
        );
        if contact_required {
            if self.contact_name.trim().is_empty() {
                e.add("contact_name", "required");
            }
            if self.contact_phone.trim().is_empty() {
                e.add("contact_phone", "required");
            }
        }
        if self.comment.chars().count() > 5000 {
            e.add("comment", "text.too_long");
        }
        if !e.is_empty() {
            return Err(e);
        }
        let site = fields.get(&t.site).cloned().unwrap_or(Value::Null);
        Ok(ValidRequest {
            request_type: t.code.clone(),
            wanted_from,
            wanted_to,
            duration,
            comment: Some(self.comment.trim().to_string()).filter(|c| !c.is_empty()),
            contact_name: Some(self.contact_name.trim().to_string()).filter(|c| !c.is_empty()),
            contact_phone,
            contact_email,
            site_address: site
                .get("address")
                .and_then(Value::as_str)
                .map(str::to_string),
            site_lat: site.get("lat").and_then(Value::as_f64),
            site_lon: site.get("lon").and_then(Value::as_f64),
            site_timezone: tz_name,
            fields,
        })
    }
}

/// Who places the request, for whom, through which channel.
#[derive(Debug, Clone)]
pub struct Placement {
    pub client_org_id: i64,
    pub channel: Channel,
    /// The hunter placing it (channel `hunter`).
    pub hunter_user_id: Option<i64>,
    /// The user who typed it (staff or the client); `None` for the website.
    pub created_by: Option<i64>,
}

/// A stored request's id and reference.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: i64,
    pub number: String,
    pub owner_user_id: Option<i64>,
}

/// The next request number of the year, `З-2026-00042`.
async fn next_number(tx: &mut Tx, now: DateTime<Utc>) -> Result<String, sqlx::Error> {
    let year = i64::from(chrono::Datelike::year(
        &now.with_timezone(&chrono_tz::Europe::Moscow),
    ));
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO request_numbers (year, last) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last = request_numbers.last + 1 RETURNING last",
    )
    .bind(year)
    .fetch_one(&mut **tx)
    .await?;
    Ok(format!("З-{year}-{last:05}"))
}

/// Stores a checked request inside the caller's transaction, gives it an
/// owner and starts its workflow.
pub async fn insert(
    s: &Services,
    tx: &mut Tx,
    r: &ValidRequest,
    p: &Placement,
    t: &RequestType,
) -> DomainResult<Created> {
    let now = s.db.now();
    let owner =
        ownership::owner_for_new_request(tx, p.client_org_id, p.channel, p.hunter_user_id).await?;
    let number = next_number(tx, now).await?;
    let hunter: Option<i64> =
        sqlx::query_scalar("SELECT hunter_user_id FROM organisations WHERE id = $1")
            .bind(p.client_org_id)
            .fetch_one(&mut **tx)
            .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO requests (number, request_type, client_org_id, contact_name, contact_phone, contact_email, channel,
                               hunter_user_id, owner_user_id, created_by, status, site_address, site_lat, site_lon,
                               site_timezone, wanted_from, wanted_to, duration, comment, fields, search_text,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'new', $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)
         RETURNING id",
    )
    .bind(&number)
    .bind(&r.request_type)
    .bind(p.client_org_id)
    .bind(r.contact_name.clone())
    .bind(r.contact_phone.clone())
    .bind(r.contact_email.clone())
    .bind(p.channel.as_str())
    .bind(hunter.or(p.hunter_user_id))
    .bind(owner)
    .bind(p.created_by)
    .bind(r.site_address.clone())
    .bind(r.site_lat)
    .bind(r.site_lon)
    .bind(&r.site_timezone)
    .bind(r.wanted_from.map(to_db_time))
    .bind(r.wanted_to.map(to_db_time))
    .bind(r.duration)
    .bind(r.comment.clone())
    .bind(Value::Object(r.fields.clone()).to_string())
    .bind(crate::search::fold(&format!(
        "{number} {} {} {}",
        r.contact_name.as_deref().unwrap_or_default(),
        r.contact_phone.as_deref().unwrap_or_default(),
        r.site_address.as_deref().unwrap_or_default()
    )))
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await?;
    let mut data = Map::new();
    data.insert("number".into(), Value::String(number.clone()));
    data.insert("request_type".into(), Value::String(r.request_type.clone()));
    s.engine
        .start_in_tx(
            tx,
            &t.workflow,
            ObjectRef {
                kind: "request".into(),
                id,
            },
            data,
            p.created_by,
        )
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
    audit::record(
        tx,
        now,
        None,
        "request.created",
        "request",
        Some(id),
        json!({"number": number, "channel": p.channel, "created_by": p.created_by, "owner": owner}),
    )
    .await?;
    Ok(Created {
        id,
        number,
        owner_user_id: owner,
    })
}

/// Mirrors the request workflow's state on the request row (for lists and
/// reports); called by the workflow's `request.set_status` action.
pub async fn set_status(s: &Services, request_id: i64, status: &str) -> DomainResult<()> {
    let mut tx = s.db.begin().await?;
    sqlx::query("UPDATE requests SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(to_db_time(s.db.now()))
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
