//! Group commit for SQLite, and the snapshot cache.
//!
//! SQLite has one writer, and through sqlx every statement is a round trip to
//! the connection's worker thread (~50–100 µs on a small VM, far more than
//! SQLite's own work). Steps computed concurrently are therefore handed to one
//! writer task that stores a whole batch in one transaction.
//!
//! The usual batch holds only "simple" steps (instance row and history, no
//! tasks, timers or actions) of different instances. It is stored with one
//! query of two statements: an UPDATE … FROM (VALUES …) that moves every
//! instance whose version still matches, and an INSERT of all their history.
//! If fewer instances moved than expected, some step was computed from an
//! old version: the batch is rolled back and stored the careful way — read
//! the versions under the write lock, answer "conflict" for stale steps
//! (their callers recompute them, exactly as without batching), store steps
//! with tasks, timers or actions statement by statement, and the rest as
//! above. If anything else goes wrong the batch is rolled back and each step
//! is stored in its own transaction, so one bad step never takes others down.
//!
//! Local actions of a step run inside the batch's transaction, within a
//! savepoint per step: a step whose local action refuses is rolled back to
//! its savepoint and answered "refused", the rest of the batch is stored.
//!
//! Batches are padded to a power of two (with rows that match nothing) so that
//! only a handful of statement shapes exist and all stay prepared.
//!
//! The snapshot cache remembers, per instance, the state this process last
//! stored when that state has neither tasks nor timers, so the next event on
//! it needs no read at all. It is only a guess: the version check on write
//! still decides, and a conflict drops the entry and reloads.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, to_db_time};
use crate::registry::LocalActions;
use crate::sql::{Param, Sql};
use crate::step::{Outcome, Snapshot};
use crate::store::{self, Applied, ApplyError};

/// The most steps stored in one transaction.
const MAX_BATCH: usize = 64;

/// Scheduler turns the writer waits for more steps before it writes.
const LINGER_TURNS: usize = 4;

/// One step waiting to be stored.
pub(crate) struct WriteJob {
    pub key: String,
    pub def_id: i64,
    pub snap: Snapshot,
    pub outcome: Outcome,
    pub reply: oneshot::Sender<WriteDone>,
}

pub(crate) struct WriteDone {
    pub result: Result<Applied, ApplyError>,
    pub snap: Snapshot,
    pub outcome: Outcome,
}

/// Starts the writer task; it ends when the sender is dropped.
pub(crate) fn spawn_writer(db: Db, locals: Arc<LocalActions>) -> mpsc::UnboundedSender<WriteJob> {
    let (tx, mut rx) = mpsc::unbounded_channel::<WriteJob>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            // Give steps being computed right now a moment to join: a few
            // scheduler turns cost microseconds and save whole transactions.
            for _ in 0..LINGER_TURNS {
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                if batch.len() >= MAX_BATCH {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let now = db.now();
            // A step with tasks, timers or actions alone needs no batch: its
            // own transaction, whose version-checked UPDATE finds a stale
            // step as well as the batch's version read would. (A simple
            // step alone still takes the fast path: one round trip.)
            if batch.len() == 1 && !is_simple(&batch[0].outcome) && batch[0].snap.version > 0 {
                let job = batch.pop().expect("one job");
                let result = apply_alone(&db, &job, now, &locals).await;
                metrics::histogram!("engine_write_batch_size").record(1.0);
                let _ = job.reply.send(WriteDone {
                    result,
                    snap: job.snap,
                    outcome: job.outcome,
                });
                continue;
            }
            let results = match apply_batch(&db, &batch, now, &locals).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, size = batch.len(), "batch failed; storing its steps one by one");
                    let mut out = Vec::with_capacity(batch.len());
                    for j in &batch {
                        out.push(apply_alone(&db, j, now, &locals).await);
                    }
                    out
                }
            };
            metrics::histogram!("engine_write_batch_size").record(batch.len() as f64);
            for (job, result) in batch.into_iter().zip(results) {
                let _ = job.reply.send(WriteDone {
                    result,
                    snap: job.snap,
                    outcome: job.outcome,
                });
            }
        }
    });
    tx
}

async fn apply_alone(
    db: &Db,
    j: &WriteJob,
    now: DateTime<Utc>,
    locals: &LocalActions,
) -> Result<Applied, ApplyError> {
    let mut tx = db.begin().await?;
    // The transaction is this step's alone: rolled back whole on a refusal.
    match store::apply_alone(&mut tx, &j.key, j.def_id, &j.snap, &j.outcome, now, locals).await {
        Ok(a) => {
            tx.commit().await?;
            Ok(a)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Whether an outcome touches only the instance row and its history.
fn is_simple(o: &Outcome) -> bool {
    o.open_tasks.is_empty()
        && o.close_tasks.is_empty()
        && o.task_changes.is_empty()
        && o.set_timers.is_empty()
        && o.cancel_timers.is_empty()
        && o.consumed_timer.is_none()
        && o.actions.is_empty()
}

fn padded(n: usize) -> usize {
    n.next_power_of_two().max(1)
}

async fn apply_batch(
    db: &Db,
    batch: &[WriteJob],
    now: DateTime<Utc>,
    locals: &LocalActions,
) -> Result<Vec<Result<Applied, ApplyError>>, sqlx::Error> {
    let mut results: Vec<Option<Result<Applied, ApplyError>>> =
        (0..batch.len()).map(|_| None).collect();
    let mut seen = HashSet::new();
    for (i, j) in batch.iter().enumerate() {
        // Two steps of one instance in a batch: the second was computed from
        // the version the first replaces.
        if j.snap.version == 0 || !seen.insert(j.snap.id) {
            results[i] = Some(Err(ApplyError::Conflict));
        }
    }
    let live: Vec<usize> = (0..batch.len()).filter(|i| results[*i].is_none()).collect();
    let finish = |mut results: Vec<Option<Result<Applied, ApplyError>>>, ok: &[usize]| {
        for &i in ok {
            results[i] = Some(Ok(Applied {
                instance_id: batch[i].snap.id,
                task_ids: Vec::new(),
            }));
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(ApplyError::Conflict)))
            .collect::<Vec<_>>()
    };
    if live.is_empty() {
        return Ok(finish(results, &[]));
    }

    // Fast path, the usual case: only simple steps, none of them stale. One
    // UPDATE (checking every version) and one INSERT. If the UPDATE moved
    // fewer rows than expected, some step is stale: start over, checking first.
    if live.iter().all(|i| is_simple(&batch[*i].outcome)) {
        let mut tx = db.begin().await?;
        if store_simple(&mut tx, batch, &live, now).await? {
            tx.commit().await?;
            return Ok(finish(results, &live));
        }
        tx.rollback().await?;
    }

    let mut tx = db.begin().await?;
    // 1. Current versions, under the write lock.
    let n = padded(live.len());
    let mut sql =
        String::from("SELECT group_concat(id || ':' || version) FROM wf_instances WHERE id IN (");
    for k in 0..n {
        if k > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${}", k + 1));
    }
    sql.push(')');
    let mut q = sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql));
    for k in 0..n {
        q = q.bind(live.get(k).map(|i| batch[*i].snap.id).unwrap_or(-1));
    }
    let listed = q.fetch_one(&mut *tx).await?.unwrap_or_default();
    let versions: HashMap<i64, i64> = listed
        .split(',')
        .filter_map(|p| {
            let (a, b) = p.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    let mut simple = Vec::new();
    for &i in &live {
        let j = &batch[i];
        if versions.get(&j.snap.id) != Some(&j.snap.version) {
            results[i] = Some(Err(ApplyError::Conflict));
        } else if is_simple(&j.outcome) {
            simple.push(i);
        } else {
            // 2. Outcomes with tasks, timers or actions: statement by statement.
            // Local actions run here, in the batch's transaction; a step
            // whose local action refuses is rolled back to its savepoint
            // (store::apply) and refused alone, the others go on.
            match store::apply(
                &mut tx, &j.key, j.def_id, &j.snap, &j.outcome, now, None, locals,
            )
            .await
            {
                Ok(a) => results[i] = Some(Ok(a)),
                Err(e @ ApplyError::Refused { .. }) => results[i] = Some(Err(e)),
                Err(ApplyError::Db(e)) => return Err(e),
                // Cannot happen under the write lock with a checked version;
                // if it does, the one-by-one retry sorts it out.
                Err(ApplyError::Conflict) => return Err(sqlx::Error::RowNotFound),
            }
        }
    }
    // 3. Simple outcomes: one UPDATE and one INSERT for all of them.
    if !simple.is_empty() && !store_simple(&mut tx, batch, &simple, now).await? {
        return Err(sqlx::Error::RowNotFound);
    }
    tx.commit().await?;
    Ok(finish(results, &simple))
}

/// Appends `(…)` with one placeholder per value.
fn row(sql: &mut Sql, values: Vec<Param>) {
    sql.push("(");
    for (k, v) in values.into_iter().enumerate() {
        if k > 0 {
            sql.push(", ");
        }
        sql.bind(v);
    }
    sql.push(")");
}

fn int(v: i64) -> Param {
    Param::Int(Some(v))
}

fn text(v: &str) -> Param {
    Param::Text(Some(v.to_string()))
}

/// Appends the UPDATE that moves the instances of `items` (simple outcomes),
/// each only if its version is still the one its step was computed from.
fn update_simple(sql: &mut Sql, batch: &[WriteJob], items: &[usize], now: DateTime<Utc>) {
    let now_ms = to_db_time(now);
    sql.push(
        "UPDATE wf_instances SET state = v.column2, data = v.column3, version = v.column4, updated_at = v.column5, finished_at = v.column6 FROM (VALUES ",
    );
    for k in 0..padded(items.len()) {
        if k > 0 {
            sql.push(", ");
        }
        row(
            sql,
            match items.get(k) {
                Some(&i) => {
                    let o = &batch[i].outcome;
                    vec![
                        int(batch[i].snap.id),
                        text(&o.state),
                        Param::Text(Some(
                            serde_json::to_string(&o.data).unwrap_or_else(|_| "{}".into()),
                        )),
                        int(o.version),
                        int(now_ms),
                        Param::Int(o.finished.then_some(now_ms)),
                        int(batch[i].snap.version),
                    ]
                }
                // Padding that matches no row.
                None => vec![
                    int(-1),
                    text(""),
                    text(""),
                    int(0),
                    int(0),
                    Param::Int(None),
                    int(-1),
                ],
            },
        );
    }
    sql.push(") AS v WHERE wf_instances.id = v.column1 AND wf_instances.version = v.column7");
}

/// History rows of `items`.
fn history_rows(batch: &[WriteJob], items: &[usize]) -> usize {
    items.iter().map(|&i| batch[i].outcome.history.len()).sum()
}

/// Appends the INSERT of the history of `items`.
fn insert_history(sql: &mut Sql, batch: &[WriteJob], items: &[usize], now: DateTime<Utc>) {
    let now_ms = to_db_time(now);
    let rows: Vec<(usize, usize)> = items
        .iter()
        .flat_map(|&i| (0..batch[i].outcome.history.len()).map(move |h| (i, h)))
        .collect();
    if rows.is_empty() {
        return;
    }
    sql.push(
        "INSERT INTO wf_history (instance_id, step, seq, trigger_kind, trigger_name, from_state, to_state, actor_user_id, at, data_change, details) \
         SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, column10, column11 FROM (VALUES ",
    );
    for k in 0..padded(rows.len()) {
        if k > 0 {
            sql.push(", ");
        }
        row(
            sql,
            match rows.get(k) {
                Some(&(i, h)) => {
                    let o = &batch[i].outcome;
                    let e = &o.history[h];
                    vec![
                        int(batch[i].snap.id),
                        int(o.version),
                        int(h as i64),
                        text(&e.trigger_kind),
                        Param::Text(e.trigger_name.clone()),
                        text(&e.from_state),
                        text(&e.to_state),
                        Param::Int(e.actor),
                        int(now_ms),
                        Param::Text(Some(
                            serde_json::to_string(&e.data_change).unwrap_or_else(|_| "{}".into()),
                        )),
                        Param::Text(Some(
                            serde_json::to_string(&e.details).unwrap_or_else(|_| "null".into()),
                        )),
                    ]
                }
                // Padding, filtered out below.
                None => vec![
                    int(0),
                    int(0),
                    int(0),
                    text(""),
                    Param::Text(None),
                    text(""),
                    text(""),
                    Param::Int(None),
                    int(0),
                    text(""),
                    text(""),
                ],
            },
        );
    }
    sql.push(") WHERE column1 > 0");
}

/// Stores the simple outcomes of `items` with one round trip: the UPDATE
/// and the INSERT as one two-statement query. Returns whether every
/// instance moved (else the caller must roll back: some step was stale).
async fn store_simple(
    conn: &mut sqlx::AnyConnection,
    batch: &[WriteJob],
    items: &[usize],
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut sql = Sql::new("");
    update_simple(&mut sql, batch, items, now);
    let history = history_rows(batch, items);
    if history > 0 {
        sql.push("; ");
        insert_history(&mut sql, batch, items, now);
    }
    // SQLite reports the rows changed by both statements together.
    let moved = sql.query().execute(conn).await?.rows_affected();
    Ok(moved == (items.len() + history) as u64)
}

/// Last stored snapshots of instances in task- and timer-free states.
#[derive(Default)]
pub(crate) struct SnapshotCache {
    map: Mutex<HashMap<i64, (i64, Snapshot)>>,
}

/// Entries kept before the cache is emptied (a crude but bounded policy).
const CACHE_LIMIT: usize = 20_000;

impl SnapshotCache {
    pub fn get(&self, id: i64) -> Option<(i64, Snapshot)> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    pub fn put(&self, def_id: i64, snap: Snapshot) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= CACHE_LIMIT {
            m.clear();
        }
        m.insert(snap.id, (def_id, snap));
    }

    pub fn remove(&self, id: i64) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}
