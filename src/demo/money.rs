//! Demo money: the company's bank details, an invoice for an order in
//! work, a bank statement that pays it (with one stranger's payment left
//! for the accountant's queue), and the supplier paid — so the ledger, the
//! order's margin and the queue have live data. Made as the accountant,
//! through the money context's own functions. Skipped once any invoice
//! exists, or when there is no order yet.

use chrono::Days;

use domain::access::Acting;
use domain::error::DomainResult;
use domain::money::bank_file::{self, BankFile, Counterparty, Document};
use domain::money::rules::Method;
use domain::money::{import, invoices, payouts};
use domain::services::Services;
use domain::values::Kopecks;
use sqlx::Row;

use super::demo_actor;

const OUR_ACCOUNT: &str = "40702810200000012345";

pub async fn seed_money(s: &Services) -> DomainResult<()> {
    let db = &s.db;
    let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoices")
        .fetch_one(db.pool())
        .await?;
    if any > 0 {
        return Ok(());
    }
    let order: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status <> 'cancelled'
         ORDER BY CASE WHEN status = 'in_work' THEN 0 ELSE 1 END, id LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    let Some(order) = order else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE organisations SET bank_name = 'ПАО Сбербанк', bik = '044525225', settlement_account = $1,
           corr_account = '30101810400000000225'
         WHERE kind = 'broker' AND (settlement_account IS NULL OR settlement_account = '')",
    )
    .bind(OUR_ACCOUNT)
    .execute(db.single_write().await?.as_mut())
    .await?;
    let accountant = demo_actor(db, "accountant@podryad.test").await?;
    let who = Acting::User(&accountant);
    let today = db.now().date_naive();
    let issued_on = today.checked_sub_days(Days::new(3)).unwrap_or(today);
    let invoice = invoices::issue(
        db,
        who,
        &invoices::NewInvoice {
            order_id: order,
            amount: None,
            issued_on,
            due_on: None,
        },
    )
    .await?;
    let payer = sqlx::query(
        "SELECT name, COALESCE(inn, '') AS inn, COALESCE(settlement_account, '') AS account
         FROM organisations WHERE id = $1",
    )
    .bind(invoice.client_org_id)
    .fetch_one(db.pool())
    .await?;
    let client = Counterparty {
        name: payer.try_get("name")?,
        inn: payer.try_get("inn")?,
        account: match payer.try_get::<String, _>("account")? {
            a if a.is_empty() => "40702810500000000003".into(),
            a => a,
        },
        bik: "044525974".into(),
        ..Counterparty::default()
    };
    let us = Counterparty {
        name: "ООО «Подряд»".into(),
        account: OUR_ACCOUNT.into(),
        bik: "044525225".into(),
        ..Counterparty::default()
    };
    let doc = |number: &str, amount: Kopecks, from: Counterparty, purpose: String| Document {
        line: 0,
        kind: "Платежное поручение".into(),
        number: number.into(),
        date: today,
        amount,
        payer: from,
        recipient: us.clone(),
        purpose,
        debited_on: None,
        credited_on: Some(today),
        payment_kind: "01".into(),
        priority: "5".into(),
    };
    let stranger = Counterparty {
        name: "ООО «Неизвестный плательщик»".into(),
        inn: "7700000002".into(),
        account: "40702810000000000009".into(),
        ..Counterparty::default()
    };
    let statement = bank_file::write(
        &BankFile {
            version: "1.03".into(),
            sender: "ПАО Сбербанк".into(),
            receiver: "Бухгалтерия".into(),
            period_from: Some(today),
            period_to: Some(today),
            accounts: vec![OUR_ACCOUNT.into()],
            documents: vec![
                doc(
                    "412",
                    invoice.amount,
                    client,
                    invoices::purpose(s.texts.as_ref(), &invoice),
                ),
                doc(
                    "77",
                    Kopecks(2_500_000),
                    stranger,
                    "Оплата по договору поставки".into(),
                ),
            ],
        },
        today.and_hms_opt(18, 0, 0).unwrap_or_default(),
    );
    import::import(db, who, "demo-statement.txt", &statement, false)
        .await
        .map_err(|e| anyhow::anyhow!("demo statement: {e}"))?;
    let suppliers: Vec<i64> = sqlx::query_scalar(
        "SELECT party_org_id FROM order_legs WHERE order_id = $1 AND side = 'supplier' ORDER BY id",
    )
    .bind(order)
    .fetch_all(db.pool())
    .await?;
    for supplier in suppliers {
        payouts::pay_supplier(
            db,
            who,
            &payouts::NewPayout {
                order_id: order,
                supplier_org_id: supplier,
                amount: None,
                method: Method::Bank,
                paid_on: today,
            },
        )
        .await?;
    }
    Ok(())
}
