//! Numbers of orders and contracts, in the company's own format.
//!
//! The format is a company setting (the broker's organisation row:
//! `order_number_format`, `contract_number_format`): text with
//! placeholders `{year}` (2026), `{yy}` (26), `{month}` (03) and `{seq}` —
//! the running number within the kind and year — optionally zero-padded as
//! `{seq:05}`. A format must contain `{seq…}` exactly once, so two numbers
//! of one year never coincide. The running number restarts every year
//! (Moscow time), as the request numbers do.

use chrono::{DateTime, Datelike, Utc};
use engine::{Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::{Actor, Rule, audit, require};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::services::Services;

/// The order number format when the company has not set one.
pub const DEFAULT_ORDER_FORMAT: &str = "ЗК-{year}-{seq:05}";
/// The contract number format when the company has not set one.
pub const DEFAULT_CONTRACT_FORMAT: &str = "Д-{year}-{seq:04}";
/// The invoice number format when the company has not set one (money
/// context): a prefix a payer's bank keeps in the payment purpose, where
/// the statement import looks for it.
pub const DEFAULT_INVOICE_FORMAT: &str = "СЧ-{year}-{seq:05}";
/// The longest format accepted (and so, roughly, the longest number).
const MAX_FORMAT_LEN: usize = 40;

/// What is numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbered {
    Order,
    Contract,
    Invoice,
}

impl Numbered {
    fn key(self) -> &'static str {
        match self {
            Numbered::Order => "order",
            Numbered::Contract => "contract",
            Numbered::Invoice => "invoice",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Numbered::Order => "order_number_format",
            Numbered::Contract => "contract_number_format",
            Numbered::Invoice => "invoice_number_format",
        }
    }

    fn default_format(self) -> &'static str {
        match self {
            Numbered::Order => DEFAULT_ORDER_FORMAT,
            Numbered::Contract => DEFAULT_CONTRACT_FORMAT,
            Numbered::Invoice => DEFAULT_INVOICE_FORMAT,
        }
    }
}

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Year,
    ShortYear,
    Month,
    Seq { width: usize },
}

/// A checked number format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat(Vec<Piece>);

impl NumberFormat {
    /// Parses a format; the error is a message-catalogue code.
    pub fn parse(input: &str) -> Result<NumberFormat, &'static str> {
        let input = input.trim();
        if input.is_empty() {
            return Err("required");
        }
        if input.chars().count() > MAX_FORMAT_LEN {
            return Err("number_format.too_long");
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = input;
        let mut seqs = 0;
        while let Some(open) = rest.find('{') {
            if rest[..open].contains('}') {
                return Err("number_format.unclosed");
            }
            text.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or("number_format.unclosed")?;
            let name = &after[..close];
            let piece = match name {
                "year" => Piece::Year,
                "yy" => Piece::ShortYear,
                "month" => Piece::Month,
                "seq" => Piece::Seq { width: 0 },
                _ => match name.strip_prefix("seq:") {
                    Some(w) if w.len() <= 2 && w.chars().all(|c| c.is_ascii_digit()) => {
                        let width: usize = w.parse().map_err(|_| "number_format.placeholder")?;
                        if width > 12 {
                            return Err("number_format.placeholder");
                        }
                        Piece::Seq { width }
                    }
                    _ => return Err("number_format.placeholder"),
                },
            };
            if matches!(piece, Piece::Seq { .. }) {
                seqs += 1;
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err("number_format.unclosed");
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        match seqs {
            0 => Err("number_format.no_seq"),
            1 => Ok(NumberFormat(pieces)),
            _ => Err("number_format.two_seq"),
        }
    }

    /// The number for running number `seq` at `now` (Moscow's calendar).
    pub fn render(&self, seq: i64, now: DateTime<Utc>) -> String {
        let local = now.with_timezone(&chrono_tz::Europe::Moscow);
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Year => out.push_str(&local.year().to_string()),
                Piece::ShortYear => out.push_str(&format!("{:02}", local.year() % 100)),
                Piece::Month => out.push_str(&format!("{:02}", local.month())),
                Piece::Seq { width } => out.push_str(&format!("{seq:0width$}")),
            }
        }
        out
    }
}

/// The company's format for `what` (the built-in default when unset or,
/// having been stored before a check existed, unreadable).
async fn format_of(tx: &mut Tx, what: Numbered) -> Result<NumberFormat, sqlx::Error> {
    // `column` is one of two fixed names, never input.
    let stored: Option<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
        what.column()
    )))
    .fetch_optional(&mut **tx)
    .await?;
    let parsed = stored
        .flatten()
        .filter(|f| !f.trim().is_empty())
        .and_then(|f| NumberFormat::parse(&f).ok());
    Ok(parsed.unwrap_or_else(|| {
        NumberFormat::parse(what.default_format()).expect("the default formats are valid")
    }))
}

/// The next number of `what`, taken inside the caller's transaction (so a
/// refused order gives its number back). Invoices are numbered here too.
pub(crate) async fn next(
    tx: &mut Tx,
    what: Numbered,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let format = format_of(tx, what).await?;
    let year = i64::from(now.with_timezone(&chrono_tz::Europe::Moscow).year());
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO order_numbers (kind, year, last) VALUES ($1, $2, 1)
         ON CONFLICT (kind, year) DO UPDATE SET last = order_numbers.last + 1 RETURNING last",
    )
    .bind(what.key())
    .bind(year)
    .fetch_one(&mut **tx)
    .await?;
    Ok(format.render(last, now))
}

/// The company's order settings, as a form shows and submits them: the
/// number formats and the deal's legal model (resale or agency, DESIGN
/// §10; a client may have its own, set on its card).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Formats {
    pub order_format: String,
    pub contract_format: String,
    /// `resale` or `agency`.
    pub legal_model: String,
}

/// The formats in use (the defaults where none is set); administrators only.
pub async fn formats(s: &Services, actor: &Actor) -> DomainResult<Formats> {
    require(actor, Rule::Admin)?;
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT order_number_format, contract_number_format FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
    )
    .fetch_optional(s.db.pool())
    .await?;
    let (o, c) = row.unwrap_or((None, None));
    let or = |v: Option<String>, d: &str| {
        v.filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| d.to_string())
    };
    Ok(Formats {
        order_format: or(o, DEFAULT_ORDER_FORMAT),
        contract_format: or(c, DEFAULT_CONTRACT_FORMAT),
        legal_model: crate::tax::company_legal_model(&s.db)
            .await?
            .as_str()
            .to_string(),
    })
}

/// An administrator sets the formats; both are checked, and numbers already
/// given stay as they are.
pub async fn save_formats(s: &Services, actor: &Actor, input: &Formats) -> DomainResult<()> {
    require(actor, Rule::Admin)?;
    let mut e = FieldErrors::new();
    for (field, value) in [
        ("order_format", &input.order_format),
        ("contract_format", &input.contract_format),
    ] {
        if let Err(code) = NumberFormat::parse(value) {
            e.add(field, code);
        }
    }
    // Left out of the form: the legal model stays as it is.
    let model = match input.legal_model.trim() {
        "" => None,
        raw => match crate::values::LegalModel::parse(raw) {
            Ok(m) => Some(m),
            Err(_) => {
                e.add("legal_model", "orders.legal_model_invalid");
                None
            }
        },
    };
    e.into_result()?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let n = sqlx::query(
        "UPDATE organisations SET order_number_format = $1, contract_number_format = $2, updated_at = $3 WHERE kind = 'broker'",
    )
    .bind(input.order_format.trim())
    .bind(input.contract_format.trim())
    .bind(to_db_time(now))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    if let Some(model) = model {
        crate::tax::set_company_legal_model(&mut tx, model).await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "settings.number_formats",
        "organisation",
        None,
        json!({"order": input.order_format.trim(), "contract": input.contract_format.trim(), "legal_model": input.legal_model.trim()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn formats_render_the_year_month_and_padded_sequence() {
        let f = NumberFormat::parse("ЗК-{year}-{seq:05}").expect("valid");
        assert_eq!(f.render(42, at("2026-03-10T12:00:00Z")), "ЗК-2026-00042");
        let f = NumberFormat::parse("{yy}/{month}-{seq}").expect("valid");
        assert_eq!(f.render(7, at("2026-03-10T12:00:00Z")), "26/03-7");
        // The year turns at midnight in Moscow, not in UTC.
        let f = NumberFormat::parse("{year}-{seq}").expect("valid");
        assert_eq!(f.render(1, at("2026-12-31T21:30:00Z")), "2027-1");
        // A sequence wider than its padding is written whole.
        let f = NumberFormat::parse("{seq:02}").expect("valid");
        assert_eq!(f.render(1234, at("2026-01-01T12:00:00Z")), "1234");
        for d in [DEFAULT_ORDER_FORMAT, DEFAULT_CONTRACT_FORMAT] {
            assert!(NumberFormat::parse(d).is_ok(), "{d}");
        }
    }

    #[test]
    fn bad_formats_are_refused_with_a_reason() {
        assert_eq!(NumberFormat::parse(" "), Err("required"));
        assert_eq!(NumberFormat::parse("З-{year}"), Err("number_format.no_seq"));
        assert_eq!(
            NumberFormat::parse("{seq}-{seq}"),
            Err("number_format.two_seq")
        );
        assert_eq!(
            NumberFormat::parse("З-{day}-{seq}"),
            Err("number_format.placeholder")
        );
        assert_eq!(
            NumberFormat::parse("З-{seq:abc}"),
            Err("number_format.placeholder")
        );
        assert_eq!(NumberFormat::parse("З-{seq"), Err("number_format.unclosed"));
        assert_eq!(
            NumberFormat::parse("З-}{seq}"),
            Err("number_format.unclosed")
        );
        assert_eq!(
            NumberFormat::parse(&format!("{}{{seq}}", "x".repeat(40))),
            Err("number_format.too_long")
        );
    }
}
