//! Requests: what a client asks for. Whatever the channel — the website,
//! the contact centre, a hunter, the client's cabinet or the API — a request
//! is created here: checked against its type, numbered, given an owner by
//! the hunter → manager rule (see [`crate::intake::ownership`]), and started on its
//! workflow in the same transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use engine::{ObjectRef, Param, Sql, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::roles::Role;
use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::fleet::catalogue::EquipmentCatalogue;
use crate::intake::request_types::{DurationKind, FieldKind, RequestType};
use crate::services::Services;
use crate::values::{Email, PhoneNumber};
use crate::{access::audit, intake::ownership, search};

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
/// The longest person's name a request keeps.
pub const MAX_NAME_LEN: usize = 200;

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

/// The time zone of a request's site (Moscow when none is known).
pub fn site_tz(name: Option<&str>) -> Tz {
    name.and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::Europe::Moscow)
}

/// A stored time at the site as a datetime-local input holds it
/// (`YYYY-MM-DDTHH:MM`); empty for none.
pub fn local_input(ms: Option<i64>, tz: Tz) -> String {
    local_format(ms, tz, "%Y-%m-%dT%H:%M")
}

/// A stored time at the site as people read it (`dd.mm.yyyy HH:MM`).
pub fn local_text(ms: Option<i64>, tz: Tz) -> String {
    local_format(ms, tz, "%d.%m.%Y %H:%M")
}

fn local_format(ms: Option<i64>, tz: Tz, pattern: &str) -> String {
    ms.map(|ms| {
        engine::from_db_time(ms)
            .with_timezone(&tz)
            .format(pattern)
            .to_string()
    })
    .unwrap_or_default()
}

/// A date-time typed by a person at the site, as an instant (`None` when it
/// is not a date-time or does not exist there).
pub fn local_to_utc(input: &str, tz: Tz) -> Option<DateTime<Utc>> {
    parse_local(input).and_then(|l| to_utc(l, tz))
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
        let tz = site_tz(site.and_then(|a| a.get("timezone")).and_then(Value::as_str));
        let wanted_from = match self.wanted_from.trim() {
            "" => {
                e.add("wanted_from", "required");
                None
            }
            v => match local_to_utc(v, tz) {
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
            v => match local_to_utc(v, tz) {
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
        if self.contact_name.trim().chars().count() > MAX_NAME_LEN {
            e.add("contact_name", "text.too_long");
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
            site_timezone: tz.name().to_string(),
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

/// `(…)` of an INSERT's VALUES.
fn values(sql: &mut Sql, values: Vec<Param>) {
    sql.push("(");
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(v);
    }
    sql.push(")");
}

/// `column = value, …` of an UPDATE (columns are fixed names, never input).
fn assignments(sql: &mut Sql, values: Vec<(&str, Param)>) {
    for (i, (column, v)) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(column).push(" = ");
        sql.bind(v);
    }
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
    let mut sql = Sql::new(
        "INSERT INTO requests (number, request_type, client_org_id, contact_name, contact_phone, contact_email, channel,
                               hunter_user_id, owner_user_id, created_by, status, site_address, site_lat, site_lon,
                               site_timezone, wanted_from, wanted_to, duration, comment, fields, search_text,
                               created_at, updated_at) VALUES ",
    );
    values(
        &mut sql,
        vec![
            number.clone().into(),
            r.request_type.clone().into(),
            p.client_org_id.into(),
            r.contact_name.clone().into(),
            r.contact_phone.clone().into(),
            r.contact_email.clone().into(),
            p.channel.as_str().into(),
            hunter.or(p.hunter_user_id).into(),
            owner.into(),
            p.created_by.into(),
            "new".into(),
            r.site_address.clone().into(),
            Param::Float(r.site_lat),
            Param::Float(r.site_lon),
            r.site_timezone.clone().into(),
            r.wanted_from.map(to_db_time).into(),
            r.wanted_to.map(to_db_time).into(),
            Param::Float(r.duration),
            r.comment.clone().into(),
            Value::Object(r.fields.clone()).to_string().into(),
            crate::search::fold(&number).into(),
            to_db_time(now).into(),
            to_db_time(now).into(),
        ],
    );
    sql.push(" RETURNING id");
    let id: i64 = sql.query_scalar().fetch_one(&mut **tx).await?;
    index(tx, id, true).await?;
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
        .await?;
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
///
/// `tx` is the connection of the workflow step's own transaction: the
/// projection is written with the step that entered the state, so
/// `requests.status` never lags behind the workflow nor goes back to an
/// older value (as an outbox action it could, when a retried older run
/// finished after a newer one).
pub async fn set_status(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    request_id: i64,
    status: &str,
) -> DomainResult<()> {
    sqlx::query("UPDATE requests SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(to_db_time(s.db.now()))
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Recomputes a request's folded search text (its number, contact, site
/// and its client's name, INN and phone — what people search requests by)
/// and its search terms (see [`crate::search`]).
pub async fn reindex(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    index(tx, id, false).await
}

/// [`reindex`]; `fresh`: the request was just inserted (no terms yet).
async fn index(tx: &mut Tx, id: i64, fresh: bool) -> Result<(), sqlx::Error> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT r.number, r.contact_name, r.contact_phone, r.contact_email, r.site_address, o.name, o.short_name, o.inn, o.phone
         FROM requests r JOIN organisations o ON o.id = r.client_org_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((number, contact, phone, email, site, client, short, inn, client_phone)) = row else {
        return Ok(());
    };
    let text = [
        Some(number.as_str()),
        contact.as_deref(),
        phone.as_deref(),
        email.as_deref(),
        site.as_deref(),
        Some(client.as_str()),
        short.as_deref(),
        inn.as_deref(),
        client_phone.as_deref(),
    ]
    .map(|p| p.unwrap_or_default())
    .join(" ");
    sqlx::query("UPDATE requests SET search_text = $1 WHERE id = $2")
        .bind(search::fold(&text))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let mut t = search::Terms::default();
    t.number(&number)
        .words(contact.as_deref())
        .phone(phone.as_deref())
        .code(email.as_deref())
        .words(site.as_deref())
        .words(Some(&client))
        .words(short.as_deref())
        .code(inn.as_deref())
        .phone(client_phone.as_deref());
    search::write_terms(tx, search::TermKind::Request, id, &t, fresh).await
}

/// Statuses a request can have, in funnel order: the request workflow's
/// states it mirrors (`new` until the workflow's first step is applied).
pub const STATUSES: [&str; 14] = [
    "new",
    "qualification",
    "ready_for_matching",
    "rfq",
    "no_quotes",
    "quote_review",
    "offer_approval",
    "offer_sent",
    "machine_booked",
    "offer_declined",
    "offer_expired",
    "accepted",
    "ordered",
    "cancelled",
];

/// Statuses of requests that have left the request funnel: not "open" in
/// lookups and lists.
pub const CLOSED_STATUSES: [&str; 2] = ["cancelled", "ordered"];

/// Statuses of requests whose handling is over. Every other request of a
/// client — an ordered one too, its order is being worked on — moves with a
/// change of the client's manager and counts as that manager's load.
pub const ENDED_STATUSES: [&str; 1] = ["cancelled"];

/// Filters of the request lists; every value as typed (a form round-trips
/// them). Dates are `YYYY-MM-DD`, inclusive, in the broker's time zone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestFilter {
    /// `mine` (the default for staff) or `all` (admins).
    pub scope: String,
    #[serde(rename = "type")]
    pub request_type: String,
    pub status: String,
    pub channel: String,
    pub from: String,
    pub to: String,
    /// A number, a phone, a company or contact name, an INN.
    pub q: String,
    /// Only this client's requests.
    pub client: Option<i64>,
    /// At most this many (500 when not set); not a form field.
    #[serde(skip)]
    pub limit: Option<u32>,
    /// Rows skipped before the first shown (a list's later pages); not a
    /// form field.
    #[serde(skip)]
    pub offset: u32,
}

/// A line of a request list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub number: String,
    pub request_type: String,
    pub client_org_id: i64,
    pub client_name: String,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub channel: String,
    pub status: String,
    pub owner_user_id: Option<i64>,
    pub owner_name: Option<String>,
    pub hunter_user_id: Option<i64>,
    pub hunter_name: Option<String>,
    pub site_address: Option<String>,
    pub wanted_from: Option<i64>,
    pub created_at: i64,
    /// The site's time zone: when the service is needed is told there.
    pub site_timezone: Option<String>,
}

const ROW_COLUMNS: &str = "r.id, r.number, r.request_type, r.client_org_id, o.name AS client_name, r.contact_name,
    r.contact_phone, r.channel, r.status, r.owner_user_id, ou.full_name AS owner_name, r.hunter_user_id,
    hu.full_name AS hunter_name, r.site_address, r.wanted_from, r.created_at, r.site_timezone";

const ROW_FROM: &str = " FROM requests r JOIN organisations o ON o.id = r.client_org_id
    LEFT JOIN users ou ON ou.id = r.owner_user_id LEFT JOIN users hu ON hu.id = r.hunter_user_id";

/// The start of a local day as UTC milliseconds.
pub fn day_start(date: &str, tz: Tz) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(date.trim(), "%d.%m.%Y"))
        .ok()?;
    to_utc(d.and_hms_opt(0, 0, 0)?, tz).map(to_db_time)
}

/// Whether the filter asks only for the actor's own requests.
pub fn only_mine(actor: &Actor, f: &RequestFilter) -> bool {
    // A search looks everywhere the actor may see; otherwise staff start
    // with their own requests, and admins may ask for all of them.
    actor.is_staff()
        && f.q.trim().is_empty()
        && f.client.is_none()
        && !(f.scope == "all" && actor.has(Role::Admin))
}

/// Requests the actor may see, newest first, filtered.
pub async fn list(
    s: &Services,
    actor: &Actor,
    f: &RequestFilter,
    tz: Tz,
) -> DomainResult<Vec<RequestRow>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(ROW_COLUMNS).push(ROW_FROM).push(" WHERE 1 = 1");
    scope(&mut sql, actor, Resource::Request, "r");
    if only_mine(actor, f) {
        sql.push(" AND (r.owner_user_id = ")
            .bind(actor.user_id())
            .push(" OR r.created_by = ")
            .bind(actor.user_id())
            .push(" OR r.hunter_user_id = ")
            .bind(actor.user_id())
            .push(")");
    }
    if let Some(c) = f.client {
        sql.push(" AND r.client_org_id = ").bind(c);
    }
    if !f.request_type.is_empty() {
        sql.push(" AND r.request_type = ")
            .bind(f.request_type.clone());
    }
    if !f.status.is_empty() {
        sql.push(" AND r.status = ").bind(f.status.clone());
    }
    if !f.channel.is_empty() {
        sql.push(" AND r.channel = ").bind(f.channel.clone());
    }
    if let Some(from) = day_start(&f.from, tz) {
        sql.push(" AND r.created_at >= ").bind(from);
    }
    if let Some(to) = day_start(&f.to, tz) {
        sql.push(" AND r.created_at < ")
            .bind(to + Duration::days(1).num_milliseconds());
    }
    // A number, a name, an INN or any part of a phone typed any way: the
    // request's search terms, read by prefix on their index.
    if !f.q.trim().is_empty() {
        match search::Query::parse(&f.q) {
            Some(q) => q.restrict(&mut sql, search::TermKind::Request, "r.id"),
            None => {
                sql.push(" AND 1 = 0");
            }
        }
    }
    sql.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
        .push(&f.limit.unwrap_or(500).min(500).to_string())
        .push(" OFFSET ")
        .push(&f.offset.to_string());
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A request with everything its page shows.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RequestDetail {
    pub id: i64,
    pub number: String,
    pub request_type: String,
    pub client_org_id: i64,
    pub client_name: String,
    pub client_phone: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub channel: String,
    pub hunter_user_id: Option<i64>,
    pub hunter_name: Option<String>,
    pub owner_user_id: Option<i64>,
    pub owner_name: Option<String>,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub status: String,
    pub site_address: Option<String>,
    pub site_lat: Option<f64>,
    pub site_lon: Option<f64>,
    pub site_timezone: Option<String>,
    pub wanted_from: Option<i64>,
    pub wanted_to: Option<i64>,
    pub duration: Option<f64>,
    pub comment: Option<String>,
    pub fields: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RequestDetail {
    /// The type's own values.
    pub fn field_values(&self) -> Map<String, Value> {
        serde_json::from_str(&self.fields).unwrap_or_default()
    }

    /// The request as its form shows it (for editing).
    pub fn to_input(&self) -> RequestInput {
        let mut fields = BTreeMap::new();
        for (k, v) in self.field_values() {
            match v {
                Value::Object(a) => {
                    let get = |n: &str| {
                        a.get(n)
                            .map(|v| match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .unwrap_or_default()
                    };
                    fields.insert(format!("f.{k}"), get("address"));
                    fields.insert(format!("f.{k}.lat"), get("lat"));
                    fields.insert(format!("f.{k}.lon"), get("lon"));
                    fields.insert(format!("f.{k}.tz"), get("timezone"));
                }
                Value::Bool(b) => {
                    if b {
                        fields.insert(format!("f.{k}"), "1".into());
                    }
                }
                Value::String(s) => {
                    fields.insert(format!("f.{k}"), s);
                }
                Value::Null => {}
                Value::Number(n) => {
                    let text = n.as_f64().map(number_text).unwrap_or_else(|| n.to_string());
                    fields.insert(format!("f.{k}"), text);
                }
                other => {
                    fields.insert(format!("f.{k}"), other.to_string());
                }
            }
        }
        RequestInput {
            request_type: self.request_type.clone(),
            wanted_from: local_input(self.wanted_from, site_tz(self.site_timezone.as_deref())),
            wanted_to: local_input(self.wanted_to, site_tz(self.site_timezone.as_deref())),
            duration: self.duration.map(number_text).unwrap_or_default(),
            comment: self.comment.clone().unwrap_or_default(),
            contact_name: self.contact_name.clone().unwrap_or_default(),
            contact_phone: self.contact_phone.clone().unwrap_or_default(),
            contact_email: self.contact_email.clone().unwrap_or_default(),
            fields,
        }
    }
}

/// A number as people read it: `8`, `12,5`.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string().replace('.', ",")
    }
}

/// One value of a request's own fields, ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct ShownField {
    pub id: String,
    pub title: String,
    pub kind: FieldKind,
    pub unit: Option<String>,
    /// Text to show; booleans leave it empty (the page says yes or no).
    pub text: String,
    pub value: Value,
    /// An address's coordinates and time zone.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub timezone: Option<String>,
}

/// The type's fields of a request in the type's order, with what was
/// entered (fields left empty are skipped). Values of fields the type no
/// longer defines are shown under their ids.
pub fn shown_fields(
    t: Option<&RequestType>,
    values: &Map<String, Value>,
    catalogue: &EquipmentCatalogue,
) -> Vec<ShownField> {
    let text_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map(number_text).unwrap_or_else(|| n.to_string()),
        Value::Bool(_) | Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    let mut seen = Vec::new();
    if let Some(t) = t {
        for f in &t.fields {
            let Some(v) = values.get(&f.id) else { continue };
            seen.push(f.id.clone());
            let (text, lat, lon, timezone) = match (f.kind, v) {
                (FieldKind::Address, Value::Object(a)) => (
                    a.get("address").map(text_of).unwrap_or_default(),
                    a.get("lat").and_then(Value::as_f64),
                    a.get("lon").and_then(Value::as_f64),
                    a.get("timezone")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                ),
                (FieldKind::Category, Value::String(c)) => (
                    catalogue
                        .category(c)
                        .map(|c| c.title.clone())
                        .unwrap_or_else(|| c.clone()),
                    None,
                    None,
                    None,
                ),
                _ => (text_of(v), None, None, None),
            };
            out.push(ShownField {
                id: f.id.clone(),
                title: f.title.clone(),
                kind: f.kind,
                unit: f.unit.clone(),
                text,
                value: v.clone(),
                lat,
                lon,
                timezone,
            });
        }
    }
    for (k, v) in values {
        if seen.contains(k) {
            continue;
        }
        out.push(ShownField {
            id: k.clone(),
            title: k.clone(),
            kind: if v.is_boolean() {
                FieldKind::Boolean
            } else {
                FieldKind::String
            },
            unit: None,
            text: text_of(v),
            value: v.clone(),
            lat: None,
            lon: None,
            timezone: None,
        });
    }
    out
}

/// Whether the actor may edit the request: staff while it is new or being
/// qualified; a hunter only the requests they own (their clients' until the
/// first order).
pub fn may_edit(actor: &Actor, r: &RequestDetail) -> bool {
    actor.is_staff()
        && matches!(r.status.as_str(), "new" | "qualification")
        && (!crate::access::hunter_only(actor) || r.owner_user_id == Some(actor.user_id()))
}

/// A request the actor may see.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<RequestDetail> {
    let mut sql = Sql::new(
        "SELECT r.id, r.number, r.request_type, r.client_org_id, o.name AS client_name, o.phone AS client_phone,
                r.contact_name, r.contact_phone, r.contact_email, r.channel, r.hunter_user_id,
                hu.full_name AS hunter_name, r.owner_user_id, ou.full_name AS owner_name, r.created_by,
                cu.full_name AS created_by_name, r.status, r.site_address, r.site_lat, r.site_lon,
                r.site_timezone, r.wanted_from, r.wanted_to, r.duration, r.comment, r.fields,
                r.created_at, r.updated_at
         FROM requests r JOIN organisations o ON o.id = r.client_org_id
         LEFT JOIN users ou ON ou.id = r.owner_user_id LEFT JOIN users hu ON hu.id = r.hunter_user_id
         LEFT JOIN users cu ON cu.id = r.created_by
         WHERE r.id = ",
    );
    sql.bind(id);
    scope(&mut sql, actor, Resource::Request, "r");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// A file attached to a request.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AttachedFile {
    pub id: i64,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// The files attached to a request the actor may see.
pub async fn attachments(s: &Services, actor: &Actor, id: i64) -> DomainResult<Vec<AttachedFile>> {
    get(s, actor, id).await?;
    Ok(sqlx::query_as(
        "SELECT f.id, f.original_name, f.content_type, f.size_bytes FROM request_files rf
         JOIN files f ON f.id = rf.file_id WHERE rf.request_id = $1 ORDER BY f.id",
    )
    .bind(id)
    .fetch_all(s.db.pool())
    .await?)
}

/// Staff complete a request while it is being qualified (the qualification
/// task asks to fill in what is missing): the same checks as at intake,
/// except that a date already passed stays acceptable if it was not changed.
pub async fn update(
    s: &Services,
    actor: &Actor,
    id: i64,
    input: &RequestInput,
) -> DomainResult<()> {
    if !actor.is_staff() {
        return Err(DomainError::Forbidden);
    }
    let current = get(s, actor, id).await?;
    if !may_edit(actor, &current) {
        return Err(
            if matches!(current.status.as_str(), "new" | "qualification") {
                DomainError::Forbidden
            } else {
                DomainError::Conflict("request.not_editable")
            },
        );
    }
    let t = s
        .request_types
        .get(&current.request_type)
        .ok_or(DomainError::Conflict("request_type.unknown"))?;
    let earliest = current
        .wanted_from
        .map(engine::from_db_time)
        .map(|w| w.min(s.db.now()))
        .unwrap_or_else(|| s.db.now());
    let mut valid = input
        .validate(t, s, earliest, false)
        .map_err(DomainError::Invalid)?;
    // Before the transaction: the geocoder is an outside call.
    crate::intake::addresses::locate(s, t, &mut valid).await;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let mut sql = Sql::new("UPDATE requests SET ");
    assignments(
        &mut sql,
        vec![
            ("contact_name", valid.contact_name.clone().into()),
            ("contact_phone", valid.contact_phone.clone().into()),
            ("contact_email", valid.contact_email.clone().into()),
            ("site_address", valid.site_address.clone().into()),
            ("site_lat", Param::Float(valid.site_lat)),
            ("site_lon", Param::Float(valid.site_lon)),
            ("site_timezone", valid.site_timezone.clone().into()),
            ("wanted_from", valid.wanted_from.map(to_db_time).into()),
            ("wanted_to", valid.wanted_to.map(to_db_time).into()),
            ("duration", Param::Float(valid.duration)),
            ("comment", valid.comment.clone().into()),
            (
                "fields",
                Value::Object(valid.fields.clone()).to_string().into(),
            ),
            ("updated_at", to_db_time(now).into()),
        ],
    );
    sql.push(" WHERE id = ").bind(id);
    sql.query().execute(&mut *tx).await?;
    reindex(&mut tx, id).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "request.updated",
        "request",
        Some(id),
        json!({"number": current.number}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
