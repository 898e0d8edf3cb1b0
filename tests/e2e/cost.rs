//! What the request funnel costs the database, and the session cache that
//! keeps that cost down without keeping stale answers.
//!
//! The budget test drives one process of `podryad bench funnel` (a request
//! filed through the API, four tasks claimed and completed through the task
//! pages) on a counted database and fails when a step needs more statements
//! or write transactions than budgeted: adding a query to the funnel must be
//! a decision, with the budget raised here and the README's figures redone.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::Db;
use podryad::bench::funnel::{self, Browser, Integration, Observer, Step};
use podryad::bench::sql_count::{self, Counts};
use reqwest::StatusCode;

use crate::helpers::*;

/// What the requests of each kind cost, summed.
struct Budget {
    db: Db,
    mark: Counts,
    costs: BTreeMap<Step, (u64, Counts)>,
}

#[engine::async_trait]
impl Observer for Budget {
    async fn before(&mut self, _step: Step) {
        self.mark = Counts::now(&self.db);
    }

    async fn after(&mut self, step: Step, _took: Duration) {
        let c = self.costs.entry(step).or_default();
        c.0 += 1;
        c.1.add(&Counts::now(&self.db).since(&self.mark));
    }
}

/// Most statements and write transactions of one request of each kind
/// (reads, writes, write transactions).
const BUDGET: [(Step, u64, u64, u64); 5] = [
    // The intake: client, request, owner, workflow with its first task,
    // the visitor's confirmation and the owner's notification (with its
    // in-app copy for the bell), and the submission's fingerprint that makes
    // a repeated post the same request; the search terms of the request,
    // the new client and its contact person (the header search's index:
    // one read of the client, three INSERTs).
    (Step::Start, 14, 24, 1),
    // The session comes from the cache: the tasks and their counts, the
    // bell's unread count; the person's saved filters (chips) and the
    // colleagues the bulk actions can give tasks to.
    (Step::Inbox, 5, 0, 0),
    // The task with its roles (who may act is decided from them), the
    // object's scope, the history told in words (with the instance's task
    // titles and the names of the people in it); the bell's unread count
    // (measured: 7).
    (Step::TaskPage, 7, 0, 0),
    // The task page's checks, then one UPDATE that claims.
    (Step::Claim, 2, 1, 1),
    // Checks, the instance with its tasks, timers and request; one
    // transaction: the step, the next task with roles and timers, the
    // status projection, the owner's notification (and its in-app copy),
    // history; then the request's instances and open tasks, for the next
    // task to lead to.
    (Step::Complete, 10, 9, 1),
];

/// The sender's cost for a batch of messages, whatever its size: one claim,
/// one record of the messages sent.
const SENDER_WRITES_PER_BATCH: u64 = 2;

#[tokio::test]
async fn one_request_through_the_funnel_stays_within_its_database_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let workflows = dir.path().join("workflows");
    funnel::funnel_workflows(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows"),
        &workflows,
    )
    .expect("the funnel's workflows");
    let app = TestApp::spawn_configured(|c| {
        c.count_db = true;
        c.workflows_dir = workflows.clone();
    })
    .await;
    let db = app.db().clone();
    let seeded = funnel::seed(&db, 1).await.expect("a manager and a token");
    let mut person = Browser::new(&app.base).expect("client");
    person
        .sign_in(&seeded.logins[0], funnel::PASSWORD)
        .await
        .expect("sign in");
    let api = Integration::new(&app.base, &seeded.token).expect("client");
    wait_for_session_cache(&db).await;
    // A first request of each kind warms what is compiled once per process
    // (the definition, prepared statements): the budget is the steady state.
    funnel::start_process(&api, 1, &mut funnel_noop())
        .await
        .expect("start");
    let mut inbox = funnel::open_inbox(&mut person, &mut funnel_noop())
        .await
        .expect("inbox");
    for _ in 0..funnel::HUMAN_STEPS {
        let id = funnel::first_task(&inbox).expect("a task in the inbox");
        inbox = funnel::do_task(&mut person, id, &mut funnel_noop())
            .await
            .expect("a human step");
    }
    send_all(&db).await;

    sql_count::set_active(true);
    let mut budget = Budget {
        db: db.clone(),
        mark: Counts::default(),
        costs: BTreeMap::new(),
    };
    funnel::start_process(&api, 2, &mut budget)
        .await
        .expect("start");
    let mut inbox = funnel::open_inbox(&mut person, &mut budget)
        .await
        .expect("inbox");
    for _ in 0..funnel::HUMAN_STEPS {
        let id = funnel::first_task(&inbox).expect("a task in the inbox");
        inbox = funnel::do_task(&mut person, id, &mut budget)
            .await
            .expect("a human step");
    }
    // The sender, as it runs under load: the messages of the process in
    // one batch.
    let before = Counts::now(&db);
    let sent = send_all(&db).await;
    let sender = Counts::now(&db).since(&before);
    sql_count::set_active(false);

    let mut report = String::new();
    for (step, (n, c)) in &budget.costs {
        report.push_str(&format!(
            "{}: {n} requests, {} reads, {} writes, {} write tx\n",
            step.name(),
            c.reads,
            c.writes,
            c.write_tx
        ));
    }
    report.push_str(&format!(
        "sender: {sent} messages, {} reads, {} writes, {} write tx\n",
        sender.reads, sender.writes, sender.write_tx
    ));
    assert_eq!(
        sent, 6,
        "the visitor's confirmation (e-mail and SMS) and four task notifications\n{report}"
    );
    for (step, reads, writes, write_tx) in BUDGET {
        let (n, c) = budget.costs.get(&step).copied().unwrap_or_default();
        assert!(n > 0, "{} was measured\n{report}", step.name());
        assert!(
            c.reads <= reads * n && c.writes <= writes * n && c.write_tx <= write_tx * n,
            "{} is over its budget of {reads} reads, {writes} writes, {write_tx} write transactions per request\n{report}",
            step.name()
        );
    }
    assert!(
        sender.write_tx <= SENDER_WRITES_PER_BATCH && sender.writes <= SENDER_WRITES_PER_BATCH,
        "the sender claims and records a batch in two statements\n{report}"
    );
    // Per human step: its claim and its completion, and its share of the
    // sender's batch.
    let human_tx = [Step::Inbox, Step::TaskPage, Step::Claim, Step::Complete]
        .iter()
        .map(|s| budget.costs.get(s).map(|c| c.1.write_tx).unwrap_or(0))
        .sum::<u64>()
        + sender.write_tx;
    assert!(
        human_tx <= 3 * funnel::HUMAN_STEPS as u64,
        "at most three write transactions per human step\n{report}"
    );
    let total: u64 = budget
        .costs
        .values()
        .map(|(_, c)| c.statements())
        .sum::<u64>()
        + sender.statements();
    let most: u64 = BUDGET
        .iter()
        .map(|(step, reads, writes, _)| {
            let n = budget.costs.get(step).map(|c| c.0).unwrap_or(0);
            (reads + writes) * n
        })
        .sum::<u64>()
        + SENDER_WRITES_PER_BATCH;
    assert!(
        total <= most,
        "{total} statements per process, budget {most}\n{report}"
    );
    app.stop().await;
}

/// An observer that sees nothing.
fn funnel_noop() -> impl Observer {
    struct Noop;
    #[engine::async_trait]
    impl Observer for Noop {
        async fn before(&mut self, _step: Step) {}
        async fn after(&mut self, _step: Step, _took: Duration) {}
    }
    Noop
}

/// Sends every queued message in one run of the sender (to a provider that
/// takes them); returns how many.
async fn send_all(db: &Db) -> usize {
    let transports = connectors::Transports::none()
        .with(
            connectors::notify::Channel::Email,
            std::sync::Arc::new(funnel::Sink),
        )
        .with(
            connectors::notify::Channel::Sms,
            std::sync::Arc::new(funnel::Sink),
        );
    let sender = domain::notify::NotificationSender::new(db.clone(), transports);
    sender.run_once().await.expect("the sender runs")
}

/// On PostgreSQL the session cache works once its listener is connected.
async fn wait_for_session_cache(db: &Db) {
    for _ in 0..200 {
        if domain::accounts::session_cache::in_use(db) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the session cache never came into use");
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.db().pool())
        .await
        .expect("user")
}

#[tokio::test]
async fn a_cached_session_follows_role_changes_disabling_and_sign_out() {
    let app = TestApp::spawn_demo().await;
    wait_for_session_cache(app.db()).await;
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let id = user_id(&app, "manager@podryad.test").await;
    // The intake report is for admins and managers; asked twice, the
    // second answer comes from the cache.
    for _ in 0..2 {
        let (status, _) = manager.get_text("/reports/intake").await;
        assert_eq!(status, StatusCode::OK);
    }

    // An admin makes them an operator: the next request knows.
    let r = admin
        .post_form(
            &format!("/admin/users/{id}"),
            &[("roles", "operator"), ("status", "active")],
        )
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let (status, _) = manager.get_text("/reports/intake").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the old roles are not cached"
    );

    // Disabled: signed out at once.
    let r = admin
        .post_form(
            &format!("/admin/users/{id}"),
            &[("roles", "operator"), ("status", "disabled")],
        )
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let r = manager.get("/tasks").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));

    // Signing out ends the cached session too: its cookie, replayed, is
    // nobody's.
    let (status, _) = admin.get_text("/tasks").await;
    assert_eq!(status, StatusCode::OK);
    let session = admin.cookie("podryad_session").expect("session");
    let r = admin.post_form("/logout", &[]).await;
    assert!(r.status().is_redirection());
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(admin.url("/tasks"))
        .header("cookie", format!("podryad_session={session}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn on_postgresql_a_change_made_on_another_server_reaches_the_cache() {
    let app = TestApp::spawn_demo().await;
    if app.db().dialect() != engine::Dialect::Postgres {
        eprintln!(
            "PostgreSQL only (run with PODRYAD_TEST_DATABASE=postgres://…): SQLite has one server per file"
        );
        app.stop().await;
        return;
    }
    wait_for_session_cache(app.db()).await;
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let id = user_id(&app, "manager@podryad.test").await;
    for _ in 0..2 {
        let (status, _) = manager.get_text("/reports/intake").await;
        assert_eq!(status, StatusCode::OK);
    }
    // Another server (here: a plain connection, no code of ours) takes the
    // manager's role away; the database tells this server.
    let other = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app_url(&app).await)
        .await
        .expect("another connection");
    sqlx::query("UPDATE user_roles SET role = 'operator' WHERE user_id = $1 AND role = 'manager'")
        .bind(id)
        .execute(&other)
        .await
        .expect("role changed");
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = manager.get("/reports/intake").await.status();
        if status == StatusCode::FORBIDDEN {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "within two seconds, not after the cache's minute"
    );
    other.close().await;
    app.stop().await;
}

/// The database URL the application runs on.
async fn app_url(app: &TestApp) -> String {
    let name: String = sqlx::query_scalar("SELECT CAST(current_database() AS TEXT)")
        .fetch_one(app.db().pool())
        .await
        .expect("database name");
    let admin = std::env::var("PODRYAD_TEST_DATABASE").expect("a PostgreSQL run");
    engine::testing::replace_db_name(&admin, &name)
}
