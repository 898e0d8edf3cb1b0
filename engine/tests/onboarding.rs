//! The supplier onboarding workflow (workflows/supplier_onboarding.yaml),
//! end to end: verification, reminder after one working day, escalation to
//! admins after three, a round of changes, rejection with a required reason.

mod common;

use chrono::Duration;
use common::*;
use engine::queries::TaskFilter;
use engine::{Actor, Clock};
use serde_json::{Value, json};

#[tokio::test]
async fn supplier_onboarding_end_to_end() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("supplier")
        .build();
    let dir = onboarding_dir();
    let loaded = engine.load_dir(dir.path(), Some(1)).await.unwrap();
    assert!(loaded.iter().any(|l| l.key == "supplier_onboarding"));

    let start = clock.now();
    let s = engine
        .start(
            "supplier_onboarding",
            obj("supplier", 501),
            data(json!({"company_name": "ООО «Колесо»", "inn": "7701234567"})),
            Some(900),
        )
        .await
        .unwrap();
    assert_eq!(s.state, "verification");
    let inbox = engine
        .inbox(&manager(2), &TaskFilter::default())
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].title,
        "Проверить заявку поставщика «ООО «Колесо»» (ИНН 7701234567)"
    );
    // SLA: one working day (Monday 10:00 → Tuesday 10:00).
    assert_eq!(inbox[0].due_at, Some(start + Duration::days(1)));
    assert!(
        engine
            .inbox(&admin(3), &TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // Tuesday 10:00: the first reminder.
    clock.set(start + Duration::days(1) + Duration::minutes(1));
    engine.run_due_now().await.unwrap();
    assert_eq!(calls.named("task.remind").len(), 1);
    assert!(
        engine
            .inbox(&manager(2), &TaskFilter::default())
            .await
            .unwrap()[0]
            .overdue
    );

    // Thursday 10:00: three working days, the admins see it too.
    clock.set(start + Duration::days(3) + Duration::minutes(1));
    engine.run_due_now().await.unwrap();
    assert_eq!(calls.named("task.escalated").len(), 1);
    // The next reminder counts from when the last one went out: no burst after downtime.
    assert_eq!(calls.named("task.remind").len(), 2);
    let admin_inbox = engine
        .inbox(&admin(3), &TaskFilter::default())
        .await
        .unwrap();
    assert_eq!(admin_inbox.len(), 1);

    // The admin asks for changes; the comment is required.
    let task = admin_inbox[0].id;
    let err = engine
        .complete_task(
            task,
            "ask_changes",
            Default::default(),
            &Actor::User(admin(3)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.form_errors().unwrap()["comment"].code, "required");
    let rep = engine
        .complete_task(
            task,
            "ask_changes",
            data(json!({"comment": "Приложите выписку ЕГРЮЛ"})),
            &Actor::User(admin(3)),
        )
        .await
        .unwrap();
    assert_eq!(rep.state, "changes_requested");
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(
        inst.data["changes_comment"],
        json!("Приложите выписку ЕГРЮЛ")
    );
    assert_eq!(inst.data["rounds"], json!(1));
    assert!(
        engine
            .timers(s.instance_id)
            .await
            .unwrap()
            .iter()
            .all(|t| t.kind == "after"),
        "task timers gone"
    );

    // The supplier resubmits with a corrected name: back to verification, a fresh task.
    let rep = engine
        .emit(
            s.instance_id,
            "application.resubmitted",
            json!({"company_name": "ООО «Колесо-М»"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(rep.state, "verification");
    assert_eq!(rep.opened_tasks.len(), 1);
    let t2 = engine.task(rep.opened_tasks[0]).await.unwrap().unwrap();
    assert!(t2.title.contains("Колесо-М"));
    assert!(
        engine
            .inbox(&admin(3), &TaskFilter::default())
            .await
            .unwrap()
            .is_empty(),
        "not escalated yet"
    );

    // A rejection needs a reason.
    let err = engine
        .complete_task(
            t2.id,
            "reject",
            data(json!({"reason": ""})),
            &Actor::User(manager(2)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.form_errors().unwrap()["reason"].code, "required");
    let rep = engine
        .complete_task(
            t2.id,
            "reject",
            data(json!({"reason": "Нет лицензии"})),
            &Actor::User(manager(2)),
        )
        .await
        .unwrap();
    assert_eq!(rep.state, "rejected");
    assert!(rep.finished);
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.data["reject_reason"], json!("Нет лицензии"));
    assert_eq!(inst.data["decided_by"], json!(2));
    assert!(engine.timers(s.instance_id).await.unwrap().is_empty());
    assert!(
        engine
            .instance_tasks(s.instance_id, false)
            .await
            .unwrap()
            .is_empty()
    );

    // The supplier's status follows the workflow (the domain's action).
    engine.run_due_now().await.unwrap();
    let statuses: Vec<(Value, Value)> = calls
        .named("supplier.set_status")
        .iter()
        .map(|c| {
            (
                c.3["status"].clone(),
                c.3.get("reason").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (json!("pending"), Value::Null),
            (json!("changes_requested"), json!("Приложите выписку ЕГРЮЛ")),
            (json!("pending"), Value::Null),
            (json!("rejected"), json!("Нет лицензии")),
        ]
    );

    let h = engine.history(s.instance_id).await.unwrap();
    let path: Vec<(&str, &str)> = h
        .iter()
        .filter(|x| x.from_state != x.to_state || x.trigger_kind == "start")
        .map(|x| (x.trigger_kind.as_str(), x.to_state.as_str()))
        .collect();
    assert_eq!(
        path,
        vec![
            ("start", "verification"),
            ("task", "changes_requested"),
            ("event", "verification"),
            ("task", "rejected")
        ]
    );
    let c = counts(&h);
    assert_eq!(c["timer"], 3, "two reminders and one escalation");

    let g = engine.graph(s.definition_id).await.unwrap();
    assert_eq!(g.states.len(), 4);
    assert_eq!(
        g.states.iter().find(|x| x.name == "approved").unwrap().rank,
        1
    );
}

#[tokio::test]
async fn unanswered_changes_are_rejected_after_30_days() {
    let (db, clock) = clocked_db().await;
    let calls = Calls::default();
    let engine = engine_builder(&db.db, &calls)
        .object_kind("supplier")
        .build();
    let dir = onboarding_dir();
    engine.load_dir(dir.path(), None).await.unwrap();
    let s = engine
        .start(
            "supplier_onboarding",
            obj("supplier", 1),
            data(json!({"company_name": "ИП Петров"})),
            None,
        )
        .await
        .unwrap();
    engine
        .complete_task(
            s.opened_tasks[0],
            "ask_changes",
            data(json!({"comment": "Нет ОГРНИП"})),
            &Actor::System,
        )
        .await
        .unwrap();
    clock.advance(Duration::days(30));
    engine.run_due_now().await.unwrap();
    let inst = engine.instance(s.instance_id).await.unwrap().unwrap();
    assert_eq!(inst.state, "rejected");
    assert_eq!(
        inst.data["reject_reason"],
        json!("Поставщик не исправил заявку за 30 дней")
    );
}
