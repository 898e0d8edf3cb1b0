//! Request intake: how requests come in, and whose they are.
//!
//! Channels (M5):
//!
//! - **website** — a visitor fills the public form (a page per type, the
//!   embeddable copy, or the JSON endpoint). Spam is kept out by a honeypot
//!   field, a per-address rate limit ([`admit_public`]) and a [`Captcha`]
//!   hook; the visitor becomes a client (found again by INN, phone or
//!   e-mail on the next visit) and gets the request's number by e-mail
//!   and/or SMS ([`submit_public`]). A visitor who matches a client but
//!   types a contact the client does not have on record is not taken for
//!   that client until staff confirm it ([`confirm_client`],
//!   [`split_client`]).
//! - **operator** — the contact centre: a phone lookup first
//!   ([`lookup`]: the caller's company, history, open requests, responsible
//!   manager), then the form; a new caller becomes a client inline.
//! - **hunter** — a hunter's own clients ([`hunter_clients`],
//!   [`add_hunter_client`]) and their requests.
//! - **cabinet** — a client places a request itself.
//!
//! Whatever the channel, [`place`] or [`submit_public`] checks everything
//! first, stores the attachments, then writes the client (if new), the
//! request, its workflow, its files and the confirmation in one
//! transaction: a refused or failed request leaves nothing behind.
//!
//! Ownership (DESIGN §4) is decided by [`crate::intake::ownership`] when the request
//! is stored; [`hand_over`] is what the workflow action `client.first_order`
//! runs when a client's first order goes into work, and [`set_manager`] is
//! an admin choosing the responsible manager instead of the least loaded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use engine::{Sql, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::files::{Purpose, StoredFile};
use crate::intake::request_types::{FieldKind, RequestType, RequestTypes};
use crate::intake::requests::{
    self, Channel, Created, Placement, RequestInput, RequestRow, ValidRequest,
};
use crate::notify::{self, NewNotification};
use crate::parties::orgs::{self, NewOrganisation};
use crate::rate_limit::{self, Limit};
use crate::services::Services;
use crate::values::{Email, Inn, InnKind, PhoneNumber};
use crate::{access::audit, args, intake::ownership};

mod clients;
mod duplicates;
mod owners;
mod placing;
mod proof;
mod public;
mod report;

pub use clients::*;
pub use duplicates::*;
pub use owners::*;
pub use placing::*;
pub use proof::*;
pub use public::*;
pub use report::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_is_a_person_unless_a_company_is_named() {
        let person = ClientInput {
            contact_name: "Иван Петров".into(),
            phone: "8 916 123-45-67".into(),
            ..Default::default()
        }
        .validate(true)
        .expect("valid");
        assert_eq!(person.legal_form, "person");
        assert_eq!(person.name, "Иван Петров");
        assert_eq!(person.phone.as_deref(), Some("+79161234567"));
        let company = ClientInput {
            company_name: "ООО «Вектор»".into(),
            inn: "7707083893".into(),
            contact_name: "Иван".into(),
            email: "a@b.test".into(),
            ..Default::default()
        }
        .validate(true)
        .expect("valid");
        assert_eq!(company.legal_form, "ooo");
        assert_eq!(company.name, "ООО «Вектор»");
        let e = ClientInput {
            legal_form: "person".into(),
            inn: "7707083894".into(),
            ..Default::default()
        }
        .validate(true)
        .expect_err("invalid");
        assert_eq!(e.get("inn"), Some("inn.checksum"));
        assert_eq!(e.get("contact_name"), Some("required"));
        assert_eq!(e.get("phone"), Some("contact.phone_or_email_required"));
    }

    #[test]
    fn json_values_of_the_wrong_type_are_named() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workflows/request_types"
        ));
        let c = crate::fleet::catalogue::EquipmentCatalogue::builtin().expect("catalogue");
        let types = RequestTypes::load_dir(dir, &c).expect("types");
        let body = json!({
            "request_type": "machinery",
            "contact_name": ["x"],
            "fields": {"work": "Копать", "site_address": {"address": "Тверь", "lat": 56.8, "lon": 35.9}, "wings": 2, "with_operator": "да"}
        });
        let e = submission_from_json(&types, &body).expect_err("invalid");
        assert_eq!(e.get("contact_name"), Some("json.type"));
        assert_eq!(e.get("f.wings"), Some("field.unknown"));
        assert_eq!(e.get("f.with_operator"), Some("json.type"));
        let ok = submission_from_json(
            &types,
            &json!({"request_type": "machinery", "duration": 2, "fields": {"site_address": {"address": "Тверь", "lat": 56.8}}}),
        )
        .expect("valid");
        assert_eq!(ok.input.fields["f.site_address.lat"], "56.8");
        assert_eq!(ok.input.fields["f.with_operator"], "true", "default");
        assert_eq!(ok.input.duration, "2");
    }
}
