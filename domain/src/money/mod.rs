//! Money: invoices to clients, their payments from bank statements, payouts
//! to suppliers and refunds, all kept in a double-entry ledger in kopecks
//! (DESIGN §10, issue 15's foundation).
//!
//! Owns `invoices`, `bank_lines`, `payouts`, `ledger_entries` and
//! `ledger_lines` (migration 0039) and the invoice numbers' format column.
//!
//! - [`ledger`] — the chart of accounts, balanced immutable entries (the
//!   code refuses an unbalanced one, the database refuses to seal one and
//!   any later change), balances by account, party and order;
//! - [`rules`] — which entry each event makes, under the resale and the
//!   agency model, and the payout rule: a supplier is paid only once the
//!   client's money for that order is in full;
//! - [`invoices`] — numbered invoices for an order with the VAT of the rate
//!   in force on their date, their payment purpose and QR code ([`qr`],
//!   GOST R 56042-2014);
//! - [`bank_file`] — the 1CClientBankExchange format, read and written in
//!   windows-1251;
//! - [`matching`] and [`import`] — a statement's incoming lines matched to
//!   open invoices by payer INN, the invoice number in the purpose and the
//!   amount, posted as payments; the rest queued for the accountant;
//! - [`payouts`] — supplier payouts, refunds of a client's credit, and the
//!   payment-order file for the bank.
//!
//! Who may: the money staff ([`Rule::Money`]: accountants and
//! administrators), or the system (the operator's command line). Depends on
//! `orders` (an order's terms, the numbering), `parties` (the company's and
//! the suppliers' bank details) and `tax` (VAT rates by date, the legal
//! model); nothing here is read by the contexts it depends on.

pub mod bank_file;
pub mod import;
pub mod invoices;
pub mod ledger;
pub mod matching;
pub mod payouts;
pub mod qr;
pub mod rules;

#[cfg(test)]
mod conservation;

use crate::access::{Acting, Rule, require};
use crate::error::DomainResult;

/// The money staff, or the system.
fn require_money(who: Acting<'_>) -> DomainResult<()> {
    match who {
        Acting::User(actor) => require(actor, Rule::Money),
        Acting::System(_) => Ok(()),
    }
}

/// The person the audit names (none for the system).
fn acting_actor(who: Acting<'_>) -> Option<&crate::access::Actor> {
    match who {
        Acting::User(actor) => Some(actor),
        Acting::System(_) => None,
    }
}

/// The user an entry or a row is recorded under (none for the system).
fn acting_user(who: Acting<'_>) -> Option<i64> {
    acting_actor(who).map(crate::access::Actor::user_id)
}
