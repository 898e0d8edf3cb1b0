//! Suppliers' quotes (КП) in answer to our RFQs, and the staff's comparison
//! of them.
//!
//! A dispatcher quotes with a machine of their own garage that suits the job
//! and is free on its days — the days of the job from the quote's arrival
//! ([`bookings`]), free in the garage and not booked by an accepted offer
//! (checked here, on the server, whatever the form sent: another supplier's
//! machine is "unknown", a busy, unavailable or booked one is refused), a driver or operator with a fitting licence, a price per unit
//! of the request type, VAT mode, payment terms, arrival time and validity;
//! or declines with a reason. Until the round closes the quote may be revised
//! (in place, `revision` + 1) or withdrawn.
//!
//! # Prices and VAT
//!
//! The supplier states the price per unit as it would invoice it: VAT
//! included when its mode has VAT (`vat22`: 12 200 ₽ holds 2 200 ₽ VAT).
//! The comparison shows it without and with VAT.
//!
//! # The suggested best (configurable)
//!
//! Each active quote gets 0–100 from weighted criteria: price (cheapest total
//! = 1, others cheapest/own), arrival (on time = 1, 4 hours late or more = 0),
//! distance (at the base = 1, at the edge of the radius = 0), the supplier's
//! score, and payment terms (no prepayment and 30 days' postpayment = 1).
//! The weights are the request workflow's data (`score_weight_price`,
//! `…_arrival`, `…_distance`, `…_supplier`, `…_payment`; defaults 50/20/10/15/5
//! in `workflows/request.yaml`), so analysts change them like any workflow.

use chrono::{DateTime, Duration, Utc};
use engine::{Sql, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{Actor, Resource, scope};
use crate::deals::bookings::{self, JobDays};
use crate::deals::matching::{self, MachineMatch, RequestRow};
use crate::deals::rfq::{self, RfqView};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::fleet::catalogue::EquipmentCatalogue;
use crate::intake::requests::{local_input, local_to_utc};
use crate::parties::employees::Employee;
use crate::services::Services;
use crate::values::{Kopecks, VatMode};
use crate::{access::audit, deals::scoring, fleet::garage};

/// Payment methods.
pub const PAYMENT_METHODS: [&str; 3] = ["cash", "card", "bank"];
/// Default validity of a quote after the round's deadline.
const DEFAULT_VALIDITY_HOURS: i64 = 48;

mod answer;
mod comparison;
mod jobs;
mod quote;

pub use answer::*;
pub use comparison::*;
pub use jobs::*;
pub use quote::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_hundredths() {
        assert_eq!(parse_centi("2"), Some(200));
        assert_eq!(parse_centi("1,5"), Some(150));
        assert_eq!(parse_centi("0.25"), Some(25));
        assert_eq!(parse_centi("1.234"), None);
        assert_eq!(parse_centi("0"), None);
        assert_eq!(parse_centi("abc"), None);
        assert_eq!(centi_text(150), "1,5");
        assert_eq!(centi_text(200), "2");
        assert_eq!(times_centi(Kopecks(333_333), 150), Some(Kopecks(500_000)));
    }

    #[test]
    fn licences_fit_categories() {
        let c = EquipmentCatalogue::builtin().expect("catalogue");
        let e = |lic: &str, op: Option<&str>| Employee {
            id: 1,
            org_id: 1,
            user_id: None,
            role: "driver".into(),
            full_name: "x".into(),
            phone: None,
            email: None,
            licence_categories: Some(lic.into()),
            operator_licence: op.map(Into::into),
            photo_file_id: None,
            status: "active".into(),
            created_at: 0,
        };
        assert!(licence_fits(&c, "tipper", &e("B, C, CE", None)));
        assert!(!licence_fits(&c, "tipper", &e("B", None)));
        assert!(!licence_fits(&c, "truck_crane", &e("C", None)));
        assert!(licence_fits(
            &c,
            "truck_crane",
            &e("C", Some("машинист автокрана"))
        ));
        assert!(licence_fits(&c, "excavator", &e("", Some("машинист"))));
        assert!(!licence_fits(&c, "excavator", &e("C", None)));
    }
}
