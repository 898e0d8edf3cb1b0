//! Addresses (issue 11, point 6): suggestions while typing from the
//! configured geocoder (the fake DaData here), and coordinates for an
//! address typed without picking one, so matching shows a distance for a
//! web request instead of «—». Visitors never see coordinate inputs; staff
//! keep them as a fallback.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DEMO_PASSWORD, TestApp};

const KEY: &str = "geo-key";

async fn app_with_geocoder() -> (fakes::FakeDadataAddress, TestApp) {
    let fake = fakes::FakeDadataAddress::start(KEY)
        .await
        .expect("fake DaData");
    let config = connectors::ConnectorsConfig {
        geocoder: Some(connectors::config::GeocoderConfig::Dadata(fake.config(KEY))),
        ..Default::default()
    };
    let app = TestApp::spawn_demo_with_connectors(
        connectors::Connectors::from_config(&config).expect("connectors"),
    )
    .await;
    (fake, app)
}

/// A Moscow date-time `days` ahead, as a datetime-local input sends it.
fn moscow_local(days: i64) -> String {
    (Utc::now() + Duration::days(days))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%dT10:00")
        .to_string()
}

async fn site_of(app: &TestApp, number: &str) -> (Option<f64>, Option<f64>, i64) {
    sqlx::query_as("SELECT site_lat, site_lon, id FROM requests WHERE number = $1")
        .bind(number)
        .fetch_one(app.db().pool())
        .await
        .expect("the request")
}

fn number_on(page: &str) -> String {
    regex::Regex::new(r#"id="request-number">([^<]+)<"#)
        .expect("re")
        .captures(page)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("the page shows the number: {page}"))
}

#[tokio::test]
async fn the_suggest_endpoint_answers_the_geocoders_suggestions_and_limits_visitors() {
    let (fake, app) = app_with_geocoder().await;
    let visitor = app.client();
    let r = visitor
        .get("/api/addresses/suggest?q=%D0%A2%D0%B2%D0%B5%D1%80%D1%81%D0%BA%D0%B0%D1%8F%207")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    let list = body["suggestions"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{body}");
    assert_eq!(list[0]["value"], "г Москва, ул Тверская, д 7");
    assert_eq!(list[0]["lat"], json!(55.7578));
    assert_eq!(list[0]["lon"], json!(37.6117));
    assert_eq!(list[0]["precision"], "house");
    assert_eq!(
        fake.requests().last().expect("asked")["query"],
        "Тверская 7",
        "the typed text went to the geocoder"
    );

    // A geocoder that fails suggests nothing; the form still works.
    fake.push_fault(fakes::HttpFault::Status(500));
    let body: Value = visitor
        .get("/api/addresses/suggest?q=Tverskaya")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["suggestions"], json!([]));

    // Visitors are counted per address; signed-in staff are not.
    let mut last = StatusCode::OK;
    for _ in 0..62 {
        last = visitor.get("/api/addresses/suggest?q=abc").await.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let staff = app.client();
    staff.login("manager@podryad.test", DEMO_PASSWORD).await;
    let r = staff.get("/api/addresses/suggest?q=Складочная").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["suggestions"][0]["value"],
        "г Москва, ул Складочная, д 1"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_web_request_typed_without_coordinates_gets_them_and_matching_shows_a_distance() {
    let (fake, app) = app_with_geocoder().await;
    let visitor = app.client();

    // Visitors are not asked for coordinates: the inputs are hidden and the
    // address field asks for suggestions.
    let (status, page) = visitor.get_text("/request/machinery").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"<input type="hidden" id="rf-site_address-lat" name="f.site_address.lat""#),
        "{page}"
    );
    assert!(page.contains(r#"data-address-suggest="/api/addresses/suggest""#));
    assert!(
        !page.contains("placeholder=\"55.7558\""),
        "no latitude input"
    );

    let form = [
        ("f.category", "excavator".to_string()),
        ("f.work", "Выкопать котлован под фундамент".into()),
        ("f.site_address", "Москва, Тверская, 7".into()),
        ("f.site_address.lat", String::new()),
        ("f.site_address.lon", String::new()),
        ("f.site_address.tz", "Europe/Moscow".into()),
        ("f.with_operator", "1".into()),
        ("wanted_from", moscow_local(3)),
        ("duration", "1".into()),
        ("contact_name", "Анна Гео".into()),
        ("contact_phone", "+7 916 404-00-01".into()),
        ("contact_email", "anna.geo@example.test".into()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = visitor.post_form("/request/machinery", &pairs).await;
    let (status, page) = visitor.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    let number = number_on(&page);
    let (lat, lon, id) = site_of(&app, &number).await;
    assert_eq!(
        (lat, lon),
        (Some(55.7578), Some(37.6117)),
        "from the geocoder"
    );
    let fields: String = sqlx::query_scalar("SELECT fields FROM requests WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("fields");
    let fields: Value = serde_json::from_str(&fields).expect("json");
    assert_eq!(fields["site_address"]["lat"], json!(55.7578));
    assert_eq!(
        fields["site_address"]["address"], "Москва, Тверская, 7",
        "the address stays as typed"
    );

    // Matching now measures from the site to the machines' bases.
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, page) = manager.get_text(&format!("/requests/{id}/matching")).await;
    assert_eq!(status, StatusCode::OK);
    let distance = regex::Regex::new(r#"data-label="Расстояние">[\d.,]+ км <small"#).expect("re");
    assert!(distance.is_match(&page), "a distance, not «—»: {page}");

    // The JSON endpoint takes the same path; a picked suggestion's
    // coordinates are kept and cost no lookup.
    let asked = fake.requests().len();
    let body = json!({
        "request_type": "machinery",
        "wanted_from": moscow_local(4),
        "duration": 1,
        "contact_name": "Борис Гео",
        "contact_phone": "+7 916 404-00-02",
        "fields": {
            "category": "excavator",
            "work": "Планировка участка",
            "site_address": {"address": "г Москва, ул Вавилова, д 19", "lat": 55.7003, "lon": 37.5786}
        }
    });
    let r = app
        .client()
        .http
        .post(format!("{}/api/public/requests", app.base))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.expect("json");
    let (lat, _, _) = site_of(&app, created["number"].as_str().expect("number")).await;
    assert_eq!(lat, Some(55.7003));
    assert_eq!(
        fake.requests().len(),
        asked,
        "no lookup for a picked address"
    );

    // A geocoder that is down never refuses a request: it is stored as typed.
    fake.set_fault(Some(fakes::HttpFault::Status(503)));
    let mut body = body;
    body["contact_phone"] = json!("+7 916 404-00-03");
    body["fields"]["site_address"] = json!({"address": "Москва, Профсоюзная, 56"});
    let r = app
        .client()
        .http
        .post(format!("{}/api/public/requests", app.base))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.expect("json");
    let (lat, lon, _) = site_of(&app, created["number"].as_str().expect("number")).await;
    assert_eq!((lat, lon), (None, None));
    fake.set_fault(None);

    // Staff keep the coordinate inputs as a fallback.
    let operator = app.client();
    operator.login("operator@podryad.test", DEMO_PASSWORD).await;
    let (_, page) = operator.get_text("/intake/new?type=machinery").await;
    assert!(
        page.contains(r#"id="rf-site_address-lat" name="f.site_address.lat""#)
            && page.contains("placeholder=\"55.7558\""),
        "{page}"
    );
    app.stop().await;
}
