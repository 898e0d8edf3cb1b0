//! Matching an incoming bank payment to the client's open invoices: a pure
//! decision, so that the import, its `--dry-run` and the tests decide alike.
//!
//! The payer is found by its INN. Then:
//! 1. invoices whose numbers the purpose names are paid, oldest first, each
//!    up to what it still lacks (a partial payment leaves the rest open;
//!    one payment may settle several invoices); what is left over is the
//!    client's unapplied credit (an overpayment);
//! 2. a purpose that names none: the one open invoice whose outstanding sum
//!    equals the amount, or — when the amount equals all of them together —
//!    all of them;
//! 3. anything else waits for the accountant, with the reason.

use chrono::NaiveDate;
use serde::Serialize;

use crate::values::Kopecks;

/// An invoice that still lacks money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenInvoice {
    pub id: i64,
    pub number: String,
    pub order_id: i64,
    pub client_org_id: i64,
    pub issued_on: NaiveDate,
    pub outstanding: Kopecks,
}

/// Money applied to one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub invoice_id: i64,
    pub number: String,
    pub order_id: i64,
    pub amount: Kopecks,
}

/// Why a payment waits for the accountant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    /// No client has the payer's INN (or several have).
    UnknownPayer,
    /// The client has nothing open to pay and the purpose names nothing.
    NoOpenInvoice,
    /// Open invoices exist, but neither a number nor the amount tells which.
    Ambiguous,
}

impl QueueReason {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueReason::UnknownPayer => "unknown_payer",
            QueueReason::NoOpenInvoice => "no_open_invoice",
            QueueReason::Ambiguous => "ambiguous",
        }
    }
}

/// What to do with a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Apply {
        client_org_id: i64,
        applied: Vec<Applied>,
        /// The overpayment, credited to the client.
        unapplied: Kopecks,
    },
    Queue {
        reason: QueueReason,
    },
}

/// Whether `purpose` names `number` as a whole word (not as a part of a
/// longer number), ignoring case.
pub fn names(purpose: &str, number: &str) -> bool {
    let hay = purpose.to_lowercase();
    let needle = number.trim().to_lowercase();
    if needle.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut from = 0;
    while let Some(pos) = hay[from..].find(&needle) {
        let start = from + pos;
        let end = start + needle.len();
        if !word(hay[..start].chars().next_back()) && !word(hay[end..].chars().next()) {
            return true;
        }
        from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Decides what a payment of `amount` with `purpose` from the client
/// `client` (found by the payer's INN; `None` when none or several) pays,
/// given that client's open invoices.
pub fn decide(
    client: Option<i64>,
    amount: Kopecks,
    purpose: &str,
    open: &[OpenInvoice],
) -> Decision {
    let Some(client_org_id) = client else {
        return Decision::Queue {
            reason: QueueReason::UnknownPayer,
        };
    };
    let mut open: Vec<&OpenInvoice> = open
        .iter()
        .filter(|i| i.client_org_id == client_org_id && i.outstanding.0 > 0)
        .collect();
    open.sort_by_key(|i| (i.issued_on, i.id));
    let named: Vec<&OpenInvoice> = open
        .iter()
        .copied()
        .filter(|i| names(purpose, &i.number))
        .collect();
    let chosen: Vec<&OpenInvoice> = if !named.is_empty() {
        named
    } else if let Some(exact) = open.iter().find(|i| i.outstanding == amount) {
        vec![*exact]
    } else if !open.is_empty() && open.iter().map(|i| i.outstanding.0).sum::<i64>() == amount.0 {
        open
    } else if open.is_empty() {
        return Decision::Queue {
            reason: QueueReason::NoOpenInvoice,
        };
    } else {
        return Decision::Queue {
            reason: QueueReason::Ambiguous,
        };
    };
    let mut left = amount.0;
    let mut applied = Vec::new();
    for i in chosen {
        if left == 0 {
            break;
        }
        let part = left.min(i.outstanding.0);
        left -= part;
        applied.push(Applied {
            invoice_id: i.id,
            number: i.number.clone(),
            order_id: i.order_id,
            amount: Kopecks(part),
        });
    }
    Decision::Apply {
        client_org_id,
        applied,
        unapplied: Kopecks(left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(id: i64, number: &str, outstanding: i64, day: u32) -> OpenInvoice {
        OpenInvoice {
            id,
            number: number.into(),
            order_id: id * 10,
            client_org_id: 7,
            issued_on: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            outstanding: Kopecks(outstanding),
        }
    }

    fn applied(d: &Decision) -> (Vec<(i64, i64)>, i64) {
        match d {
            Decision::Apply {
                applied, unapplied, ..
            } => (
                applied.iter().map(|a| (a.invoice_id, a.amount.0)).collect(),
                unapplied.0,
            ),
            Decision::Queue { reason } => panic!("queued: {reason:?}"),
        }
    }

    #[test]
    fn a_number_names_a_whole_word_only() {
        assert!(names(
            "Оплата по счёту СЧ-2026-00001 от 02.03",
            "СЧ-2026-00001"
        ));
        assert!(names("оплата сч-2026-00001", "СЧ-2026-00001"));
        assert!(names("СЧ-2026-00001,СЧ-2026-00002", "СЧ-2026-00002"));
        assert!(!names("Оплата СЧ-2026-000012", "СЧ-2026-00001"));
        assert!(!names("Оплата АСЧ-2026-00001", "СЧ-2026-00001"));
        assert!(!names("Оплата", ""));
    }

    #[test]
    fn partial_combined_and_over_payments() {
        let open = [
            inv(1, "СЧ-2026-00001", 10_000, 1),
            inv(2, "СЧ-2026-00002", 5_000, 2),
        ];
        // Partial: the named invoice gets what came, the rest stays open.
        let d = decide(Some(7), Kopecks(4_000), "по счёту СЧ-2026-00002", &open);
        assert_eq!(applied(&d), (vec![(2, 4_000)], 0));
        // Several named: oldest first.
        let d = decide(
            Some(7),
            Kopecks(15_000),
            "СЧ-2026-00002 и СЧ-2026-00001",
            &open,
        );
        assert_eq!(applied(&d), (vec![(1, 10_000), (2, 5_000)], 0));
        // Overpayment: the rest is the client's credit.
        let d = decide(Some(7), Kopecks(12_000), "СЧ-2026-00001", &open);
        assert_eq!(applied(&d), (vec![(1, 10_000)], 2_000));
        // No number: the exact amount of one invoice, or of all of them.
        let d = decide(Some(7), Kopecks(5_000), "за услуги", &open);
        assert_eq!(applied(&d), (vec![(2, 5_000)], 0));
        let d = decide(Some(7), Kopecks(15_000), "за услуги", &open);
        assert_eq!(applied(&d), (vec![(1, 10_000), (2, 5_000)], 0));
        // Otherwise the accountant decides.
        assert_eq!(
            decide(Some(7), Kopecks(7_000), "за услуги", &open),
            Decision::Queue {
                reason: QueueReason::Ambiguous
            }
        );
        assert_eq!(
            decide(None, Kopecks(5_000), "СЧ-2026-00002", &open),
            Decision::Queue {
                reason: QueueReason::UnknownPayer
            }
        );
        assert_eq!(
            decide(Some(8), Kopecks(5_000), "СЧ-2026-00002", &open),
            Decision::Queue {
                reason: QueueReason::NoOpenInvoice
            }
        );
    }
}
