//! Importing a bank statement: each incoming line is matched to the payer's
//! open invoices ([`super::matching::decide`]) and, when it pays them,
//! posted as a balanced payment entry; lines nobody can match wait for the
//! accountant (`bank_lines` with status `unmatched` and the reason); lines
//! of money we sent are kept as `outgoing` for the payouts to be confirmed
//! against later.
//!
//! A line is known by its date, number, amount and payer's account: a line
//! seen before (in an earlier import, or twice in one file) changes
//! nothing, so importing the same statement again is harmless. The whole
//! file is stored in one transaction — all of it or none — and a dry run
//! decides exactly the same without storing anything.

use std::collections::{HashMap, HashSet};

use engine::{Db, to_db_time};
use serde::Serialize;
use sqlx::Row;

use super::bank_file::{self, BankFileError, Document};
use super::ledger;
use super::matching::{self, Applied, Decision, OpenInvoice, QueueReason};
use super::rules;
use super::{acting_user, require_money};
use crate::access::Acting;
use crate::error::{DomainError, DomainResult};
use crate::values::Kopecks;

/// What became of one document of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Seen before: nothing changes.
    Duplicate,
    /// Paid invoices of the client (and maybe left it a credit).
    Applied {
        client_org_id: i64,
        applied: Vec<Applied>,
        unapplied: Kopecks,
    },
    /// Waits for the accountant.
    Queued { reason: QueueReason },
    /// Money we sent.
    Outgoing,
}

/// One document and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineReport {
    pub line: usize,
    pub number: String,
    pub date: chrono::NaiveDate,
    pub amount: Kopecks,
    pub payer_inn: String,
    pub payer_name: String,
    pub purpose: String,
    pub outcome: Outcome,
}

/// The matching of a whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub file_name: String,
    pub dry_run: bool,
    pub lines: Vec<LineReport>,
}

impl ImportReport {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.lines.iter().filter(|l| f(&l.outcome)).count()
    }

    pub fn applied(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Applied { .. }))
    }

    pub fn queued(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Queued { .. }))
    }

    pub fn duplicates(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Duplicate))
    }

    pub fn outgoing(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Outgoing))
    }
}

/// Why an import stopped: the file is malformed (with the line), or the
/// domain refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] BankFileError),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Domain(e.into())
    }
}

fn dedupe_key(d: &Document) -> String {
    format!(
        "{}|{}|{}|{}",
        d.date.format("%Y-%m-%d"),
        d.number,
        d.amount.0,
        d.payer.account
    )
}

/// Which of `keys` are stored already.
async fn known_keys(db: &Db, keys: &[String]) -> DomainResult<HashSet<String>> {
    let mut known = HashSet::new();
    for chunk in keys.chunks(500) {
        let mut sql = engine::Sql::new("SELECT dedupe_key FROM bank_lines WHERE dedupe_key IN (");
        sql.bind_list(chunk.iter().cloned()).push(")");
        let found: Vec<String> = sql.query_scalar().fetch_all(db.pool()).await?;
        known.extend(found);
    }
    Ok(known)
}

/// Clients by INN (an INN two clients share names neither).
async fn clients_by_inn(db: &Db) -> DomainResult<HashMap<String, Option<i64>>> {
    let rows = sqlx::query(
        "SELECT id, inn FROM organisations WHERE kind = 'client' AND inn IS NOT NULL AND inn <> ''",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out: HashMap<String, Option<i64>> = HashMap::new();
    for r in rows {
        let inn: String = r.try_get("inn")?;
        let id: i64 = r.try_get("id")?;
        out.entry(inn).and_modify(|v| *v = None).or_insert(Some(id));
    }
    Ok(out)
}

/// Every open invoice, by client.
async fn open_invoices(db: &Db) -> DomainResult<HashMap<i64, Vec<OpenInvoice>>> {
    let rows = sqlx::query(
        "SELECT id, number, order_id, client_org_id, issued_on, amount - paid AS outstanding
         FROM invoices WHERE paid < amount",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out: HashMap<i64, Vec<OpenInvoice>> = HashMap::new();
    for r in rows {
        let inv = OpenInvoice {
            id: r.try_get("id")?,
            number: r.try_get("number")?,
            order_id: r.try_get("order_id")?,
            client_org_id: r.try_get("client_org_id")?,
            issued_on: super::invoices::parse_day(&r.try_get::<String, _>("issued_on")?)?,
            outstanding: Kopecks(r.try_get("outstanding")?),
        };
        out.entry(inv.client_org_id).or_default().push(inv);
    }
    Ok(out)
}

/// Our own accounts: the company's and those the file's header names.
async fn our_accounts(db: &Db, file: &bank_file::BankFile) -> DomainResult<HashSet<String>> {
    let mut ours: HashSet<String> = file.accounts.iter().cloned().collect();
    let own: Option<Option<String>> = sqlx::query_scalar(
        "SELECT settlement_account FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    ours.extend(own.flatten());
    Ok(ours)
}

/// Whether a document is money coming in to us.
fn incoming(d: &Document, ours: &HashSet<String>) -> bool {
    if ours.contains(&d.recipient.account) {
        true
    } else if ours.contains(&d.payer.account) {
        false
    } else {
        d.debited_on.is_none()
    }
}

/// Imports the statement `bytes` (named `file_name` for the record):
/// matches and, unless `dry_run`, stores it. Returns what became of each
/// document.
pub async fn import(
    db: &Db,
    who: Acting<'_>,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    require_money(who)?;
    let file = bank_file::read(bytes)?;
    let ours = our_accounts(db, &file).await?;
    let keys: Vec<String> = file.documents.iter().map(dedupe_key).collect();
    let mut known = known_keys(db, &keys).await?;
    let clients = clients_by_inn(db).await?;
    let mut open = open_invoices(db).await?;
    let mut report = ImportReport {
        file_name: file_name.to_string(),
        dry_run,
        lines: Vec::with_capacity(file.documents.len()),
    };
    for (d, key) in file.documents.iter().zip(&keys) {
        let outcome = if !known.insert(key.clone()) {
            Outcome::Duplicate
        } else if !incoming(d, &ours) {
            Outcome::Outgoing
        } else {
            let client = clients.get(&d.payer.inn).copied().flatten();
            let candidates = client
                .and_then(|c| open.get(&c))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            match matching::decide(client, d.amount, &d.purpose, candidates) {
                Decision::Apply {
                    client_org_id,
                    applied,
                    unapplied,
                } => {
                    // Later lines of the file see what this one paid.
                    if let Some(list) = open.get_mut(&client_org_id) {
                        for a in &applied {
                            if let Some(i) = list.iter_mut().find(|i| i.id == a.invoice_id) {
                                i.outstanding = Kopecks(i.outstanding.0 - a.amount.0);
                            }
                        }
                        list.retain(|i| i.outstanding.0 > 0);
                    }
                    Outcome::Applied {
                        client_org_id,
                        applied,
                        unapplied,
                    }
                }
                Decision::Queue { reason } => Outcome::Queued { reason },
            }
        };
        report.lines.push(LineReport {
            line: d.line,
            number: d.number.clone(),
            date: d.date,
            amount: d.amount,
            payer_inn: d.payer.inn.clone(),
            payer_name: d.payer.name.clone(),
            purpose: d.purpose.clone(),
            outcome,
        });
    }
    if dry_run {
        return Ok(report);
    }
    let now = db.now();
    let by = acting_user(who);
    let mut tx = db.begin().await?;
    for (d, (key, line)) in file.documents.iter().zip(keys.iter().zip(&report.lines)) {
        let (status, reason, client) = match &line.outcome {
            Outcome::Duplicate => continue,
            Outcome::Outgoing => ("outgoing", None, None),
            Outcome::Queued { reason } => ("unmatched", Some(reason.as_str()), None),
            Outcome::Applied { client_org_id, .. } => ("applied", None, Some(*client_org_id)),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bank_lines (dedupe_key, file_name, doc_date, doc_number, amount, direction, payer_inn,
               payer_name, payer_account, recipient_inn, recipient_name, recipient_account, purpose, status, reason,
               client_org_id, imported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
        )
        .bind(key)
        .bind(file_name)
        .bind(super::invoices::day_text(d.date))
        .bind(&d.number)
        .bind(d.amount.0)
        .bind(if status == "outgoing" { "out" } else { "in" })
        .bind(&d.payer.inn)
        .bind(&d.payer.name)
        .bind(&d.payer.account)
        .bind(&d.recipient.inn)
        .bind(&d.recipient.name)
        .bind(&d.recipient.account)
        .bind(&d.purpose)
        .bind(status)
        .bind(reason)
        .bind(client)
        .bind(to_db_time(now))
        .fetch_one(&mut *tx)
        .await?;
        if let Outcome::Applied {
            client_org_id,
            applied,
            unapplied,
        } = &line.outcome
        {
            let entry = rules::payment_entry(
                id,
                d.credited_on.unwrap_or(d.date),
                *client_org_id,
                applied,
                *unapplied,
            )
            .map_err(DomainError::from)?;
            ledger::post(&mut tx, now, by, &entry).await?;
            for a in applied {
                sqlx::query("UPDATE invoices SET paid = paid + $1 WHERE id = $2")
                    .bind(a.amount.0)
                    .bind(a.invoice_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// A line waiting for the accountant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedLine {
    pub id: i64,
    pub doc_date: String,
    pub doc_number: String,
    pub amount: Kopecks,
    pub payer_inn: Option<String>,
    pub payer_name: Option<String>,
    pub purpose: String,
    pub reason: Option<String>,
}

/// The accountant's queue of unmatched lines, oldest first.
pub async fn unmatched(db: &Db, who: Acting<'_>) -> DomainResult<Vec<QueuedLine>> {
    require_money(who)?;
    let rows = sqlx::query(
        "SELECT id, doc_date, doc_number, amount, payer_inn, payer_name, purpose, reason
         FROM bank_lines WHERE status = 'unmatched' ORDER BY doc_date, id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueuedLine {
                id: r.try_get("id")?,
                doc_date: r.try_get("doc_date")?,
                doc_number: r.try_get("doc_number")?,
                amount: Kopecks(r.try_get("amount")?),
                payer_inn: r.try_get("payer_inn")?,
                payer_name: r.try_get("payer_name")?,
                purpose: r.try_get("purpose")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}
