//! The manager's control of an RFQ round (issue 11, point 5): closing it
//! early, reminding only the silent suppliers, extending the deadline,
//! offering from the quotes in hand; a single supplier revising before the
//! deadline; what each supplier sees after the decision (won, lost,
//! expired) and the driver of the won quote seeing the job.

use chrono::Duration;
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp};
use crate::quotes::{
    GRUZAVTO, employee, local_day, login, machine, notifications_to, quote, ready_request,
    request_status, rfq_of, send_rfq,
};

const STROYTECH: &str = "ООО «СтройТехРесурс»";

/// GruzAvto quotes 3 660 ₽ an hour with its truck and driver Kozlov.
async fn gruz_quotes(app: &TestApp, request: i64, price: &str) -> reqwest::Response {
    let gruz = login(app, "dispatcher@gruzavto.test").await;
    quote(
        &gruz,
        rfq_of(app, request, GRUZAVTO).await,
        machine(app, "Р530ЕК 777").await,
        employee(app, "driver1@gruzavto.test").await,
        price,
        &local_day(app, 7, 9),
    )
    .await
}

async fn round_of(app: &TestApp, request: i64) -> (String, Option<String>, Option<i64>) {
    sqlx::query_as(
        "SELECT status, close_reason, deadline_at FROM rfq_rounds WHERE request_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(request)
    .fetch_one(app.db().pool())
    .await
    .expect("round")
}

async fn rfq_status(app: &TestApp, rfq: i64) -> String {
    sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq)
        .fetch_one(app.db().pool())
        .await
        .expect("rfq")
}

/// What the request's workflow history says, as `trigger_name → to_state`.
async fn history(app: &TestApp, request: i64) -> Vec<(Option<String>, String, Option<i64>)> {
    sqlx::query_as(
        "SELECT h.trigger_name, h.to_state, h.actor_user_id FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 ORDER BY h.id",
    )
    .bind(request)
    .fetch_all(app.db().pool())
    .await
    .expect("history")
}

/// The manager offers the request's latest quote with a 10 % markup.
async fn offer_latest_quote(app: &TestApp, manager: &Browser, request: i64) -> reqwest::Response {
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
async fn a_manager_closes_a_round_early_and_makes_the_offer() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[STROYTECH, GRUZAVTO]).await;
    let r = gruz_quotes(&app, request, "3 660").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(
        request_status(&app, request).await,
        "rfq",
        "one still silent"
    );

    // The quotes page offers the controls while the round is open.
    let (status, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Закрыть приём КП")
            && page.contains("Напомнить не ответившим (1)")
            && page.contains("Продлить срок"),
        "{page}"
    );

    // The manager closes it now: the silent supplier's RFQ expires and the
    // review starts with the quote in hand.
    let r = manager
        .post_form(&format!("/requests/{request}/rfq/close"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "quote_review");
    let (status, reason, _) = round_of(&app, request).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("closed", Some("manager"))
    );
    let rfq_s = rfq_of(&app, request, STROYTECH).await;
    assert_eq!(rfq_status(&app, rfq_s).await, "expired");
    // In the history, with who did it.
    let manager_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind("manager@podryad.test")
        .fetch_one(app.db().pool())
        .await
        .expect("manager");
    assert!(
        history(&app, request)
            .await
            .iter()
            .any(|(t, _, by)| t.as_deref() == Some("rfq.closed_early") && *by == Some(manager_id)),
        "{:?}",
        history(&app, request).await
    );
    // The supplier's page says why it closed before the deadline.
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let (_, page) = stroy.get_text(&format!("/supplier/rfqs/{rfq_s}")).await;
    assert!(page.contains("Менеджер закрыл приём досрочно"), "{page}");

    // Closing a closed round, reminding or extending it are refused, saying why.
    let r = manager
        .post_form(&format!("/requests/{request}/rfq/close"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("уже закрыт"));
    let r = manager
        .post_form(&format!("/requests/{request}/rfq/remind"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = manager
        .post_form(
            &format!("/requests/{request}/rfq/extend"),
            &[("deadline", &local_day(&app, 1, 12))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // The offer is made from the quote in hand.
    let r = offer_latest_quote(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_sent");
    app.stop().await;
}

#[tokio::test]
async fn an_offer_from_the_quotes_in_hand_closes_the_open_round() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[STROYTECH, GRUZAVTO]).await;
    let r = gruz_quotes(&app, request, "3 660").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "rfq");
    let (_, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert!(page.contains("Сделать предложение"), "{page}");
    let r = offer_latest_quote(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_sent");
    let (status, reason, _) = round_of(&app, request).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("closed", Some("offer"))
    );
    // Too late for the silent one, and for revising the offered quote.
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let rfq_s = rfq_of(&app, request, STROYTECH).await;
    assert_eq!(rfq_status(&app, rfq_s).await, "expired");
    let (_, page) = stroy.get_text(&format!("/supplier/rfqs/{rfq_s}")).await;
    assert!(page.contains("Клиенту сделано предложение"), "{page}");
    let r = gruz_quotes(&app, request, "3 000").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn a_reminder_reaches_only_the_suppliers_who_have_not_answered() {
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
    let reminded = |mail: Vec<(String, String)>| {
        mail.iter()
            .filter(|(s, _)| s.starts_with("Напоминание"))
            .count()
    };
    let r = manager
        .post_form(&format!("/requests/{request}/rfq/remind"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(
        reminded(notifications_to(&app, "dispatcher@gruzavto.test").await),
        1
    );
    assert_eq!(
        reminded(notifications_to(&app, "dispatcher@stroytech.test").await),
        0,
        "who answered is not reminded"
    );
    // Once everyone answered there is nobody to remind.
    let r = gruz_quotes(&app, request, "3 660").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    let r = manager
        .post_form(&format!("/requests/{request}/rfq/remind"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("напоминать некому"));
    assert_eq!(
        reminded(notifications_to(&app, "dispatcher@gruzavto.test").await),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn an_extended_deadline_moves_the_timer_and_the_past_is_refused() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[GRUZAVTO]).await;
    let (_, _, before) = round_of(&app, request).await;
    let before = before.expect("a deadline");

    // Into the past, or not later than now: refused next to the field,
    // with what was typed kept.
    let past = local_day(&app, -1, 10);
    let r = manager
        .post_form(
            &format!("/requests/{request}/rfq/extend"),
            &[("deadline", &past)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("уже прошёл") && body.contains(&past),
        "{body}"
    );

    // Two more days: the round stays open past the old deadline.
    let later = local_day(&app, 2, 12);
    let r = manager
        .post_form(
            &format!("/requests/{request}/rfq/extend"),
            &[("deadline", &later)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let (_, _, after) = round_of(&app, request).await;
    let after = after.expect("a deadline");
    assert!(after > before + 24 * 3_600_000, "{before} → {after}");
    app.clock.advance(Duration::hours(3));
    app.run_due().await;
    app.run_due().await;
    let (status, _, _) = round_of(&app, request).await;
    assert_eq!(status, "open");
    assert_eq!(
        request_status(&app, request).await,
        "rfq",
        "the old deadline passed"
    );
    assert!(
        history(&app, request)
            .await
            .iter()
            .any(|(t, _, _)| t.as_deref() == Some("rfq.extended"))
    );
    // The new one closes it.
    app.clock.advance(Duration::days(3));
    app.run_due().await;
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "no_quotes");
    let (status, reason, _) = round_of(&app, request).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("closed", Some("deadline"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_single_supplier_revises_until_the_deadline_and_then_sees_it_expired() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[GRUZAVTO]).await;
    let r = gruz_quotes(&app, request, "3 660").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    // Everyone answered: the review starts, but the round stays open.
    assert_eq!(request_status(&app, request).await, "quote_review");
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let rfq = rfq_of(&app, request, GRUZAVTO).await;
    let (_, page) = gruz.get_text(&format!("/supplier/rfqs/{rfq}")).await;
    assert!(
        page.contains("q-quote-form") && page.contains("КП можно изменить"),
        "{page}"
    );
    let r = gruz_quotes(&app, request, "3 500").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let (price, revision): (i64, i64) =
        sqlx::query_as("SELECT unit_price, revision FROM supplier_quotes WHERE rfq_id = $1")
            .bind(rfq)
            .fetch_one(app.db().pool())
            .await
            .expect("quote");
    assert_eq!((price, revision), (350_000, 2));
    // The manager sees the revised price.
    let (_, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert!(
        page.contains("3\u{a0}500") || page.contains("3 500"),
        "{page}"
    );

    // At the deadline the round closes; the page says why.
    app.clock.advance(Duration::hours(2) + Duration::minutes(1));
    app.run_due().await;
    app.run_due().await;
    let (status, reason, _) = round_of(&app, request).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("closed", Some("deadline"))
    );
    let r = gruz_quotes(&app, request, "3 400").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let (_, page) = gruz.get_text(&format!("/supplier/rfqs/{rfq}")).await;
    assert!(page.contains("Истёк срок ответа"), "{page}");
    assert!(page.contains("На рассмотрении"), "{page}");

    // No decision before the quote's validity ran out: expired.
    app.clock.advance(Duration::hours(49));
    let (_, page) = gruz.get_text("/supplier/quotes").await;
    assert!(page.contains("Истекло"), "{page}");
    let (_, page) = gruz.get_text(&format!("/supplier/rfqs/{rfq}")).await;
    assert!(page.contains("Истекло"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn after_the_decision_suppliers_see_won_or_lost_and_the_driver_sees_the_job() {
    let app = TestApp::spawn_demo().await;
    let (request, _) = ready_request(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[STROYTECH, GRUZAVTO]).await;
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let rfq_s = rfq_of(&app, request, STROYTECH).await;
    let r = quote(
        &stroy,
        rfq_s,
        machine(&app, "М702ОР 190").await,
        employee(&app, "driver1@stroytech.test").await,
        "4 880",
        &local_day(&app, 7, 9),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let r = gruz_quotes(&app, request, "3 660").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    let (_, page) = stroy.get_text("/supplier/quotes").await;
    assert!(page.contains("На рассмотрении"), "{page}");

    // GruzAvto's quote is offered and the client accepts it.
    let r = offer_latest_quote(&app, &manager, request).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let (_, body) = notifications_to(&app, "client@sevbeton.test")
        .await
        .pop()
        .expect("the client is told");
    let token = body
        .split("/offers/t/")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("a link")
        .to_string();
    let r = app
        .client()
        .post_form(&format!("/offers/t/{token}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "accepted");

    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let (_, page) = gruz.get_text("/supplier/quotes").await;
    assert!(page.contains("q-quote-won\">Выбрано"), "{page}");
    let rfq_g = rfq_of(&app, request, GRUZAVTO).await;
    let (_, page) = gruz.get_text(&format!("/supplier/rfqs/{rfq_g}")).await;
    assert!(page.contains("Клиент выбрал ваше КП"), "{page}");
    let (_, page) = stroy.get_text(&format!("/supplier/rfqs/{rfq_s}")).await;
    assert!(
        page.contains("q-quote-lost\">Не выбрано") && page.contains("Выбрано другое предложение"),
        "{page}"
    );
    let (_, page) = stroy.get_text("/supplier/quotes").await;
    assert!(page.contains("Не выбрано"), "{page}");
    let (_, page) = stroy.get_text("/supplier/rfqs").await;
    assert!(page.contains("Не выбрано"), "{page}");

    // The driver named on the won quote sees the job on the home page: the
    // day and time, the town — not the street or the client.
    let driver = login(&app, "driver1@gruzavto.test").await;
    let (_, page) = driver.get_text("/home").await;
    let day = local_day(&app, 7, 9);
    let when = format!("{}.{}.{} 09:00", &day[8..10], &day[5..7], &day[..4]);
    assert!(page.contains(&when) && page.contains("г. Москва"), "{page}");
    for secret in ["Тверская", "Северный бетон"] {
        assert!(!page.contains(secret), "the driver must not see {secret:?}");
    }
    // Another supplier's driver does not.
    let other = login(&app, "driver1@stroytech.test").await;
    let (_, page) = other.get_text("/home").await;
    assert!(!page.contains(&when), "{page}");
    app.stop().await;
}
