//! The pipeline board on a desktop and on a phone: the workflow's stages
//! as columns with the demo's requests, a card moved with its own select
//! and button (no script needed), the header search — and no sideways
//! scrolling of the page at 390 px (the board scrolls inside itself).

use fantoccini::Locator;

use crate::driver::{DemoApp, Driver, browser_available, fill, submit, text_of, wait_path};

#[tokio::test]
async fn the_board_and_the_header_search_on_a_desktop_and_a_phone() {
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
        b.goto(&app.url("/login")).await.expect("open");
        fill(&b, "#f-login", "manager@podryad.test").await;
        fill(&b, "#f-password", podryad::demo::DEMO_PASSWORD).await;
        submit(&b, "form[action='/login'] button.primary").await;
        wait_path(&b, "/home").await;

        b.goto(&app.url("/board")).await.expect("open the board");
        let title = text_of(&b, "[data-column='qualification'] h2").await;
        assert_eq!(title, "Уточнение заявки");
        let count: i64 = text_of(&b, "[data-column='qualification'] [data-count]")
            .await
            .parse()
            .expect("a count");
        assert!(count > 0, "the demo's requests to qualify are on the board");
        let columns = b
            .find_all(Locator::Css("[data-board] [data-column]"))
            .await
            .expect("columns");
        assert!(columns.len() >= 10, "every stage is a column");

        // Move one of the manager's own cards to matching with its own
        // select and button.
        let id = b
            .execute(
                "var cs = document.querySelectorAll(\"[data-column='qualification'] [data-card]\");\
                 for (var i = 0; i < cs.length; i++) { if (cs[i].textContent.indexOf('Мария Кузнецова') >= 0) return cs[i].getAttribute('data-card'); }\
                 return null;",
                vec![],
            )
            .await
            .expect("find a card")
            .as_str()
            .expect("the manager has a request to qualify")
            .to_string();
        let card = b
            .find(Locator::Css(&format!("[data-card='{id}']")))
            .await
            .expect("the card");
        let select = card
            .find(Locator::Css("select[name=to]"))
            .await
            .expect("its select");
        select
            .select_by_value("ready_for_matching")
            .await
            .expect("choose the stage");
        b.execute(
            "document.querySelector(arguments[0]).scrollIntoView();",
            vec![serde_json::json!(format!("[data-card='{id}'] button"))],
        )
        .await
        .expect("scroll");
        submit(&b, &format!("[data-card='{id}'] button")).await;
        wait_path(&b, "/board").await;
        let moved = b
            .find_all(Locator::Css(&format!(
                "[data-column='ready_for_matching'] [data-card='{id}']"
            )))
            .await
            .expect("find");
        assert_eq!(moved.len(), 1, "the card is in its new column at {width}px");
        let flash = text_of(&b, ".flash").await;
        assert!(flash.contains("переведена"), "{flash}");

        // The page itself never scrolls sideways; the board does inside.
        no_sideways_scroll(&b, width, "the board").await;

        // The header search finds Громов's requests.
        fill(&b, ".topsearch input[name=q]", "Громов").await;
        submit(&b, ".topsearch button").await;
        wait_path(&b, "/search").await;
        let group = text_of(&b, "[data-group='requests'] h2").await;
        assert!(group.contains("Заявки"), "{group}");
        no_sideways_scroll(&b, width, "the search").await;
        submit(&b, ".who button[type=submit]").await;
        wait_path(&b, "/login").await;
        b.close().await.ok();
    }
    app.stop().await;
}

/// The page is no wider than the window.
async fn no_sideways_scroll(b: &fantoccini::Client, width: u32, what: &str) {
    let scroll = b
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .expect("measure");
    assert!(
        scroll.as_i64().unwrap_or(i64::MAX) <= i64::from(width),
        "{what} at {width}px scrolls sideways: {scroll}"
    );
}
