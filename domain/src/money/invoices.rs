//! Invoices to the client for an order: numbered, with the VAT of the rate
//! in force on the issue date and a due date; issuing one posts its ledger
//! entry in the same transaction ([`super::rules::invoice_posting`]). Each
//! carries the payment QR code of GOST R 56042-2014 ([`payment_qr`]).

use chrono::{Days, NaiveDate};
use engine::{Db, to_db_time};
use serde::Serialize;
use sqlx::Row;

use super::ledger;
use super::qr::{self, Payee};
use super::rules::{self, InvoiceRefused};
use super::{acting_actor, acting_user, require_money};
use crate::access::Acting;
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::orders::numbering::{self, Numbered};
use crate::orders::terms::money_terms;
use crate::texts::Texts;
use crate::values::Kopecks;

/// What the accountant asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvoice {
    pub order_id: i64,
    /// `None`: what the order's client price still lacks in invoices.
    pub amount: Option<Kopecks>,
    pub issued_on: NaiveDate,
    /// `None`: the issue date plus the client leg's days to pay.
    pub due_on: Option<NaiveDate>,
}

/// An issued invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    pub id: i64,
    pub number: String,
    pub order_id: i64,
    pub order_number: String,
    pub client_org_id: i64,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub amount: Kopecks,
    pub vat_code: String,
    /// Basis points; `None` — без НДС.
    pub vat_rate_bp: Option<i64>,
    pub vat_amount: Kopecks,
    pub legal_model: String,
    pub paid: Kopecks,
}

impl Invoice {
    pub fn outstanding(&self) -> Kopecks {
        Kopecks(self.amount.0 - self.paid.0)
    }
}

pub(crate) fn parse_day(raw: &str) -> DomainResult<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|e| anyhow::anyhow!("stored date {raw:?}: {e}").into())
}

pub(crate) fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Issues an invoice and posts its entry. Refusals: an unknown order is
/// `NotFound`; an amount that is not positive or goes past the order's
/// client price is `Invalid` on `amount`; an order with no VAT rate on the
/// date is `Conflict("invoice.no_vat_rate")`.
pub async fn issue(db: &Db, who: Acting<'_>, input: &NewInvoice) -> DomainResult<Invoice> {
    require_money(who)?;
    let now = db.now();
    let vat_table = crate::tax::vat_table(db).await?;
    let mut tx = db.begin().await?;
    let terms = money_terms(&mut tx, input.order_id).await?;
    if terms.status == "cancelled" {
        return Err(DomainError::Conflict("invoice.order_cancelled"));
    }
    let invoiced: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM invoices WHERE order_id = $1",
    )
    .bind(input.order_id)
    .fetch_one(&mut *tx)
    .await?;
    let left = terms.client.gross.0 - invoiced;
    let amount = input.amount.unwrap_or(Kopecks(left));
    let mut e = FieldErrors::new();
    if amount.0 <= 0 {
        e.add(
            "amount",
            if left <= 0 {
                "invoice.order_invoiced"
            } else {
                "invoice.amount_positive"
            },
        );
    } else if amount.0 > left {
        e.add("amount", "invoice.more_than_order");
    }
    let due_on = input.due_on.unwrap_or_else(|| {
        input
            .issued_on
            .checked_add_days(Days::new(terms.client.postpayment_days.max(0) as u64))
            .unwrap_or(input.issued_on)
    });
    if due_on < input.issued_on {
        e.add("due_on", "invoice.due_before_issue");
    }
    e.into_result()?;
    let model = crate::tax::legal_model_for_client(db, terms.client_org_id).await?;
    let rate = vat_table
        .rate_for(terms.client.vat_mode, input.issued_on)
        .ok_or(DomainError::Conflict("invoice.no_vat_rate"))?;
    let number = numbering::next(&mut tx, Numbered::Invoice, now).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invoices (number, order_id, client_org_id, issued_on, due_on, amount, vat_code, vat_rate_bp,
           vat_amount, legal_model, paid, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, 0, $10, $11) RETURNING id",
    )
    .bind(&number)
    .bind(input.order_id)
    .bind(terms.client_org_id)
    .bind(day_text(input.issued_on))
    .bind(day_text(due_on))
    .bind(amount.0)
    .bind(&rate.code)
    .bind(rate.rate_bp)
    .bind(model.as_str())
    .bind(acting_user(who))
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    let posting = rules::invoice_posting(id, input.issued_on, amount, model, &terms, &rate)
        .map_err(|e| match e {
            InvoiceRefused::NoPrice => DomainError::Conflict("invoice.order_has_no_price"),
            other => DomainError::Other(anyhow::anyhow!("invoice {number}: {other}")),
        })?;
    // The stated VAT depends on the model (on the commission under agency),
    // so it is known only now; the row is the invoice's own, not the ledger.
    sqlx::query("UPDATE invoices SET vat_amount = $1 WHERE id = $2")
        .bind(posting.vat.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    ledger::post(&mut tx, now, acting_user(who), &posting.entry).await?;
    crate::access::audit::record(
        &mut tx,
        now,
        acting_actor(who),
        "invoice.issue",
        "invoice",
        Some(id),
        serde_json::json!({"number": number, "order_id": input.order_id, "amount": amount.0}),
    )
    .await?;
    tx.commit().await?;
    get(db, who, id).await
}

const COLUMNS: &str =
    "i.id, i.number, i.order_id, o.number AS order_number, i.client_org_id, i.issued_on, i.due_on,
    i.amount, i.vat_code, i.vat_rate_bp, i.vat_amount, i.legal_model, i.paid
    FROM invoices i JOIN orders o ON o.id = i.order_id";

fn from_row(r: &sqlx::any::AnyRow) -> DomainResult<Invoice> {
    Ok(Invoice {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        order_id: r.try_get("order_id")?,
        order_number: r.try_get("order_number")?,
        client_org_id: r.try_get("client_org_id")?,
        issued_on: parse_day(&r.try_get::<String, _>("issued_on")?)?,
        due_on: parse_day(&r.try_get::<String, _>("due_on")?)?,
        amount: Kopecks(r.try_get("amount")?),
        vat_code: r.try_get("vat_code")?,
        vat_rate_bp: r.try_get("vat_rate_bp")?,
        vat_amount: Kopecks(r.try_get("vat_amount")?),
        legal_model: r.try_get("legal_model")?,
        paid: Kopecks(r.try_get("paid")?),
    })
}

/// One invoice (the money staff only).
pub async fn get(db: &Db, who: Acting<'_>, id: i64) -> DomainResult<Invoice> {
    require_money(who)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE i.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(DomainError::NotFound)?;
    from_row(&row)
}

/// The invoices of an order, oldest first.
pub async fn of_order(db: &Db, who: Acting<'_>, order_id: i64) -> DomainResult<Vec<Invoice>> {
    require_money(who)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE i.order_id = $1 ORDER BY i.issued_on, i.id"
    )))
    .bind(order_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The payment purpose printed on the invoice and put into its QR code:
/// it names the invoice number, which is what the statement import looks
/// for. The words come from the message catalogue.
pub fn purpose(texts: &dyn Texts, invoice: &Invoice) -> String {
    let rate = invoice
        .vat_rate_bp
        .map(|bp| {
            if bp % 100 == 0 {
                format!("{}", bp / 100)
            } else {
                format!("{},{:02}", bp / 100, bp % 100)
            }
        })
        .unwrap_or_else(|| "none".into());
    texts.text(
        "money-invoice-purpose",
        &crate::args![
            "number" => invoice.number,
            "date" => invoice.issued_on.format("%d.%m.%Y"),
            "order" => invoice.order_number,
            "rate" => rate,
            "vat" => invoice.vat_amount,
        ],
    )
}

/// The company's bank details for the QR code.
pub async fn payee(db: &Db) -> DomainResult<Payee> {
    let broker = crate::access::broker_id(db)
        .await?
        .ok_or(DomainError::Conflict("money.no_company"))?;
    let p = crate::parties::details_of(db.pool(), broker).await?;
    let d = p.details;
    Ok(Payee {
        name: d.name,
        account: d.settlement_account.unwrap_or_default(),
        bank_name: d.bank_name.unwrap_or_default(),
        bik: d.bik.unwrap_or_default(),
        corr_account: d.corr_account,
        inn: d.inn,
        kpp: d.kpp,
    })
}

/// An invoice's payment QR code: its text and its PNG. A company card
/// without bank details is `Conflict("money.payee_<field>_missing")`.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentQr {
    pub payload: String,
    #[serde(skip)]
    pub png: Vec<u8>,
}

pub async fn payment_qr(
    db: &Db,
    who: Acting<'_>,
    texts: &dyn Texts,
    invoice_id: i64,
) -> DomainResult<PaymentQr> {
    let invoice = get(db, who, invoice_id).await?;
    let payee = payee(db).await?;
    let payload = qr::payload(&payee, invoice.outstanding(), &purpose(texts, &invoice)).map_err(
        |qr::MissingDetail(field)| {
            DomainError::Conflict(match field {
                "name" => "money.payee_name_missing",
                "settlement_account" => "money.payee_account_missing",
                "bank_name" => "money.payee_bank_missing",
                _ => "money.payee_bik_missing",
            })
        },
    )?;
    let png = qr::png(&payload)?;
    Ok(PaymentQr { payload, png })
}

fn party_block(p: &crate::parties::Party) -> serde_json::Value {
    let d = &p.details;
    serde_json::json!({
        "name": d.name,
        "short_name": d.short_name,
        "legal_form": d.legal_form,
        "inn": d.inn,
        "kpp": d.kpp,
        "legal_address": d.legal_address,
        "bank_name": d.bank_name,
        "bik": d.bik,
        "account": d.settlement_account,
        "corr_account": d.corr_account,
        "signatory": d.director_name.as_ref().map(|name| serde_json::json!({
            "name": name,
            "position": d.director_post.clone().unwrap_or_default(),
        })),
    })
}

/// What the invoice template (`documents/templates/invoice.typ`) is
/// rendered from: the parties, the line, the total with its VAT and words,
/// the purpose and the QR code for the invoice's whole amount.
pub async fn document_data(
    db: &Db,
    who: Acting<'_>,
    texts: &dyn Texts,
    invoice_id: i64,
) -> DomainResult<serde_json::Value> {
    let invoice = get(db, who, invoice_id).await?;
    let purpose = purpose(texts, &invoice);
    let payload = qr::payload(&payee(db).await?, invoice.amount, &purpose)
        .map_err(|_| DomainError::Conflict("money.payee_account_missing"))?;
    let broker = crate::access::broker_id(db)
        .await?
        .ok_or(DomainError::Conflict("money.no_company"))?;
    let broker = crate::parties::details_of(db.pool(), broker).await?;
    let client = crate::parties::details_of(db.pool(), invoice.client_org_id).await?;
    let day = |d: NaiveDate| d.format("%d.%m.%Y").to_string();
    let vat = invoice.vat_rate_bp.map(|bp| {
        let rate = if bp % 100 == 0 {
            format!("{}\u{a0}%", bp / 100)
        } else {
            format!("{},{:02}\u{a0}%", bp / 100, bp % 100)
        };
        serde_json::json!({"rate": rate, "amount": invoice.vat_amount.to_string()})
    });
    Ok(serde_json::json!({
        "document": {
            "number": invoice.number,
            "date": day(invoice.issued_on),
            "due": day(invoice.due_on),
        },
        "broker": party_block(&broker),
        "client": party_block(&client),
        "order": {"number": invoice.order_number},
        "lines": [{
            "name": texts.text("money-invoice-line", &crate::args!["order" => invoice.order_number]),
            "quantity": "1",
            "unit": texts.text("money-invoice-unit", &crate::args![]),
            "price": invoice.amount.format_number(),
            "amount": invoice.amount.format_number(),
        }],
        "total": {
            "total": invoice.amount.to_string(),
            "words": crate::values::amount_in_words(invoice.amount),
            "vat": vat,
        },
        "purpose": purpose,
        "qr_svg": qr::svg(&payload)?,
    }))
}

/// The invoice as a PDF, from the built-in template.
pub async fn pdf(
    db: &Db,
    who: Acting<'_>,
    texts: &dyn Texts,
    invoice_id: i64,
) -> DomainResult<Vec<u8>> {
    let data = document_data(db, who, texts, invoice_id).await?;
    let template = documents::builtin::get("invoice")
        .ok_or_else(|| anyhow::anyhow!("the invoice template is missing"))?
        .template();
    let rendered = tokio::task::spawn_blocking(move || documents::render(&template, &data))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .map_err(|e| anyhow::anyhow!("invoice {invoice_id}: {e}"))?;
    Ok(rendered.pdf)
}
