//! DaData's "find by id" API (`integrations.md` §9).
//!
//! `POST {base}/findById/party` with `{"query": inn, "branch_type": "MAIN"}`
//! and `POST {base}/findById/bank` with `{"query": bik}`, authorised by
//! `Authorization: Token <API key>`. Nothing found is HTTP 200 with an empty
//! `suggestions` list. Only the fields we show are read; everything else in
//! DaData's rich answer is ignored, and every field is optional, because the
//! set of fields depends on the customer's plan.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{
    Address, BankSummary, CompanyKind, CompanyRegistry, CompanyStatus, CompanySummary, LegalForm,
    RegistryError, is_digits,
};
use crate::config::{ConfigError, DadataConfig};
use crate::http::ProviderError;

/// The DaData adapter.
#[derive(Debug)]
pub struct DadataRegistry {
    client: DadataClient,
}

/// DaData's suggestions API as every DaData adapter calls it (the company
/// registry here, address suggestions in [`crate::geo::dadata`]): one HTTP
/// client with the configured timeout, `Authorization: Token <API key>`,
/// JSON in and out, errors as [`ProviderError`] kinds.
pub(crate) struct DadataClient {
    client: reqwest::Client,
    config: DadataConfig,
}

impl std::fmt::Debug for DadataClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DadataClient")
            .field("config", &self.config)
            .finish()
    }
}

impl DadataClient {
    pub(crate) fn new(config: DadataConfig) -> Result<DadataClient, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_DADATA_URL", e))?;
        Ok(DadataClient { client, config })
    }

    /// `POST {base}/{path}` with `body`; the answer's JSON as `T`.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ProviderError> {
        crate::http::json(
            self.client
                .post(format!("{}/{path}", self.config.base_url))
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("Token {}", self.config.api_key),
                )
                .json(body),
        )
        .await
    }
}

#[derive(Debug, Default, Deserialize)]
struct Suggestions<T> {
    #[serde(default = "Vec::new")]
    suggestions: Vec<Suggestion<T>>,
}

#[derive(Debug, Deserialize)]
struct Suggestion<T> {
    #[serde(default)]
    value: Option<String>,
    data: T,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Party {
    inn: Option<String>,
    kpp: Option<String>,
    ogrn: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    branch_type: Option<String>,
    name: Option<PartyName>,
    fio: Option<Fio>,
    opf: Option<Opf>,
    management: Option<Management>,
    address: Option<DadataAddress>,
    state: Option<State>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PartyName {
    full_with_opf: Option<String>,
    short_with_opf: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fio {
    surname: Option<String>,
    name: Option<String>,
    patronymic: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Opf {
    code: Option<String>,
    short: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Management {
    name: Option<String>,
    post: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DadataAddress {
    value: Option<String>,
    data: Option<AddressData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AddressData {
    postal_code: Option<String>,
    region_with_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct State {
    status: Option<String>,
    registration_date: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Bank {
    bic: Option<String>,
    correspondent_account: Option<String>,
    name: Option<BankName>,
    inn: Option<String>,
    kpp: Option<String>,
    address: Option<DadataAddress>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BankName {
    payment: Option<String>,
    short: Option<String>,
}

/// Our legal form from DaData's `opf` (short name first, then the ОКОПФ
/// code). ЗАО and НАО are non-public joint-stock companies (АО). ОАО is
/// left unmapped: a pre-2014 open company may be public or not, and the
/// person should choose.
fn legal_form(kind: CompanyKind, opf: Option<&Opf>) -> Option<LegalForm> {
    let short = opf
        .and_then(|o| o.short.as_deref())
        .map(|s| s.trim().to_uppercase());
    let code = opf.and_then(|o| o.code.as_deref()).map(str::trim);
    let by_short = match short.as_deref() {
        Some("ООО") => Some(LegalForm::Ooo),
        Some("АО" | "ЗАО" | "НАО") => Some(LegalForm::Ao),
        Some("ПАО") => Some(LegalForm::Pao),
        Some("ИП") => Some(LegalForm::Ip),
        _ => None,
    };
    let by_code = match code {
        Some("12300") => Some(LegalForm::Ooo),
        Some("12267" | "12200") => Some(LegalForm::Ao),
        Some("12247") => Some(LegalForm::Pao),
        Some("50102") => Some(LegalForm::Ip),
        _ => None,
    };
    by_short.or(by_code).or(match (kind, opf) {
        // An ИП entry without an `opf` block.
        (CompanyKind::Individual, None) => Some(LegalForm::Ip),
        _ => None,
    })
}

fn status(s: Option<&str>) -> Option<CompanyStatus> {
    match s? {
        "ACTIVE" => Some(CompanyStatus::Active),
        "LIQUIDATING" => Some(CompanyStatus::Liquidating),
        "LIQUIDATED" => Some(CompanyStatus::Liquidated),
        "BANKRUPT" => Some(CompanyStatus::Bankrupt),
        "REORGANIZING" => Some(CompanyStatus::Reorganizing),
        _ => None,
    }
}

/// A DaData date (milliseconds since the epoch) as a date in Moscow, where
/// the registry lives: DaData stores midnight UTC, and reading it at UTC+3
/// also gives the right day for a Moscow-midnight timestamp.
fn date(ms: Option<i64>) -> Option<NaiveDate> {
    let moscow = FixedOffset::east_opt(3 * 3600)?;
    DateTime::from_timestamp_millis(ms?).map(|t| t.with_timezone(&moscow).date_naive())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn address(a: Option<DadataAddress>) -> Option<Address> {
    let a = a?;
    let value = non_empty(a.value)?;
    let data = a.data.unwrap_or_default();
    Some(Address {
        value,
        postal_code: non_empty(data.postal_code),
        region: non_empty(data.region_with_type),
    })
}

fn summary(fallback_name: Option<String>, p: Party) -> CompanySummary {
    let kind = match p.kind.as_deref() {
        Some("INDIVIDUAL") => CompanyKind::Individual,
        _ => CompanyKind::Legal,
    };
    let legal_form = legal_form(kind, p.opf.as_ref());
    let name = p.name.unwrap_or_default();
    let fio = p.fio.map(|f| {
        [f.surname, f.name, f.patronymic]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let management = p.management.unwrap_or_default();
    let director_name = non_empty(management.name).or_else(|| match kind {
        CompanyKind::Individual => non_empty(fio),
        CompanyKind::Legal => None,
    });
    let state = p.state.unwrap_or_default();
    let short_name = non_empty(name.short_with_opf);
    CompanySummary {
        inn: p.inn.unwrap_or_default(),
        kpp: non_empty(p.kpp),
        ogrn: non_empty(p.ogrn),
        kind,
        full_name: non_empty(name.full_with_opf)
            .or_else(|| short_name.clone())
            .or_else(|| non_empty(fallback_name))
            .unwrap_or_default(),
        short_name,
        legal_form,
        director_name,
        director_post: non_empty(management.post),
        address: address(p.address),
        status: status(state.status.as_deref()),
        registration_date: date(state.registration_date),
    }
}

impl DadataRegistry {
    pub fn new(config: DadataConfig) -> Result<DadataRegistry, ConfigError> {
        Ok(DadataRegistry {
            client: DadataClient::new(config)?,
        })
    }

    async fn find<T: DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<Vec<Suggestion<T>>, RegistryError> {
        let parsed: Suggestions<T> = self.client.post(path, &body).await?;
        Ok(parsed.suggestions)
    }
}

#[async_trait]
impl CompanyRegistry for DadataRegistry {
    fn is_configured(&self) -> bool {
        true
    }

    async fn find_by_inn(&self, inn: &str) -> Result<Option<CompanySummary>, RegistryError> {
        let inn = inn.trim();
        if !is_digits(inn, &[10, 12]) {
            return Err(RegistryError::InvalidQuery);
        }
        // Organisations have branches, and only the head office is wanted;
        // a sole proprietor has no branches, so the filter is not sent.
        let body = if inn.len() == 10 {
            json!({ "query": inn, "branch_type": "MAIN" })
        } else {
            json!({ "query": inn })
        };
        let found: Vec<Suggestion<Party>> = self.find("findById/party", body).await?;
        // The same INN can carry several records (an ИП registered again
        // after closing): prefer the active head office.
        let mut candidates: Vec<Suggestion<Party>> = found
            .into_iter()
            .filter(|s| s.data.inn.as_deref() == Some(inn))
            .filter(|s| s.data.branch_type.as_deref().is_none_or(|b| b == "MAIN"))
            .collect();
        let active = candidates
            .iter()
            .position(|s| {
                s.data.state.as_ref().and_then(|st| st.status.as_deref()) == Some("ACTIVE")
            })
            .unwrap_or(0);
        if candidates.is_empty() {
            return Ok(None);
        }
        let chosen = candidates.swap_remove(active);
        Ok(Some(summary(chosen.value, chosen.data)))
    }

    async fn find_bank_by_bik(&self, bik: &str) -> Result<Option<BankSummary>, RegistryError> {
        let bik = bik.trim();
        if !is_digits(bik, &[9]) {
            return Err(RegistryError::InvalidQuery);
        }
        let found: Vec<Suggestion<Bank>> =
            self.find("findById/bank", json!({ "query": bik })).await?;
        Ok(found
            .into_iter()
            .find(|s| s.data.bic.as_deref() == Some(bik))
            .map(|s| {
                let name = s.data.name.unwrap_or_default();
                BankSummary {
                    bik: bik.to_string(),
                    name: non_empty(name.payment)
                        .or_else(|| non_empty(name.short))
                        .or_else(|| non_empty(s.value))
                        .unwrap_or_default(),
                    correspondent_account: non_empty(s.data.correspondent_account),
                    inn: non_empty(s.data.inn),
                    kpp: non_empty(s.data.kpp),
                    address: s.data.address.and_then(|a| non_empty(a.value)),
                }
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_forms() {
        let opf = |short: &str, code: &str| Opf {
            short: Some(short.into()),
            code: Some(code.into()),
        };
        let legal = CompanyKind::Legal;
        assert_eq!(
            legal_form(legal, Some(&opf("ООО", "12300"))),
            Some(LegalForm::Ooo)
        );
        assert_eq!(
            legal_form(legal, Some(&opf("ПАО", "12247"))),
            Some(LegalForm::Pao)
        );
        assert_eq!(
            legal_form(legal, Some(&opf("АО", "12267"))),
            Some(LegalForm::Ao)
        );
        assert_eq!(
            legal_form(legal, Some(&opf("ЗАО", "67"))),
            Some(LegalForm::Ao)
        );
        assert_eq!(
            legal_form(legal, Some(&opf("", "12300"))),
            Some(LegalForm::Ooo)
        );
        assert_eq!(legal_form(legal, Some(&opf("ОАО", "47"))), None);
        assert_eq!(legal_form(legal, Some(&opf("АНО", "71400"))), None);
        assert_eq!(legal_form(legal, None), None);
        let ip = CompanyKind::Individual;
        assert_eq!(
            legal_form(ip, Some(&opf("ИП", "50102"))),
            Some(LegalForm::Ip)
        );
        assert_eq!(legal_form(ip, None), Some(LegalForm::Ip));
        // A farm head (глава КФХ) is an individual entry but not an ИП form.
        assert_eq!(legal_form(ip, Some(&opf("ГКФХ", "50101"))), None);
    }

    #[test]
    fn dates_are_moscow_days() {
        // 2002-08-16 00:00 UTC and 2002-08-15 21:00 UTC (Moscow midnight).
        assert_eq!(
            date(Some(1_029_456_000_000)),
            NaiveDate::from_ymd_opt(2002, 8, 16)
        );
        assert_eq!(
            date(Some(1_029_445_200_000)),
            NaiveDate::from_ymd_opt(2002, 8, 16)
        );
        assert_eq!(date(None), None);
        assert_eq!(date(Some(i64::MAX)), None);
    }
}
