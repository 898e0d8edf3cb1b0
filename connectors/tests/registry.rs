//! The DaData adapter against the fake DaData server.

use std::time::Duration;

use chrono::NaiveDate;
use connectors::registry::dadata::DadataRegistry;
use connectors::registry::{CompanyKind, CompanyRegistry, CompanyStatus, LegalForm, RegistryError};
use connectors::{Connectors, ConnectorsConfig};
use fakes::{FakeDadata, HttpFault};

const KEY: &str = "test-key";

async fn setup() -> (FakeDadata, DadataRegistry) {
    let fake = FakeDadata::start(KEY).await.unwrap();
    let mut config = fake.config(KEY);
    config.timeout = Duration::from_millis(300);
    let registry = DadataRegistry::new(config).unwrap();
    (fake, registry)
}

#[tokio::test]
async fn finds_a_company_head_office() {
    let (fake, dadata) = setup().await;
    assert!(dadata.is_configured());
    let sber = dadata.find_by_inn("7707083893").await.unwrap().unwrap();
    assert_eq!(sber.inn, "7707083893");
    assert_eq!(
        sber.kpp.as_deref(),
        Some("773601001"),
        "the head office, not a branch"
    );
    assert_eq!(sber.ogrn.as_deref(), Some("1027700132195"));
    assert_eq!(sber.kind, CompanyKind::Legal);
    assert_eq!(sber.legal_form, Some(LegalForm::Pao));
    assert_eq!(sber.short_name.as_deref(), Some("ПАО СБЕРБАНК"));
    assert!(sber.full_name.starts_with("ПУБЛИЧНОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО"));
    assert_eq!(sber.director_name.as_deref(), Some("Греф Герман Оскарович"));
    assert!(sber.director_post.as_deref().unwrap().contains("ПРЕЗИДЕНТ"));
    let address = sber.address.unwrap();
    assert_eq!(address.value, "г Москва, ул Вавилова, д 19");
    assert_eq!(address.postal_code.as_deref(), Some("117312"));
    assert_eq!(address.region.as_deref(), Some("г Москва"));
    assert_eq!(sber.status, Some(CompanyStatus::Active));
    assert_eq!(sber.registration_date, NaiveDate::from_ymd_opt(1991, 6, 20));

    // The request had the documented shape.
    let requests = fake.requests();
    assert_eq!(requests.last().unwrap()["query"], "7707083893");
    assert_eq!(requests.last().unwrap()["branch_type"], "MAIN");

    let yandex = dadata.find_by_inn(" 7736207543 ").await.unwrap().unwrap();
    assert_eq!(yandex.legal_form, Some(LegalForm::Ooo));
    assert_eq!(yandex.registration_date, None, "missing fields stay empty");
}

#[tokio::test]
async fn finds_the_active_record_of_a_sole_proprietor() {
    let (_fake, dadata) = setup().await;
    let ip = dadata.find_by_inn("500301234503").await.unwrap().unwrap();
    assert_eq!(ip.kind, CompanyKind::Individual);
    assert_eq!(ip.legal_form, Some(LegalForm::Ip));
    assert_eq!(
        ip.ogrn.as_deref(),
        Some("318502700012349"),
        "the active record"
    );
    assert_eq!(ip.status, Some(CompanyStatus::Active));
    assert_eq!(ip.kpp, None);
    assert_eq!(ip.director_name.as_deref(), Some("Иванов Иван Иванович"));
    assert_eq!(ip.registration_date, NaiveDate::from_ymd_opt(2018, 2, 7));
}

#[tokio::test]
async fn unknown_inn_is_none_and_bad_input_asks_nothing() {
    let (fake, dadata) = setup().await;
    assert_eq!(dadata.find_by_inn("7704211201").await, Ok(None));
    let before = fake.requests().len();
    assert_eq!(
        dadata.find_by_inn("77070838").await,
        Err(RegistryError::InvalidQuery)
    );
    assert_eq!(
        dadata.find_by_inn("77070838ab").await,
        Err(RegistryError::InvalidQuery)
    );
    assert_eq!(
        dadata.find_bank_by_bik("0445").await,
        Err(RegistryError::InvalidQuery)
    );
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test]
async fn finds_a_bank_by_bik() {
    let (_fake, dadata) = setup().await;
    let bank = dadata.find_bank_by_bik("044525225").await.unwrap().unwrap();
    assert_eq!(bank.bik, "044525225");
    assert_eq!(bank.name, "ПАО СБЕРБАНК");
    assert_eq!(
        bank.correspondent_account.as_deref(),
        Some("30101810400000000225")
    );
    assert_eq!(bank.inn.as_deref(), Some("7707083893"));
    let tbank = dadata.find_bank_by_bik("044525974").await.unwrap().unwrap();
    assert_eq!(
        tbank.correspondent_account.as_deref(),
        Some("30101810145250000974")
    );
    assert_eq!(dadata.find_bank_by_bik("044525999").await, Ok(None));
}

#[tokio::test]
async fn rejected_key_is_unauthorized() {
    let fake = FakeDadata::start(KEY).await.unwrap();
    let wrong = DadataRegistry::new(fake.config("wrong-key")).unwrap();
    assert_eq!(
        wrong.find_by_inn("7707083893").await,
        Err(RegistryError::Unauthorized(401))
    );
    let empty = DadataRegistry::new(fake.config("")).unwrap();
    assert_eq!(
        empty.find_bank_by_bik("044525225").await,
        Err(RegistryError::Unauthorized(401))
    );
}

#[tokio::test]
async fn rate_limits_server_errors_and_timeouts() {
    let (fake, dadata) = setup().await;
    fake.push_fault(HttpFault::TooManyRequests { retry_after: 2 });
    assert_eq!(
        dadata.find_by_inn("7707083893").await,
        Err(RegistryError::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        })
    );
    fake.push_fault(HttpFault::Status(500));
    assert_eq!(
        dadata.find_by_inn("7707083893").await,
        Err(RegistryError::Unavailable(500))
    );
    fake.push_fault(HttpFault::Status(503));
    assert_eq!(
        dadata.find_bank_by_bik("044525225").await,
        Err(RegistryError::Unavailable(503))
    );
    fake.push_fault(HttpFault::Status(413));
    assert!(matches!(
        dadata.find_by_inn("7707083893").await,
        Err(RegistryError::BadResponse(_))
    ));
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    assert_eq!(
        dadata.find_by_inn("7707083893").await,
        Err(RegistryError::Timeout)
    );
    // Sticky faults last until cleared.
    fake.set_fault(Some(HttpFault::Status(502)));
    assert!(dadata.find_by_inn("7707083893").await.is_err());
    assert!(dadata.find_by_inn("7707083893").await.is_err());
    fake.set_fault(None);
    assert!(dadata.find_by_inn("7707083893").await.unwrap().is_some());
}

#[tokio::test]
async fn unreachable_registry_is_a_network_error() {
    let fake = FakeDadata::start(KEY).await.unwrap();
    let config = fake.config(KEY);
    drop(fake);
    let dadata = DadataRegistry::new(config).unwrap();
    let r = dadata.find_by_inn("7707083893").await;
    assert!(matches!(r, Err(RegistryError::Network(_))), "{r:?}");
    assert_eq!(r.unwrap_err().code(), "network");
}

#[tokio::test]
async fn connectors_choose_manual_entry_without_a_key() {
    let offline = Connectors::from_config(&ConnectorsConfig::default()).unwrap();
    assert!(!offline.registry.is_configured());
    assert_eq!(offline.registry.find_by_inn("7707083893").await, Ok(None));
    assert!(offline.transports.configured().is_empty());

    let fake = FakeDadata::start(KEY).await.unwrap();
    let base = fake.base_url();
    let config = ConnectorsConfig::from_lookup(|name| match name {
        "PODRYAD_DADATA_API_KEY" => Some(KEY.to_string()),
        "PODRYAD_DADATA_URL" => Some(base.clone()),
        _ => None,
    })
    .unwrap();
    let online = Connectors::from_config(&config).unwrap();
    assert!(online.registry.is_configured());
    let found = online.registry.find_by_inn("7736207543").await.unwrap();
    assert_eq!(found.unwrap().inn, "7736207543");
}
