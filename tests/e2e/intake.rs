//! Request intake (issue 5): the four request types through every channel
//! (website page and JSON, embeddable form, contact centre, hunter, client
//! cabinet), a fifth type added only in YAML, the hunter → manager rule
//! driven by the engine, spam and bad input on the public endpoint, tenancy,
//! the reminder and escalation of an untouched request, lists and the report.

use chrono::{Datelike, Duration, TimeZone, Utc};
use engine::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp, location};

/// A local date-time at a Moscow site `days` from the app's now, as a
/// datetime-local input sends it.
fn local(app: &TestApp, days: i64, hour: u32) -> String {
    let d = (app.clock.now() + Duration::days(days))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    format!("{}T{hour:02}:00", d.format("%Y-%m-%d"))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.db().pool())
        .await
        .expect("user")
}

/// A request row as the tests check it.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    number: String,
    request_type: String,
    client_org_id: i64,
    channel: String,
    hunter_user_id: Option<i64>,
    owner_user_id: Option<i64>,
    created_by: Option<i64>,
    status: String,
    fields: String,
    site_timezone: Option<String>,
}

const ROW: &str = "SELECT id, number, request_type, client_org_id, channel, hunter_user_id, owner_user_id, created_by, status, fields, site_timezone FROM requests";

async fn request_by(app: &TestApp, column: &str, value: &str) -> Row {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ROW} WHERE {column} = $1 ORDER BY id DESC LIMIT 1"
    )))
    .bind(value)
    .fetch_one(app.db().pool())
    .await
    .unwrap_or_else(|e| panic!("request with {column} = {value}: {e}"))
}

async fn request(app: &TestApp, id: i64) -> Row {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{ROW} WHERE id = $1")))
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("request {id}: {e}"))
}

impl Row {
    fn fields(&self) -> Value {
        serde_json::from_str(&self.fields).expect("fields are JSON")
    }
}

/// The id in a `/requests/{id}` redirect.
fn id_of(r: &reqwest::Response) -> i64 {
    let to = location(r);
    to.trim_start_matches("/requests/")
        .parse()
        .unwrap_or_else(|_| panic!("a redirect to the new request, not {to:?}"))
}

/// The open task of a request's workflow and its assignee.
async fn open_task(app: &TestApp, request_id: i64) -> Option<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT t.id, t.assignee_user_id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.status = 'open' ORDER BY t.id DESC LIMIT 1",
    )
    .bind(request_id)
    .fetch_optional(app.db().pool())
    .await
    .expect("tasks")
}

async fn notifications_to(app: &TestApp, recipient: &str, like: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND (body LIKE $2 OR subject LIKE $2)",
    )
    .bind(recipient)
    .bind(format!("%{like}%"))
    .fetch_one(app.db().pool())
    .await
    .expect("notifications")
}

fn cargo_form(when: &str, phone: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("f.cargo", "Паллеты с плиткой".into()),
        ("f.weight_t", "12,5".into()),
        ("f.loading_address", "Москва, ул. Ленина, 1".into()),
        ("f.loading_address.lat", "55.75".into()),
        ("f.loading_address.lon", "37.61".into()),
        ("f.loading_address.tz", "Europe/Moscow".into()),
        ("f.unloading_address", "Тверь, ул. Мира, 5".into()),
        ("f.body_type", "тент".into()),
        ("wanted_from", when.into()),
        ("duration", "5".into()),
        ("comment", "Разгрузка вручную".into()),
        ("contact_name", "Пётр Сидоров".into()),
        ("contact_phone", phone.into()),
        ("contact_email", email.into()),
    ]
}

async fn post(b: &Browser, path: &str, fields: &[(&'static str, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post_form(path, &pairs).await
}

fn public_json(app: &TestApp, phone: &str) -> Value {
    json!({
        "request_type": "machinery",
        "wanted_from": local(app, 2, 8),
        "duration": 2,
        "contact_name": "Олег Никитин",
        "contact_phone": phone,
        "contact_email": "oleg@example.test",
        "company_name": "ООО «Котлован»",
        "fields": {
            "category": "excavator",
            "work": "Выкопать траншею 40 м",
            "site_address": {"address": "Екатеринбург, ул. Малышева, 1", "lat": 56.83, "lon": 60.6, "timezone": "Asia/Yekaterinburg"},
            "bucket_m3": 0.8
        }
    })
}

async fn post_json(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client()
        .http
        .post(format!("{}/api/public/requests", app.base))
        .json(body)
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn the_website_form_and_its_json_twin_create_requests_for_new_and_returning_visitors() {
    let app = TestApp::spawn_demo().await;
    let manager = user_id(&app, "manager@podryad.test").await;
    let visitor = app.client();
    let (status, page) = visitor.get_text("/request").await;
    assert_eq!(status, StatusCode::OK);
    for title in [
        "Перевозка грузов",
        "Перевозка пассажиров",
        "Доставка материалов",
        "Услуги спецтехники",
    ] {
        assert!(page.contains(title), "{title} is offered");
    }
    let (status, page) = visitor.get_text("/request/cargo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("name=\"f.weight_t\"") && page.contains("Вес груза, т"),
        "the type's fields with units"
    );
    assert!(
        page.contains("name=\"f.loading_address.tz\"") && page.contains("Владивосток (МСК+7)"),
        "addresses have a time zone"
    );
    assert!(page.contains("name=\"website\""), "the honeypot is there");
    assert!(page.contains("type=\"datetime-local\""));

    // A mistake is shown next to its field; nothing is stored.
    let before = count(&app, "SELECT COUNT(*) FROM requests").await;
    let mut bad = cargo_form(&local(&app, 2, 10), "+7 916 555-01-01", "petr@example.test");
    bad.retain(|(k, _)| *k != "f.cargo");
    bad.push(("f.weight_t", "много".into()));
    let r = post(&visitor, "/request/cargo", &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("id=\"e-rf-cargo\""), "{body}");
    assert!(body.contains("id=\"e-rf-weight_t\""));
    assert!(body.contains("Тверь, ул. Мира, 5"), "what was typed stays");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM requests").await, before);

    let orgs_before = count(
        &app,
        "SELECT COUNT(*) FROM organisations WHERE kind = 'client'",
    )
    .await;
    let form = cargo_form(&local(&app, 2, 10), "+7 916 555-01-01", "petr@example.test");
    let r = post(&visitor, "/request/cargo", &form).await;
    let (status, page) = visitor.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    let number = regex::Regex::new(r#"id="request-number">([^<]+)<"#)
        .expect("re")
        .captures(&page)
        .map(|c| c[1].to_string())
        .expect("the page shows the number");
    assert!(number.starts_with("З-"), "{number}");
    let row = request_by(&app, "number", &number).await;
    assert_eq!(row.request_type, "cargo");
    assert_eq!(row.channel, "website");
    assert_eq!(row.hunter_user_id, None);
    assert_eq!(row.created_by, None);
    assert_eq!(
        row.owner_user_id,
        Some(manager),
        "a passive channel: a manager at once"
    );
    assert_eq!(row.site_timezone.as_deref(), Some("Europe/Moscow"));
    let f = row.fields();
    assert_eq!(f["weight_t"], json!(12.5), "typed: a number");
    assert_eq!(f["vehicles"], json!(1), "the type's default");
    assert_eq!(f["loading_address"]["lat"], json!(55.75));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM organisations WHERE kind = 'client'"
        )
        .await,
        orgs_before + 1,
        "the visitor became a client"
    );
    let (legal_form, name, org_manager, channel): (String, String, Option<i64>, Option<String>) =
        sqlx::query_as(
            "SELECT legal_form, name, manager_user_id, acquisition_channel FROM organisations WHERE id = $1",
        )
        .bind(row.client_org_id)
        .fetch_one(app.db().pool())
        .await
        .expect("client");
    assert_eq!(
        (legal_form.as_str(), name.as_str()),
        ("person", "Пётр Сидоров")
    );
    assert_eq!(org_manager, Some(manager));
    assert_eq!(channel.as_deref(), Some("website"));
    assert_eq!(
        notifications_to(&app, "petr@example.test", &number).await,
        1,
        "a confirmation by e-mail"
    );
    assert_eq!(
        notifications_to(&app, "+79165550101", &number).await,
        1,
        "and by SMS"
    );
    app.run_due().await;
    assert_eq!(
        open_task(&app, row.id).await.map(|t| t.1),
        Some(Some(manager)),
        "the qualification task is the owner's"
    );
    assert_eq!(request(&app, row.id).await.status, "qualification");

    // The same visitor again, through the JSON endpoint: found by phone.
    let mut again = public_json(&app, "8 (916) 555-01-01");
    again["company_name"] = json!("");
    let r = post_json(&app, &again).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    let answer: Value = r.json().await.expect("json");
    let number2 = answer["number"].as_str().expect("number").to_string();
    assert_ne!(number2, number);
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains(&number2))
    );
    let row2 = request_by(&app, "number", &number2).await;
    assert_eq!(row2.client_org_id, row.client_org_id, "no duplicate client");
    assert_eq!(row2.site_timezone.as_deref(), Some("Asia/Yekaterinburg"));
    assert_eq!(row2.fields()["with_operator"], json!(true), "default");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM organisations WHERE kind = 'client'"
        )
        .await,
        orgs_before + 1
    );

    // A company ordering through JSON becomes a company client.
    let r = post_json(&app, &public_json(&app, "+7 912 000-11-22")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let n3: Value = r.json().await.expect("json");
    let row3 = request_by(&app, "number", n3["number"].as_str().expect("number")).await;
    let (legal_form, name): (String, String) =
        sqlx::query_as("SELECT legal_form, name FROM organisations WHERE id = $1")
            .bind(row3.client_org_id)
            .fetch_one(app.db().pool())
            .await
            .expect("client");
    assert_eq!(
        (legal_form.as_str(), name.as_str()),
        ("ooo", "ООО «Котлован»")
    );

    // The OpenAPI document describes the endpoint and every type.
    let doc: Value = visitor
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], json!("3.0.3"));
    assert!(doc["paths"]["/api/public/requests"]["post"].is_object());
    for code in ["cargo", "passengers", "materials", "machinery"] {
        assert!(
            doc["components"]["schemas"][format!("Fields_{code}")]["properties"].is_object(),
            "{code} is described"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["Fields_cargo"]["properties"]["weight_t"]["maximum"],
        json!(120.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn the_embeddable_form_may_be_framed_and_works_without_our_cookies() {
    let app = TestApp::spawn_demo().await;
    let outside = app.client();
    let r = outside.get("/embed/request/cargo").await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(r.headers().get("x-frame-options").is_none());
    let page = r.text().await.expect("body");
    assert!(!page.contains("class=\"topbar\""), "a minimal layout");
    assert!(page.contains("action=\"/embed/request/cargo\""));
    let r = outside.get("/request/cargo").await;
    assert_eq!(
        r.headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    assert!(
        r.headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("frame-ancestors 'none'"))
    );

    // A third-party iframe sends no cookies of ours: the form works anyway.
    let form = cargo_form(&local(&app, 3, 9), "+7 903 700-00-01", "");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = reqwest::Client::new()
        .post(format!("{}/embed/request/cargo", app.base))
        .form(&pairs)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.expect("body");
    assert!(body.contains("id=\"request-number\""), "{body}");
    let row = request_by(&app, "contact_phone", "+79037000001").await;
    assert_eq!(row.channel, "website");
    // Outside /embed/ the token is still required.
    let r = reqwest::Client::new()
        .post(format!("{}/request/cargo", app.base))
        .form(&pairs)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn the_public_endpoint_refuses_bad_input_and_floods_and_stores_nothing() {
    let app = TestApp::spawn_demo().await;
    let tables = [
        "requests",
        "organisations",
        "notifications",
        "wf_instances",
        "files",
        "org_contacts",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(count(&app, &format!("SELECT COUNT(*) FROM {t}")).await);
    }
    let check = |status: StatusCode, expected: StatusCode, body: &Value, what: &str| {
        assert_eq!(status, expected, "{what}: {body}");
    };

    // Missing fields: each is named.
    let r = post_json(
        &app,
        &json!({"request_type": "cargo", "fields": {"weight_t": 3}}),
    )
    .await;
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    check(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        &body,
        "missing fields",
    );
    assert_eq!(body["error"], json!("invalid"));
    let named: Vec<String> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            format!(
                "{}={}",
                f["field"].as_str().unwrap_or(""),
                f["code"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "f.cargo=required",
        "f.loading_address=required",
        "f.unloading_address=required",
        "wanted_from=required",
        "contact_name=required",
        "contact_phone=required",
    ] {
        assert!(
            named.contains(&expected.to_string()),
            "{expected} in {named:?}"
        );
    }

    // Wrong types: JSON types and values the type refuses.
    let mut wrong = public_json(&app, "+7 916 100-00-01");
    wrong["fields"]["bucket_m3"] = json!("полный");
    wrong["fields"]["with_operator"] = json!("да");
    wrong["fields"]["category"] = json!("submarine");
    wrong["contact_name"] = json!(42);
    wrong["duration"] = json!(-1);
    wrong["wanted_from"] = json!("вчера");
    let r = post_json(&app, &wrong).await;
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    check(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        &body,
        "wrong types",
    );
    let codes: Vec<(String, String)> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or("").to_string(),
                f["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (field, code) in [
        ("f.with_operator", "json.type"),
        ("contact_name", "json.type"),
    ] {
        assert!(
            codes.iter().any(|(f, c)| f == field && c == code),
            "{field}={code} in {codes:?}"
        );
    }
    // Once the JSON types are right, the type's own checks speak.
    let mut wrong = public_json(&app, "+7 916 100-00-01");
    wrong["fields"]["bucket_m3"] = json!("полный");
    wrong["fields"]["category"] = json!("submarine");
    wrong["duration"] = json!(-1);
    wrong["wanted_from"] = json!("вчера");
    wrong["contact_phone"] = json!("12345");
    let r = post_json(&app, &wrong).await;
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    check(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        &body,
        "invalid values",
    );
    let codes: Vec<(String, String)> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or("").to_string(),
                f["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (field, code) in [
        ("f.bucket_m3", "number.invalid"),
        ("f.category", "category.unknown"),
        ("duration", "duration.invalid"),
        ("wanted_from", "datetime.invalid"),
        ("contact_phone", "phone.invalid"),
    ] {
        assert!(
            codes.iter().any(|(f, c)| f == field && c == code),
            "{field}={code} in {codes:?}"
        );
    }

    // Unknown keys and types are refused, not ignored.
    let mut extra = public_json(&app, "+7 916 100-00-02");
    extra["priority"] = json!("high");
    extra["fields"]["wings"] = json!(2);
    let r = post_json(&app, &extra).await;
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    check(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        &body,
        "unknown keys",
    );
    let text = body.to_string();
    assert!(
        text.contains("\"priority\"") && text.contains("\"f.wings\""),
        "{text}"
    );
    let mut unknown = public_json(&app, "+7 916 100-00-03");
    unknown["request_type"] = json!("teleport");
    let r = post_json(&app, &unknown).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("request_type.unknown")
    );

    // The honeypot.
    let mut bot = public_json(&app, "+7 916 100-00-04");
    bot["website"] = json!("http://spam.example");
    let r = post_json(&app, &bot).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("spam.honeypot"));

    // Not JSON, not declared JSON, too big.
    let http = reqwest::Client::new();
    let url = format!("{}/api/public/requests", app.base);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"request_type\": ")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], json!("json.invalid"));
    let r = http
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut big = public_json(&app, "+7 916 100-00-05");
    big["comment"] = json!("х".repeat(40 * 1024));
    let r = post_json(&app, &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], json!("body.too_large"));

    for (t, n) in tables.iter().zip(&before) {
        assert_eq!(
            count(&app, &format!("SELECT COUNT(*) FROM {t}")).await,
            *n,
            "nothing stored in {t}"
        );
    }

    // A flood from one address: the limit (10 per 10 minutes) lets ten
    // through and refuses the rest with 429 and Retry-After.
    app.clock.advance(Duration::minutes(11));
    let mut created = 0;
    let mut refused = 0;
    for i in 0..100 {
        let r = post_json(
            &app,
            &public_json(&app, &format!("+7 916 200-{:02}-{:02}", i / 100, i % 100)),
        )
        .await;
        match r.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().get("retry-after").is_some());
                let body: Value = r.json().await.expect("json");
                assert_eq!(body["error"], json!("too_many_requests"));
                refused += 1;
            }
            other => panic!("flood answer {other}"),
        }
    }
    assert_eq!((created, refused), (10, 90));
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM requests").await,
        before[0] + 10,
        "the refused ones stored nothing"
    );
    // The window passes: the address may send again.
    app.clock.advance(Duration::minutes(11));
    let r = post_json(&app, &public_json(&app, "+7 916 300-00-01")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn the_contact_centre_finds_a_caller_by_phone_and_takes_requests_for_known_and_new_clients() {
    let app = TestApp::spawn_demo().await;
    let manager = user_id(&app, "manager@podryad.test").await;
    let operator_id = user_id(&app, "operator@podryad.test").await;
    let operator = app.client();
    operator.login("operator@podryad.test", DEMO_PASSWORD).await;

    // Phone lookup first: typed the way the caller says it.
    let (status, page) = operator.get_text("/intake?q=8%20495%20333-22-11").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Северный бетон"), "the caller's company");
    assert!(page.contains("Мария Кузнецова"), "its responsible manager");
    let client: i64 =
        sqlx::query_scalar("SELECT id FROM organisations WHERE name = 'ООО «Северный бетон»'")
            .fetch_one(app.db().pool())
            .await
            .expect("client");
    assert!(page.contains(&format!("/intake/new?type=materials&client={client}")));
    let open_before: i64 = count(
        &app,
        &format!("SELECT COUNT(*) FROM requests WHERE client_org_id = {client}"),
    )
    .await;
    assert!(open_before > 0, "the demo has its history");

    let (status, page) = operator
        .get_text(&format!("/intake/new?type=materials&client={client}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"f.quantity_unit\""));
    let when = local(&app, 2, 11);
    let r = post(
        &operator,
        "/intake/new",
        &[
            ("request_type", "materials".into()),
            ("channel", "operator".into()),
            ("client", client.to_string()),
            ("f.material", "песок".into()),
            ("f.quantity", "30".into()),
            ("f.quantity_unit", "т".into()),
            ("f.delivery_address", "Мытищи, ул. Колпакова, 2".into()),
            ("f.supply", "только доставка".into()),
            ("wanted_from", when.clone()),
            ("contact_name", "Павел Громов".into()),
            ("contact_phone", "+7 495 333-22-11".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let id = id_of(&r);
    let row = request(&app, id).await;
    assert_eq!(
        (row.channel.as_str(), row.client_org_id, row.created_by),
        ("operator", client, Some(operator_id))
    );
    assert_eq!(row.owner_user_id, Some(manager));
    assert_eq!(row.fields()["quantity"], json!(30.0));
    assert_eq!(notifications_to(&app, "+74953332211", &row.number).await, 1);
    let (status, page) = operator.get_text(&format!("/requests/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&row.number) && page.contains("Контакт-центр"));
    assert!(page.contains("Мытищи, ул. Колпакова, 2"));

    // An unknown caller: a new client inline, with a manager at once.
    let (status, page) = operator.get_text("/intake?q=%2B7%20977%20123-45-67").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("По этому запросу клиентов нет"));
    assert!(page.contains("/intake/new?type=passengers&phone=%2B79771234567"));
    let (status, page) = operator
        .get_text("/intake/new?type=passengers&phone=%2B79771234567")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"company_name\"") && page.contains("value=\"+79771234567\""));
    let mut form = vec![
        ("request_type", "passengers".to_string()),
        ("channel", "operator".into()),
        ("legal_form", "ooo".into()),
        ("company_name", "ООО «Экскурс»".into()),
        ("f.passengers", "40".into()),
        ("f.pickup_address", "Казань, Кремлёвская ул., 1".into()),
        ("f.pickup_address.tz", "Europe/Moscow".into()),
        ("f.route", "Казань — Свияжск".into()),
        ("f.round_trip", "1".into()),
        ("wanted_from", local(&app, 4, 9)),
        ("contact_name", "Ильдар Хасанов".into()),
        ("contact_phone", "+79771234567".into()),
    ];
    // A mistake keeps everything typed, the new client included.
    form.push(("f.passengers", "сорок".into()));
    let r = post(&operator, "/intake/new", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("ООО «Экскурс»") && body.contains("id=\"e-rf-passengers\""));
    form.pop();
    let r = post(&operator, "/intake/new", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let row = request(&app, id_of(&r)).await;
    assert_eq!(row.channel, "operator");
    assert_eq!(row.fields()["round_trip"], json!(true));
    let (name, org_manager, contacts): (String, Option<i64>, i64) = sqlx::query_as(
        "SELECT name, manager_user_id, (SELECT COUNT(*) FROM org_contacts c WHERE c.org_id = o.id) FROM organisations o WHERE id = $1",
    )
    .bind(row.client_org_id)
    .fetch_one(app.db().pool())
    .await
    .expect("client");
    assert_eq!(name, "ООО «Экскурс»");
    assert_eq!(org_manager, Some(manager));
    assert_eq!(contacts, 1, "the caller is the company's contact");
    // The next call from that phone finds them.
    let (_, page) = operator.get_text("/intake?q=89771234567").await;
    assert!(page.contains("ООО «Экскурс»"));

    // Lists: the operator's own requests, filters and search.
    let (status, page) = operator.get_text("/requests").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&row.number), "mine: the ones I took");
    let (_, page) = operator
        .get_text("/requests?q=%D0%AD%D0%BA%D1%81%D0%BA%D1%83%D1%80%D1%81")
        .await;
    assert!(page.contains(&row.number), "search by company (any case)");
    let (_, page) = operator
        .get_text("/requests?q=8%20977%20123%2045%2067")
        .await;
    assert!(page.contains(&row.number), "search by phone typed any way");
    let (_, page) = operator.get_text("/requests?scope=mine&type=cargo").await;
    assert!(!page.contains(&row.number), "filtered out by type");
    let (_, page) = operator
        .get_text("/requests?channel=operator&status=new")
        .await;
    assert!(page.contains(&row.number) || page.contains("Заявок не найдено"));
    app.stop().await;
}

#[tokio::test]
async fn a_client_places_requests_in_its_cabinet_and_sees_only_its_own() {
    let app = TestApp::spawn_demo().await;
    let client = app.client();
    client.login("client@belova.test", DEMO_PASSWORD).await;
    let (status, page) = client.get_text("/requests/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/requests/new/machinery"));
    let (status, page) = client.get_text("/requests/new/machinery").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Автокран") || page.contains("Экскаватор"),
        "categories by title"
    );
    let r = post(
        &client,
        "/requests/new/machinery",
        &[
            ("f.category", "excavator".into()),
            ("f.work", "Выкопать пруд".into()),
            ("f.site_address", "Истра, СНТ «Берёзка», уч. 5".into()),
            ("f.bucket_m3", "0,5".into()),
            ("wanted_from", local(&app, 3, 9)),
            ("duration", "1".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let id = id_of(&r);
    let row = request(&app, id).await;
    let belova: i64 =
        sqlx::query_scalar("SELECT org_id FROM users WHERE email = 'client@belova.test'")
            .fetch_one(app.db().pool())
            .await
            .expect("org");
    assert_eq!(
        (row.channel.as_str(), row.client_org_id),
        ("cabinet", belova)
    );
    assert_eq!(
        row.fields()["with_operator"],
        json!(false),
        "an unchecked box"
    );
    assert_eq!(
        notifications_to(&app, "client@belova.test", &row.number).await,
        1,
        "the confirmation goes to the client's own e-mail"
    );
    let (status, page) = client.get_text(&format!("/requests/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Выкопать пруд") && page.contains(&row.number));
    assert!(!page.contains("/instances/"), "no staff internals");
    let (_, page) = client.get_text("/requests").await;
    assert!(page.contains(&row.number));

    // Another client's request is not found; it is not even listed.
    let other = request_by(&app, "channel", "hunter").await;
    let (status, _) = client.get_text(&format!("/requests/{}", other.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains(&other.number));
    // A supplier sees no requests at all.
    let supplier = app.client();
    supplier.login("owner@stroytech.test", DEMO_PASSWORD).await;
    for path in ["/requests".to_string(), format!("/requests/{id}")] {
        let (status, _) = supplier.get_text(&path).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
    // A hunter sees their own clients' requests only.
    let hunter = app.client();
    hunter.login("hunter@podryad.test", DEMO_PASSWORD).await;
    let (status, _) = hunter.get_text(&format!("/requests/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hunter.get_text(&format!("/requests/{}", other.id)).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

async fn complete(app: &TestApp, b: &Browser, task: i64, outcome: &str) {
    let r = b
        .post_form(&format!("/tasks/{task}/complete"), &[("outcome", outcome)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
}

#[tokio::test]
async fn a_hunters_client_passes_to_a_manager_exactly_when_its_first_order_goes_into_work() {
    let app = TestApp::spawn_demo().await;
    let hunter_id = user_id(&app, "hunter@podryad.test").await;
    let maria = user_id(&app, "manager@podryad.test").await;
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    // A second manager with nothing to do: the least loaded.
    let r = admin
        .post_form(
            "/admin/users/new",
            &[
                ("full_name", "Антон Новиков"),
                ("email", "manager2@podryad.test"),
                ("roles", "manager"),
                ("password", "manager2-pass"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let anton = user_id(&app, "manager2@podryad.test").await;

    let hunter = app.client();
    hunter.login("hunter@podryad.test", DEMO_PASSWORD).await;
    let r = hunter
        .post_form(
            "/hunter/clients/new",
            &[
                ("legal_form", "ooo"),
                ("company_name", "ООО «Новый объект»"),
                ("contact_name", "Роман Белов"),
                ("phone", "+7 915 444-55-66"),
                ("email", "roman@novobj.test"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let client: i64 = location(&r)
        .trim_start_matches("/intake/clients/")
        .parse()
        .expect("client id");
    let (_, page) = hunter.get_text("/hunter/clients").await;
    assert!(page.contains("ООО «Новый объект»"), "in the hunter's list");

    let place = |when: String| {
        vec![
            ("request_type", "cargo".to_string()),
            ("channel", "hunter".into()),
            ("client", client.to_string()),
            ("f.cargo", "Кирпич".into()),
            ("f.weight_t", "10".into()),
            ("f.loading_address", "Москва, ул. Заводская, 3".into()),
            ("f.unloading_address", "Химки, ул. Ленина, 7".into()),
            ("wanted_from", when),
        ]
    };
    let mut ids = Vec::new();
    for days in [2, 3] {
        let pairs = place(local(&app, days, 10));
        let pairs: Vec<(&'static str, String)> = pairs.into_iter().collect();
        let r = post(&hunter, "/intake/new", &pairs).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
        ids.push(id_of(&r));
    }
    app.run_due().await;
    for id in &ids {
        let row = request(&app, *id).await;
        assert_eq!(row.channel, "hunter");
        assert_eq!(row.owner_user_id, Some(hunter_id), "the hunter owns it");
        assert_eq!(row.hunter_user_id, Some(hunter_id));
        assert_eq!(
            open_task(&app, *id).await.map(|t| t.1),
            Some(Some(hunter_id))
        );
    }
    // The admin picks the busier manager for the hand-over, not the least loaded.
    let (_, page) = admin.get_text(&format!("/intake/clients/{client}")).await;
    assert!(page.contains("Менеджер, который примет клиента после первого заказа"));
    let r = admin
        .post_form(
            &format!("/intake/clients/{client}/manager"),
            &[("manager_id", &maria.to_string())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let next: Option<i64> =
        sqlx::query_scalar("SELECT next_manager_user_id FROM organisations WHERE id = $1")
            .bind(client)
            .fetch_one(app.db().pool())
            .await
            .expect("org");
    assert_eq!(next, Some(maria));
    assert_eq!(
        request(&app, ids[0]).await.owner_user_id,
        Some(hunter_id),
        "choosing changes nothing yet"
    );

    // The first request is qualified: still the hunter's.
    let (task, _) = open_task(&app, ids[0]).await.expect("task");
    complete(&app, &hunter, task, "ready").await;
    let first = request(&app, ids[0]).await;
    assert_eq!(first.status, "ready_for_matching");
    assert_eq!(
        first.owner_user_id,
        Some(hunter_id),
        "not yet: no order in work"
    );

    // The first order goes into work: the engine gets `order.started`; the
    // step runs `client.first_order`, and only then does the client change hands.
    let services = &app.app.as_ref().expect("running").services;
    services
        .engine
        .emit_to_object("request", ids[0], "order.started", json!({}), None)
        .await
        .expect("event");
    assert_eq!(
        request(&app, ids[0]).await.owner_user_id,
        Some(hunter_id),
        "the action has not run yet"
    );
    app.run_due().await;
    app.run_due().await;
    let first = request(&app, ids[0]).await;
    assert_eq!(first.status, "ordered");
    assert_eq!(
        first.owner_user_id,
        Some(maria),
        "the manager owns that order's request"
    );
    assert_eq!(
        first.hunter_user_id,
        Some(hunter_id),
        "the hunter keeps the credit"
    );
    let second = request(&app, ids[1]).await;
    assert_eq!(second.owner_user_id, Some(maria), "and every open one");
    assert_eq!(
        open_task(&app, ids[1]).await.map(|t| t.1),
        Some(Some(maria)),
        "its open task moved to her"
    );
    let (hunter_of, manager_of, first_order): (Option<i64>, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT hunter_user_id, manager_user_id, first_order_at FROM organisations WHERE id = $1",
        )
        .bind(client)
        .fetch_one(app.db().pool())
        .await
        .expect("org");
    assert_eq!(hunter_of, Some(hunter_id));
    assert_eq!(manager_of, Some(maria));
    assert!(first_order.is_some());
    assert_ne!(manager_of, Some(anton));

    // Every later request is the manager's, whoever takes it; the hunter's
    // credit stays on requests they bring.
    let r = post(&hunter, "/intake/new", &place(local(&app, 5, 10))).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let later = request(&app, id_of(&r)).await;
    assert_eq!(later.owner_user_id, Some(maria));
    assert_eq!(later.hunter_user_id, Some(hunter_id));
    let (_, page) = hunter.get_text("/hunter/clients").await;
    assert!(
        page.contains("Мария Кузнецова"),
        "handed over, still in the list"
    );

    // A second `order.started` (a retry, a second order) changes nothing.
    services
        .engine
        .emit_to_object("request", ids[1], "order.started", json!({}), None)
        .await
        .expect("event");
    app.run_due().await;
    assert_eq!(request(&app, ids[1]).await.owner_user_id, Some(maria));

    // The report counts the hunter's first order.
    let (status, page) = admin.get_text("/reports/intake").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Игорь Волков"), "per hunter");
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, _) = manager.get_text("/reports/intake").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hunter.get_text("/reports/intake").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn the_report_counts_requests_first_orders_and_conversion_per_channel_and_hunter() {
    let app = TestApp::spawn_demo().await;
    let services = app.app.as_ref().expect("running").services.clone();
    let admin = app.actor("admin@podryad.test").await;
    let now = app.clock.now();
    let from = engine::to_db_time(now - Duration::days(1));
    let to = engine::to_db_time(now + Duration::days(1));
    let r = domain::intake::report(&services, &admin, from, to)
        .await
        .expect("report");
    // The demo: two website visitors, two calls, two requests of one
    // hunter's client, one from a cabinet.
    let line = |key: &str| {
        r.by_channel
            .iter()
            .find(|l| l.key == key)
            .cloned()
            .expect("line")
    };
    assert_eq!((line("website").requests, line("website").clients), (2, 2));
    assert_eq!(line("operator").requests, 2);
    assert_eq!((line("hunter").requests, line("hunter").clients), (2, 1));
    assert_eq!(line("cabinet").requests, 1);
    assert_eq!(line("api").requests, 0);
    assert_eq!(r.total.requests, 7);
    assert_eq!(r.total.first_orders, 0);
    assert_eq!(r.total.conversion, Some(0.0));
    assert_eq!(r.by_hunter.len(), 1);

    // The hunter's client's first order goes into work.
    let hunted = request_by(&app, "channel", "hunter").await;
    domain::intake::hand_over(&services, hunted.client_org_id, None)
        .await
        .expect("hand over");
    let r = domain::intake::report(&services, &admin, from, to)
        .await
        .expect("report");
    let hunter_line = r.by_hunter.first().expect("hunter");
    assert_eq!(hunter_line.name.as_deref(), Some("Игорь Волков"));
    assert_eq!(
        (
            hunter_line.clients,
            hunter_line.first_orders,
            hunter_line.conversion
        ),
        (1, 1, Some(100.0))
    );
    let hunter_channel = r
        .by_channel
        .iter()
        .find(|l| l.key == "hunter")
        .expect("line");
    assert_eq!(hunter_channel.conversion, Some(100.0));
    // Five clients had requests (two visitors, two callers — one of them
    // also used its cabinet — and the hunter's): one converted.
    assert_eq!((r.total.clients, r.total.first_orders), (5, 1));
    assert_eq!(r.total.conversion, Some(20.0));
    // Outside the period, nothing.
    let r = domain::intake::report(&services, &admin, to, to + 1000)
        .await
        .expect("report");
    assert_eq!(r.total.requests, 0);
    assert_eq!(r.total.conversion, None);
    app.stop().await;
}

/// Monday 10:00 in Moscow, some weeks ahead, on a working day.
fn working_monday(app: &TestApp) -> chrono::DateTime<Utc> {
    let calendars = engine::calendar::Calendars::load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/workflows/calendar.yaml"
    )))
    .expect("calendar");
    let working = calendars.get("working").expect("working");
    let mut day = (app.clock.now() + Duration::days(7))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    while day.weekday() != chrono::Weekday::Mon || !working.is_working_day(day) {
        day += Duration::days(1);
    }
    chrono_tz::Europe::Moscow
        .from_local_datetime(&day.and_hms_opt(10, 0, 0).expect("time"))
        .single()
        .expect("10:00")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn an_untouched_request_reminds_its_owner_after_15_working_minutes_and_reaches_admins_after_an_hour()
 {
    let app = TestApp::spawn_demo().await;
    app.clock.set(working_monday(&app));
    // Demo requests made at start have their own timers: let them fire first.
    app.run_due().await;
    let manager = user_id(&app, "manager@podryad.test").await;
    let r = post_json(&app, &public_json(&app, "+7 916 900-00-01")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let n: Value = r.json().await.expect("json");
    let number = n["number"].as_str().expect("number").to_string();
    let row = request_by(&app, "number", &number).await;
    app.run_due().await;
    let (task, assignee) = open_task(&app, row.id).await.expect("task");
    assert_eq!(assignee, Some(manager));
    let reminders = || async {
        notifications_to(
            &app,
            "manager@podryad.test",
            &format!("Уточнить заявку {number}"),
        )
        .await
    };
    let escalations = || async {
        notifications_to(
            &app,
            "admin@podryad.test",
            &format!("Уточнить заявку {number}"),
        )
        .await
    };
    let created = reminders().await;

    app.clock.advance(Duration::minutes(14));
    app.run_due().await;
    assert_eq!(reminders().await, created, "not before 15 minutes");
    app.clock.advance(Duration::minutes(2));
    app.run_due().await;
    assert_eq!(reminders().await, created + 1, "a reminder to the owner");
    assert_eq!(escalations().await, 0);
    let escalated_at: Option<i64> =
        sqlx::query_scalar("SELECT escalated_at FROM wf_tasks WHERE id = $1")
            .bind(task)
            .fetch_one(app.db().pool())
            .await
            .expect("task");
    assert!(escalated_at.is_none());

    app.clock.advance(Duration::minutes(45));
    app.run_due().await;
    assert_eq!(
        escalations().await,
        1,
        "after an hour the admins hear of it"
    );
    let escalated_at: Option<i64> =
        sqlx::query_scalar("SELECT escalated_at FROM wf_tasks WHERE id = $1")
            .bind(task)
            .fetch_one(app.db().pool())
            .await
            .expect("task");
    assert!(escalated_at.is_some());
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let (_, inbox) = admin.get_text("/tasks").await;
    assert!(inbox.contains(&number), "in the admins' inbox");
    // The request page shows the task and the workflow.
    let (status, page) = admin.get_text(&format!("/requests/{}", row.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("/tasks/{task}")) && page.contains("/instances/"));
    app.stop().await;
}

/// A fifth request type, written as an analyst would: towing of cars.
const TOWING: &str = r#"# Эвакуация автомобилей: a type added in YAML only.
code: towing
title: Эвакуация автомобиля
position: 5
site: pickup
duration: none
price_units: [trip, km]
markup_percent: 18
fields:
  - {id: vehicle, title: Что везём, type: string, required: true, help: "Марка и модель"}
  - {id: vehicle_weight_t, title: Масса автомобиля, type: decimal, unit: т, required: true, min: 0.5, max: 30}
  - {id: pickup, title: Откуда забрать, type: address, required: true}
  - {id: dropoff, title: Куда доставить, type: address, required: true}
  - {id: wheels_locked, title: Колёса заблокированы, type: boolean}
  - {id: kind, title: Вид эвакуатора, type: choice, options: [ломаная платформа, сдвижная платформа, манипулятор]}
matching:
  categories: [low_loader, crane_manipulator]
  rules:
    - {spec: payload_t, at_least: vehicle_weight_t}
"#;

pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("dir");
    for e in std::fs::read_dir(from).expect("read") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

#[tokio::test]
async fn a_fifth_request_type_defined_only_in_yaml_works_on_every_channel() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows")),
        dir.path(),
    );
    std::fs::write(dir.path().join("request_types/towing.yaml"), TOWING).expect("write");
    let app = TestApp::spawn_demo_with_workflows(dir.path().to_path_buf()).await;
    let fields = |phone: &str| {
        vec![
            ("f.vehicle", "Toyota Camry".to_string()),
            ("f.vehicle_weight_t", "1,6".into()),
            ("f.pickup", "Новосибирск, Красный пр-т, 1".into()),
            ("f.pickup.tz", "Asia/Omsk".into()),
            ("f.dropoff", "Новосибирск, ул. Станционная, 30".into()),
            ("f.wheels_locked", "1".into()),
            ("f.kind", "сдвижная платформа".into()),
            ("wanted_from", local(&app, 1, 12)),
            ("contact_name", "Анна Ким".into()),
            ("contact_phone", phone.into()),
        ]
    };

    // Website page.
    let visitor = app.client();
    let (_, page) = visitor.get_text("/request").await;
    assert!(page.contains("Эвакуация автомобиля") && page.contains("/request/towing"));
    let (status, page) = visitor.get_text("/request/towing").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Масса автомобиля, т") && page.contains("Марка и модель"));
    assert!(page.contains("сдвижная платформа"));
    assert!(
        !page.contains("name=\"duration\""),
        "this type asks no duration"
    );
    let r = post(&visitor, "/request/towing", &fields("+7 913 000-00-01")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let row = request_by(&app, "contact_phone", "+79130000001").await;
    assert_eq!(
        (row.request_type.as_str(), row.channel.as_str()),
        ("towing", "website")
    );
    assert_eq!(row.fields()["vehicle_weight_t"], json!(1.6));
    assert_eq!(row.fields()["wheels_locked"], json!(true));
    assert_eq!(row.site_timezone.as_deref(), Some("Asia/Omsk"));
    // 10:00 in Omsk (UTC+6) is 04:00 UTC... the stored instant follows the site's zone.
    let wanted: i64 = sqlx::query_scalar("SELECT wanted_from FROM requests WHERE id = $1")
        .bind(row.id)
        .fetch_one(app.db().pool())
        .await
        .expect("wanted");
    let local_hour = engine::from_db_time(wanted)
        .with_timezone(&chrono_tz::Asia::Omsk)
        .format("%H:%M")
        .to_string();
    assert_eq!(local_hour, "12:00");

    // JSON, described by the OpenAPI document.
    let doc: Value = visitor
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    let schema = &doc["components"]["schemas"]["Fields_towing"];
    assert_eq!(
        schema["required"],
        json!(["vehicle", "vehicle_weight_t", "pickup", "dropoff"])
    );
    assert!(
        schema["properties"]["kind"]["enum"]
            .as_array()
            .is_some_and(|e| e.len() == 3)
    );
    let r = post_json(
        &app,
        &json!({
            "request_type": "towing",
            "wanted_from": local(&app, 1, 15),
            "contact_name": "Борис",
            "contact_phone": "+7 913 000-00-02",
            "fields": {"vehicle": "Lada Vesta", "vehicle_weight_t": 1.2,
                       "pickup": {"address": "Омск, ул. Ленина, 2", "timezone": "Asia/Omsk"},
                       "dropoff": {"address": "Омск, ул. Мира, 9"}, "wheels_locked": false}
        }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);

    // Contact centre.
    let operator = app.client();
    operator.login("operator@podryad.test", DEMO_PASSWORD).await;
    let (_, page) = operator.get_text("/intake?q=%2B79130000001").await;
    assert!(page.contains("/intake/new?type=towing&client="));
    let mut f = fields("+7 913 000-00-03");
    f.extend([
        ("request_type", "towing".to_string()),
        ("channel", "operator".into()),
        ("legal_form", "person".into()),
    ]);
    let r = post(&operator, "/intake/new", &f).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let id = id_of(&r);
    let (status, page) = operator.get_text(&format!("/requests/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Эвакуация автомобиля") && page.contains("Toyota Camry"));
    assert!(page.contains("Омск (МСК+3)"), "the site's zone is shown");

    // Hunter.
    let hunter = app.client();
    hunter.login("hunter@podryad.test", DEMO_PASSWORD).await;
    let montazh: i64 =
        sqlx::query_scalar("SELECT id FROM organisations WHERE name = 'ООО «СтройМонтаж»'")
            .fetch_one(app.db().pool())
            .await
            .expect("hunter's client");
    let mut f = fields("");
    f.extend([
        ("request_type", "towing".to_string()),
        ("channel", "hunter".into()),
        ("client", montazh.to_string()),
    ]);
    let r = post(&hunter, "/intake/new", &f).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let row = request(&app, id_of(&r)).await;
    assert_eq!(
        (row.request_type.as_str(), row.channel.as_str()),
        ("towing", "hunter")
    );

    // Cabinet.
    let client = app.client();
    client.login("client@sevbeton.test", DEMO_PASSWORD).await;
    let (_, page) = client.get_text("/requests/new").await;
    assert!(page.contains("/requests/new/towing"));
    let r = post(&client, "/requests/new/towing", &fields("")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let row = request(&app, id_of(&r)).await;
    assert_eq!(
        (row.request_type.as_str(), row.channel.as_str()),
        ("towing", "cabinet")
    );

    // It runs the request workflow like any other and is filtered as one.
    app.run_due().await;
    assert_eq!(request(&app, row.id).await.status, "qualification");
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let (_, page) = admin.get_text("/requests?scope=all&type=towing").await;
    assert_eq!(
        page.matches("Эвакуация автомобиля</td>").count(),
        5,
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn staff_complete_a_request_while_qualifying_it_and_lists_follow_roles() {
    let app = TestApp::spawn_demo().await;
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, page) = manager.get_text("/requests").await;
    assert_eq!(status, StatusCode::OK);
    let website = request_by(&app, "contact_phone", "+79031234501").await;
    assert_eq!(website.channel, "website");
    assert!(
        page.contains(&website.number),
        "the manager owns the passive channels' requests"
    );
    let hunted = request_by(&app, "channel", "hunter").await;
    assert!(!page.contains(&hunted.number), "not the hunter's");
    let (_, page) = manager.get_text("/requests?scope=all").await;
    assert!(!page.contains(&hunted.number), "only admins see all");
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let (_, page) = admin.get_text("/requests?scope=all").await;
    assert!(page.contains(&hunted.number) && page.contains(&website.number));
    let (_, page) = admin.get_text("/requests?scope=all&channel=hunter").await;
    assert!(page.contains(&hunted.number) && !page.contains(&website.number));
    let today = app
        .clock
        .now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d")
        .to_string();
    let (_, page) = admin
        .get_text(&format!("/requests?scope=all&from={today}&to={today}"))
        .await;
    assert!(page.contains(&website.number));
    let (_, page) = admin
        .get_text("/requests?scope=all&from=2001-01-01&to=2001-01-31")
        .await;
    assert!(!page.contains(&website.number));

    // The owner completes what is missing during qualification.
    app.run_due().await;
    let (status, page) = manager
        .get_text(&format!("/requests/{}/edit", website.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Паллеты с тротуарной плиткой"),
        "the form is filled"
    );
    let r = post(
        &manager,
        &format!("/requests/{}/edit", website.id),
        &[
            ("f.cargo", "Паллеты с плиткой, 12 паллет".into()),
            ("f.weight_t", "14".into()),
            ("f.loading_address", "Москва, ул. Складочная, 1".into()),
            (
                "f.unloading_address",
                "Тверь, ул. Индустриальная, 11".into(),
            ),
            ("f.body_type", "тент".into()),
            ("wanted_from", local(&app, 3, 9)),
            ("contact_name", "Дмитрий Кузнецов".into()),
            ("contact_phone", "+79031234501".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(
        request(&app, website.id).await.fields()["weight_t"],
        json!(14.0)
    );
    // Qualified: no more edits.
    let (task, _) = open_task(&app, website.id).await.expect("task");
    complete(&app, &manager, task, "ready").await;
    let (status, _) = manager
        .get_text(&format!("/requests/{}/edit", website.id))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn attachments_are_kept_with_the_request_and_refused_files_leave_nothing() {
    let app = TestApp::spawn_demo().await;
    let client = app.client();
    client.login("client@sevbeton.test", DEMO_PASSWORD).await;
    let token = client.csrf().await;
    let multipart = |file: (&'static str, Vec<u8>)| {
        reqwest::multipart::Form::new()
            .text("f.category", "excavator")
            .text("f.work", "Котлован")
            .text("f.site_address", "Мытищи, ул. Колпакова, 2")
            .text("wanted_from", local(&app, 2, 9))
            .part(
                "attachments",
                reqwest::multipart::Part::bytes(file.1).file_name(file.0),
            )
            .part(
                "attachments",
                reqwest::multipart::Part::bytes(b"%PDF-1.4 plan".to_vec()).file_name("план.pdf"),
            )
    };
    let files_before = count(&app, "SELECT COUNT(*) FROM files").await;
    let requests_before = count(&app, "SELECT COUNT(*) FROM requests").await;
    let r = client
        .http
        .post(client.url(&format!("/requests/new/machinery?_csrf={token}")))
        .multipart(multipart(("evil.png", b"<script>".to_vec())))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("id=\"e-attachments\"")
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM files").await,
        files_before
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM requests").await,
        requests_before
    );

    let r = client
        .http
        .post(client.url(&format!("/requests/new/machinery?_csrf={token}")))
        .multipart(multipart((
            "фото.jpg",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
        )))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = id_of(&r);
    let files: Vec<(i64, String)> = sqlx::query_as(
        "SELECT f.id, f.original_name FROM request_files rf JOIN files f ON f.id = rf.file_id WHERE rf.request_id = $1 ORDER BY f.id",
    )
    .bind(id)
    .fetch_all(app.db().pool())
    .await
    .expect("files");
    assert_eq!(
        files.iter().map(|f| f.1.as_str()).collect::<Vec<_>>(),
        ["фото.jpg", "план.pdf"]
    );
    let (_, page) = client.get_text(&format!("/requests/{id}")).await;
    assert!(page.contains(&format!("/files/{}", files[0].0)));
    let (status, _) = client.get_text(&format!("/files/{}", files[1].0)).await;
    assert_eq!(status, StatusCode::OK);
    let staff = app.client();
    staff.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, _) = staff.get_text(&format!("/files/{}", files[1].0)).await;
    assert_eq!(status, StatusCode::OK);
    let other = app.client();
    other.login("client@belova.test", DEMO_PASSWORD).await;
    let (status, _) = other.get_text(&format!("/files/{}", files[1].0)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_old_order_addresses_redirect_permanently_to_request() {
    let app = TestApp::spawn_demo().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (old, new) in [
        ("/order", "/request"),
        ("/order/cargo", "/request/cargo"),
        ("/order/cargo?utm=x", "/request/cargo?utm=x"),
        ("/embed/order", "/embed/request"),
        ("/embed/order/cargo", "/embed/request/cargo"),
    ] {
        let r = http
            .get(format!("{}{old}", app.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT, "{old}");
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some(new),
            "{old}"
        );
    }
    // A form posted to an old address is posted again (308 keeps the method).
    let r = http
        .post(format!("{}/embed/order/cargo", app.base))
        .form(&[("contact_phone", "+7 903 700-00-02")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/embed/request/cargo")
    );
    // The new addresses answer themselves.
    let r = http
        .get(format!("{}/request/cargo", app.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}
