//! What must hold in the database (and at the fake provider) after a burst,
//! however often the servers were killed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::MANAGER_EMAIL;
use crate::drivers::Acknowledged;
use crate::provider::{Answer, Ledger};

/// Creates the table `test.count` writes to before any server runs the
/// action (two first runs creating it at once collide on PostgreSQL).
pub async fn create_effects_table(db: &engine::Db) {
    let mut tx = db.begin().await.expect("tx");
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS test_effects (idempotency_key TEXT PRIMARY KEY, instance_id BIGINT NOT NULL, runs BIGINT NOT NULL, pid BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .expect("test_effects");
    tx.commit().await.expect("commit");
}

pub async fn count(db: &engine::Db, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Instances of `key` not yet in one of `end` states.
pub async fn unfinished(db: &engine::Db, key: &str, end: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT COUNT(*) FROM wf_instances WHERE definition_key = '{key}' AND (state <> '{end}' OR finished_at IS NULL)"
        ),
    )
    .await
}

/// Outbox rows not yet done (pending, running or failed).
pub async fn pending_actions(db: &engine::Db) -> i64 {
    count(db, "SELECT COUNT(*) FROM wf_outbox WHERE status <> 'done'").await
}

/// The ids of `key`'s instances.
pub async fn instances(db: &engine::Db, key: &str) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM wf_instances WHERE definition_key = $1")
        .bind(key)
        .fetch_all(db.pool())
        .await
        .expect("instances")
        .into_iter()
        .collect()
}

/// Every state change of every instance of `key`, once each, and exactly
/// `moves` of them; no step number written twice; no outbox row twice; no
/// outbox row failed.
pub async fn steps_once(db: &engine::Db, key: &str, moves: usize) {
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT h.instance_id, h.from_state, h.to_state, COUNT(*) FROM wf_history h
         JOIN wf_instances i ON i.id = h.instance_id WHERE i.definition_key = $1
         AND h.from_state <> h.to_state AND h.trigger_kind <> 'start' GROUP BY h.instance_id, h.from_state, h.to_state",
    )
    .bind(key)
    .fetch_all(db.pool())
    .await
    .expect("history");
    let mut made: BTreeMap<i64, usize> = BTreeMap::new();
    for (id, from, to, n) in rows {
        assert_eq!(n, 1, "{key} {id}: {from} → {to} applied {n} times");
        *made.entry(id).or_default() += 1;
    }
    for id in instances(db, key).await {
        let m = made.get(&id).copied().unwrap_or(0);
        assert_eq!(m, moves, "{key} {id} made {m} of its {moves} moves");
    }
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM (SELECT instance_id, step, seq FROM wf_history GROUP BY instance_id, step, seq HAVING COUNT(*) > 1) d",
        )
        .await,
        0,
        "a step number was written twice"
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM (SELECT instance_id, step, action_index FROM wf_outbox GROUP BY instance_id, step, action_index HAVING COUNT(*) > 1) d",
        )
        .await,
        0,
        "an action was queued twice"
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM wf_outbox WHERE status <> 'done'").await,
        0,
        "every action is done, none failed"
    );
}

/// The engine's own test workflow: nothing acknowledged was lost, each
/// instance moved step1 → step2 (event) → step3 (timer) → done (action
/// result) once, and each of its three counting actions left one effect.
/// With `runs_once`, each action also *ran* once (nothing was killed).
/// Returns (instances, actions, re-runs).
pub async fn engine_workflow(
    db: &engine::Db,
    ack: &Acknowledged,
    runs_once: bool,
) -> (usize, i64, i64) {
    let instances = instances(db, "crash_test").await;
    let lost: Vec<_> = ack.started.difference(&instances).collect();
    assert!(lost.is_empty(), "acknowledged starts lost: {lost:?}");
    assert!(!instances.is_empty(), "the burst started something");
    steps_once(db, "crash_test", 3).await;
    let event_moves: BTreeSet<i64> = sqlx::query_scalar::<_, i64>(
        "SELECT instance_id FROM wf_history WHERE from_state = 'step1' AND to_state = 'step2'",
    )
    .fetch_all(db.pool())
    .await
    .expect("moves")
    .into_iter()
    .collect();
    let lost: Vec<_> = ack.go.difference(&event_moves).collect();
    assert!(lost.is_empty(), "acknowledged events lost: {lost:?}");
    let timer_moves = count(
        db,
        "SELECT COUNT(*) FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id
         WHERE i.definition_key = 'crash_test' AND h.from_state = 'step2' AND h.to_state = 'step3' AND h.trigger_kind = 'timer'",
    )
    .await;
    assert_eq!(
        timer_moves as usize,
        instances.len(),
        "every timer fired (once each, checked above)"
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM wf_timers t JOIN wf_instances i ON i.id = t.instance_id WHERE i.definition_key = 'crash_test'"
        )
        .await,
        0,
        "no timer left behind"
    );

    let actions = count(
        db,
        "SELECT COUNT(*) FROM wf_outbox WHERE action = 'test.count'",
    )
    .await;
    assert_eq!(
        actions as usize,
        instances.len() * 3,
        "three actions per instance were planned"
    );
    let effects = count(
        db,
        "SELECT COUNT(*) FROM wf_outbox o JOIN test_effects e ON e.idempotency_key = o.idempotency_key WHERE o.action = 'test.count'",
    )
    .await;
    assert_eq!(
        effects, actions,
        "each planned action has exactly one effect"
    );
    let stray = count(
        db,
        "SELECT COUNT(*) FROM test_effects e WHERE NOT EXISTS (SELECT 1 FROM wf_outbox o WHERE o.idempotency_key = e.idempotency_key)",
    )
    .await;
    assert_eq!(stray, 0, "no effect without a planned action");
    let reruns = count(
        db,
        "SELECT CAST(COALESCE(SUM(runs - 1), 0) AS BIGINT) FROM test_effects",
    )
    .await;
    if runs_once {
        assert_eq!(reruns, 0, "every action ran once");
    }
    (instances.len(), actions, reruns)
}

/// What [`provider`] found.
pub struct ProviderFigures {
    pub instances: usize,
    pub calls: usize,
    pub applied: usize,
    pub repeated: usize,
    pub lost_answers: usize,
}

/// The provider workflow: every instance is done; each of its two external
/// actions reached the provider under the engine's own idempotency key,
/// every call for one action carried that same key, the effect was applied
/// once per action (never under a key the engine does not know), the
/// engine stored the provider's answer on the outbox row, and the payout
/// was called only after the charge was applied.
///
/// An at-least-once implementation fails here: a handler that made up a key
/// per attempt (or sent none) gives more keys — and more applied effects —
/// than actions; the test also requires that repeated calls happened, so
/// that a provider ignoring keys *would* have applied some effect twice.
pub async fn provider(
    db: &engine::Db,
    ledger: &Ledger,
    acknowledged: &BTreeSet<i64>,
    expect_repeats: bool,
) -> ProviderFigures {
    let instances = instances(db, "crash_provider").await;
    let lost: Vec<_> = acknowledged.difference(&instances).collect();
    assert!(lost.is_empty(), "acknowledged starts lost: {lost:?}");
    assert!(
        !instances.is_empty(),
        "the burst started provider instances"
    );
    steps_once(db, "crash_provider", 1).await;

    let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT instance_id, params, idempotency_key, status, result FROM wf_outbox WHERE action = 'test.provider'",
    )
    .fetch_all(db.pool())
    .await
    .expect("outbox");
    assert_eq!(
        rows.len(),
        instances.len() * 2,
        "two provider actions per instance were planned"
    );

    let refused: Vec<_> = ledger
        .calls
        .iter()
        .filter(|c| matches!(c.answer, Answer::NoKey | Answer::KeyReused))
        .collect();
    assert!(
        refused.is_empty(),
        "calls without a key or with a key reused for another effect: {refused:?}"
    );
    // Every call for one action carried one key: the first call's.
    let mut keys_per_action: HashMap<(i64, String), BTreeSet<String>> = HashMap::new();
    for c in &ledger.calls {
        keys_per_action
            .entry((c.instance_id, c.op.clone()))
            .or_default()
            .insert(c.key.clone().unwrap_or_default());
    }
    for ((instance, op), keys) in &keys_per_action {
        assert_eq!(
            keys.len(),
            1,
            "instance {instance}, {op}: calls carried different keys {keys:?}"
        );
    }
    assert_eq!(
        keys_per_action.len(),
        rows.len(),
        "the provider was called for every action, under one key each"
    );

    // One applied effect per planned action, under the engine's key.
    let planned: BTreeSet<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    let applied: BTreeSet<&str> = ledger.effects.keys().map(String::as_str).collect();
    assert_eq!(
        applied, planned,
        "effects were applied exactly under the engine's idempotency keys"
    );
    assert_eq!(ledger.effects.len(), instances.len() * 2);
    for (instance_id, params, key, status, result) in &rows {
        let effect = &ledger.effects[key];
        let params: Value = serde_json::from_str(params).expect("params");
        assert_eq!(effect.instance_id, *instance_id, "{key}: another instance");
        assert_eq!(Some(effect.op.as_str()), params["op"].as_str(), "{key}");
        assert_eq!(status, "done", "{key}");
        let stored: Value =
            serde_json::from_str(result.as_deref().unwrap_or("null")).expect("result");
        assert_eq!(
            stored, effect.result,
            "{key}: the engine stored the provider's answer to that key"
        );
    }
    // In step order: no payout call before the charge was applied.
    for id in &instances {
        let charged = ledger
            .effects
            .values()
            .find(|e| e.instance_id == *id && e.op == "charge")
            .map(|e| e.seq)
            .expect("charged");
        let first_payout = ledger
            .calls
            .iter()
            .find(|c| c.instance_id == *id && c.op == "payout")
            .map(|c| c.seq)
            .expect("paid out");
        assert!(
            first_payout > charged,
            "instance {id}: payout called before the charge was applied"
        );
    }

    let repeated = ledger
        .calls
        .iter()
        .filter(|c| c.answer == Answer::Repeated)
        .count();
    let lost_answers = ledger
        .calls
        .iter()
        .filter(|c| c.answer == Answer::AppliedAnswerLost)
        .count();
    if expect_repeats {
        assert!(
            repeated > 0,
            "no action was called twice: the test did not exercise idempotency"
        );
    }
    assert_eq!(
        ledger.calls.len(),
        ledger.effects.len() + repeated,
        "every call applied a new key or repeated a known one"
    );
    ProviderFigures {
        instances: instances.len(),
        calls: ledger.calls.len(),
        applied: ledger.effects.len(),
        repeated,
        lost_answers,
    }
}

/// What [`requests`] found.
pub struct RequestFigures {
    pub requests: usize,
    pub tasks: usize,
    pub task_mail: usize,
    pub confirmations: usize,
}

/// The real request workflow: every acknowledged request exists; every
/// request has one instance, which went qualification → ready_for_matching
/// → cancelled once each, with its status projection in step; each had one
/// qualification and one matching task; every task was mailed to the
/// manager exactly once, every visitor got exactly one confirmation per
/// channel, and no message was queued twice.
pub async fn requests(db: &engine::Db, acknowledged: &[String]) -> RequestFigures {
    let stored: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, number, status FROM requests")
            .fetch_all(db.pool())
            .await
            .expect("requests");
    let numbers: BTreeSet<&str> = stored.iter().map(|r| r.1.as_str()).collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|n| !numbers.contains(n.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged requests lost: {lost:?}");
    assert!(!stored.is_empty(), "the burst filed requests");
    for (id, number, status) in &stored {
        assert_eq!(status, "cancelled", "request {number}: status projection");
        let states: Vec<String> = sqlx::query_scalar(
            "SELECT state FROM wf_instances WHERE definition_key = 'request' AND object_kind = 'request' AND object_id = $1",
        )
        .bind(id)
        .fetch_all(db.pool())
        .await
        .expect("instances");
        assert_eq!(
            states,
            ["cancelled"],
            "request {number}: one finished workflow"
        );
    }
    steps_once(db, "request", 2).await;

    let tasks: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT id, instance_id, task_key, status FROM wf_tasks WHERE definition_key = 'request'",
    )
    .fetch_all(db.pool())
    .await
    .expect("tasks");
    let mut per_instance: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (id, instance, key, status) in &tasks {
        assert_eq!(status, "done", "task {id} ({key})");
        per_instance.entry(*instance).or_default().push(key);
    }
    assert_eq!(per_instance.len(), stored.len(), "every request had tasks");
    for (instance, mut keys) in per_instance {
        keys.sort();
        assert_eq!(
            keys,
            ["match", "qualify"],
            "instance {instance}: its tasks, once each"
        );
    }

    // Mail: nothing twice, anywhere.
    let duplicates = count(
        db,
        "SELECT COUNT(*) FROM (SELECT channel, recipient, subject, body FROM notifications GROUP BY channel, recipient, subject, body HAVING COUNT(*) > 1) d",
    )
    .await;
    assert_eq!(duplicates, 0, "a notification was queued twice");
    // Each task told the manager once (the link names the task).
    let link = regex::Regex::new(r"/tasks/(\d+)").expect("regex");
    let mail: Vec<String> =
        sqlx::query_scalar("SELECT body FROM notifications WHERE recipient = $1")
            .bind(MANAGER_EMAIL)
            .fetch_all(db.pool())
            .await
            .expect("mail");
    let mut per_task: BTreeMap<i64, usize> = BTreeMap::new();
    for body in &mail {
        let task: i64 = link
            .captures(body)
            .and_then(|c| c[1].parse().ok())
            .unwrap_or_else(|| panic!("mail to the manager without a task link: {body}"));
        *per_task.entry(task).or_default() += 1;
    }
    for (id, _, key, _) in &tasks {
        let n = per_task.remove(id).unwrap_or(0);
        assert_eq!(n, 1, "task {id} ({key}) was mailed {n} times");
    }
    assert!(
        per_task.is_empty(),
        "mail about unknown tasks: {per_task:?}"
    );
    // Each visitor (one request each) got one confirmation by e-mail and one by SMS.
    let confirmations: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT channel, recipient, COUNT(*) FROM notifications WHERE recipient <> $1 GROUP BY channel, recipient",
    )
    .bind(MANAGER_EMAIL)
    .fetch_all(db.pool())
    .await
    .expect("confirmations");
    for (channel, recipient, n) in &confirmations {
        assert_eq!(*n, 1, "{recipient} ({channel}) got {n} confirmations");
    }
    for channel in ["email", "sms"] {
        let n = confirmations.iter().filter(|c| c.0 == channel).count();
        assert_eq!(n, stored.len(), "one {channel} confirmation per request");
    }
    RequestFigures {
        requests: stored.len(),
        tasks: tasks.len(),
        task_mail: mail.len(),
        confirmations: confirmations.len(),
    }
}
