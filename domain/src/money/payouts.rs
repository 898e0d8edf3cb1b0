//! Payouts: paying a supplier for an order — only once the client's money
//! for that order is in full (DESIGN §4), never more than we owe it — and
//! refunding a client's unapplied credit. Each is a row in `payouts` and
//! its balanced entry, in one transaction. Bank payouts go to the bank as a
//! 1CClientBankExchange file of payment orders ([`payment_orders`]).

use chrono::NaiveDate;
use engine::{Db, Tx, to_db_time};
use sqlx::Row;

use super::bank_file::{self, BankFile, Counterparty, Document};
use super::ledger::{self, Account, Filter, Source};
use super::rules::{self, Method, OrderMoney, PayoutRefused};
use super::{acting_actor, acting_user, require_money};
use crate::access::Acting;
use crate::error::{DomainError, DomainResult};
use crate::orders::terms::money_terms;
use crate::texts::Texts;
use crate::values::Kopecks;

/// Where an order's client money stands: its price and what payments have
/// settled of its invoices (the credits to its receivable).
pub async fn order_money(tx: &mut Tx, order_id: i64) -> DomainResult<OrderMoney> {
    let terms = money_terms(tx, order_id).await?;
    let paid: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(l.credit), 0) AS BIGINT) FROM ledger_lines l
         JOIN ledger_entries e ON e.id = l.entry_id
         WHERE e.sealed = 1 AND l.account = 'receivable' AND l.order_id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(OrderMoney {
        price: terms.client.gross,
        paid: Kopecks(paid),
    })
}

/// A payout asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayout {
    pub order_id: i64,
    pub supplier_org_id: i64,
    /// `None`: everything we owe the supplier on the order.
    pub amount: Option<Kopecks>,
    pub method: Method,
    pub paid_on: NaiveDate,
}

#[allow(clippy::too_many_arguments)]
async fn insert_payout(
    tx: &mut Tx,
    purpose: &str,
    party: i64,
    order: Option<i64>,
    amount: Kopecks,
    method: Method,
    paid_on: NaiveDate,
    by: Option<i64>,
    now: i64,
) -> DomainResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO payouts (purpose, party_org_id, order_id, amount, method, paid_on, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(purpose)
    .bind(party)
    .bind(order)
    .bind(amount.0)
    .bind(method.as_str())
    .bind(super::invoices::day_text(paid_on))
    .bind(by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

fn refused(e: PayoutRefused) -> DomainError {
    DomainError::Conflict(e.code())
}

/// Pays a supplier for an order; returns the payout's id. Refused with
/// `Conflict("payout.client_not_paid")` before the client's money is in
/// full, `…more_than_owed` past what we owe, `…not_positive` for nothing.
pub async fn pay_supplier(db: &Db, who: Acting<'_>, input: &NewPayout) -> DomainResult<i64> {
    require_money(who)?;
    let now = db.now();
    let mut tx = db.begin().await?;
    let terms = money_terms(&mut tx, input.order_id).await?;
    if !terms
        .suppliers
        .iter()
        .any(|l| l.party_org_id == input.supplier_org_id)
    {
        return Err(DomainError::NotFound);
    }
    let money = order_money(&mut tx, input.order_id).await?;
    let owed = ledger::balance(
        &mut *tx,
        Filter {
            account: Some(Account::Payable),
            party: Some(input.supplier_org_id),
            order: Some(input.order_id),
            invoice: None,
        },
    )
    .await?;
    let amount = input.amount.unwrap_or(owed);
    // Decided before the row exists, so a refusal leaves nothing behind;
    // the entry then names the row.
    let mut entry = rules::payout_entry(
        0,
        input.paid_on,
        input.supplier_org_id,
        input.order_id,
        amount,
        input.method,
        money,
        owed,
    )
    .map_err(refused)?;
    let by = acting_user(who);
    let id = insert_payout(
        &mut tx,
        "supplier",
        input.supplier_org_id,
        Some(input.order_id),
        amount,
        input.method,
        input.paid_on,
        by,
        to_db_time(now),
    )
    .await?;
    entry.source = Source::Payout(id);
    ledger::post(&mut tx, now, by, &entry).await?;
    crate::access::audit::record(
        &mut tx,
        now,
        acting_actor(who),
        "payout.supplier",
        "payout",
        Some(id),
        serde_json::json!({"order_id": input.order_id, "supplier": input.supplier_org_id, "amount": amount.0}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Refunds `amount` of a client's unapplied credit; returns the payout's
/// id. More than the credit is `Conflict("payout.more_than_credit")`.
pub async fn refund(
    db: &Db,
    who: Acting<'_>,
    client_org_id: i64,
    amount: Kopecks,
    method: Method,
    paid_on: NaiveDate,
) -> DomainResult<i64> {
    require_money(who)?;
    let now = db.now();
    let mut tx = db.begin().await?;
    let credit = ledger::balance(
        &mut *tx,
        Filter {
            account: Some(Account::Unapplied),
            party: Some(client_org_id),
            ..Filter::default()
        },
    )
    .await?;
    let mut entry =
        rules::refund_entry(0, paid_on, client_org_id, amount, method, credit).map_err(refused)?;
    let by = acting_user(who);
    let id = insert_payout(
        &mut tx,
        "refund",
        client_org_id,
        None,
        amount,
        method,
        paid_on,
        by,
        to_db_time(now),
    )
    .await?;
    entry.source = Source::Payout(id);
    ledger::post(&mut tx, now, by, &entry).await?;
    tx.commit().await?;
    Ok(id)
}

fn counterparty(p: crate::parties::Party) -> Counterparty {
    let d = p.details;
    Counterparty {
        name: d.name,
        inn: d.inn.unwrap_or_default(),
        kpp: d.kpp.unwrap_or_default(),
        account: d.settlement_account.unwrap_or_default(),
        bank: d.bank_name.unwrap_or_default(),
        bik: d.bik.unwrap_or_default(),
        corr_account: d.corr_account.unwrap_or_default(),
    }
}

/// The bank payouts not yet sent to the bank, as a 1CClientBankExchange
/// file of payment orders (windows-1251), and marks them exported. `None`
/// when there is nothing to send. The purposes' words come from `texts`.
pub async fn payment_orders(
    db: &Db,
    who: Acting<'_>,
    texts: &dyn Texts,
) -> DomainResult<Option<Vec<u8>>> {
    require_money(who)?;
    let now = db.now();
    let broker = crate::access::broker_id(db)
        .await?
        .ok_or(DomainError::Conflict("money.no_company"))?;
    let us = counterparty(crate::parties::details_of(db.pool(), broker).await?);
    let mut tx = db.begin().await?;
    let rows = sqlx::query(
        "SELECT p.id, p.party_org_id, p.amount, p.paid_on, p.purpose, o.number AS order_number
         FROM payouts p LEFT JOIN orders o ON o.id = p.order_id
         WHERE p.method = 'bank' AND p.exported_at IS NULL ORDER BY p.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut documents = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let party: i64 = r.try_get("party_org_id")?;
        let paid_on = super::invoices::parse_day(&r.try_get::<String, _>("paid_on")?)?;
        let order: Option<String> = r.try_get("order_number")?;
        let kind: String = r.try_get("purpose")?;
        let purpose = texts.text(
            if kind == "refund" {
                "money-refund-purpose"
            } else {
                "money-payout-purpose"
            },
            &crate::args!["order" => order.unwrap_or_default(), "payout" => id],
        );
        documents.push(Document {
            line: 0,
            kind: "Платежное поручение".into(),
            number: id.to_string(),
            date: paid_on,
            amount: Kopecks(r.try_get("amount")?),
            payer: us.clone(),
            recipient: counterparty(crate::parties::details_of(&mut *tx, party).await?),
            purpose,
            debited_on: None,
            credited_on: None,
            payment_kind: "01".into(),
            priority: "5".into(),
        });
        ids.push(id);
    }
    let first = documents.iter().map(|d| d.date).min();
    let last = documents.iter().map(|d| d.date).max();
    let file = BankFile {
        version: "1.03".into(),
        sender: "Podryad".into(),
        receiver: String::new(),
        period_from: first,
        period_to: last,
        accounts: vec![us.account.clone()],
        documents,
    };
    let local = now.with_timezone(&chrono_tz::Europe::Moscow).naive_local();
    let bytes = bank_file::write(&file, local);
    let mut sql = engine::Sql::new("UPDATE payouts SET exported_at = ");
    sql.bind(to_db_time(now)).push(" WHERE id IN (");
    sql.bind_list(ids).push(")");
    sql.query().execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(bytes))
}
