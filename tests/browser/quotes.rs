//! The broker's core in a real browser: the manager sends a request for
//! quotes from the matching page, a supplier's dispatcher answers it from
//! the cabinet, the manager offers it to the client with a markup, and the
//! client accepts in the cabinet — with the background workers running, as
//! in production.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::intake::requests::{Channel, Placement, RequestInput};
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::driver::{DemoApp, Driver, browser_available, click, fill, submit, text_of, wait_path};

/// `YYYY-MM-DDTHH:MM` in Moscow, `days` from now at `hour`.
fn moscow(days: i64, hour: u32) -> String {
    let d = (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    format!("{}T{hour:02}:00", d.format("%Y-%m-%d"))
}

async fn set_value(b: &Client, css: &str, value: &str) {
    let ok = b
        .execute(
            "const e = document.querySelector(arguments[0]); if (!e) return false; e.value = arguments[1]; return true;",
            vec![json!(css), json!(value)],
        )
        .await
        .expect("script");
    assert_eq!(ok, json!(true), "{css} exists");
}

async fn select(b: &Client, css: &str, value: &str) {
    b.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

/// Waits until the text of `css` contains `wanted` (the page may be
/// reloading under the test); returns the last text seen.
async fn wait_text(b: &Client, css: &str, wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = b.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
        {
            if text.replace('\u{a0}', " ").contains(wanted) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} does not say {wanted:?}: {last:?}");
}

/// Signs in through the form (the demo password).
async fn sign_in(b: &Client, app: &DemoApp, login: &str) {
    b.delete_all_cookies().await.ok();
    b.goto(&app.url("/login")).await.expect("open");
    fill(b, "#f-login", login).await;
    fill(b, "#f-password", podryad::demo::DEMO_PASSWORD).await;
    click(b, "form[action='/login'] button.primary").await;
    wait_path(b, "/home").await;
}

async fn scalar_i64(app: &DemoApp, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits for the background workers to move the request to `status`.
async fn wait_status(app: &DemoApp, request: i64, status: &str) {
    let mut last = String::new();
    for _ in 0..150 {
        last = sqlx::query_scalar("SELECT status FROM requests WHERE id = $1")
            .bind(request)
            .fetch_one(app.app.db.pool())
            .await
            .expect("status");
        if last == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("request {request} is {last}, not {status}");
}

/// A qualified cargo request of the demo client in central Moscow.
async fn ready_request(app: &DemoApp) -> i64 {
    let s = &app.app.services;
    let t = s.request_types.get("cargo").expect("cargo");
    let fields = BTreeMap::from([
        ("f.cargo".to_string(), "Паллеты с плиткой".to_string()),
        ("f.weight_t".to_string(), "4".to_string()),
        (
            "f.loading_address".to_string(),
            "г. Москва, ул. Тверская, д. 7".to_string(),
        ),
        ("f.loading_address.lat".to_string(), "55.7578".to_string()),
        ("f.loading_address.lon".to_string(), "37.6117".to_string()),
        ("f.unloading_address".to_string(), "г. Тверь".to_string()),
    ]);
    let input = RequestInput {
        request_type: "cargo".into(),
        wanted_from: moscow(7, 10),
        duration: "4".into(),
        contact_name: "Прораб Сидоров".into(),
        contact_phone: "+79167770011".into(),
        fields,
        ..Default::default()
    };
    let valid = input
        .validate(t, s, s.db.now(), true)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let client: i64 =
        sqlx::query_scalar("SELECT id FROM organisations WHERE name = 'ООО «Северный бетон»'")
            .fetch_one(app.app.db.pool())
            .await
            .expect("client");
    let mut tx = s.db.begin().await.expect("tx");
    let placement = Placement {
        client_org_id: client,
        channel: Channel::Operator,
        hunter_user_id: None,
        created_by: None,
    };
    let created = domain::intake::requests::insert(s, &mut tx, &valid, &placement, t)
        .await
        .expect("request");
    tx.commit().await.expect("commit");
    s.after_commit();
    wait_status(app, created.id, "qualification").await;
    let task: i64 = scalar_i64(
        app,
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = 'qualify' AND t.status = 'open'",
        created.id,
    )
    .await;
    s.engine
        .complete_task(task, "ready", Default::default(), &engine::Actor::System)
        .await
        .expect("qualified");
    wait_status(app, created.id, "ready_for_matching").await;
    created.id
}

#[tokio::test]
async fn a_request_goes_from_matching_to_the_clients_acceptance() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let request = ready_request(&app).await;
    let gruzavto: i64 =
        sqlx::query_scalar("SELECT id FROM organisations WHERE name = 'ООО «ГрузАвто»'")
            .fetch_one(app.app.db.pool())
            .await
            .expect("supplier");
    let driver = Driver::start().await;
    let b = driver.browser(1280, 1000).await;

    // The manager ticks one supplier on the matching page and sends the RFQ.
    sign_in(&b, &app, "manager@podryad.test").await;
    b.goto(&app.url(&format!("/requests/{request}/matching")))
        .await
        .expect("matching");
    let ranked = text_of(&b, "form.q-match-form").await;
    assert!(
        ranked.contains("ГрузАвто") && ranked.contains("км"),
        "{ranked}"
    );
    // The best fitting suppliers come ticked; the manager leaves only one.
    let ticked = b
        .execute(
            "const boxes = [...document.querySelectorAll('input[name=supplier]:checked')];
             boxes.forEach(c => c.click()); return boxes.length;",
            vec![],
        )
        .await
        .expect("untick");
    assert!(
        ticked.as_u64().unwrap_or(0) > 0,
        "suggested suppliers are ticked"
    );
    click(&b, &format!("input[name=supplier][value='{gruzavto}']")).await;
    submit(&b, "form.q-match-form button.primary").await;
    wait_path(&b, &format!("/requests/{request}/quotes")).await;
    wait_status(&app, request, "rfq").await;

    // GruzAvto's dispatcher finds it in the cabinet and quotes.
    sign_in(&b, &app, "dispatcher@gruzavto.test").await;
    b.goto(&app.url("/supplier/rfqs")).await.expect("rfqs");
    let rfq = scalar_i64(
        &app,
        "SELECT MAX(id) FROM rfqs WHERE request_id = $1",
        request,
    )
    .await;
    let asked = scalar_i64(
        &app,
        "SELECT COUNT(*) FROM rfqs WHERE request_id = $1",
        request,
    )
    .await;
    assert_eq!(asked, 1, "only the ticked supplier is asked");
    submit(&b, &format!("a[href='/supplier/rfqs/{rfq}']")).await;
    wait_path(&b, &format!("/supplier/rfqs/{rfq}")).await;
    let job = text_of(&b, "main").await;
    assert!(
        job.contains("Паллеты") && !job.contains("Северный бетон"),
        "{job}"
    );
    let machine = scalar_i64(
        &app,
        "SELECT id FROM machines WHERE org_id = $1 AND plate = 'Р530ЕК 777'",
        gruzavto,
    )
    .await;
    select(&b, "#f-machine_id", &machine.to_string()).await;
    select(&b, "#f-price_unit", "hour").await;
    fill(&b, "#f-unit_price", "3 660").await;
    fill(&b, "#f-quantity", "4").await;
    select(&b, "#f-vat_mode", "vat22").await;
    select(&b, "#f-payment_method", "bank").await;
    set_value(&b, "#f-arrival_at", &moscow(7, 9)).await;
    submit(&b, "form.q-quote-form button.primary").await;
    wait_text(&b, ".flash", "КП").await;
    // Everyone asked has answered: the round closes by itself.
    wait_status(&app, request, "quote_review").await;

    // The manager compares, opens the suggested best, previews and sends.
    sign_in(&b, &app, "manager@podryad.test").await;
    b.goto(&app.url(&format!("/requests/{request}/quotes")))
        .await
        .expect("quotes");
    submit(&b, "a.button.primary[href*='/offer?quote=']").await;
    wait_path(&b, &format!("/requests/{request}/offer")).await;
    fill(&b, "#f-markup", "15").await;
    set_value(&b, "#f-valid_until", &moscow(2, 18)).await;
    submit(&b, "form.q-offer-form button[name=preview]").await;
    // The margin, 4 × 450 ₽, is the staff's to see.
    wait_text(&b, ".q-margin", "1 800,00").await;
    submit(&b, "form.q-offer-form button.primary").await;
    wait_path(&b, &format!("/requests/{request}/quotes")).await;
    wait_status(&app, request, "offer_sent").await;

    // The client opens it in the cabinet — our price, no supplier — and accepts.
    sign_in(&b, &app, "client@sevbeton.test").await;
    b.goto(&app.url("/offers")).await.expect("offers");
    let offer = scalar_i64(
        &app,
        "SELECT MAX(id) FROM offers WHERE request_id = $1",
        request,
    )
    .await;
    submit(&b, &format!("a[href='/offers/{offer}']")).await;
    wait_path(&b, &format!("/offers/{offer}")).await;
    let page = text_of(&b, "main").await;
    assert!(
        page.contains("16\u{a0}836,00") || page.contains("16 836,00"),
        "{page}"
    );
    for secret in ["ГрузАвто", "Р530ЕК", "3\u{a0}660", "3 660"] {
        assert!(
            !page.contains(secret),
            "the client must not see {secret:?}: {page}"
        );
    }
    submit(&b, "form[action$='/accept'] button.primary").await;
    wait_text(&b, ".flash", "приняли").await;
    wait_status(&app, request, "accepted").await;
    b.close().await.ok();
    app.stop().await;
}
