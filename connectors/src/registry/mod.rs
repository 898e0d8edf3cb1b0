//! Company and bank lookup: fills a registration form from an INN or a BIK.
//!
//! The lookup only *suggests*: the person still sees and may correct every
//! field, and the domain validates what is submitted. So a registry that is
//! not configured ([`ManualEntry`]) or fails (any [`RegistryError`]) never
//! blocks registration — the form simply stays manual.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub mod dadata;

/// Legal forms as stored in `organisations.legal_form`. Only the forms a
/// registry can name; self-employed people and private persons are not in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalForm {
    /// ООО.
    Ooo,
    /// АО (non-public joint-stock company, including former ЗАО).
    Ao,
    /// ПАО.
    Pao,
    /// ИП.
    Ip,
}

impl LegalForm {
    pub fn as_str(self) -> &'static str {
        match self {
            LegalForm::Ooo => "ooo",
            LegalForm::Ao => "ao",
            LegalForm::Pao => "pao",
            LegalForm::Ip => "ip",
        }
    }
}

/// Whether the registry entry is an organisation or a sole proprietor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyKind {
    Legal,
    Individual,
}

/// The registry's status of a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Active,
    Liquidating,
    Liquidated,
    Bankrupt,
    Reorganizing,
}

impl CompanyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CompanyStatus::Active => "active",
            CompanyStatus::Liquidating => "liquidating",
            CompanyStatus::Liquidated => "liquidated",
            CompanyStatus::Bankrupt => "bankrupt",
            CompanyStatus::Reorganizing => "reorganizing",
        }
    }
}

/// A postal address as the registry gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// One line: `г Москва, ул Вавилова, д 19`.
    pub value: String,
    pub postal_code: Option<String>,
    /// `г Москва`, `Московская обл`.
    pub region: Option<String>,
}

/// What the registry knows about a company, for filling in a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanySummary {
    pub inn: String,
    /// Organisations only.
    pub kpp: Option<String>,
    /// ОГРН or ОГРНИП.
    pub ogrn: Option<String>,
    pub kind: CompanyKind,
    /// Full name with the legal form: `ПУБЛИЧНОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО "СБЕРБАНК РОССИИ"`.
    pub full_name: String,
    /// Short name with the legal form: `ПАО СБЕРБАНК`.
    pub short_name: Option<String>,
    /// `None` for forms we do not model (cooperatives, non-profits, ОАО…).
    pub legal_form: Option<LegalForm>,
    /// The head (or, for an ИП, the proprietor).
    pub director_name: Option<String>,
    pub director_post: Option<String>,
    pub address: Option<Address>,
    pub status: Option<CompanyStatus>,
    pub registration_date: Option<NaiveDate>,
}

/// A bank, for filling in bank details from a BIK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankSummary {
    pub bik: String,
    /// The name for payment orders: `ПАО СБЕРБАНК`.
    pub name: String,
    pub correspondent_account: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub address: Option<String>,
}

/// Why a lookup failed. [`RegistryError::code`] is for the message catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Not an INN / BIK shape; nothing was asked.
    #[error("invalid query")]
    InvalidQuery,
    /// The API key is missing, wrong or not allowed this API (401/403).
    #[error("registry rejected the API key (HTTP {0})")]
    Unauthorized(u16),
    /// Too many requests (429); `retry_after` when the registry said.
    #[error("registry rate limit")]
    RateLimited { retry_after: Option<Duration> },
    /// The registry is down (5xx).
    #[error("registry unavailable (HTTP {0})")]
    Unavailable(u16),
    #[error("registry did not answer in time")]
    Timeout,
    #[error("cannot reach the registry: {0}")]
    Network(String),
    /// An answer we do not understand (an unexpected status or JSON).
    #[error("unexpected registry answer: {0}")]
    BadResponse(String),
}

impl From<crate::http::ProviderError> for RegistryError {
    fn from(e: crate::http::ProviderError) -> RegistryError {
        use crate::http::ProviderError as P;
        match e {
            P::Unauthorized(s) => RegistryError::Unauthorized(s),
            P::RateLimited { retry_after } => RegistryError::RateLimited { retry_after },
            P::Unavailable(s) => RegistryError::Unavailable(s),
            P::Timeout => RegistryError::Timeout,
            P::Network(m) => RegistryError::Network(m),
            P::BadResponse(m) => RegistryError::BadResponse(m),
        }
    }
}

impl RegistryError {
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::InvalidQuery => "invalid_query",
            RegistryError::Unauthorized(_) => "unauthorized",
            RegistryError::RateLimited { .. } => "rate_limited",
            RegistryError::Unavailable(_) => "unavailable",
            RegistryError::Timeout => "timeout",
            RegistryError::Network(_) => "network",
            RegistryError::BadResponse(_) => "bad_response",
        }
    }
}

/// Looks companies and banks up in a registry.
#[async_trait]
pub trait CompanyRegistry: Send + Sync + 'static {
    /// False for [`ManualEntry`]: the form should not offer auto-fill.
    fn is_configured(&self) -> bool;

    /// The head office of the company or the ИП with this INN (10 or 12
    /// digits); `Ok(None)` when the registry has no such company.
    async fn find_by_inn(&self, inn: &str) -> Result<Option<CompanySummary>, RegistryError>;

    /// The bank with this BIK (9 digits).
    async fn find_bank_by_bik(&self, bik: &str) -> Result<Option<BankSummary>, RegistryError>;
}

/// No registry: the person types the details. Always answers `Ok(None)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualEntry;

#[async_trait]
impl CompanyRegistry for ManualEntry {
    fn is_configured(&self) -> bool {
        false
    }

    async fn find_by_inn(&self, _inn: &str) -> Result<Option<CompanySummary>, RegistryError> {
        Ok(None)
    }

    async fn find_bank_by_bik(&self, _bik: &str) -> Result<Option<BankSummary>, RegistryError> {
        Ok(None)
    }
}

/// True for `len` ASCII digits.
pub(crate) fn is_digits(s: &str, lengths: &[usize]) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_entry_knows_nothing() {
        let r = ManualEntry;
        assert!(!r.is_configured());
        assert_eq!(r.find_by_inn("7707083893").await, Ok(None));
        assert_eq!(r.find_bank_by_bik("044525225").await, Ok(None));
    }

    #[test]
    fn error_codes() {
        assert_eq!(RegistryError::Unauthorized(401).code(), "unauthorized");
        assert_eq!(
            RegistryError::RateLimited { retry_after: None }.code(),
            "rate_limited"
        );
        assert_eq!(LegalForm::Pao.as_str(), "pao");
        assert_eq!(CompanyStatus::Reorganizing.as_str(), "reorganizing");
    }
}
