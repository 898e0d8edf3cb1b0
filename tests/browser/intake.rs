//! Request intake in a real browser: a visitor orders through the website
//! form and sees the reference number; an operator looks a caller up by
//! phone and takes a request for them during the call.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::driver::{DemoApp, Driver, browser_available, click, fill, submit, text_of, wait_path};

/// A datetime-local input is set the way a picker would set it.
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

/// Three days from now at 10:00, as a datetime-local input holds it.
fn in_three_days() -> String {
    let d = (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    format!("{}T10:00", d.format("%Y-%m-%d"))
}

#[tokio::test]
async fn a_visitor_orders_through_the_website_form_and_gets_a_number() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(1280, 1000).await;
    b.goto(&app.url("/request")).await.expect("open");
    submit(&b, "a[data-type=cargo]").await;
    wait_path(&b, "/request/cargo").await;
    fill(&b, "#rf-cargo", "Паллеты с плиткой").await;
    fill(&b, "#rf-weight_t", "8,5").await;
    fill(&b, "#rf-loading_address", "Москва, ул. Складочная, 1").await;
    fill(&b, "#rf-unloading_address", "Тверь, ул. Мира, 5").await;
    select(&b, "#rf-body_type", "тент").await;
    // A mistake first: no date.
    fill(&b, "#f-contact_name", "Пётр Сидоров").await;
    fill(&b, "#f-contact_phone", "+7 916 555-01-01").await;
    fill(&b, "#f-contact_email", "petr@example.test").await;
    submit(&b, "form.request-form button.primary").await;
    let error = text_of(&b, "#e-wanted_from").await;
    assert!(error.contains("Обязательное поле"), "{error}");
    let kept = b
        .find(Locator::Css("#rf-loading_address"))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("Москва, ул. Складочная, 1"));
    set_value(&b, "#f-wanted_from", &in_three_days()).await;
    submit(&b, "form.request-form button.primary").await;
    let number = text_of(&b, "#request-number").await;
    assert!(number.starts_with("З-"), "{number}");
    let heading = text_of(&b, "main h1").await;
    assert!(heading.contains("Заявка принята"), "{heading}");
    b.close().await.ok();
    app.stop().await;
}

#[tokio::test]
async fn an_operator_looks_a_caller_up_by_phone_and_takes_a_request() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(1280, 1000).await;
    b.goto(&app.url("/login")).await.expect("open");
    click(
        &b,
        "form:has(input[value=\"operator@podryad.test\"]) button.demo-account",
    )
    .await;
    wait_path(&b, "/home").await;
    submit(&b, "#sidenav a[href='/intake']").await;
    wait_path(&b, "/intake").await;
    // The caller's number, as they say it.
    fill(&b, "#intake-q", "8 495 333-22-11").await;
    submit(&b, "form.intake-lookup button").await;
    let card = text_of(&b, ".intake-match").await;
    assert!(card.contains("Северный бетон"), "{card}");
    assert!(
        card.contains("Мария Кузнецова"),
        "the responsible manager: {card}"
    );
    submit(&b, ".intake-match a[data-type=materials]").await;
    wait_path(&b, "/intake/new").await;
    select(&b, "#rf-material", "щебень").await;
    fill(&b, "#rf-quantity", "40").await;
    select(&b, "#rf-quantity_unit", "т").await;
    fill(&b, "#rf-delivery_address", "Мытищи, ул. Колпакова, 2").await;
    select(&b, "#rf-supply", "только доставка").await;
    set_value(&b, "#f-wanted_from", &in_three_days()).await;
    fill(&b, "#f-contact_name", "Павел Громов").await;
    submit(&b, "form.request-form button.primary").await;
    let heading = text_of(&b, "main h1").await;
    assert!(heading.contains("Заявка З-"), "{heading}");
    let channel = text_of(&b, "#request-channel").await;
    assert_eq!(channel, "Контакт-центр");
    let owner = text_of(&b, "#request-owner").await;
    assert_eq!(owner, "Мария Кузнецова");
    b.close().await.ok();
    app.stop().await;
}
