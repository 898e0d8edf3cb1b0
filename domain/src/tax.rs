//! Tax settings as data: the VAT rates by date (`vat_rates`, migration
//! 0022) and the deal's legal model (resale or agency), a company setting
//! with a per-client override. The arithmetic is pure and lives in
//! [`crate::values`] ([`VatTable`], [`revenue`](crate::values::revenue));
//! this module reads and writes the settings.
//!
//! The legal model is kept on `organisations.legal_model`: on the broker's
//! own row it is the company setting, on a client's row the override. It is
//! read and written only here, so the parties context need not know it.

use chrono::NaiveDate;
use engine::{Db, Tx};
use sqlx::Row;

use crate::error::{DomainError, DomainResult};
use crate::values::{LegalModel, VatMode, VatRate, VatRateRow, VatTable};

/// The whole rates table (a handful of rows).
pub async fn vat_table(db: &Db) -> DomainResult<VatTable> {
    let rows = sqlx::query("SELECT code, valid_from, rate_bp FROM vat_rates")
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let from: String = r.try_get("valid_from")?;
        let valid_from = NaiveDate::parse_from_str(&from, "%Y-%m-%d")
            .map_err(|e| anyhow::anyhow!("vat_rates.valid_from {from:?}: {e}"))?;
        out.push(VatRateRow {
            code: r.try_get("code")?,
            valid_from,
            rate_bp: r.try_get("rate_bp")?,
        });
    }
    Ok(VatTable::new(out))
}

/// The rate of `code` in force on `date` (`None`: unknown code, or a date
/// before its first row).
pub async fn rate_on(db: &Db, code: &str, date: NaiveDate) -> DomainResult<Option<VatRate>> {
    Ok(vat_table(db).await?.rate_on(code, date))
}

/// The rate a company with VAT mode `mode` charges on `date`.
pub async fn rate_for(db: &Db, mode: VatMode, date: NaiveDate) -> DomainResult<Option<VatRate>> {
    Ok(vat_table(db).await?.rate_for(mode, date))
}

fn parse_model(raw: Option<String>) -> DomainResult<Option<LegalModel>> {
    raw.map(|s| {
        LegalModel::parse(&s).map_err(|_| anyhow::anyhow!("unknown legal model {s:?}").into())
    })
    .transpose()
}

/// The company's legal model (resale unless set).
pub async fn company_legal_model(db: &Db) -> DomainResult<LegalModel> {
    let raw: Option<Option<String>> = sqlx::query_scalar(
        "SELECT legal_model FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    Ok(parse_model(raw.flatten())?.unwrap_or(LegalModel::Resale))
}

/// The legal model of deals with `client_org`: its override, else the
/// company's. An unknown organisation is [`DomainError::NotFound`].
pub async fn legal_model_for_client(db: &Db, client_org: i64) -> DomainResult<LegalModel> {
    let row: Option<Option<String>> =
        sqlx::query_scalar("SELECT legal_model FROM organisations WHERE id = $1")
            .bind(client_org)
            .fetch_optional(db.pool())
            .await?;
    match row {
        None => Err(DomainError::NotFound),
        Some(raw) => match parse_model(raw)? {
            Some(model) => Ok(model),
            None => company_legal_model(db).await,
        },
    }
}

/// Sets the company's legal model.
pub async fn set_company_legal_model(tx: &mut Tx, model: LegalModel) -> DomainResult<()> {
    let done = sqlx::query("UPDATE organisations SET legal_model = $1 WHERE kind = 'broker'")
        .bind(model.as_str())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// Sets or (with `None`) clears a client's override.
pub async fn set_client_legal_model(
    tx: &mut Tx,
    client_org: i64,
    model: Option<LegalModel>,
) -> DomainResult<()> {
    let done =
        sqlx::query("UPDATE organisations SET legal_model = $1 WHERE id = $2 AND kind = 'client'")
            .bind(model.map(LegalModel::as_str))
            .bind(client_org)
            .execute(&mut **tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// A client's own legal model, if it has one (`None`: the company's applies).
pub async fn client_override(db: &Db, client_org: i64) -> DomainResult<Option<LegalModel>> {
    let raw: Option<Option<String>> = sqlx::query_scalar(
        "SELECT legal_model FROM organisations WHERE id = $1 AND kind = 'client'",
    )
    .bind(client_org)
    .fetch_optional(db.pool())
    .await?;
    parse_model(raw.ok_or(DomainError::NotFound)?)
}

/// An administrator sets a client's own legal model (`""` — the company's
/// again). New documents of the client's orders follow it; issued ones stay.
pub async fn choose_for_client(
    db: &Db,
    actor: &crate::access::Actor,
    client_org: i64,
    raw: &str,
) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::Admin)?;
    let model = match raw.trim() {
        "" => None,
        v => Some(LegalModel::parse(v).map_err(|_| {
            let mut e = crate::error::FieldErrors::new();
            e.add("legal_model", "orders.legal_model_invalid");
            DomainError::Invalid(e)
        })?),
    };
    let now = db.now();
    let mut tx = db.begin().await?;
    set_client_legal_model(&mut tx, client_org, model).await?;
    crate::access::audit::record(
        &mut tx,
        now,
        Some(actor),
        "client.legal_model",
        "organisation",
        Some(client_org),
        serde_json::json!({"legal_model": model.map(LegalModel::as_str)}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
