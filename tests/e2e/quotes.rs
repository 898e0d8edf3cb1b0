//! Matching, requests for quotes, suppliers' quotes and our offer to the
//! client (issue 6), through HTTP: the golden path from a request to the
//! client's acceptance, a round without quotes, reminders, the broker's
//! confidentiality between the parties, and what a supplier cannot quote with.

use std::collections::BTreeMap;

use chrono::Duration;
use domain::intake::requests::{Channel, Placement, RequestInput};
use reqwest::StatusCode;

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp};

const STROYTECH: &str = "ООО «СтройТехРесурс»";
const FEDOROV: &str = "ИП Фёдоров Андрей Викторович";
pub(crate) const GRUZAVTO: &str = "ООО «ГрузАвто»";
const CLIENT: &str = "ООО «Северный бетон»";
pub(crate) const CLIENT_PHONE: &str = "+79167770011";

pub(crate) fn services(app: &TestApp) -> &domain::services::Services {
    &app.app.as_ref().expect("running").services
}

/// The id a one-row query finds for `key`.
pub(crate) async fn id_of(app: &TestApp, sql: &'static str, key: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

pub(crate) async fn org_id(app: &TestApp, name: &str) -> i64 {
    id_of(app, "SELECT id FROM organisations WHERE name = $1", name).await
}

pub(crate) async fn machine(app: &TestApp, plate: &str) -> i64 {
    id_of(app, "SELECT id FROM machines WHERE plate = $1", plate).await
}

pub(crate) async fn employee(app: &TestApp, email: &str) -> i64 {
    id_of(app, "SELECT id FROM employees WHERE email = $1", email).await
}

/// The site-local `YYYY-MM-DDTHH:MM` of `days` from now at `hour`.
pub(crate) fn local_day(app: &TestApp, days: i64, hour: u32) -> String {
    let d = services(app)
        .db
        .now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        + Duration::days(days);
    format!("{}T{hour:02}:00", d.format("%Y-%m-%d"))
}

/// A cargo request of the demo client, at the centre of Moscow, 4 t, in a
/// week; placed through the domain and qualified (the intake's part).
pub(crate) async fn ready_request(app: &TestApp) -> (i64, String) {
    let mut fields = BTreeMap::new();
    fields.insert(
        "f.cargo".to_string(),
        format!("Паллеты с плиткой, звонить {CLIENT_PHONE}"),
    );
    fields.insert("f.weight_t".to_string(), "4".to_string());
    fields.insert(
        "f.loading_address".to_string(),
        "г. Москва, ул. Тверская, д. 7".to_string(),
    );
    fields.insert("f.loading_address.lat".to_string(), "55.7578".to_string());
    fields.insert("f.loading_address.lon".to_string(), "37.6117".to_string());
    fields.insert("f.unloading_address".to_string(), "г. Тверь".to_string());
    let input = RequestInput {
        request_type: "cargo".into(),
        wanted_from: local_day(app, 7, 10),
        duration: "4".into(),
        contact_name: "Прораб Сидоров".into(),
        contact_phone: CLIENT_PHONE.into(),
        fields,
        ..Default::default()
    };
    let created = place_qualified(app, CLIENT, &input).await;
    (created.id, created.number)
}

/// Places `input` for the client named `client` as an operator would
/// (through the domain) and completes its qualification, so the request
/// waits for matching.
pub(crate) async fn place_qualified(
    app: &TestApp,
    client: &str,
    input: &RequestInput,
) -> domain::intake::requests::Created {
    let s = services(app);
    let t = s
        .request_types
        .get(input.request_type.as_str())
        .expect("request type");
    let valid = input
        .validate(t, s, s.db.now(), true)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let client = org_id(app, client).await;
    let mut tx = s.db.begin().await.expect("tx");
    let created = domain::intake::requests::insert(
        s,
        &mut tx,
        &valid,
        &Placement {
            client_org_id: client,
            channel: Channel::Operator,
            hunter_user_id: None,
            created_by: None,
        },
        t,
    )
    .await
    .expect("request");
    tx.commit().await.expect("commit");
    app.run_due().await;
    let task = open_task(app, created.id, "qualify").await;
    s.engine
        .complete_task(task, "ready", Default::default(), &engine::Actor::System)
        .await
        .expect("qualified");
    app.run_due().await;
    created
}

pub(crate) async fn open_task(app: &TestApp, request_id: i64, key: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = $2 AND t.status = 'open'",
    )
    .bind(request_id)
    .bind(key)
    .fetch_one(app.db().pool())
    .await
    .unwrap_or_else(|e| panic!("open task {key}: {e}"))
}

pub(crate) async fn request_status(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM requests WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("status")
}

pub(crate) async fn rfq_of(app: &TestApp, request_id: i64, supplier: &str) -> i64 {
    let org = org_id(app, supplier).await;
    sqlx::query_scalar("SELECT MAX(id) FROM rfqs WHERE request_id = $1 AND supplier_org_id = $2")
        .bind(request_id)
        .bind(org)
        .fetch_one(app.db().pool())
        .await
        .expect("rfq")
}

pub(crate) async fn login(app: &TestApp, who: &str) -> Browser {
    let b = app.client();
    b.login(who, DEMO_PASSWORD).await;
    b
}

/// The manager sends the RFQ round to `suppliers` from the matching page.
pub(crate) async fn send_rfq(
    app: &TestApp,
    manager: &Browser,
    request_id: i64,
    suppliers: &[&str],
) {
    let mut ids = Vec::new();
    for s in suppliers {
        ids.push(org_id(app, s).await.to_string());
    }
    let mut form: Vec<(&str, &str)> = ids.iter().map(|i| ("supplier", i.as_str())).collect();
    form.push(("add", ""));
    let r = manager
        .post_form(&format!("/requests/{request_id}/rfq"), &form)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
}

pub(crate) async fn quote(
    b: &Browser,
    rfq: i64,
    machine: i64,
    employee: i64,
    price: &str,
    arrival: &str,
) -> reqwest::Response {
    let m = machine.to_string();
    let e = employee.to_string();
    b.post_form(
        &format!("/supplier/rfqs/{rfq}/quote"),
        &[
            ("machine_id", &m),
            ("employee_id", &e),
            ("price_unit", "hour"),
            ("unit_price", price),
            ("quantity", "4"),
            ("vat_mode", "vat22"),
            ("prepayment_percent", "0"),
            ("postpayment_days", "10"),
            ("payment_method", "bank"),
            ("arrival_at", arrival),
            ("valid_until", ""),
            ("comment", "Гидроборт есть"),
        ],
    )
    .await
}

pub(crate) async fn notifications_to(app: &TestApp, recipient: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT subject, body FROM notifications WHERE recipient = $1 ORDER BY id")
        .bind(recipient)
        .fetch_all(app.db().pool())
        .await
        .expect("notifications")
}

#[tokio::test]
async fn golden_path_from_matching_to_the_clients_acceptance() {
    let app = TestApp::spawn_demo().await;
    let (request, number) = ready_request(&app).await;
    assert_eq!(request_status(&app, request).await, "ready_for_matching");

    // Matching: the three demo suppliers fit, with reasons for the rest.
    let manager = login(&app, "manager@podryad.test").await;
    let (status, page) = manager
        .get_text(&format!("/requests/{request}/matching"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for name in [STROYTECH, FEDOROV, GRUZAVTO] {
        assert!(
            page.contains(&name.replace('«', "&laquo;")) || page.contains(name),
            "{name} in {page}"
        );
    }
    assert!(page.contains("км"), "distances are shown");
    let day = local_day(&app, 7, 0);
    let day = format!("{}.{}.{}", &day[8..10], &day[5..7], &day[..4]);
    assert!(
        page.contains(&day),
        "the job's day as dd.mm.yyyy ({day}): {page}"
    );
    // Unavailable machines carry their reason (Fedorov's tipper with expired ОСАГО).
    let result = domain::deals::matching::run(services(&app), &result_request(&app, request).await)
        .await
        .expect("matching");
    let fitting: Vec<&str> = result.fitting().map(|s| s.name.as_str()).collect();
    assert_eq!(fitting.len(), 3, "{fitting:?}");
    let expired = machine(&app, "Н117ТУ 750").await;
    let m = result
        .suppliers
        .iter()
        .flat_map(|s| s.machines.iter())
        .find(|m| m.machine_id == expired)
        .expect("listed");
    assert!(
        !m.fits && m.reasons.iter().any(|r| r.code == "document_expired"),
        "{m:?}"
    );

    // RFQ to three suppliers.
    send_rfq(&app, &manager, request, &[STROYTECH, FEDOROV, GRUZAVTO]).await;
    assert_eq!(request_status(&app, request).await, "rfq");
    let mail = notifications_to(&app, "dispatcher@stroytech.test").await;
    assert!(
        mail.iter().any(|(s, b)| s.contains("Запрос КП")
            && !b.contains(CLIENT)
            && !b.contains("Тверская")),
        "{mail:?}"
    );

    // The dispatcher sees it with a badge, without the client.
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let (_, list) = stroy.get_text("/supplier/rfqs").await;
    assert!(
        list.contains("class=\"badge\""),
        "badge in the navigation: {list}"
    );
    let rfq_s = rfq_of(&app, request, STROYTECH).await;
    let (status, page) = stroy.get_text(&format!("/supplier/rfqs/{rfq_s}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("г. Москва") && page.contains("Паллеты"),
        "{page}"
    );
    assert!(
        page.contains("4 т") && !page.contains("4.0"),
        "numbers the Russian way: {page}"
    );
    for secret in [
        CLIENT,
        "Северный бетон",
        "Сидоров",
        CLIENT_PHONE,
        "Тверская",
        &number,
    ] {
        assert!(
            !page.contains(secret),
            "the supplier must not see {secret:?}"
        );
    }

    // A supplier cannot quote with another supplier's machine.
    let arrival = local_day(&app, 7, 9);
    let fed_tipper = machine(&app, "Т455НА 50").await;
    let r = quote(
        &stroy,
        rfq_s,
        fed_tipper,
        employee(&app, "driver1@stroytech.test").await,
        "5000",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("своего гаража"));
    // Nor with someone else's driver.
    let manip = machine(&app, "М702ОР 190").await;
    let r = quote(
        &stroy,
        rfq_s,
        manip,
        employee(&app, "driver1@gruzavto.test").await,
        "5000",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Stroytech quotes with its crane-manipulator, then revises.
    let r = quote(
        &stroy,
        rfq_s,
        manip,
        employee(&app, "driver1@stroytech.test").await,
        "5 000",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let r = quote(
        &stroy,
        rfq_s,
        manip,
        employee(&app, "driver1@stroytech.test").await,
        "4 880",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Fedorov: the busy tipper and the one with expired ОСАГО are refused;
    // it declines.
    let fed_owner = login(&app, "owner@fedorov.test").await;
    let day = local_day(&app, 7, 0)[..10].to_string();
    let r = fed_owner
        .post_form(
            &format!("/garage/{fed_tipper}/calendar"),
            &[("from", &day), ("until", ""), ("note", "Другой заказ")],
        )
        .await;
    assert!(r.status().is_redirection(), "{:?}", r.text().await);
    let fed = login(&app, "dispatcher@fedorov.test").await;
    let rfq_f = rfq_of(&app, request, FEDOROV).await;
    let driver_f = employee(&app, "driver1@fedorov.test").await;
    for m in [fed_tipper, expired] {
        let r = quote(&fed, rfq_f, m, driver_f, "4000", &arrival).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.expect("body").contains("недоступна"));
    }
    let r = fed
        .post_form(
            &format!("/supplier/rfqs/{rfq_f}/decline"),
            &[("reason", "Все машины заняты")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A supplier does not reach another's RFQ.
    let (status, _) = fed.get_text(&format!("/supplier/rfqs/{rfq_s}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // GruzAvto quotes; everyone has answered: the review starts, while the
    // round stays open until its deadline (suppliers may still revise).
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let rfq_g = rfq_of(&app, request, GRUZAVTO).await;
    let r = quote(
        &gruz,
        rfq_g,
        machine(&app, "Р530ЕК 777").await,
        employee(&app, "driver1@gruzavto.test").await,
        "3 660",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "quote_review");

    // The comparison suggests the cheaper one; the manager offers it.
    let (status, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Лучшее") && page.contains("дешевле всех"),
        "{page}"
    );
    let best: i64 = sqlx::query_scalar("SELECT id FROM supplier_quotes WHERE rfq_id = $1")
        .bind(rfq_g)
        .fetch_one(app.db().pool())
        .await
        .expect("quote");
    let (status, page) = manager
        .get_text(&format!("/requests/{request}/offer?quote={best}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let valid = local_day(&app, 2, 18);
    let q = best.to_string();
    let r = manager
        .post_form(
            &format!("/requests/{request}/offer"),
            &[
                ("quote_id", &q),
                ("markup_kind", "percent"),
                ("markup", "15"),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &valid),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_sent");
    // The offer closed the round: its quotes stand as offered.
    let r = gruz
        .post_form(&format!("/supplier/rfqs/{rfq_g}/withdraw"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "closed rounds are final");
    // 3 660 ₽ with VAT 22 % → cost 3 000 ₽; +15 % = 3 450 ₽; + VAT = 4 209 ₽ × 4 h.
    let (offer, total, margin): (i64, i64, i64) =
        sqlx::query_as("SELECT id, total_gross, margin_total FROM offers WHERE request_id = $1")
            .bind(request)
            .fetch_one(app.db().pool())
            .await
            .expect("offer");
    assert_eq!(total, 4 * 420_900);
    assert_eq!(margin, 4 * 45_000);

    // The client: in the cabinet and through the e-mailed link, no supplier.
    let mail = notifications_to(&app, "zakaz@sevbeton.test").await;
    let mail = if mail.is_empty() {
        notifications_to(&app, "client@sevbeton.test").await
    } else {
        mail
    };
    let body = mail
        .last()
        .map(|m| m.1.clone())
        .expect("the client is told");
    let token = body
        .split("/offers/t/")
        .nth(1)
        .map(|t| t.split_whitespace().next().unwrap_or_default().to_string())
        .expect("a link");
    let client = login(&app, "client@sevbeton.test").await;
    // The request page says an answer is awaited, not how the search went.
    let (_, page) = client.get_text(&format!("/requests/{request}")).await;
    assert!(
        page.contains("Ждёт вашего ответа") && page.contains("href=\"/offers\""),
        "{page}"
    );
    assert!(
        !page.contains("Запрос КП") && !page.contains("Выбор КП"),
        "{page}"
    );
    let (_, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert!(
        page.contains(&format!("/requests/{request}/quotes")),
        "{page}"
    );
    let (status, page) = client.get_text(&format!("/offers/{offer}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("16") && page.contains("836,00"),
        "our price: {page}"
    );
    let supplier_secrets = [
        STROYTECH,
        FEDOROV,
        GRUZAVTO,
        "ГрузАвто",
        "Р530ЕК",
        "М702ОР",
        "3 660",
        "3\u{a0}660",
        "Никитина",
        "Козлов",
        "+74957778899",
    ];
    for secret in supplier_secrets {
        assert!(!page.contains(secret), "the client must not see {secret:?}");
    }
    let anon = app.client();
    let (status, page) = anon.get_text(&format!("/offers/t/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    for secret in supplier_secrets {
        assert!(!page.contains(secret), "the link must not show {secret:?}");
    }
    // Neither side reaches the other's objects by id.
    let (status, _) = gruz.get_text(&format!("/offers/{offer}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client.get_text(&format!("/supplier/rfqs/{rfq_g}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert!(matches!(
        status,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ));
    // The supplier never sees our price or the client in its own lists.
    let (_, page) = gruz.get_text("/supplier/quotes").await;
    assert!(
        !page.contains("16\u{a0}836") && !page.contains("4\u{a0}209") && !page.contains(CLIENT),
        "{page}"
    );

    // The client accepts through the link (no password).
    let r = anon
        .post_form(&format!("/offers/t/{token}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "accepted");
    // The accept made the order; its own funnel takes it from here.
    let orders: Vec<(i64, String)> =
        sqlx::query_as("SELECT offer_id, status FROM orders WHERE request_id = $1")
            .bind(request)
            .fetch_all(app.db().pool())
            .await
            .expect("orders");
    assert_eq!(orders, [(offer, "awaiting_contracts".to_string())]);
    let statuses: Vec<(i64, String)> = sqlx::query_as(
        "SELECT rfq_id, status FROM supplier_quotes WHERE request_id = $1 ORDER BY rfq_id",
    )
    .bind(request)
    .fetch_all(app.db().pool())
    .await
    .expect("quotes");
    assert!(
        statuses.contains(&(rfq_g, "won".to_string()))
            && statuses.contains(&(rfq_s, "lost".to_string())),
        "{statuses:?}"
    );
    // The link is spent.
    let r = anon
        .post_form(&format!("/offers/t/{token}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    // The machine is now booked for that day.
    let booked = domain::deals::matching::machines_of_supplier(
        services(&app),
        &result_request(&app, request).await,
        org_id(&app, GRUZAVTO).await,
    )
    .await
    .expect("machines");
    assert!(
        booked
            .iter()
            .any(|m| m.reasons.iter().any(|r| r.code == "booked")),
        "{booked:?}"
    );

    // The supplier card shows the score.
    let gruz_id = org_id(&app, GRUZAVTO).await;
    let (_, card) = manager.get_text(&format!("/parties/{gruz_id}")).await;
    assert!(card.contains("Рейтинг поставщика"), "{card}");
    let (_, won) = gruz.get_text("/supplier/quotes").await;
    assert!(won.contains("Выбрано"), "{won}");
    app.stop().await;
}

pub(crate) async fn result_request(app: &TestApp, id: i64) -> domain::deals::matching::RequestRow {
    sqlx::query_as(
        "SELECT id, number, request_type, client_org_id, owner_user_id, status, site_address, site_lat, site_lon, site_timezone, wanted_from, wanted_to, duration, fields FROM requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("request row")
}

#[tokio::test]
async fn a_round_without_quotes_ends_at_the_deadline_with_a_task() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[GRUZAVTO]).await;
    let deadline: Option<i64> =
        sqlx::query_scalar("SELECT deadline_at FROM rfq_rounds WHERE request_id = $1")
            .bind(request)
            .fetch_one(app.db().pool())
            .await
            .expect("round");
    let deadline = deadline.expect("the workflow set the deadline");
    let sent = services(&app).db.now().timestamp_millis();
    assert!(
        (deadline - sent - 2 * 3_600_000).abs() < 60_000,
        "two hours: {}",
        deadline - sent
    );
    app.clock.advance(Duration::hours(2) + Duration::minutes(1));
    app.run_due().await;
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "no_quotes");
    open_task(&app, request, "no_quotes").await;
    let rfq = rfq_of(&app, request, GRUZAVTO).await;
    let status: String = sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq)
        .fetch_one(app.db().pool())
        .await
        .expect("rfq");
    assert_eq!(status, "expired");
    // Too late to quote.
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let r = quote(
        &gruz,
        rfq,
        machine(&app, "Р530ЕК 777").await,
        employee(&app, "driver1@gruzavto.test").await,
        "3000",
        &local_day(&app, 7, 9),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // The score counts the silence.
    let score = domain::deals::scoring::load(services(&app), &[org_id(&app, GRUZAVTO).await])
        .await
        .expect("score");
    assert!(score.values().all(|s| s.rfqs == 1 && s.answered == 0));
    app.stop().await;
}

#[tokio::test]
async fn suppliers_who_have_not_answered_are_reminded() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[STROYTECH, GRUZAVTO]).await;
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let rfq_s = rfq_of(&app, request, STROYTECH).await;
    let r = stroy
        .post_form(
            &format!("/supplier/rfqs/{rfq_s}/decline"),
            &[("reason", "Нет свободных машин")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.clock.advance(Duration::minutes(46));
    app.run_due().await;
    app.run_due().await;
    let reminded = |mail: Vec<(String, String)>| {
        mail.iter()
            .filter(|(s, _)| s.starts_with("Напоминание"))
            .count()
    };
    assert_eq!(
        reminded(notifications_to(&app, "dispatcher@gruzavto.test").await),
        1
    );
    assert_eq!(
        reminded(notifications_to(&app, "dispatcher@stroytech.test").await),
        0
    );
    // And again later, while the round is open.
    app.clock.advance(Duration::minutes(46));
    app.run_due().await;
    app.run_due().await;
    assert_eq!(
        reminded(notifications_to(&app, "dispatcher@gruzavto.test").await),
        2
    );
    // The RFQ without a reminder form ever reaching the client: the manager's
    // own page lists the reminders.
    let (_, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert!(page.contains("Нет свободных машин"), "{page}");
    app.stop().await;
}

/// A request with one supplier's quote and our offer sent to the client,
/// valid for two days: `(request, offer, token)`.
pub(crate) async fn offer_sent(app: &TestApp) -> (i64, i64, String) {
    let (request, _) = ready_request(app).await;
    let manager = login(app, "manager@podryad.test").await;
    send_rfq(app, &manager, request, &[GRUZAVTO]).await;
    let gruz = login(app, "dispatcher@gruzavto.test").await;
    let rfq = rfq_of(app, request, GRUZAVTO).await;
    let r = quote(
        &gruz,
        rfq,
        machine(app, "Р530ЕК 777").await,
        employee(app, "driver1@gruzavto.test").await,
        "3 660",
        &local_day(app, 7, 9),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(app, request).await, "quote_review");
    let token = send_offer(app, &manager, request).await;
    let offer: i64 = sqlx::query_scalar("SELECT MAX(id) FROM offers WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("offer");
    (request, offer, token)
}

/// The manager offers the request's only quote with a 10 % markup, valid
/// until the day after tomorrow; returns the client's link token.
async fn send_offer(app: &TestApp, manager: &Browser, request: i64) -> String {
    let quote: i64 =
        sqlx::query_scalar("SELECT MAX(id) FROM supplier_quotes WHERE request_id = $1")
            .bind(request)
            .fetch_one(app.db().pool())
            .await
            .expect("quote");
    let q = quote.to_string();
    let valid = local_day(app, 2, 18);
    let r = manager
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
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(app, request).await, "offer_sent");
    let (_, body) = notifications_to(app, "client@sevbeton.test")
        .await
        .pop()
        .expect("the client is told");
    body.split("/offers/t/")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("a link")
        .to_string()
}

#[tokio::test]
async fn a_client_declines_in_the_cabinet_and_the_manager_makes_a_counter_offer() {
    let app = TestApp::spawn_demo().await;
    let (request, offer, old_token) = offer_sent(&app).await;
    let client = login(&app, "client@sevbeton.test").await;
    // A decline needs a reason; what was typed is kept.
    let r = client
        .post_form(&format!("/offers/{offer}/decline"), &[("reason", "д")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(page.contains(">д</textarea>"), "the reason is kept: {page}");
    assert_eq!(request_status(&app, request).await, "offer_sent");
    let r = client
        .post_form(
            &format!("/offers/{offer}/decline"),
            &[("reason", "Дорого, у конкурентов дешевле")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_declined");
    // Deciding twice is refused.
    let r = client
        .post_form(&format!("/offers/{offer}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // The manager sees why and makes a counter-offer.
    let manager = login(&app, "manager@podryad.test").await;
    let (_, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert!(page.contains("Дорого, у конкурентов дешевле"), "{page}");
    let task = open_task(&app, request, "after_decline").await;
    services(&app)
        .engine
        .complete_task(
            task,
            "counter_offer",
            Default::default(),
            &engine::Actor::System,
        )
        .await
        .expect("counter-offer");
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "quote_review");
    let token = send_offer(&app, &manager, request).await;
    assert_ne!(token, old_token);
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM offers WHERE request_id = $1 ORDER BY id")
            .bind(request)
            .fetch_all(app.db().pool())
            .await
            .expect("offers");
    assert_eq!(statuses, ["declined", "sent"]);
    // The first link shows the decision and offers nothing more; the new
    // one works.
    let anon = app.client();
    let (status, page) = anon.get_text(&format!("/offers/t/{old_token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Вы отказались") && !page.contains("/accept\""),
        "{page}"
    );
    let r = anon
        .post_form(&format!("/offers/t/{old_token}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = anon
        .post_form(&format!("/offers/t/{token}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "accepted");
    app.stop().await;
}

#[tokio::test]
async fn an_unanswered_offer_expires_with_a_task_and_its_link_is_gone() {
    let app = TestApp::spawn_demo().await;
    let (request, offer, token) = offer_sent(&app).await;
    app.clock.advance(Duration::days(3));
    app.run_due().await;
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_expired");
    open_task(&app, request, "after_expiry").await;
    let status: String = sqlx::query_scalar("SELECT status FROM offers WHERE id = $1")
        .bind(offer)
        .fetch_one(app.db().pool())
        .await
        .expect("offer");
    assert_eq!(status, "expired");
    let anon = app.client();
    let (status, page) = anon.get_text(&format!("/offers/t/{token}")).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    let r = anon
        .post_form(&format!("/offers/t/{token}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    let client = login(&app, "client@sevbeton.test").await;
    let r = client
        .post_form(&format!("/offers/{offer}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(request_status(&app, request).await, "offer_expired");
    app.stop().await;
}

#[tokio::test]
async fn links_and_offers_do_not_cross_clients() {
    let app = TestApp::spawn_demo().await;
    let (_, offer, token) = offer_sent(&app).await;
    // A forged or altered token is simply gone.
    let anon = app.client();
    for bad in ["nonsense", &format!("{token}x"), &token[..token.len() - 1]] {
        let (status, _) = anon.get_text(&format!("/offers/t/{bad}")).await;
        assert_eq!(status, StatusCode::GONE, "{bad}");
    }
    // Another client does not reach the offer by id, nor see it listed.
    let other = login(&app, "client@belova.test").await;
    let (status, _) = other.get_text(&format!("/offers/{offer}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = other
        .post_form(&format!("/offers/{offer}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, list) = other.get_text("/offers").await;
    assert!(!list.contains(&format!("/offers/{offer}\"")), "{list}");
    // A supplier's dispatcher and staff pages are not the client's.
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let r = gruz
        .post_form(&format!("/offers/{offer}/accept"), &[])
        .await;
    assert!(
        matches!(r.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{}",
        r.status()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_automatic_mode_asks_the_best_suppliers_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    crate::intake::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows"),
        dir.path(),
    );
    let yaml = std::fs::read_to_string(dir.path().join("request.yaml")).expect("request.yaml");
    let auto = yaml
        .replace(
            "auto_rfq: {type: boolean, default: false",
            "auto_rfq: {type: boolean, default: true",
        )
        .replace(
            "auto_rfq_top: {type: integer, default: 3",
            "auto_rfq_top: {type: integer, default: 2",
        );
    assert_ne!(yaml, auto, "the switch is in the workflow");
    std::fs::write(dir.path().join("request.yaml"), auto).expect("write");
    let app = TestApp::spawn_demo_with_workflows(dir.path().to_path_buf()).await;
    let (request, _) = ready_request(&app).await;
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "rfq");
    // The two best of the three fitting suppliers, as matching ranks them.
    let result = domain::deals::matching::run(services(&app), &result_request(&app, request).await)
        .await
        .expect("matching");
    let best: Vec<i64> = result.fitting().take(2).map(|s| s.org_id).collect();
    let mut asked: Vec<i64> =
        sqlx::query_scalar("SELECT supplier_org_id FROM rfqs WHERE request_id = $1")
            .bind(request)
            .fetch_all(app.db().pool())
            .await
            .expect("rfqs");
    asked.sort_unstable();
    let mut expected = best.clone();
    expected.sort_unstable();
    assert_eq!(asked, expected);
    app.stop().await;
}

#[tokio::test]
async fn the_demo_has_deals_under_way_in_every_cabinet() {
    let app = TestApp::spawn_demo().await;
    podryad::demo::seed_deals(services(&app))
        .await
        .expect("deals");
    let pool = app.db().pool().clone();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM rfq_rounds").await, 3);
    assert_eq!(count("SELECT COUNT(*) FROM supplier_quotes").await, 4);
    assert_eq!(
        count("SELECT COUNT(*) FROM offers WHERE status = 'sent'").await,
        1
    );
    // One offer below cost waits for the admin's approval.
    assert_eq!(
        count("SELECT COUNT(*) FROM offer_approvals WHERE status = 'pending'").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM requests WHERE status = 'offer_approval'").await,
        1
    );
    // Fedorov has not answered yet: a badge and the job in its list.
    let fed = login(&app, "dispatcher@fedorov.test").await;
    let (_, page) = fed.get_text("/supplier/rfqs").await;
    assert!(
        page.contains("class=\"badge\"") && page.contains("Перевозка грузов"),
        "{page}"
    );
    // The client has our offer waiting, first thing on its home page.
    let client = login(&app, "client@sevbeton.test").await;
    let (_, page) = client.get_text("/offers").await;
    assert!(
        page.contains("Ждёт вашего ответа") && !page.contains("Отправлено"),
        "{page}"
    );
    let (_, home) = client.get_text("/home").await;
    assert!(home.contains("Вас ждёт 1 предложение"), "{home}");
    // And the dispatchers their open requests for quotes.
    let (_, home) = fed.get_text("/home").await;
    assert!(home.contains("Ждут вашего ответа"), "{home}");
    // Seeding again adds nothing.
    podryad::demo::seed_deals(services(&app))
        .await
        .expect("again");
    assert_eq!(count("SELECT COUNT(*) FROM rfq_rounds").await, 3);
    app.stop().await;
}

#[tokio::test]
async fn a_dispatcher_who_linked_telegram_gets_requests_for_quotes_there_too() {
    let app = TestApp::spawn_demo().await;
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    // A mistake is shown next to the field, and what was typed stays.
    let r = gruz
        .post_form("/account/telegram", &[("telegram_chat_id", "@nikitina")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("id=\"e-telegram_chat_id\"") || page.contains("ID чата — это число"),
        "{page}"
    );
    assert!(page.contains("value=\"@nikitina\""), "{page}");
    let r = gruz
        .post_form("/account/telegram", &[("telegram_chat_id", " 412345678 ")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = gruz.get_text("/account").await;
    assert!(page.contains("value=\"412345678\""), "{page}");

    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[GRUZAVTO]).await;
    let channels: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.channel, n.recipient FROM notifications n JOIN users u ON u.id = n.user_id
         WHERE u.email = 'dispatcher@gruzavto.test' AND n.subject LIKE '%Запрос КП%' ORDER BY n.id",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("notifications");
    assert_eq!(
        channels,
        [
            ("email".to_string(), "dispatcher@gruzavto.test".to_string()),
            ("telegram".to_string(), "412345678".to_string())
        ]
    );
    // Unlinking stops it.
    let r = gruz
        .post_form("/account/telegram", &[("telegram_chat_id", "")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let linked: Option<String> = sqlx::query_scalar(
        "SELECT telegram_chat_id FROM users WHERE email = 'dispatcher@gruzavto.test'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("user");
    assert_eq!(linked, None);
    app.stop().await;
}

#[tokio::test]
async fn a_person_links_telegram_by_pressing_start_in_the_bot() {
    use connectors::notify::telegram::TelegramInbox;
    use fakes::FakeTelegram;
    let bot = FakeTelegram::start("77:bot-token")
        .await
        .expect("fake Telegram");
    let mut telegram = bot.config("77:bot-token");
    telegram.bot_username = Some("podryad_test_bot".into());
    let config = connectors::ConnectorsConfig {
        telegram: Some(telegram.clone()),
        ..Default::default()
    };
    let app = TestApp::spawn_demo_with_connectors(
        connectors::Connectors::from_config(&config).expect("connectors"),
    )
    .await;
    let inbox = TelegramInbox::new(&telegram).expect("inbox");
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let (_, page) = gruz.get_text("/account").await;
    assert!(page.contains("Подключить Telegram"), "{page}");
    let r = gruz.post_form("/account/telegram/link", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    // (HTML escapes the slashes in the link.)
    let page = r.text().await.expect("body").replace("&#x2f;", "/");
    let token = page
        .split("https://t.me/podryad_test_bot?start=")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a t.me link")
        .to_string();
    // Someone else's made-up token links nothing.
    bot.push_message(111_222_333, "/start not-a-token");
    // The dispatcher presses Start.
    bot.push_message(555_000_111, &format!("/start {token}"));
    let offset =
        domain::accounts::telegram::poll(services(&app), &inbox, 0, std::time::Duration::ZERO)
            .await
            .expect("poll");
    let linked: Option<String> = sqlx::query_scalar(
        "SELECT telegram_chat_id FROM users WHERE email = 'dispatcher@gruzavto.test'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("user");
    assert_eq!(linked.as_deref(), Some("555000111"));
    let told: Vec<(String, String)> = sqlx::query_as(
        "SELECT recipient, subject FROM notifications WHERE channel = 'telegram' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("notifications");
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].0 == "111222333" && told[0].1.contains("не сработала"),
        "{told:?}"
    );
    assert!(
        told[1].0 == "555000111" && told[1].1.contains("подключён"),
        "{told:?}"
    );
    // The same link a second time (or forwarded) is spent.
    bot.push_message(999_999_999, &format!("/start {token}"));
    domain::accounts::telegram::poll(services(&app), &inbox, offset, std::time::Duration::ZERO)
        .await
        .expect("poll");
    let others: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE telegram_chat_id = '999999999'")
            .fetch_one(app.db().pool())
            .await
            .expect("count");
    assert_eq!(others, 0);
    let (_, page) = gruz.get_text("/account").await;
    assert!(
        page.contains("Telegram подключён (чат 555000111)"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_supplier_who_declined_may_still_quote_while_the_round_is_open() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[STROYTECH, GRUZAVTO]).await;
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let rfq = rfq_of(&app, request, STROYTECH).await;
    let r = stroy
        .post_form(
            &format!("/supplier/rfqs/{rfq}/decline"),
            &[("reason", "Нет свободных машин")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A machine came free: the form is offered again, and the quote counts.
    let (_, page) = stroy.get_text(&format!("/supplier/rfqs/{rfq}")).await;
    assert!(page.contains("q-quote-form"), "{page}");
    let driver = employee(&app, "driver1@stroytech.test").await;
    let manip = machine(&app, "М702ОР 190").await;
    let r = quote(&stroy, rfq, manip, driver, "5000", &local_day(&app, 7, 9)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let status: String = sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq)
        .fetch_one(app.db().pool())
        .await
        .expect("rfq");
    assert_eq!(status, "quoted");
    let score = domain::deals::scoring::load(services(&app), &[org_id(&app, STROYTECH).await])
        .await
        .expect("score");
    assert!(
        score.values().all(|s| s.answered == 1 && s.quoted == 1),
        "{score:?}"
    );
    app.stop().await;
}

/// Opening a request for quotes only reads: the page answers while another
/// write holds the database — SQLite's single writer, or on PostgreSQL a
/// lock on the RFQ's own row — instead of queueing behind it.
#[tokio::test]
async fn a_supplier_opens_an_rfq_while_another_write_holds_the_writer() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[GRUZAVTO]).await;
    let rfq = rfq_of(&app, request, GRUZAVTO).await;
    let gruz = login(&app, "dispatcher@gruzavto.test").await;

    let mut held = app.db().begin().await.expect("a write transaction");
    if app.db().dialect() == engine::Dialect::Postgres {
        sqlx::query("SELECT id FROM rfqs WHERE id = $1 FOR UPDATE")
            .bind(rfq)
            .execute(&mut *held)
            .await
            .expect("row lock");
    }
    let (status, page) = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        gruz.get_text(&format!("/supplier/rfqs/{rfq}")),
    )
    .await
    .expect("the page does not wait for the writer");
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Паллеты с плиткой"), "the job is shown");
    held.rollback().await.expect("rollback");
    app.stop().await;
}
