use super::*;

use crate::orders::{LegTerms, NewAssignment, NewOrder, SupplierPart};

/// What an accepted offer agreed, read in the accepting transaction, for
/// the order it becomes: the request's job, our price and terms (the
/// client leg, for every machine), each supplier's price and terms for the
/// same quantity on each of its machines (its leg) and every quoted machine
/// with its driver for its quote's days.
pub(super) async fn agreed(tx: &mut engine::Tx, o: &Offer) -> DomainResult<NewOrder> {
    #[derive(sqlx::FromRow)]
    struct Job {
        request_type: String,
        site_address: Option<String>,
        site_timezone: Option<String>,
        fields: String,
        wanted_from: Option<i64>,
        wanted_to: Option<i64>,
        duration: Option<f64>,
        contact_name: Option<String>,
        contact_phone: Option<String>,
        owner_user_id: Option<i64>,
    }
    let r: Job = sqlx::query_as(
        "SELECT request_type, site_address, site_timezone, fields, wanted_from, wanted_to, duration, contact_name,
           contact_phone, owner_user_id FROM requests WHERE id = $1",
    )
    .bind(o.request_id)
    .fetch_one(&mut **tx)
    .await?;
    #[derive(sqlx::FromRow)]
    struct Q {
        id: i64,
        supplier_org_id: i64,
        unit_price: i64,
        vat_mode: String,
        prepayment_percent: i64,
        postpayment_days: i64,
        payment_method: String,
        arrival_at: i64,
        work_day: String,
        last_work_day: String,
    }
    let client = LegTerms {
        price_unit: o.price_unit.clone(),
        quantity_centi: o.quantity_centi.saturating_mul(o.machines.max(1)),
        vat_mode: o.vat_mode.clone(),
        unit_net: o.unit_net,
        unit_vat: o.unit_vat,
        unit_gross: o.unit_gross,
        total_net: o.total_gross - o.total_vat,
        total_vat: o.total_vat,
        total_gross: o.total_gross,
        prepayment_percent: o.prepayment_percent,
        postpayment_days: o.postpayment_days,
        payment_method: o.payment_method.clone(),
    };
    // One supplier leg per quote (an offer has one quote per supplier),
    // for the offer's quantity on each of its machines.
    let mut suppliers = Vec::new();
    for quote_id in quotes_of(tx, o.id).await? {
        let q: Q = sqlx::query_as(
            "SELECT id, supplier_org_id, unit_price, vat_mode, prepayment_percent, postpayment_days, payment_method,
               arrival_at, work_day, last_work_day FROM supplier_quotes WHERE id = $1",
        )
        .bind(quote_id)
        .fetch_one(&mut **tx)
        .await?;
        let machines = quotes::machines_of(tx, q.id).await?;
        let last_day = if q.last_work_day.is_empty() {
            q.work_day.clone()
        } else {
            q.last_work_day.clone()
        };
        let units = o
            .quantity_centi
            .checked_mul(machines.len().max(1) as i64)
            .ok_or(DomainError::Conflict("offer.amount_too_large"))?;
        suppliers.push(SupplierPart {
            supplier_org_id: q.supplier_org_id,
            quote_id: q.id,
            terms: supplier_terms(
                &o.price_unit,
                Kopecks(q.unit_price),
                &q.vat_mode,
                units,
                q.prepayment_percent,
                q.postpayment_days,
                &q.payment_method,
            )?,
            machines: machines
                .into_iter()
                .map(|(machine_id, employee_id)| NewAssignment {
                    machine_id,
                    employee_id,
                    arrival_at: engine::from_db_time(q.arrival_at),
                    first_day: q.work_day.clone(),
                    last_day: last_day.clone(),
                })
                .collect(),
        });
    }
    Ok(NewOrder {
        request_id: o.request_id,
        offer_id: o.id,
        client_org_id: o.client_org_id,
        request_type: r.request_type,
        site_address: r.site_address,
        site_timezone: r.site_timezone,
        fields: r.fields,
        wanted_from: r.wanted_from,
        wanted_to: r.wanted_to,
        duration: r.duration,
        contact_name: r.contact_name,
        contact_phone: r.contact_phone,
        manager_user_id: r.owner_user_id,
        client,
        margin_total: o.margin_total,
        suppliers,
    })
}

/// A supplier's leg: its price per unit (with its VAT, as it invoices)
/// for `quantity_centi` units, split into net and VAT the way its invoice
/// will (VAT contained in the gross, rounded half away from zero).
pub(super) fn supplier_terms(
    price_unit: &str,
    unit_gross: Kopecks,
    vat_mode: &str,
    quantity_centi: i64,
    prepayment_percent: i64,
    postpayment_days: i64,
    payment_method: &str,
) -> DomainResult<LegTerms> {
    let vat = VatMode::parse(vat_mode).unwrap_or(VatMode::None);
    let total_gross = times_centi(unit_gross, quantity_centi)
        .ok_or(DomainError::Conflict("offer.amount_too_large"))?;
    let total_vat = vat.vat_included_in(total_gross);
    let unit_net = vat.net_from_gross(unit_gross);
    Ok(LegTerms {
        price_unit: price_unit.to_string(),
        quantity_centi,
        vat_mode: vat.as_str().to_string(),
        unit_net: unit_net.as_i64(),
        unit_vat: unit_gross.as_i64() - unit_net.as_i64(),
        unit_gross: unit_gross.as_i64(),
        total_net: total_gross.as_i64() - total_vat.as_i64(),
        total_vat: total_vat.as_i64(),
        total_gross: total_gross.as_i64(),
        prepayment_percent,
        postpayment_days,
        payment_method: payment_method.to_string(),
    })
}
