//! The money guard (issue 11, point 1; DESIGN §4): an offer under the
//! request type's minimum margin — always one below cost — does not reach
//! the client until someone allowed approves it; rejected, it goes back to
//! the manager with the reason. Driven over HTTP as the manager, the admin
//! and the client would.

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp};
use crate::quotes::{
    GRUZAVTO, employee, local_day, login, machine, notifications_to, quote, ready_request,
    request_status, rfq_of, send_rfq,
};

const CLIENT_EMAIL: &str = "client@sevbeton.test";

/// A cargo request of the demo client with one quote, waiting for the
/// manager's offer.
async fn in_quote_review(app: &TestApp, manager: &Browser) -> i64 {
    let (request, _) = ready_request(app).await;
    send_rfq(app, manager, request, &[GRUZAVTO]).await;
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
    request
}

async fn post_offer(app: &TestApp, manager: &Browser, request: i64, markup: &str) -> StatusCode {
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
                ("markup", markup),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &valid),
                ("comment", ""),
            ],
        )
        .await;
    let status = r.status();
    app.run_due().await;
    status
}

async fn offers_of(app: &TestApp, request: i64) -> Vec<(String, i64, i64)> {
    sqlx::query_as(
        "SELECT status, total_gross, margin_total FROM offers WHERE request_id = $1 ORDER BY id",
    )
    .bind(request)
    .fetch_all(app.db().pool())
    .await
    .expect("offers")
}

/// The open approval task of the request: `(id, title)`.
async fn approval_task(app: &TestApp, request: i64) -> Option<(i64, String)> {
    sqlx::query_as(
        "SELECT t.id, t.title FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = 'approve_offer' AND t.status = 'open'",
    )
    .bind(request)
    .fetch_optional(app.db().pool())
    .await
    .expect("tasks")
}

#[tokio::test]
async fn an_offer_below_cost_waits_for_approval_and_is_sent_once_approved() {
    let app = TestApp::spawn_demo().await;
    let manager = login(&app, "manager@podryad.test").await;
    let request = in_quote_review(&app, &manager).await;
    let told_before = notifications_to(&app, CLIENT_EMAIL).await.len();

    // −10 %: the manager's sending holds the offer for approval.
    assert_eq!(
        post_offer(&app, &manager, request, "-10").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(request_status(&app, request).await, "offer_approval");
    assert!(offers_of(&app, request).await.is_empty(), "nothing is sent");
    assert_eq!(
        notifications_to(&app, CLIENT_EMAIL).await.len(),
        told_before
    );
    let (task, title) = approval_task(&app, request)
        .await
        .expect("an approval task");
    assert!(
        title.contains("маржа −"),
        "the margin is in the title: {title}"
    );
    assert!(title.contains("−10,00 %"), "{title}");

    // The manager may not approve their own offer: the task is the admin's.
    let r = manager
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_ne!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_approval");
    assert!(offers_of(&app, request).await.is_empty());

    // Sending it again does not slip past the guard either: it replaces
    // the waiting one, still unsent.
    assert_eq!(
        post_offer(&app, &manager, request, "-10").await,
        StatusCode::SEE_OTHER
    );
    assert!(offers_of(&app, request).await.is_empty());
    let (task, _) = approval_task(&app, request)
        .await
        .expect("an approval task");

    let admin = login(&app, "admin@podryad.test").await;
    let r = admin
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "offer_sent");
    let offers = offers_of(&app, request).await;
    assert_eq!(offers.len(), 1, "{offers:?}");
    let (status, total_gross, margin) = &offers[0];
    assert_eq!(status, "sent");
    assert!(*margin < 0, "the approved offer keeps its price: {margin}");
    assert_eq!(total_gross % 100, 0, "whole roubles for the client");
    let told = notifications_to(&app, CLIENT_EMAIL).await;
    assert_eq!(told.len(), told_before + 1, "the client gets its link");
    assert!(told.last().expect("told").1.contains("/offers/t/"));
    // The client sees our price, never the margin or the approval; nor
    // does the supplier.
    let client = login(&app, CLIENT_EMAIL).await;
    let (code, page) = client.get_text("/offers").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Ждёт вашего ответа"), "{page}");
    for b in [&client, &login(&app, "dispatcher@gruzavto.test").await] {
        for path in ["/offers", "/requests", "/supplier/rfqs", "/home"] {
            let (_, page) = b.get_text(path).await;
            assert!(
                !page.contains("Маржа") && !page.contains("маржа"),
                "{path}: {page}"
            );
            assert!(!page.contains("согласован"), "{path}: {page}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_offer_goes_back_to_the_manager_with_the_reason() {
    let app = TestApp::spawn_demo().await;
    let manager = login(&app, "manager@podryad.test").await;
    let request = in_quote_review(&app, &manager).await;
    let told_before = notifications_to(&app, CLIENT_EMAIL).await.len();
    assert_eq!(
        post_offer(&app, &manager, request, "-10").await,
        StatusCode::SEE_OTHER
    );
    let (task, _) = approval_task(&app, request)
        .await
        .expect("an approval task");
    let admin = login(&app, "admin@podryad.test").await;
    // A rejection needs its reason.
    let r = admin
        .post_form(&format!("/tasks/{task}/complete"), &[("outcome", "reject")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(request_status(&app, request).await, "offer_approval");
    let r = admin
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[
                ("outcome", "reject"),
                ("reason", "Ниже себестоимости, поднимите наценку"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "quote_review");
    assert!(
        offers_of(&app, request).await.is_empty(),
        "nothing was sent"
    );
    assert_eq!(
        notifications_to(&app, CLIENT_EMAIL).await.len(),
        told_before
    );
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("SELECT status, reason FROM offer_approvals WHERE request_id = $1")
            .bind(request)
            .fetch_one(app.db().pool())
            .await
            .expect("approval");
    assert_eq!(status, "rejected");
    assert_eq!(
        reason.as_deref(),
        Some("Ниже себестоимости, поднимите наценку")
    );
    // The manager's quotes page says why.
    let (code, page) = manager
        .get_text(&format!("/requests/{request}/quotes"))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        page.contains("Ниже себестоимости, поднимите наценку"),
        "{page}"
    );
    // Within the margin the offer goes straight to the client.
    assert_eq!(
        post_offer(&app, &manager, request, "10").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(request_status(&app, request).await, "offer_sent");
    assert_eq!(offers_of(&app, request).await.len(), 1);
    app.stop().await;
}
