//! An order's money terms, for the money context: who the client and the
//! suppliers are, and what each leg's agreed price is. Read inside the
//! caller's transaction, so an invoice or a payout is decided on what is
//! stored at that moment.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use crate::error::{DomainError, DomainResult};
use crate::values::{Kopecks, VatMode};

/// The agreed money of one leg (VAT included in `gross`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegMoney {
    pub leg_id: i64,
    pub party_org_id: i64,
    pub vat_mode: VatMode,
    pub net: Kopecks,
    pub vat: Kopecks,
    pub gross: Kopecks,
    pub postpayment_days: i64,
    pub payment_method: String,
}

/// An order as the money context needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderTerms {
    pub order_id: i64,
    pub number: String,
    pub status: String,
    pub client_org_id: i64,
    /// The last day of the job: the shipment date the VAT rate is keyed to.
    pub last_day: NaiveDate,
    pub client: LegMoney,
    pub suppliers: Vec<LegMoney>,
}

/// The terms of order `order_id`; [`DomainError::NotFound`] when there is
/// no such order (or it has no client leg).
pub async fn money_terms(
    conn: &mut sqlx::AnyConnection,
    order_id: i64,
) -> DomainResult<OrderTerms> {
    let head =
        sqlx::query("SELECT number, status, client_org_id, last_day FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DomainError::NotFound)?;
    let last: String = head.try_get("last_day")?;
    let last_day = NaiveDate::parse_from_str(&last, "%Y-%m-%d")
        .map_err(|e| anyhow::anyhow!("orders.last_day {last:?}: {e}"))?;
    let rows = sqlx::query(
        "SELECT id, side, party_org_id, vat_mode, total_net, total_vat, total_gross, postpayment_days, payment_method
         FROM order_legs WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut client = None;
    let mut suppliers = Vec::new();
    for r in rows {
        let mode: String = r.try_get("vat_mode")?;
        let leg = LegMoney {
            leg_id: r.try_get("id")?,
            party_org_id: r.try_get("party_org_id")?,
            vat_mode: VatMode::parse(&mode)
                .map_err(|_| anyhow::anyhow!("order_legs.vat_mode {mode:?}"))?,
            net: Kopecks(r.try_get("total_net")?),
            vat: Kopecks(r.try_get("total_vat")?),
            gross: Kopecks(r.try_get("total_gross")?),
            postpayment_days: r.try_get("postpayment_days")?,
            payment_method: r.try_get("payment_method")?,
        };
        let side: String = r.try_get("side")?;
        if side == "client" {
            client = Some(leg);
        } else {
            suppliers.push(leg);
        }
    }
    Ok(OrderTerms {
        order_id,
        number: head.try_get("number")?,
        status: head.try_get("status")?,
        client_org_id: head.try_get("client_org_id")?,
        last_day,
        client: client.ok_or(DomainError::NotFound)?,
        suppliers,
    })
}
