//! What the engine's work costs the database, counted on a counted `Db`
//! (`Db::connect_counted`): idle workers write nothing, claiming is one
//! write, a task step is one write transaction.

mod common;

use std::time::Duration;

use common::*;
use engine::testing::TestDb;
use engine::{Db, DbOptions, EngineConfig, UserRef};
use serde_json::json;

const TWO_TASKS: &str = r#"
id: costs
title: Costs
object: order
initial: first
states:
  first:
    tasks:
      - id: one
        title: One
        roles: [manager]
        due: {after: 1h}
        reminders: {every: 30m}
        escalate: {after: 2h, to_role: admin}
        outcomes:
          next: {title: Next, to: second}
  second:
    tasks:
      - id: two
        title: Two
        roles: [manager]
        due: {after: 1h}
        outcomes:
          done: {title: Done, to: done}
  done:
    terminal: true
"#;

async fn counted(t: &TestDb) -> Db {
    Db::connect_counted(
        &t.url,
        &DbOptions {
            max_connections: 4,
            ..DbOptions::default()
        },
    )
    .await
    .expect("a counted connection")
}

fn writes(db: &Db) -> u64 {
    db.counter().expect("counted").write_transactions()
}

fn manager() -> UserRef {
    UserRef {
        id: 7,
        org_id: 1,
        home_org: true,
        roles: vec!["manager".into()],
    }
}

#[tokio::test]
async fn idle_workers_and_far_timers_cost_no_write_transaction() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = counted(&t).await;
    let calls = Calls::default();
    let engine = engine_builder(&db, &calls)
        .object_kind("order")
        .config(EngineConfig {
            poll_interval: Duration::from_millis(20),
            ..EngineConfig::default()
        })
        .build();
    install(&engine, TWO_TASKS).await;
    let started = engine
        .start("costs", obj("order", 1), data(json!({})), None)
        .await
        .expect("start");
    assert_eq!(started.opened_tasks.len(), 1);
    // The task's notification is an outbox action here: run it first.
    engine.run_due_now().await.expect("due work runs");

    let before = writes(&db);
    let shutdown = engine::CancellationToken::new();
    let workers = engine.spawn_workers(shutdown.clone());
    // Many polls (every 20 ms), and wakes: nothing is due for an hour.
    for _ in 0..10 {
        engine.wake_workers();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    shutdown.cancel();
    for w in workers {
        w.await.expect("worker stops");
    }
    assert_eq!(
        writes(&db) - before,
        0,
        "workers with nothing due open no write transaction (they read when the next work is due)"
    );
}

#[tokio::test]
async fn claiming_is_one_write_and_a_task_step_one_transaction() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = counted(&t).await;
    let calls = Calls::default();
    let engine = engine_builder(&db, &calls).object_kind("order").build();
    install(&engine, TWO_TASKS).await;
    let started = engine
        .start("costs", obj("order", 1), data(json!({})), None)
        .await
        .expect("start");
    let task = started.opened_tasks[0];
    let me = manager();

    let view = engine.task(task).await.unwrap().expect("the task");
    assert!(view.can_act(&me), "a manager may do it");
    assert!(engine.can_act(task, &me).await.unwrap());
    let driver = UserRef {
        id: 10,
        roles: vec!["driver".into()],
        ..manager()
    };
    assert!(!view.can_act(&driver), "a driver may not");
    assert!(!engine.can_act(task, &driver).await.unwrap());

    let before = writes(&db);
    engine.claim(task, &me).await.expect("claim");
    assert_eq!(writes(&db) - before, 1, "a claim is one write");
    // Claiming again is answered without writing anything new to the task.
    let before = writes(&db);
    engine
        .claim(task, &me)
        .await
        .expect("claimed already: fine");
    assert_eq!(writes(&db) - before, 1, "one attempted write, then a read");
    let other = UserRef { id: 8, ..manager() };
    let view = engine.task(task).await.unwrap().expect("the task");
    assert!(
        view.can_act(&me) && !view.can_act(&other),
        "claimed: the claimer's"
    );
    assert!(matches!(
        engine.claim(task, &other).await,
        Err(engine::EngineError::NotAllowed("claimed_by_other"))
    ));
    let outsider = UserRef {
        id: 9,
        roles: vec!["driver".into()],
        ..manager()
    };
    let second_task = {
        let s = engine
            .start("costs", obj("order", 2), data(json!({})), None)
            .await
            .expect("start");
        s.opened_tasks[0]
    };
    assert!(matches!(
        engine.claim(second_task, &outsider).await,
        Err(engine::EngineError::NotAllowed("not_a_candidate"))
    ));
    assert!(matches!(
        engine.claim(999_999, &me).await,
        Err(engine::EngineError::TaskNotFound(999_999))
    ));

    let before = writes(&db);
    let step = engine
        .complete_task(
            task,
            "next",
            Default::default(),
            &engine::Actor::User(me.clone()),
        )
        .await
        .expect("complete");
    assert_eq!(step.state, "second");
    assert_eq!(
        writes(&db) - before,
        1,
        "closing a task, opening the next with its roles and timers: one transaction"
    );
    let task = engine.task(step.opened_tasks[0]).await.unwrap().unwrap();
    assert_eq!(task.roles, vec!["manager".to_string()]);
}
