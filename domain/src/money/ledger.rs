//! The double-entry ledger: the chart of accounts, balanced entries, and
//! balances by account, party and order.
//!
//! An entry is built in memory ([`NewEntry`]) and refused unless its debits
//! equal its credits; [`post`] stores it in the caller's transaction and
//! seals it, and the database checks the balance again when it is sealed
//! (migration 0039's triggers) and refuses any later change. A correction is
//! a new entry. A balance is never stored: it is the sum of the lines.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use engine::{Tx, to_db_time};
use serde::Serialize;
use sqlx::Row;

use crate::error::DomainResult;
use crate::values::Kopecks;

/// The chart of accounts. Debit-normal accounts (what we have or are owed,
/// what we spend) grow with debits; credit-normal ones (what we owe, what we
/// earn) with credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// What a client owes us (62 in the Russian chart), per client and order.
    Receivable,
    /// What we owe a supplier (60), per supplier and order.
    Payable,
    /// Our settlement account (51).
    Bank,
    /// Our cash desk (50).
    Cash,
    /// Our revenue (90.1): the client's whole price under resale, our
    /// commission under agency.
    Revenue,
    /// What the suppliers' services cost us under resale (90.2).
    Cost,
    /// VAT we owe the budget (68.02), less the input VAT of resale costs.
    VatPayable,
    /// A client's money we hold with no invoice to apply it to (an
    /// overpayment): its credit, until applied or refunded.
    Unapplied,
    /// Our money a supplier holds (a client paid its driver in cash).
    SupplierHolds,
}

impl Account {
    pub const ALL: [Account; 9] = [
        Account::Receivable,
        Account::Payable,
        Account::Bank,
        Account::Cash,
        Account::Revenue,
        Account::Cost,
        Account::VatPayable,
        Account::Unapplied,
        Account::SupplierHolds,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Account::Receivable => "receivable",
            Account::Payable => "payable",
            Account::Bank => "bank",
            Account::Cash => "cash",
            Account::Revenue => "revenue",
            Account::Cost => "cost",
            Account::VatPayable => "vat_payable",
            Account::Unapplied => "unapplied",
            Account::SupplierHolds => "supplier_holds",
        }
    }

    pub fn parse(s: &str) -> Option<Account> {
        Account::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the account's balance is its debits less its credits.
    pub fn debit_normal(self) -> bool {
        matches!(
            self,
            Account::Receivable
                | Account::Bank
                | Account::Cash
                | Account::Cost
                | Account::SupplierHolds
        )
    }
}

/// What an entry comes from; each entry names one source row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Source {
    Invoice(i64),
    BankLine(i64),
    Payout(i64),
}

impl Source {
    fn kind(self) -> &'static str {
        match self {
            Source::Invoice(_) => "invoice",
            Source::BankLine(_) => "bank_line",
            Source::Payout(_) => "payout",
        }
    }

    fn id(self) -> i64 {
        match self {
            Source::Invoice(id) | Source::BankLine(id) | Source::Payout(id) => id,
        }
    }
}

/// Debit or credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

/// One line of an entry: an amount on one side of one account, with the
/// party, order and invoice it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub account: Account,
    pub side: Side,
    pub amount: Kopecks,
    pub party: Option<i64>,
    pub order: Option<i64>,
    pub invoice: Option<i64>,
}

impl Line {
    pub fn debit(account: Account, amount: Kopecks) -> Line {
        Line {
            account,
            side: Side::Debit,
            amount,
            party: None,
            order: None,
            invoice: None,
        }
    }

    pub fn credit(account: Account, amount: Kopecks) -> Line {
        Line {
            side: Side::Credit,
            ..Line::debit(account, amount)
        }
    }

    /// A signed amount on `account`: a debit when positive, a credit when
    /// negative (an agency deal that loses money debits revenue).
    pub fn signed_debit(account: Account, amount: Kopecks) -> Line {
        if amount.is_negative() {
            Line::credit(account, Kopecks(-amount.0))
        } else {
            Line::debit(account, amount)
        }
    }

    pub fn party(mut self, party: i64) -> Line {
        self.party = Some(party);
        self
    }

    pub fn order(mut self, order: i64) -> Line {
        self.order = Some(order);
        self
    }

    pub fn invoice(mut self, invoice: i64) -> Line {
        self.invoice = Some(invoice);
        self
    }

    /// The line's effect on its account's natural balance.
    pub fn effect(&self) -> i64 {
        let signed = match self.side {
            Side::Debit => self.amount.0,
            Side::Credit => -self.amount.0,
        };
        if self.account.debit_normal() {
            signed
        } else {
            -signed
        }
    }
}

/// Why an entry cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("an entry needs lines")]
    Empty,
    #[error("a line's amount must be positive")]
    NotPositive,
    #[error("debits {debits} and credits {credits} differ")]
    Unbalanced { debits: i64, credits: i64 },
    #[error("amounts overflow")]
    Overflow,
}

/// A balanced entry, not yet stored. Lines of zero are dropped (a rule may
/// produce a zero VAT line); what remains must be positive and balanced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewEntry {
    pub occurred_on: NaiveDate,
    pub source: Source,
    pub order: Option<i64>,
    pub memo: String,
    lines: Vec<Line>,
    total: Kopecks,
}

impl NewEntry {
    pub fn new(
        occurred_on: NaiveDate,
        source: Source,
        order: Option<i64>,
        memo: impl Into<String>,
        lines: Vec<Line>,
    ) -> Result<NewEntry, EntryError> {
        let lines: Vec<Line> = lines.into_iter().filter(|l| l.amount.0 != 0).collect();
        if lines.is_empty() {
            return Err(EntryError::Empty);
        }
        let (mut debits, mut credits) = (0i64, 0i64);
        for l in &lines {
            if l.amount.0 <= 0 {
                return Err(EntryError::NotPositive);
            }
            let sum = match l.side {
                Side::Debit => &mut debits,
                Side::Credit => &mut credits,
            };
            *sum = sum.checked_add(l.amount.0).ok_or(EntryError::Overflow)?;
        }
        if debits != credits {
            return Err(EntryError::Unbalanced { debits, credits });
        }
        Ok(NewEntry {
            occurred_on,
            source,
            order,
            memo: memo.into(),
            lines,
            total: Kopecks(debits),
        })
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The sum of the debits (= of the credits).
    pub fn total(&self) -> Kopecks {
        self.total
    }
}

impl From<EntryError> for crate::error::DomainError {
    fn from(e: EntryError) -> Self {
        crate::error::DomainError::Other(anyhow::anyhow!("ledger entry refused: {e}"))
    }
}

/// Stores `entry` in `tx` and seals it; returns its id. The seal is where
/// the database checks the balance, so an entry is either whole or absent.
pub async fn post(
    tx: &mut Tx,
    now: DateTime<Utc>,
    by: Option<i64>,
    entry: &NewEntry,
) -> DomainResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (occurred_on, source_kind, source_id, order_id, memo, total, sealed, posted_by, posted_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) RETURNING id",
    )
    .bind(entry.occurred_on.format("%Y-%m-%d").to_string())
    .bind(entry.source.kind())
    .bind(entry.source.id())
    .bind(entry.order)
    .bind(&entry.memo)
    .bind(entry.total.0)
    .bind(by)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await?;
    for l in &entry.lines {
        let (debit, credit) = match l.side {
            Side::Debit => (l.amount.0, 0),
            Side::Credit => (0, l.amount.0),
        };
        sqlx::query(
            "INSERT INTO ledger_lines (entry_id, account, party_org_id, order_id, invoice_id, debit, credit)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(l.account.as_str())
        .bind(l.party)
        .bind(l.order)
        .bind(l.invoice)
        .bind(debit)
        .bind(credit)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("UPDATE ledger_entries SET sealed = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// Which lines a balance sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    pub account: Option<Account>,
    pub party: Option<i64>,
    pub order: Option<i64>,
    pub invoice: Option<i64>,
}

/// The natural balance of the lines `filter` selects, on one account (a
/// filter without an account sums debits less credits over all of them,
/// which is zero for the whole ledger).
pub async fn balance<'e, E>(conn: E, filter: Filter) -> DomainResult<Kopecks>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut sql = engine::Sql::new(
        "SELECT CAST(COALESCE(SUM(l.debit - l.credit), 0) AS BIGINT) FROM ledger_lines l \
         JOIN ledger_entries e ON e.id = l.entry_id WHERE e.sealed = 1",
    );
    if let Some(a) = filter.account {
        sql.push(" AND l.account = ").bind(a.as_str());
    }
    if let Some(p) = filter.party {
        sql.push(" AND l.party_org_id = ").bind(p);
    }
    if let Some(o) = filter.order {
        sql.push(" AND l.order_id = ").bind(o);
    }
    if let Some(i) = filter.invoice {
        sql.push(" AND l.invoice_id = ").bind(i);
    }
    let row = sql.query().fetch_one(conn).await?;
    let debit_less_credit: i64 = row.try_get(0)?;
    Ok(Kopecks(match filter.account {
        Some(a) if !a.debit_normal() => -debit_less_credit,
        _ => debit_less_credit,
    }))
}

/// Balances of every account, party and order that has lines: the trial
/// balance the accountant reconciles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceLine {
    pub account: Account,
    pub party: Option<i64>,
    pub order: Option<i64>,
    pub balance: Kopecks,
}

pub async fn trial_balance<'e, E>(conn: E) -> DomainResult<Vec<BalanceLine>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT l.account, l.party_org_id, l.order_id, CAST(SUM(l.debit - l.credit) AS BIGINT) AS dc
         FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id WHERE e.sealed = 1
         GROUP BY l.account, l.party_org_id, l.order_id ORDER BY l.account, l.party_org_id, l.order_id",
    )
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let raw: String = r.try_get("account")?;
        let account = Account::parse(&raw)
            .ok_or_else(|| anyhow::anyhow!("unknown ledger account {raw:?}"))?;
        let dc: i64 = r.try_get("dc")?;
        out.push(BalanceLine {
            account,
            party: r.try_get("party_org_id")?,
            order: r.try_get("order_id")?,
            balance: Kopecks(if account.debit_normal() { dc } else { -dc }),
        });
    }
    Ok(out)
}

/// An in-memory ledger with the same rules as the stored one: for the pure
/// tests of the posting rules (and the property test), where the database
/// would only slow the search down.
#[derive(Debug, Clone, Default)]
pub struct Book {
    entries: Vec<NewEntry>,
}

impl Book {
    pub fn post(&mut self, entry: NewEntry) {
        self.entries.push(entry);
    }

    pub fn entries(&self) -> &[NewEntry] {
        &self.entries
    }

    /// The natural balance of `filter`'s lines, as [`balance`] computes it.
    pub fn balance(&self, filter: Filter) -> Kopecks {
        let dc: i64 = self
            .entries
            .iter()
            .flat_map(|e| e.lines.iter())
            .filter(|l| {
                filter.account.is_none_or(|a| a == l.account)
                    && filter.party.is_none_or(|p| l.party == Some(p))
                    && filter.order.is_none_or(|o| l.order == Some(o))
                    && filter.invoice.is_none_or(|i| l.invoice == Some(i))
            })
            .map(|l| match l.side {
                Side::Debit => l.amount.0,
                Side::Credit => -l.amount.0,
            })
            .sum();
        Kopecks(match filter.account {
            Some(a) if !a.debit_normal() => -dc,
            _ => dc,
        })
    }

    /// Balances per (account, party, order), as [`trial_balance`] lists them.
    pub fn trial_balance(&self) -> BTreeMap<(Account, Option<i64>, Option<i64>), Kopecks> {
        let mut out = BTreeMap::new();
        for l in self.entries.iter().flat_map(|e| e.lines.iter()) {
            out.entry((l.account, l.party, l.order))
                .or_insert(Kopecks::ZERO)
                .0 += l.effect();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    #[test]
    fn an_entry_must_balance() {
        let unbalanced = NewEntry::new(
            day(),
            Source::Invoice(1),
            None,
            "",
            vec![
                Line::debit(Account::Receivable, Kopecks(12_200)),
                Line::credit(Account::Revenue, Kopecks(10_000)),
                Line::credit(Account::VatPayable, Kopecks(2_100)),
            ],
        );
        assert_eq!(
            unbalanced,
            Err(EntryError::Unbalanced {
                debits: 12_200,
                credits: 12_100
            })
        );
        assert_eq!(
            NewEntry::new(day(), Source::Invoice(1), None, "", vec![]),
            Err(EntryError::Empty)
        );
        assert_eq!(
            NewEntry::new(
                day(),
                Source::Invoice(1),
                None,
                "",
                vec![
                    Line::debit(Account::Bank, Kopecks(-5)),
                    Line::credit(Account::Revenue, Kopecks(-5))
                ]
            ),
            Err(EntryError::NotPositive)
        );
        let ok = NewEntry::new(
            day(),
            Source::Invoice(1),
            None,
            "",
            vec![
                Line::debit(Account::Receivable, Kopecks(12_200)),
                Line::credit(Account::Revenue, Kopecks(10_000)),
                Line::credit(Account::VatPayable, Kopecks(2_200)),
                Line::credit(Account::Cost, Kopecks(0)),
            ],
        )
        .unwrap();
        assert_eq!(ok.total(), Kopecks(12_200));
        assert_eq!(ok.lines().len(), 3, "the zero line is dropped");
    }

    #[test]
    fn balances_follow_each_accounts_normal_side() {
        let mut book = Book::default();
        book.post(
            NewEntry::new(
                day(),
                Source::Invoice(1),
                Some(7),
                "",
                vec![
                    Line::debit(Account::Receivable, Kopecks(12_200)).party(3),
                    Line::credit(Account::Revenue, Kopecks(10_000)),
                    Line::credit(Account::VatPayable, Kopecks(2_200)),
                ],
            )
            .unwrap(),
        );
        let of = |account| Filter {
            account: Some(account),
            ..Filter::default()
        };
        assert_eq!(book.balance(of(Account::Receivable)), Kopecks(12_200));
        assert_eq!(book.balance(of(Account::Revenue)), Kopecks(10_000));
        assert_eq!(book.balance(Filter::default()), Kopecks::ZERO);
        assert_eq!(
            book.balance(Filter {
                party: Some(3),
                ..of(Account::Receivable)
            }),
            Kopecks(12_200)
        );
    }
}
