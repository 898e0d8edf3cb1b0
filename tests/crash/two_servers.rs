//! Two app servers on one database at once (the README's way to grow).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::checks::{self, count};
use crate::drivers::{self, Acknowledged};
use crate::provider::FakeProvider;
use crate::{ANALYST_EMAIL, Browser, Server, Setup, copy_dir, env_usize};

/// Exactly one active version of every workflow, version numbers 1..n.
async fn versions_are_sound(db: &engine::Db) {
    let keys: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT key, SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), COUNT(*), MAX(version)
         FROM wf_definitions GROUP BY key",
    )
    .fetch_all(db.pool())
    .await
    .expect("definitions");
    assert!(
        keys.iter().any(|k| k.0 == "request"),
        "the folder was loaded"
    );
    for (key, active, versions, max) in keys {
        assert_eq!(active, 1, "{key}: {active} active versions");
        assert_eq!(versions, max, "{key}: versions numbered 1..{max}");
    }
}

/// One broker organisation, one active version per workflow: what start-up
/// must leave however many servers ran it at once.
async fn prepared_once(db: &engine::Db) {
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM organisations WHERE kind = 'broker'"
        )
        .await,
        1,
        "one broker organisation"
    );
    versions_are_sound(db).await;
}

/// Servers started at the same moment on a fresh database all come up and
/// prepare it once (migrations, the broker, the workflows folder). A race
/// does not show every time, so this tries a few fresh databases, three
/// servers each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_together_prepare_one_database() {
    let tries = env_usize("PODRYAD_STARTUP_TRIES", 3);
    let provider = FakeProvider::start(None, 0).await;
    let begun = Instant::now();
    for _ in 0..tries {
        let setup = Setup::new("start", &provider.url).await;
        let (a, b, c) = tokio::join!(
            Server::start(&setup, "a", None),
            Server::start(&setup, "b", None),
            Server::start(&setup, "c", None)
        );
        let db = setup.connect().await;
        prepared_once(&db).await;
        db.close().await;
        for s in [a, b, c] {
            s.kill().await;
        }
        setup.cleanup().await;
    }
    eprintln!(
        "{tries} fresh databases, three servers starting at once on each: all started, each database prepared once ({:.1} s)",
        begun.elapsed().as_secs_f64()
    );
    provider.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_start_together_and_share_a_burst() {
    let burst = env_usize("PODRYAD_TWO_SERVERS_BURST", 60);
    let provider = FakeProvider::start(None, 0).await;
    let setup = Setup::new("two", &provider.url).await;

    // 1. Two servers start at the same moment on a fresh database: both
    // migrate, make sure the broker exists and load the workflows folder.
    let (a, b) = tokio::join!(
        Server::start(&setup, "a", None),
        Server::start(&setup, "b", None)
    );
    let db = setup.connect().await;
    prepared_once(&db).await;

    // 2. A third server starts with a changed folder (a deploy) while an
    // analyst activates edited versions in the browser, on the first one.
    setup.user(ANALYST_EMAIL, "analyst").await;
    let analyst = Browser::new();
    assert!(
        analyst.login(&a.base, ANALYST_EMAIL).await,
        "analyst signs in"
    );
    let deployed = setup.dir.join("workflows-deployed");
    std::fs::create_dir_all(&deployed).expect("dir");
    copy_dir(&setup.dir.join("workflows"), &deployed);
    let text = std::fs::read_to_string(deployed.join("crash_test.yaml")).expect("yaml");
    std::fs::write(
        deployed.join("crash_test.yaml"),
        format!("{text}\n# Deployed again.\n"),
    )
    .expect("write");
    let started = AtomicBool::new(false);
    let (c, edits) = tokio::join!(
        async {
            let c = Server::start(&setup, "c", Some(&deployed)).await;
            started.store(true, Ordering::SeqCst);
            c
        },
        async {
            let mut edits = 0;
            while !started.load(Ordering::SeqCst) {
                edits += 1;
                let yaml = format!("{text}\n# Analyst's edit {edits}.\n");
                let r = analyst
                    .post_form(
                        &a.base,
                        "/workflows/save",
                        &[("yaml", yaml.as_str()), ("activate", "1")],
                    )
                    .await
                    .expect("the analyst's server answers");
                let status = r.status();
                assert_eq!(
                    status.as_u16(),
                    303,
                    "save and activate: {}",
                    r.text().await.unwrap_or_default()
                );
            }
            edits
        }
    );
    versions_are_sound(&db).await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM wf_definitions WHERE key = 'crash_test'"
        )
        .await,
        edits + 2,
        "the file, {edits} edits and the deploy, each stored once"
    );
    c.kill().await;

    // 3. A burst through both: instances started on one server get their
    // events through the other.
    let token = setup.token(&["workflows:start", "events:emit"]).await;
    checks::create_effects_table(&db).await;
    let next_object = Arc::new(AtomicI64::new(1));
    let begun = Instant::now();
    let engine: Vec<_> = [(&a, &b), (&b, &a)]
        .into_iter()
        .map(|(on, other)| {
            tokio::spawn(drivers::engine_workflow(
                on.base.clone(),
                other.base.clone(),
                token.clone(),
                next_object.clone(),
                burst,
            ))
        })
        .collect();
    let external: Vec<_> = [&a, &b]
        .into_iter()
        .map(|on| {
            tokio::spawn(drivers::provider_workflow(
                on.base.clone(),
                token.clone(),
                next_object.clone(),
                burst,
            ))
        })
        .collect();
    let mut ack = Acknowledged::default();
    for d in engine {
        let a = d.await.expect("driver");
        assert_eq!(a.started.len(), burst, "every start answered");
        assert_eq!(a.go.len(), burst, "every event answered");
        ack.extend(a);
    }
    let mut provided = std::collections::BTreeSet::new();
    for d in external {
        let started = d.await.expect("driver");
        assert_eq!(started.len(), burst, "every start answered");
        provided.extend(started);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = [
            checks::unfinished(&db, "crash_test", "done").await,
            checks::unfinished(&db, "crash_provider", "done").await,
            checks::pending_actions(&db).await,
        ];
        if left == [0; 3] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never finished: {} engine and {} provider instances, {} actions",
            left[0],
            left[1],
            left[2]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = begun.elapsed();
    a.kill().await;
    b.kill().await;

    let (instances, actions, _) = checks::engine_workflow(&db, &ack, true).await;
    let p = checks::provider(&db, &provider.ledger(), &provided, false).await;
    assert_eq!(p.repeated, 0, "every external action was called once");
    let processes = count(&db, "SELECT COUNT(DISTINCT pid) FROM test_effects").await;
    assert_eq!(processes, 2, "both servers ran actions");
    eprintln!(
        "two servers on {}: both started at once, a third during {edits} activations; \
         {} instances ({instances} with an event and a timer each, {} with two provider calls) finished in {:.1} s; \
         {actions} counting actions and {} provider calls, each run once; duplicates found: 0",
        if setup.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        instances + p.instances,
        p.instances,
        took.as_secs_f64(),
        p.calls,
    );
    db.close().await;
    provider.stop();
    setup.cleanup().await;
}
