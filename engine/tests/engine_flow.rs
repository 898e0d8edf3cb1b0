//! The engine on a real database (SQLite by default; PostgreSQL when
//! PODRYAD_TEST_DATABASE is a postgres:// URL): starting, tasks, timers,
//! the outbox, races, versions and migration.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::*;
use engine::queries::TaskFilter;
use engine::{Actor, Clock, Db, DbOptions, EngineError, StepError, UserRef, static_context};
use serde_json::{Value, json};

const APPROVAL: &str = r#"
id: approval
title: Согласование
object: request
data:
  reason: {type: text}
  amount: {type: money}
  counter: {type: integer, default: 0}
events: [bump]
initial: review
states:
  review:
    on_enter:
      - action: notify
        with: {to: "'manager'", text: "'Новая заявка ' ~ object.name"}
    on:
      - event: bump
        set: {counter: data.counter + 1}
    tasks:
      - id: check
        title: "Проверить заявку {{ object.name }}"
        roles: [manager]
        priority: high
        due: 2h
        form:
          - id: reason
            type: text
            validation: {min: 3}
          - id: amount
            type: money
            validation: {min: 100}
        outcomes:
          approve: {title: Одобрить, to: done, set: {amount: form.amount}}
          reject: {title: Отклонить, to: rejected, requires: [reason], set: {reason: form.reason}}
  done: {terminal: true}
  rejected: {terminal: true}
"#;

fn builder(db: &Db, calls: &Calls) -> engine::EngineBuilder {
    engine_builder(db, calls)
        .context(
            "request",
            static_context(json!({"name": "ООО «Ромашка»", "supplier_org": 7})),
        )
        .object_kind("order")
        .object_kind("supplier")
}

#[tokio::test]
async fn start_complete_task_reach_terminal() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;

    let started = engine
        .start("approval", obj("request", 10), Default::default(), Some(5))
        .await
        .unwrap();
    assert_eq!(started.state, "review");
    assert_eq!(started.opened_tasks.len(), 1);
    let task_id = started.opened_tasks[0];

    let inbox = engine
        .inbox(&manager(2), &TaskFilter::default())
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].title, "Проверить заявку ООО «Ромашка»");
    assert_eq!(inbox[0].priority, "high");
    assert_eq!(inbox[0].roles, vec!["manager".to_string()]);
    assert!(
        engine
            .inbox(&admin(3), &TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // Form errors come back as codes per field; nothing is stored.
    let err = engine
        .complete_task(
            task_id,
            "reject",
            data(json!({"reason": "no", "amount": "abc"})),
            &Actor::User(manager(2)),
        )
        .await
        .unwrap_err();
    let fe = err.form_errors().expect("form errors");
    assert_eq!(fe["reason"].code, "too_short");
    assert_eq!(fe["amount"].code, "not_money");
    let err = engine
        .complete_task(
            task_id,
            "reject",
            data(json!({"amount": "0,50"})),
            &Actor::User(manager(2)),
        )
        .await
        .unwrap_err();
    let fe = err.form_errors().unwrap();
    assert_eq!(fe["reason"].code, "required");
    assert_eq!(fe["amount"].code, "too_small");
    assert_eq!(fe["amount"].limit, Some(json!(100.0)));

    // Someone without the role may not do it.
    let err = engine
        .complete_task(
            task_id,
            "approve",
            Default::default(),
            &Actor::User(admin(3)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::NotAllowed("not_a_candidate")),
        "{err:?}"
    );

    let rep = engine
        .complete_task(
            task_id,
            "approve",
            data(json!({"amount": "1 500,50"})),
            &Actor::User(manager(2)),
        )
        .await
        .unwrap();
    assert_eq!(rep.state, "done");
    assert!(rep.finished);

    let inst = engine.instance(started.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.state, "done");
    assert_eq!(inst.data["amount"], json!(150_050));
    assert!(inst.finished_at.is_some());
    assert_eq!(inst.version, 2);

    let hist = engine.history(started.instance_id).await.unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].trigger_kind, "start");
    assert_eq!(hist[0].actor, Some(5));
    assert_eq!(hist[1].trigger_kind, "task");
    assert_eq!(hist[1].trigger_name.as_deref(), Some("check:approve"));
    assert_eq!(
        (hist[1].from_state.as_str(), hist[1].to_state.as_str()),
        ("review", "done")
    );
    assert_eq!(hist[1].actor, Some(2));
    assert_eq!(hist[1].data_change, json!({"amount": 150050}));

    let task = engine.task(task_id).await.unwrap().unwrap();
    assert_eq!(task.status, "done");
    assert_eq!(task.outcome.as_deref(), Some("approve"));
    assert_eq!(task.completed_by, Some(2));
    assert!(
        engine
            .inbox(&manager(2), &TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // A second completion is refused with a clear reason.
    let err = engine
        .complete_task(
            task_id,
            "reject",
            data(json!({"reason": "late"})),
            &Actor::System,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Step(StepError::TaskNotOpen(_))),
        "{err:?}"
    );

    // The entry action and the task notification ran from the outbox.
    engine.run_due_now().await.unwrap();
    let notify = calls.named("notify");
    assert_eq!(notify.len(), 1);
    assert_eq!(
        notify[0].3,
        json!({"to": "manager", "text": "Новая заявка ООО «Ромашка»"})
    );
    let created = calls.named("task.created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].3["task_id"], json!(task_id));
}

#[tokio::test]
async fn claim_unclaim_and_inbox_filters() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;
    let a = engine
        .start("approval", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let b = engine
        .start("approval", obj("request", 2), Default::default(), None)
        .await
        .unwrap();
    let (ta, tb) = (a.opened_tasks[0], b.opened_tasks[0]);

    engine.claim(ta, &manager(2)).await.unwrap();
    // Claimed tasks leave other candidates' inboxes.
    let other = engine
        .inbox(&manager(4), &TaskFilter::default())
        .await
        .unwrap();
    assert_eq!(other.iter().map(|t| t.id).collect::<Vec<_>>(), vec![tb]);
    assert!(matches!(
        engine.claim(ta, &manager(4)).await,
        Err(EngineError::NotAllowed("claimed_by_other"))
    ));
    assert!(matches!(
        engine
            .complete_task(ta, "approve", Default::default(), &Actor::User(manager(4)))
            .await,
        Err(EngineError::NotAllowed("claimed_by_other"))
    ));
    assert!(matches!(
        engine.unclaim(ta, &manager(4)).await,
        Err(EngineError::NotAllowed(_))
    ));

    let counts = engine
        .inbox_counts(&manager(2), &TaskFilter::default())
        .await
        .unwrap();
    assert_eq!((counts.total, counts.mine, counts.overdue), (2, 1, 0));
    assert_eq!(counts.by_definition["approval"], 2);

    // Overdue after the 2h SLA.
    clock.advance(Duration::hours(3));
    let overdue = engine
        .inbox(
            &manager(2),
            &TaskFilter {
                overdue_only: true,
                ..TaskFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(overdue.len(), 2);
    assert!(overdue.iter().all(|t| t.overdue));
    let found = engine
        .inbox(
            &manager(2),
            &TaskFilter {
                text: Some("РОМАШКА".into()),
                ..TaskFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "case-insensitive Cyrillic search");
    let none = engine
        .inbox(
            &manager(2),
            &TaskFilter {
                text: Some("лютик".into()),
                ..TaskFilter::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());

    engine.unclaim(ta, &manager(2)).await.unwrap();
    assert_eq!(
        engine
            .inbox(&manager(4), &TaskFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
    let form = engine.task_form(ta).await.unwrap().unwrap();
    assert_eq!(form.fields.len(), 2);
    let reject = form.outcomes.iter().find(|o| o.id == "reject").unwrap();
    assert_eq!(reject.required_fields, vec!["reason".to_string()]);
}

#[tokio::test]
async fn racing_task_completions_apply_exactly_once() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;
    let s = engine
        .start("approval", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let task = s.opened_tasks[0];
    let mut handles = Vec::new();
    for i in 0..6 {
        let e = engine.clone();
        handles.push(tokio::spawn(async move {
            let outcome = if i % 2 == 0 { "approve" } else { "reject" };
            e.complete_task(
                task,
                outcome,
                data(json!({"reason": "because"})),
                &Actor::System,
            )
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => ok += 1,
            Err(EngineError::Step(StepError::TaskNotOpen(_))) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.version, 2);
    assert_eq!(engine.history(s.instance_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn racing_events_are_each_applied_once_in_turn() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;
    let s = engine
        .start("approval", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let e = engine.clone();
        handles.push(tokio::spawn(async move {
            e.emit(s.instance_id, "bump", Value::Null, None).await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    // No update lost: each bump saw the previous one's counter.
    assert_eq!(inst.data["counter"], json!(8));
    assert_eq!(inst.version, 9);
    let steps: Vec<i64> = engine
        .history(s.instance_id)
        .await
        .unwrap()
        .iter()
        .map(|h| h.step)
        .collect();
    assert_eq!(steps, (1..=9).collect::<Vec<_>>());
}

#[tokio::test]
async fn ignored_and_strict_events() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;
    let s = engine
        .start("approval", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let rep = engine
        .emit(
            s.instance_id,
            "payment.received",
            json!({"sum": 1}),
            Some(9),
        )
        .await
        .unwrap();
    assert!(rep.ignored);
    let h = engine.history(s.instance_id).await.unwrap();
    assert_eq!(h.last().unwrap().details["ignored"], json!("not_accepted"));
    let err = engine
        .emit_strict(s.instance_id, "payment.received", Value::Null, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        EngineError::Step(StepError::NotAccepted { .. })
    ));
    assert_eq!(engine.history(s.instance_id).await.unwrap().len(), h.len());
}

#[tokio::test]
async fn start_and_emit_inside_the_callers_transaction() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;

    let mut tx = engine.db().begin().await.unwrap();
    let s = engine
        .start_in_tx(
            &mut tx,
            "approval",
            obj("request", 77),
            Default::default(),
            None,
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(engine.instance(s.instance_id).await.unwrap().is_none());
    assert!(
        engine
            .instances_for_object("request", 77)
            .await
            .unwrap()
            .is_empty()
    );

    let mut tx = engine.db().begin().await.unwrap();
    let s = engine
        .start_in_tx(
            &mut tx,
            "approval",
            obj("request", 77),
            Default::default(),
            None,
        )
        .await
        .unwrap();
    let reps = engine
        .emit_to_object_in_tx(&mut tx, "request", 77, "bump", Value::Null, None)
        .await
        .unwrap();
    assert_eq!(reps.len(), 1);
    tx.commit().await.unwrap();
    let all = engine.instances_for_object("request", 77).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, s.instance_id);
    assert_eq!(all[0].data["counter"], json!(1));
}

fn timers_yaml() -> String {
    std::fs::read_to_string(fixtures_dir().join("valid_timers.yaml")).unwrap()
}

#[tokio::test]
async fn at_timer_is_replanned_when_its_date_moves() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &timers_yaml()).await;
    let t0 = clock.now();
    let arrival = t0 + Duration::hours(5);
    let s = engine
        .start(
            "timers_demo",
            obj("order", 1),
            data(json!({"arrival_at": arrival.to_rfc3339()})),
            None,
        )
        .await
        .unwrap();
    let at =
        |ts: &[engine::queries::TimerView]| ts.iter().find(|t| t.kind == "at").map(|t| t.due_at);
    assert_eq!(
        at(&engine.timers(s.instance_id).await.unwrap()),
        Some(arrival - Duration::hours(1))
    );

    // The arrival moves two hours later: the reminder moves with it.
    let moved = arrival + Duration::hours(2);
    engine
        .emit(
            s.instance_id,
            "order.moved",
            json!({"arrival_at": moved.to_rfc3339()}),
            None,
        )
        .await
        .unwrap();
    let timers = engine.timers(s.instance_id).await.unwrap();
    assert_eq!(timers.iter().filter(|t| t.kind == "at").count(), 1);
    assert_eq!(at(&timers), Some(moved - Duration::hours(1)));

    // Nothing fires at the old time.
    clock.set(arrival - Duration::minutes(59));
    engine.run_due_now().await.unwrap();
    assert_eq!(
        engine.instance(s.instance_id).await.unwrap().unwrap().data["reminded"],
        json!(0)
    );

    clock.set(moved - Duration::minutes(59));
    let rep = engine.run_due_now().await.unwrap();
    assert!(rep.timers_fired >= 1);
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.data["reminded"], json!(1));
    assert_eq!(inst.state, "scheduled", "an internal transition stays");
    assert_eq!(calls.named("notify").len(), 1);
    assert!(
        at(&engine.timers(s.instance_id).await.unwrap()).is_none(),
        "fired once, not re-planned"
    );
}

#[tokio::test]
async fn cron_fires_on_weekdays_and_is_replanned() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &timers_yaml()).await;
    // Friday 5 June 2026, 10:00 Moscow.
    clock.set(monday_10() + Duration::days(4));
    let s = engine
        .start("timers_demo", obj("order", 2), Default::default(), None)
        .await
        .unwrap();
    let cron =
        |ts: &[engine::queries::TimerView]| ts.iter().find(|t| t.kind == "cron").map(|t| t.due_at);
    let monday_9 = monday_10() + Duration::days(7) - Duration::hours(1);
    assert_eq!(
        cron(&engine.timers(s.instance_id).await.unwrap()),
        Some(monday_9),
        "skips the weekend"
    );
    clock.set(monday_9 + Duration::seconds(1));
    engine.run_due_now().await.unwrap();
    assert_eq!(
        engine.instance(s.instance_id).await.unwrap().unwrap().data["ticks"],
        json!(1)
    );
    assert_eq!(
        cron(&engine.timers(s.instance_id).await.unwrap()),
        Some(monday_9 + Duration::days(1))
    );
}

#[tokio::test]
async fn when_guard_moves_automatically_and_terminal_clears_timers() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &timers_yaml()).await;
    let s = engine
        .start("timers_demo", obj("order", 3), Default::default(), None)
        .await
        .unwrap();
    assert!(!engine.timers(s.instance_id).await.unwrap().is_empty());
    let rep = engine
        .emit(s.instance_id, "order.paid", json!({"amount": 500}), None)
        .await
        .unwrap();
    assert_eq!(rep.state, "scheduled", "guard still false");
    let rep = engine
        .emit(s.instance_id, "order.paid", json!({"amount": 1500}), None)
        .await
        .unwrap();
    assert_eq!(rep.state, "paid");
    assert!(rep.finished);
    assert!(engine.timers(s.instance_id).await.unwrap().is_empty());
    let h = engine.history(s.instance_id).await.unwrap();
    let last_step = h.last().unwrap().step;
    let kinds: Vec<&str> = h
        .iter()
        .filter(|x| x.step == last_step)
        .map(|x| x.trigger_kind.as_str())
        .collect();
    assert_eq!(kinds, vec!["event", "auto"], "one step, two history lines");
}

#[tokio::test]
async fn after_timer_fires_after_its_delay() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &timers_yaml()).await;
    let s = engine
        .start("timers_demo", obj("order", 4), Default::default(), None)
        .await
        .unwrap();
    clock.advance(Duration::days(29));
    engine.run_due_now().await.unwrap();
    assert_eq!(
        engine.instance(s.instance_id).await.unwrap().unwrap().state,
        "scheduled"
    );
    clock.advance(Duration::days(1));
    engine.run_due_now().await.unwrap();
    assert_eq!(
        engine.instance(s.instance_id).await.unwrap().unwrap().state,
        "cancelled"
    );
}

const SLA: &str = r#"
id: sla
title: Ответ поставщика
object: request
data:
  supplier_org: {type: integer}
initial: waiting
states:
  waiting:
    tasks:
      - id: answer
        title: Ответить на запрос
        roles: [dispatcher]
        org: data.supplier_org
        reminders: {every: 1h}
        escalate: {after: 3h, to_role: owner}
        on_timeout: {after: 5h, outcome: expire}
        outcomes:
          answer: {title: Ответить, to: answered}
          expire: {title: Истекло, to: expired}
  answered: {terminal: true}
  expired: {terminal: true}
"#;

fn supplier_user(id: i64, org: i64, role: &str) -> UserRef {
    UserRef {
        id,
        org_id: org,
        home_org: false,
        roles: vec![role.into()],
    }
}

#[tokio::test]
async fn reminders_escalation_and_timeout_respect_the_organisation() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, SLA).await;
    let s = engine
        .start(
            "sla",
            obj("request", 1),
            data(json!({"supplier_org": 7})),
            None,
        )
        .await
        .unwrap();
    let task = s.opened_tasks[0];
    let f = TaskFilter::default();

    // Only the supplier's own dispatchers see it.
    assert_eq!(
        engine
            .inbox(&supplier_user(70, 7, "dispatcher"), &f)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        engine
            .inbox(&supplier_user(80, 8, "dispatcher"), &f)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        engine
            .inbox(
                &UserRef {
                    id: 2,
                    org_id: 1,
                    home_org: true,
                    roles: vec!["dispatcher".into()]
                },
                &f
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        engine
            .inbox(&supplier_user(71, 7, "owner"), &f)
            .await
            .unwrap()
            .is_empty()
    );

    for hour in 1..=2 {
        clock.advance(Duration::hours(1));
        engine.run_due_now().await.unwrap();
        let reminders = calls.named("task.remind");
        assert_eq!(reminders.len(), hour as usize);
        assert_eq!(reminders.last().unwrap().3["reminder"], json!(hour));
        assert_eq!(reminders.last().unwrap().3["task_id"], json!(task));
    }
    clock.advance(Duration::hours(1));
    engine.run_due_now().await.unwrap();
    assert_eq!(calls.named("task.escalated").len(), 1);
    assert_eq!(calls.named("task.escalated")[0].3["role"], json!("owner"));
    // The supplier's owner now sees it; another supplier's owner does not.
    assert_eq!(
        engine
            .inbox(&supplier_user(71, 7, "owner"), &f)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        engine
            .inbox(&supplier_user(81, 8, "owner"), &f)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        engine
            .task(task)
            .await
            .unwrap()
            .unwrap()
            .escalated_at
            .is_some()
    );

    clock.advance(Duration::hours(2));
    engine.run_due_now().await.unwrap();
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.state, "expired");
    let t = engine.task(task).await.unwrap().unwrap();
    assert_eq!(
        (t.status.as_str(), t.outcome.as_deref(), t.completed_by),
        ("done", Some("expire"), None)
    );
    assert!(
        engine.timers(s.instance_id).await.unwrap().is_empty(),
        "reminders stop when the task is done"
    );
    assert_eq!(calls.named("task.remind").len(), 4);
}

const OUTBOX: &str = r#"
id: outbox
title: Отправка
object: request
data:
  result: {type: json}
  error: {type: text}
initial: sending
states:
  sending:
    on_enter:
      - action: ACTION
        with: {n: 1}
    on:
      - event: ACTION.done
        to: sent
        set: {result: event}
      - event: ACTION.failed
        to: failed
        set: {error: event.error}
  sent: {terminal: true}
  failed: {terminal: true}
"#;

#[tokio::test]
async fn outbox_success_feeds_the_result_back() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &OUTBOX.replace("ACTION", "send_rfq")).await;
    let s = engine
        .start("outbox", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    engine.run_due_now().await.unwrap();
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.state, "sent");
    let key = format!("wf-{}-1-0", s.instance_id);
    assert_eq!(inst.data["result"], json!({"ok": true, "key": key}));
    let runs = calls.named("send_rfq");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].1, key);
    let actions = engine.actions(s.instance_id).await.unwrap();
    assert_eq!(actions[0].status, "done");
    assert_eq!(actions[0].attempts, 1);
}

#[tokio::test]
async fn outbox_retries_with_backoff_then_fails_with_a_stable_key() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &OUTBOX.replace("ACTION", "flaky")).await;
    let s = engine
        .start("outbox", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let t0 = clock.now();

    engine.run_due_now().await.unwrap();
    let a = &engine.actions(s.instance_id).await.unwrap()[0];
    assert_eq!((a.status.as_str(), a.attempts), ("pending", 1));
    assert_eq!(a.next_attempt_at, t0 + Duration::seconds(10));
    assert_eq!(a.last_error.as_deref(), Some("try again (attempt 1)"));

    clock.advance(Duration::seconds(9));
    assert_eq!(
        engine.run_due_now().await.unwrap().actions_run,
        0,
        "not before the backoff"
    );
    clock.advance(Duration::seconds(1));
    engine.run_due_now().await.unwrap();
    let a = &engine.actions(s.instance_id).await.unwrap()[0];
    assert_eq!(a.attempts, 2);
    assert_eq!(
        a.next_attempt_at,
        t0 + Duration::seconds(10 + 20),
        "doubles"
    );

    clock.advance(Duration::seconds(20));
    engine.run_due_now().await.unwrap();
    let a = &engine.actions(s.instance_id).await.unwrap()[0];
    assert_eq!((a.status.as_str(), a.attempts), ("failed", 3));
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.state, "failed");
    assert_eq!(inst.data["error"], json!("try again (attempt 3)"));

    let runs = calls.named("flaky");
    assert_eq!(runs.iter().map(|r| r.2).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(
        runs.iter().all(|r| r.1 == runs[0].1),
        "same idempotency key on every attempt"
    );
}

#[tokio::test]
async fn outbox_fail_is_final_at_once() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &OUTBOX.replace("ACTION", "broken")).await;
    let s = engine
        .start("outbox", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    engine.run_due_now().await.unwrap();
    assert_eq!(calls.named("broken").len(), 1);
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.state, "failed");
    assert_eq!(inst.data["error"], json!("refused"));
}

#[tokio::test]
async fn expired_lease_is_taken_over_with_the_same_key() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &OUTBOX.replace("ACTION", "send_rfq")).await;
    let s = engine
        .start("outbox", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    // A worker claims the job and "crashes" before finishing it.
    let jobs: Vec<_> = engine
        .claim_jobs(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.action == "send_rfq")
        .collect();
    assert_eq!(jobs.len(), 1);
    assert_eq!(engine.run_due_now().await.unwrap().actions_run, 0, "leased");
    clock.advance(Duration::minutes(6));
    engine.run_due_now().await.unwrap();
    let runs = calls.named("send_rfq");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].1.as_str(), runs[0].2),
        (jobs[0].idempotency_key.as_str(), 2)
    );
    // The crashed worker's late completion is discarded.
    engine.run_job(jobs[0].clone()).await.unwrap();
    assert_eq!(
        engine
            .instance(s.instance_id)
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

#[tokio::test]
async fn two_timer_workers_fire_each_timer_once() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, &timers_yaml()).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            engine
                .start("timers_demo", obj("order", i), Default::default(), None)
                .await
                .unwrap()
                .instance_id,
        );
    }
    // A second "process": its own connection pools on the same database.
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
    let engine2 = builder(&db2, &calls).build();
    clock.advance(Duration::days(30));
    let (a, b) = tokio::join!(engine.fire_due_timers(1000), engine2.fire_due_timers(1000));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a + b,
        40 + 40,
        "each instance: one `after` and one `cron` timer, each once"
    );
    for id in ids {
        let h = engine.history(id).await.unwrap();
        assert_eq!(
            h.iter()
                .filter(|x| x.trigger_name.as_deref() == Some("s:scheduled:6"))
                .count(),
            1
        );
        assert_eq!(
            engine.instance(id).await.unwrap().unwrap().state,
            "cancelled"
        );
    }
}

const V1: &str = r#"
id: flow
title: Поток
object: order
initial: a
states:
  a:
    tasks:
      - id: work
        title: Работа
        roles: [operator]
        outcomes: {next: {title: Дальше, to: b}}
  b:
    on:
      - event: finish
        to: c
  c: {terminal: true}
events: [finish]
"#;

const V2: &str = r#"
id: flow
title: Поток v2
object: order
initial: a
states:
  a:
    tasks:
      - id: work
        title: Работа (v2)
        roles: [operator]
        outcomes: {next: {title: Дальше, to: review}}
  review:
    tasks:
      - id: check
        title: Проверка
        roles: [manager]
        outcomes: {ok: {title: Ок, to: c}}
    on:
      - after: 1h
        to: c
  c: {terminal: true}
"#;

#[tokio::test]
async fn versions_pin_instances_and_migration_is_validated() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    let v1 = install(&engine, V1).await;
    let i1 = engine
        .start("flow", obj("order", 1), Default::default(), None)
        .await
        .unwrap();
    let i2 = engine
        .start("flow", obj("order", 2), Default::default(), None)
        .await
        .unwrap();
    engine
        .complete_task(
            i2.opened_tasks[0],
            "next",
            Default::default(),
            &Actor::System,
        )
        .await
        .unwrap();
    engine
        .claim(
            i1.opened_tasks[0],
            &UserRef {
                id: 9,
                org_id: 1,
                home_org: true,
                roles: vec!["operator".into()],
            },
        )
        .await
        .unwrap();

    let v2 = install(&engine, V2).await;
    assert_ne!(v1, v2);
    let i3 = engine
        .start("flow", obj("order", 3), Default::default(), None)
        .await
        .unwrap();
    assert_eq!(i3.definition_id, v2, "new instances use the active version");
    assert_eq!(
        engine
            .instance(i1.instance_id)
            .await
            .unwrap()
            .unwrap()
            .definition_id,
        v1,
        "running ones keep theirs"
    );
    let versions = engine.list_versions("flow").await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.status.as_str()))
            .collect::<Vec<_>>(),
        vec![(2, "active"), (1, "inactive")]
    );
    assert_eq!(versions[0].activated_by, Some(1));

    // i2 is in `b`, which v2 does not have: refused, nothing moves.
    let err = engine
        .migrate_instances("flow", &[1], 2, &BTreeMap::new(), Some(1))
        .await
        .unwrap_err();
    match err {
        EngineError::Migration(p) => assert!(p[0].contains("состоянии «b»"), "{p:?}"),
        e => panic!("{e:?}"),
    }
    let err = engine
        .migrate_instances(
            "flow",
            &[1],
            2,
            &BTreeMap::from([("b".to_string(), "nowhere".to_string())]),
            Some(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Migration(_)));
    assert_eq!(
        engine
            .instance(i1.instance_id)
            .await
            .unwrap()
            .unwrap()
            .definition_id,
        v1
    );

    let rep = engine
        .migrate_instances(
            "flow",
            &[1],
            2,
            &BTreeMap::from([("b".to_string(), "review".to_string())]),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(rep.moved, 2);
    let m1 = engine.instance(i1.instance_id).await.unwrap().unwrap();
    assert_eq!((m1.definition_id, m1.state.as_str()), (v2, "a"));
    let t1 = engine.instance_tasks(i1.instance_id, false).await.unwrap();
    assert_eq!(t1.len(), 1);
    assert_eq!(t1[0].title, "Работа (v2)");
    assert_eq!(t1[0].claimed_by, Some(9), "the claim survives");
    let m2 = engine.instance(i2.instance_id).await.unwrap().unwrap();
    assert_eq!(m2.state, "review");
    assert_eq!(
        engine.instance_tasks(i2.instance_id, false).await.unwrap()[0].task_key,
        "check"
    );
    assert_eq!(
        engine.timers(i2.instance_id).await.unwrap().len(),
        1,
        "timers of the new state planned"
    );
    let h = engine.history(i2.instance_id).await.unwrap();
    let last = h.last().unwrap();
    assert_eq!(
        (
            last.trigger_kind.as_str(),
            last.from_state.as_str(),
            last.to_state.as_str()
        ),
        ("migrate", "b", "review")
    );
    assert_eq!(last.actor, Some(1));

    let g = engine.graph(v2).await.unwrap();
    assert_eq!(
        g.states
            .iter()
            .find(|s| s.name == "review")
            .unwrap()
            .instances,
        1
    );
    assert_eq!(
        g.states.iter().find(|s| s.name == "a").unwrap().instances,
        2
    );
    assert!(g.edges.iter().any(|e| e.from == "review"
        && e.to == "c"
        && e.kind == "after"
        && e.label == "1h"
        && !e.titled));
}

#[tokio::test]
async fn loading_files_keeps_a_browser_edit_until_the_file_changes() {
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.yaml"), V1).unwrap();
    let first = engine.load_dir(dir.path(), None).await.unwrap();
    assert_eq!(first[0].action, engine::versions::LoadAction::Activated);
    let again = engine.load_dir(dir.path(), None).await.unwrap();
    assert_eq!(again[0].action, engine::versions::LoadAction::Unchanged);

    // An analyst edits in the browser and activates.
    let edited = V1.replace("title: Поток", "title: Поток (правка)");
    let draft = engine.save_draft(&edited, Some(42)).await.unwrap();
    assert_eq!(draft.status, "draft");
    engine.activate(draft.id, Some(42)).await.unwrap();
    // A restart with the unchanged file keeps the edit.
    let again = engine.load_dir(dir.path(), None).await.unwrap();
    assert_eq!(again[0].action, engine::versions::LoadAction::Unchanged);
    let defs = engine.list_definitions().await.unwrap();
    assert_eq!(defs[0].active.as_ref().unwrap().title, "Поток (правка)");
    // A changed file wins.
    std::fs::write(dir.path().join("flow.yaml"), V2).unwrap();
    let changed = engine.load_dir(dir.path(), None).await.unwrap();
    assert_eq!(changed[0].action, engine::versions::LoadAction::Activated);
    assert_eq!(changed[0].version, 3);
    // Invalid text is refused with diagnostics and stores nothing.
    let err = engine
        .save_draft("id: flow\ntitle: x\n", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("definition.yaml:"), "{err}");
    assert_eq!(engine.list_versions("flow").await.unwrap().len(), 3);
}

#[tokio::test]
async fn concurrent_steps_on_many_instances_are_all_stored() {
    // Many callers at once: on SQLite their steps are stored in shared
    // batches; every step must land once, with its history and its effects.
    let (db, _clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    install(&engine, APPROVAL).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            engine
                .start("approval", obj("request", i), Default::default(), None)
                .await
                .unwrap(),
        );
    }
    let mut handles = Vec::new();
    for s in &ids {
        for _ in 0..10 {
            let e = engine.clone();
            let id = s.instance_id;
            handles.push(tokio::spawn(async move {
                e.emit(id, "bump", Value::Null, None).await.map(|_| ())
            }));
        }
    }
    // Task completions (with actions and closed tasks) mixed into the same batches.
    for s in &ids[..3] {
        let e = engine.clone();
        let task = s.opened_tasks[0];
        handles.push(tokio::spawn(async move {
            e.complete_task(
                task,
                "approve",
                data(json!({"amount": "200"})),
                &Actor::System,
            )
            .await
            .map(|_| ())
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    for (n, s) in ids.iter().enumerate() {
        let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
        let h = engine.history(s.instance_id).await.unwrap();
        let bumps = h
            .iter()
            .filter(|x| x.trigger_name.as_deref() == Some("bump"))
            .collect::<Vec<_>>();
        assert_eq!(bumps.len(), 10);
        if n < 3 {
            assert_eq!(inst.state, "done");
            // Bumps after the task moved the instance to a terminal state are ignored.
            let applied = bumps
                .iter()
                .filter(|b| b.details.get("ignored").is_none())
                .count() as i64;
            assert_eq!(inst.data["counter"], json!(applied));
        } else {
            assert_eq!(inst.state, "review");
            assert_eq!(inst.data["counter"], json!(10));
        }
        assert_eq!(
            inst.version,
            h.len() as i64,
            "one history line per step here"
        );
        let steps: Vec<i64> = h.iter().map(|x| x.step).collect();
        assert_eq!(steps, (1..=inst.version).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_workers_run_actions_and_timers_and_stop() {
    // Real time: the workers sleep until due and wake on commits.
    let db = engine::testing::TestDb::new(&MIGRATIONS).await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    let yaml = r#"
id: live
title: Живой
object: request
initial: a
states:
  a:
    on_enter: [{action: send_rfq}]
    on:
      - event: send_rfq.done
        to: b
  b:
    on:
      - after: 1s
        to: c
  c: {terminal: true}
"#;
    install(&engine, yaml).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let handles = engine.spawn_workers(shutdown.clone());
    let s = engine
        .start("live", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
        if inst.state == "c" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stuck in {}",
            inst.state
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(calls.named("send_rfq").len(), 1);
    shutdown.cancel();
    for h in handles {
        tokio::time::timeout(std::time::Duration::from_secs(5), h)
            .await
            .expect("workers stop on shutdown")
            .unwrap();
    }
}

#[tokio::test]
async fn a_broken_timer_step_is_recorded_and_does_not_block_others() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = builder(&db.db, &calls).build();
    let yaml = r#"
id: broken
title: Сломанный
object: request
data:
  n: {type: integer, default: 1}
initial: a
states:
  a:
    on:
      - after: 1h
        if: "data.n | before('1h')"
        to: b
      - after: 2h
        to: b
  b: {terminal: true}
"#;
    install(&engine, yaml).await;
    let s = engine
        .start("broken", obj("request", 1), Default::default(), None)
        .await
        .unwrap();
    clock.advance(Duration::hours(1));
    engine.run_due_now().await.unwrap();
    let h = engine.history(s.instance_id).await.unwrap();
    let last = h.last().unwrap();
    assert_eq!(last.trigger_kind, "error");
    assert!(
        last.details["error"].as_str().unwrap().contains("RFC 3339"),
        "{:?}",
        last.details
    );
    assert_eq!(engine.timers(s.instance_id).await.unwrap().len(), 1);
    clock.advance(Duration::hours(1));
    engine.run_due_now().await.unwrap();
    assert_eq!(
        engine.instance(s.instance_id).await.unwrap().unwrap().state,
        "b"
    );
}
