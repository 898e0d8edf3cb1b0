//! The analyst edits a funnel in the browser: a mistake is shown with its
//! line, the fixed version is activated and drawn — no restart.

use crate::driver::{DemoApp, Driver, browser_available, click, submit, text_of};

/// Signs in with the demo analyst's button on the sign-in page.
async fn sign_in_as_analyst(app: &DemoApp, b: &fantoccini::Client) {
    b.goto(&app.url("/login")).await.expect("open");
    click(
        b,
        "form:has(input[value=\"analyst@podryad.test\"]) button.demo-account",
    )
    .await;
    crate::driver::wait_path(b, "/home").await;
}

#[tokio::test]
async fn an_analyst_adds_a_stage_in_the_browser_editor() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(1280, 1000).await;
    sign_in_as_analyst(&app, &b).await;
    b.goto(&app.url("/workflows/supplier_onboarding"))
        .await
        .expect("open");
    // Route approval through a new stage with a two-hour timer, with a typo first.
    let edit = r#"
        const t = document.querySelector('textarea[name=yaml]');
        t.value = t.value
          .replace("to: approved\n            set:\n              decided_by", "to: documents\n            set:\n              decided_by")
          .replace("\n  approved:\n", "\n  documents:\n    title: Проверка документов\n    on:\n      - after: 2h\n        to: " + arguments[0] + "\n\n  approved:\n");
        return t.value.includes("documents:");
    "#;
    let ok = b
        .execute(edit, vec![serde_json::json!("aproved")])
        .await
        .expect("edit");
    assert_eq!(
        ok,
        serde_json::json!(true),
        "the shipped definition still has the approve outcome"
    );
    submit(&b, "button[formaction='/workflows/save'][name=activate]").await;
    let alert = text_of(&b, ".alert").await;
    assert!(
        alert.contains("aproved") && alert.contains("строка"),
        "{alert}"
    );
    let fix = r#"
        const t = document.querySelector('textarea[name=yaml]');
        t.value = t.value.replace("to: aproved", "to: approved");
        return true;
    "#;
    b.execute(fix, vec![]).await.expect("fix");
    submit(&b, "button[formaction='/workflows/save'][name=activate]").await;
    let flash = text_of(&b, ".flash").await;
    assert!(flash.contains("Версия включена"), "{flash}");
    let heading = text_of(&b, "main h1").await;
    assert!(heading.contains("v2"), "{heading}");
    b.find(fantoccini::Locator::Css("svg [data-state=documents]"))
        .await
        .expect("the new stage is drawn");
    b.close().await.ok();
    app.stop().await;
}

/// The diagram zooms with its buttons (the script served from the binary)
/// and never widens the page, at 1280 and at 390 px.
#[tokio::test]
async fn the_diagram_zooms_and_fits_the_page() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    for (width, phone) in [(1280, false), (390, true)] {
        let b = if phone {
            driver.phone(width, 844).await
        } else {
            driver.browser(width, 1000).await
        };
        sign_in_as_analyst(&app, &b).await;
        b.goto(&app.url("/workflows/request")).await.expect("open");
        b.find(fantoccini::Locator::Css(".diagram.zoomable"))
            .await
            .expect("the zoom script took the diagram");
        let view_width = r#"
            return parseFloat(document.querySelector('svg.workflow-diagram').getAttribute('viewBox').split(' ')[2]);
        "#;
        let before = b.execute(view_width, vec![]).await.expect("viewBox");
        click(&b, "[data-zoom=in]").await;
        let after = b.execute(view_width, vec![]).await.expect("viewBox");
        assert!(
            after.as_f64() < before.as_f64(),
            "zoomed in at {width}: {before} → {after}"
        );
        click(&b, "[data-zoom=fit]").await;
        let fitted = b.execute(view_width, vec![]).await.expect("viewBox");
        assert_eq!(fitted, before, "«Целиком» shows all of it again");
        let overflow = b
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth + 1;",
                vec![],
            )
            .await
            .expect("width");
        assert_eq!(
            overflow,
            serde_json::json!(false),
            "no page overflow at {width}"
        );
        b.close().await.ok();
    }
    app.stop().await;
}
