//! The geocoders (DaData address suggestions, Nominatim) against their
//! fake servers: suggestions parsed with their coordinates and precision,
//! the key / User-Agent sent, failures as clear error kinds.

use std::time::Duration;

use connectors::geo::dadata::DadataAddress;
use connectors::geo::nominatim::Nominatim;
use connectors::geo::{GeoError, Geocoder, Precision};
use connectors::{Connectors, ConnectorsConfig};
use fakes::{FakeDadataAddress, FakeNominatim, HttpFault};

const KEY: &str = "geo-key";

async fn dadata() -> (FakeDadataAddress, DadataAddress) {
    let fake = FakeDadataAddress::start(KEY).await.unwrap();
    let mut config = fake.config(KEY);
    config.timeout = Duration::from_millis(300);
    let geo = DadataAddress::new(config).unwrap();
    (fake, geo)
}

async fn nominatim() -> (FakeNominatim, Nominatim) {
    let fake = FakeNominatim::start().await.unwrap();
    let mut config = fake.config();
    config.timeout = Duration::from_millis(300);
    let geo = Nominatim::new(&config).unwrap();
    (fake, geo)
}

#[tokio::test]
async fn dadata_suggests_addresses_with_coordinates() {
    let (fake, geo) = dadata().await;
    assert!(geo.is_configured());
    let found = geo.suggest("москва тверская 7", 5).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let s = &found[0];
    assert_eq!(s.value, "г Москва, ул Тверская, д 7");
    assert_eq!(s.lat, Some(55.7578));
    assert_eq!(s.lon, Some(37.6117));
    assert_eq!(s.precision, Some(Precision::House));
    assert_eq!(s.region.as_deref(), Some("г Москва"));
    assert!(s.place_id.is_some());
    // The documented request: the query and the count, with the key.
    let sent = fake.requests();
    assert_eq!(sent.last().unwrap()["query"], "москва тверская 7");
    assert_eq!(sent.last().unwrap()["count"], 5);

    // A street is a street; an address DaData has no point for has none.
    let street = geo.suggest("Тверская", 10).await.unwrap();
    assert!(street.len() >= 3, "{street:?}");
    let whole = street
        .iter()
        .find(|s| s.value == "г Москва, ул Тверская")
        .unwrap();
    assert_eq!(whole.precision, Some(Precision::Street));
    let unknown = geo.suggest("Проектируемая", 5).await.unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!((unknown[0].lat, unknown[0].precision), (None, None));

    // Nothing is asked for one or two letters.
    let before = fake.requests().len();
    assert_eq!(geo.suggest(" Мо ", 5).await, Ok(vec![]));
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test]
async fn dadata_geocodes_a_typed_address_as_its_first_suggestion_with_a_point() {
    let (_fake, geo) = dadata().await;
    let p = geo
        .geocode("Подольск, ул. Лобачева, 12")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.value, "Московская обл, г Подольск, ул Лобачёва, д 12");
    assert!((p.lat - 55.4268).abs() < 1e-9 && (p.lon - 37.5443).abs() < 1e-9);
    assert_eq!(p.precision, Precision::House);
    assert_eq!(geo.geocode("Проектируемая").await, Ok(None), "no point");
    assert_eq!(geo.geocode("Нигдеград, ул Нет").await, Ok(None));
}

#[tokio::test]
async fn dadata_failures_are_error_kinds() {
    let (fake, geo) = dadata().await;
    let wrong = DadataAddress::new(fake.config("wrong")).unwrap();
    assert_eq!(
        wrong.suggest("Тверская", 5).await,
        Err(GeoError::Unauthorized(401))
    );
    fake.push_fault(HttpFault::TooManyRequests { retry_after: 3 });
    assert_eq!(
        geo.suggest("Тверская", 5).await,
        Err(GeoError::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        })
    );
    fake.push_fault(HttpFault::Status(502));
    assert_eq!(
        geo.geocode("Тверская 7").await,
        Err(GeoError::Unavailable(502))
    );
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    let r = geo.suggest("Тверская", 5).await;
    assert_eq!(r, Err(GeoError::Timeout));
    assert_eq!(r.unwrap_err().code(), "timeout");
    // After the faults it answers again.
    assert_eq!(geo.suggest("Тверская 7", 5).await.unwrap().len(), 1);
}

#[tokio::test]
async fn nominatim_searches_with_our_user_agent() {
    let (fake, geo) = nominatim().await;
    let found = geo.suggest("Мытищи Колпакова 2", 3).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].value,
        "Московская обл, г Мытищи, ул Колпакова, д 2"
    );
    assert_eq!((found[0].lat, found[0].lon), (Some(55.9118), Some(37.7305)));
    assert_eq!(found[0].precision, Some(Precision::House));
    let sent = fake.requests();
    let last = sent.last().unwrap();
    assert_eq!(last["format"], "jsonv2");
    assert_eq!(last["countrycodes"], "ru");
    assert_eq!(last["q"], "Мытищи Колпакова 2");
    assert_eq!(last["limit"], "3");
    assert!(
        last["user_agent"].as_str().unwrap().starts_with("Podryad/"),
        "{last}"
    );
    let p = geo.geocode("Москва, Вавилова 19").await.unwrap().unwrap();
    assert_eq!((p.lat, p.lon), (55.7003, 37.5786));
    // A town alone is the town: coarse, but still a point for distances.
    let town = geo.geocode("Москва").await.unwrap().unwrap();
    assert_eq!(town.value, "г Москва");
    assert_eq!(town.precision, Precision::City);
    assert_eq!(geo.geocode("Нигдеград").await, Ok(None));
}

#[tokio::test]
async fn nominatim_failures_are_error_kinds() {
    let (fake, geo) = nominatim().await;
    fake.push_fault(HttpFault::Status(503));
    assert_eq!(
        geo.suggest("Тверская", 5).await,
        Err(GeoError::Unavailable(503))
    );
    fake.push_fault(HttpFault::TooManyRequests { retry_after: 1 });
    assert!(matches!(
        geo.suggest("Тверская", 5).await,
        Err(GeoError::RateLimited { .. })
    ));
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    assert_eq!(geo.geocode("Тверская 7").await, Err(GeoError::Timeout));
    // Without a User-Agent the real Nominatim blocks the request.
    let mut anonymous = fake.config();
    anonymous.user_agent = String::new();
    let anonymous = Nominatim::new(&anonymous).unwrap();
    assert_eq!(
        anonymous.suggest("Тверская", 5).await,
        Err(GeoError::Unauthorized(403))
    );
    drop(fake);
    assert!(matches!(
        geo.suggest("Тверская", 5).await,
        Err(GeoError::Network(_))
    ));
}

#[tokio::test]
async fn connectors_pick_the_configured_geocoder() {
    let offline = Connectors::from_config(&ConnectorsConfig::default()).unwrap();
    assert!(!offline.geocoder.is_configured());
    assert_eq!(offline.geocoder.suggest("Тверская", 5).await, Ok(vec![]));

    let fake = FakeDadataAddress::start(KEY).await.unwrap();
    let base = fake.config(KEY).base_url;
    let config = ConnectorsConfig::from_lookup(|name| match name {
        "PODRYAD_DADATA_API_KEY" => Some(KEY.to_string()),
        "PODRYAD_DADATA_URL" => Some(base.clone()),
        _ => None,
    })
    .unwrap();
    let online = Connectors::from_config(&config).unwrap();
    assert!(online.geocoder.is_configured());
    let found = online.geocoder.suggest("Складочная", 5).await.unwrap();
    assert_eq!(found[0].value, "г Москва, ул Складочная, д 1");

    let osm = FakeNominatim::start().await.unwrap();
    let url = osm.config().base_url;
    let config = ConnectorsConfig::from_lookup(|name| match name {
        "PODRYAD_GEOCODER" => Some("nominatim".into()),
        "PODRYAD_NOMINATIM_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let online = Connectors::from_config(&config).unwrap();
    let p = online.geocoder.geocode("Химки Ленина 7").await.unwrap();
    assert_eq!(p.unwrap().lat, 55.8887);
}
