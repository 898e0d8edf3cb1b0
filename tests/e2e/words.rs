//! Pages in words (issue 11 points 7, 9 and 12): a history says who did
//! what and when in the workflow's own titles; the technical page of an
//! instance is for analysts and administrators, and every link on it opens
//! for them; what clients and suppliers read has no identifiers, no time
//! zone names, no decimal points and no quotes inside quotes; a malformed
//! address gets a Russian page; forms have unique labels.

use std::collections::{BTreeSet, VecDeque};

use regex::Regex;
use reqwest::StatusCode;

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp};

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    let b = app.client();
    b.login(login, DEMO_PASSWORD).await;
    b
}

fn services(app: &TestApp) -> &domain::services::Services {
    &app.app.as_ref().expect("running").services
}

async fn full_name(app: &TestApp, email: &str) -> (i64, String) {
    sqlx::query_as("SELECT id, full_name FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.db().pool())
        .await
        .expect("user")
}

/// The text a person reads on a page: no scripts, styles or tags.
fn visible_text(html: &str) -> String {
    let scripts = Regex::new(r"(?s)<(script|style)\b.*?</(script|style)>").expect("regex");
    let tags = Regex::new(r"(?s)<[^>]*>").expect("regex");
    let without_scripts = scripts.replace_all(html, " ");
    let text = tags.replace_all(&without_scripts, " ");
    [
        ("&nbsp;", " "),
        ("&#x2f;", "/"),
        ("&#x27;", "'"),
        ("&quot;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(text.into_owned(), |t, (entity, c)| t.replace(entity, c))
}

/// The history section of a page (`<ol class="timeline story …">`).
fn history_of(page: &str) -> String {
    let start = page
        .find("<ol class=\"timeline story")
        .unwrap_or_else(|| panic!("the page has a history: {page}"));
    let end = page[start..].find("</ol>").expect("the history ends") + start;
    page[start..end].to_string()
}

/// Internal links of a page that a plain GET may follow, with their
/// queries or without (a calendar's months alone would be endless).
fn links_with(page: &str, queries: bool) -> Vec<String> {
    let href = Regex::new(r#"href="([^"]*)""#).expect("regex");
    href.captures_iter(page)
        .map(|c| c[1].replace("&#x2f;", "/").replace("&amp;", "&"))
        .map(|h| h.split('#').next().unwrap_or_default().to_string())
        .map(|h| match h.split_once('?') {
            Some((path, _)) if !queries => path.to_string(),
            _ => h,
        })
        .filter(|h| h.starts_with('/') && !h.starts_with("/static/"))
        .collect()
}

fn links(page: &str) -> Vec<String> {
    links_with(page, false)
}

#[tokio::test]
async fn everyday_pages_tell_the_history_in_words() {
    let app = TestApp::spawn_demo().await;
    let (manager_id, manager_name) = full_name(&app, "manager@podryad.test").await;
    // A new request's qualification the manager may do.
    let (task, instance, request): (i64, i64, i64) = sqlx::query_as(
        "SELECT t.id, i.id, i.object_id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE t.task_key = 'qualify' AND t.status = 'open' AND (t.assignee_user_id = $1 OR t.assignee_user_id IS NULL)
         ORDER BY t.id LIMIT 1",
    )
    .bind(manager_id)
    .fetch_one(app.db().pool())
    .await
    .expect("the demo has a request to qualify");
    let manager = signed_in(&app, "manager@podryad.test").await;
    let r = manager
        .post_form(&format!("/tasks/{task}/complete"), &[("outcome", "ready")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the task is done");

    // The request page: who did what, in the YAML's titles, and when.
    let (status, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert_eq!(status, StatusCode::OK);
    let history = visible_text(&history_of(&page));
    assert!(
        history.contains("Заявка готова к подбору") && history.contains("Подбор поставщиков"),
        "the outcome's and the state's titles: {history}"
    );
    assert!(history.contains(&manager_name), "who did it: {history}");
    assert!(history.contains("Начало работы"), "{history}");
    let when = Regex::new(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}").expect("regex");
    assert!(when.is_match(&history), "when, the Russian way: {history}");
    for raw in [
        "qualify:",
        "ready_for",
        "when:",
        "wf-trigger",
        "пользователь №",
        "None",
        "T0",
        "UTC",
    ] {
        assert!(!history.contains(raw), "no `{raw}` in: {history}");
    }
    // A manager reads no technical page, so none is linked.
    assert!(!page.contains("/instances/"), "no link for a manager");
    let (status, _) = manager.get_text(&format!("/instances/{instance}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The task page says the outcome by its title and tells the history.
    let (status, page) = manager.get_text(&format!("/tasks/{task}")).await;
    assert_eq!(status, StatusCode::OK);
    let text = visible_text(&page);
    assert!(
        text.contains("Заявка готова к подбору") && !text.contains("None"),
        "{text}"
    );
    assert!(!text.contains("→ qualification") && !text.contains("· start"));
    assert!(history_of(&page).contains(&manager_name));
    assert!(!page.contains("/instances/"));

    // An analyst opens the technical page from the request, with names for
    // people, and every link on it opens for them.
    let analyst = signed_in(&app, "analyst@podryad.test").await;
    let (_, page) = analyst.get_text(&format!("/requests/{request}")).await;
    assert!(page.contains(&format!("href=\"/instances/{instance}\"")));
    let (status, page) = analyst.get_text(&format!("/instances/{instance}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&manager_name) && !page.contains("пользователь №"));
    let targets = links(&page);
    assert!(
        targets.iter().any(|l| l.starts_with("/tasks/")),
        "the instance links its tasks: {targets:?}"
    );
    for link in targets {
        let status = analyst.get(&link).await.status();
        assert!(
            status.is_success() || status.is_redirection(),
            "{link} answers {status} to the analyst"
        );
    }
    app.stop().await;
}

/// What a client or a supplier must never read on a page.
fn raw_things(text: &str) -> Vec<String> {
    let checks = [
        // Identifiers: `truck_crane`, `request-status-site_survey`.
        (r"\b[a-z]+(?:[_-][a-z0-9]+)*_[a-z0-9]+\b", "an identifier"),
        (r"\b(?:Europe|Asia)/[A-Za-z_]+", "a time zone's name"),
        (r"\d\.\d+\s?(?:км|м³|м|т|ч|%)", "a decimal point"),
        (r"«[^«»]*«", "quotes inside quotes"),
        (r"\b[234] смен\b", "a wrong plural"),
        (r"\bNone\b|\bnull\b|Invalid|not found", "English"),
    ];
    let mut found = Vec::new();
    for (pattern, what) in checks {
        let re = Regex::new(pattern).expect("regex");
        for m in re.find_iter(text) {
            found.push(format!("{what}: {:?}", m.as_str()));
        }
    }
    found
}

/// What a walk through the pages found.
#[derive(Default)]
struct Walk {
    /// Things no one should read, by page.
    raw: Vec<String>,
    /// Links that refused their reader: (page, link, status).
    refused: Vec<String>,
}

/// Walks every page reachable from the home page (up to `limit`), as the
/// signed-in `b` would click through.
async fn walk(b: &Browser, limit: usize, queries: bool) -> Walk {
    let skip = [
        "logout",
        "/files/",
        ".xlsx",
        ".pdf",
        "/export",
        "/events",
        "/download",
    ];
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([("/home".to_string(), "/".to_string())]);
    let mut found = Walk::default();
    while let Some((path, from)) = queue.pop_front() {
        if seen.len() >= limit || !seen.insert(path.clone()) {
            continue;
        }
        let r = b.get(&path).await;
        let status = r.status();
        if status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND {
            found.refused.push(format!("{from} → {path}: {status}"));
            continue;
        }
        let html = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        if !status.is_success() || !html {
            continue;
        }
        let page = r.text().await.expect("body");
        for raw in raw_things(&visible_text(&page)) {
            found.raw.push(format!("{path}: {raw}"));
        }
        for link in links_with(&page, queries) {
            if !skip.iter().any(|s| link.contains(s)) && !seen.contains(&link) {
                queue.push_back((link, path.clone()));
            }
        }
    }
    assert!(seen.len() > 5, "the walk saw pages: {seen:?}");
    found
}

/// The whole demo: quotes, offers and orders in every state, with their
/// documents as the workers would issue them.
async fn full_demo() -> TestApp {
    let app = TestApp::spawn_demo().await;
    podryad::demo::seed_deals(services(&app))
        .await
        .expect("deals");
    podryad::demo::seed_orders(services(&app))
        .await
        .expect("orders");
    app.run_due().await;
    app
}

/// Walks the pages as each of `logins` and gathers what `pick` takes from
/// each walk, marked with who saw it.
async fn walk_as(
    app: &TestApp,
    logins: &[&str],
    queries: bool,
    pick: impl Fn(Walk) -> Vec<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for login in logins {
        let b = signed_in(app, login).await;
        let found = walk(&b, 150, queries).await;
        out.extend(pick(found).into_iter().map(|p| format!("{login} {p}")));
    }
    out
}

#[tokio::test]
async fn clients_and_suppliers_read_no_identifiers_or_time_zone_names() {
    let app = full_demo().await;
    let logins = [
        "client@sevbeton.test",
        "client@belova.test",
        "owner@gruzavto.test",
        "dispatcher@fedorov.test",
        "owner@stroytech.test",
    ];
    let problems = walk_as(&app, &logins, false, |w| w.raw).await;
    assert!(problems.is_empty(), "{problems:#?}");
    app.stop().await;
}

#[tokio::test]
async fn staff_pages_link_only_where_their_reader_may_go() {
    let app = full_demo().await;
    let logins = [
        "accountant@podryad.test",
        "hunter@podryad.test",
        "manager@podryad.test",
    ];
    let refused = walk_as(&app, &logins, true, |w| w.refused).await;
    assert!(refused.is_empty(), "{refused:#?}");
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_address_gets_a_russian_page_or_a_reason() {
    let app = TestApp::spawn_demo().await;
    let manager = signed_in(&app, "manager@podryad.test").await;
    let (status, page) = manager.get_text("/requests/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Неверный запрос") && page.contains("вместо номера"));
    assert!(
        !page.contains("Invalid URL") && !page.contains("i64"),
        "{page}"
    );
    // An API client gets the reason as JSON.
    let r = manager
        .http
        .get(manager.url("/requests/abc"))
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(body["error"], "request.malformed");
    app.stop().await;
}

#[tokio::test]
async fn forms_and_cards_speak_the_clients_language() {
    let app = TestApp::spawn_demo().await;
    podryad::demo::seed_deals(services(&app))
        .await
        .expect("deals");
    let visitor = app.client();
    // The request-type cards describe the service.
    let (_, page) = visitor.get_text("/request").await;
    assert!(page.contains("Экскаваторы, краны, погрузчики"), "{page}");
    assert!(!page.contains("полей") && !page.contains("поля<"));
    // Every field of a form has its own label.
    let label = Regex::new(r"(?s)<label for=[^>]*>(.*?)</label>").expect("regex");
    for code in ["cargo", "machinery", "materials", "passengers"] {
        let (status, page) = visitor.get_text(&format!("/request/{code}")).await;
        assert_eq!(status, StatusCode::OK);
        let mut seen = BTreeSet::new();
        for c in label.captures_iter(&page) {
            let text = visible_text(&c[1])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(seen.insert(text.clone()), "{code}: «{text}» twice");
        }
    }
    // A supplier's company details: a numeric keypad for the INN, and the
    // required OGRN marked.
    let (_, page) = visitor.get_text("/register/supplier").await;
    assert!(page.contains(r#"inputmode="numeric""#) && !page.contains("&quot;numeric"));
    let ogrn = Regex::new(r#"<label for="f-ogrn">[^<]*<span class="req""#).expect("regex");
    assert!(ogrn.is_match(&page), "the OGRN is marked required");

    // The client's list says when each service is needed; its offers wait
    // for the client's answer.
    let client = signed_in(&app, "client@sevbeton.test").await;
    let (_, page) = client.get_text("/requests").await;
    assert!(page.contains("Когда нужно"), "{page}");
    let wanted =
        Regex::new(r#"class="request-wanted">\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}"#).expect("regex");
    assert!(wanted.is_match(&page), "{page}");
    let (_, page) = client.get_text("/offers").await;
    assert!(page.contains("Ждёт вашего ответа") && !page.contains("Отправлено"));
    app.stop().await;
}
