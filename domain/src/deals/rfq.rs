//! Requests for quotes (RFQ, запрос КП): a round of them per request, one
//! per chosen supplier.
//!
//! The request workflow (`workflows/request.yaml`) drives a round: the
//! manager's [`send`] (or the automatic mode's `rfq.send_top` action) creates
//! the round and its RFQs and tells the workflow (`rfq.sent`); the workflow
//! sets the deadline and runs `rfq.open_round` (records it and notifies the
//! suppliers' dispatchers), `rfq.remind` (those who have not answered) and
//! `rfq.close_round` at the deadline. Every answer tells the workflow how
//! many quotes there are and how many suppliers are still silent
//! (`rfq.answered`).
//!
//! # What a supplier sees
//!
//! The job, never the client: the request type, its fields (addresses cut
//! to the city and district, phone numbers and e-mails in free text masked),
//! the day and time, the duration. Not the request's number, contact, comment
//! or the client's name.

use chrono::{DateTime, Utc};
use engine::{ActionContext, ActionError, EngineBuilder, Sql, Tx, action_fn, to_db_time};
use serde::Serialize;
use serde_json::{Value, json};

use crate::access::{Actor, Resource, scope};
use crate::deals::matching::{self, RequestRow};
use crate::error::{DomainError, DomainResult};
use crate::fleet::catalogue::EquipmentCatalogue;
use crate::intake::request_types::{FieldKind, RequestType};
use crate::intake::requests::{local_text, site_tz};
use crate::notify::{self, RECIPIENT_COLUMNS, Recipient};
use crate::services::Services;
use crate::services::{ServicesCell, local};
use crate::{access::audit, args, deals::scoring};

/// Suppliers one round may ask at most.
pub const MAX_SUPPLIERS: usize = 30;

/// The one masking function for a client's free text (it lives with the
/// other masking in `notify`, so that every context may use it).
pub use crate::notify::mask_contacts;

pub mod control;

/// The area of an address a supplier may see: the region, the town and the
/// district — never the street, house or flat, even when the street is
/// written without "ул." or a number. Parts are kept while they name a
/// region, town or district; when none is named, only the first part (the
/// town) is kept, unless it looks like a street.
pub fn area_of(address: &str) -> String {
    const STREET: [&str; 24] = [
        "ул.",
        "ул ",
        "улица",
        "пр-т",
        "пр-кт",
        "проспект",
        "пер.",
        "переулок",
        "ш.",
        "шоссе",
        "наб",
        "бульвар",
        "б-р",
        "пл.",
        "площадь",
        "проезд",
        "д.",
        "дом",
        "корп",
        "стр.",
        "кв.",
        "тупик",
        "аллея",
        "линия",
    ];
    const AREA: [&str; 22] = [
        "г.",
        "г ",
        "город",
        "обл",
        "область",
        "край",
        "респ",
        "республика",
        "ао",
        "район",
        "р-н",
        "р-он",
        "мкр",
        "микрорайон",
        "пос.",
        "поселок",
        "посёлок",
        "пгт",
        "село",
        "с.",
        "деревня",
        "округ",
    ];
    let has = |lower: &str, m: &str| {
        lower.starts_with(m)
            || lower.contains(&format!(" {m}"))
            || lower.ends_with(m.trim_end_matches('.'))
    };
    let streetish = |part: &str| {
        let lower = part.to_lowercase();
        STREET
            .iter()
            .any(|m| lower.starts_with(m) || lower.contains(&format!(" {m}")))
            || part.chars().any(|c| c.is_ascii_digit())
    };
    let mut parts = Vec::new();
    for part in address.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let lower = part.to_lowercase();
        if streetish(part) || !AREA.iter().any(|m| has(&lower, m)) {
            break;
        }
        parts.push(part);
        if parts.len() == 3 {
            break;
        }
    }
    if parts.is_empty() {
        // No part names a region or town: the first is taken for the town,
        // unless it is a street (then nothing is said rather than it).
        return match address.split(',').map(str::trim).find(|p| !p.is_empty()) {
            Some(first) if !streetish(first) => first.to_string(),
            _ => String::new(),
        };
    }
    parts.join(", ")
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Round {
    pub id: i64,
    pub request_id: i64,
    pub number: i64,
    pub status: String,
    pub mode: String,
    pub deadline_at: Option<i64>,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// Why it closed (see [`close_round`]); `None` while open.
    pub close_reason: Option<String>,
}

const ROUND_COLUMNS: &str = "rr.id, rr.request_id, rr.number, rr.status, rr.mode, rr.deadline_at, rr.created_at, rr.closed_at, rr.close_reason";

impl Round {
    /// Whether suppliers may still answer at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status == "open" && self.deadline_at.is_none_or(|d| to_db_time(now) < d)
    }
}

/// Statuses in which the supplier may still answer an RFQ — quote, revise,
/// decline or quote after all — while its round is open.
const ANSWERABLE: [&str; 4] = ["sent", "quoted", "declined", "withdrawn"];

/// The one rule of whether a supplier may answer an RFQ now.
pub(crate) fn answerable(rfq_status: &str, round: &Round, now: DateTime<Utc>) -> bool {
    round.is_open(now) && ANSWERABLE.contains(&rfq_status)
}

pub(crate) async fn round(
    tx: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<Option<Round>, sqlx::Error> {
    let mut sql = Sql::new("SELECT ");
    sql.push(ROUND_COLUMNS)
        .push(" FROM rfq_rounds rr WHERE rr.id = ")
        .bind(id);
    sql.query_as().fetch_optional(&mut *tx).await
}

/// What [`send`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub round_id: i64,
    pub count: usize,
}

/// Creates a round with RFQs to `suppliers` inside the caller's transaction.
async fn create_round(
    s: &Services,
    tx: &mut Tx,
    r: &RequestRow,
    suppliers: &[(i64, Option<f64>)],
    mode: &str,
    by: Option<i64>,
) -> DomainResult<Sent> {
    let now = s.db.now();
    // Earlier rounds end here: their quotes stay for comparison.
    sqlx::query("UPDATE rfq_rounds SET status = 'closed', closed_at = $1, close_reason = COALESCE(close_reason, 'new_round') WHERE request_id = $2 AND status = 'open'")
        .bind(to_db_time(now))
        .bind(r.id)
        .execute(&mut **tx)
        .await?;
    let number: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(number), 0) + 1 AS BIGINT) FROM rfq_rounds WHERE request_id = $1",
    )
    .bind(r.id)
    .fetch_one(&mut **tx)
    .await?;
    let round_id: i64 = sqlx::query_scalar(
        "INSERT INTO rfq_rounds (request_id, number, status, mode, sent_by, created_at) VALUES ($1, $2, 'open', $3, $4, $5) RETURNING id",
    )
    .bind(r.id)
    .bind(number)
    .bind(mode)
    .bind(by)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await?;
    for (org_id, distance) in suppliers {
        sqlx::query(
            "INSERT INTO rfqs (round_id, request_id, supplier_org_id, status, distance_km, sent_at)
             VALUES ($1, $2, $3, 'sent', CAST($4 AS DOUBLE PRECISION), $5)
             ON CONFLICT (round_id, supplier_org_id) DO NOTHING",
        )
        .bind(round_id)
        .bind(r.id)
        .bind(*org_id)
        // As text: sqlx's `Any` declares a missing f64 to PostgreSQL as
        // `real`, and the statement it caches then refuses the next present
        // one ("incorrect binary data format"); text is declared alike
        // either way (see `engine::Sql::bind`).
        .bind(distance.map(|d| d.to_string()))
        .bind(to_db_time(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(Sent {
        round_id,
        count: suppliers.len(),
    })
}

/// Approved suppliers among `ids`, with the distance of their best machine
/// from the matching (when they appear there). Others are refused.
async fn chosen(
    s: &Services,
    r: &RequestRow,
    ids: &[i64],
) -> DomainResult<Vec<(i64, Option<f64>)>> {
    let mut ids: Vec<i64> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(DomainError::field("suppliers", "rfq.no_suppliers"));
    }
    if ids.len() > MAX_SUPPLIERS {
        return Err(DomainError::field("suppliers", "rfq.too_many_suppliers"));
    }
    let mut sql = Sql::new(
        "SELECT id FROM organisations WHERE kind = 'supplier' AND status = 'approved' AND id IN (",
    );
    sql.bind_list(ids.iter().copied()).push(")");
    let ok: Vec<i64> = sql.query_scalar().fetch_all(s.db.pool()).await?;
    if ok.len() != ids.len() {
        return Err(DomainError::field("suppliers", "rfq.supplier_not_approved"));
    }
    let m = matching::run(s, r).await?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let d = m
                .suppliers
                .iter()
                .find(|x| x.org_id == id)
                .and_then(|x| x.best.as_ref().and_then(|b| b.distance_km));
            (id, d)
        })
        .collect())
}

/// The manager sends RFQs to the chosen suppliers: a new round. The request
/// must be waiting for matching (its workflow refuses otherwise).
pub async fn send(
    s: &Services,
    actor: &Actor,
    request_id: i64,
    supplier_ids: &[i64],
) -> DomainResult<Sent> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let r = matching::request_for(s, actor, request_id).await?;
    let suppliers = chosen(s, &r, supplier_ids).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let sent = create_round(s, &mut tx, &r, &suppliers, "manual", actor.user()).await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            r.id,
            "rfq.sent",
            json!({"round_id": sent.round_id, "count": sent.count}),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|x| x.ignored) {
        return Err(DomainError::Conflict("rfq.not_ready"));
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "rfq.sent",
        "request",
        Some(r.id),
        json!({"round_id": sent.round_id, "suppliers": suppliers.iter().map(|x| x.0).collect::<Vec<_>>()}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(sent)
}

/// The automatic mode: RFQs to the `top` best fitting suppliers at once
/// (the `rfq.send_top` action). Nothing is created when none fits.
pub async fn send_top(s: &Services, request_id: i64, top: usize) -> DomainResult<Sent> {
    let r = matching::request_by_id(s, request_id).await?;
    let m = matching::run(s, &r).await?;
    let suppliers: Vec<(i64, Option<f64>)> = m
        .fitting()
        .take(top.clamp(1, MAX_SUPPLIERS))
        .map(|x| (x.org_id, x.best.as_ref().and_then(|b| b.distance_km)))
        .collect();
    if suppliers.is_empty() {
        return Ok(Sent {
            round_id: 0,
            count: 0,
        });
    }
    let mut tx = s.db.begin().await?;
    // An action may run twice: a round created by an earlier run is reused.
    let open: Option<(i64, i64)> = sqlx::query_as(
        "SELECT rr.id, CAST((SELECT COUNT(*) FROM rfqs q WHERE q.round_id = rr.id) AS BIGINT) FROM rfq_rounds rr
         WHERE rr.request_id = $1 AND rr.status = 'open' AND rr.mode = 'auto' AND rr.deadline_at IS NULL",
    )
    .bind(r.id)
    .fetch_optional(&mut *tx)
    .await?;
    let sent = match open {
        Some((round_id, n)) => Sent {
            round_id,
            count: usize::try_from(n).unwrap_or(0),
        },
        None => create_round(s, &mut tx, &r, &suppliers, "auto", None).await?,
    };
    audit::record(
        &mut tx,
        s.db.now(),
        None,
        "rfq.sent",
        "request",
        Some(r.id),
        json!({"round_id": sent.round_id, "auto": true, "suppliers": suppliers.iter().map(|x| x.0).collect::<Vec<_>>()}),
    )
    .await?;
    tx.commit().await?;
    Ok(sent)
}

/// People of a supplier who answer RFQs: its dispatchers, or its owners
/// when it has none.
pub(crate) async fn office_people(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
) -> Result<Vec<Recipient>, sqlx::Error> {
    for role in ["dispatcher", "owner"] {
        let mut sql = Sql::new("SELECT ");
        sql.push(RECIPIENT_COLUMNS)
            .push(" FROM users u WHERE u.org_id = ")
            .bind(org_id)
            .push(" AND u.status = 'active' AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ")
            .bind(role)
            .push(") ORDER BY u.id");
        let people: Vec<Recipient> = sql.query_as().fetch_all(&mut *tx).await?;
        if !people.is_empty() {
            return Ok(people);
        }
    }
    Ok(Vec::new())
}

/// Records the round's deadline and tells the suppliers not told yet (the
/// `rfq.open_round` action; running it twice tells nobody twice). A local
/// action: `tx` is the step's connection.
pub async fn open_round(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    round_id: i64,
    deadline: Option<DateTime<Utc>>,
) -> DomainResult<usize> {
    let Some(round) = round(tx, round_id).await? else {
        return Err(DomainError::NotFound);
    };
    if let Some(d) = deadline {
        sqlx::query("UPDATE rfq_rounds SET deadline_at = $1 WHERE id = $2")
            .bind(to_db_time(d))
            .bind(round_id)
            .execute(&mut *tx)
            .await?;
    }
    let r = matching::request_on(tx, round.request_id).await?;
    let t = s.request_types.get(&r.request_type);
    let tz = r.tz();
    let rfqs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, supplier_org_id FROM rfqs WHERE round_id = $1 AND notified_at IS NULL AND status = 'sent' ORDER BY id",
    )
    .bind(round_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut sent = 0;
    for (rfq_id, org_id) in &rfqs {
        let a = args![
            "number" => rfq_id,
            "type" => t.map(|t| t.title.clone()).unwrap_or_default(),
            "area" => r.site_address.as_deref().map(area_of).unwrap_or_default(),
            "when" => local_text(r.wanted_from, tz),
            "deadline" => local_text(deadline.map(to_db_time), tz),
            "link" => format!("{}/supplier/rfqs/{rfq_id}", s.base_url),
        ];
        for person in office_people(tx, *org_id).await? {
            if notify::tell(s, tx, &person, "mail-rfq", &a).await? {
                sent += 1;
            }
        }
        sqlx::query("UPDATE rfqs SET notified_at = $1 WHERE id = $2")
            .bind(to_db_time(s.db.now()))
            .bind(rfq_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(sent)
}

/// Reminds the suppliers of a round who have not answered (the `rfq.remind`
/// action; `key` is the action's idempotency key, so a retried run reminds
/// nobody twice). Returns how many messages were queued. A local action:
/// `tx` is the step's connection.
pub async fn remind(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    round_id: i64,
    key: &str,
) -> DomainResult<usize> {
    let Some(round) = round(tx, round_id).await? else {
        return Err(DomainError::NotFound);
    };
    if !round.is_open(s.db.now()) {
        return Ok(0);
    }
    let r = matching::request_on(tx, round.request_id).await?;
    let tz = r.tz();
    let due: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE rfqs SET reminders = reminders + 1, reminded_key = $1
         WHERE round_id = $2 AND status = 'sent' AND (reminded_key IS NULL OR reminded_key <> $1)
         RETURNING id, supplier_org_id",
    )
    .bind(key)
    .bind(round_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut sent = 0;
    for (rfq_id, org_id) in &due {
        let a = args![
            "number" => rfq_id,
            "deadline" => local_text(round.deadline_at, tz),
            "link" => format!("{}/supplier/rfqs/{rfq_id}", s.base_url),
        ];
        for person in office_people(tx, *org_id).await? {
            if notify::tell(s, tx, &person, "mail-rfq-reminder", &a).await? {
                sent += 1;
            }
        }
    }
    Ok(sent)
}

/// Why a round may close, as the workflow names it (`rfq.close_round`'s
/// `reason`); the supplier's page says which.
pub const CLOSE_REASONS: [&str; 7] = [
    "deadline",
    "manager",
    "offer",
    "review",
    "declined",
    "cancelled",
    "new_round",
];

/// Closes a round (the `rfq.close_round` action): RFQs without an answer
/// expire and count against their supplier's answer rate. The first reason
/// given stays (closing again changes nothing). A local action: `tx` is the
/// step's connection.
pub async fn close_round(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    round_id: i64,
    reason: Option<&str>,
) -> DomainResult<usize> {
    let now = s.db.now();
    let reason = reason.filter(|r| CLOSE_REASONS.contains(r));
    sqlx::query("UPDATE rfq_rounds SET status = 'closed', closed_at = COALESCE(closed_at, $1), close_reason = COALESCE(close_reason, $2) WHERE id = $3")
        .bind(to_db_time(now))
        .bind(reason)
        .bind(round_id)
        .execute(&mut *tx)
        .await?;
    let expired: Vec<i64> = sqlx::query_scalar(
        "UPDATE rfqs SET status = 'expired' WHERE round_id = $1 AND status = 'sent' RETURNING supplier_org_id",
    )
    .bind(round_id)
    .fetch_all(&mut *tx)
    .await?;
    for org in &expired {
        scoring::record(tx, now, *org, scoring::Event::Expired).await?;
    }
    Ok(expired.len())
}

/// Quotes (active) and RFQs still unanswered in a round.
pub(crate) async fn counts(tx: &mut Tx, round_id: i64) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST((SELECT COUNT(*) FROM rfqs WHERE round_id = $1 AND status = 'quoted') AS BIGINT),
                CAST((SELECT COUNT(*) FROM rfqs WHERE round_id = $1 AND status = 'sent') AS BIGINT)",
    )
    .bind(round_id)
    .fetch_one(&mut **tx)
    .await
}

/// Tells the request's workflow how the round stands (`rfq.answered`).
pub(crate) async fn emit_answered(
    s: &Services,
    tx: &mut Tx,
    request_id: i64,
    round_id: i64,
    actor: Option<i64>,
) -> DomainResult<()> {
    let (quotes, pending) = counts(tx, round_id).await?;
    s.engine
        .emit_to_object_in_tx(
            tx,
            "request",
            request_id,
            "rfq.answered",
            json!({"round_id": round_id, "quotes": quotes, "pending": pending}),
            actor,
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The supplier's cabinet

/// An RFQ row as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Rfq {
    pub id: i64,
    pub round_id: i64,
    pub request_id: i64,
    pub supplier_org_id: i64,
    pub status: String,
    pub distance_km: Option<f64>,
    pub decline_reason: Option<String>,
    pub sent_at: i64,
    pub answered_at: Option<i64>,
    pub reminders: i64,
}

const RFQ_COLUMNS: &str = "q.id, q.round_id, q.request_id, q.supplier_org_id, q.status, q.distance_km, q.decline_reason, q.sent_at, q.answered_at, q.reminders";

/// An RFQ the actor may see (its supplier; staff); others are not found.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Rfq> {
    let mut sql = Sql::new("SELECT ");
    sql.push(RFQ_COLUMNS)
        .push(" FROM rfqs q WHERE q.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Rfq, "q");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// A line of the supplier's list of RFQs.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RfqListItem {
    pub id: i64,
    pub status: String,
    pub request_type: String,
    pub wanted_from: Option<i64>,
    pub site_timezone: Option<String>,
    pub site_address: Option<String>,
    pub sent_at: i64,
    pub deadline_at: Option<i64>,
    pub round_status: String,
    pub distance_km: Option<f64>,
    pub quote_status: Option<String>,
    pub quote_valid_until: Option<i64>,
    pub request_status: String,
    pub close_reason: Option<String>,
}

/// A line as the supplier sees it: no address beyond the area.
#[derive(Debug, Clone, Serialize)]
pub struct RfqLine {
    pub id: i64,
    pub status: String,
    pub type_title: String,
    pub area: String,
    pub wanted_local: String,
    pub sent_at: i64,
    pub deadline_at: Option<i64>,
    pub open: bool,
    pub distance_km: Option<f64>,
    pub quote_status: Option<String>,
    /// The quote's fate (`quotes::fate`): won, lost, expired, withdrawn, active.
    pub quote_fate: Option<&'static str>,
    /// Why the round closed (`CLOSE_REASONS`), once it did.
    pub close_reason: Option<String>,
}

/// The supplier's RFQs: open ones first, newest first.
pub async fn list_for_supplier(s: &Services, actor: &Actor) -> DomainResult<Vec<RfqLine>> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let mut sql = Sql::new(
        "SELECT q.id, q.status, r.request_type, r.wanted_from, r.site_timezone, r.site_address, q.sent_at, rr.deadline_at,
                rr.status AS round_status, q.distance_km, sq.status AS quote_status, sq.valid_until AS quote_valid_until,
                r.status AS request_status, rr.close_reason
         FROM rfqs q JOIN rfq_rounds rr ON rr.id = q.round_id JOIN requests r ON r.id = q.request_id
         LEFT JOIN supplier_quotes sq ON sq.rfq_id = q.id WHERE 1 = 1",
    );
    scope(&mut sql, actor, Resource::Rfq, "q");
    sql.push(" ORDER BY q.sent_at DESC, q.id DESC LIMIT 500");
    let rows: Vec<RfqListItem> = sql.query_as().fetch_all(s.db.pool()).await?;
    let now = s.db.now();
    let mut out: Vec<RfqLine> = rows
        .into_iter()
        .map(|x| {
            let tz = site_tz(x.site_timezone.as_deref());
            let round_open =
                x.round_status == "open" && x.deadline_at.is_none_or(|d| to_db_time(now) < d);
            let open = round_open && ANSWERABLE.contains(&x.status.as_str());
            let quote_fate = match (&x.quote_status, x.quote_valid_until) {
                (Some(st), Some(until)) => Some(crate::deals::quotes::fate(
                    st,
                    until,
                    &x.request_status,
                    to_db_time(now),
                )),
                _ => None,
            };
            RfqLine {
                quote_fate,
                close_reason: if round_open { None } else { x.close_reason },
                id: x.id,
                status: x.status,
                type_title: s
                    .request_types
                    .get(&x.request_type)
                    .map(|t| t.title.clone())
                    .unwrap_or(x.request_type),
                area: x.site_address.as_deref().map(area_of).unwrap_or_default(),
                wanted_local: local_text(x.wanted_from, tz),
                sent_at: x.sent_at,
                deadline_at: x.deadline_at,
                open,
                distance_km: x.distance_km,
                quote_status: x.quote_status,
            }
        })
        .collect();
    out.sort_by_key(|l| !(l.open && l.status == "sent"));
    Ok(out)
}

/// RFQs waiting for the supplier's answer (the badge in the navigation).
pub async fn open_count(s: &Services, actor: &Actor) -> DomainResult<i64> {
    if !actor.is_supplier_office() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM rfqs q JOIN rfq_rounds rr ON rr.id = q.round_id
         WHERE q.status = 'sent' AND rr.status = 'open' AND (rr.deadline_at IS NULL OR rr.deadline_at > ",
    );
    sql.bind(to_db_time(s.db.now())).push(")");
    scope(&mut sql, actor, Resource::Rfq, "q");
    Ok(sql.query_scalar().fetch_one(s.db.pool()).await?)
}

/// A request field as a supplier sees it.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub id: String,
    pub title: String,
    pub kind: FieldKind,
    pub unit: Option<String>,
    pub value: Value,
}

/// What the job needs, for the supplier: never the client.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub type_code: String,
    pub type_title: String,
    pub area: String,
    pub timezone: String,
    pub wanted_local: String,
    pub wanted_to_local: String,
    pub duration: Option<f64>,
    pub duration_kind: crate::intake::request_types::DurationKind,
    pub fields: Vec<FieldView>,
    pub price_units: Vec<String>,
}

/// The job of a request, cut for a supplier; categories by their titles
/// in `catalogue`.
pub fn job_of(r: &RequestRow, t: &RequestType, catalogue: &EquipmentCatalogue) -> Job {
    let values = r.field_map();
    let tz = r.tz();
    let fields = t
        .fields
        .iter()
        .filter_map(|f| {
            let v = values.get(&f.id)?;
            let value = match f.kind {
                FieldKind::Address => {
                    let area = v.get("address").and_then(Value::as_str).map(area_of)?;
                    if area.is_empty() {
                        return None;
                    }
                    Value::String(area)
                }
                FieldKind::Text | FieldKind::String => {
                    Value::String(mask_contacts(v.as_str().unwrap_or_default()))
                }
                FieldKind::Category => match v.as_str().and_then(|c| catalogue.category(c)) {
                    Some(c) => Value::String(c.title.clone()),
                    None => v.clone(),
                },
                _ => v.clone(),
            };
            Some(FieldView {
                id: f.id.clone(),
                title: f.title.clone(),
                kind: f.kind,
                unit: f.unit.clone(),
                value,
            })
        })
        .collect();
    Job {
        type_code: t.code.clone(),
        type_title: t.title.clone(),
        area: r.site_address.as_deref().map(area_of).unwrap_or_default(),
        timezone: tz.name().to_string(),
        wanted_local: local_text(r.wanted_from, tz),
        wanted_to_local: local_text(r.wanted_to, tz),
        duration: r.duration,
        duration_kind: t.duration,
        fields,
        price_units: t.price_units.clone(),
    }
}

/// An RFQ as its supplier opens it.
#[derive(Debug, Clone, Serialize)]
pub struct RfqView {
    pub rfq: Rfq,
    pub round: Round,
    pub open: bool,
    pub job: Job,
}

/// An RFQ of the actor's supplier, with the job. Only reads: opening the
/// page never queues behind (or holds) the database's writer. (It used to
/// stamp `rfqs.viewed_at`, which nothing reads; the column stays unused.)
pub async fn view(s: &Services, actor: &Actor, id: i64) -> DomainResult<RfqView> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let rfq = get(s, actor, id).await?;
    let (view, _) = view_of(s, rfq).await?;
    Ok(view)
}

/// The view of `rfq`, read outside any transaction.
pub(crate) async fn view_of(s: &Services, rfq: Rfq) -> DomainResult<(RfqView, RequestRow)> {
    let mut conn = s.db.pool().acquire().await?;
    let round = round(&mut conn, rfq.round_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    drop(conn);
    let r = matching::request_by_id(s, rfq.request_id).await?;
    let t = s
        .request_types
        .get(&r.request_type)
        .ok_or(DomainError::Conflict("quote.request_type_unknown"))?;
    let open = answerable(&rfq.status, &round, s.db.now());
    Ok((
        RfqView {
            job: job_of(&r, t, &s.equipment),
            rfq,
            round,
            open,
        },
        r,
    ))
}

/// RFQs of a request for the staff: who was asked, who answered.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StaffRfq {
    pub id: i64,
    pub round_id: i64,
    pub round_number: i64,
    pub supplier_org_id: i64,
    pub supplier_name: String,
    pub status: String,
    pub decline_reason: Option<String>,
    pub sent_at: i64,
    pub answered_at: Option<i64>,
    pub reminders: i64,
    pub deadline_at: Option<i64>,
    pub round_status: String,
}

pub async fn for_request(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<Vec<StaffRfq>> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    Ok(sqlx::query_as(
        "SELECT q.id, q.round_id, rr.number AS round_number, q.supplier_org_id, o.name AS supplier_name, q.status,
                q.decline_reason, q.sent_at, q.answered_at, q.reminders, rr.deadline_at, rr.status AS round_status
         FROM rfqs q JOIN rfq_rounds rr ON rr.id = q.round_id JOIN organisations o ON o.id = q.supplier_org_id
         WHERE q.request_id = $1 ORDER BY rr.number DESC, o.name",
    )
    .bind(r.id)
    .fetch_all(s.db.pool())
    .await?)
}

// ---------------------------------------------------------------------------
// The engine's actions

fn int_param(ctx: &ActionContext, name: &str) -> Option<i64> {
    ctx.params.get(name).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

fn retry(e: DomainError) -> ActionError {
    match e {
        DomainError::NotFound => ActionError::Fail("not found".into()),
        e => ActionError::Retry(e.to_string()),
    }
}

/// Registers `rfq.send_top` (external: matching is a heavy read and the
/// workflow branches on its result, `rfq.send_top.done`; a second run reuses
/// the round the first created) and the local `rfq.open_round`,
/// `rfq.remind` and `rfq.close_round` (their rows and mail are written in
/// the step's transaction).
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    let c = cell.clone();
    let b = b.action(
        "rfq.send_top",
        Some(&["top"]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = crate::services::ready(&c)?;
                let top = int_param(&ctx, "top").unwrap_or(3).max(1);
                let sent = send_top(s, ctx.object.id, usize::try_from(top).unwrap_or(3))
                    .await
                    .map_err(retry)?;
                Ok(json!({"round_id": sent.round_id, "count": sent.count}))
            }
        }),
    );
    let b = b.local_action(
        "rfq.open_round",
        Some(&["round_id", "deadline"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let round_id = int_param(ctx, "round_id")
                    .ok_or_else(|| ActionError::Fail("round_id is missing".into()))?;
                let deadline = ctx
                    .params
                    .get("deadline")
                    .and_then(Value::as_str)
                    .and_then(engine::expr::parse_time);
                open_round(s, conn, round_id, deadline)
                    .await
                    .map_err(retry)?;
                Ok(())
            })
        }),
    );
    let b = b.local_action(
        "rfq.remind",
        Some(&["round_id"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let round_id = int_param(ctx, "round_id")
                    .ok_or_else(|| ActionError::Fail("round_id is missing".into()))?;
                remind(s, conn, round_id, &ctx.idempotency_key)
                    .await
                    .map_err(retry)?;
                Ok(())
            })
        }),
    );
    b.local_action(
        "rfq.close_round",
        Some(&["round_id", "reason"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let round_id = int_param(ctx, "round_id")
                    .ok_or_else(|| ActionError::Fail("round_id is missing".into()))?;
                let reason = ctx.params.get("reason").and_then(Value::as_str);
                close_round(s, conn, round_id, reason)
                    .await
                    .map_err(retry)?;
                Ok(())
            })
        }),
    )
}

/// An approved supplier by INN, for adding it to a round by hand.
pub async fn approved_supplier_by_inn(s: &Services, inn: &str) -> DomainResult<i64> {
    let inn = inn.trim();
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM organisations WHERE kind = 'supplier' AND status = 'approved' AND inn = $1 ORDER BY id LIMIT 1",
    )
    .bind(inn)
    .fetch_optional(s.db.pool())
    .await?;
    id.ok_or_else(|| DomainError::field("add", "rfq.supplier_not_found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_stop_before_the_street() {
        assert_eq!(
            area_of("Московская обл., г. Подольск, ул. Комсомольская, 1"),
            "Московская обл., г. Подольск"
        );
        assert_eq!(
            area_of("г. Москва, Рязанский пр-т, д. 2, корп. 3"),
            "г. Москва"
        );
        assert_eq!(area_of("Тверь"), "Тверь");
        assert_eq!(area_of("ул. Ленина, 1"), "");
    }

    #[test]
    fn every_written_form_of_a_contact_is_masked() {
        for (text, secret) in [
            ("звоните 9161234567", "9161234567"),
            ("тел. 7 916 123 45 67", "123 45 67"),
            ("8-916-123-45-67", "123-45-67"),
            ("+7(916)123.45.67", "123.45.67"),
            ("(916) 123 4567 прораб", "123 4567"),
            ("пишите в телегу @ivan_prorab", "ivan_prorab"),
            ("t.me/ivan_prorab", "ivan_prorab"),
            ("https://t.me/ivan_prorab", "ivan_prorab"),
            ("vk.com/id12345", "id12345"),
            ("wa.me/79161234567", "79161234567"),
            ("ivan@example.ru", "ivan@"),
            ("ivan(at)mail.ru", "ivan(at)"),
            ("ivan [at] mail [dot] ru", "ivan [at]"),
            ("ivan at mail.ru", "ivan at mail"),
            ("ivan собака mail.ru", "собака"),
        ] {
            let masked = mask_contacts(text);
            assert!(!masked.contains(secret), "{text:?} → {masked:?}");
            assert!(masked.contains("***"), "{text:?} → {masked:?}");
        }
        // Ordinary figures and words stay.
        for text in [
            "Плитка 12 поддонов, 2026-05-01, вес 4,5 т",
            "arrive at 9.30",
            "ИНН не нужен, объём 150 м3",
        ] {
            assert_eq!(mask_contacts(text), text);
        }
    }

    #[test]
    fn a_site_address_is_shown_as_its_town_or_district_only() {
        assert_eq!(area_of("Москва, Тверская, Пушкинская площадь"), "Москва");
        assert_eq!(area_of("Москва, Тверская"), "Москва");
        assert_eq!(
            area_of("Московская обл., Мытищинский район, Колпакова"),
            "Московская обл., Мытищинский район"
        );
        assert_eq!(area_of("Тверская"), "Тверская");
        assert_eq!(area_of("ул. Тверская"), "");
    }

    #[test]
    fn contacts_in_free_text_are_masked() {
        let t =
            mask_contacts("Плитка, звонить +7 (916) 123-45-67 или ivan@example.ru, 8 916 1234567");
        assert!(
            !t.contains("123-45-67") && !t.contains("ivan@") && !t.contains("1234567"),
            "{t}"
        );
        assert!(t.starts_with("Плитка"));
    }
}
