//! Background workers: the timer worker fires due timers, the outbox worker
//! runs actions. Both are safe to run in several processes at once.
//!
//! **Timers fire exactly once.** A timer row is deleted in the transaction of
//! the step it triggers, and the delete must affect one row. On PostgreSQL
//! one query claims the earliest due timer *and* its instance with
//! `FOR UPDATE SKIP LOCKED`: workers take different timers, and a worker
//! never waits for an instance while holding a timer (so it cannot deadlock
//! with a step that cancels that timer). Several timer loops may run in one
//! process. On SQLite the whole firing runs under the single writer lock
//! (`BEGIN IMMEDIATE`).
//!
//! **Timers that fail are isolated.** A firing that fails (a database error,
//! a corrupt instance or payload) is rolled back and recorded on the timer
//! (`attempts`, `last_error`, a backoff); after `max_attempts` the timer is
//! parked (`failed_at`) for an administrator ([`Engine::failed_timers`]), so
//! one bad timer never stalls the ones due after it. An instance whose data
//! does not parse is marked broken, never overwritten.
//!
//! **Two kinds of actions.** *Local* actions never reach this module: they
//! run inside the step's own transaction, exactly once with it (see
//! [`crate::registry`]). *External* actions go through the outbox and run
//! **at least once**. A worker claims outbox rows with a lease
//! (`locked_until`) that it extends every third of the lease while the
//! handler works; a crashed worker's rows are taken over when the lease
//! ends. Completion is accepted only from the run that holds the current
//! attempt. The rows of one instance are claimed one at a time, in step
//! order: a row waits while an earlier row of its instance is pending or
//! running (also while it waits for a retry). Each run gets the same
//! idempotency key, which the handler passes to the provider; the handler's
//! result is stored on the row. A row that can never run (its instance is
//! gone, its params do not parse) is failed with the reason instead of being
//! re-claimed. Failures are retried with
//! exponential backoff; the result goes back to the instance as the event
//! `<action>.done` (payload: the handler's result) or, after the last
//! attempt, `<action>.failed` — through the normal step path, in the same
//! transaction that marks the row done. Results are fed back only when the
//! instance's definition listens to that event somewhere, so that workflows
//! that do not care get no "ignored" lines in their history. The engine's
//! own task notifications (`task.created`, `task.remind`, `task.escalated`)
//! run as local actions when the host registered local handlers for them,
//! through the outbox when it registered external ones, and complete as
//! no-ops when it registered none.
//!
//! **Idle costs nothing.** A worker sleeps until the next due time (one
//! `MIN()` query), woken early by an in-process notification when a commit
//! adds timers or actions, and at least every `poll_interval` to see other
//! processes' work.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::{Dialect, from_db_time, to_db_time};
use crate::dsl::RESERVED_ACTIONS;
use crate::engine::{Engine, EngineError};
use crate::registry::{ActionContext, ActionError};
use crate::step::{ObjectRef, StepContext, TimerKind, Trigger, error_outcome, step};
use crate::store::{self, ApplyError};

/// What one attempt to fire a timer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fire {
    /// A timer fired; `lag` is how late (now − due).
    Fired { lag_ms: i64 },
    /// A due timer's instance is busy in another transaction; try again soon.
    Busy,
    /// Firing this timer failed; it was given a backoff (or parked as failed
    /// after its last attempt). Other timers go on.
    Failed { timer_id: i64 },
    /// Nothing is due.
    Idle,
}

/// A claimed outbox row.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub instance_id: i64,
    pub step: i64,
    pub action_index: i64,
    pub action: String,
    pub params: Value,
    pub idempotency_key: String,
    /// This run's attempt number (1-based).
    pub attempt: u32,
}

/// What [`Engine::run_due_now`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DueReport {
    pub timers_fired: usize,
    pub actions_run: usize,
}

impl Engine {
    /// Fires the earliest due timer, if any. A timer whose firing fails
    /// (a database error, a corrupt instance or payload) is not retried at
    /// once: it gets `attempts`/`last_error` and a backoff, and after
    /// [`crate::EngineConfig::max_attempts`] it is parked as failed
    /// (`failed_at`, listed by [`Engine::failed_timers`]), so that one bad
    /// timer never stalls the ones due after it.
    pub async fn fire_one_timer(&self) -> Result<Fire, EngineError> {
        let db = &self.inner.db;
        let now = db.now();
        let mut tx = db.begin().await?;
        // One query claims the earliest due timer together with its instance.
        // On PostgreSQL both rows are locked, and a timer whose instance is
        // busy in another transaction is skipped (never waited for).
        let lock = match db.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "SELECT t.id, t.kind, t.key, t.payload, t.due_at, t.attempts, \
             i.id, i.definition_id, i.object_kind, i.object_id, i.state, i.data, i.version, i.finished_at \
             FROM wf_timers t JOIN wf_instances i ON i.id = t.instance_id \
             WHERE t.due_at <= $1 AND t.failed_at IS NULL ORDER BY t.due_at LIMIT 1{lock}"
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_db_time(now))
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(Fire::Idle);
        };
        let timer_id: i64 = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let key: String = row.try_get(2)?;
        let payload: String = row.try_get(3)?;
        let due_at: i64 = row.try_get(4)?;
        let attempts: i64 = row.try_get(5)?;
        let inst = store::instance_from_row_at(&row, 6)?;
        let Some(kind) = TimerKind::parse(&kind) else {
            // Written by a newer engine version, or by hand: drop it rather than loop.
            tracing::error!(timer_id, kind, "unknown timer kind; deleting the timer");
            sqlx::query("DELETE FROM wf_timers WHERE id = $1")
                .bind(timer_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Fire::Fired { lag_ms: 0 });
        };
        let instance_id = inst.id;
        match self
            .fire_claimed(&mut tx, timer_id, kind, key, &payload, inst)
            .await
        {
            Ok(applied) => {
                tx.commit().await?;
                self.after_commit(applied.0, applied.1);
                let lag_ms = to_db_time(now) - due_at;
                metrics::histogram!("engine_timer_lag_seconds").record(lag_ms as f64 / 1000.0);
                Ok(Fire::Fired { lag_ms })
            }
            Err(StepApplyError::Conflict) => {
                tx.rollback().await?;
                Ok(Fire::Busy)
            }
            Err(StepApplyError::Engine(e)) => {
                let _ = tx.rollback().await;
                self.timer_failed(timer_id, instance_id, attempts, due_at, &e)
                    .await?;
                Ok(Fire::Failed { timer_id })
            }
        }
    }

    /// Steps a claimed timer inside `tx`.
    async fn fire_claimed(
        &self,
        tx: &mut crate::db::Tx,
        timer_id: i64,
        kind: TimerKind,
        key: String,
        payload: &str,
        inst: store::InstanceRow,
    ) -> Result<(bool, bool), StepApplyError> {
        let payload = serde_json::from_str(payload).map_err(|e| {
            StepApplyError::Engine(EngineError::CorruptTimer {
                timer_id,
                message: e.to_string(),
            })
        })?;
        let trigger = Trigger::Timer {
            id: timer_id,
            kind,
            key,
            payload,
        };
        let def_id = inst.definition_id;
        let (need_tasks, need_timers) = match self.definition_on(tx, def_id).await {
            Ok(def) => match def.state(&inst.state) {
                Some(s) => (!s.tasks.is_empty(), s.has_timers()),
                None => (true, true),
            },
            Err(EngineError::Db(e)) => return Err(StepApplyError::Engine(e.into())),
            Err(_) => (true, true),
        };
        let snap = store::snapshot(tx, inst, need_tasks, need_timers)
            .await
            .map_err(StepApplyError::Engine)?
            .1;
        self.step_and_apply(tx, def_id, &snap, &trigger).await
    }

    /// Records a failed firing: backoff, or parked as failed after the last
    /// attempt. A corrupt instance is marked broken as well.
    async fn timer_failed(
        &self,
        timer_id: i64,
        instance_id: i64,
        attempts: i64,
        due_at: i64,
        error: &EngineError,
    ) -> Result<(), EngineError> {
        let db = &self.inner.db;
        let now = db.now();
        let attempt = attempts + 1;
        let last = attempt >= self.inner.config.max_attempts.max(1) as i64;
        let message = error.to_string();
        let mut tx = db.begin().await?;
        if let EngineError::CorruptInstance { message, .. } = error {
            store::mark_broken(&mut tx, instance_id, message, now).await?;
        }
        let next_due = if last {
            due_at
        } else {
            to_db_time(now + self.backoff(attempt.clamp(1, u32::MAX as i64) as u32))
        };
        sqlx::query(
            "UPDATE wf_timers SET attempts = $1, last_error = $2, due_at = $3, failed_at = $4 WHERE id = $5",
        )
        .bind(attempt)
        .bind(&message)
        .bind(next_due)
        .bind(last.then_some(to_db_time(now)))
        .bind(timer_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if last {
            tracing::error!(timer_id, instance_id, attempt, error = %message, "timer failed for good; parked");
        } else {
            tracing::warn!(timer_id, instance_id, attempt, error = %message, "timer failed; will retry");
        }
        metrics::counter!("engine_timer_failures_total").increment(1);
        Ok(())
    }

    /// Steps `trigger` on `snap` inside `tx` and stores the outcome. A step
    /// that fails on the workflow's own terms (bad expression, bad data) is
    /// stored as an `error` history line instead, so that a worker never
    /// retries a broken step forever. Returns whether timers / actions were added.
    async fn step_and_apply(
        &self,
        conn: &mut AnyConnection,
        def_id: i64,
        snap: &crate::step::Snapshot,
        trigger: &Trigger,
    ) -> Result<(bool, bool), StepApplyError> {
        let db = &self.inner.db;
        self.inner.cache.remove(snap.id);
        let def = match self.definition_on(conn, def_id).await {
            Ok(d) => d,
            Err(EngineError::Db(e)) => return Err(StepApplyError::Engine(e.into())),
            Err(e) => {
                // The stored definition no longer compiles: consume the trigger
                // and say so in the history instead of looping on it.
                tracing::error!(instance_id = snap.id, error = %e, "definition does not compile");
                let o = error_outcome(snap, trigger, &e.to_string());
                return self.apply_fallback(conn, def_id, snap, &o).await;
            }
        };
        // A failing context provider would otherwise block this timer (and
        // every later one) forever: record it like a failed step.
        let outcome = match self.object_context(conn, &def, &snap.object).await {
            Err(EngineError::Db(e)) => return Err(StepApplyError::Engine(e.into())),
            Err(e) => {
                tracing::warn!(instance_id = snap.id, error = %e, "context failed; recorded in history");
                error_outcome(snap, trigger, &e.to_string())
            }
            Ok(object) => {
                let ctx = StepContext {
                    object,
                    strict: false,
                };
                match step(&def, snap, trigger, &ctx, db.now()) {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::warn!(instance_id = snap.id, error = %e, "step failed; recorded in history");
                        error_outcome(snap, trigger, &e.to_string())
                    }
                }
            }
        };
        if outcome.is_noop() {
            return Ok((false, false));
        }
        let locals = &self.inner.locals;
        match store::apply(
            conn,
            &def.key,
            def_id,
            snap,
            &outcome,
            db.now(),
            None,
            locals,
        )
        .await
        {
            Ok(_) => Ok((
                self.timers_to_wake(&outcome),
                self.has_outbox_work(&outcome),
            )),
            Err(ApplyError::Conflict) => Err(StepApplyError::Conflict),
            Err(ApplyError::Refused { action, reason }) => {
                // Nobody waits for this step: say in the history why it did
                // not happen (the savepoint left nothing of it behind).
                tracing::warn!(
                    instance_id = snap.id,
                    action,
                    reason,
                    "local action refused a background step"
                );
                let o = error_outcome(
                    snap,
                    trigger,
                    &format!("action `{action}` refused: {reason}"),
                );
                self.apply_fallback(conn, def_id, snap, &o).await
            }
            Err(ApplyError::Db(e)) => Err(StepApplyError::Engine(e.into())),
        }
    }

    async fn apply_fallback(
        &self,
        conn: &mut AnyConnection,
        def_id: i64,
        snap: &crate::step::Snapshot,
        o: &crate::step::Outcome,
    ) -> Result<(bool, bool), StepApplyError> {
        let key: String = sqlx::query_scalar("SELECT key FROM wf_definitions WHERE id = $1")
            .bind(def_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| StepApplyError::Engine(e.into()))?;
        let (db, locals) = (&self.inner.db, &self.inner.locals);
        match store::apply(conn, &key, def_id, snap, o, db.now(), None, locals).await {
            Ok(_) => Ok((false, false)),
            Err(ApplyError::Conflict) => Err(StepApplyError::Conflict),
            Err(e @ ApplyError::Refused { .. }) => {
                Err(StepApplyError::Engine(crate::engine::apply_error(e)))
            }
            Err(ApplyError::Db(e)) => Err(StepApplyError::Engine(e.into())),
        }
    }

    /// Fires due timers until none is due or `max` have fired.
    pub async fn fire_due_timers(&self, max: usize) -> Result<usize, EngineError> {
        let mut fired = 0;
        let mut busy = 0;
        while fired < max {
            match self.fire_one_timer().await? {
                Fire::Fired { .. } => fired += 1,
                // Backed off: not due again before the loop ends.
                Fire::Failed { .. } => {}
                Fire::Busy => {
                    busy += 1;
                    if busy > 1000 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Fire::Idle => break,
            }
        }
        Ok(fired)
    }

    /// Claims up to `limit` due outbox rows for this worker. A row is taken
    /// only when no earlier row of its instance (lower step, or same step
    /// and lower action index) is still pending or running: the actions of
    /// one instance run one at a time, in step order, and a row waiting for
    /// its retry holds back the later ones until it is done or finally
    /// failed (so that, say, a status projection never goes back).
    pub async fn claim_jobs(&self, limit: usize) -> Result<Vec<Job>, EngineError> {
        let db = &self.inner.db;
        let now = db.now();
        let lease_until = now
            + chrono::Duration::from_std(self.inner.config.lease)
                .unwrap_or(chrono::Duration::minutes(5));
        let lock = match db.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE wf_outbox SET status = 'running', attempts = attempts + 1, locked_until = $1, next_attempt_at = $1 \
             WHERE id IN (SELECT o.id FROM wf_outbox o WHERE o.status IN ('pending', 'running') AND o.next_attempt_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM wf_outbox e WHERE e.instance_id = o.instance_id \
             AND e.status IN ('pending', 'running') \
             AND (e.step < o.step OR (e.step = o.step AND e.action_index < o.action_index))) \
             ORDER BY o.next_attempt_at, o.id LIMIT $3{lock}) \
             RETURNING id, instance_id, step, action_index, action, params, idempotency_key, attempts"
        );
        let mut tx = db.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_db_time(lease_until))
            .bind(to_db_time(now))
            .bind(limit as i64)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut jobs = Vec::with_capacity(rows.len());
        let mut poison = Vec::new();
        for r in rows {
            let params: String = r.try_get(5)?;
            let attempts: i64 = r.try_get(7)?;
            let job = Job {
                id: r.try_get(0)?,
                instance_id: r.try_get(1)?,
                step: r.try_get(2)?,
                action_index: r.try_get(3)?,
                action: r.try_get(4)?,
                params: Value::Null,
                idempotency_key: r.try_get(6)?,
                attempt: attempts.clamp(1, u32::MAX as i64) as u32,
            };
            match serde_json::from_str(&params) {
                Ok(p) => jobs.push(Job { params: p, ..job }),
                Err(e) => poison.push((job, format!("corrupt params: {e}"))),
            }
        }
        // A row that can never run is failed with its reason, not re-claimed forever.
        for (job, reason) in poison {
            self.fail_poison(&job, &reason).await?;
        }
        // RETURNING keeps no order on PostgreSQL: oldest first.
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// Marks a claimed row failed for a reason no retry can cure (its
    /// instance is gone, its params do not parse). Listed by
    /// [`Engine::failed_actions`].
    async fn fail_poison(&self, job: &Job, reason: &str) -> Result<(), EngineError> {
        tracing::error!(outbox_id = job.id, instance_id = job.instance_id, action = %job.action, reason, "outbox row cannot run; marked failed");
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        sqlx::query(
            "UPDATE wf_outbox SET status = 'failed', completed_at = $1, locked_until = NULL, last_error = $2 \
             WHERE id = $3 AND status = 'running' AND attempts = $4",
        )
        .bind(to_db_time(db.now()))
        .bind(reason)
        .bind(job.id)
        .bind(job.attempt as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs one claimed job and records its result. While the handler runs,
    /// the lease is extended every third of it (see [`Engine::extend_lease`]).
    pub async fn run_job(&self, job: Job) -> Result<(), EngineError> {
        let info = {
            let mut conn = self.inner.db.pool().acquire().await?;
            sqlx::query(
                "SELECT object_kind, object_id, definition_key FROM wf_instances WHERE id = $1",
            )
            .bind(job.instance_id)
            .fetch_optional(&mut *conn)
            .await?
        };
        let Some(info) = info else {
            let reason = EngineError::InstanceNotFound(job.instance_id).to_string();
            return self.fail_poison(&job, &reason).await;
        };
        let ctx = ActionContext {
            instance_id: job.instance_id,
            object: ObjectRef {
                kind: info.try_get(0)?,
                id: info.try_get(1)?,
            },
            definition_key: info.try_get(2)?,
            action: job.action.clone(),
            params: job.params.clone(),
            idempotency_key: job.idempotency_key.clone(),
            attempt: job.attempt,
        };
        let run = async {
            match self.inner.actions.get(&job.action) {
                Some(h) => {
                    let h = h.clone();
                    match std::panic::AssertUnwindSafe(h.run(ctx))
                        .catch_unwind()
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(ActionError::Retry("the action handler panicked".into())),
                    }
                }
                None if RESERVED_ACTIONS.contains(&job.action.as_str()) => Ok(Value::Null),
                None => Err(ActionError::Retry(format!(
                    "no handler registered for action `{}` in this process",
                    job.action
                ))),
            }
        };
        let result = self.with_heartbeat(&job, run).await;
        let timer = std::time::Instant::now();
        let outcome = self.finish_job(&job, result).await;
        metrics::histogram!("engine_outbox_finish_seconds").record(timer.elapsed().as_secs_f64());
        outcome
    }

    /// Runs `work`, extending the job's lease every third of the lease while
    /// it runs, as long as this run still owns the row.
    async fn with_heartbeat<T>(&self, job: &Job, work: impl std::future::Future<Output = T>) -> T {
        let every = (self.inner.config.lease / 3).max(Duration::from_millis(10));
        tokio::pin!(work);
        let mut owned = true;
        loop {
            tokio::select! {
                r = &mut work => return r,
                _ = tokio::time::sleep(every), if owned => {
                    match self.extend_lease(job).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(outbox_id = job.id, action = %job.action, "lost the lease of a running action");
                            owned = false;
                        }
                        Err(e) => tracing::warn!(outbox_id = job.id, error = %e, "cannot extend an action's lease"),
                    }
                }
            }
        }
    }

    /// Moves the lease of a running job to now + lease, if this run (its
    /// attempt) still owns the row. Returns whether it did.
    pub async fn extend_lease(&self, job: &Job) -> Result<bool, EngineError> {
        let db = &self.inner.db;
        let until = db.now()
            + chrono::Duration::from_std(self.inner.config.lease)
                .unwrap_or(chrono::Duration::minutes(5));
        let until = to_db_time(until);
        let mut tx = db.begin().await?;
        let res = sqlx::query(
            "UPDATE wf_outbox SET locked_until = $1, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'running' AND attempts = $3",
        )
        .bind(until)
        .bind(job.id)
        .bind(job.attempt as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    fn backoff(&self, attempt: u32) -> chrono::Duration {
        let base = self.inner.config.backoff_base.as_millis() as i64;
        let max = self.inner.config.backoff_max.as_millis() as i64;
        let factor = 1_i64
            .checked_shl(attempt.saturating_sub(1).min(40))
            .unwrap_or(i64::MAX);
        chrono::Duration::milliseconds(base.saturating_mul(factor).min(max))
    }

    async fn finish_job(
        &self,
        job: &Job,
        result: Result<Value, ActionError>,
    ) -> Result<(), EngineError> {
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        let (event, payload) = match self.record_result(&mut tx, job, &result).await? {
            Recorded::Lost => {
                // The lease ran out and another run owns the row now.
                tx.rollback().await?;
                return Ok(());
            }
            Recorded::Retrying => {
                tx.commit().await?;
                self.inner.outbox_changed.notify_one();
                return Ok(());
            }
            Recorded::Final(event, payload) => (event, payload),
        };
        let mut added = (false, false);
        if !RESERVED_ACTIONS.contains(&job.action.as_str()) {
            match self
                .feed_back(&mut tx, job.instance_id, &event, payload)
                .await
            {
                Ok(a) => added = a,
                Err(EngineError::CorruptInstance {
                    instance_id,
                    message,
                }) => {
                    // The result cannot be delivered: keep it on the row,
                    // mark the instance broken, and do not run the action again.
                    tx.rollback().await?;
                    let mut tx = db.begin().await?;
                    if !matches!(
                        self.record_result(&mut tx, job, &result).await?,
                        Recorded::Final(..)
                    ) {
                        tx.rollback().await?;
                        return Ok(());
                    }
                    store::mark_broken(&mut tx, instance_id, &message, db.now()).await?;
                    tx.commit().await?;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        self.after_commit(added.0, added.1);
        // The next action of this instance, if any, may run now.
        self.inner.outbox_changed.notify_one();
        Ok(())
    }

    /// Stores a run's result on its outbox row (if this run still owns it).
    async fn record_result(
        &self,
        tx: &mut crate::db::Tx,
        job: &Job,
        result: &Result<Value, ActionError>,
    ) -> Result<Recorded, EngineError> {
        let now = self.inner.db.now();
        let now_ms = to_db_time(now);
        match result {
            Ok(v) => {
                let res = sqlx::query(
                    "UPDATE wf_outbox SET status = 'done', result = $1, completed_at = $2, locked_until = NULL, last_error = NULL \
                     WHERE id = $3 AND status = 'running' AND attempts = $4",
                )
                .bind(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
                .bind(now_ms)
                .bind(job.id)
                .bind(job.attempt as i64)
                .execute(&mut **tx)
                .await?;
                if res.rows_affected() != 1 {
                    return Ok(Recorded::Lost);
                }
                Ok(Recorded::Final(format!("{}.done", job.action), v.clone()))
            }
            Err(e) => {
                let (last, message) = match e {
                    ActionError::Fail(m) => (true, m.clone()),
                    ActionError::Retry(m) => {
                        (job.attempt >= self.inner.config.max_attempts, m.clone())
                    }
                };
                if !last {
                    let next = now + self.backoff(job.attempt);
                    let res = sqlx::query(
                        "UPDATE wf_outbox SET status = 'pending', next_attempt_at = $1, locked_until = NULL, last_error = $2 \
                         WHERE id = $3 AND status = 'running' AND attempts = $4",
                    )
                    .bind(to_db_time(next))
                    .bind(&message)
                    .bind(job.id)
                    .bind(job.attempt as i64)
                    .execute(&mut **tx)
                    .await?;
                    if res.rows_affected() != 1 {
                        return Ok(Recorded::Lost);
                    }
                    tracing::info!(action = %job.action, attempt = job.attempt, error = %message, "action will be retried");
                    return Ok(Recorded::Retrying);
                }
                let res = sqlx::query(
                    "UPDATE wf_outbox SET status = 'failed', completed_at = $1, locked_until = NULL, last_error = $2 \
                     WHERE id = $3 AND status = 'running' AND attempts = $4",
                )
                .bind(now_ms)
                .bind(&message)
                .bind(job.id)
                .bind(job.attempt as i64)
                .execute(&mut **tx)
                .await?;
                if res.rows_affected() != 1 {
                    return Ok(Recorded::Lost);
                }
                tracing::warn!(action = %job.action, attempt = job.attempt, error = %message, "action failed");
                Ok(Recorded::Final(
                    format!("{}.failed", job.action),
                    json!({"error": message, "attempts": job.attempt}),
                ))
            }
        }
    }

    /// Delivers an action's result event inside the transaction that marks
    /// the outbox row done, so that the two happen together.
    async fn feed_back(
        &self,
        tx: &mut crate::db::Tx,
        instance_id: i64,
        event: &str,
        payload: Value,
    ) -> Result<(bool, bool), EngineError> {
        let dialect = self.inner.db.dialect();
        let conn: &mut AnyConnection = tx;
        let Some(inst) =
            store::instance_row(conn, instance_id, dialect == Dialect::Postgres).await?
        else {
            return Ok((false, false));
        };
        let def_id = inst.definition_id;
        let def = self.definition_on(conn, def_id).await?;
        if !def.listened_events.contains(event) {
            return Ok((false, false));
        }
        let (need_tasks, need_timers) = match def.state(&inst.state) {
            Some(s) => (!s.tasks.is_empty(), s.has_timers()),
            None => (true, true),
        };
        let snap = store::snapshot(conn, inst, need_tasks, need_timers)
            .await?
            .1;
        let trigger = Trigger::Event {
            name: event.to_string(),
            payload,
            actor: None,
        };
        match self.step_and_apply(conn, def_id, &snap, &trigger).await {
            Ok(x) => Ok(x),
            // The row is locked (PostgreSQL) or we are the only writer (SQLite): no conflict.
            Err(StepApplyError::Conflict) => Err(EngineError::Conflict(1)),
            Err(StepApplyError::Engine(e)) => Err(e),
        }
    }

    /// Claims and runs due actions one after another (no concurrency).
    pub async fn run_due_actions(&self, max: usize) -> Result<usize, EngineError> {
        let mut done = 0;
        while done < max {
            let jobs = self.claim_jobs((max - done).min(64)).await?;
            if jobs.is_empty() {
                break;
            }
            for j in jobs {
                self.run_job(j).await?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Fires every due timer and runs every due action, repeatedly, until
    /// nothing is due at the clock's `now`. For tests (with a `ManualClock`)
    /// and for one-shot runs.
    pub async fn run_due_now(&self) -> Result<DueReport, EngineError> {
        let mut report = DueReport::default();
        for _ in 0..10_000 {
            let fired = self.fire_due_timers(10_000).await?;
            let ran = self.run_due_actions(10_000).await?;
            report.timers_fired += fired;
            report.actions_run += ran;
            if fired == 0 && ran == 0 {
                break;
            }
        }
        Ok(report)
    }

    /// The earliest pending timer.
    pub async fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, EngineError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_at) FROM wf_timers WHERE failed_at IS NULL")
                .fetch_one(self.inner.db.pool())
                .await?;
        Ok(v.map(from_db_time))
    }

    /// The earliest moment an outbox row becomes due (new, retry or lease end).
    pub async fn next_action_due(&self) -> Result<Option<DateTime<Utc>>, EngineError> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM wf_outbox WHERE status IN ('pending', 'running')",
        )
        .fetch_one(self.inner.db.pool())
        .await?;
        Ok(v.map(from_db_time))
    }

    /// How long to sleep until `next`, at most the poll interval.
    fn idle_wait(&self, next: Option<DateTime<Utc>>) -> Duration {
        let cap = self.inner.config.poll_interval;
        match next {
            None => cap,
            Some(t) => {
                let ms = (t - self.inner.db.now()).num_milliseconds().max(0) as u64;
                Duration::from_millis(ms).min(cap)
            }
        }
    }

    /// Runs the timer worker until `shutdown` is cancelled. It reads when
    /// the earliest timer is due and opens a write transaction only when
    /// one is: being woken (a step set a timer) or polled costs one read,
    /// and on SQLite never takes the single writer.
    pub async fn run_timer_worker(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let wait = match self.next_timer_due().await {
                Ok(next) if next.is_some_and(|t| t <= self.inner.db.now()) => {
                    self.fire_while_due(&shutdown).await;
                    continue;
                }
                Ok(next) => self.idle_wait(next),
                Err(e) => {
                    tracing::warn!(error = %e, "timer worker");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.inner.timers_changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Fires due timers until none is (or the instance of the next one stays
    /// busy, or the database fails).
    async fn fire_while_due(&self, shutdown: &CancellationToken) {
        let mut busy_streak = 0u32;
        while !shutdown.is_cancelled() {
            match self.fire_one_timer().await {
                Ok(Fire::Fired { .. } | Fire::Failed { .. }) => busy_streak = 0,
                Ok(Fire::Busy) => {
                    busy_streak = (busy_streak + 1).min(8);
                    tokio::time::sleep(Duration::from_millis(2 << busy_streak)).await;
                }
                Ok(Fire::Idle) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "timer worker");
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    return;
                }
            }
        }
    }

    /// Runs the outbox worker until `shutdown` is cancelled; running actions
    /// are let finish. Like the timer worker, it reads when the next row is
    /// due and claims (a write) only when one is.
    pub async fn run_outbox_worker(&self, shutdown: CancellationToken) {
        let concurrency = self.inner.config.outbox_concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        while !shutdown.is_cancelled() {
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    p = slots.clone().acquire_owned() => drop(p),
                }
                continue;
            }
            let wait = match self.next_action_due().await {
                Ok(next) if next.is_some_and(|t| t <= self.inner.db.now()) => {
                    match self.claim_jobs(free).await {
                        Ok(jobs) if !jobs.is_empty() => {
                            for job in jobs {
                                let Ok(permit) = slots.clone().acquire_owned().await else {
                                    break;
                                };
                                let engine = self.clone();
                                tokio::spawn(async move {
                                    let _permit = permit;
                                    let action = job.action.clone();
                                    if let Err(e) = engine.run_job(job).await {
                                        tracing::warn!(action, error = %e, "outbox job");
                                    }
                                });
                            }
                            continue;
                        }
                        // Due rows wait behind a running action of their
                        // instance; its end wakes this loop (or the pause ends).
                        Ok(_) => Duration::from_millis(50),
                        Err(e) => {
                            tracing::warn!(error = %e, "outbox worker");
                            Duration::from_secs(1)
                        }
                    }
                }
                Ok(next) => self.idle_wait(next),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox worker");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.inner.outbox_changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let _ = slots.acquire_many(concurrency as u32).await;
    }

    /// Starts the timer workers (see [`crate::EngineConfig::timer_workers`])
    /// and one outbox worker on the current runtime.
    pub fn spawn_workers(&self, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        let timers = match self.inner.config.timer_workers {
            0 => match self.inner.db.dialect() {
                Dialect::Sqlite => 1,
                Dialect::Postgres => 4,
            },
            n => n,
        };
        let mut handles = Vec::new();
        for _ in 0..timers {
            let t = self.clone();
            let ts = shutdown.clone();
            handles.push(tokio::spawn(async move { t.run_timer_worker(ts).await }));
        }
        let o = self.clone();
        handles.push(tokio::spawn(
            async move { o.run_outbox_worker(shutdown).await },
        ));
        handles
    }
}

enum StepApplyError {
    Conflict,
    Engine(EngineError),
}

/// What storing a run's result did.
enum Recorded {
    /// Another run owns the row now; nothing stored.
    Lost,
    /// Scheduled for another attempt.
    Retrying,
    /// Done or finally failed: this event goes back to the instance.
    Final(String, Value),
}
