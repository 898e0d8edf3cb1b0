//! SQL of the engine's own tables: loading a snapshot and storing an outcome.
//!
//! Everything here takes a connection (a pool connection or a transaction's)
//! so that the same code serves standalone calls, the caller's transaction
//! and the workers. The statements are the portable subset of SQLite and
//! PostgreSQL that sqlx's `Any` driver carries: numbered placeholders,
//! integers, text.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::{AnyConnection, Row};

use crate::db::{Dialect, from_db_time, to_db_time};
use crate::engine::{EngineError, UserRef};
use crate::registry::{ActionContext, LocalActions};
use crate::sql::Sql;
use crate::step::{ObjectRef, OpenTask, Outcome, Snapshot, TaskChange, TimerKind, TimerRef};

/// Why an outcome was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Another writer changed the instance (or fired the timer, or completed
    /// the task) since it was loaded.
    #[error("conflict")]
    Conflict,
    /// A local action refused the step (nothing of it is stored).
    #[error("action `{action}` refused: {reason}")]
    Refused { action: String, reason: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Ids created by storing an outcome.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub instance_id: i64,
    pub task_ids: Vec<i64>,
}

pub(crate) struct InstanceRow {
    pub id: i64,
    pub definition_id: i64,
    pub object_kind: String,
    pub object_id: i64,
    pub state: String,
    pub data: String,
    pub version: i64,
    pub finished_at: Option<i64>,
}

pub(crate) async fn definition_source(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(String, i64, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT key, version, yaml FROM wf_definitions WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        None => None,
    })
}

pub(crate) async fn active_definition(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM wf_definitions WHERE key = $1 AND status = 'active'")
        .bind(key)
        .fetch_optional(conn)
        .await
}

pub(crate) async fn running_instances_of(
    conn: &mut AnyConnection,
    kind: &str,
    object_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM wf_instances WHERE object_kind = $1 AND object_id = $2 AND finished_at IS NULL ORDER BY id",
    )
    .bind(kind)
    .bind(object_id)
    .fetch_all(conn)
    .await
}

pub(crate) async fn instance_row(
    conn: &mut AnyConnection,
    id: i64,
    lock: bool,
) -> Result<Option<InstanceRow>, sqlx::Error> {
    const SQL: &str = "SELECT id, definition_id, object_kind, object_id, state, data, version, finished_at FROM wf_instances WHERE id = $1";
    const SQL_LOCK: &str = "SELECT id, definition_id, object_kind, object_id, state, data, version, finished_at FROM wf_instances WHERE id = $1 FOR UPDATE";
    let row = sqlx::query(if lock { SQL_LOCK } else { SQL })
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| instance_from_row(&r)).transpose()
}

fn instance_from_row(r: &sqlx::any::AnyRow) -> Result<InstanceRow, sqlx::Error> {
    instance_from_row_at(r, 0)
}

/// Reads the eight instance columns starting at column `at`.
pub(crate) fn instance_from_row_at(
    r: &sqlx::any::AnyRow,
    at: usize,
) -> Result<InstanceRow, sqlx::Error> {
    Ok(InstanceRow {
        id: r.try_get(at)?,
        definition_id: r.try_get(at + 1)?,
        object_kind: r.try_get(at + 2)?,
        object_id: r.try_get(at + 3)?,
        state: r.try_get(at + 4)?,
        data: r.try_get(at + 5)?,
        version: r.try_get(at + 6)?,
        finished_at: r.try_get(at + 7)?,
    })
}

pub(crate) async fn snapshot(
    conn: &mut AnyConnection,
    row: InstanceRow,
    need_tasks: bool,
    need_timers: bool,
) -> Result<(i64, Snapshot), EngineError> {
    // Corrupt data must never become `{}` and be written back: refuse the
    // step, naming the instance (workers then mark it broken).
    let data: Map<String, Value> = match serde_json::from_str(&row.data) {
        Ok(d) => d,
        Err(e) => {
            let message = format!("`data` is not a JSON object ({e})");
            tracing::error!(instance_id = row.id, %message, "corrupt workflow instance");
            return Err(EngineError::CorruptInstance {
                instance_id: row.id,
                message,
            });
        }
    };
    let mut snap = Snapshot {
        id: row.id,
        object: ObjectRef {
            kind: row.object_kind,
            id: row.object_id,
        },
        state: row.state,
        data,
        version: row.version,
        finished: row.finished_at.is_some(),
        tasks: Vec::new(),
        timers: Vec::new(),
    };
    if need_tasks {
        let rows = sqlx::query(
            "SELECT id, task_key, state, title, org_id, assignee_user_id, claimed_by FROM wf_tasks WHERE instance_id = $1 AND status = 'open' ORDER BY id",
        )
        .bind(row.id)
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            snap.tasks.push(OpenTask {
                id: r.try_get(0)?,
                key: r.try_get(1)?,
                state: r.try_get(2)?,
                title: r.try_get(3)?,
                org_id: r.try_get(4)?,
                assignee: r.try_get(5)?,
                claimed_by: r.try_get(6)?,
            });
        }
    }
    if need_timers {
        let rows = sqlx::query(
            "SELECT id, kind, key, due_at FROM wf_timers WHERE instance_id = $1 ORDER BY id",
        )
        .bind(row.id)
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let kind: String = r.try_get(1)?;
            let Some(kind) = TimerKind::parse(&kind) else {
                continue;
            };
            snap.timers.push(TimerRef {
                id: r.try_get(0)?,
                kind,
                key: r.try_get(2)?,
                due_at: from_db_time(r.try_get(3)?),
            });
        }
    }
    Ok((row.definition_id, snap))
}

fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Stores `outcome` computed from `snap`. A new instance (`snap.version == 0`)
/// is inserted; an existing one is updated only if its version is still
/// `snap.version`. `new_definition` moves the instance to another version
/// (migration). Runs inside the caller's transaction.
///
/// Actions with a handler in `locals` run here, in step order, on `conn`;
/// the others go to the outbox. When the step has a local action it is
/// stored inside a savepoint, so that a refusal (or any error) leaves the
/// caller's transaction as it was — nothing half-saved, even inside a
/// transaction the caller goes on using (`emit_in_tx`, the SQLite batch).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    def_key: &str,
    definition_id: i64,
    snap: &Snapshot,
    o: &Outcome,
    now: DateTime<Utc>,
    new_definition: Option<i64>,
    locals: &LocalActions,
) -> Result<Applied, ApplyError> {
    if !o.actions.iter().any(|a| locals.contains_key(&a.name)) {
        return apply_inner(
            conn,
            def_key,
            definition_id,
            snap,
            o,
            now,
            new_definition,
            locals,
        )
        .await;
    }
    use sqlx::Connection;
    let mut sp = conn.begin().await?;
    match apply_inner(
        &mut sp,
        def_key,
        definition_id,
        snap,
        o,
        now,
        new_definition,
        locals,
    )
    .await
    {
        Ok(a) => {
            sp.commit().await?;
            Ok(a)
        }
        Err(e) => {
            sp.rollback().await?;
            Err(e)
        }
    }
}

/// [`apply`] for a caller whose transaction holds this step alone and is
/// rolled back whole when the step fails or is refused: no savepoint (two
/// round trips fewer).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_alone(
    conn: &mut AnyConnection,
    def_key: &str,
    definition_id: i64,
    snap: &Snapshot,
    o: &Outcome,
    now: DateTime<Utc>,
    locals: &LocalActions,
) -> Result<Applied, ApplyError> {
    apply_inner(conn, def_key, definition_id, snap, o, now, None, locals).await
}

#[allow(clippy::too_many_arguments)]
async fn apply_inner(
    conn: &mut AnyConnection,
    def_key: &str,
    definition_id: i64,
    snap: &Snapshot,
    o: &Outcome,
    now: DateTime<Utc>,
    new_definition: Option<i64>,
    locals: &LocalActions,
) -> Result<Applied, ApplyError> {
    let now_ms = to_db_time(now);
    let data = json_text(&o.data);
    let finished_at = o.finished.then_some(now_ms);
    let instance_id = if snap.version == 0 {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO wf_instances (definition_id, definition_key, object_kind, object_id, state, data, version, created_at, updated_at, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id",
        )
        .bind(definition_id)
        .bind(def_key)
        .bind(&snap.object.kind)
        .bind(snap.object.id)
        .bind(&o.state)
        .bind(&data)
        .bind(o.version)
        .bind(now_ms)
        .bind(finished_at)
        .fetch_one(&mut *conn)
        .await?
    } else {
        let res = sqlx::query(
            "UPDATE wf_instances SET state = $1, data = $2, version = $3, updated_at = $4, finished_at = $5, definition_id = $6, definition_key = $7 \
             WHERE id = $8 AND version = $9",
        )
        .bind(&o.state)
        .bind(&data)
        .bind(o.version)
        .bind(now_ms)
        .bind(finished_at)
        .bind(new_definition.unwrap_or(definition_id))
        .bind(def_key)
        .bind(snap.id)
        .bind(snap.version)
        .execute(&mut *conn)
        .await?;
        if res.rows_affected() != 1 {
            return Err(ApplyError::Conflict);
        }
        snap.id
    };
    if let Some(timer) = o.consumed_timer {
        let res = sqlx::query("DELETE FROM wf_timers WHERE id = $1 AND instance_id = $2")
            .bind(timer)
            .bind(instance_id)
            .execute(&mut *conn)
            .await?;
        if res.rows_affected() != 1 {
            return Err(ApplyError::Conflict);
        }
    }
    if !o.cancel_timers.is_empty() {
        let mut sql = Sql::new("DELETE FROM wf_timers WHERE id IN (");
        sql.bind_list(o.cancel_timers.iter().copied()).push(")");
        sql.query().execute(&mut *conn).await?;
    }
    for c in &o.close_tasks {
        let res = sqlx::query(
            "UPDATE wf_tasks SET status = $1, outcome = $2, form_values = $3, completed_at = $4, completed_by = $5 \
             WHERE id = $6 AND status = 'open'",
        )
        .bind(c.status.as_str())
        .bind(c.outcome.as_deref())
        .bind(c.form.as_ref().map(json_text))
        .bind(now_ms)
        .bind(c.by)
        .bind(c.id)
        .execute(&mut *conn)
        .await?;
        if res.rows_affected() != 1 {
            return Err(ApplyError::Conflict);
        }
    }
    for ch in &o.task_changes {
        match ch {
            TaskChange::Escalate { id, role, org_id } => {
                sqlx::query(
                    "INSERT INTO wf_task_roles (task_id, role, org_id, via) VALUES ($1, $2, $3, 'escalation') ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(role)
                .bind(*org_id)
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE wf_tasks SET escalated_at = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    let mut task_ids = Vec::with_capacity(o.open_tasks.len());
    for t in &o.open_tasks {
        let search = format!("{} {} {}", t.title, def_key, t.key).to_lowercase();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO wf_tasks (instance_id, definition_key, task_key, state, title, search_text, org_id, assignee_user_id, claimed_by, claimed_at, \
             priority, priority_rank, due_at, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'open', $14) RETURNING id",
        )
        .bind(instance_id)
        .bind(def_key)
        .bind(&t.key)
        .bind(&t.state)
        .bind(&t.title)
        .bind(&search)
        .bind(t.org_id)
        .bind(t.assignee)
        .bind(t.claimed_by)
        .bind(t.claimed_by.map(|_| now_ms))
        .bind(t.priority.as_str())
        .bind(t.priority as i64)
        .bind(t.due_at.map(to_db_time))
        .bind(now_ms)
        .fetch_one(&mut *conn)
        .await?;
        task_ids.push(id);
    }
    // The candidates of every new task, and every new timer: one
    // statement each, whatever their number (a statement is a round trip).
    let roles: Vec<(i64, &String, Option<i64>)> = o
        .open_tasks
        .iter()
        .zip(&task_ids)
        .flat_map(|(t, id)| t.roles.iter().map(move |r| (*id, r, t.org_id)))
        .collect();
    if !roles.is_empty() {
        let mut sql = Sql::new("INSERT INTO wf_task_roles (task_id, role, org_id, via) VALUES ");
        for (k, (id, role, org)) in roles.into_iter().enumerate() {
            if k > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(id)
                .push(", ")
                .bind(role.as_str())
                .push(", ")
                .bind(org)
                .push(", 'candidate')");
        }
        sql.query().execute(&mut *conn).await?;
    }
    if !o.set_timers.is_empty() {
        let mut sql = Sql::new(
            "INSERT INTO wf_timers (instance_id, kind, key, due_at, payload, created_at) VALUES ",
        );
        for (k, t) in o.set_timers.iter().enumerate() {
            if k > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(instance_id)
                .push(", ")
                .bind(t.kind.as_str())
                .push(", ")
                .bind(t.key.as_str())
                .push(", ")
                .bind(to_db_time(t.due_at))
                .push(", ")
                .bind(json_text(&t.payload))
                .push(", ")
                .bind(now_ms)
                .push(")");
        }
        sql.query().execute(&mut *conn).await?;
    }
    for a in &o.actions {
        let mut params = a.params.clone();
        if let (Some(key), Value::Object(m)) = (&a.task_key, &mut params)
            && let Some(pos) = o.open_tasks.iter().position(|t| &t.key == key)
        {
            m.insert("task_id".into(), Value::from(task_ids[pos]));
        }
        let key = crate::step::idempotency_key(instance_id, o.version, a.index);
        if let Some(handler) = locals.get(&a.name) {
            let ctx = ActionContext {
                instance_id,
                object: snap.object.clone(),
                definition_key: def_key.to_string(),
                action: a.name.clone(),
                params,
                idempotency_key: key,
                attempt: 1,
            };
            if let Err(e) = handler.run(&mut *conn, ctx).await {
                tracing::info!(instance_id, action = %a.name, reason = %e.message(), "local action refused the step");
                return Err(ApplyError::Refused {
                    action: a.name.clone(),
                    reason: e.message().to_string(),
                });
            }
            continue;
        }
        sqlx::query(
            "INSERT INTO wf_outbox (instance_id, step, action_index, action, params, idempotency_key, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
        )
        .bind(instance_id)
        .bind(o.version)
        .bind(a.index as i64)
        .bind(&a.name)
        .bind(json_text(&params))
        .bind(key)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    if !o.history.is_empty() {
        let mut sql = Sql::new(
            "INSERT INTO wf_history (instance_id, step, seq, trigger_kind, trigger_name, from_state, to_state, actor_user_id, at, data_change, details) VALUES ",
        );
        for (seq, h) in o.history.iter().enumerate() {
            if seq > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(instance_id)
                .push(", ")
                .bind(o.version)
                .push(", ")
                .bind(seq as i64)
                .push(", ")
                .bind(h.trigger_kind.as_str())
                .push(", ")
                .bind(h.trigger_name.clone())
                .push(", ")
                .bind(h.from_state.as_str())
                .push(", ")
                .bind(h.to_state.as_str())
                .push(", ")
                .bind(h.actor)
                .push(", ")
                .bind(now_ms)
                .push(", ")
                .bind(json_text(&h.data_change))
                .push(", ")
                .bind(json_text(&h.details))
                .push(")");
        }
        sql.query().execute(&mut *conn).await?;
    }
    Ok(Applied {
        instance_id,
        task_ids,
    })
}

/// Marks an instance broken (its stored row cannot be stepped): it is
/// listed for administrators ([`crate::Engine::broken_instances`]) and keeps
/// its data as it is for someone to repair.
pub(crate) async fn mark_broken(
    conn: &mut AnyConnection,
    instance_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE wf_instances SET broken_at = $1, broken_reason = $2 WHERE id = $3")
        .bind(to_db_time(now))
        .bind(reason)
        .bind(instance_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Who may act on a task: its status, assignee, claim and role rows.
pub(crate) struct TaskAccess {
    pub task_id: i64,
    pub instance_id: i64,
    pub status: String,
    pub assignee: Option<i64>,
    pub claimed_by: Option<i64>,
    /// (role, organisation, via)
    pub roles: Vec<(String, Option<i64>, String)>,
}

impl TaskAccess {
    fn role_match(&self, u: &UserRef, escalation_only: bool) -> bool {
        self.roles.iter().any(|(role, org, via)| {
            u.roles.iter().any(|r| r == role)
                && match org {
                    Some(o) => *o == u.org_id,
                    None => u.home_org,
                }
                && (!escalation_only || via == "escalation")
        })
    }

    /// Whether `u` sees this task in their inbox (same rule as the inbox query).
    pub fn visible_to(&self, u: &UserRef) -> bool {
        if self.status != "open" {
            return false;
        }
        self.assignee == Some(u.id)
            || self.claimed_by == Some(u.id)
            || self.role_match(u, true)
            || (self.claimed_by.is_none() && self.assignee.is_none() && self.role_match(u, false))
    }

    pub fn check_complete(&self, u: &UserRef) -> Result<(), EngineError> {
        if self.status != "open" {
            return Err(EngineError::Step(crate::step::StepError::TaskNotOpen(
                self.task_id,
            )));
        }
        if let Some(c) = self.claimed_by
            && c != u.id
            && !self.role_match(u, true)
        {
            return Err(EngineError::NotAllowed("claimed_by_other"));
        }
        if !self.visible_to(u) {
            return Err(EngineError::NotAllowed("not_a_candidate"));
        }
        Ok(())
    }
}

/// A task and who may do it, in one read.
pub(crate) async fn task_access(
    conn: &mut AnyConnection,
    dialect: Dialect,
    task_id: i64,
) -> Result<Option<TaskAccess>, sqlx::Error> {
    let sql = format!(
        "SELECT t.instance_id, t.status, t.assignee_user_id, t.claimed_by, {} FROM wf_tasks t WHERE t.id = $1",
        task_roles_column(dialect)
    );
    let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(task_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(TaskAccess {
        task_id,
        instance_id: r.try_get(0)?,
        status: r.try_get(1)?,
        assignee: r.try_get(2)?,
        claimed_by: r.try_get(3)?,
        roles: parse_task_roles(r.try_get(4)?),
    }))
}

/// A column with the role rows of task `t` (`role:org:via`, comma-separated),
/// so that a task and who may do it are read together.
pub(crate) fn task_roles_column(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "(SELECT group_concat(r.role || ':' || COALESCE(CAST(r.org_id AS TEXT), '') || ':' || r.via, ',') FROM wf_task_roles r WHERE r.task_id = t.id)"
        }
        Dialect::Postgres => {
            "(SELECT string_agg(r.role || ':' || COALESCE(CAST(r.org_id AS TEXT), '') || ':' || r.via, ',') FROM wf_task_roles r WHERE r.task_id = t.id)"
        }
    }
}

/// The rows of [`task_roles_column`]: (role, organisation, via), ordered by
/// via and role. Role and via names are identifiers (no `,` or `:`).
pub(crate) fn parse_task_roles(text: Option<String>) -> Vec<(String, Option<i64>, String)> {
    let mut roles: Vec<(String, Option<i64>, String)> = text
        .unwrap_or_default()
        .split(',')
        .filter_map(|item| {
            let mut parts = item.splitn(3, ':');
            let role = parts.next()?.to_string();
            let org = parts.next()?;
            let via = parts.next()?.to_string();
            (!role.is_empty()).then(|| (role, org.parse().ok(), via))
        })
        .collect();
    roles.sort_by(|a, b| (&a.2, &a.0).cmp(&(&b.2, &b.0)));
    roles
}
