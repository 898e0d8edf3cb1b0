//! Impersonation through the public form (issue 10, point 6): a website or
//! API request that matches an existing client by phone, e-mail or INN but
//! carries a contact the client does not have on record is held as "client
//! unconfirmed" — no offer can go out for it, the client does not see it,
//! the visitor learns nothing of the client — until staff confirm the match
//! or split the request off to a new client. Offers go only to a client's
//! verified contacts, never to a request's typed contact.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp, location};
use crate::quotes::{local_day, org_id};

/// The demo's website visitor, a private client without a login.
const KUZNETSOV: &str = "Дмитрий Кузнецов";
const KUZNETSOV_PHONE: &str = "+79031234501";
const KUZNETSOV_EMAIL: &str = "dkuz@example.test";
/// The demo's company client with a cabinet user.
const BETON: &str = "ООО «Северный бетон»";
const BETON_INN: &str = "5030123457";
const GRUZAVTO: &str = "ООО «ГрузАвто»";

async fn scalar_i64(app: &TestApp, sql: &'static str, key: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql} ({key}): {e}"))
}

/// A cargo request at the centre of Moscow in a week, which the demo's
/// ГрузАвто can quote for, as the public form sends it.
fn cargo_form(app: &TestApp, name: &str, phone: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("f.cargo", "Паллеты с плиткой".into()),
        ("f.weight_t", "4".into()),
        ("f.loading_address", "г. Москва, ул. Тверская, д. 7".into()),
        ("f.loading_address.lat", "55.7578".into()),
        ("f.loading_address.lon", "37.6117".into()),
        ("f.loading_address.tz", "Europe/Moscow".into()),
        ("f.unloading_address", "г. Тверь".into()),
        ("wanted_from", local_day(app, 7, 10)),
        ("duration", "4".into()),
        ("contact_name", name.into()),
        ("contact_phone", phone.into()),
        ("contact_email", email.into()),
    ]
}

async fn post(b: &Browser, path: &str, fields: &[(&'static str, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post_form(path, &pairs).await
}

/// The request number on the "request received" page.
fn number_on(page: &str) -> String {
    regex::Regex::new(r#"id="request-number">([^<]+)<"#)
        .expect("re")
        .captures(page)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("the page shows the number: {page}"))
}

async fn request_id(app: &TestApp, number: &str) -> i64 {
    scalar_i64(app, "SELECT id FROM requests WHERE number = $1", number).await
}

async fn client_of(app: &TestApp, request: i64) -> i64 {
    sqlx::query_scalar("SELECT client_org_id FROM requests WHERE id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("request")
}

/// The request's match row: (matched client, matched by, status).
async fn held(app: &TestApp, request: i64) -> Option<(i64, String, String)> {
    sqlx::query_as(
        "SELECT matched_org_id, matched_by, status FROM request_client_matches WHERE request_id = $1",
    )
    .bind(request)
    .fetch_optional(app.db().pool())
    .await
    .expect("matches")
}

/// Messages to `recipient` that carry an offer link.
async fn offer_links_to(app: &TestApp, recipient: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND body LIKE '%/offers/t/%'",
    )
    .bind(recipient)
    .fetch_one(app.db().pool())
    .await
    .expect("notifications")
}

async fn offers_of(app: &TestApp, request: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM offers WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("offers")
}

async fn status_of(app: &TestApp, request: i64) -> String {
    sqlx::query_scalar("SELECT status FROM requests WHERE id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("status")
}

/// A client made by a split, as the test checks it.
#[derive(sqlx::FromRow)]
struct NewClient {
    name: String,
    inn: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    acquisition_channel: Option<String>,
    manager_user_id: Option<i64>,
}

async fn login(app: &TestApp, who: &str) -> Browser {
    let b = app.client();
    b.login(who, DEMO_PASSWORD).await;
    b
}

/// Qualifies the request, asks ГрузАвто for a quote and has it quote: the
/// request is then ready for our offer. Staff can do all this while the
/// client is unconfirmed; only the offer waits.
async fn to_quote_review(app: &TestApp, manager: &Browser, request: i64) {
    app.run_due().await;
    let task: i64 = sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = 'qualify' AND t.status = 'open'",
    )
    .bind(request)
    .fetch_one(app.db().pool())
    .await
    .expect("the qualification task");
    app.app
        .as_ref()
        .expect("running")
        .services
        .engine
        .complete_task(task, "ready", Default::default(), &engine::Actor::System)
        .await
        .expect("qualified");
    app.run_due().await;
    let gruz_id = org_id(app, GRUZAVTO).await.to_string();
    let r = manager
        .post_form(
            &format!("/requests/{request}/rfq"),
            &[("supplier", &gruz_id), ("add", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let rfq: i64 = sqlx::query_scalar("SELECT MAX(id) FROM rfqs WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("rfq");
    let machine = scalar_i64(
        app,
        "SELECT id FROM machines WHERE plate = $1",
        "Р530ЕК 777",
    )
    .await
    .to_string();
    let driver = scalar_i64(
        app,
        "SELECT id FROM employees WHERE email = $1",
        "driver1@gruzavto.test",
    )
    .await
    .to_string();
    let arrival = local_day(app, 7, 9);
    let gruz = login(app, "dispatcher@gruzavto.test").await;
    let r = gruz
        .post_form(
            &format!("/supplier/rfqs/{rfq}/quote"),
            &[
                ("machine_id", &machine),
                ("employee_id", &driver),
                ("price_unit", "hour"),
                ("unit_price", "3 660"),
                ("quantity", "4"),
                ("vat_mode", "vat22"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "10"),
                ("payment_method", "bank"),
                ("arrival_at", &arrival),
                ("valid_until", ""),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(status_of(app, request).await, "quote_review");
}

/// The manager sends our offer on the request's quote.
async fn send_offer(app: &TestApp, manager: &Browser, request: i64) -> reqwest::Response {
    let quote: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM supplier_quotes WHERE request_id = $1")
            .bind(request)
            .fetch_one(app.db().pool())
            .await
            .expect("quote");
    let q = quote.to_string();
    let valid = local_day(app, 2, 18);
    manager
        .post_form(
            &format!("/requests/{request}/offer"),
            &[
                ("quote_id", &q),
                ("markup_kind", "percent"),
                ("markup", "10"),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &valid),
                ("comment", ""),
            ],
        )
        .await
}

#[tokio::test]
async fn a_visitor_with_a_clients_phone_and_their_own_email_gets_nothing_of_the_client() {
    let app = TestApp::spawn_demo().await;
    let kuz = org_id(&app, KUZNETSOV).await;
    let visitor = app.client();
    let intruder = "intruder@example.test";
    let r = post(
        &visitor,
        "/request/cargo",
        &cargo_form(&app, "Пётр Самозванов", "8 903 123-45-01", intruder),
    )
    .await;
    let (status, page) = visitor.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    let number = number_on(&page);
    // The visitor hears what any visitor hears: nothing of the client.
    for secret in [KUZNETSOV, "Кузнецов", KUZNETSOV_EMAIL] {
        assert!(!page.contains(secret), "the page shows {secret:?}");
    }
    let receipt: Vec<String> =
        sqlx::query_scalar("SELECT subject || ' ' || body FROM notifications WHERE recipient = $1")
            .bind(intruder)
            .fetch_all(app.db().pool())
            .await
            .expect("mail");
    assert_eq!(receipt.len(), 1, "only the request's number: {receipt:?}");
    assert!(receipt[0].contains(&number) && !receipt[0].contains("Кузнецов"));
    let request = request_id(&app, &number).await;
    assert_eq!(
        held(&app, request).await,
        Some((kuz, "phone".to_string(), "unconfirmed".to_string())),
        "a phone alone proves nothing"
    );
    assert_eq!(client_of(&app, request).await, kuz, "its manager decides");

    // The JSON endpoint and the embeddable form are held the same way.
    let api = app
        .client()
        .http
        .post(format!("{}/api/public/requests", app.base))
        .json(&json!({
            "request_type": "cargo",
            "wanted_from": local_day(&app, 7, 10),
            "duration": 4,
            "contact_name": "Пётр Самозванов",
            "contact_phone": "+7 999 000-11-22",
            "contact_email": KUZNETSOV_EMAIL,
            "fields": {
                "cargo": "Паллеты", "weight_t": 4, "unloading_address": {"address": "г. Тверь"},
                "loading_address": {"address": "г. Москва, ул. Тверская, д. 7", "lat": 55.7578, "lon": 37.6117}
            }
        }))
        .send()
        .await
        .expect("POST");
    assert_eq!(api.status(), StatusCode::CREATED);
    let answer: Value = api.json().await.expect("json");
    assert!(!answer.to_string().contains("Кузнецов"), "{answer}");
    let by_api = request_id(&app, answer["number"].as_str().expect("number")).await;
    assert_eq!(
        held(&app, by_api).await,
        Some((kuz, "email".to_string(), "unconfirmed".to_string()))
    );
    let embedder = app.client();
    let r = post(
        &embedder,
        "/embed/request/cargo",
        &cargo_form(
            &app,
            "Пётр Самозванов",
            KUZNETSOV_PHONE,
            "other@example.test",
        ),
    )
    .await;
    let (status, page) = embedder.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    let embedded = request_id(&app, &number_on(&page)).await;
    assert_eq!(
        held(&app, embedded).await.map(|h| h.2),
        Some("unconfirmed".to_string())
    );

    // Staff see why and what to do; the offer waits.
    let manager = login(&app, "manager@podryad.test").await;
    let (_, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert!(
        page.contains("id=\"client-unconfirmed\"")
            && page.contains("Клиент не подтверждён")
            && page.contains("Это этот клиент")
            && page.contains("Это другой клиент")
            && page.contains(intruder),
        "{page}"
    );
    to_quote_review(&app, &manager, request).await;
    let quote: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM supplier_quotes WHERE request_id = $1")
            .bind(request)
            .fetch_one(app.db().pool())
            .await
            .expect("quote");
    let (status, page) = manager
        .get_text(&format!("/requests/{request}/offer?quote={quote}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("id=\"offer-blocked\"") && page.contains("Клиент заявки не подтверждён"),
        "{page}"
    );
    let r = send_offer(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("id=\"offer-blocked\"") && page.contains("Клиент заявки не подтверждён"),
        "the reason next to the send button: {page}"
    );
    assert_eq!(offers_of(&app, request).await, 0);
    assert_eq!(offer_links_to(&app, intruder).await, 0);
    assert_eq!(offer_links_to(&app, KUZNETSOV_EMAIL).await, 0);
    assert_eq!(status_of(&app, request).await, "quote_review");

    // The manager called Кузнецов: it is him after all.
    let r = manager
        .post_form(&format!("/requests/{request}/client/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/requests/{request}"));
    assert_eq!(
        held(&app, request).await.map(|h| h.2),
        Some("confirmed".to_string())
    );
    let added: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM org_contacts WHERE org_id = $1 AND email = $2 AND phone IS NULL",
    )
    .bind(kuz)
    .bind(intruder)
    .fetch_one(app.db().pool())
    .await
    .expect("contacts");
    assert_eq!(
        added, 1,
        "the new e-mail is the client's now; the phone was"
    );
    let (_, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert!(
        !page.contains("id=\"client-unconfirmed\"")
            && page.contains("id=\"client-match-decision\""),
        "{page}"
    );
    let r = manager
        .post_form(&format!("/requests/{request}/client/split"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "decided once");
    assert_eq!(client_of(&app, request).await, kuz);

    let r = send_offer(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(offers_of(&app, request).await, 1);
    assert_eq!(
        offer_links_to(&app, KUZNETSOV_EMAIL).await,
        1,
        "the client's own e-mail on record"
    );
    assert_eq!(
        offer_links_to(&app, intruder).await,
        1,
        "and the contact staff confirmed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stranger_with_a_clients_inn_is_split_off_to_a_new_client_the_client_never_sees() {
    let app = TestApp::spawn_demo().await;
    let beton = org_id(&app, BETON).await;
    let buyer = "buyer@example.test";
    // Through the embeddable form, with a file (no cookies: an iframe).
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in cargo_form(&app, "Олег Покупателев", "+7 903 555-00-01", buyer) {
        form = form.text(k, v);
    }
    form = form
        .text("company_name", "ООО «Бетон-Север»")
        .text("inn", BETON_INN)
        .part(
            "attachments",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 scheme".to_vec()).file_name("схема.pdf"),
        );
    let visitor = app.client();
    let r = visitor
        .http
        .post(format!("{}/embed/request/cargo", app.base))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    let (status, page) = visitor.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Северный бетон"), "{page}");
    let number = number_on(&page);
    let request = request_id(&app, &number).await;
    assert_eq!(
        held(&app, request).await,
        Some((beton, "inn".to_string(), "unconfirmed".to_string())),
        "an INN is public: it proves nothing"
    );
    let file: i64 = sqlx::query_scalar("SELECT file_id FROM request_files WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("file");

    // The client's cabinet shows neither the stranger's request nor its file.
    let client = login(&app, "client@sevbeton.test").await;
    let (_, list) = client.get_text("/requests").await;
    assert!(!list.contains(&number), "{list}");
    let (status, _) = client.get_text(&format!("/requests/{request}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client.get_text(&format!("/files/{file}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let manager = login(&app, "manager@podryad.test").await;
    to_quote_review(&app, &manager, request).await;
    let r = send_offer(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Not them: a new client from what the visitor typed takes the request.
    let r = manager
        .post_form(&format!("/requests/{request}/client/split"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let new_client = client_of(&app, request).await;
    assert_ne!(new_client, beton);
    let c: NewClient = sqlx::query_as(
        "SELECT name, inn, phone, email, acquisition_channel, manager_user_id FROM organisations WHERE id = $1",
    )
    .bind(new_client)
    .fetch_one(app.db().pool())
    .await
    .expect("new client");
    let NewClient {
        name,
        inn,
        phone,
        email,
        acquisition_channel: channel,
        manager_user_id: manager_id,
    } = c;
    assert_eq!(name, "ООО «Бетон-Север»");
    assert_eq!(inn, None, "the matched client's INN is not theirs");
    assert_eq!(phone.as_deref(), Some("+79035550001"));
    assert_eq!(email.as_deref(), Some(buyer));
    assert_eq!(channel.as_deref(), Some("website"));
    assert!(manager_id.is_some(), "a passive channel: a manager at once");
    let (hunter, files_org): (Option<i64>, i64) = sqlx::query_as(
        "SELECT r.hunter_user_id, f.org_id FROM requests r JOIN request_files rf ON rf.request_id = r.id
         JOIN files f ON f.id = rf.file_id WHERE r.id = $1",
    )
    .bind(request)
    .fetch_one(app.db().pool())
    .await
    .expect("request");
    assert_eq!((hunter, files_org), (None, new_client));
    let beton_contacts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM org_contacts WHERE org_id = $1 AND (email = $2 OR phone = '+79035550001')",
    )
    .bind(beton)
    .bind(buyer)
    .fetch_one(app.db().pool())
    .await
    .expect("contacts");
    assert_eq!(beton_contacts, 0, "the matched client keeps nothing of it");
    assert_eq!(
        held(&app, request).await.map(|h| h.2),
        Some("split".to_string())
    );
    let (status, _) = client.get_text(&format!("/requests/{request}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The new client's contacts are its own (made from this very request).
    let r = send_offer(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(offer_links_to(&app, buyer).await, 1);
    assert_eq!(offer_links_to(&app, "zakaz@sevbeton.test").await, 0);
    assert_eq!(offer_links_to(&app, "client@sevbeton.test").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_fully_matching_visitor_proceeds_and_offers_go_only_to_contacts_on_record() {
    let app = TestApp::spawn_demo().await;
    let kuz = org_id(&app, KUZNETSOV).await;
    // Every contact typed is the client's own: the request is the client's.
    let visitor = app.client();
    let r = post(
        &visitor,
        "/request/cargo",
        &cargo_form(&app, KUZNETSOV, "8 (903) 123-45-01", KUZNETSOV_EMAIL),
    )
    .await;
    let (status, page) = visitor.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    let request = request_id(&app, &number_on(&page)).await;
    assert_eq!(client_of(&app, request).await, kuz);
    assert_eq!(held(&app, request).await, None);
    let manager = login(&app, "manager@podryad.test").await;
    let (_, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert!(!page.contains("id=\"client-unconfirmed\""), "{page}");

    // Staff may change the request's contact while qualifying it; that
    // contact is not the client's record, so our offer does not go there.
    app.run_due().await;
    let r = post(
        &manager,
        &format!("/requests/{request}/edit"),
        &cargo_form(
            &app,
            "Прораб Сидоров",
            KUZNETSOV_PHONE,
            "prorab@example.test",
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    to_quote_review(&app, &manager, request).await;
    let r = send_offer(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(offer_links_to(&app, KUZNETSOV_EMAIL).await, 1);
    assert_eq!(offer_links_to(&app, "prorab@example.test").await, 0);
    app.stop().await;
}
