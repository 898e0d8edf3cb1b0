//! Making an order from an accepted offer, inside the accepting
//! transaction.

use chrono::{DateTime, Utc};
use engine::{ObjectRef, Tx, to_db_time};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::access::audit;
use crate::error::{DomainError, DomainResult};
use crate::orders::contracts::{self, ContractKind, Side};
use crate::orders::numbering::{self, Numbered};
use crate::services::Services;

/// The money and terms of one leg, as agreed (computed by whoever made the
/// offer; stored as given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegTerms {
    pub price_unit: String,
    /// Units of the whole leg, in hundredths (all its machines together).
    pub quantity_centi: i64,
    pub vat_mode: String,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_net: i64,
    pub total_vat: i64,
    pub total_gross: i64,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
}

/// One machine of the order, with its driver and site-local days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub machine_id: i64,
    pub employee_id: Option<i64>,
    pub arrival_at: DateTime<Utc>,
    /// `YYYY-MM-DD`, site-local.
    pub first_day: String,
    pub last_day: String,
}

/// One supplier's part: its leg and its machines.
#[derive(Debug, Clone)]
pub struct SupplierPart {
    pub supplier_org_id: i64,
    pub quote_id: i64,
    pub terms: LegTerms,
    pub machines: Vec<NewAssignment>,
}

/// What an accepted offer agreed, for [`create`].
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub request_id: i64,
    pub offer_id: i64,
    pub client_org_id: i64,
    pub request_type: String,
    pub site_address: Option<String>,
    pub site_timezone: Option<String>,
    /// The request's own fields, as stored on the request (a JSON object).
    pub fields: String,
    pub wanted_from: Option<i64>,
    pub wanted_to: Option<i64>,
    pub duration: Option<f64>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    /// Our person for the order until it goes into work (the request's owner).
    pub manager_user_id: Option<i64>,
    pub client: LegTerms,
    /// Our price without VAT minus the suppliers' cost, whole order (staff only).
    pub margin_total: i64,
    pub suppliers: Vec<SupplierPart>,
}

/// An order just made.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedOrder {
    pub id: i64,
    pub number: String,
}

/// Makes the order of an accepted offer in `tx` — the accepting
/// transaction, which also books the machines — with its legs and
/// assignments; makes sure every party has its framework contract (a draft
/// with its workflow when it has none); and starts the order's workflow.
/// Any refusal refuses the accept whole (the caller rolls `tx` back).
pub async fn create(
    s: &Services,
    tx: &mut Tx,
    o: &NewOrder,
    user: Option<i64>,
) -> DomainResult<CreatedOrder> {
    let now = s.db.now();
    let t = s
        .request_types
        .get(&o.request_type)
        .ok_or(DomainError::Conflict("order.request_type_unknown"))?;
    let machines: Vec<&NewAssignment> = o.suppliers.iter().flat_map(|p| &p.machines).collect();
    let (Some(starts), Some(first), Some(last)) = (
        machines.iter().map(|m| m.arrival_at).min(),
        machines.iter().map(|m| m.first_day.clone()).min(),
        machines.iter().map(|m| m.last_day.clone()).max(),
    ) else {
        return Err(DomainError::Conflict("order.no_machines"));
    };
    let number = numbering::next(tx, Numbered::Order, now).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (number, request_id, offer_id, client_org_id, request_type, status, site_address, site_timezone,
           fields, wanted_from, wanted_to, duration, contact_name, contact_phone, starts_at, first_day, last_day,
           manager_user_id, margin_total, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8, $9, $10, CAST($11 AS DOUBLE PRECISION), $12, $13, $14, $15, $16, $17, $18, $19, $19)
         RETURNING id",
    )
    .bind(&number)
    .bind(o.request_id)
    .bind(o.offer_id)
    .bind(o.client_org_id)
    .bind(&o.request_type)
    .bind(o.site_address.clone())
    .bind(o.site_timezone.clone())
    .bind(&o.fields)
    .bind(o.wanted_from)
    .bind(o.wanted_to)
    // As text: a missing f64 would be declared to PostgreSQL as `real` and
    // spoil the cached statement for the next order with a duration (see
    // `engine::Sql::bind`).
    .bind(o.duration.map(|d| d.to_string()))
    .bind(o.contact_name.clone())
    .bind(o.contact_phone.clone())
    .bind(to_db_time(starts))
    .bind(first)
    .bind(last)
    .bind(o.manager_user_id)
    .bind(o.margin_total)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            DomainError::Conflict("order.exists")
        }
        _ => e.into(),
    })?;
    crate::search::index_order_terms(tx, id).await?;
    // Every party works under a framework contract: a party without one in
    // force gets a draft now, with its workflow (asking the client for its
    // details, or the supplier to accept); the legs run under them.
    let kind = ContractKind::for_request_type(&t.contract);
    let client_contract =
        contracts::ensure(s, tx, o.client_org_id, Side::Client, kind, user).await?;
    insert_leg(
        tx,
        id,
        Side::Client,
        o.client_org_id,
        &o.client,
        None,
        client_contract.id,
        now,
    )
    .await?;
    for part in &o.suppliers {
        if part.machines.is_empty() {
            return Err(DomainError::Conflict("order.no_machines"));
        }
        let contract = contracts::ensure(
            s,
            tx,
            part.supplier_org_id,
            Side::Supplier,
            ContractKind::Supply,
            user,
        )
        .await?;
        let leg = insert_leg(
            tx,
            id,
            Side::Supplier,
            part.supplier_org_id,
            &part.terms,
            Some(part.quote_id),
            contract.id,
            now,
        )
        .await?;
        for m in &part.machines {
            insert_assignment(tx, id, leg, part.supplier_org_id, m).await?;
        }
    }
    let mut data = Map::new();
    data.insert("number".into(), Value::String(number.clone()));
    s.engine
        .start_in_tx(
            tx,
            &t.order_workflow,
            ObjectRef {
                kind: "order".into(),
                id,
            },
            data,
            user,
        )
        .await?;
    audit::record(
        tx,
        now,
        None,
        "order.created",
        "order",
        Some(id),
        json!({"by": user, "number": number, "offer_id": o.offer_id, "request_id": o.request_id,
               "suppliers": o.suppliers.iter().map(|p| p.supplier_org_id).collect::<Vec<_>>(),
               "machines": machines.len()}),
    )
    .await?;
    Ok(CreatedOrder { id, number })
}

#[allow(clippy::too_many_arguments)]
async fn insert_leg(
    tx: &mut Tx,
    order_id: i64,
    side: Side,
    party: i64,
    t: &LegTerms,
    quote_id: Option<i64>,
    contract_id: i64,
    now: DateTime<Utc>,
) -> DomainResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO order_legs (order_id, side, party_org_id, price_unit, quantity_centi, vat_mode, unit_net, unit_vat,
           unit_gross, total_net, total_vat, total_gross, prepayment_percent, postpayment_days, payment_method,
           supplier_quote_id, contract_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
    )
    .bind(order_id)
    .bind(side.as_str())
    .bind(party)
    .bind(&t.price_unit)
    .bind(t.quantity_centi)
    .bind(&t.vat_mode)
    .bind(t.unit_net)
    .bind(t.unit_vat)
    .bind(t.unit_gross)
    .bind(t.total_net)
    .bind(t.total_vat)
    .bind(t.total_gross)
    .bind(t.prepayment_percent)
    .bind(t.postpayment_days)
    .bind(&t.payment_method)
    .bind(quote_id)
    .bind(contract_id)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await?)
}

/// Copies the machine and its driver as the parties are told them; a
/// machine or a driver of another supplier is refused.
async fn insert_assignment(
    tx: &mut Tx,
    order_id: i64,
    leg_id: i64,
    supplier: i64,
    m: &NewAssignment,
) -> DomainResult<()> {
    let machine: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT category, make, model, plate FROM machines WHERE id = $1 AND org_id = $2",
    )
    .bind(m.machine_id)
    .bind(supplier)
    .fetch_optional(&mut **tx)
    .await?;
    let (category, make, model, plate) =
        machine.ok_or(DomainError::Conflict("order.machine_unknown"))?;
    let driver: Option<String> = match m.employee_id {
        Some(e) => Some(
            sqlx::query_scalar("SELECT full_name FROM employees WHERE id = $1 AND org_id = $2")
                .bind(e)
                .bind(supplier)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(DomainError::Conflict("order.driver_unknown"))?,
        ),
        None => None,
    };
    sqlx::query(
        "INSERT INTO order_assignments (order_id, leg_id, machine_id, employee_id, category, make, model, plate,
           driver_name, arrival_at, first_day, last_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(order_id)
    .bind(leg_id)
    .bind(m.machine_id)
    .bind(m.employee_id)
    .bind(category)
    .bind(make)
    .bind(model)
    .bind(plate)
    .bind(driver)
    .bind(to_db_time(m.arrival_at))
    .bind(&m.first_day)
    .bind(&m.last_day)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
