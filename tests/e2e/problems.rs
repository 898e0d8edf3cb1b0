//! The administrators' page of workflow problems (issue 10 point 3: poison
//! rows are marked failed and shown to admins), through HTTP: a failing
//! action, a parked timer and a broken instance are listed with their
//! errors, instances and objects; an administrator retries a failed action
//! and a parked timer once the cause is fixed; an action whose failure the
//! workflow has already handled is not retried; nobody else gets the page.

use chrono::Duration;
use engine::ObjectRef;
use reqwest::StatusCode;

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp};
use crate::quotes::services;

/// A workflow whose first step calls the outside system (`test.outage`)
/// and which moves on after an hour; it does not listen to the action's
/// failure, so a failed call may be retried.
const PLAIN: &str = r#"
id: problems_plain
title: Проверка сбоев
object: crash
events: [poke]
initial: waiting
states:
  waiting:
    on_enter:
      - action: test.outage
    on:
      - after: 1h
        to: done
      - event: poke
  done: {terminal: true}
"#;

/// The same call, but the workflow takes its failure branch: a retry would
/// run an effect the process no longer expects.
const HANDLED: &str = r#"
id: problems_handled
title: Проверка сбоев с веткой ошибки
object: crash
initial: waiting
states:
  waiting:
    on_enter:
      - action: test.outage
    on:
      - event: test.outage.failed
        to: gave_up
  gave_up: {terminal: true}
"#;

async fn exec(app: &TestApp, sql: &str) {
    let mut tx = app.db().begin().await.expect("tx");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.expect("commit");
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn state(app: &TestApp, instance: i64) -> String {
    sqlx::query_scalar("SELECT state FROM wf_instances WHERE id = $1")
        .bind(instance)
        .fetch_one(app.db().pool())
        .await
        .expect("instance")
}

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    let b = app.client();
    b.login(login, DEMO_PASSWORD).await;
    b
}

#[tokio::test]
async fn admins_see_what_the_workers_could_not_do_and_retry_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    crate::intake::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows"),
        dir.path(),
    );
    std::fs::write(dir.path().join("problems_plain.yaml"), PLAIN).expect("write");
    std::fs::write(dir.path().join("problems_handled.yaml"), HANDLED).expect("write");
    let workflows = dir.path().to_path_buf();
    let app = TestApp::spawn_demo_configured(move |c| {
        c.test_actions = true;
        c.workflows_dir = workflows;
    })
    .await;
    let engine = &services(&app).engine;

    // The outside system is down: the first step's call fails for good.
    exec(
        &app,
        "CREATE TABLE IF NOT EXISTS test_outage (reason TEXT NOT NULL)",
    )
    .await;
    exec(&app, "INSERT INTO test_outage (reason) VALUES ('down')").await;
    let start = |key: &'static str, id: i64| {
        engine.start(
            key,
            ObjectRef {
                kind: "crash".into(),
                id,
            },
            Default::default(),
            None,
        )
    };
    let failing = start("problems_plain", 1).await.expect("start").instance_id;
    let corrupt = start("problems_plain", 2).await.expect("start").instance_id;
    let handled = start("problems_handled", 3)
        .await
        .expect("start")
        .instance_id;
    app.run_due().await;
    assert_eq!(state(&app, handled).await, "gave_up");

    // One instance's timer has a payload that does not parse; another's
    // stored data does not: each firing fails, is retried with a backoff,
    // and is parked after the last attempt — the workers go on.
    exec(
        &app,
        &format!("UPDATE wf_timers SET payload = '{{not json' WHERE instance_id = {failing}"),
    )
    .await;
    exec(
        &app,
        &format!("UPDATE wf_instances SET data = '{{not json' WHERE id = {corrupt}"),
    )
    .await;
    for _ in 0..6 {
        app.clock.advance(Duration::hours(2));
        app.run_due().await;
    }
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM wf_timers WHERE failed_at IS NOT NULL"
        )
        .await,
        2
    );

    // The page, for an administrator.
    let admin = signed_in(&app, "admin@podryad.test").await;
    let (_, home) = admin.get_text("/home").await;
    assert!(
        home.contains("Сбои процессов"),
        "linked from the navigation: {home}"
    );
    let (status, page) = admin.get_text("/admin/workflow-problems").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let expected = [
        "Сбои процессов".to_string(),
        "Действия с ошибкой".into(),
        "test.outage".into(),
        "the outside system is down (test_outage)".into(),
        "problems_plain".into(),
        format!("href=\"/instances/{failing}\""),
        "crash №1".into(),
        "Таймеры с ошибкой".into(),
        "corrupt payload".into(),
        "Отложен".into(),
        "Повреждённые экземпляры".into(),
        format!("href=\"/instances/{corrupt}\""),
        "crash №2".into(),
        "corrupt stored data".into(),
        // The handled failure is shown, with why it is not retried.
        "Процесс уже обработал эту ошибку".into(),
    ];
    for e in &expected {
        assert!(page.contains(e.as_str()), "{e:?} in {page}");
    }

    // Nobody else: staff without the admin role, suppliers, clients are
    // refused as on every admin page; strangers are sent to sign in.
    for who in [
        "manager@podryad.test",
        "dispatcher@gruzavto.test",
        "client@sevbeton.test",
    ] {
        let b = signed_in(&app, who).await;
        let (status, page) = b.get_text("/admin/workflow-problems").await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{who}: {status}"
        );
        assert!(!page.contains("test.outage"), "{who}: {page}");
        let (_, home) = b.get_text("/home").await;
        assert!(!home.contains("Сбои процессов"), "{who}");
        let r = b
            .post_form("/admin/workflow-problems/timers/1/retry", &[])
            .await;
        assert!(
            matches!(r.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{who}: {}",
            r.status()
        );
    }
    let r = app.client().get("/admin/workflow-problems").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The handled failure is refused: the workflow went on without it.
    let handled_row = scalar(
        &app,
        &format!(
            "SELECT id FROM wf_outbox WHERE instance_id = {handled} AND action = 'test.outage'"
        ),
    )
    .await;
    let r = admin
        .post_form(
            &format!("/admin/workflow-problems/actions/{handled_row}/retry"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Процесс уже обработал эту ошибку")
    );

    // The outside system is back: the administrator retries the call.
    exec(&app, "DELETE FROM test_outage").await;
    let row = scalar(
        &app,
        &format!(
            "SELECT id FROM wf_outbox WHERE instance_id = {failing} AND action = 'test.outage'"
        ),
    )
    .await;
    assert!(
        page.contains(&format!("/admin/workflow-problems/actions/{row}/retry\"")),
        "a retry button: {page}"
    );
    assert!(
        !page.contains(&format!(
            "/admin/workflow-problems/actions/{handled_row}/retry\""
        )),
        "none for the handled failure: {page}"
    );
    let r = admin
        .post_form(
            &format!("/admin/workflow-problems/actions/{row}/retry"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let status: String = sqlx::query_scalar("SELECT status FROM wf_outbox WHERE id = $1")
        .bind(row)
        .fetch_one(app.db().pool())
        .await
        .expect("row");
    assert_eq!(status, "done");
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(*) FROM test_effects WHERE instance_id = {failing}")
        )
        .await,
        1,
        "the effect happened once"
    );
    // Retrying it again is refused: it is no longer failed.
    let r = admin
        .post_form(
            &format!("/admin/workflow-problems/actions/{row}/retry"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // The timer's payload is repaired; the retried timer fires.
    exec(
        &app,
        &format!("UPDATE wf_timers SET payload = '{{}}' WHERE instance_id = {failing}"),
    )
    .await;
    let timer = scalar(
        &app,
        &format!("SELECT id FROM wf_timers WHERE instance_id = {failing}"),
    )
    .await;
    let r = admin
        .post_form(
            &format!("/admin/workflow-problems/timers/{timer}/retry"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(state(&app, failing).await, "done");

    // What is left: the handled failure, the broken instance and its timer.
    let (_, page) = admin.get_text("/admin/workflow-problems").await;
    assert!(!page.contains("crash №1"), "{page}");
    assert!(
        page.contains("crash №2") && page.contains("crash №3"),
        "{page}"
    );
    app.stop().await;
}
