//! Shared set-up for the engine's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use engine::calendar::Calendars;
use engine::testing::TestDb;
use engine::{
    ActionContext, ActionError, Engine, EngineBuilder, EngineConfig, ManualClock, Vocabulary,
    action_fn,
};
use serde_json::{Map, Value, json};

pub const ROLES: [&str; 10] = [
    "admin",
    "hunter",
    "manager",
    "operator",
    "accountant",
    "analyst",
    "owner",
    "dispatcher",
    "driver",
    "client",
];

/// The application's migrations, embedded for the engine's tests only (the
/// engine itself embeds none; the `podryad` crate owns them).
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
pub static MIGRATIONS: engine::Migrations = engine::Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

pub fn workflows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workflows")
}

/// A folder with only the onboarding workflow (the real folder grows with
/// other teams' workflows, which need their own actions).
pub fn onboarding_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["supplier_onboarding.yaml", "calendar.yaml"] {
        std::fs::copy(workflows_dir().join(f), dir.path().join(f)).expect("copy workflow");
    }
    dir
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn calendars() -> Calendars {
    Calendars::load_file(&workflows_dir().join("calendar.yaml")).expect("calendar.yaml is valid")
}

/// The vocabulary the tests' definitions are checked against.
pub fn vocabulary() -> Vocabulary {
    let mut v = Vocabulary {
        roles: ROLES.iter().map(|s| s.to_string()).collect(),
        ..Vocabulary::default()
    };
    v.actions
        .insert("notify".into(), Some(vec!["to".into(), "text".into()]));
    v.actions.insert("send_rfq".into(), None);
    v.actions.insert("flaky".into(), None);
    v.actions.insert("broken".into(), None);
    // Registered by the domain in production; used by supplier_onboarding.yaml.
    v.actions.insert(
        "supplier.set_status".into(),
        Some(vec!["status".into(), "reason".into()]),
    );
    v.events.insert("payment.received".into());
    v.calendars = calendars();
    v
}

/// A Monday, 10:00 Moscow time, away from holidays.
pub fn monday_10() -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(2026, 6, 1, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// One action run: (action, idempotency key, attempt, params).
pub type Call = (String, String, u32, Value);

/// Every action run.
#[derive(Default, Clone)]
pub struct Calls(pub Arc<Mutex<Vec<Call>>>);

impl Calls {
    pub fn all(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }
    pub fn named(&self, name: &str) -> Vec<Call> {
        self.all().into_iter().filter(|c| c.0 == name).collect()
    }
}

/// An engine on `db` with the test vocabulary and recording handlers:
/// `notify` and `send_rfq` succeed; `flaky` asks to retry; `broken` fails.
pub fn engine_builder(db: &engine::Db, calls: &Calls) -> EngineBuilder {
    let mut b = Engine::builder(db.clone())
        .roles(ROLES)
        .event("payment.received")
        .calendars(calendars())
        .config(EngineConfig {
            max_attempts: 3,
            backoff_base: std::time::Duration::from_secs(10),
            ..EngineConfig::default()
        });
    for (name, params) in [
        ("supplier.set_status", Some(&["status", "reason"][..])),
        ("notify", Some(&["to", "text"][..])),
        ("send_rfq", None),
        ("flaky", None),
        ("broken", None),
    ] {
        let calls = calls.clone();
        let n = name.to_string();
        b = b.action(
            name,
            params,
            action_fn(move |ctx: ActionContext| {
                let calls = calls.clone();
                let n = n.clone();
                async move {
                    calls.0.lock().unwrap().push((
                        n.clone(),
                        ctx.idempotency_key.clone(),
                        ctx.attempt,
                        ctx.params.clone(),
                    ));
                    match n.as_str() {
                        "flaky" => Err(ActionError::Retry(format!(
                            "try again (attempt {})",
                            ctx.attempt
                        ))),
                        "broken" => Err(ActionError::Fail("refused".into())),
                        _ => Ok(json!({"ok": true, "key": ctx.idempotency_key})),
                    }
                }
            }),
        );
    }
    for name in ["task.created", "task.remind", "task.escalated"] {
        let calls = calls.clone();
        b = b.action(
            name,
            None,
            action_fn(move |ctx: ActionContext| {
                let calls = calls.clone();
                async move {
                    calls.0.lock().unwrap().push((
                        ctx.action.clone(),
                        ctx.idempotency_key.clone(),
                        ctx.attempt,
                        ctx.params.clone(),
                    ));
                    Ok(Value::Null)
                }
            }),
        );
    }
    b
}

pub async fn clocked_db() -> (TestDb, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(monday_10()));
    (TestDb::with_clock(&MIGRATIONS, clock.clone()).await, clock)
}

/// Stores and activates a definition from YAML text.
pub async fn install(engine: &Engine, yaml: &str) -> i64 {
    let v = engine
        .save_draft(yaml, Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine.activate(v.id, Some(1)).await.expect("activate").id
}

pub fn data(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub fn obj(kind: &str, id: i64) -> engine::ObjectRef {
    engine::ObjectRef {
        kind: kind.into(),
        id,
    }
}

pub fn manager(id: i64) -> engine::UserRef {
    engine::UserRef {
        id,
        org_id: 1,
        home_org: true,
        roles: vec!["manager".into()],
    }
}

pub fn admin(id: i64) -> engine::UserRef {
    engine::UserRef {
        id,
        org_id: 1,
        home_org: true,
        roles: vec!["admin".into()],
    }
}

pub fn counts(h: &[engine::queries::HistoryView]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for x in h {
        *m.entry(x.trigger_kind.clone()).or_default() += 1;
    }
    m
}
