//! Values that can only exist valid.
//!
//! Every identifier, amount or contact detail that crosses the boundary from a
//! form, an import file or a connector is parsed here into a newtype once, and
//! the rest of the system works with the newtype. A value that exists has
//! passed its checks, so no handler needs to remember to re-check an INN or a
//! bank account before storing it.
//!
//! Parsing never panics and answers a [`ValueError`] whose [`ValueError::code`]
//! is machine-readable: the web layer looks the code up in its message
//! catalogue, so no user-facing text lives in Rust. `Display` is for logs and
//! documents. All values serialise as plain strings (except [`Kopecks`], an
//! integer) and deserialise through `parse`, so an invalid value cannot sneak
//! in through JSON either.
//!
//! The algorithms follow `shared/reference/integrations.md` §8.

use serde::Serialize;

mod contact;
mod ids;
mod money;
mod vat;
mod vehicle;
pub mod words;

pub use contact::{Email, PhoneNumber};
pub use ids::{Bik, CorrespondentAccount, Inn, InnKind, Kpp, Ogrn, OgrnKind, SettlementAccount};
pub use money::{Kopecks, VatMode};
pub use vat::{LegalModel, Revenue, VatRate, VatRateRow, VatTable, revenue};
pub use vehicle::{PlateKind, StatePlate, Vin};
pub use words::amount_in_words;

/// A yes or no as people and forms write it (`да`, `on`, `1`, `есть`…);
/// `None` when it is neither.
pub fn parse_yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_lowercase().as_str() {
        "1" | "true" | "on" | "да" | "yes" | "есть" => Some(true),
        "0" | "false" | "off" | "нет" | "no" => Some(false),
        _ => None,
    }
}

/// Why a value was rejected. The variant (see [`ValueError::code`]) and its
/// fields are what the message catalogue needs; `Display` is English for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ValueError {
    /// Nothing was entered.
    #[error("value is empty")]
    Empty,
    /// The value has the wrong number of characters (digits for numeric
    /// identifiers); `expected` lists the allowed lengths.
    #[error("wrong length, expected {expected:?}")]
    Length { expected: &'static [usize] },
    /// Characters or layout that the value never has (letters in an INN, a
    /// plate that matches no plate type, an e-mail without `@`, …).
    #[error("wrong format")]
    Format,
    /// The control digit or control key does not match the other digits:
    /// usually a typo.
    #[error("control digit does not match")]
    Checksum,
    /// The value must start with `expected` (`|` separates alternatives).
    #[error("must start with {expected}")]
    Prefix { expected: &'static str },
    /// The account does not belong to the bank with the given BIK.
    #[error("does not match the bank's BIK")]
    BikMismatch,
    /// The number is too large to be represented.
    #[error("number too large")]
    Overflow,
    /// A negative amount where only zero or more makes sense.
    #[error("must not be negative")]
    Negative,
    /// More decimal places than the value has (kopecks have two).
    #[error("too many decimal places")]
    Precision,
    /// Not one of the known codes (e.g. a VAT mode).
    #[error("unknown value")]
    Unknown,
}

impl ValueError {
    /// The machine-readable code, the key of the message catalogue entry.
    pub fn code(&self) -> &'static str {
        match self {
            ValueError::Empty => "empty",
            ValueError::Length { .. } => "length",
            ValueError::Format => "format",
            ValueError::Checksum => "checksum",
            ValueError::Prefix { .. } => "prefix",
            ValueError::BikMismatch => "bik_mismatch",
            ValueError::Overflow => "overflow",
            ValueError::Negative => "negative",
            ValueError::Precision => "precision",
            ValueError::Unknown => "unknown",
        }
    }
}

/// True for the separators people type or paste inside numbers: spaces,
/// no-break and thin spaces, tabs.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2007}')
}

/// Removes blanks and checks that what is left is ASCII digits of one of the
/// allowed lengths. Identifiers are often pasted with stray spaces.
fn digits(input: &str, lengths: &'static [usize]) -> Result<String, ValueError> {
    let s: String = input.chars().filter(|c| !is_blank(*c)).collect();
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::Format);
    }
    if !lengths.contains(&s.len()) {
        return Err(ValueError::Length { expected: lengths });
    }
    Ok(s)
}

/// The numeric values of a string of ASCII digits.
fn digit_values(s: &str) -> impl Iterator<Item = u32> + '_ {
    s.bytes().map(|b| u32::from(b.wrapping_sub(b'0')))
}

/// Implements `FromStr`, `AsRef<str>`, `Display` (when asked) and string serde
/// for a value with `parse(&str)` and `as_str()`.
macro_rules! string_value {
    ($t:ty) => {
        string_value!($t, no_display);
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    ($t:ty, no_display) => {
        impl std::str::FromStr for $t {
            type Err = $crate::values::ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_value;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_serialise_with_fields() {
        let e = ValueError::Length {
            expected: &[10, 12],
        };
        assert_eq!(e.code(), "length");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"length","expected":[10,12]}"#
        );
        assert_eq!(
            serde_json::to_string(&ValueError::BikMismatch).unwrap(),
            r#"{"code":"bik_mismatch"}"#
        );
        assert_eq!(ValueError::Prefix { expected: "04" }.code(), "prefix");
    }

    #[test]
    fn digits_strips_blanks() {
        assert_eq!(digits(" 77 07\u{a0}083893 ", &[10]).unwrap(), "7707083893");
        assert_eq!(digits("", &[10]), Err(ValueError::Empty));
        assert_eq!(digits("  ", &[10]), Err(ValueError::Empty));
        assert_eq!(digits("77O7083893", &[10]), Err(ValueError::Format));
        assert_eq!(
            digits("123", &[10]),
            Err(ValueError::Length { expected: &[10] })
        );
        // Non-ASCII digits are not digits here.
        assert_eq!(digits("٧٧٠٧٠٨٣٨٩٣", &[10]), Err(ValueError::Format));
    }
}
