//! Pages at a company's volume (issue 11 point 11): the task inbox pages
//! through a long list instead of showing its first page under every
//! number, and `podryad bench pages` seeds its volume and measures every
//! page it lists (here at a small volume: a smoke test, never a timing).

use std::collections::BTreeSet;

use podryad::bench::pages::{self, PAGES, PagesOptions};
use reqwest::StatusCode;

use crate::helpers::TestApp;

fn options(requests: usize, tasks: usize) -> PagesOptions {
    PagesOptions {
        postgres: std::env::var("PODRYAD_TEST_DATABASE")
            .ok()
            .filter(|u| u.starts_with("postgres")),
        requests,
        tasks,
        history_days: 30,
        runs: 1,
        workflows: concat!(env!("CARGO_MANIFEST_DIR"), "/workflows").into(),
    }
}

/// The ids of the tasks an inbox page links to, in order.
fn task_ids(html: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("href=\"/tasks/") {
        rest = &rest[i + "href=\"/tasks/".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && rest[digits.len()..].starts_with('"') {
            ids.push(digits.parse().expect("a task id"));
        }
    }
    ids
}

/// A page's HTML with the escapes of its attribute values read back (the
/// templates escape `/` and `&` in links).
async fn page(b: &crate::helpers::Browser, path: &str) -> (StatusCode, String) {
    let (status, html) = b.get_text(path).await;
    (status, html.replace("&#x2f;", "/").replace("&amp;", "&"))
}

/// The number in the inbox title's badge: every task the person may see.
fn badge(html: &str) -> usize {
    let start = html
        .find("<span class=\"badge\">")
        .expect("the inbox badge")
        + "<span class=\"badge\">".len();
    let end = start + html[start..].find('<').expect("the badge's end");
    html[start..end].trim().parse().expect("a count")
}

#[tokio::test]
async fn the_inbox_pages_through_every_task_once() {
    let app = TestApp::spawn().await;
    pages::seed(app.db(), &options(400, 400))
        .await
        .expect("the volume is seeded");
    let b = app.client();
    // The administrator sees the escalated quarter, the role pool and the
    // offers waiting for approval: several pages.
    b.login("admin1@bench.test", pages::PASSWORD).await;

    let (status, first) = page(&b, "/tasks").await;
    assert_eq!(status, StatusCode::OK);
    let total = badge(&first);
    assert!(total > 100, "the seeded inbox has several pages ({total})");
    let first_ids = task_ids(&first);
    assert_eq!(first_ids.len(), 50, "a page shows 50 tasks");
    assert!(
        first.contains("href=\"/tasks?page=2\""),
        "a link to the next page"
    );

    let (status, second) = page(&b, "/tasks?page=2").await;
    assert_eq!(status, StatusCode::OK);
    let second_ids = task_ids(&second);
    assert!(!second_ids.is_empty());
    assert!(
        second_ids.iter().all(|id| !first_ids.contains(id)),
        "page 2 shows other tasks than page 1: {first_ids:?} / {second_ids:?}"
    );
    assert!(second.contains("href=\"/tasks?page=1\""), "a link back");

    // All pages together: each visible task exactly once.
    let mut seen = BTreeSet::new();
    let mut n = 1;
    loop {
        let (status, html) = page(&b, &format!("/tasks?page={n}")).await;
        assert_eq!(status, StatusCode::OK);
        for id in task_ids(&html) {
            assert!(seen.insert(id), "task {id} shown twice (page {n})");
        }
        if !html.contains(&format!("href=\"/tasks?page={}\"", n + 1)) {
            break;
        }
        n += 1;
    }
    assert_eq!(seen.len(), total, "the pages cover the whole inbox");

    // A page past the end is empty, not the first one again; filters stay
    // on the page links.
    let (status, past) = page(&b, "/tasks?page=50").await;
    assert_eq!(status, StatusCode::OK);
    assert!(task_ids(&past).is_empty(), "page 50 of {n} is empty");
    let (_, urgent) = page(&b, "/tasks?priority=urgent").await;
    let urgent_ids = task_ids(&urgent);
    assert!(!urgent_ids.is_empty());
    if urgent_ids.len() == 50 {
        assert!(urgent.contains("href=\"/tasks?priority=urgent&page=2\""));
    }
    // Nonsense reads as the first page.
    let (status, odd) = page(&b, "/tasks?page=abc").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task_ids(&odd), first_ids);
    app.stop().await;
}

#[tokio::test]
async fn the_pages_bench_measures_every_page() {
    let report = pages::run(&options(200, 150))
        .await
        .expect("the bench runs");
    assert_eq!(report.pages.len(), PAGES.len(), "a row per page");
    for p in &report.pages {
        assert_eq!(
            p.status,
            200,
            "{} as {} answered {}",
            p.path,
            p.who.role(),
            p.status
        );
        assert!(p.bytes > 0);
    }
    let printed = report.to_string();
    for (who, path) in PAGES {
        let line = printed
            .lines()
            .find(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(who.role())
                    && words.next().is_some_and(|p| {
                        p == report
                            .seeded
                            .fill(path)
                            .chars()
                            .take(44)
                            .collect::<String>()
                    })
            })
            .unwrap_or_else(|| panic!("no row for {path} as {}:\n{printed}", who.role()));
        assert!(line.contains("200"), "{line}");
    }
    assert!(printed.contains("cores"), "the machine is printed");
}
