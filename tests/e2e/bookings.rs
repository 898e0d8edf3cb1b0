//! Machine bookings (issue 10 point 4), through HTTP: accepting an offer
//! books its machine for every day of the job; of two clients accepting
//! offers on one machine for overlapping days at the same moment exactly
//! one wins, the other is refused whole and the manager gets a task; a
//! booked machine is neither proposed by matching nor quotable for its days.

use std::collections::BTreeMap;

use domain::intake::requests::RequestInput;
use reqwest::StatusCode;

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp};
use crate::quotes::{
    employee, local_day, login, machine, notifications_to, open_task, org_id, place_qualified,
    quote, request_status, result_request, rfq_of, send_rfq, services,
};

const GRUZAVTO: &str = "ООО «ГрузАвто»";
const SEVBETON: &str = "ООО «Северный бетон»";
const BELOVA: &str = "Белова Ирина Сергеевна";
/// GruzAvto's tent truck, the machine both clients want.
const TRUCK: &str = "Р530ЕК 777";
/// What the refused client reads.
const REFUSAL: &str = "уже забронировал другой заказчик";

/// A qualified cargo request of `client` (4 t in Moscow) for the window
/// from `from` to `to` (site-local `YYYY-MM-DDTHH:MM`; `to` may be empty).
async fn ready_request(app: &TestApp, client: &str, from: &str, to: &str) -> i64 {
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("f.cargo", "Паллеты с плиткой"),
        ("f.weight_t", "4"),
        ("f.loading_address", "г. Москва, ул. Тверская, д. 7"),
        ("f.loading_address.lat", "55.7578"),
        ("f.loading_address.lon", "37.6117"),
        ("f.unloading_address", "г. Тверь"),
    ] {
        fields.insert(k.to_string(), v.to_string());
    }
    let input = RequestInput {
        request_type: "cargo".into(),
        wanted_from: from.into(),
        wanted_to: to.into(),
        duration: "4".into(),
        contact_name: "Прораб".into(),
        contact_phone: "+79160000001".into(),
        fields,
        ..Default::default()
    };
    place_qualified(app, client, &input).await.id
}

/// GruzAvto quotes its truck for `request`, arriving at `arrival`; the
/// round closes (GruzAvto is the only supplier asked).
async fn truck_quoted(app: &TestApp, manager: &Browser, request: i64, arrival: &str) {
    send_rfq(app, manager, request, &[GRUZAVTO]).await;
    let gruz = login(app, "dispatcher@gruzavto.test").await;
    let r = quote(
        &gruz,
        rfq_of(app, request, GRUZAVTO).await,
        machine(app, TRUCK).await,
        employee(app, "driver1@gruzavto.test").await,
        "3 660",
        arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(app, request).await, "quote_review");
}

/// The manager offers the request's quote; returns the offer's id.
async fn offer(app: &TestApp, manager: &Browser, request: i64) -> i64 {
    let q: i64 = sqlx::query_scalar("SELECT MAX(id) FROM supplier_quotes WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("quote");
    let r = manager
        .post_form(
            &format!("/requests/{request}/offer"),
            &[
                ("quote_id", &q.to_string()),
                ("markup_kind", "percent"),
                ("markup", "10"),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &local_day(app, 2, 18)),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(app, request).await, "offer_sent");
    sqlx::query_scalar("SELECT MAX(id) FROM offers WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("offer")
}

/// The link in the last offer mail to `recipient`.
async fn offer_token(app: &TestApp, recipient: &str) -> String {
    let (_, body) = notifications_to(app, recipient)
        .await
        .pop()
        .expect("the client is told");
    body.split("/offers/t/")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("a link")
        .to_string()
}

/// `(machine, day, offer)` of every booking, by day.
async fn bookings(app: &TestApp) -> Vec<(i64, String, i64)> {
    sqlx::query_as("SELECT machine_id, day, offer_id FROM machine_bookings ORDER BY day")
        .fetch_all(app.db().pool())
        .await
        .expect("bookings")
}

/// The site-local `YYYY-MM-DD` of `days` from now.
fn ymd(app: &TestApp, days: i64) -> String {
    local_day(app, days, 0)[..10].to_string()
}

/// What a refused accept must leave as it was: the offer and the quotes of
/// its request.
#[derive(Debug, PartialEq)]
struct Untouched {
    offer: (String, Option<i64>, Option<i64>),
    quotes: Vec<(i64, String)>,
}

async fn untouched(app: &TestApp, request: i64, offer: i64) -> Untouched {
    let pool = app.db().pool();
    Untouched {
        offer: sqlx::query_as("SELECT status, decided_at, decided_by FROM offers WHERE id = $1")
            .bind(offer)
            .fetch_one(pool)
            .await
            .expect("offer"),
        quotes: sqlx::query_as(
            "SELECT id, status FROM supplier_quotes WHERE request_id = $1 ORDER BY id",
        )
        .bind(request)
        .fetch_all(pool)
        .await
        .expect("quotes"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clients_accepting_one_machine_at_once_one_wins_and_the_manager_gets_a_task() {
    let app = TestApp::spawn_demo().await;
    let manager = login(&app, "manager@podryad.test").await;
    // Северный бетон wants the truck for three days (7th to 9th), Белова
    // for the 9th and 10th: the 9th is wanted twice.
    let a = ready_request(
        &app,
        SEVBETON,
        &local_day(&app, 7, 10),
        &local_day(&app, 9, 18),
    )
    .await;
    let b = ready_request(
        &app,
        BELOVA,
        &local_day(&app, 9, 8),
        &local_day(&app, 10, 18),
    )
    .await;
    // Nothing is booked yet, so GruzAvto may quote the truck for both.
    truck_quoted(&app, &manager, a, &local_day(&app, 7, 9)).await;
    truck_quoted(&app, &manager, b, &local_day(&app, 9, 8)).await;
    let offer_a = offer(&app, &manager, a).await;
    let offer_b = offer(&app, &manager, b).await;
    let token_b = offer_token(&app, "client@belova.test").await;
    let before_a = untouched(&app, a, offer_a).await;
    let before_b = untouched(&app, b, offer_b).await;

    // At the same moment: Северный бетон in its cabinet, Белова by the link.
    let sevbeton = login(&app, "client@sevbeton.test").await;
    let anon = app.client();
    let csrf = anon.csrf().await;
    assert!(!csrf.is_empty());
    let (path_a, path_b) = (
        format!("/offers/{offer_a}/accept"),
        format!("/offers/t/{token_b}/accept"),
    );
    let (ra, rb) = tokio::join!(
        sevbeton.post_form(&path_a, &[]),
        anon.post_form(&path_b, &[]),
    );
    let (sa, sb) = (ra.status(), rb.status());
    let (pa, pb) = (
        ra.text().await.expect("body"),
        rb.text().await.expect("body"),
    );
    app.run_due().await;
    let a_won = sa == StatusCode::SEE_OTHER;
    let b_won = sb == StatusCode::OK;
    assert!(
        a_won != b_won,
        "exactly one accept wins: {sa} {pa}\n---\n{sb} {pb}"
    );
    let (winner, winner_offer, loser, loser_offer, loser_page, loser_status, before) = if a_won {
        (a, offer_a, b, offer_b, pb, sb, before_b)
    } else {
        (b, offer_b, a, offer_a, pa, sa, before_a)
    };
    // The loser reads a clear refusal on the offer page.
    assert_eq!(loser_status, StatusCode::CONFLICT, "{loser_page}");
    assert!(loser_page.contains(REFUSAL), "{loser_page}");
    assert!(
        loser_page.contains("Предложение по заявке"),
        "the offer page, not a bare error: {loser_page}"
    );
    assert!(!loser_page.contains("/accept\""), "{loser_page}");

    // The winner has the truck for every day of its job, the loser none.
    let truck = machine(&app, TRUCK).await;
    let booked = bookings(&app).await;
    let days: Vec<String> = if a_won {
        (7..=9).map(|d| ymd(&app, d)).collect()
    } else {
        (9..=10).map(|d| ymd(&app, d)).collect()
    };
    assert_eq!(
        booked,
        days.iter()
            .map(|d| (truck, d.clone(), winner_offer))
            .collect::<Vec<_>>()
    );
    assert_eq!(request_status(&app, winner).await, "accepted");
    // The order is made with the bookings, or not at all.
    let orders: Vec<i64> = sqlx::query_scalar("SELECT offer_id FROM orders ORDER BY id")
        .fetch_all(app.db().pool())
        .await
        .expect("orders");
    assert_eq!(orders, [winner_offer]);

    // Nothing of the loser's accept was kept: the offer is still open, its
    // quote still selected, the other quotes as they were, a link unspent.
    let after = untouched(&app, loser, loser_offer).await;
    assert_eq!(after, before);
    assert_eq!(after.offer.0, "sent");
    if a_won {
        let (status, page) = anon.get_text(&format!("/offers/t/{token_b}")).await;
        assert_eq!(status, StatusCode::OK, "Белова's link still works: {page}");
        assert!(page.contains(REFUSAL), "{page}");
    }
    let scored: i64 = sqlx::query_scalar("SELECT won FROM supplier_stats WHERE org_id = $1")
        .bind(org_id(&app, GRUZAVTO).await)
        .fetch_one(app.db().pool())
        .await
        .expect("stats");
    assert_eq!(scored, 1, "one win is counted, not two");

    // The request's manager has a task to find another machine, which
    // survived the refused accept.
    assert_eq!(request_status(&app, loser).await, "machine_booked");
    let task = open_task(&app, loser, "find_machine").await;
    let (title, assignee): (String, Option<i64>) =
        sqlx::query_as("SELECT title, assignee_user_id FROM wf_tasks WHERE id = $1")
            .bind(task)
            .fetch_one(app.db().pool())
            .await
            .expect("task");
    assert!(title.contains("уже занята"), "{title}");
    let who = match assignee {
        Some(id) => sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("assignee"),
        None => "manager@podryad.test".to_string(),
    };
    let staff = app.client();
    staff.login(&who, DEMO_PASSWORD).await;
    let (_, inbox) = staff.get_text("/tasks").await;
    assert!(inbox.contains("уже занята"), "{who}'s inbox: {inbox}");

    // The loser's client sees the offer can no longer be accepted, and a
    // second try is refused the same way.
    let (client, path) = if a_won {
        (
            login(&app, "client@belova.test").await,
            format!("/offers/{offer_b}"),
        )
    } else {
        (sevbeton, format!("/offers/{offer_a}"))
    };
    let (status, page) = client.get_text(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(REFUSAL) && !page.contains("/accept\""),
        "{page}"
    );
    let r = client.post_form(&format!("{path}/accept"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // A JSON caller gets the machine reason.
    let r = client
        .http
        .post(client.url(&format!("{path}/accept")))
        .header("Accept", "application/json")
        .form(&[("_csrf", client.csrf().await)])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"], "machine.booked", "{body}");
    assert_eq!(bookings(&app).await.len(), days.len());
    // Nor can the manager send it again on the same quote.
    let r = manager
        .post_form(
            &format!("/requests/{loser}/offer"),
            &[
                ("quote_id", &after.quotes[0].0.to_string()),
                ("markup_kind", "percent"),
                ("markup", "10"),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &local_day(&app, 2, 18)),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("уже забронирована"));
    app.stop().await;
}

#[tokio::test]
async fn a_booked_machine_is_neither_proposed_nor_quotable_on_its_days() {
    let app = TestApp::spawn_demo().await;
    let manager = login(&app, "manager@podryad.test").await;
    // Северный бетон takes the truck from the 7th to the 9th.
    let a = ready_request(
        &app,
        SEVBETON,
        &local_day(&app, 7, 10),
        &local_day(&app, 9, 18),
    )
    .await;
    truck_quoted(&app, &manager, a, &local_day(&app, 7, 9)).await;
    let offer_a = offer(&app, &manager, a).await;
    let sevbeton = login(&app, "client@sevbeton.test").await;
    let r = sevbeton
        .post_form(&format!("/offers/{offer_a}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;

    // Белова needs a truck on the 8th, the middle of that job.
    let b = ready_request(&app, BELOVA, &local_day(&app, 8, 10), "").await;
    let truck = machine(&app, TRUCK).await;
    let result = domain::deals::matching::run(services(&app), &result_request(&app, b).await)
        .await
        .expect("matching");
    let m = result
        .suppliers
        .iter()
        .flat_map(|s| s.machines.iter())
        .find(|m| m.machine_id == truck)
        .expect("the truck is listed");
    assert!(
        !m.fits && m.reasons.iter().any(|r| r.code == "booked"),
        "not proposed: {m:?}"
    );
    let (status, page) = manager.get_text(&format!("/requests/{b}/matching")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("занята по принятому заказу"), "{page}");
    let days: Vec<String> = bookings(&app).await.into_iter().map(|b| b.1).collect();
    assert_eq!(days, [ymd(&app, 7), ymd(&app, 8), ymd(&app, 9)]);

    // GruzAvto cannot quote it for the 8th…
    send_rfq(&app, &manager, b, &[GRUZAVTO]).await;
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let rfq = rfq_of(&app, b, GRUZAVTO).await;
    let driver = employee(&app, "driver1@gruzavto.test").await;
    let r = quote(&gruz, rfq, truck, driver, "3 660", &local_day(&app, 8, 10)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(page.contains("уже забронирована"), "{page}");
    // …nor arriving on the 9th, still within the booked job…
    let r = quote(&gruz, rfq, truck, driver, "3 660", &local_day(&app, 9, 20)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // …but may offer it from the 10th, when it is free again.
    let r = quote(&gruz, rfq, truck, driver, "3 660", &local_day(&app, 10, 8)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let last: (String, String) =
        sqlx::query_as("SELECT work_day, last_work_day FROM supplier_quotes WHERE rfq_id = $1")
            .bind(rfq)
            .fetch_one(app.db().pool())
            .await
            .expect("quote");
    assert_eq!(last, (ymd(&app, 10), ymd(&app, 10)));
    app.stop().await;
}
