//! Duplicate requests (issue 11, point 8): the public form answers with a
//! redirect to a "sent" page that shows the number only to its sender, a
//! repeated submission within the window is one request, the operator's
//! form is for the caller who was found, and a returning visitor's phone
//! makes no second client.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Browser, TestApp, location};
use crate::quotes::{local_day, login};

/// A demo client with this phone on record (a private person).
const KUZNETSOV: &str = "Дмитрий Кузнецов";
const KUZNETSOV_PHONE: &str = "+79031234501";

fn cargo_form(app: &TestApp, cargo: &str, phone: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("f.cargo", cargo.into()),
        ("f.weight_t", "4".into()),
        ("f.loading_address", "г. Москва, ул. Тверская, д. 7".into()),
        ("f.loading_address.lat", "55.7578".into()),
        ("f.loading_address.lon", "37.6117".into()),
        ("f.loading_address.tz", "Europe/Moscow".into()),
        ("f.unloading_address", "г. Тверь".into()),
        ("wanted_from", local_day(app, 7, 10)),
        ("duration", "4".into()),
        ("contact_name", "Тестов Тест".into()),
        ("contact_phone", phone.into()),
        ("contact_email", email.into()),
    ]
}

async fn post(b: &Browser, path: &str, fields: &[(&'static str, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post_form(path, &pairs).await
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn number_on(page: &str) -> Option<String> {
    regex::Regex::new(r#"id="request-number">([^<]+)<"#)
        .expect("re")
        .captures(page)
        .map(|c| c[1].to_string())
}

/// Posts the public form and follows its redirect: the number shown.
async fn submit(b: &Browser, form: &[(&'static str, String)]) -> String {
    let r = post(b, "/request/cargo", form).await;
    let (status, page) = b.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    number_on(&page).unwrap_or_else(|| panic!("the sent page shows the number: {page}"))
}

#[tokio::test]
async fn the_public_form_redirects_to_a_sent_page_only_its_sender_reads() {
    let app = TestApp::spawn_demo().await;
    let visitor = app.client();
    let before = count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM requests").await;
    let form = cargo_form(&app, "Плитка", "+7 916 400-00-01", "tile@example.test");
    let r = post(&visitor, "/request/cargo", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(
        to.ends_with("/request/cargo/sent") && !to.contains("_csrf") && !to.contains("З-"),
        "neither the token nor the number in the address: {to}"
    );
    let (status, page) = visitor.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    let number = number_on(&page).expect("the number");
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM requests").await,
        before + 1
    );
    // F5 on the sent page posts nothing and shows the same.
    let (status, again) = visitor.get_text("/request/cargo/sent").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(number_on(&again).as_deref(), Some(number.as_str()));
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM requests").await,
        before + 1
    );
    // Another browser opening the address learns nothing.
    let (status, other) = app.client().get_text("/request/cargo/sent").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        number_on(&other).is_none() && !other.contains(&number),
        "{other}"
    );
    // Nor a made-up receipt on the embedded face.
    let (_, other) = app
        .client()
        .get_text("/embed/request/cargo/sent?receipt=guess")
        .await;
    assert!(number_on(&other).is_none(), "{other}");
    app.stop().await;
}

#[tokio::test]
async fn the_same_submission_twice_within_the_window_is_one_request() {
    let app = TestApp::spawn_demo().await;
    let visitor = app.client();
    let requests = "SELECT CAST(COUNT(*) AS BIGINT) FROM requests";
    let before = count(&app, requests).await;
    let form = cargo_form(&app, "Кирпич", "+7 916 400-00-02", "brick@example.test");
    let first = submit(&visitor, &form).await;
    // The same again (the phone typed another way is the same phone).
    let mut same = form.clone();
    same.iter_mut()
        .filter(|(k, _)| *k == "contact_phone")
        .for_each(|(_, v)| *v = "8 (916) 400-00-02".into());
    let second = submit(&visitor, &same).await;
    assert_eq!(first, second);
    assert_eq!(count(&app, requests).await, before + 1);
    // The visitor was told once.
    let told: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE recipient = $1",
    )
    .bind("brick@example.test")
    .fetch_one(app.db().pool())
    .await
    .expect("notifications");
    assert_eq!(told, 1);
    // The JSON twin of the same visitor's request is the same request too.
    let body = json!({
        "request_type": "cargo",
        "wanted_from": local_day(&app, 7, 10),
        "duration": 4,
        "contact_name": "Тестов Тест",
        "contact_phone": "+79164000002",
        "contact_email": "brick@example.test",
        "fields": {
            "cargo": "Кирпич", "weight_t": 4,
            "loading_address": {"address": "г. Москва, ул. Тверская, д. 7", "lat": 55.7578, "lon": 37.6117, "timezone": "Europe/Moscow"},
            "unloading_address": {"address": "г. Тверь"}
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
    let answer: serde_json::Value = r.json().await.expect("json");
    assert_eq!(answer["number"], first.as_str(), "{answer}");
    assert_eq!(count(&app, requests).await, before + 1);

    // A different submission is another request.
    let other = submit(
        &visitor,
        &cargo_form(
            &app,
            "Кирпич и цемент",
            "+7 916 400-00-02",
            "brick@example.test",
        ),
    )
    .await;
    assert_ne!(other, first);
    assert_eq!(count(&app, requests).await, before + 2);
    // After the window the same submission is a new request.
    app.clock.advance(Duration::minutes(11));
    let later = submit(&visitor, &form).await;
    assert_ne!(later, first);
    assert_eq!(count(&app, requests).await, before + 3);
    app.stop().await;
}

#[tokio::test]
async fn two_public_requests_with_the_same_new_phone_make_one_client() {
    let app = TestApp::spawn_demo().await;
    let clients = "SELECT CAST(COUNT(*) AS BIGINT) FROM organisations WHERE kind = 'client'";
    let before = count(&app, clients).await;
    let a = submit(
        &app.client(),
        &cargo_form(&app, "Плитка", "+7 916 400-00-03", "same@example.test"),
    )
    .await;
    let b = submit(
        &app.client(),
        &cargo_form(&app, "Песок", "8 916 400 00 03", "same@example.test"),
    )
    .await;
    // Another e-mail with the same phone: the proof rule holds the request
    // as a candidate match for staff, and still makes no new client.
    let c = submit(
        &app.client(),
        &cargo_form(&app, "Щебень", "+7 916 400-00-03", "someone@example.test"),
    )
    .await;
    assert_eq!(
        count(&app, clients).await,
        before + 1,
        "one client, not three"
    );
    let of = |n: String| {
        let app = &app;
        async move {
            sqlx::query_as::<_, (i64, Option<String>)>(
                "SELECT r.client_org_id, h.status FROM requests r LEFT JOIN request_client_matches h ON h.request_id = r.id
                 WHERE r.number = $1",
            )
            .bind(n)
            .fetch_one(app.db().pool())
            .await
            .expect("request")
        }
    };
    let (ca, ha) = of(a).await;
    let (cb, hb) = of(b).await;
    let (cc, hc) = of(c).await;
    assert_eq!((ca, ha), (cb, hb.clone()));
    assert_eq!(hb, None, "everything typed is the client's on record");
    assert_eq!(cc, ca);
    assert_eq!(hc.as_deref(), Some("unconfirmed"), "a candidate for staff");
    app.stop().await;
}

#[tokio::test]
async fn the_operators_form_for_a_known_caller_is_that_clients() {
    let app = TestApp::spawn_demo().await;
    let operator = login(&app, "operator@podryad.test").await;
    let (status, page) = operator.get_text("/intake?q=8%20903%20123-45-01").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(KUZNETSOV), "{page}");
    assert!(
        !page.contains("intake-new-client"),
        "a found caller is not offered a new client: {page}"
    );
    let client: i64 = sqlx::query_scalar("SELECT id FROM organisations WHERE name = $1")
        .bind(KUZNETSOV)
        .fetch_one(app.db().pool())
        .await
        .expect("client");
    // Even opened with the phone alone, the form is the caller's.
    let (status, page) = operator
        .get_text(&format!(
            "/intake/new?type=cargo&phone={}",
            KUZNETSOV_PHONE.replace('+', "%2B")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("name=\"client\" value=\"{client}\"")),
        "{page}"
    );
    // An unknown phone is a new client.
    let (_, page) = operator.get_text("/intake?q=8%20916%20400-99-99").await;
    assert!(page.contains("intake-new-client"), "{page}");
    app.stop().await;
}
