//! Workflows through the web: the analyst's editor (line errors, save,
//! activate without a restart), version pinning, the inbox, instance pages,
//! and the command-line checker.

use reqwest::StatusCode;

use crate::helpers::{DEMO_PASSWORD, TestApp};
use crate::parties::supplier_form;

pub(crate) const ONBOARDING: &str = include_str!("../../workflows/supplier_onboarding.yaml");

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

pub(crate) async fn register_and_confirm(app: &TestApp, inn: &str, email: &str) -> i64 {
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

pub(crate) async fn instance_of(app: &TestApp, org: i64) -> (i64, String, i64) {
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
    let (status, page) = analyst.get_text(&format!("/instances/{id}")).await;
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

/// `podryad workflows migrate` takes version numbers: a supplier waiting
/// for verification on version 1 moves to version 2 (which has the document
/// stage) and then follows version 2's path.
#[tokio::test]
async fn the_migrate_command_moves_a_running_instance_to_the_next_version() {
    let app = TestApp::spawn_demo().await;
    let org = register_and_confirm(&app, "7712345671", "move@example.test").await;
    let (id, state, version) = instance_of(&app, org).await;
    assert_eq!((state.as_str(), version), ("verification", 1));

    let analyst = app.client();
    analyst.login("analyst@podryad.test", DEMO_PASSWORD).await;
    let r = analyst
        .post_form(
            "/workflows/save",
            &[("yaml", with_document_stage().as_str()), ("activate", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let dir = std::env::temp_dir().join(format!("podryad-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podryad"))
        .args(["workflows", "migrate", "supplier_onboarding", "--to", "2"])
        .env("DATABASE_URL", app.database_url())
        .env(
            "PODRYAD_WORKFLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"),
        )
        .env("PODRYAD_FILES_DIR", dir.join("files"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("to supplier_onboarding v2")
            && stdout.contains("verification → verification"),
        "{stdout}"
    );
    let (moved, state, version) = instance_of(&app, org).await;
    assert_eq!(
        (moved, state.as_str(), version),
        (id, "verification", 2),
        "the same instance, same state, now on version 2"
    );

    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    approve(&app, &manager, org).await;
    assert_eq!(
        instance_of(&app, org).await.1,
        "documents",
        "the moved instance takes version 2's new stage"
    );

    // An unknown version is refused by number, and nothing changes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podryad"))
        .args(["workflows", "migrate", "supplier_onboarding", "--to", "7"])
        .env("DATABASE_URL", app.database_url())
        .env(
            "PODRYAD_WORKFLOWS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"),
        )
        .env("PODRYAD_FILES_DIR", dir.join("files"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("нет версии 7"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A copy of the shipped analysts' folder with a new request type whose
/// field type is misspelt.
fn workflows_with_broken_towing() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    crate::intake::copy_dir(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows")),
        dir.path(),
    );
    std::fs::write(
        dir.path().join("request_types/towing.yaml"),
        "code: towing\ntitle: Эвакуация автомобиля\nposition: 5\nsite: pickup\nduration: none\n\
         price_units: [trip]\nmarkup_percent: 18\nfields:\n\
         \x20 - {id: pickup, title: Откуда забрать, type: adress, required: true}\n",
    )
    .expect("write");
    dir
}

/// One broken request type never stops the server: it is left out (and
/// logged) while the other types take requests.
#[tokio::test]
async fn a_server_starts_with_a_broken_request_type_and_the_others_work() {
    let dir = workflows_with_broken_towing();
    let app = TestApp::spawn_demo_with_workflows(dir.path().to_path_buf()).await;
    let visitor = app.client();
    let (status, page) = visitor.get_text("/request").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/request/cargo"), "{page}");
    assert!(
        !page.contains("/request/towing"),
        "the broken type is left out"
    );
    let (status, _) = visitor.get_text("/request/cargo").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        visitor.get("/request/towing").await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

/// `workflows check` on the whole folder checks each kind with its own
/// checker and names every broken file with its line and column in one run.
#[tokio::test]
async fn the_checker_checks_request_types_and_the_catalogue_in_one_pass() {
    let dir = workflows_with_broken_towing();
    let equipment = dir.path().join("catalogue/equipment.yaml");
    let text = std::fs::read_to_string(&equipment).expect("read");
    std::fs::write(
        &equipment,
        text.replacen(
            "type: decimal, required: true",
            "type: decimall, required: true",
            1,
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podryad"))
        .args(["workflows", "check"])
        .arg(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/check.db", dir.path().display()),
        )
        .env("PODRYAD_WORKFLOWS_DIR", dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for file in [r"towing\.yaml", r"equipment\.yaml"] {
        let re = regex::Regex::new(&format!(r"{file}:[1-9]\d*:[1-9]\d*: ")).expect("re");
        assert!(re.is_match(&stdout), "{file} with a position in:\n{stdout}");
    }
    assert!(
        !stdout.contains("cargo.yaml") && !stdout.contains("request.yaml"),
        "request types are not read as workflows:\n{stdout}"
    );
}

/// A workflow written for the API checks: typed data, and one event that
/// may come from outside.
const PAYMENT_CHECK: &str = "id: payment_check
title: Проверка оплаты
object: supplier
data:
  amount: {type: money}
events:
  - payment.received
external: [payment.received]
initial: waiting
states:
  waiting:
    title: Ждём оплату
    on:
      - event: payment.received
        to: paid
  paid: {title: Оплачено, terminal: true}
";

async fn open_task(app: &TestApp, org: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'supplier' AND i.object_id = $1 AND t.status = 'open'",
    )
    .bind(org)
    .fetch_one(app.db().pool())
    .await
    .expect("open task")
}

/// A form post that asks for JSON, as a script on the page would: the
/// answer carries the machine-readable reason.
async fn post_for_json(
    b: &crate::helpers::Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let token = b.csrf().await;
    let mut all = fields.to_vec();
    all.push(("_csrf", &token));
    let r = b
        .http
        .post(b.url(path))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&all)
        .send()
        .await
        .expect("POST");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

/// A workflow's refusal is something the person or the integration can act
/// on, never a server fault: a task a colleague took is a conflict (not a
/// 403 as if the person had no right to it), a task done already is a
/// conflict, an outcome the task does not have is bad input; through the
/// API, data of the wrong type or an undeclared field is bad input (422),
/// an unknown workflow or instance is not found.
#[tokio::test]
async fn workflow_refusals_are_conflicts_or_bad_input_on_pages_and_the_api() {
    let app = TestApp::spawn_demo().await;
    let org = register_and_confirm(&app, "7712345671", "kran@example.test").await;
    let task = open_task(&app, org).await;
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let r = admin
        .post_form(
            "/admin/users/new",
            &[
                ("full_name", "Пётр Сидоров"),
                ("email", "petr@podryad.test"),
                ("roles", "manager"),
                ("password", "vtoroy-manager-1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let maria = app.client();
    maria.login("manager@podryad.test", DEMO_PASSWORD).await;
    let petr = app.client();
    petr.login("petr@podryad.test", "vtoroy-manager-1").await;

    let r = maria.post_form(&format!("/tasks/{task}/claim"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Taken by a colleague: a conflict, on the page in words…
    let r = petr.post_form(&format!("/tasks/{task}/claim"), &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Задачу уже взял другой сотрудник"),
    );
    // …and for a script, by its reason.
    let (status, body) = post_for_json(
        &petr,
        &format!("/tasks/{task}/complete"),
        &[("outcome", "approve")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "task.claimed_by_other");
    let (status, body) = post_for_json(&petr, &format!("/tasks/{task}/unclaim"), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "task.not_claimed_by_you");

    // An outcome the task does not have is bad input.
    let (status, body) = post_for_json(
        &maria,
        &format!("/tasks/{task}/complete"),
        &[("outcome", "maybe")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "outcome");

    // Done once; the second time is a conflict that says so.
    let r = maria
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = maria
        .post_form(
            &format!("/tasks/{task}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Задача уже выполнена")
    );

    // The API: an analyst publishes a workflow with typed data and an
    // external event; an integration starts and drives it.
    let analyst = app.client();
    analyst.login("analyst@podryad.test", DEMO_PASSWORD).await;
    let r = analyst
        .post_form(
            "/workflows/save",
            &[("yaml", PAYMENT_CHECK), ("activate", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let token = domain::accounts::api_tokens::create(
        app.db(),
        None,
        "integration",
        &["workflows:start".into(), "events:emit".into()],
    )
    .await
    .expect("token")
    .1;
    let http = reqwest::Client::new();
    let call = |path: String, body: serde_json::Value| {
        let (http, token, url) = (http.clone(), token.clone(), format!("{}{path}", app.base));
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("POST");
            let status = r.status();
            (status, r.json::<serde_json::Value>().await.expect("json"))
        }
    };
    let start = "/api/v1/workflows/payment_check/start".to_string();
    let (status, body) = call(
        start.clone(),
        serde_json::json!({"object_id": org, "data": {"amount": "много"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "invalid");
    assert_eq!(body["fields"][0]["field"], "amount");
    assert_eq!(body["fields"][0]["code"], "not_money");
    let (status, body) = call(
        start.clone(),
        serde_json::json!({"object_id": org, "data": {"colour": "red"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "colour");
    let (status, _) = call(
        "/api/v1/workflows/no_such_workflow/start".into(),
        serde_json::json!({"object_id": org, "object_kind": "supplier"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        start,
        serde_json::json!({"object_id": org, "data": {"amount": 150050}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let instance = body["instance_id"].as_i64().expect("instance id");
    let events = format!("/api/v1/instances/{instance}/events");
    let paid = serde_json::json!({"name": "payment.received"});
    let (status, _) = call(events.clone(), paid.clone()).await;
    assert_eq!(status, StatusCode::OK);
    // The same webhook again (providers repeat them) is recorded and
    // changes nothing: not an error the provider would retry forever.
    let (status, body) = call(events, paid.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ignored"], true);
    let (status, _) = call("/api/v1/instances/999999/events".into(), paid).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
