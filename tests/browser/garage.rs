//! Adding a machine with its specifications through the real garage pages.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::driver::{DemoApp, Driver, browser_available, click, fill, submit, text_of, wait_path};

/// Waits until the page is a machine's page and returns its id.
async fn wait_machine_page(b: &Client) -> i64 {
    for _ in 0..100 {
        if let Ok(url) = b.current_url().await
            && let Some(id) = url
                .path()
                .strip_prefix("/garage/")
                .and_then(|s| s.parse::<i64>().ok())
        {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the browser did not reach a machine's page: it is at {:?}",
        b.current_url().await.map(|u| u.to_string())
    );
}

async fn value_of(b: &Client, css: &str) -> Option<String> {
    b.find(Locator::Css(css))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value")
}

#[tokio::test]
async fn a_dispatcher_adds_a_machine_with_specs_and_sees_it_in_the_garage() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(1280, 900).await;
    b.goto(&app.url("/login"))
        .await
        .expect("open the sign-in page");
    click(
        &b,
        "form:has(input[value=\"dispatcher@stroytech.test\"]) button.demo-account",
    )
    .await;
    wait_path(&b, "/home").await;

    submit(&b, "#sidenav a[href='/garage']").await;
    wait_path(&b, "/garage").await;
    assert!(
        text_of(&b, ".garage-list").await.contains("Ивановец"),
        "the demo garage is listed"
    );
    submit(&b, "a[href='/garage/new']").await;
    wait_path(&b, "/garage/new").await;

    // Only the chosen category's specifications are shown.
    let payload = b
        .find(Locator::Css("#f-spec-tipper-payload_t"))
        .await
        .expect("field");
    assert!(
        !payload.is_displayed().await.expect("visible?"),
        "hidden until the category is chosen"
    );
    click(&b, "label[for='f-category-tipper']").await;
    assert!(
        payload.is_displayed().await.expect("visible?"),
        "shown for the chosen category"
    );
    assert!(
        !b.find(Locator::Css("#f-spec-bus-seats"))
            .await
            .expect("field")
            .is_displayed()
            .await
            .expect("visible?"),
        "other categories stay hidden"
    );

    fill(&b, "#f-spec-tipper-payload_t", "двадцать").await;
    fill(&b, "#f-spec-tipper-body_volume_m3", "18").await;
    b.find(Locator::Css("#f-spec-tipper-axles option[value='8x4']"))
        .await
        .expect("option")
        .click()
        .await
        .expect("choose");
    fill(&b, "#f-make", "Volvo").await;
    fill(&b, "#f-model", "FMX 8x4").await;
    fill(&b, "#f-year", "2021").await;
    fill(&b, "#f-plate", "a555mp750").await;
    fill(
        &b,
        "#f-base_address",
        "Московская обл., г. Подольск, ул. Комсомольская, 1",
    )
    .await;
    submit(&b, "form.garage-form button.primary").await;

    // The mistake is named next to its field; everything typed stays.
    let error = text_of(&b, "#e-f-spec-tipper-payload_t").await;
    assert!(error.contains("Нужно число"), "{error}");
    assert_eq!(value_of(&b, "#f-make").await.as_deref(), Some("Volvo"));
    assert_eq!(
        value_of(&b, "#f-spec-tipper-body_volume_m3")
            .await
            .as_deref(),
        Some("18")
    );
    assert!(
        b.find(Locator::Css("#f-spec-tipper-payload_t"))
            .await
            .expect("field")
            .is_displayed()
            .await
            .expect("visible?")
    );

    fill(&b, "#f-spec-tipper-payload_t", "25,5").await;
    submit(&b, "form.garage-form button.primary").await;
    let id = wait_machine_page(&b).await;
    let heading = text_of(&b, "main h1").await;
    assert!(
        heading.contains("Volvo FMX 8x4") && heading.contains("А555МР 750"),
        "{heading}"
    );
    assert!(
        text_of(&b, "[data-spec='payload_t']")
            .await
            .contains("25,5 т")
    );
    assert!(text_of(&b, "[data-spec='axles']").await.contains("8x4"));

    submit(&b, "main .crumbs a[href='/garage']").await;
    wait_path(&b, "/garage").await;
    let row = text_of(&b, &format!("tr[data-machine='{id}']")).await;
    assert!(
        row.contains("Volvo FMX 8x4") && row.contains("Самосвал") && row.contains("Недоступна"),
        "{row}"
    );
    assert!(row.contains("Нет документа «Полис ОСАГО»"), "{row}");
    b.close().await.ok();
    app.stop().await;
}
