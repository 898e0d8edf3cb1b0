//! Suppliers and clients as parties to the brokerage: self-registration,
//! company details (checked: INN, KPP, OGRN, bank account against BIK),
//! e-mail confirmation, moderation of suppliers on the onboarding workflow,
//! and the history of every change of details.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use engine::{ObjectRef, Sql, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, scope};
use crate::accounts::{MIN_PASSWORD_LEN, NewUser, PasswordHash, insert_user};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::notify::{self, NewNotification};
use crate::parties::orgs::{self, NewOrganisation};
use crate::services::Services;
use crate::values::{
    Bik, CorrespondentAccount, Email, Inn, InnKind, Kpp, Ogrn, OgrnKind, PhoneNumber,
    SettlementAccount, VatMode,
};
use crate::{access::audit, accounts::tokens, args};

/// The workflow that moderates suppliers.
pub const ONBOARDING: &str = "supplier_onboarding";

mod details;
mod listing;
mod lookup;
mod moderation;
mod registration;

pub use details::*;
pub use listing::*;
pub use lookup::*;
pub use moderation::*;
pub use registration::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn sber() -> CompanyInput {
        CompanyInput {
            legal_form: "pao".into(),
            name: "ПАО Сбербанк".into(),
            inn: "7707083893".into(),
            kpp: "773601001".into(),
            ogrn: "1027700132195".into(),
            legal_address: "г. Москва, ул. Вавилова, д. 19".into(),
            bank_name: "ПАО Сбербанк".into(),
            bik: "044525225".into(),
            settlement_account: "40702810200000012345".into(),
            corr_account: "30101810400000000225".into(),
            vat_mode: "vat22".into(),
            phone: "+7 495 500-55-50".into(),
            email: "Info@Sber.test".into(),
            ..Default::default()
        }
    }

    #[test]
    fn real_company_details_pass_and_are_normalised() {
        let d = sber().validate(Strictness::Supplier).expect("valid");
        assert_eq!(d.phone.as_deref(), Some("+74955005550"));
        assert_eq!(d.email.as_deref(), Some("info@sber.test"));
    }

    #[test]
    fn each_wrong_field_is_named() {
        let mut i = sber();
        i.inn = "7707083894".into();
        i.settlement_account = "40702810300000012345".into();
        i.kpp = "77360100".into();
        i.vat_mode = "".into();
        let e = i.validate(Strictness::Supplier).expect_err("invalid");
        assert_eq!(e.get("inn"), Some("inn.checksum"));
        assert_eq!(e.get("settlement_account"), Some("account.key_mismatch"));
        assert!(e.get("kpp").is_some_and(|c| c.starts_with("kpp.")));
        assert_eq!(e.get("vat_mode"), Some("required"));
    }

    #[test]
    fn a_sole_proprietor_needs_a_12_digit_inn_and_an_ogrnip() {
        let mut i = sber();
        i.legal_form = "ip".into();
        i.kpp = String::new();
        let e = i.validate(Strictness::Supplier).expect_err("invalid");
        assert_eq!(e.get("inn"), Some("inn.needs_12"));
        assert!(e.get("ogrn").is_some_and(|c| c.starts_with("ogrn.")));
    }

    #[test]
    fn a_private_client_needs_only_name_phone_and_email() {
        let i = CompanyInput {
            legal_form: "person".into(),
            name: "Иван Петров".into(),
            phone: "89161234567".into(),
            email: "ivan@example.test".into(),
            ..Default::default()
        };
        assert!(i.validate(Strictness::Client).is_ok());
        assert!(i.validate(Strictness::Supplier).is_err());
    }
}
