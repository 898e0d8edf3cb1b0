//! Our quote to the client (исходящее КП), built by the manager on one
//! supplier's quote, and the client's answer.
//!
//! # Price and VAT
//!
//! Our price = our cost + markup (a percentage, by default the request
//! type's `markup_percent`, or an amount per unit). The cost is what the
//! supplier's price costs us: when we are a VAT payer we reclaim the VAT in
//! the supplier's invoice, so the cost is the supplier's price without VAT;
//! when we are not, the cost is the supplier's whole price. Our VAT (our
//! mode: `organisations.vat_mode` of the broker; `vat22` when not filled in)
//! is then added on top of our net price. So a `none` supplier and a `vat22`
//! broker give cost = price, a `vat22` supplier and a `vat22` broker give
//! cost = price − 22/122. The margin (our net − cost, for the whole
//! quantity) is shown to the staff only.
//!
//! # The client's link
//!
//! Sending the offer e-mails (or texts) the client a link that works without
//! a password: a one-time token ([`crate::accounts::tokens`], stored hashed) issued to
//! the client organisation for this offer, expiring with it. Viewing keeps
//! it; accepting or declining consumes it in the same transaction.
//!
//! # Accepting books the machine and makes the order
//!
//! Accepting books the quote's machine for every day of its job in the
//! accepting transaction ([`bookings::book`]) and makes the order of what
//! was agreed in the same transaction ([`crate::orders::create`]): both are
//! stored or neither; a day booked meanwhile by
//! another offer refuses the accept whole (`machine.booked`), and the
//! request's manager gets a task to find another machine. An offer whose
//! machine is taken shows the client so and offers no accept; the manager
//! cannot send one.

use chrono::{DateTime, Duration, Utc};
use engine::{ActionError, EngineBuilder, Sql, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{Actor, Resource, scope};
use crate::deals::bookings;
use crate::deals::matching::{self, RequestRow};
use crate::deals::quotes::{self, PAYMENT_METHODS, parse_centi, times_centi};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::intake::requests::{local_input, local_text, local_to_utc, site_tz};
use crate::services::Services;
use crate::services::ServicesCell;
use crate::values::{Kopecks, VatMode};
use crate::{access::audit, accounts::tokens, args, deals::scoring};

/// The purpose of the client's one-time link.
pub const TOKEN_PURPOSE: &str = "offer";
/// The broker's VAT mode when its details do not say.
pub const DEFAULT_BROKER_VAT: VatMode = VatMode::Vat22;

mod client;
mod offer;
mod order;
mod pricing;
mod send;

pub use client::*;
pub use offer::*;
pub use pricing::*;
pub use send::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vat_payer_reclaims_the_suppliers_vat() {
        // 12 200 ₽ with 22 % VAT from the supplier: cost 10 000 ₽; 15 % markup
        // → 11 500 ₽ net, + 22 % = 14 030 ₽ for the client.
        let p = price(
            Kopecks(1_220_000),
            VatMode::Vat22,
            VatMode::Vat22,
            Markup::Percent(1500),
            200,
            Rounding::Kopeck,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_000_000);
        assert_eq!(p.unit_net, 1_150_000);
        assert_eq!(p.unit_gross, 1_403_000);
        assert_eq!(p.total_gross, 2_806_000);
        assert_eq!(p.margin_total, 300_000);
        assert_eq!(p.margin_bp, 1500);
    }

    #[test]
    fn a_supplier_without_vat_costs_its_whole_price() {
        let p = price(
            Kopecks(1_000_000),
            VatMode::None,
            VatMode::Vat22,
            Markup::Percent(1500),
            100,
            Rounding::Kopeck,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_000_000);
        assert_eq!(p.unit_gross, 1_403_000);
        // A broker without VAT cannot reclaim: cost = the supplier's gross.
        let p = price(
            Kopecks(1_220_000),
            VatMode::Vat22,
            VatMode::None,
            Markup::Amount(Kopecks(100_000)),
            100,
            Rounding::Kopeck,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_220_000);
        assert_eq!(p.unit_gross, 1_320_000);
        assert_eq!(p.unit_vat, 0);
        assert_eq!(p.margin_total, 100_000);
    }

    #[test]
    fn several_suppliers_make_one_price_from_their_average_cost() {
        // Six machines at 10 000 ₽ net and four at 12 200 ₽ with 22 % VAT
        // (10 000 net): average cost 10 000, 15 % → 11 500 net, 14 030 gross
        // per unit and machine; 2 units each, ten machines.
        let lines = [
            Line {
                unit_price: Kopecks(1_000_000),
                vat: VatMode::None,
                machines: 6,
            },
            Line {
                unit_price: Kopecks(1_220_000),
                vat: VatMode::Vat22,
                machines: 4,
            },
        ];
        let p = price_many(
            &lines,
            VatMode::Vat22,
            Markup::Percent(1500),
            200,
            Rounding::Rouble,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_000_000);
        assert_eq!(p.unit_gross, 1_403_000);
        assert_eq!(p.total_gross, 1_403_000 * 20);
        assert_eq!(p.total_cost, 20_000_000);
        assert_eq!(p.margin_total, 3_000_000);
        // Unequal costs: the average is rounded up, the margin is still
        // against the real costs.
        let lines = [
            Line {
                unit_price: Kopecks(1_000_001),
                vat: VatMode::None,
                machines: 1,
            },
            Line {
                unit_price: Kopecks(1_000_000),
                vat: VatMode::None,
                machines: 1,
            },
        ];
        let p = price_many(
            &lines,
            VatMode::None,
            Markup::Percent(0),
            100,
            Rounding::Kopeck,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_000_001);
        assert_eq!(p.margin_total, 1);
        // One line is exactly the single-quote price.
        assert_eq!(
            price_many(
                &lines[..1],
                VatMode::Vat22,
                Markup::Percent(1500),
                300,
                Rounding::Rouble
            ),
            price(
                Kopecks(1_000_001),
                VatMode::None,
                VatMode::Vat22,
                Markup::Percent(1500),
                300,
                Rounding::Rouble
            )
        );
        assert_eq!(
            price_many(
                &[],
                VatMode::Vat22,
                Markup::Percent(0),
                100,
                Rounding::Rouble
            ),
            None
        );
    }

    #[test]
    fn client_prices_round_as_the_company_sets() {
        assert_eq!(Rounding::Rouble.round(2_699_999), 2_700_000);
        assert_eq!(Rounding::Rouble.round(2_699_949), 2_699_900);
        assert_eq!(Rounding::Rouble.round(50), 100);
        assert_eq!(Rounding::Rouble.round(-250), -300);
        assert_eq!(Rounding::TenRoubles.round(2_699_999), 2_700_000);
        assert_eq!(Rounding::TenRoubles.round(2_749_999), 2_750_000);
        assert_eq!(Rounding::TenRoubles.round(2_740_000), 2_740_000);
        assert_eq!(Rounding::TenRoubles.round(2_744_999), 2_745_000);
        assert_eq!(Rounding::TenRoubles.round(2_744_499), 2_744_000);
        assert_eq!(Rounding::Kopeck.round(2_699_999), 2_699_999);
        assert_eq!(Rounding::parse("ten_roubles"), Some(Rounding::TenRoubles));
        assert_eq!(Rounding::parse("roubles"), None);
    }

    #[test]
    fn the_margin_is_computed_after_rounding() {
        // 30 000 ₽ from a supplier without VAT, −10 %: 27 000 ₽ net, and a
        // 22 % broker adds 5 940 ₽. An odd supplier price leaves kopecks that
        // the client never sees, and the margin follows the rounded price.
        let p = price(
            Kopecks(2_999_999),
            VatMode::None,
            VatMode::Vat22,
            Markup::Percent(-1000),
            100,
            Rounding::Rouble,
        )
        .expect("fits");
        assert_eq!(p.unit_gross % 100, 0);
        assert_eq!(p.total_gross, 3_294_000);
        assert_eq!(p.total_net + p.total_vat, p.total_gross);
        assert_eq!(p.margin_total, p.total_net - p.total_cost);
        assert!(p.margin_total < 0);
        assert_eq!(p.margin_bp, p.margin_total * 10_000 / p.total_cost);
        assert!(needs_approval(&p, 0));
        // A positive margin under the minimum still asks; above it, not.
        let p = price(
            Kopecks(1_000_000),
            VatMode::None,
            VatMode::None,
            Markup::Percent(500),
            100,
            Rounding::Rouble,
        )
        .expect("fits");
        assert_eq!(p.margin_total, 50_000);
        assert_eq!(p.margin_bp, 500);
        assert!(needs_approval(&p, 800));
        assert!(!needs_approval(&p, 500));
    }

    #[test]
    fn percentages_parse_to_basis_points() {
        assert_eq!(parse_percent_bp("15"), Some(1500));
        assert_eq!(parse_percent_bp("12,5 %"), Some(1250));
        assert_eq!(parse_percent_bp("-5"), Some(-500));
        assert_eq!(parse_percent_bp("abc"), None);
    }
}
