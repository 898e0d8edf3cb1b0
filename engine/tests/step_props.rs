//! Property tests of the pure core: random sequences of triggers applied to
//! an in-memory instance must keep the engine's invariants.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use common::{monday_10, vocabulary};
use engine::model::Definition;
use engine::step::{Snapshot, StepContext, StepError, TimerKind, Trigger, step};
use engine::{ObjectRef, compile};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const PROPS: &str = r#"
id: props
title: Свойства
object: thing
data:
  n: {type: integer, default: 0}
  flag: {type: boolean, default: false}
  at: {type: datetime}
  note: {type: text}
events: [go, back, inc, toggle, set_at, finish]
initial: a
states:
  a:
    on_enter: [{action: notify, with: {text: "'enter a'"}}]
    on_exit: [{action: notify, with: {text: "'exit a'"}}]
    tasks:
      - id: t1
        title: "T1 {{ data.n }}"
        roles: [manager]
        due: 1h
        reminders: {every: 1h}
        escalate: {after: 2h, to_role: admin}
        on_timeout: {after: 5h, outcome: skip}
        form:
          - id: x
            type: integer
            validation: {min: 0, max: 10}
        outcomes:
          ok: {title: OK, to: b, requires: [x], set: {n: form.x}}
          skip: {title: Skip, to: c}
          again: {title: Again, to: a, set: {n: data.n + 1}}
      - id: t2
        title: T2
        roles: [operator]
        outcomes:
          done: {title: Done, to: b}
    on:
      - event: inc
        set: {n: data.n + 1}
      - event: toggle
        set: {flag: not data.flag}
      - event: set_at
        set: {at: event.at}
      - at: "data.at | before('1h')"
        set: {note: "'reminded'"}
      - when: "data.n >= 5"
        to: b
      - event: finish
        to: done
  b:
    on:
      - event: back
        to: a
      - after: 3h
        to: c
      - cron: "0 9 * * Mon-Fri"
        set: {n: data.n + 1}
      - event: go
        if: data.flag
        to: c
      - event: inc
        set: {n: data.n + 1}
      - event: toggle
        set: {flag: not data.flag}
      - when: "data.n >= 100"
        to: done
  c:
    on:
      - when: "data.flag"
        to: d
      - event: back
        to: a
      - event: toggle
        set: {flag: not data.flag}
      - event: finish
        to: done
  d:
    on:
      - when: "not data.flag"
        to: c
      - event: toggle
        set: {flag: not data.flag}
      - event: finish
        to: done
  done:
    terminal: true
"#;

const EVENTS: [&str; 7] = [
    "go",
    "back",
    "inc",
    "toggle",
    "set_at",
    "finish",
    "unheard.of",
];

#[derive(Debug, Clone)]
enum Op {
    Event(usize, Option<i64>),
    Complete(usize, usize, Option<i64>),
    Fire(usize),
    Recheck,
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..EVENTS.len(), proptest::option::of(-300i64..600)).prop_map(|(e, m)| Op::Event(e, m)),
        3 => (0usize..4, 0usize..4, proptest::option::of(-3i64..15)).prop_map(|(t, o, x)| Op::Complete(t, o, x)),
        3 => (0usize..8).prop_map(Op::Fire),
        1 => Just(Op::Recheck),
        2 => (1i64..600).prop_map(Op::Advance),
    ]
}

fn definition() -> Definition {
    compile(PROPS, "props.yaml", &vocabulary()).unwrap_or_else(|d| panic!("{d:?}"))
}

fn trigger_for(op: &Op, snap: &Snapshot, def: &Definition, now: DateTime<Utc>) -> Option<Trigger> {
    Some(match op {
        Op::Event(i, minutes) => {
            let payload = match minutes {
                Some(m) => json!({"at": (now + Duration::minutes(*m)).to_rfc3339()}),
                None => Value::Null,
            };
            Trigger::Event {
                name: EVENTS[*i].into(),
                payload,
                actor: Some(7),
            }
        }
        Op::Complete(t, o, x) => {
            let task = snap.tasks.get(t % snap.tasks.len().max(1))?;
            let outcomes: Vec<String> = def
                .state(&snap.state)
                .and_then(|s| s.task(&task.key))
                .map(|td| td.outcomes.iter().map(|o| o.id.clone()).collect())
                .unwrap_or_default();
            let outcome = outcomes
                .get(o % outcomes.len().max(1))
                .cloned()
                .unwrap_or_else(|| "nope".into());
            let mut form = Map::new();
            if let Some(x) = x {
                form.insert("x".into(), json!(x));
            }
            Trigger::TaskOutcome {
                task_id: task.id,
                outcome,
                form,
                actor: Some(3),
            }
        }
        Op::Fire(i) => {
            let mut due: Vec<_> = snap.timers.clone();
            due.sort_by_key(|t| t.due_at);
            let t = due.get(i % due.len().max(1))?;
            let payload = if t.kind == TimerKind::Remind {
                json!({"n": 1})
            } else {
                Value::Null
            };
            Trigger::Timer {
                id: t.id,
                kind: t.kind,
                key: t.key.clone(),
                payload,
            }
        }
        Op::Recheck => Trigger::Recheck,
        Op::Advance(_) => return None,
    })
}

fn check_invariants(def: &Definition, snap: &Snapshot) -> Result<(), TestCaseError> {
    let state = def.state(&snap.state).expect("state exists");
    if state.terminal {
        prop_assert!(snap.finished);
        prop_assert!(
            snap.tasks.is_empty(),
            "terminal state with open tasks: {:?}",
            snap.tasks
        );
        prop_assert!(
            snap.timers.is_empty(),
            "terminal state with timers: {:?}",
            snap.timers
        );
    }
    for t in &snap.tasks {
        prop_assert_eq!(
            &t.state,
            &snap.state,
            "a task of another state is still open"
        );
        prop_assert!(state.task(&t.key).is_some());
    }
    let keys: BTreeSet<&str> = snap.tasks.iter().map(|t| t.key.as_str()).collect();
    prop_assert_eq!(keys.len(), snap.tasks.len(), "one open task per key");
    let mut timer_keys = BTreeSet::new();
    for t in &snap.timers {
        prop_assert!(
            timer_keys.insert(t.key.clone()),
            "duplicate timer key {}",
            t.key
        );
        if let Some(rest) = t.key.strip_prefix("s:") {
            prop_assert!(
                rest.starts_with(&format!("{}:", snap.state)),
                "timer {} outlived its state {}",
                t.key,
                snap.state
            );
        } else {
            let task = t
                .key
                .strip_prefix("t:")
                .and_then(|r| r.rsplit_once(':'))
                .map(|x| x.0)
                .unwrap_or("");
            prop_assert!(keys.contains(task), "timer {} of a closed task", t.key);
        }
    }
    for k in snap.data.keys() {
        prop_assert!(def.field(k).is_some(), "undeclared data field {k}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn step_keeps_its_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let def = definition();
        let mut now = monday_10();
        let mut next_id = 100;
        let mut ids = || { next_id += 1; next_id };
        let ctx = StepContext::default();
        let mut snap = Snapshot::new_instance(1, ObjectRef { kind: "thing".into(), id: 1 });
        let start = Trigger::Start { data: Map::new(), actor: Some(1) };
        let o = step(&def, &snap, &start, &ctx, now).unwrap();
        prop_assert_eq!(o.version, 1);
        snap.apply(&o, &mut ids);
        check_invariants(&def, &snap)?;
        let mut keys = BTreeSet::new();
        for a in &o.actions {
            prop_assert!(keys.insert(o.idempotency_key(snap.id, a.index)));
        }

        for op in &ops {
            if let Op::Advance(m) = op {
                now += Duration::minutes(*m);
                continue;
            }
            let Some(trigger) = trigger_for(op, &snap, &def, now) else { continue };
            let result = step(&def, &snap, &trigger, &ctx, now);
            // Pure: the same inputs give the same outcome.
            prop_assert_eq!(&result, &step(&def, &snap, &trigger, &ctx, now));
            match result {
                Ok(o) => {
                    if o.is_noop() {
                        prop_assert!(matches!(trigger, Trigger::Recheck));
                        continue;
                    }
                    prop_assert_eq!(o.from_version, snap.version);
                    prop_assert_eq!(o.version, snap.version + 1, "version increments by exactly one");
                    prop_assert!(!o.history.is_empty(), "every applied step leaves history");
                    let indices: Vec<u32> = o.actions.iter().map(|a| a.index).collect();
                    prop_assert_eq!(indices, (0..o.actions.len() as u32).collect::<Vec<_>>());
                    for a in &o.actions {
                        prop_assert!(keys.insert(o.idempotency_key(snap.id, a.index)), "idempotency keys are unique");
                    }
                    // Tasks closed are exactly open ones; a state left closes all of its tasks.
                    for c in &o.close_tasks {
                        prop_assert!(snap.tasks.iter().any(|t| t.id == c.id));
                    }
                    if o.state != snap.state {
                        for t in &snap.tasks {
                            prop_assert!(o.close_tasks.iter().any(|c| c.id == t.id), "task {} left open", t.key);
                        }
                    }
                    if let Trigger::Timer { id, .. } = &trigger {
                        prop_assert_eq!(o.consumed_timer, Some(*id));
                    }
                    snap.apply(&o, &mut ids);
                    check_invariants(&def, &snap)?;
                }
                Err(StepError::Form(_)) | Err(StepError::UnknownOutcome { .. }) | Err(StepError::TaskNotOpen(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e:?} for {trigger:?}"),
            }
        }
    }
}

#[test]
fn a_loop_of_guards_is_refused() {
    let yaml = r#"
id: loop
title: Петля
object: thing
initial: a
states:
  a:
    on:
      - when: "true"
        to: b
  b:
    on:
      - when: "true"
        to: a
"#;
    let def = compile(yaml, "loop.yaml", &vocabulary()).unwrap();
    let snap = Snapshot::new_instance(
        1,
        ObjectRef {
            kind: "thing".into(),
            id: 1,
        },
    );
    let r = step(
        &def,
        &snap,
        &Trigger::Start {
            data: Map::new(),
            actor: None,
        },
        &StepContext::default(),
        monday_10(),
    );
    assert_eq!(r, Err(StepError::Loop));
}

#[test]
fn start_data_are_typed() {
    let def = definition();
    let snap = Snapshot::new_instance(
        1,
        ObjectRef {
            kind: "thing".into(),
            id: 1,
        },
    );
    let bad = Trigger::Start {
        data: common::data(json!({"n": "many"})),
        actor: None,
    };
    assert!(matches!(
        step(&def, &snap, &bad, &StepContext::default(), monday_10()),
        Err(StepError::BadData { .. })
    ));
    let unknown = Trigger::Start {
        data: common::data(json!({"m": 1})),
        actor: None,
    };
    assert_eq!(
        step(&def, &snap, &unknown, &StepContext::default(), monday_10()),
        Err(StepError::UnknownField("m".into()))
    );
    let ok = Trigger::Start {
        data: common::data(json!({"n": "3", "at": "2026-06-01T12:00:00+03:00"})),
        actor: None,
    };
    let o = step(&def, &snap, &ok, &StepContext::default(), monday_10()).unwrap();
    assert_eq!(o.data["n"], json!(3));
    assert_eq!(o.data["at"], json!("2026-06-01T09:00:00.000Z"));
    assert_eq!(o.data["flag"], json!(false), "defaults applied");
}
