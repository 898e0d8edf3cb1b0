//! Crash test: the real server process is killed with SIGKILL at random
//! moments while a burst of workflow starts, events, timers and actions runs
//! against it; after restarts, the database must show that no acknowledged
//! step was lost, no step was applied twice, and every action's effect
//! happened exactly once (a counting action keyed by idempotency key).
//!
//! CI runs a short version. The long one:
//! `PODRYAD_CRASH_ROUNDS=50 cargo test --release --test crash -- --nocapture`
//! (add `PODRYAD_TEST_DATABASE=postgres://…` for PostgreSQL).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_podryad");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic random source (seeded from the clock, printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Setup {
    dir: PathBuf,
    url: String,
    pg: Option<(String, String)>,
}

impl Setup {
    async fn new() -> Setup {
        let suffix = format!(
            "{}_{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        let dir = std::env::temp_dir().join(format!("podryad-crash-{suffix}"));
        std::fs::create_dir_all(dir.join("workflows")).expect("dir");
        copy_dir(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows")),
            &dir.join("workflows"),
        );
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crash/crash_test.yaml"),
            dir.join("workflows/crash_test.yaml"),
        )
        .expect("copy the crash workflow");
        let (url, pg) = match std::env::var("PODRYAD_TEST_DATABASE") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("podryad_crash_{suffix}");
                engine::db::create_postgres_database(&admin, &name)
                    .await
                    .expect("scratch database");
                (
                    engine::testing::replace_db_name(&admin, &name),
                    Some((admin, name)),
                )
            }
            _ => (format!("sqlite://{}/crash.db", dir.display()), None),
        };
        Setup { dir, url, pg }
    }

    fn command(&self, args: &[&str], port: u16) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("DATABASE_URL", &self.url)
            .env("PODRYAD_WORKFLOWS_DIR", self.dir.join("workflows"))
            .env("PODRYAD_FILES_DIR", self.dir.join("files"))
            .env("PODRYAD_BIND", format!("127.0.0.1:{port}"))
            .env("PODRYAD_TEST_ACTIONS", "1")
            .env("PODRYAD_ACTION_LEASE_SECS", "2")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    async fn cleanup(self) {
        if let Some((admin, name)) = self.pg {
            let _ = engine::db::drop_postgres_database(&admin, &name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read workflows") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

async fn start_server(setup: &Setup) -> (Child, String) {
    let port = free_port();
    let child = setup
        .command(&["serve"], port)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return (child, base);
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the driver was told had happened (committed for sure).
#[derive(Default)]
struct Acknowledged {
    started: BTreeSet<i64>,
    go: BTreeSet<i64>,
}

async fn drive(
    base: String,
    token: String,
    next_object: std::sync::Arc<std::sync::atomic::AtomicI64>,
    burst: usize,
) -> Acknowledged {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut ack = Acknowledged::default();
    let mut pending_go: Vec<i64> = Vec::new();
    for _ in 0..burst {
        let object = next_object.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let r = http
            .post(format!("{base}/api/v1/workflows/crash_test/start"))
            .bearer_auth(&token)
            .json(&json!({"object_id": object}))
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                if let Some(id) = v.get("instance_id").and_then(Value::as_i64) {
                    ack.started.insert(id);
                    pending_go.push(id);
                }
            }
            Ok(_) | Err(_) => return ack,
        }
        if pending_go.len() >= 3 {
            let id = pending_go.remove(0);
            match http
                .post(format!("{base}/api/v1/instances/{id}/events"))
                .bearer_auth(&token)
                .json(&json!({"name": "go"}))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    ack.go.insert(id);
                }
                _ => return ack,
            }
        }
    }
    ack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_servers_lose_no_step_and_repeat_no_effect() {
    let rounds = env_usize("PODRYAD_CRASH_ROUNDS", 4);
    // The driver keeps going until the server dies (or this many starts).
    let burst = env_usize("PODRYAD_CRASH_BURST", 5_000);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("crash test: {rounds} rounds, up to {burst} starts each, seed {seed}");
    let mut rng = Rng(seed);
    let setup = Setup::new().await;

    let status = setup
        .command(&["migrate"], free_port())
        .stdout(Stdio::null())
        .status()
        .await
        .expect("migrate");
    assert!(status.success(), "podryad migrate");
    let out = setup
        .command(
            &[
                "token",
                "create",
                "--name",
                "crash test",
                "--scope",
                "workflows:start",
                "--scope",
                "events:emit",
            ],
            free_port(),
        )
        .output()
        .await
        .expect("token");
    assert!(out.status.success(), "podryad token create");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let next_object = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(1));
    let mut ack = Acknowledged::default();
    for round in 0..rounds {
        let (mut child, base) = start_server(&setup).await;
        // Several clients at once, so steps interleave in the server.
        let drivers: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(drive(
                    base.clone(),
                    token.clone(),
                    next_object.clone(),
                    burst,
                ))
            })
            .collect();
        let delay = 200 + rng.below(1300);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        let (mut started, mut go) = (0, 0);
        for d in drivers {
            let a = d.await.expect("driver");
            started += a.started.len();
            go += a.go.len();
            ack.started.extend(a.started);
            ack.go.extend(a.go);
        }
        eprintln!(
            "round {round}: killed after {delay} ms; {started} starts and {go} events acknowledged"
        );
    }

    // A last, undisturbed run finishes everything.
    let (mut child, base) = start_server(&setup).await;
    let db = engine::Db::connect(
        &setup.url,
        &engine::DbOptions {
            max_connections: 2,
            ..Default::default()
        },
    )
    .await
    .expect("connect");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let waiting: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM wf_instances WHERE definition_key = 'crash_test' AND state = 'step1'",
        )
        .fetch_all(db.pool())
        .await
        .expect("query");
        for id in &waiting {
            let _ = http
                .post(format!("{base}/api/v1/instances/{id}/events"))
                .bearer_auth(&token)
                .json(&json!({"name": "go"}))
                .send()
                .await;
        }
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM wf_instances WHERE definition_key = 'crash_test' AND state <> 'done'",
        )
        .fetch_one(db.pool())
        .await
        .expect("count");
        let pending_actions: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE status <> 'done'")
                .fetch_one(db.pool())
                .await
                .expect("count");
        if unfinished == 0 && pending_actions == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unfinished} instances and {pending_actions} actions never finished"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    child.start_kill().ok();
    let _ = child.wait().await;

    // 1. Every acknowledged start exists; nothing was lost.
    let instances: BTreeSet<i64> = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM wf_instances WHERE definition_key = 'crash_test'",
    )
    .fetch_all(db.pool())
    .await
    .expect("instances")
    .into_iter()
    .collect();
    let lost: Vec<_> = ack.started.difference(&instances).collect();
    assert!(lost.is_empty(), "acknowledged starts lost: {lost:?}");
    assert!(!instances.is_empty(), "the burst started something");

    // 2. No step applied twice: each instance went through each transition once.
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT h.instance_id, h.from_state, h.to_state, COUNT(*) FROM wf_history h
         JOIN wf_instances i ON i.id = h.instance_id WHERE i.definition_key = 'crash_test'
         AND h.from_state <> h.to_state AND h.trigger_kind <> 'start' GROUP BY h.instance_id, h.from_state, h.to_state",
    )
    .fetch_all(db.pool())
    .await
    .expect("history");
    let mut moves: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    for (id, from, to, n) in rows {
        assert_eq!(n, 1, "instance {id}: {from} → {to} applied {n} times");
        moves.entry(id).or_default().push((from, to));
    }
    for id in &instances {
        let m = moves.get(id).map(Vec::len).unwrap_or(0);
        assert_eq!(m, 3, "instance {id} made {m} of its 3 moves");
    }
    let dup_steps: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT instance_id, step, seq FROM wf_history GROUP BY instance_id, step, seq HAVING COUNT(*) > 1) d",
    )
    .fetch_one(db.pool())
    .await
    .expect("steps");
    assert_eq!(dup_steps, 0, "a step number was written twice");
    // Acknowledged events were applied (each exactly once, checked above).
    for id in &ack.go {
        assert!(
            moves
                .get(id)
                .is_some_and(|m| m.iter().any(|(f, t)| f == "step1" && t == "step2")),
            "event go on {id} lost"
        );
    }

    // 3. Every action's effect happened exactly once.
    let actions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM wf_outbox WHERE action = 'test.count'")
            .fetch_one(db.pool())
            .await
            .expect("outbox");
    assert_eq!(
        actions as usize,
        instances.len() * 3,
        "three actions per instance were planned"
    );
    let effects: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_outbox o JOIN test_effects e ON e.idempotency_key = o.idempotency_key WHERE o.action = 'test.count'",
    )
    .fetch_one(db.pool())
    .await
    .expect("effects");
    assert_eq!(
        effects, actions,
        "each planned action has exactly one effect"
    );
    let stray: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM test_effects e WHERE NOT EXISTS (SELECT 1 FROM wf_outbox o WHERE o.idempotency_key = e.idempotency_key)",
    )
    .fetch_one(db.pool())
    .await
    .expect("stray");
    assert_eq!(stray, 0, "no effect without a planned action");
    let reruns: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(runs - 1), 0) AS BIGINT) FROM test_effects")
            .fetch_one(db.pool())
            .await
            .expect("reruns");
    eprintln!(
        "crash test passed: {} instances, {} actions, {} re-runs absorbed by idempotency keys",
        instances.len(),
        actions,
        reruns
    );
    db.close().await;
    setup.cleanup().await;
}
