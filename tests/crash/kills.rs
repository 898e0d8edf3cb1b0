//! Repeated kill -9 during a burst (see the crate docs).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::drivers::{self, Acknowledged, ManagerReport};
use crate::provider::FakeProvider;
use crate::{MANAGER_EMAIL, Rng, Server, Setup, checks, env_usize};

/// Everything the clients of all rounds were told had happened.
#[derive(Default)]
struct Told {
    engine: Acknowledged,
    provider: BTreeSet<i64>,
    requests: Vec<String>,
}

/// The clients of one round against one server.
struct Burst {
    engine: Vec<tokio::task::JoinHandle<Acknowledged>>,
    provider: tokio::task::JoinHandle<BTreeSet<i64>>,
    requests: Vec<tokio::task::JoinHandle<Vec<String>>>,
    managers: Managers,
}

struct Managers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<ManagerReport>>,
}

impl Managers {
    fn start(base: &str, db: &engine::Db) -> Managers {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..2)
            .map(|lane| {
                tokio::spawn(drivers::manager(
                    base.to_string(),
                    db.clone(),
                    stop.clone(),
                    lane,
                    2,
                ))
            })
            .collect();
        Managers { stop, tasks }
    }

    async fn stop(self) -> ManagerReport {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = ManagerReport::default();
        for t in self.tasks {
            let r = t.await.expect("manager");
            total.completed += r.completed;
            total.other += r.other;
        }
        total
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_servers_lose_no_step_and_repeat_no_effect() {
    let rounds = env_usize("PODRYAD_CRASH_ROUNDS", 8);
    // The drivers keep going until the server dies (or this many each).
    let burst = env_usize("PODRYAD_CRASH_BURST", 5_000);
    let mut rng = Rng::seeded();
    eprintln!(
        "crash test: {rounds} rounds, up to {burst} starts per client, seed {}",
        rng.0
    );
    // Every fourth new key's answer is lost on the way back, so repeated
    // calls happen even when no kill lands inside a call.
    let provider = FakeProvider::start(Some(4), 40).await;
    let mut setup = Setup::new("crash", &provider.url).await;
    // A killed server's actions are taken over soon.
    setup.lease_secs = Some(2);
    setup.run(&["migrate"]).await;
    let token = setup
        .token(&["workflows:start", "events:emit", "requests:create"])
        .await;
    setup.user(MANAGER_EMAIL, "manager").await;
    let db = setup.connect().await;
    checks::create_effects_table(&db).await;

    let next_object = Arc::new(AtomicI64::new(1));
    let next_visitor = Arc::new(AtomicI64::new(1));
    let mut told = Told::default();
    let mut kills = 0;
    for round in 0..rounds {
        let server = Server::start(&setup, "crash", None).await;
        let base = server.base.clone();
        let burst = Burst {
            engine: (0..2)
                .map(|_| {
                    tokio::spawn(drivers::engine_workflow(
                        base.clone(),
                        base.clone(),
                        token.clone(),
                        next_object.clone(),
                        burst,
                    ))
                })
                .collect(),
            provider: tokio::spawn(drivers::provider_workflow(
                base.clone(),
                token.clone(),
                next_object.clone(),
                burst,
            )),
            requests: (0..2)
                .map(|_| {
                    tokio::spawn(drivers::requests(
                        base.clone(),
                        token.clone(),
                        next_visitor.clone(),
                        burst,
                    ))
                })
                .collect(),
            managers: Managers::start(&base, &db),
        };
        let delay = 400 + rng.below(1600);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill().await;
        kills += 1;
        let (mut started, mut go) = (0, 0);
        for d in burst.engine {
            let a = d.await.expect("driver");
            started += a.started.len();
            go += a.go.len();
            told.engine.extend(a);
        }
        let provider_started = burst.provider.await.expect("driver");
        let provided = provider_started.len();
        told.provider.extend(provider_started);
        let mut filed = 0;
        for d in burst.requests {
            let numbers = d.await.expect("driver");
            filed += numbers.len();
            told.requests.extend(numbers);
        }
        let worked = burst.managers.stop().await;
        eprintln!(
            "round {round}: killed after {delay} ms; acknowledged {started} starts, {go} events, \
             {provided} provider starts, {filed} requests, {} task completions",
            worked.completed
        );
    }

    // A last, undisturbed run finishes everything.
    let server = Server::start(&setup, "crash", None).await;
    let managers = Managers::start(&server.base, &db);
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
            drivers::send_go(&http, &server.base, &token, *id).await;
        }
        let left = [
            checks::unfinished(&db, "crash_test", "done").await,
            checks::unfinished(&db, "crash_provider", "done").await,
            checks::unfinished(&db, "request", "cancelled").await,
            checks::pending_actions(&db).await,
        ];
        if left == [0; 4] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never finished: {} engine, {} provider and {} request instances, {} actions",
            left[0],
            left[1],
            left[2],
            left[3]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    managers.stop().await;
    server.kill().await;

    let (instances, actions, reruns) = checks::engine_workflow(&db, &told.engine, false).await;
    // Read while no server runs: nothing changes under it.
    let p = checks::provider(&db, &provider.ledger(), &told.provider, true).await;
    let r = checks::requests(&db, &told.requests).await;
    eprintln!(
        "crash test passed on {}: {rounds} rounds, {kills} kills;\n\
         engine workflow: {instances} instances, {actions} actions, {reruns} re-runs absorbed by idempotency keys;\n\
         provider: {} instances, {} calls, {} effects applied (one per key), {} repeated calls answered from the key \
         ({} answers lost on purpose) — a provider ignoring keys would have applied {} effects;\n\
         requests: {} requests, {} tasks, {} task mails, {} confirmations; duplicates found: 0",
        if setup.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        p.instances,
        p.calls,
        p.applied,
        p.repeated,
        p.lost_answers,
        p.calls,
        r.requests,
        r.tasks,
        r.task_mail,
        r.confirmations,
    );
    db.close().await;
    provider.stop();
    setup.cleanup().await;
}
