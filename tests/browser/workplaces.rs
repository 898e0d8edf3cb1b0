//! Each staff role's home is its workplace: its sections with the demo's
//! data, on a desktop and on a phone (no sideways scrolling at 390 px).

use crate::driver::{DemoApp, Driver, browser_available, fill, submit, text_of, wait_path};

/// The demo's staff and the section each one's home must show.
const HOMES: &[(&str, &str, &[&str])] = &[
    (
        "manager@podryad.test",
        "#desk-manager",
        &[".desk-tasks", ".desk-offers", ".desk-rounds", ".desk-jobs"],
    ),
    (
        "operator@podryad.test",
        "#desk-operator",
        &[".desk-lookup form[action='/intake']", ".desk-intake"],
    ),
    ("hunter@podryad.test", "#desk-hunter", &[".desk-client"]),
    (
        "admin@podryad.test",
        "#desk-admin",
        &[".desk-outbox", ".desk-problems", ".desk-sla"],
    ),
    ("analyst@podryad.test", "#desk-analyst", &["svg.chart"]),
    ("accountant@podryad.test", "#desk-accountant", &[".card"]),
];

#[tokio::test]
async fn each_staff_roles_home_is_its_workplace_on_a_desktop_and_a_phone() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    for (width, height) in [(1280, 900), (390, 844)] {
        let b = if width < 500 {
            driver.phone(width, height).await
        } else {
            driver.browser(width, height).await
        };
        for (login, section, parts) in HOMES {
            b.goto(&app.url("/login")).await.expect("open");
            fill(&b, "#f-login", login).await;
            fill(&b, "#f-password", podryad::demo::DEMO_PASSWORD).await;
            submit(&b, "form[action='/login'] button.primary").await;
            wait_path(&b, "/home").await;
            let heading = text_of(&b, &format!("{section} h2")).await;
            assert!(!heading.is_empty(), "{login}: {section}");
            for part in *parts {
                let found = b
                    .find_all(fantoccini::Locator::Css(&format!("{section} {part}")))
                    .await
                    .expect("find");
                assert!(!found.is_empty(), "{login} at {width}px: {section} {part}");
            }
            // The bell is in the header for everyone.
            text_of(&b, ".who .bell").await;
            let scroll = b
                .execute("return document.documentElement.scrollWidth;", vec![])
                .await
                .expect("measure");
            let viewport = b
                .execute("return window.innerWidth;", vec![])
                .await
                .expect("measure");
            assert_eq!(viewport.as_i64(), Some(i64::from(width)), "{login}");
            assert!(
                scroll.as_i64().unwrap_or(i64::MAX) <= i64::from(width),
                "{login} at {width}px scrolls sideways: {scroll}"
            );
            submit(&b, ".who button[type=submit]").await;
            wait_path(&b, "/login").await;
        }
        b.close().await.ok();
    }
    app.stop().await;
}
