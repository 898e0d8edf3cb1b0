//! The engine under faults, on both databases: local actions and their
//! refusals, per-instance order of external actions, lease heartbeats,
//! poison outbox rows, failing timers, corrupt instance data, and two
//! servers starting on one database at the same moment.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::*;
use engine::testing::TestDb;
use engine::{
    ActionContext, ActionError, Clock, Db, DbOptions, Dialect, Engine, EngineConfig, EngineError,
    LocalActionHandler, ManualClock, action_fn, async_trait,
};
use serde_json::{Value, json};
use sqlx::AnyConnection;

async fn exec(db: &Db, sql: &str) {
    let mut tx = db.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.unwrap();
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

// ---------------------------------------------------------------- 1. local actions

/// Books a machine for a day in the step's own transaction; refuses a day
/// already booked (the domain's "this machine is already booked on 12 March").
struct Book;

#[async_trait]
impl LocalActionHandler for Book {
    async fn run(&self, conn: &mut AnyConnection, ctx: ActionContext) -> Result<(), ActionError> {
        let machine = ctx.params["machine"].as_i64().unwrap_or_default();
        let day = ctx.params["day"].as_str().unwrap_or_default().to_string();
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT instance_id FROM t_bookings WHERE machine = $1 AND day = $2",
        )
        .bind(machine)
        .bind(&day)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| ActionError::Retry(e.to_string()))?;
        if taken.is_some() {
            return Err(ActionError::Fail(format!("machine_booked:{day}")));
        }
        sqlx::query(
            "INSERT INTO t_bookings (machine, day, instance_id, idem) VALUES ($1, $2, $3, $4)",
        )
        .bind(machine)
        .bind(&day)
        .bind(ctx.instance_id)
        .bind(&ctx.idempotency_key)
        .execute(&mut *conn)
        .await
        .map_err(|e| match e.as_database_error() {
            // Another transaction booked it between our check and insert
            // (PostgreSQL runs steps of different instances in parallel).
            Some(d) if d.is_unique_violation() => {
                ActionError::Fail(format!("machine_booked:{day}"))
            }
            _ => ActionError::Retry(e.to_string()),
        })?;
        Ok(())
    }
}

/// Queues a notice for every task the engine opens, in the step's transaction.
struct Notice;

#[async_trait]
impl LocalActionHandler for Notice {
    async fn run(&self, conn: &mut AnyConnection, ctx: ActionContext) -> Result<(), ActionError> {
        sqlx::query("INSERT INTO t_notices (kind, task_id) VALUES ($1, $2)")
            .bind(&ctx.action)
            .bind(ctx.params["task_id"].as_i64())
            .execute(&mut *conn)
            .await
            .map_err(|e| ActionError::Retry(e.to_string()))?;
        Ok(())
    }
}

const BOOKING: &str = r#"
id: booking
title: Бронь техники
object: request
data:
  day: {type: text}
events: [book]
initial: new
states:
  new:
    on:
      - event: book
        to: booked
        set: {day: event.day}
        actions:
          - action: book
            with: {machine: 7, day: event.day}
          - action: send_rfq
  booked:
    tasks:
      - id: confirm
        title: Подтвердить бронь
        roles: [manager]
        outcomes: {ok: {title: Ок, to: done}}
  done: {terminal: true}
"#;

async fn booking_engine(db: &Db, calls: &Calls) -> Engine {
    exec(
        db,
        "CREATE TABLE t_bookings (machine BIGINT NOT NULL, day TEXT NOT NULL, instance_id BIGINT NOT NULL, idem TEXT NOT NULL, UNIQUE (machine, day));
         CREATE TABLE t_notices (kind TEXT NOT NULL, task_id BIGINT)",
    )
    .await;
    let engine = engine_builder(db, calls)
        .object_kind("request")
        .local_action("book", Some(&["machine", "day"]), Arc::new(Book))
        .local_action("task.created", None, Arc::new(Notice))
        .build();
    install(&engine, BOOKING).await;
    engine
}

#[tokio::test]
async fn local_actions_run_in_the_steps_transaction_and_a_refusal_rolls_it_back() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = booking_engine(&db.db, &calls).await;
    let a = engine
        .start("booking", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let b = engine
        .start("booking", obj("request", 2), Default::default(), None)
        .await
        .unwrap();

    let rep = engine
        .emit(a.instance_id, "book", json!({"day": "2026-03-12"}), None)
        .await
        .unwrap();
    assert_eq!(rep.state, "booked");
    // The booking and the task notice were written with the step; only the
    // external action went to the outbox.
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM t_bookings").await, 1);
    let idem: String = sqlx::query_scalar("SELECT idem FROM t_bookings")
        .fetch_one(db.db.pool())
        .await
        .unwrap();
    assert_eq!(idem, format!("wf-{}-2-0", a.instance_id));
    let notice_task: Option<i64> = sqlx::query_scalar("SELECT task_id FROM t_notices")
        .fetch_one(db.db.pool())
        .await
        .unwrap();
    assert_eq!(notice_task, Some(rep.opened_tasks[0]));
    let actions = engine.actions(a.instance_id).await.unwrap();
    assert_eq!(
        actions
            .iter()
            .map(|x| x.action.as_str())
            .collect::<Vec<_>>(),
        vec!["send_rfq"]
    );

    // The same day for another instance: refused with the reason, nothing stored.
    let before = engine.instance(b.instance_id).await.unwrap().unwrap();
    let history = engine.history(b.instance_id).await.unwrap().len();
    let err = engine
        .emit(b.instance_id, "book", json!({"day": "2026-03-12"}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::ActionRefused { action, reason }
            if action == "book" && reason == "machine_booked:2026-03-12"),
        "{err:?}"
    );
    assert_eq!(err.refusal(), Some(("book", "machine_booked:2026-03-12")));
    let after = engine.instance(b.instance_id).await.unwrap().unwrap();
    assert_eq!(
        (after.state.as_str(), after.version),
        ("new", before.version)
    );
    assert_eq!(engine.history(b.instance_id).await.unwrap().len(), history);
    assert!(engine.actions(b.instance_id).await.unwrap().is_empty());
    assert!(
        engine
            .instance_tasks(b.instance_id, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM t_bookings").await, 1);
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM t_notices").await, 1);

    // Inside the caller's transaction the refused step leaves the caller's
    // own writes alone: the transaction can still commit them.
    let mut tx = db.db.begin().await.unwrap();
    sqlx::query("INSERT INTO t_notices (kind, task_id) VALUES ('caller', NULL)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = engine
        .emit_in_tx(
            &mut tx,
            b.instance_id,
            "book",
            json!({"day": "2026-03-12"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.refusal().is_some(), "{err:?}");
    tx.commit().await.unwrap();
    assert_eq!(
        scalar(
            &db.db,
            "SELECT COUNT(*) FROM t_notices WHERE kind = 'caller'"
        )
        .await,
        1
    );
    assert_eq!(
        engine
            .instance(b.instance_id)
            .await
            .unwrap()
            .unwrap()
            .version,
        before.version
    );

    // Another day is fine; the outbox runs only the external action.
    engine
        .emit(b.instance_id, "book", json!({"day": "2026-03-13"}), None)
        .await
        .unwrap();
    engine.run_due_now().await.unwrap();
    assert_eq!(calls.named("send_rfq").len(), 2);
    assert!(
        calls.named("task.created").is_empty(),
        "ran locally instead"
    );
}

#[tokio::test]
async fn concurrent_bookings_of_one_day_store_exactly_one() {
    // On SQLite these steps meet in the group-commit writer's batches.
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = booking_engine(&db.db, &calls).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            engine
                .start("booking", obj("request", i), Default::default(), None)
                .await
                .unwrap()
                .instance_id,
        );
    }
    let results = futures::future::join_all(
        ids.iter()
            .map(|id| engine.emit(*id, "book", json!({"day": "2026-03-12"}), None)),
    )
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(
            |r| matches!(r, Err(e) if e.refusal() == Some(("book", "machine_booked:2026-03-12"))),
        )
        .count();
    assert_eq!((ok, refused), (1, 7), "{results:?}");
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM t_bookings").await, 1);
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM t_notices").await, 1);
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM wf_outbox").await, 1);
    let booked = scalar(
        &db.db,
        "SELECT COUNT(*) FROM wf_instances WHERE state = 'booked'",
    )
    .await;
    assert_eq!(booked, 1);
}

#[tokio::test]
async fn the_checker_knows_local_from_external_actions() {
    let db = TestDb::new(&MIGRATIONS).await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("request")
        .local_action("book", Some(&["machine", "day"]), Arc::new(Book))
        .build();
    assert!(engine.vocabulary().local_actions.contains("book"));
    assert!(!engine.vocabulary().local_actions.contains("send_rfq"));
    // Listening to a local action's result is an error, with its position.
    let yaml = "id: x\ntitle: X\nobject: request\ninitial: a\nstates:\n  a:\n    on_enter: [{action: book, with: {machine: 1, day: \"'d'\"}}]\n    on:\n      - event: book.done\n        to: b\n  b: {terminal: true}\n";
    let diags = engine.validate(yaml, "x.yaml").unwrap_err();
    let d = diags
        .iter()
        .find(|d| d.message.contains("выполняется внутри шага"))
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!((d.line, d.column), (9, 16), "{d}");
    // An external one's result is fine.
    let ok = yaml
        .replace("book, with: {machine: 1, day: \"'d'\"}", "send_rfq")
        .replace("book.done", "send_rfq.done");
    engine.validate(&ok, "x.yaml").unwrap();
    // Unknown names are still errors with file:line:column.
    let bad = yaml.replace("action: book", "action: boook");
    let diags = engine.validate(&bad, "x.yaml").unwrap_err();
    assert!(
        diags.iter().any(|d| d.to_string().starts_with("x.yaml:7:")
            && d.message.contains("неизвестное действие «boook»")),
        "{diags:?}"
    );
}

// ---------------------------------------------------------------- 2. order per instance

#[tokio::test]
async fn actions_of_one_instance_run_in_step_order_across_retries() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let runs: Arc<Mutex<Vec<(i64, u32)>>> = Arc::default();
    let r = runs.clone();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("request")
        .action(
            "project",
            Some(&["n"]),
            action_fn(move |ctx: ActionContext| {
                let r = r.clone();
                async move {
                    let n = ctx.params["n"].as_i64().unwrap_or_default();
                    r.lock().unwrap().push((n, ctx.attempt));
                    if n == 1 && ctx.attempt <= 2 {
                        return Err(ActionError::Retry("503".into()));
                    }
                    Ok(Value::Null)
                }
            }),
        )
        .build();
    let yaml = r#"
id: ordered
title: По порядку
object: request
events: [next]
initial: a
states:
  a:
    on_enter:
      - action: project
        with: {n: 1}
      - action: project
        with: {n: 2}
    on:
      - event: next
        to: b
  b:
    on_enter:
      - action: project
        with: {n: 3}
    on:
      - event: next
        to: c
  c: {terminal: true}
"#;
    install(&engine, yaml).await;
    let s = engine
        .start("ordered", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    engine
        .emit(s.instance_id, "next", json!({}), None)
        .await
        .unwrap();
    engine.run_due_now().await.unwrap();
    clock.advance(Duration::seconds(10));
    engine.run_due_now().await.unwrap();
    clock.advance(Duration::seconds(20));
    engine.run_due_now().await.unwrap();
    let order: Vec<i64> = runs.lock().unwrap().iter().map(|x| x.0).collect();
    assert_eq!(order, vec![1, 1, 1, 2, 3], "{:?}", runs.lock().unwrap());
    let done: Vec<_> = engine
        .actions(s.instance_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(done, vec!["done", "done", "done"]);
}

// ---------------------------------------------------------------- 3. lease heartbeat

#[tokio::test]
async fn a_long_action_extends_its_lease_and_runs_once() {
    let db = TestDb::new(&MIGRATIONS).await;
    let calls = Calls::default();
    let runs = Arc::new(AtomicUsize::new(0));
    let build = |db: &Db| {
        let runs = runs.clone();
        engine_builder(db, &calls)
            .object_kind("request")
            .config(EngineConfig {
                lease: StdDuration::from_millis(300),
                poll_interval: StdDuration::from_millis(20),
                ..EngineConfig::default()
            })
            .action(
                "slow",
                None,
                action_fn(move |_ctx: ActionContext| {
                    let runs = runs.clone();
                    async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(StdDuration::from_millis(1500)).await;
                        Ok(Value::Null)
                    }
                }),
            )
            .build()
    };
    let e1 = build(&db.db);
    let e2 = build(&db.db);
    install(&e1, OUTBOX_SLOW).await;
    let shutdown = engine::CancellationToken::new();
    let mut handles = e1.spawn_workers(shutdown.clone());
    handles.extend(e2.spawn_workers(shutdown.clone()));
    let s = e1
        .start("slow", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    while e1.instance(s.instance_id).await.unwrap().unwrap().state != "done" {
        assert!(std::time::Instant::now() < deadline, "never finished");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // Give a would-be second run the time to show up.
    tokio::time::sleep(StdDuration::from_millis(700)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "ran once despite a short lease"
    );
    let a = &e1.actions(s.instance_id).await.unwrap()[0];
    assert_eq!((a.status.as_str(), a.attempts), ("done", 1));
    shutdown.cancel();
    for h in handles {
        let _ = tokio::time::timeout(StdDuration::from_secs(5), h).await;
    }
}

const OUTBOX_SLOW: &str = r#"
id: slow
title: Долго
object: request
initial: a
states:
  a:
    on_enter: [{action: slow}]
    on:
      - event: slow.done
        to: done
  done: {terminal: true}
"#;

// ---------------------------------------------------------------- 4. poison rows

#[tokio::test]
async fn an_outbox_row_without_its_instance_is_failed_not_reclaimed() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("request")
        .build();
    // An orphan row, as left by a manual clean-up with foreign keys off.
    let now = engine::to_db_time(clock.now());
    let insert = format!(
        "INSERT INTO wf_outbox (instance_id, step, action_index, action, params, idempotency_key, status, attempts, next_attempt_at, created_at) \
         VALUES (987654, 1, 0, 'send_rfq', '{{}}', 'wf-987654-1-0', 'pending', 0, {now}, {now})"
    );
    match db.db.dialect() {
        Dialect::Postgres => {
            exec(
                &db.db,
                "ALTER TABLE wf_outbox DROP CONSTRAINT wf_outbox_instance_id_fkey",
            )
            .await;
            exec(&db.db, &insert).await;
        }
        Dialect::Sqlite => {
            use sqlx::Connection;
            let mut conn = AnyConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "PRAGMA foreign_keys = OFF; {insert}"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
    }
    engine.run_due_now().await.unwrap();
    clock.advance(Duration::hours(1));
    assert_eq!(
        engine.run_due_now().await.unwrap().actions_run,
        0,
        "not re-claimed"
    );
    assert!(calls.named("send_rfq").is_empty());
    let failed = engine.failed_actions(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status, "failed");
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("987654 not found"),
        "{:?}",
        failed[0]
    );
    let p = engine.problems().await.unwrap();
    assert_eq!(p.failed_actions.count, 1);
    assert!(p.failed_actions.last_error.unwrap().contains("not found"));
    assert_eq!(p.failed_timers.count, 0);
}

#[tokio::test]
async fn admin_queries_list_retried_and_failed_actions() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("request")
        .build();
    let yaml = "id: two\ntitle: Два\nobject: request\ninitial: a\nstates:\n  a:\n    on_enter: [{action: flaky}, {action: broken}]\n    on:\n      - event: go\n        to: b\n  b: {terminal: true}\nevents: [go]\n";
    install(&engine, yaml).await;
    let s1 = engine
        .start("two", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    engine.run_due_now().await.unwrap();
    let retrying = engine.retrying_actions(10).await.unwrap();
    assert_eq!(retrying.len(), 1);
    assert_eq!(
        (retrying[0].action.as_str(), retrying[0].attempts),
        ("flaky", 1)
    );
    assert_eq!(retrying[0].definition_key, "two");
    let p = engine.problems().await.unwrap();
    assert_eq!((p.retrying_actions.count, p.failed_actions.count), (1, 0));
    assert_eq!(
        p.retrying_actions.last_error.as_deref(),
        Some("try again (attempt 1)")
    );
    // `broken` waits behind `flaky` (same instance) until flaky finally fails.
    clock.advance(Duration::seconds(10));
    engine.run_due_now().await.unwrap();
    clock.advance(Duration::seconds(20));
    engine.run_due_now().await.unwrap();
    let failed = engine.failed_actions(10).await.unwrap();
    assert_eq!(
        failed.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        vec!["broken", "flaky"]
    );
    assert!(failed.iter().all(|a| a.instance_id == s1.instance_id));
    assert_eq!(engine.problems().await.unwrap().failed_actions.count, 2);
    assert!(engine.retrying_actions(10).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- 5. timer isolation

const WAIT: &str = r#"
id: wait
title: Ожидание
object: request
events: [poke]
initial: a
states:
  a:
    on:
      - after: 1h
        to: b
      - event: poke
  b: {terminal: true}
"#;

#[tokio::test]
async fn a_failing_timer_backs_off_is_parked_and_later_timers_fire() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("request")
        .build();
    install(&engine, WAIT).await;
    let bad = engine
        .start("wait", obj("request", 1), Default::default(), None)
        .await
        .unwrap()
        .instance_id;
    clock.advance(Duration::minutes(1));
    let good = engine
        .start("wait", obj("request", 2), Default::default(), None)
        .await
        .unwrap()
        .instance_id;
    // Every write to the first instance fails at the database.
    match db.db.dialect() {
        Dialect::Sqlite => {
            exec(
                &db.db,
                &format!(
                    "CREATE TRIGGER t_boom BEFORE UPDATE ON wf_instances WHEN OLD.id = {bad} BEGIN SELECT RAISE(ABORT, 'boom'); END"
                ),
            )
            .await
        }
        Dialect::Postgres => {
            exec(
                &db.db,
                &format!(
                    "CREATE FUNCTION t_boom() RETURNS trigger AS $$ BEGIN IF OLD.id = {bad} THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
                     CREATE TRIGGER t_boom BEFORE UPDATE ON wf_instances FOR EACH ROW EXECUTE FUNCTION t_boom()"
                ),
            )
            .await
        }
    }
    clock.advance(Duration::hours(2));
    engine.run_due_now().await.unwrap();
    assert_eq!(
        engine.instance(good).await.unwrap().unwrap().state,
        "b",
        "the later timer fired although the earlier one fails"
    );
    let t = engine.failed_timers(10).await.unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].instance_id, t[0].attempts), (bad, 1));
    assert!(t[0].failed_at.is_none(), "still retried");
    assert!(
        t[0].last_error.as_deref().unwrap().contains("boom"),
        "{:?}",
        t[0]
    );
    assert_eq!(t[0].due_at, clock.now() + Duration::seconds(10), "backoff");
    // Attempts 2 and 3 (the tests' max_attempts), then parked.
    clock.advance(Duration::seconds(10));
    engine.run_due_now().await.unwrap();
    clock.advance(Duration::seconds(20));
    engine.run_due_now().await.unwrap();
    let t = engine.failed_timers(10).await.unwrap();
    assert_eq!(t[0].attempts, 3);
    assert!(t[0].failed_at.is_some(), "parked");
    assert_eq!(engine.problems().await.unwrap().failed_timers.count, 1);
    clock.advance(Duration::days(1));
    assert_eq!(engine.run_due_now().await.unwrap().timers_fired, 0);
    assert_eq!(
        engine.fire_one_timer().await.unwrap(),
        engine::worker::Fire::Idle
    );
    assert_eq!(engine.instance(bad).await.unwrap().unwrap().state, "a");
}

// ---------------------------------------------------------------- 6. corrupt data

#[tokio::test]
async fn corrupt_instance_data_is_refused_never_overwritten() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("request")
        .build();
    install(&engine, WAIT).await;
    let bad = engine
        .start("wait", obj("request", 1), Default::default(), None)
        .await
        .unwrap()
        .instance_id;
    let good = engine
        .start("wait", obj("request", 2), Default::default(), None)
        .await
        .unwrap()
        .instance_id;
    exec(
        &db.db,
        &format!("UPDATE wf_instances SET data = '{{not json' WHERE id = {bad}"),
    )
    .await;
    let err = engine.emit(bad, "poke", json!({}), None).await.unwrap_err();
    assert!(
        matches!(err, EngineError::CorruptInstance { instance_id, .. } if instance_id == bad),
        "{err:?}"
    );
    assert!(err.to_string().contains(&bad.to_string()));
    clock.advance(Duration::hours(2));
    engine.run_due_now().await.unwrap();
    assert_eq!(engine.instance(good).await.unwrap().unwrap().state, "b");
    let data: String = sqlx::query_scalar("SELECT data FROM wf_instances WHERE id = $1")
        .bind(bad)
        .fetch_one(db.db.pool())
        .await
        .unwrap();
    assert_eq!(data, "{not json", "never overwritten");
    let broken = engine.broken_instances(10).await.unwrap();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].id, bad);
    assert!(
        broken[0].reason.contains("not a JSON object"),
        "{:?}",
        broken[0]
    );
    assert_eq!(engine.problems().await.unwrap().broken_instances.count, 1);
}

// ---------------------------------------------------------------- 7. two servers

const BURST: &str = r#"
id: burst
title: Всплеск
object: request
events: [go]
initial: a
states:
  a:
    on_enter: [{action: record}]
    on:
      - event: go
        to: b
  b:
    on:
      - after: 1m
        to: c
  c:
    on_enter: [{action: record}]
    terminal: true
"#;

#[derive(Default)]
struct Effects {
    runs: AtomicUsize,
    duplicates: AtomicUsize,
    keys: Mutex<HashMap<String, usize>>,
}

fn server(db: &Db, effects: &Arc<Effects>) -> Engine {
    let effects = effects.clone();
    let effect_db = db.clone();
    engine_builder(db, &Calls::default())
        .object_kind("request")
        .config(EngineConfig {
            poll_interval: StdDuration::from_millis(30),
            max_attempts: 20,
            backoff_base: StdDuration::from_millis(10),
            ..EngineConfig::default()
        })
        .action(
            "record",
            None,
            action_fn(move |ctx: ActionContext| {
                let effects = effects.clone();
                let db = effect_db.clone();
                async move {
                    effects.runs.fetch_add(1, Ordering::SeqCst);
                    *effects
                        .keys
                        .lock()
                        .unwrap()
                        .entry(ctx.idempotency_key.clone())
                        .or_default() += 1;
                    let mut tx = db
                        .begin()
                        .await
                        .map_err(|e| ActionError::Retry(e.to_string()))?;
                    let r = sqlx::query("INSERT INTO t_effects (key) VALUES ($1)")
                        .bind(&ctx.idempotency_key)
                        .execute(&mut *tx)
                        .await;
                    if r.is_err() {
                        effects.duplicates.fetch_add(1, Ordering::SeqCst);
                        return Ok(Value::Null);
                    }
                    tx.commit()
                        .await
                        .map_err(|e| ActionError::Retry(e.to_string()))?;
                    Ok(Value::Null)
                }
            }),
        )
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_start_and_run_on_one_database() {
    let clock = Arc::new(ManualClock::new(monday_10()));
    let db = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    exec(&db.db, "CREATE TABLE t_effects (key TEXT NOT NULL UNIQUE)").await;
    let db2 = Db::connect(
        &db.url,
        &DbOptions {
            max_connections: 4,
            ..DbOptions::default()
        },
    )
    .await
    .unwrap()
    .with_clock(clock.clone());
    let effects = Arc::new(Effects::default());
    let s1 = server(&db.db, &effects);
    let s2 = server(&db2, &effects);

    // Start-up: both load the same folder at the same moment, ten times,
    // each time with a changed file (a new version to store and activate).
    let dir = tempfile::tempdir().unwrap();
    for round in 0..10 {
        std::fs::write(
            dir.path().join("burst.yaml"),
            format!("# round {round}\n{BURST}"),
        )
        .unwrap();
        let (a, b) = tokio::join!(s1.load_dir(dir.path(), None), s2.load_dir(dir.path(), None));
        let (a, b) = (
            a.unwrap_or_else(|e| panic!("server 1, round {round}: {e}")),
            b.unwrap_or_else(|e| panic!("server 2, round {round}: {e}")),
        );
        assert_eq!(a[0].definition_id, b[0].definition_id, "one version stored");
        let versions = s1.list_versions("burst").await.unwrap();
        assert_eq!(versions.len(), round + 1);
        assert_eq!(versions.iter().filter(|v| v.status == "active").count(), 1);
    }
    // An analyst activates an older version while a server loads a new file.
    let old = s1.list_versions("burst").await.unwrap()[3].id;
    std::fs::write(dir.path().join("burst.yaml"), format!("# round x\n{BURST}")).unwrap();
    let (a, b) = tokio::join!(s1.activate(old, Some(1)), s2.load_dir(dir.path(), None));
    a.unwrap();
    b.unwrap();
    let versions = s1.list_versions("burst").await.unwrap();
    assert_eq!(versions.len(), 11);
    assert_eq!(versions.iter().filter(|v| v.status == "active").count(), 1);

    // A burst through both, both running workers.
    let shutdown = engine::CancellationToken::new();
    let mut handles = s1.spawn_workers(shutdown.clone());
    handles.extend(s2.spawn_workers(shutdown.clone()));
    const N: i64 = 24;
    let starts = futures::future::join_all((0..N).map(|i| {
        let s = if i % 2 == 0 { &s1 } else { &s2 };
        s.start("burst", obj("request", i), Default::default(), None)
    }))
    .await;
    let ids: Vec<i64> = starts.into_iter().map(|r| r.unwrap().instance_id).collect();
    let emits = futures::future::join_all(ids.iter().enumerate().map(|(i, id)| {
        let s = if i % 2 == 0 { &s2 } else { &s1 };
        s.emit(*id, "go", json!({}), None)
    }))
    .await;
    for r in emits {
        assert_eq!(r.unwrap().state, "b");
    }
    clock.advance(Duration::minutes(2));
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    loop {
        let finished = scalar(
            &db.db,
            "SELECT COUNT(*) FROM wf_instances WHERE definition_key = 'burst' AND finished_at IS NOT NULL",
        )
        .await;
        let done = scalar(
            &db.db,
            "SELECT COUNT(*) FROM wf_outbox WHERE status = 'done'",
        )
        .await;
        if finished == N && done == 2 * N {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stuck: {finished} finished, {done} actions done"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    shutdown.cancel();
    for h in handles {
        let _ = tokio::time::timeout(StdDuration::from_secs(5), h).await;
    }
    assert_eq!(effects.duplicates.load(Ordering::SeqCst), 0);
    assert_eq!(
        effects.runs.load(Ordering::SeqCst),
        2 * N as usize,
        "every action ran once"
    );
    assert!(effects.keys.lock().unwrap().values().all(|n| *n == 1));
    assert_eq!(
        scalar(&db.db, "SELECT COUNT(*) FROM t_effects").await,
        2 * N
    );
    for id in ids {
        let h = s1.history(id).await.unwrap();
        assert_eq!(
            h.iter().filter(|x| x.trigger_kind == "timer").count(),
            1,
            "timer fired once"
        );
        assert_eq!(s1.instance(id).await.unwrap().unwrap().state, "c");
    }
    db2.close().await;
}

// ---------------------------------------------------------------- 9. reads cannot write

#[tokio::test]
async fn the_read_pool_cannot_write() {
    let db = TestDb::new(&MIGRATIONS).await;
    let write = sqlx::query("CREATE TABLE t_read (a BIGINT)")
        .execute(db.db.read().pool())
        .await;
    assert!(write.is_err(), "a write through the read pool must fail");
    let insert = sqlx::query("UPDATE wf_definitions SET title = 'x'")
        .execute(db.db.pool())
        .await;
    assert!(insert.is_err(), "the compatibility pool() is the read pool");
    exec(&db.db, "CREATE TABLE t_read (a BIGINT)").await;
    assert_eq!(scalar(&db.db, "SELECT COUNT(*) FROM t_read").await, 0);
}
