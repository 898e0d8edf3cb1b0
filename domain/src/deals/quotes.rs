//! Suppliers' quotes (КП) in answer to our RFQs, and the staff's comparison
//! of them.
//!
//! A dispatcher quotes with a machine of their own garage that suits the job
//! and is free on its days (checked here, on the server, whatever the form
//! sent: another supplier's machine is "unknown", a busy or unavailable one
//! is refused), a driver or operator with a fitting licence, a price per unit
//! of the request type, VAT mode, payment terms, arrival time and validity;
//! or declines with a reason. Until the round closes the quote may be revised
//! (in place, `revision` + 1) or withdrawn.
//!
//! # Prices and VAT
//!
//! The supplier states the price per unit as it would invoice it: VAT
//! included when its mode has VAT (`vat22`: 12 200 ₽ holds 2 200 ₽ VAT).
//! The comparison shows it without and with VAT.
//!
//! # The suggested best (configurable)
//!
//! Each active quote gets 0–100 from weighted criteria: price (cheapest total
//! = 1, others cheapest/own), arrival (on time = 1, 4 hours late or more = 0),
//! distance (at the base = 1, at the edge of the radius = 0), the supplier's
//! score, and payment terms (no prepayment and 30 days' postpayment = 1).
//! The weights are the request workflow's data (`score_weight_price`,
//! `…_arrival`, `…_distance`, `…_supplier`, `…_payment`; defaults 50/20/10/15/5
//! in `workflows/request.yaml`), so analysts change them like any workflow.

use chrono::{DateTime, Duration, Utc};
use engine::{Sql, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{Actor, Resource, scope};
use crate::deals::matching::{self, MachineMatch, RequestRow};
use crate::deals::rfq::{self, RfqView};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::fleet::catalogue::EquipmentCatalogue;
use crate::intake::requests::{local_input, local_to_utc};
use crate::parties::employees::Employee;
use crate::services::Services;
use crate::values::{Kopecks, VatMode};
use crate::{access::audit, deals::scoring, fleet::garage};

/// Payment methods.
pub const PAYMENT_METHODS: [&str; 3] = ["cash", "card", "bank"];
/// Default validity of a quote after the round's deadline.
const DEFAULT_VALIDITY_HOURS: i64 = 48;

/// Whether an employee may drive or operate a machine of `category`:
/// a bus needs licence D (or D1, DE, D1E); any other road vehicle C (or
/// C1, CE, C1E); machinery that is not a road vehicle, and lifting machines
/// (whose category requires Rostekhnadzor registration), an operator's
/// licence (машинист) as well.
pub fn licence_fits(catalogue: &EquipmentCatalogue, category: &str, e: &Employee) -> bool {
    let Some(c) = catalogue.category(category) else {
        return false;
    };
    let held: Vec<String> = e
        .licence_categories
        .as_deref()
        .unwrap_or_default()
        .split([',', ' '])
        .map(|x| x.trim().to_uppercase())
        .filter(|x| !x.is_empty())
        .collect();
    let has = |family: &[&str]| held.iter().any(|h| family.contains(&h.as_str()));
    let operator = e
        .operator_licence
        .as_deref()
        .is_some_and(|o| !o.trim().is_empty());
    let lifting = c.documents.iter().any(|d| d == "rtn_registration");
    if !c.road_vehicle {
        return operator;
    }
    let driving = if c.code == "bus" {
        has(&["D", "D1", "DE", "D1E"])
    } else {
        has(&["C", "C1", "CE", "C1E"])
    };
    driving && (!lifting || operator)
}

/// A supplier's quote as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Quote {
    pub id: i64,
    pub rfq_id: i64,
    pub request_id: i64,
    pub supplier_org_id: i64,
    pub machine_id: i64,
    pub employee_id: Option<i64>,
    pub price_unit: String,
    pub unit_price: i64,
    pub quantity_centi: i64,
    pub total_price: i64,
    pub vat_mode: String,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
    pub arrival_at: i64,
    pub work_day: String,
    pub valid_until: i64,
    pub comment: Option<String>,
    pub status: String,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const QUOTE_COLUMNS: &str = "sq.id, sq.rfq_id, sq.request_id, sq.supplier_org_id, sq.machine_id, sq.employee_id, sq.price_unit, sq.unit_price, sq.quantity_centi, sq.total_price, sq.vat_mode, sq.prepayment_percent, sq.postpayment_days, sq.payment_method, sq.arrival_at, sq.work_day, sq.valid_until, sq.comment, sq.status, sq.revision, sq.created_at, sq.updated_at";

/// A quote the actor may see (its supplier; staff).
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Quote> {
    let mut sql = Sql::new("SELECT ");
    sql.push(QUOTE_COLUMNS)
        .push(" FROM supplier_quotes sq WHERE sq.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::SupplierQuote, "sq");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

async fn of_rfq(s: &Services, rfq_id: i64) -> DomainResult<Option<Quote>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(QUOTE_COLUMNS)
        .push(" FROM supplier_quotes sq WHERE sq.rfq_id = ")
        .bind(rfq_id);
    Ok(sql.query_as().fetch_optional(s.db.pool()).await?)
}

/// A quote as typed into the form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QuoteInput {
    pub machine_id: String,
    pub employee_id: String,
    pub price_unit: String,
    pub unit_price: String,
    pub quantity: String,
    pub vat_mode: String,
    pub prepayment_percent: String,
    pub postpayment_days: String,
    pub payment_method: String,
    /// Site-local `YYYY-MM-DDTHH:MM`.
    pub arrival_at: String,
    pub valid_until: String,
    pub comment: String,
}

impl QuoteInput {
    pub fn from_quote(q: &Quote, tz: chrono_tz::Tz) -> QuoteInput {
        QuoteInput {
            machine_id: q.machine_id.to_string(),
            employee_id: q.employee_id.map(|e| e.to_string()).unwrap_or_default(),
            price_unit: q.price_unit.clone(),
            unit_price: Kopecks(q.unit_price).format_number(),
            quantity: centi_text(q.quantity_centi),
            vat_mode: q.vat_mode.clone(),
            prepayment_percent: q.prepayment_percent.to_string(),
            postpayment_days: q.postpayment_days.to_string(),
            payment_method: q.payment_method.clone(),
            arrival_at: local_input(Some(q.arrival_at), tz),
            valid_until: local_input(Some(q.valid_until), tz),
            comment: q.comment.clone().unwrap_or_default(),
        }
    }
}

/// Hundredths as people type them: `2`, `1,5`.
pub fn centi_text(c: i64) -> String {
    if c % 100 == 0 {
        (c / 100).to_string()
    } else {
        format!("{},{:02}", c / 100, c % 100)
            .trim_end_matches('0')
            .to_string()
    }
}

/// A positive quantity with at most two decimals, in hundredths.
pub fn parse_centi(input: &str) -> Option<i64> {
    let t = input.trim().replace([' ', '\u{a0}'], "").replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 {
        return None;
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    let v = w.checked_mul(100)?.checked_add(f)?;
    (v > 0 && v <= 1_000_000).then_some(v)
}

/// `amount × hundredths / 100`, rounded half away from zero.
pub fn times_centi(amount: Kopecks, centi: i64) -> Option<Kopecks> {
    amount.percent_bp(centi.checked_mul(100)?)
}

/// A checked quote.
#[derive(Debug, Clone)]
struct ValidQuote {
    machine: MachineMatch,
    employee_id: Option<i64>,
    price_unit: String,
    unit_price: Kopecks,
    quantity_centi: i64,
    total: Kopecks,
    vat_mode: VatMode,
    prepayment_percent: i64,
    postpayment_days: i64,
    payment_method: String,
    arrival_at: DateTime<Utc>,
    work_day: String,
    valid_until: DateTime<Utc>,
    comment: Option<String>,
}

/// A whole number from 0 to `max`, empty meaning 0 (terms in days or percent).
pub(crate) fn int_in(e: &mut FieldErrors, field: &str, input: &str, max: i64) -> i64 {
    match input.trim() {
        "" => 0,
        t => match t.parse::<i64>() {
            Ok(v) if (0..=max).contains(&v) => v,
            _ => {
                e.add(field, "quote.number_out_of_range");
                0
            }
        },
    }
}

/// Estimated units of a request, for the form's default quantity.
pub fn estimated_quantity(r: &RequestRow, unit: &str) -> i64 {
    let f = r.field_map();
    let num = |k: &str| f.get(k).and_then(Value::as_f64);
    let centi = |v: f64| ((v * 100.0).round() as i64).max(100);
    match unit {
        "hour" => r.duration.map(centi).unwrap_or(100),
        "shift" | "day" => r.duration.map(|d| centi(d.ceil())).unwrap_or(100),
        "tonne" => num("weight_t")
            .or_else(|| num("quantity"))
            .map(centi)
            .unwrap_or(100),
        "m3" => num("volume_m3")
            .or_else(|| num("quantity"))
            .map(centi)
            .unwrap_or(100),
        "trip" => f
            .get("vehicles")
            .and_then(Value::as_i64)
            .map(|v| v.max(1) * 100)
            .unwrap_or(100),
        _ => 100,
    }
}

/// What the quote form offers: the RFQ with its job, the supplier's
/// machines that suit it (each with its availability), its drivers and
/// operators (each marked whether their licence fits), and the choices.
#[derive(Debug, Clone, Serialize)]
pub struct QuoteForm {
    pub view: RfqView,
    pub quote: Option<Quote>,
    pub machines: Vec<MachineMatch>,
    pub employees: Vec<EmployeeOption>,
    pub vat_modes: Vec<&'static str>,
    pub input: QuoteInput,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmployeeOption {
    pub id: i64,
    pub full_name: String,
    pub licence_categories: Option<String>,
    pub operator_licence: bool,
    /// Categories of the offered machines this person may drive or operate.
    pub fits: Vec<String>,
}

/// The quote form of an RFQ of the actor's supplier.
pub async fn form(s: &Services, actor: &Actor, rfq_id: i64) -> DomainResult<QuoteForm> {
    rfq::require_supplier_office(actor)?;
    let view = rfq::view(s, actor, rfq_id).await?;
    let r = matching::request_by_id(s, view.rfq.request_id).await?;
    let quote = of_rfq(s, rfq_id).await?;
    let machines: Vec<MachineMatch> = matching::machines_of_supplier(s, &r, actor.org_id)
        .await?
        .into_iter()
        .filter(|m| m.suits)
        .collect();
    let people = crate::parties::employees::list(s, actor, actor.org_id, false).await?;
    let employees = people
        .into_iter()
        .filter(|e| e.role == "driver")
        .map(|e| EmployeeOption {
            fits: machines
                .iter()
                .filter(|m| licence_fits(&s.equipment, &m.category, &e))
                .map(|m| m.category.clone())
                .collect(),
            id: e.id,
            full_name: e.full_name.clone(),
            licence_categories: e.licence_categories.clone(),
            operator_licence: e.operator_licence.is_some(),
        })
        .collect();
    let input = match &quote {
        Some(q) => QuoteInput::from_quote(q, r.tz()),
        None => {
            let unit = view.job.price_units.first().cloned().unwrap_or_default();
            let own_vat: Option<String> =
                sqlx::query_scalar("SELECT vat_mode FROM organisations WHERE id = $1")
                    .bind(actor.org_id)
                    .fetch_optional(s.db.pool())
                    .await?
                    .flatten();
            let arrival = local_input(r.wanted_from, r.tz());
            QuoteInput {
                machine_id: machines
                    .iter()
                    .find(|m| m.fits)
                    .map(|m| m.machine_id.to_string())
                    .unwrap_or_default(),
                quantity: centi_text(estimated_quantity(&r, &unit)),
                price_unit: unit,
                vat_mode: own_vat.unwrap_or_else(|| "none".into()),
                prepayment_percent: "0".into(),
                postpayment_days: "0".into(),
                payment_method: "bank".into(),
                arrival_at: arrival,
                ..Default::default()
            }
        }
    };
    Ok(QuoteForm {
        view,
        quote,
        machines,
        employees,
        vat_modes: VatMode::CURRENT.iter().map(|m| m.as_str()).collect(),
        input,
    })
}

async fn validate(
    s: &Services,
    actor: &Actor,
    view: &RfqView,
    r: &RequestRow,
    input: &QuoteInput,
) -> DomainResult<ValidQuote> {
    let mut e = FieldErrors::new();
    let now = s.db.now();
    let tz = r.tz();
    // The machine: of this supplier (another's is unknown), suiting the job
    // and free on its days.
    let machine = match input.machine_id.trim().parse::<i64>() {
        Err(_) => {
            e.add("machine_id", "required");
            None
        }
        Ok(id) => match garage::get(s, actor, id).await {
            Ok(m) if m.org_id == actor.org_id && m.status == "active" => {
                let judged = matching::machines_of_supplier(s, r, actor.org_id).await?;
                match judged.into_iter().find(|x| x.machine_id == id) {
                    Some(j) if j.fits => Some(j),
                    Some(j) if j.suits => {
                        e.add("machine_id", "quote.machine_unavailable");
                        None
                    }
                    _ => {
                        e.add("machine_id", "quote.machine_unfit");
                        None
                    }
                }
            }
            Ok(_) | Err(DomainError::NotFound) => {
                e.add("machine_id", "quote.machine_unknown");
                None
            }
            Err(other) => return Err(other),
        },
    };
    let employee_id = match input.employee_id.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(id) => match crate::parties::employees::get(s, actor, id).await {
                Ok(emp) if emp.org_id == actor.org_id && emp.status == "active" => {
                    if let Some(m) = &machine
                        && !licence_fits(&s.equipment, &m.category, &emp)
                    {
                        e.add("employee_id", "quote.licence_unfit");
                    }
                    Some(id)
                }
                Ok(_) | Err(DomainError::NotFound) => {
                    e.add("employee_id", "quote.employee_unknown");
                    None
                }
                Err(other) => return Err(other),
            },
            Err(_) => {
                e.add("employee_id", "quote.employee_unknown");
                None
            }
        },
    };
    let price_unit = input.price_unit.trim().to_string();
    if !view.job.price_units.contains(&price_unit) {
        e.add("price_unit", "quote.unit_invalid");
    }
    let unit_price = match Kopecks::parse_non_negative(&input.unit_price) {
        Ok(k) if k.as_i64() > 0 && k.as_i64() <= 100_000_000_000 => Some(k),
        Ok(_) => {
            e.add("unit_price", "quote.price_invalid");
            None
        }
        Err(_) if input.unit_price.trim().is_empty() => {
            e.add("unit_price", "required");
            None
        }
        Err(_) => {
            e.add("unit_price", "quote.money_invalid");
            None
        }
    };
    let quantity_centi = match input.quantity.trim() {
        "" => Some(100),
        t => parse_centi(t).or_else(|| {
            e.add("quantity", "quote.quantity_invalid");
            None
        }),
    };
    let vat_mode = match VatMode::parse(&input.vat_mode) {
        Ok(v) if v.is_current() => Some(v),
        _ => {
            e.add("vat_mode", "quote.vat_invalid");
            None
        }
    };
    let prepayment_percent = int_in(&mut e, "prepayment_percent", &input.prepayment_percent, 100);
    let postpayment_days = int_in(&mut e, "postpayment_days", &input.postpayment_days, 365);
    let payment_method = input.payment_method.trim().to_string();
    if !PAYMENT_METHODS.contains(&payment_method.as_str()) {
        e.add("payment_method", "quote.payment_method_invalid");
    }
    let at = |field: &str, text: &str, e: &mut FieldErrors| -> Option<DateTime<Utc>> {
        if text.trim().is_empty() {
            e.add(field, "required");
            return None;
        }
        match local_to_utc(text, tz) {
            Some(t) => Some(t),
            None => {
                e.add(field, "quote.datetime_invalid");
                None
            }
        }
    };
    let arrival_at = at("arrival_at", &input.arrival_at, &mut e);
    if arrival_at.is_some_and(|a| a < now) {
        e.add("arrival_at", "quote.in_past");
    }
    let valid_until = match input.valid_until.trim() {
        "" => Some(
            view.round
                .deadline_at
                .map(engine::from_db_time)
                .unwrap_or(now)
                + Duration::hours(DEFAULT_VALIDITY_HOURS),
        ),
        t => at("valid_until", t, &mut e),
    };
    if valid_until.is_some_and(|v| v <= now) {
        e.add("valid_until", "quote.in_past");
    }
    if input.comment.chars().count() > 2000 {
        e.add("comment", "text.too_long");
    }
    let total = match (unit_price, quantity_centi) {
        (Some(p), Some(q)) => times_centi(p, q).or_else(|| {
            e.add("quantity", "quote.quantity_invalid");
            None
        }),
        _ => None,
    };
    match (
        machine,
        unit_price,
        quantity_centi,
        total,
        vat_mode,
        arrival_at,
        valid_until,
    ) {
        (
            Some(machine),
            Some(unit_price),
            Some(quantity_centi),
            Some(total),
            Some(vat_mode),
            Some(arrival_at),
            Some(valid_until),
        ) if e.is_empty() => Ok(ValidQuote {
            machine,
            employee_id,
            price_unit,
            unit_price,
            quantity_centi,
            total,
            vat_mode,
            prepayment_percent,
            postpayment_days,
            payment_method,
            work_day: garage::ymd(arrival_at.with_timezone(&tz).date_naive()),
            arrival_at,
            valid_until,
            comment: Some(input.comment.trim().to_string()).filter(|c| !c.is_empty()),
        }),
        _ => Err(DomainError::Invalid(e)),
    }
}

/// Submits or revises the supplier's quote for an RFQ of its own.
pub async fn submit(
    s: &Services,
    actor: &Actor,
    rfq_id: i64,
    input: &QuoteInput,
) -> DomainResult<i64> {
    rfq::require_supplier_office(actor)?;
    let rfq = rfq::get(s, actor, rfq_id).await?;
    let (view, r) = rfq::view_of(s, rfq).await?;
    if !view.open {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    let v = validate(s, actor, &view, &r, input).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    // Re-read inside the write transaction: the round may have closed.
    let round = rfq::round(&mut tx, view.round.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let status: String = sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq_id)
        .fetch_one(&mut *tx)
        .await?;
    if !rfq::answerable(&status, &round, now) {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    let existing: Option<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM supplier_quotes WHERE rfq_id = $1")
            .bind(rfq_id)
            .fetch_optional(&mut *tx)
            .await?;
    let id: i64 = match &existing {
        Some((id, _)) => {
            sqlx::query(
                "UPDATE supplier_quotes SET machine_id = $1, employee_id = $2, price_unit = $3, unit_price = $4, quantity_centi = $5,
                   total_price = $6, vat_mode = $7, prepayment_percent = $8, postpayment_days = $9, payment_method = $10,
                   arrival_at = $11, work_day = $12, valid_until = $13, comment = $14, status = 'active',
                   revision = revision + 1, updated_at = $15 WHERE id = $16",
            )
            .bind(v.machine.machine_id)
            .bind(v.employee_id)
            .bind(&v.price_unit)
            .bind(v.unit_price.as_i64())
            .bind(v.quantity_centi)
            .bind(v.total.as_i64())
            .bind(v.vat_mode.as_str())
            .bind(v.prepayment_percent)
            .bind(v.postpayment_days)
            .bind(&v.payment_method)
            .bind(to_db_time(v.arrival_at))
            .bind(&v.work_day)
            .bind(to_db_time(v.valid_until))
            .bind(v.comment.clone())
            .bind(to_db_time(now))
            .bind(*id)
            .execute(&mut *tx)
            .await?;
            *id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO supplier_quotes (rfq_id, request_id, supplier_org_id, machine_id, employee_id, price_unit, unit_price,
                   quantity_centi, total_price, vat_mode, prepayment_percent, postpayment_days, payment_method, arrival_at, work_day,
                   valid_until, comment, status, revision, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'active', 1, $18, $18) RETURNING id",
            )
            .bind(rfq_id)
            .bind(r.id)
            .bind(actor.org_id)
            .bind(v.machine.machine_id)
            .bind(v.employee_id)
            .bind(&v.price_unit)
            .bind(v.unit_price.as_i64())
            .bind(v.quantity_centi)
            .bind(v.total.as_i64())
            .bind(v.vat_mode.as_str())
            .bind(v.prepayment_percent)
            .bind(v.postpayment_days)
            .bind(&v.payment_method)
            .bind(to_db_time(v.arrival_at))
            .bind(&v.work_day)
            .bind(to_db_time(v.valid_until))
            .bind(v.comment.clone())
            .bind(to_db_time(now))
            .fetch_one(&mut *tx)
            .await?
        }
    };
    answer(s, &mut tx, &view, &status, true, None).await?;
    rfq::emit_answered(s, &mut tx, r.id, view.round.id, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        if existing.is_some() { "quote.revised" } else { "quote.submitted" },
        "supplier_quote",
        Some(id),
        json!({"rfq_id": rfq_id, "machine_id": v.machine.machine_id, "unit_price": v.unit_price, "unit": v.price_unit}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(id)
}

/// Marks the RFQ answered (quoted or declined) and keeps the supplier's
/// figures: the first answer counts for answer rate and speed.
async fn answer(
    s: &Services,
    tx: &mut engine::Tx,
    view: &RfqView,
    previous: &str,
    quoted: bool,
    reason: Option<&str>,
) -> DomainResult<()> {
    let now = s.db.now();
    sqlx::query(
        "UPDATE rfqs SET status = $1, decline_reason = $2, answered_at = COALESCE(answered_at, $3) WHERE id = $4",
    )
    .bind(if quoted { "quoted" } else { "declined" })
    .bind(reason)
    .bind(to_db_time(now))
    .bind(view.rfq.id)
    .execute(&mut **tx)
    .await?;
    let org = view.rfq.supplier_org_id;
    if previous == "sent" && view.rfq.answered_at.is_none() {
        let ms = to_db_time(now) - view.rfq.sent_at;
        scoring::record(
            tx,
            now,
            org,
            scoring::Event::Answered {
                quoted,
                answer_ms: ms,
            },
        )
        .await?;
    } else if quoted && previous != "quoted" {
        scoring::record(tx, now, org, scoring::Event::Quoted).await?;
    }
    Ok(())
}

/// Declines an RFQ of the actor's supplier, with a reason (an active quote
/// is withdrawn).
pub async fn decline(s: &Services, actor: &Actor, rfq_id: i64, reason: &str) -> DomainResult<()> {
    rfq::require_supplier_office(actor)?;
    let reason = reason.trim();
    if reason.chars().count() < 3 {
        return Err(DomainError::field(
            "reason",
            if reason.is_empty() {
                "required"
            } else {
                "quote.reason_too_short"
            },
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(DomainError::field("reason", "text.too_long"));
    }
    let rfq = rfq::get(s, actor, rfq_id).await?;
    let (view, r) = rfq::view_of(s, rfq).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let round = rfq::round(&mut tx, view.round.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let status: String = sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq_id)
        .fetch_one(&mut *tx)
        .await?;
    if !rfq::answerable(&status, &round, now) {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    sqlx::query("UPDATE supplier_quotes SET status = 'withdrawn', updated_at = $1 WHERE rfq_id = $2 AND status = 'active'")
        .bind(to_db_time(now))
        .bind(rfq_id)
        .execute(&mut *tx)
        .await?;
    answer(s, &mut tx, &view, &status, false, Some(reason)).await?;
    rfq::emit_answered(s, &mut tx, r.id, view.round.id, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "rfq.declined",
        "rfq",
        Some(rfq_id),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Withdraws the supplier's quote while the round is open.
pub async fn withdraw(s: &Services, actor: &Actor, rfq_id: i64) -> DomainResult<()> {
    rfq::require_supplier_office(actor)?;
    let rfq = rfq::get(s, actor, rfq_id).await?;
    let (view, r) = rfq::view_of(s, rfq).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let round = rfq::round(&mut tx, view.round.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !round.is_open(now) {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    let n = sqlx::query("UPDATE supplier_quotes SET status = 'withdrawn', updated_at = $1 WHERE rfq_id = $2 AND status = 'active'")
        .bind(to_db_time(now))
        .bind(rfq_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DomainError::Conflict("quote.not_active"));
    }
    sqlx::query("UPDATE rfqs SET status = 'withdrawn' WHERE id = $1")
        .bind(rfq_id)
        .execute(&mut *tx)
        .await?;
    rfq::emit_answered(s, &mut tx, r.id, view.round.id, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "quote.withdrawn",
        "rfq",
        Some(rfq_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// A line of the supplier's own quotes: its price, never ours.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OwnQuote {
    pub id: i64,
    pub rfq_id: i64,
    pub request_type: String,
    pub price_unit: String,
    pub unit_price: i64,
    pub total_price: i64,
    pub vat_mode: String,
    pub arrival_at: i64,
    pub valid_until: i64,
    pub status: String,
    pub revision: i64,
    pub updated_at: i64,
    pub make: String,
    pub model: String,
    pub plate: Option<String>,
}

/// The actor's supplier's quotes, newest first.
pub async fn list_for_supplier(s: &Services, actor: &Actor) -> DomainResult<Vec<OwnQuote>> {
    rfq::require_supplier_office(actor)?;
    let mut sql = Sql::new(
        "SELECT sq.id, sq.rfq_id, r.request_type, sq.price_unit, sq.unit_price, sq.total_price, sq.vat_mode, sq.arrival_at,
                sq.valid_until, sq.status, sq.revision, sq.updated_at, m.make, m.model, m.plate
         FROM supplier_quotes sq JOIN requests r ON r.id = sq.request_id JOIN machines m ON m.id = sq.machine_id WHERE 1 = 1",
    );
    scope(&mut sql, actor, Resource::SupplierQuote, "sq");
    sql.push(" ORDER BY sq.updated_at DESC, sq.id DESC LIMIT 500");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

// ---------------------------------------------------------------------------
// The staff's comparison

/// Weights of the suggested best (see the module docs).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Weights {
    pub price: i64,
    pub arrival: i64,
    pub distance: i64,
    pub supplier: i64,
    pub payment: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            price: 50,
            arrival: 20,
            distance: 10,
            supplier: 15,
            payment: 5,
        }
    }
}

impl Weights {
    /// From the request workflow's data (`score_weight_*`), defaults for
    /// what is missing or negative.
    pub fn from_data(data: &serde_json::Map<String, Value>) -> Weights {
        let d = Weights::default();
        let w = |k: &str, def: i64| {
            data.get(&format!("score_weight_{k}"))
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .unwrap_or(def)
        };
        Weights {
            price: w("price", d.price),
            arrival: w("arrival", d.arrival),
            distance: w("distance", d.distance),
            supplier: w("supplier", d.supplier),
            payment: w("payment", d.payment),
        }
    }

    fn total(&self) -> i64 {
        (self.price + self.arrival + self.distance + self.supplier + self.payment).max(1)
    }
}

/// One quote in the comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub quote: Quote,
    pub supplier_name: String,
    pub supplier_score: i64,
    pub machine: String,
    pub plate: Option<String>,
    pub category: String,
    pub employee: Option<String>,
    pub distance_km: Option<f64>,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub total_net: i64,
    pub total_vat: i64,
    /// Minutes after the wanted time (negative: earlier).
    pub late_minutes: Option<i64>,
    /// 0–100 (active quotes only).
    pub suggestion: Option<i64>,
    /// Strengths: `cheapest`, `on_time`, `nearest`, `best_rated`, `best_terms`.
    pub why: Vec<&'static str>,
    pub best: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub weights: Weights,
    pub quotes: Vec<Compared>,
    pub best_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CompareRow {
    #[sqlx(flatten)]
    quote: Quote,
    supplier_name: String,
    make: String,
    model: String,
    plate: Option<String>,
    category: String,
    employee: Option<String>,
    distance_km: Option<f64>,
    #[sqlx(flatten)]
    stats: scoring::JoinedStats,
}

/// Every quote of a request, compared, with the suggested best.
pub async fn compare(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<Comparison> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    let weights = match s
        .engine
        .instances_for_object("request", r.id)
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?
        .into_iter()
        .last()
    {
        Some(i) => Weights::from_data(&i.data),
        None => Weights::default(),
    };
    // One query for every quote with its supplier, machine, driver,
    // distance and the supplier's figures.
    let mut sql = Sql::new("SELECT ");
    sql.push(QUOTE_COLUMNS)
        .push(
            ", o.name AS supplier_name, m.make, m.model, m.plate, m.category, e.full_name AS employee, q.distance_km, ",
        )
        .push(scoring::JOINED_STATS)
        .push(
            " FROM supplier_quotes sq JOIN organisations o ON o.id = sq.supplier_org_id JOIN machines m ON m.id = sq.machine_id
             JOIN rfqs q ON q.id = sq.rfq_id LEFT JOIN employees e ON e.id = sq.employee_id
             LEFT JOIN supplier_stats st ON st.org_id = sq.supplier_org_id
             WHERE sq.request_id = ",
        )
        .bind(r.id)
        .push(" ORDER BY sq.total_price, sq.id");
    let rows: Vec<CompareRow> = sql.query_as().fetch_all(s.db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let q = row.quote;
        let score = row.stats.score(q.supplier_org_id);
        let vat = VatMode::parse(&q.vat_mode).unwrap_or(VatMode::None);
        let unit_vat = vat.vat_included_in(Kopecks(q.unit_price)).as_i64();
        let total_vat = vat.vat_included_in(Kopecks(q.total_price)).as_i64();
        out.push(Compared {
            unit_net: q.unit_price - unit_vat,
            unit_vat,
            total_net: q.total_price - total_vat,
            total_vat,
            late_minutes: r.wanted_from.map(|w| (q.arrival_at - w) / 60_000),
            supplier_score: score.value,
            supplier_name: row.supplier_name,
            machine: format!("{} {}", row.make, row.model),
            plate: row.plate,
            category: row.category,
            employee: row.employee,
            distance_km: row.distance_km,
            suggestion: None,
            why: Vec::new(),
            best: false,
            quote: q,
        });
    }
    let best_id = suggest(&mut out, &weights);
    Ok(Comparison {
        weights,
        quotes: out,
        best_id,
    })
}

/// Scores the active quotes and marks the best (see the module docs).
pub fn suggest(quotes: &mut [Compared], w: &Weights) -> Option<i64> {
    let live = |c: &Compared| matches!(c.quote.status.as_str(), "active" | "selected");
    let cheapest = quotes
        .iter()
        .filter(|c| live(c))
        .map(|c| c.quote.total_price)
        .min()?;
    let nearest = quotes
        .iter()
        .filter(|c| live(c))
        .filter_map(|c| c.distance_km)
        .fold(f64::MAX, f64::min);
    let top_score = quotes
        .iter()
        .filter(|c| live(c))
        .map(|c| c.supplier_score)
        .max()
        .unwrap_or(0);
    let terms = |c: &Compared| {
        0.5 * (1.0 - c.quote.prepayment_percent as f64 / 100.0)
            + 0.5 * (c.quote.postpayment_days.min(30) as f64 / 30.0)
    };
    let best_terms = quotes
        .iter()
        .filter(|c| live(c))
        .map(terms)
        .fold(0.0, f64::max);
    let mut best: Option<(i64, i64)> = None;
    for c in quotes.iter_mut().filter(|c| live(c)) {
        let price = cheapest as f64 / c.quote.total_price.max(1) as f64;
        let arrival = match c.late_minutes {
            Some(m) if m > 0 => (1.0 - m as f64 / 240.0).max(0.0),
            _ => 1.0,
        };
        let distance = c
            .distance_km
            .map(|d| (1.0 - d / 300.0).max(0.0))
            .unwrap_or(0.5);
        let value = (w.price as f64 * price
            + w.arrival as f64 * arrival
            + w.distance as f64 * distance
            + w.supplier as f64 * c.supplier_score as f64 / 100.0
            + w.payment as f64 * terms(c))
            / w.total() as f64
            * 100.0;
        let value = value.round() as i64;
        c.suggestion = Some(value);
        if c.quote.total_price == cheapest {
            c.why.push("cheapest");
        }
        if c.late_minutes.is_none_or(|m| m <= 0) {
            c.why.push("on_time");
        }
        if c.distance_km.is_some_and(|d| d <= nearest) {
            c.why.push("nearest");
        }
        if c.supplier_score == top_score {
            c.why.push("best_rated");
        }
        if (terms(c) - best_terms).abs() < 1e-9 {
            c.why.push("best_terms");
        }
        if best.is_none_or(|(_, v)| value > v) {
            best = Some((c.quote.id, value));
        }
    }
    let id = best.map(|(id, _)| id);
    for c in quotes.iter_mut() {
        c.best = Some(c.quote.id) == id;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_hundredths() {
        assert_eq!(parse_centi("2"), Some(200));
        assert_eq!(parse_centi("1,5"), Some(150));
        assert_eq!(parse_centi("0.25"), Some(25));
        assert_eq!(parse_centi("1.234"), None);
        assert_eq!(parse_centi("0"), None);
        assert_eq!(parse_centi("abc"), None);
        assert_eq!(centi_text(150), "1,5");
        assert_eq!(centi_text(200), "2");
        assert_eq!(times_centi(Kopecks(333_333), 150), Some(Kopecks(500_000)));
    }

    #[test]
    fn licences_fit_categories() {
        let c = EquipmentCatalogue::builtin().expect("catalogue");
        let e = |lic: &str, op: Option<&str>| Employee {
            id: 1,
            org_id: 1,
            user_id: None,
            role: "driver".into(),
            full_name: "x".into(),
            phone: None,
            email: None,
            licence_categories: Some(lic.into()),
            operator_licence: op.map(Into::into),
            photo_file_id: None,
            status: "active".into(),
            created_at: 0,
        };
        assert!(licence_fits(&c, "tipper", &e("B, C, CE", None)));
        assert!(!licence_fits(&c, "tipper", &e("B", None)));
        assert!(!licence_fits(&c, "truck_crane", &e("C", None)));
        assert!(licence_fits(
            &c,
            "truck_crane",
            &e("C", Some("машинист автокрана"))
        ));
        assert!(licence_fits(&c, "excavator", &e("", Some("машинист"))));
        assert!(!licence_fits(&c, "excavator", &e("C", None)));
    }
}
