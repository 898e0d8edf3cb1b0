//! Workflows through the web: the analyst's editor (line errors, save,
//! activate without a restart), version pinning, the inbox, instance pages,
//! and the command-line checker.

use reqwest::StatusCode;

use crate::helpers::{DEMO_PASSWORD, TestApp};
use crate::parties::supplier_form;

const ONBOARDING: &str = include_str!("../../workflows/supplier_onboarding.yaml");

/// The onboarding funnel with one more stage: after approval, two hours of
/// document checks before the supplier goes live.
fn with_document_stage() -> String {
    let approve = "          approve:\n            title: Одобрить\n            to: approved";
    assert!(
        ONBOARDING.contains(approve),
        "the shipped definition still has its approve outcome"
    );
    ONBOARDING
        .replace(approve, "          approve:\n            title: Одобрить\n            to: documents")
        .replace(
            "  approved:\n",
            "  documents:\n    title: Проверка документов\n    on:\n      - after: 2h\n        to: approved\n\n  approved:\n",
        )
}

async fn register_and_confirm(app: &TestApp, inn: &str, email: &str) -> i64 {
    let v = app.client();
    let r = v
        .post_form("/register/supplier", &supplier_form(inn, email))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let body: String = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(app.db().pool())
    .await
    .expect("confirmation mail");
    let link = regex::Regex::new(r"https?://\S+/confirm/\S+")
        .expect("re")
        .find(&body)
        .expect("link")
        .as_str()
        .to_string();
    let (status, _) = v.get_text(link.trim_start_matches(&app.base)).await;
    assert_eq!(status, StatusCode::OK);
    app.run_due().await;
    sqlx::query_scalar("SELECT id FROM organisations WHERE inn = $1")
        .bind(inn)
        .fetch_one(app.db().pool())
        .await
        .expect("org")
}

async fn instance_of(app: &TestApp, org: i64) -> (i64, String, i64) {
    sqlx::query_as(
        "SELECT i.id, i.state, d.version FROM wf_instances i JOIN wf_definitions d ON d.id = i.definition_id
         WHERE i.object_kind = 'supplier' AND i.object_id = $1 ORDER BY i.id DESC LIMIT 1",
    )
    .bind(org)
    .fetch_one(app.db().pool())
    .await
    .expect("instance")
}

async fn approve(app: &TestApp, manager: &crate::helpers::Browser, org: i64) {
    let task: i64 = sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'supplier' AND i.object_id = $1 AND t.status = 'open'",
    )
    .bind(org)
    .fetch_one(app.db().pool())
    .await
    .expect("open task");
    let r = manager
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
}

#[tokio::test]
async fn an_analyst_adds_a_stage_with_a_timer_and_new_instances_follow_it_without_a_restart() {
    let app = TestApp::spawn_demo().await;
    let old_org = register_and_confirm(&app, "7712345671", "old@example.test").await;
    assert_eq!(
        instance_of(&app, old_org).await.2,
        1,
        "started on version 1"
    );

    let analyst = app.client();
    analyst.login("analyst@podryad.test", DEMO_PASSWORD).await;
    let (status, page) = analyst.get_text("/workflows/supplier_onboarding").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<svg") && page.contains("data-state=\"verification\""),
        "the diagram is drawn"
    );

    // A mistake is reported with its line and column, and nothing is stored.
    let broken =
        with_document_stage().replace("to: approved\n\n  approved:", "to: aproved\n\n  approved:");
    let r = analyst
        .post_form(
            "/workflows/save",
            &[("yaml", broken.as_str()), ("activate", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("aproved") && body.contains("строка"),
        "{body}"
    );
    let versions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM wf_definitions WHERE key = 'supplier_onboarding'")
            .fetch_one(app.db().pool())
            .await
            .expect("count");
    assert_eq!(versions, 1);

    let fixed = with_document_stage();
    let r = analyst
        .post_form("/workflows/check", &[("yaml", fixed.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("body").contains("Ошибок нет"));
    let r = analyst
        .post_form(
            "/workflows/save",
            &[("yaml", fixed.as_str()), ("activate", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A new supplier runs the new version; the old one keeps version 1.
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let new_org = register_and_confirm(&app, "7811123454", "new@example.test").await;
    assert_eq!(
        instance_of(&app, new_org).await.2,
        2,
        "a new instance uses the new version"
    );
    approve(&app, &manager, new_org).await;
    let (id, state, _) = instance_of(&app, new_org).await;
    assert_eq!(state, "documents", "the new stage is entered");
    let (status, page) = manager.get_text(&format!("/instances/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Проверка документов"));
    app.clock.advance(chrono::Duration::hours(1));
    app.run_due().await;
    assert_eq!(instance_of(&app, new_org).await.1, "documents", "not yet");
    app.clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::minutes(1));
    app.run_due().await;
    assert_eq!(
        instance_of(&app, new_org).await.1,
        "approved",
        "the timer moved it on"
    );

    approve(&app, &manager, old_org).await;
    assert_eq!(
        instance_of(&app, old_org).await.1,
        "approved",
        "version 1 goes straight to approved"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_inbox_shows_claims_and_overdue_tasks_and_hides_other_parties_tasks() {
    let app = TestApp::spawn_demo().await;
    let org = register_and_confirm(&app, "7712345671", "kran@example.test").await;
    let task: i64 = sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id WHERE i.object_id = $1 AND t.status = 'open'",
    )
    .bind(org)
    .fetch_one(app.db().pool())
    .await
    .expect("task");
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let r = manager
        .post_form(&format!("/tasks/{task}/claim"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = manager.get_text("/tasks?mine=1").await;
    assert!(page.contains("Кран-Сервис"), "my claimed task is listed");

    // Two working days later the task is overdue and highlighted.
    app.clock.advance(chrono::Duration::days(4));
    let (_, page) = manager.get_text("/tasks?overdue=1").await;
    assert!(page.contains("просрочена"), "{page}");

    // A supplier's user neither sees nor opens the broker's task.
    let supplier = app.client();
    supplier
        .login("dispatcher@stroytech.test", DEMO_PASSWORD)
        .await;
    let (_, page) = supplier.get_text("/tasks").await;
    assert!(!page.contains("Кран-Сервис"));
    assert_eq!(
        supplier.get(&format!("/tasks/{task}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = supplier
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Nor may a client see workflow definitions or instances.
    let client = app.client();
    client.login("client@sevbeton.test", DEMO_PASSWORD).await;
    assert_eq!(
        client.get("/workflows").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        client.get("/instances/1").await.status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn the_checker_names_file_line_and_column_and_fails() {
    let dir = std::env::temp_dir().join(format!("podryad-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        with_document_stage().replace("to: approved\n\n  approved:", "to: aproved\n\n  approved:"),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podryad"))
        .args(["workflows", "check"])
        .arg(&bad)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/check.db", dir.display()),
        )
        .env(
            "PODRYAD_WORKFLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"),
        )
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let re = regex::Regex::new(r"bad\.yaml:\d+:\d+: .*aproved").expect("re");
    assert!(re.is_match(&stdout), "{stdout}");
    let good = std::process::Command::new(env!("CARGO_BIN_EXE_podryad"))
        .args([
            "workflows",
            "check",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/workflows/supplier_onboarding.yaml"
            ),
        ])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/check.db", dir.display()),
        )
        .env(
            "PODRYAD_WORKFLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"),
        )
        .output()
        .expect("run");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    let _ = std::fs::remove_dir_all(dir);
}
