//! Read models for the web UI: the task inbox, instances, history, timers,
//! and a definition's graph for a diagram.
//!
//! Who sees a task (one rule, used by the inbox query and by claim/complete):
//! its assignee; whoever claimed it; and, while it is neither claimed nor
//! assigned, members of a candidate role *in the task's organisation* — a
//! role row with no organisation is for the host's own (home) organisation
//! ([`UserRef::home_org`]). After an
//! escalation, members of the escalation role see it even if it is claimed
//! or assigned. This is what keeps a supplier's dispatcher task inside that
//! supplier.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;

use crate::db::{from_db_time, to_db_time};
use crate::engine::{Engine, EngineError, UserRef};
use crate::model::{FormField, Priority, When};
use crate::sql::Sql;
use crate::step::ObjectRef;
use crate::store;

/// A task as lists and pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: i64,
    pub instance_id: i64,
    pub definition_key: String,
    pub object: ObjectRef,
    pub task_key: String,
    pub state: String,
    pub title: String,
    pub org_id: Option<i64>,
    pub assignee: Option<i64>,
    pub claimed_by: Option<i64>,
    pub claimed_at: Option<DateTime<Utc>>,
    /// `low`, `normal`, `high`, `urgent`.
    pub priority: String,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// `open`, `done`, `cancelled`.
    pub status: String,
    pub outcome: Option<String>,
    pub form_values: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<i64>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// Candidate and escalation roles.
    pub roles: Vec<String>,
    /// The role rows (role, organisation, via) behind `roles`, for
    /// [`TaskView::can_act`].
    #[serde(skip)]
    pub(crate) role_rows: Vec<(String, Option<i64>, String)>,
}

impl TaskView {
    /// Whether `u` may see and do this task — [`Engine::can_act`] answered
    /// from the task as read, without reading it again.
    pub fn can_act(&self, u: &UserRef) -> bool {
        store::TaskAccess {
            task_id: self.id,
            instance_id: self.instance_id,
            status: self.status.clone(),
            assignee: self.assignee,
            claimed_by: self.claimed_by,
            roles: self.role_rows.clone(),
        }
        .visible_to(u)
    }
}

/// Inbox filters; all optional.
#[derive(Debug, Clone, Serialize)]
pub struct TaskFilter {
    pub definition_key: Option<String>,
    pub priority: Option<Priority>,
    pub overdue_only: bool,
    /// Case-insensitive substring of the title (also matches definition and task keys).
    pub text: Option<String>,
    /// Only the person's own: claimed by them, or assigned to them and not
    /// claimed by anyone (what [`InboxCounts::mine`] counts).
    pub mine_only: bool,
    /// A further condition on the task's instance (alias `i`, e.g. the
    /// business object's tenancy), appended as ` AND (…)` by the caller.
    #[serde(skip)]
    pub object_scope: Option<ObjectScope>,
    pub limit: i64,
    pub offset: i64,
}

/// A condition on a task's instance (`i`) its owner appends to a query:
/// who may see which business objects is the domain's rule, not the
/// engine's, but it must be part of the inbox's query so that pages and
/// counts stay right.
#[derive(Clone)]
pub struct ObjectScope(pub std::sync::Arc<dyn Fn(&mut Sql) + Send + Sync>);

impl std::fmt::Debug for ObjectScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectScope(..)")
    }
}

impl Default for TaskFilter {
    fn default() -> Self {
        TaskFilter {
            definition_key: None,
            priority: None,
            overdue_only: false,
            text: None,
            mine_only: false,
            object_scope: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// Numbers for the inbox badge and filter chips.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InboxCounts {
    pub total: i64,
    pub overdue: i64,
    /// The person's own: claimed by them, or assigned to them and not
    /// claimed by anyone (the inbox's "mine" filter lists the same).
    pub mine: i64,
    pub by_priority: BTreeMap<String, i64>,
    pub by_definition: BTreeMap<String, i64>,
}

/// What the web needs to render a task's form and buttons.
#[derive(Debug, Clone, Serialize)]
pub struct TaskForm {
    pub task: TaskView,
    /// The definition version its instance runs (for its titles).
    pub definition_id: i64,
    pub description: Option<String>,
    pub fields: Vec<FormField>,
    pub outcomes: Vec<OutcomeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutcomeView {
    pub id: String,
    pub title: String,
    pub to: String,
    /// Form fields that must be filled for this outcome.
    pub required_fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub id: i64,
    pub definition_id: i64,
    pub definition_key: String,
    /// The workflow's title from its YAML (`Заявка`), for people.
    pub definition_title: String,
    pub definition_version: i64,
    pub object: ObjectRef,
    pub state: String,
    pub state_title: String,
    pub data: Map<String, Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    pub step: i64,
    pub seq: i64,
    pub trigger_kind: String,
    pub trigger_name: Option<String>,
    pub from_state: String,
    pub to_state: String,
    /// A user id, or `None` for the system.
    pub actor: Option<i64>,
    pub at: DateTime<Utc>,
    pub data_change: Value,
    pub details: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimerView {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub id: i64,
    pub step: i64,
    pub action: String,
    pub params: Value,
    pub idempotency_key: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A definition as a graph, for drawing.
#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    pub key: String,
    pub title: String,
    pub initial: String,
    pub states: Vec<GraphState>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphState {
    pub name: String,
    pub title: String,
    pub terminal: bool,
    pub initial: bool,
    /// Distance from the initial state (a column for a left-to-right layout);
    /// unreachable states get one more than the deepest.
    pub rank: usize,
    pub tasks: Vec<String>,
    /// Running instances in this state (of this version).
    pub instances: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// `event`, `after`, `at`, `cron`, `when`, `outcome`.
    pub kind: String,
    /// The transition's or outcome's title; without one, its trigger as
    /// written (the event's name, `2h`, the cron line).
    pub label: String,
    /// Whether `label` is a title people wrote (else the raw trigger).
    pub titled: bool,
    /// The condition (`if:`) the transition also needs, as written.
    pub guard: Option<String>,
    /// Stays in the state (no exit/entry).
    pub internal: bool,
}

const TASK_COLUMNS: &str = "t.id, t.instance_id, t.definition_key, i.object_kind, i.object_id, t.task_key, t.state, t.title, \
     t.org_id, t.assignee_user_id, t.claimed_by, t.claimed_at, t.priority, t.due_at, t.status, t.outcome, t.form_values, \
     t.created_at, t.completed_at, t.completed_by, t.escalated_at, i.definition_id";

/// [`TASK_COLUMNS`] and, last, the task's role rows
/// ([`store::task_roles_column`]): a task with its roles in one read.
fn task_select(dialect: crate::db::Dialect) -> String {
    format!(
        "SELECT {TASK_COLUMNS}, {} FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id",
        store::task_roles_column(dialect)
    )
}

/// The role names of a task's role rows, escalation roles first (as before:
/// by via, then role), each once.
fn role_names(rows: &[(String, Option<i64>, String)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (role, _, _) in rows {
        if !names.contains(role) {
            names.push(role.clone());
        }
    }
    names
}

fn task_from_row(r: &sqlx::any::AnyRow, now: DateTime<Utc>) -> Result<TaskView, sqlx::Error> {
    let due_at = r.try_get::<Option<i64>, _>(13)?.map(from_db_time);
    let status: String = r.try_get(14)?;
    let form: Option<String> = r.try_get(16)?;
    let role_rows = store::parse_task_roles(r.try_get(22)?);
    Ok(TaskView {
        id: r.try_get(0)?,
        instance_id: r.try_get(1)?,
        definition_key: r.try_get(2)?,
        object: ObjectRef {
            kind: r.try_get(3)?,
            id: r.try_get(4)?,
        },
        task_key: r.try_get(5)?,
        state: r.try_get(6)?,
        title: r.try_get(7)?,
        org_id: r.try_get(8)?,
        assignee: r.try_get(9)?,
        claimed_by: r.try_get(10)?,
        claimed_at: r.try_get::<Option<i64>, _>(11)?.map(from_db_time),
        priority: r.try_get(12)?,
        overdue: status == "open" && due_at.is_some_and(|d| d < now),
        due_at,
        status,
        outcome: r.try_get(15)?,
        form_values: form.and_then(|f| serde_json::from_str(&f).ok()),
        created_at: from_db_time(r.try_get(17)?),
        completed_at: r.try_get::<Option<i64>, _>(18)?.map(from_db_time),
        completed_by: r.try_get(19)?,
        escalated_at: r.try_get::<Option<i64>, _>(20)?.map(from_db_time),
        roles: role_names(&role_rows),
        role_rows,
    })
}

/// Appends the visibility rule for `u` (see the module docs).
fn visible_clause(sql: &mut Sql, u: &UserRef) {
    sql.push(" AND (t.assignee_user_id = ")
        .bind(u.id)
        .push(" OR t.claimed_by = ")
        .bind(u.id);
    if !u.roles.is_empty() {
        sql.push(
            " OR EXISTS (SELECT 1 FROM wf_task_roles r WHERE r.task_id = t.id AND r.role IN (",
        )
        .bind_list(u.roles.iter());
        role_org_clause(sql, u, "r");
        sql.push(
            " AND (r.via = 'escalation' OR (t.claimed_by IS NULL AND t.assignee_user_id IS NULL)))",
        );
    }
    sql.push(")");
}

/// Appends ` AND t.id IN (…)`: the open tasks `u` may see (the rule of
/// [`visible_clause`]) as a union of sets each read from an index — their
/// assigned tasks, their claimed tasks, the role pool (open tasks nobody
/// claimed or was assigned, for one of their roles), and the tasks escalated
/// to their roles. Evaluating the rule row by row instead grows with every
/// open task in the system (issue 11 point 11).
///
/// PostgreSQL keeps the rule row by row ([`visible_clause`]): measured at
/// 100,000 open tasks its planner read the union's branches through the
/// due-time index, every open task each (README, "Staff pages at volume").
fn visible_ids(sql: &mut Sql, u: &UserRef, dialect: crate::db::Dialect) {
    if dialect == crate::db::Dialect::Postgres {
        visible_clause(sql, u);
        return;
    }
    sql.push(" AND t.id IN (SELECT a.id FROM wf_tasks a WHERE a.status = 'open' AND a.assignee_user_id = ")
        .bind(u.id)
        .push(" UNION SELECT c.id FROM wf_tasks c WHERE c.status = 'open' AND c.claimed_by = ")
        .bind(u.id);
    if !u.roles.is_empty() {
        sql.push(
            " UNION SELECT p.id FROM wf_tasks p WHERE p.status = 'open' AND p.claimed_by IS NULL AND p.assignee_user_id IS NULL \
             AND EXISTS (SELECT 1 FROM wf_task_roles r WHERE r.task_id = p.id AND r.role IN (",
        )
        .bind_list(u.roles.iter());
        role_org_clause(sql, u, "r");
        sql.push(
            ") UNION SELECT e.task_id FROM wf_task_roles e JOIN wf_tasks et ON et.id = e.task_id \
             WHERE e.via = 'escalation' AND et.status = 'open' AND e.role IN (",
        )
        .bind_list(u.roles.iter());
        role_org_clause(sql, u, "e");
    }
    sql.push(")");
}

/// `) AND (<alias>.org_id = <their organisation> OR <a home-organisation row>)`
/// after a role list.
fn role_org_clause(sql: &mut Sql, u: &UserRef, alias: &str) {
    sql.push(") AND (")
        .push(alias)
        .push(".org_id = ")
        .bind(u.org_id)
        .push(" OR (")
        .push(alias)
        .push(".org_id IS NULL AND ")
        .bind(u.home_org as i64)
        .push(" = 1))");
}

/// The inbox's filters (not the visibility rule) on tasks `t`.
fn inbox_filters(sql: &mut Sql, u: &UserRef, filter: &TaskFilter, now: DateTime<Utc>) {
    if let Some(k) = &filter.definition_key {
        sql.push(" AND t.definition_key = ").bind(k);
    }
    if let Some(pr) = filter.priority {
        sql.push(" AND t.priority = ").bind(pr.as_str());
    }
    if filter.overdue_only {
        sql.push(" AND t.due_at < ").bind(to_db_time(now));
    }
    if filter.mine_only {
        sql.push(" AND (t.claimed_by = ")
            .bind(u.id)
            .push(" OR (t.claimed_by IS NULL AND t.assignee_user_id = ")
            .bind(u.id)
            .push("))");
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        sql.push(" AND t.search_text LIKE ")
            .bind(like_pattern(text.trim()))
            .push(" ESCAPE '\\'");
    }
    if let Some(scope) = &filter.object_scope {
        sql.push(" AND EXISTS (SELECT 1 FROM wf_instances i WHERE i.id = t.instance_id");
        (scope.0)(sql);
        sql.push(")");
    }
}

/// The inbox's order: most urgent first, then by due time (none last).
const INBOX_ORDER: &str =
    " ORDER BY t.priority_rank DESC, CASE WHEN t.due_at IS NULL THEN 1 ELSE 0 END, t.due_at, t.id";

fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Engine {
    /// Open tasks `u` may see: assigned to them, claimed by them, or
    /// unclaimed for one of their roles in their organisation. Most urgent
    /// first, then by due time; `filter.limit` from `filter.offset`.
    ///
    /// The page's ids are chosen first, from the visible set and the task
    /// columns the order needs; only those rows are then read whole (with
    /// their instance and roles), so a long inbox costs a sort of ids, not
    /// of whole rows.
    pub async fn inbox(
        &self,
        u: &UserRef,
        filter: &TaskFilter,
    ) -> Result<Vec<TaskView>, EngineError> {
        let now = self.inner.db.now();
        let mut sql = Sql::new(&task_select(self.inner.db.dialect()));
        sql.push(" WHERE t.id IN (SELECT t.id FROM wf_tasks t WHERE t.status = 'open'");
        visible_ids(&mut sql, u, self.inner.db.dialect());
        inbox_filters(&mut sql, u, filter, now);
        sql.push(INBOX_ORDER)
            .push(" LIMIT ")
            .bind(filter.limit.clamp(1, 1000))
            .push(" OFFSET ")
            .bind(filter.offset.max(0))
            .push(")")
            .push(INBOX_ORDER);
        let rows = sql.query().fetch_all(self.inner.db.pool()).await?;
        let tasks = rows
            .iter()
            .map(|r| task_from_row(r, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tasks)
    }

    /// Counts of the tasks [`Engine::inbox`] would list without filters
    /// (but within `filter.object_scope`), added up by the database.
    pub async fn inbox_counts(
        &self,
        u: &UserRef,
        filter: &TaskFilter,
    ) -> Result<InboxCounts, EngineError> {
        let now = to_db_time(self.inner.db.now());
        let mut sql = Sql::new(
            "SELECT t.definition_key, t.priority, CAST(COUNT(*) AS BIGINT), CAST(SUM(CASE WHEN t.due_at < ",
        );
        sql.bind(now)
            .push(" THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN t.claimed_by = ")
            .bind(u.id)
            .push(" OR (t.claimed_by IS NULL AND t.assignee_user_id = ")
            .bind(u.id)
            .push(") THEN 1 ELSE 0 END) AS BIGINT) FROM wf_tasks t WHERE t.status = 'open'");
        visible_ids(&mut sql, u, self.inner.db.dialect());
        let scoped = TaskFilter {
            object_scope: filter.object_scope.clone(),
            ..TaskFilter::default()
        };
        inbox_filters(&mut sql, u, &scoped, self.inner.db.now());
        sql.push(" GROUP BY t.definition_key, t.priority");
        let rows = sql.query().fetch_all(self.inner.db.pool()).await?;
        let mut c = InboxCounts::default();
        for r in rows {
            let key: String = r.try_get(0)?;
            let priority: String = r.try_get(1)?;
            let n = int_col(&r, 2)?;
            c.total += n;
            c.overdue += int_col(&r, 3)?;
            c.mine += int_col(&r, 4)?;
            *c.by_priority.entry(priority).or_default() += n;
            *c.by_definition.entry(key).or_default() += n;
        }
        Ok(c)
    }

    pub async fn task(&self, task_id: i64) -> Result<Option<TaskView>, EngineError> {
        Ok(self.task_and_definition(task_id).await?.map(|(t, _)| t))
    }

    /// A task and the definition version its instance runs, in one read.
    async fn task_and_definition(
        &self,
        task_id: i64,
    ) -> Result<Option<(TaskView, i64)>, EngineError> {
        let sql = format!("{} WHERE t.id = $1", task_select(self.inner.db.dialect()));
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(task_id)
            .fetch_optional(self.inner.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let task = task_from_row(&row, self.inner.db.now())?;
        Ok(Some((task, row.try_get(21)?)))
    }

    /// The task with its form fields and outcome buttons.
    pub async fn task_form(&self, task_id: i64) -> Result<Option<TaskForm>, EngineError> {
        let Some((task, def_id)) = self.task_and_definition(task_id).await? else {
            return Ok(None);
        };
        let def = self.definition(def_id).await?;
        let Some(t) = def.state(&task.state).and_then(|s| s.task(&task.task_key)) else {
            return Ok(Some(TaskForm {
                task,
                definition_id: def_id,
                description: None,
                fields: Vec::new(),
                outcomes: Vec::new(),
            }));
        };
        let outcomes = t
            .outcomes
            .iter()
            .map(|o| OutcomeView {
                id: o.id.clone(),
                title: o.title.clone(),
                to: o.to.clone(),
                required_fields: t
                    .form
                    .iter()
                    .filter(|f| t.field_required(f, &o.id))
                    .map(|f| f.id.clone())
                    .collect(),
            })
            .collect();
        Ok(Some(TaskForm {
            task,
            definition_id: def_id,
            description: t.description.clone(),
            fields: t.form.clone(),
            outcomes,
        }))
    }

    /// Whether `u` may see and do this task.
    pub async fn can_act(&self, task_id: i64, u: &UserRef) -> Result<bool, EngineError> {
        let db = &self.inner.db;
        let mut conn = db.pool().acquire().await?;
        Ok(store::task_access(&mut conn, db.dialect(), task_id)
            .await?
            .is_some_and(|a| a.visible_to(u)))
    }

    /// Takes an unclaimed task so that others stop seeing it: one
    /// `UPDATE` that checks the task is open, unclaimed and `u`'s to see
    /// (the inbox's rule); only when it changes nothing is the task read, to
    /// say why.
    pub async fn claim(&self, task_id: i64, u: &UserRef) -> Result<(), EngineError> {
        let db = &self.inner.db;
        let mut sql = Sql::new("UPDATE wf_tasks AS t SET claimed_by = ");
        sql.bind(u.id)
            .push(", claimed_at = ")
            .bind(to_db_time(db.now()))
            .push(" WHERE t.id = ")
            .bind(task_id)
            .push(" AND t.status = 'open' AND t.claimed_by IS NULL");
        visible_clause(&mut sql, u);
        sql.push(" RETURNING id");
        let claimed: Option<i64> = {
            let mut conn = db.single_write().await?;
            sql.query_scalar().fetch_optional(&mut *conn).await?
        };
        if claimed.is_some() {
            return Ok(());
        }
        let mut conn = db.pool().acquire().await?;
        let access = store::task_access(&mut conn, db.dialect(), task_id)
            .await?
            .ok_or(EngineError::TaskNotFound(task_id))?;
        if access.status != "open" {
            return Err(crate::step::StepError::TaskNotOpen(task_id).into());
        }
        if access.claimed_by == Some(u.id) {
            return Ok(());
        }
        if access.claimed_by.is_some() {
            return Err(EngineError::NotAllowed("claimed_by_other"));
        }
        Err(EngineError::NotAllowed("not_a_candidate"))
    }

    /// Gives a claimed task back to its candidates (only its claimer may).
    pub async fn unclaim(&self, task_id: i64, u: &UserRef) -> Result<(), EngineError> {
        let res = {
            let mut conn = self.inner.db.single_write().await?;
            sqlx::query("UPDATE wf_tasks SET claimed_by = NULL, claimed_at = NULL WHERE id = $1 AND status = 'open' AND claimed_by = $2")
                .bind(task_id)
                .bind(u.id)
                .execute(&mut *conn)
                .await?
        };
        if res.rows_affected() != 1 {
            return Err(EngineError::NotAllowed("not_claimed_by_you"));
        }
        Ok(())
    }

    /// Gives an open task to `user` (a colleague chosen by whoever hands it
    /// over; the caller checks they may do it): it becomes theirs,
    /// unclaimed, and leaves everyone else's inbox. `task.not_open` when it
    /// was done meanwhile.
    pub async fn assign_task(&self, task_id: i64, user: i64) -> Result<(), EngineError> {
        let res = {
            let mut conn = self.inner.db.single_write().await?;
            sqlx::query("UPDATE wf_tasks SET assignee_user_id = $1, claimed_by = NULL, claimed_at = NULL WHERE id = $2 AND status = 'open'")
                .bind(user)
                .bind(task_id)
                .execute(&mut *conn)
                .await?
        };
        if res.rows_affected() != 1 {
            return Err(crate::step::StepError::TaskNotOpen(task_id).into());
        }
        Ok(())
    }

    /// Moves the open tasks of a business object's instances that were
    /// `from`'s (assigned to or claimed by them) to `to`, inside the
    /// caller's transaction: the object changed hands.
    pub async fn reassign_object_tasks_in_tx(
        &self,
        tx: &mut crate::db::Tx,
        kind: &str,
        object_id: i64,
        from: i64,
        to: i64,
    ) -> Result<u64, EngineError> {
        let res = sqlx::query(
            "UPDATE wf_tasks SET assignee_user_id = $1, claimed_by = NULL, claimed_at = NULL \
             WHERE status = 'open' AND (assignee_user_id = $2 OR claimed_by = $2) \
             AND instance_id IN (SELECT id FROM wf_instances WHERE object_kind = $3 AND object_id = $4)",
        )
        .bind(to)
        .bind(from)
        .bind(kind)
        .bind(object_id)
        .execute(&mut **tx)
        .await?;
        Ok(res.rows_affected())
    }

    async fn instance_views(
        &self,
        where_sql: &str,
        args: &[i64],
        text: Option<&str>,
    ) -> Result<Vec<InstanceView>, EngineError> {
        let sql = format!(
            "SELECT i.id, i.definition_id, i.definition_key, d.version, i.object_kind, i.object_id, i.state, i.data, i.version, \
             i.created_at, i.updated_at, i.finished_at FROM wf_instances i JOIN wf_definitions d ON d.id = i.definition_id WHERE {where_sql} ORDER BY i.id"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(t) = text {
            q = q.bind(t.to_string());
        }
        for a in args {
            q = q.bind(*a);
        }
        let rows = q.fetch_all(self.inner.db.pool()).await?;
        let mut out = Vec::new();
        for r in rows {
            let def_id: i64 = r.try_get(1)?;
            let state: String = r.try_get(6)?;
            let definition_key: String = r.try_get(2)?;
            let (definition_title, state_title) = match self.definition(def_id).await {
                Ok(d) => (
                    d.title.clone(),
                    d.state(&state)
                        .map(|s| s.title.clone())
                        .unwrap_or_else(|| state.clone()),
                ),
                Err(_) => (definition_key.clone(), state.clone()),
            };
            let data: String = r.try_get(7)?;
            out.push(InstanceView {
                id: r.try_get(0)?,
                definition_id: def_id,
                definition_key,
                definition_title,
                definition_version: r.try_get(3)?,
                object: ObjectRef {
                    kind: r.try_get(4)?,
                    id: r.try_get(5)?,
                },
                state,
                state_title,
                data: serde_json::from_str(&data).unwrap_or_default(),
                version: r.try_get(8)?,
                created_at: from_db_time(r.try_get(9)?),
                updated_at: from_db_time(r.try_get(10)?),
                finished_at: r.try_get::<Option<i64>, _>(11)?.map(from_db_time),
            });
        }
        Ok(out)
    }

    pub async fn instance(&self, id: i64) -> Result<Option<InstanceView>, EngineError> {
        Ok(self.instance_views("i.id = $1", &[id], None).await?.pop())
    }

    /// Every instance (running or finished) of a business object.
    pub async fn instances_for_object(
        &self,
        kind: &str,
        object_id: i64,
    ) -> Result<Vec<InstanceView>, EngineError> {
        self.instance_views(
            "i.object_kind = $1 AND i.object_id = $2",
            &[object_id],
            Some(kind),
        )
        .await
    }

    /// The instance's history, oldest first.
    pub async fn history(&self, instance_id: i64) -> Result<Vec<HistoryView>, EngineError> {
        let rows = sqlx::query(
            "SELECT step, seq, trigger_kind, trigger_name, from_state, to_state, actor_user_id, at, data_change, details \
             FROM wf_history WHERE instance_id = $1 ORDER BY step, seq",
        )
        .bind(instance_id)
        .fetch_all(self.inner.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let change: String = r.try_get(8)?;
                let details: String = r.try_get(9)?;
                Ok(HistoryView {
                    step: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    trigger_kind: r.try_get(2)?,
                    trigger_name: r.try_get(3)?,
                    from_state: r.try_get(4)?,
                    to_state: r.try_get(5)?,
                    actor: r.try_get(6)?,
                    at: from_db_time(r.try_get(7)?),
                    data_change: serde_json::from_str(&change).unwrap_or(Value::Null),
                    details: serde_json::from_str(&details).unwrap_or(Value::Null),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Tasks of an instance; only open ones unless `all`.
    pub async fn instance_tasks(
        &self,
        instance_id: i64,
        all: bool,
    ) -> Result<Vec<TaskView>, EngineError> {
        let filter = if all { "" } else { " AND t.status = 'open'" };
        let sql = format!(
            "{} WHERE t.instance_id = $1{filter} ORDER BY t.id",
            task_select(self.inner.db.dialect())
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(instance_id)
            .fetch_all(self.inner.db.pool())
            .await?;
        let now = self.inner.db.now();
        rows.iter()
            .map(|r| task_from_row(r, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Into::into)
    }

    /// Pending timers of an instance, earliest first.
    pub async fn timers(&self, instance_id: i64) -> Result<Vec<TimerView>, EngineError> {
        let rows = sqlx::query("SELECT id, kind, key, due_at FROM wf_timers WHERE instance_id = $1 ORDER BY due_at, id")
            .bind(instance_id)
            .fetch_all(self.inner.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TimerView {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    key: r.try_get(2)?,
                    due_at: from_db_time(r.try_get(3)?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Actions (outbox rows) of an instance, in order.
    pub async fn actions(&self, instance_id: i64) -> Result<Vec<ActionView>, EngineError> {
        let rows = sqlx::query(
            "SELECT id, step, action, params, idempotency_key, status, attempts, next_attempt_at, last_error, result, completed_at \
             FROM wf_outbox WHERE instance_id = $1 ORDER BY step, action_index",
        )
        .bind(instance_id)
        .fetch_all(self.inner.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let params: String = r.try_get(3)?;
                let result: Option<String> = r.try_get(9)?;
                Ok(ActionView {
                    id: r.try_get(0)?,
                    step: r.try_get(1)?,
                    action: r.try_get(2)?,
                    params: serde_json::from_str(&params).unwrap_or(Value::Null),
                    idempotency_key: r.try_get(4)?,
                    status: r.try_get(5)?,
                    attempts: r.try_get(6)?,
                    next_attempt_at: from_db_time(r.try_get(7)?),
                    last_error: r.try_get(8)?,
                    result: result.and_then(|x| serde_json::from_str(&x).ok()),
                    completed_at: r.try_get::<Option<i64>, _>(10)?.map(from_db_time),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Running instances per state of one definition version.
    pub async fn state_counts(
        &self,
        definition_id: i64,
    ) -> Result<BTreeMap<String, i64>, EngineError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM wf_instances WHERE definition_id = $1 AND finished_at IS NULL GROUP BY state",
        )
        .bind(definition_id)
        .fetch_all(self.inner.db.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The states and transitions of a version, with live instance counts.
    pub async fn graph(&self, definition_id: i64) -> Result<Graph, EngineError> {
        let def = self.definition(definition_id).await?;
        let counts = self.state_counts(definition_id).await?;
        let mut edges = Vec::new();
        for s in &def.states {
            for t in &s.transitions {
                // The analyst's title when there is one; else what fires
                // the transition, as written (the kind is named apart).
                let base = match &t.when {
                    When::Event(e) => e.clone(),
                    When::After(w) => w.label(),
                    When::At(e) => e.src.clone(),
                    When::Cron(c) => c.text.clone(),
                    When::Guard(e) => e.src.clone(),
                };
                edges.push(GraphEdge {
                    from: s.name.clone(),
                    to: t.to.clone().unwrap_or_else(|| s.name.clone()),
                    kind: t.when.kind().to_string(),
                    label: t.title.clone().unwrap_or(base),
                    titled: t.title.is_some(),
                    guard: t.guard.as_ref().map(|g| g.src.clone()),
                    internal: t.to.is_none(),
                });
            }
            for task in &s.tasks {
                for o in &task.outcomes {
                    edges.push(GraphEdge {
                        from: s.name.clone(),
                        to: o.to.clone(),
                        kind: "outcome".into(),
                        label: o.title.clone(),
                        titled: true,
                        guard: None,
                        internal: false,
                    });
                }
            }
        }
        // Ranks: breadth-first distance from the initial state.
        let mut rank: BTreeMap<String, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([(def.initial.clone(), 0usize)]);
        while let Some((n, d)) = queue.pop_front() {
            if rank.contains_key(&n) {
                continue;
            }
            rank.insert(n.clone(), d);
            for e in edges.iter().filter(|e| e.from == n && !e.internal) {
                queue.push_back((e.to.clone(), d + 1));
            }
        }
        let deepest = rank.values().copied().max().unwrap_or(0);
        let states = def
            .states
            .iter()
            .map(|s| GraphState {
                name: s.name.clone(),
                title: s.title.clone(),
                terminal: s.terminal,
                initial: s.name == def.initial,
                rank: rank.get(&s.name).copied().unwrap_or(deepest + 1),
                tasks: s.tasks.iter().map(|t| t.title.src.clone()).collect(),
                instances: counts.get(&s.name).copied().unwrap_or(0),
            })
            .collect();
        Ok(Graph {
            key: def.key.clone(),
            title: def.title.clone(),
            initial: def.initial.clone(),
            states,
            edges,
        })
    }
}

/// Reads an integer column that PostgreSQL may type as INT4 and SQLite as INTEGER.
fn int_col(r: &sqlx::any::AnyRow, i: usize) -> Result<i64, sqlx::Error> {
    match r.try_get::<i64, _>(i) {
        Ok(v) => Ok(v),
        Err(_) => r.try_get::<i32, _>(i).map(i64::from),
    }
}

/// An outbox row that needs an administrator's eye: failed for good, or
/// failing and waiting for its next attempt.
#[derive(Debug, Clone, Serialize)]
pub struct ActionProblem {
    pub id: i64,
    pub instance_id: i64,
    /// Empty when the instance is gone.
    pub definition_key: String,
    /// The instance's business object (`None` when the instance is gone).
    pub object: Option<ObjectRef>,
    pub step: i64,
    pub action: String,
    pub idempotency_key: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// For a failed row: why [`Engine::retry_failed_action`] would refuse
    /// it (`action.instance_gone`, `action.failure_handled`), `None` when
    /// it may be retried. Always `None` for rows still being retried.
    pub retry_refusal: Option<&'static str>,
    #[serde(skip)]
    definition_id: Option<i64>,
}

/// A timer parked after its last failed firing.
#[derive(Debug, Clone, Serialize)]
pub struct TimerProblem {
    pub id: i64,
    pub instance_id: i64,
    pub definition_key: String,
    pub object: ObjectRef,
    pub kind: String,
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// `None` while it is still retried.
    pub failed_at: Option<DateTime<Utc>>,
}

/// An instance the workers found impossible to step (corrupt stored data).
#[derive(Debug, Clone, Serialize)]
pub struct BrokenInstance {
    pub id: i64,
    pub definition_key: String,
    pub object: ObjectRef,
    pub state: String,
    pub broken_at: DateTime<Utc>,
    pub reason: String,
}

/// One kind of trouble: how many, and the latest error.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProblemCount {
    pub count: i64,
    pub last_error: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
}

/// What the administrators' page shows at the top.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineProblems {
    pub failed_actions: ProblemCount,
    /// Pending or running rows that have failed at least once.
    pub retrying_actions: ProblemCount,
    pub failed_timers: ProblemCount,
    pub broken_instances: ProblemCount,
}

const ACTION_PROBLEM_COLUMNS: &str = "o.id, o.instance_id, COALESCE(i.definition_key, ''), o.step, o.action, o.idempotency_key, \
     o.status, o.attempts, o.last_error, o.next_attempt_at, o.completed_at, i.definition_id, i.object_kind, i.object_id \
     FROM wf_outbox o LEFT JOIN wf_instances i ON i.id = o.instance_id";

/// Outbox rows still to run that failed at least once.
const RETRYING: &str =
    "o.status IN ('pending', 'running') AND (o.attempts > 1 OR o.last_error IS NOT NULL)";

fn action_problem(r: &sqlx::any::AnyRow) -> Result<ActionProblem, sqlx::Error> {
    Ok(ActionProblem {
        id: r.try_get(0)?,
        instance_id: r.try_get(1)?,
        definition_key: r.try_get(2)?,
        step: r.try_get(3)?,
        action: r.try_get(4)?,
        idempotency_key: r.try_get(5)?,
        status: r.try_get(6)?,
        attempts: r.try_get(7)?,
        last_error: r.try_get(8)?,
        next_attempt_at: from_db_time(r.try_get(9)?),
        completed_at: r.try_get::<Option<i64>, _>(10)?.map(from_db_time),
        definition_id: r.try_get(11)?,
        object: match (
            r.try_get::<Option<String>, _>(12)?,
            r.try_get::<Option<i64>, _>(13)?,
        ) {
            (Some(kind), Some(id)) => Some(ObjectRef { kind, id }),
            _ => None,
        },
        retry_refusal: None,
    })
}

/// What [`Engine::retry_failed_action`] and [`Engine::retry_failed_timer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Retry {
    /// Queued again: the workers take it at once.
    Queued,
    /// No such row.
    NotFound,
    /// Not done, with the machine-readable reason: `action.not_failed`
    /// (it is not, or no longer, failed), `action.instance_gone`,
    /// `action.failure_handled`, `timer.not_failed`.
    Refused(&'static str),
}

/// Counts rows of `from_where` and reads the latest error by `order`.
async fn problem_count(
    pool: &sqlx::AnyPool,
    from_where: &str,
    error: &str,
    at: &str,
) -> Result<ProblemCount, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {from_where}"
    )))
    .fetch_one(pool)
    .await?;
    if count == 0 {
        return Ok(ProblemCount::default());
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {error}, {at} FROM {from_where} ORDER BY {at} DESC LIMIT 1"
    )))
    .fetch_optional(pool)
    .await?;
    Ok(ProblemCount {
        count,
        last_error: row.as_ref().map(|r| r.try_get(0)).transpose()?.flatten(),
        last_at: row
            .as_ref()
            .map(|r| r.try_get::<Option<i64>, _>(1))
            .transpose()?
            .flatten()
            .map(from_db_time),
    })
}

/// Pages for administrators: what the workers could not do.
impl Engine {
    /// Counts and latest errors of every kind of trouble.
    pub async fn problems(&self) -> Result<EngineProblems, EngineError> {
        let pool = self.inner.db.pool();
        Ok(EngineProblems {
            failed_actions: problem_count(
                pool,
                "wf_outbox o WHERE o.status = 'failed'",
                "o.last_error",
                "o.completed_at",
            )
            .await?,
            retrying_actions: problem_count(
                pool,
                &format!("wf_outbox o WHERE {RETRYING}"),
                "o.last_error",
                "o.next_attempt_at",
            )
            .await?,
            failed_timers: problem_count(
                pool,
                "wf_timers t WHERE t.failed_at IS NOT NULL",
                "t.last_error",
                "t.failed_at",
            )
            .await?,
            broken_instances: problem_count(
                pool,
                "wf_instances i WHERE i.broken_at IS NOT NULL",
                "i.broken_reason",
                "i.broken_at",
            )
            .await?,
        })
    }

    /// Outbox rows failed for good, newest first, each saying whether it
    /// may be retried ([`ActionProblem::retry_refusal`]).
    pub async fn failed_actions(&self, limit: i64) -> Result<Vec<ActionProblem>, EngineError> {
        let sql = format!(
            "SELECT {ACTION_PROBLEM_COLUMNS} WHERE o.status = 'failed' ORDER BY o.completed_at DESC, o.id DESC LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.inner.db.pool())
            .await?;
        let mut out: Vec<ActionProblem> =
            rows.iter().map(action_problem).collect::<Result<_, _>>()?;
        for a in &mut out {
            a.retry_refusal = self.retry_refusal(a.definition_id, &a.action).await?;
        }
        Ok(out)
    }

    /// Why a failed action of an instance of `definition_id` may not run
    /// again. Its instance must exist; and if the workflow listens to
    /// `<action>.failed`, it has already taken its failure branch — running
    /// the effect now would do what the process no longer expects.
    async fn retry_refusal(
        &self,
        definition_id: Option<i64>,
        action: &str,
    ) -> Result<Option<&'static str>, EngineError> {
        let Some(def_id) = definition_id else {
            return Ok(Some("action.instance_gone"));
        };
        let listens = match self.definition(def_id).await {
            Ok(def) => def.listened_events.contains(&format!("{action}.failed")),
            Err(EngineError::Db(e)) => return Err(e.into()),
            // A definition that no longer compiles cannot take the result.
            Err(_) => true,
        };
        Ok(listens.then_some("action.failure_handled"))
    }

    /// Puts a failed outbox row back in the queue, with its attempts reset
    /// and the same idempotency key (so a provider that did apply it the
    /// first time changes nothing). Its last error stays on the row until
    /// the next attempt; the instance's later actions wait for it, as they
    /// would for any earlier action. For an administrator who fixed the
    /// cause.
    pub async fn retry_failed_action(&self, outbox_id: i64) -> Result<Retry, EngineError> {
        let db = &self.inner.db;
        let row: Option<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT o.action, o.status, i.definition_id FROM wf_outbox o \
             LEFT JOIN wf_instances i ON i.id = o.instance_id WHERE o.id = $1",
        )
        .bind(outbox_id)
        .fetch_optional(db.pool())
        .await?;
        let Some((action, status, def_id)) = row else {
            return Ok(Retry::NotFound);
        };
        if status != "failed" {
            return Ok(Retry::Refused("action.not_failed"));
        }
        if let Some(reason) = self.retry_refusal(def_id, &action).await? {
            return Ok(Retry::Refused(reason));
        }
        let mut tx = db.begin().await?;
        let n = sqlx::query(
            "UPDATE wf_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, \
             completed_at = NULL, locked_until = NULL WHERE id = $2 AND status = 'failed'",
        )
        .bind(to_db_time(db.now()))
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Ok(Retry::Refused("action.not_failed"));
        }
        tracing::info!(
            outbox_id,
            action,
            "failed action queued again by an administrator"
        );
        self.after_commit(false, true);
        Ok(Retry::Queued)
    }

    /// Makes a parked timer due now with its attempts reset; if it fails
    /// again it is retried and parked as before. For an administrator who
    /// fixed the cause.
    pub async fn retry_failed_timer(&self, timer_id: i64) -> Result<Retry, EngineError> {
        let db = &self.inner.db;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM wf_timers WHERE id = $1")
            .bind(timer_id)
            .fetch_optional(db.pool())
            .await?;
        if exists.is_none() {
            return Ok(Retry::NotFound);
        }
        let mut tx = db.begin().await?;
        let n = sqlx::query(
            "UPDATE wf_timers SET failed_at = NULL, attempts = 0, due_at = $1 \
             WHERE id = $2 AND failed_at IS NOT NULL",
        )
        .bind(to_db_time(db.now()))
        .bind(timer_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Ok(Retry::Refused("timer.not_failed"));
        }
        tracing::info!(timer_id, "failed timer made due again by an administrator");
        self.after_commit(true, false);
        Ok(Retry::Queued)
    }

    /// Outbox rows that failed at least once and wait for another attempt
    /// (or are running it), most attempts first.
    pub async fn retrying_actions(&self, limit: i64) -> Result<Vec<ActionProblem>, EngineError> {
        let sql = format!(
            "SELECT {ACTION_PROBLEM_COLUMNS} WHERE {RETRYING} ORDER BY o.attempts DESC, o.id LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.inner.db.pool())
            .await?;
        Ok(rows.iter().map(action_problem).collect::<Result<_, _>>()?)
    }

    /// Timers whose firing failed: parked ones first, then those still
    /// retried.
    pub async fn failed_timers(&self, limit: i64) -> Result<Vec<TimerProblem>, EngineError> {
        let rows = sqlx::query(
            "SELECT t.id, t.instance_id, i.definition_key, t.kind, t.key, t.due_at, t.attempts, t.last_error, t.failed_at, \
             i.object_kind, i.object_id \
             FROM wf_timers t JOIN wf_instances i ON i.id = t.instance_id \
             WHERE t.attempts > 0 ORDER BY t.failed_at IS NULL, t.failed_at DESC, t.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.inner.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimerProblem {
                    id: r.try_get(0)?,
                    instance_id: r.try_get(1)?,
                    definition_key: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    key: r.try_get(4)?,
                    due_at: from_db_time(r.try_get(5)?),
                    attempts: r.try_get(6)?,
                    last_error: r.try_get(7)?,
                    failed_at: r.try_get::<Option<i64>, _>(8)?.map(from_db_time),
                    object: ObjectRef {
                        kind: r.try_get(9)?,
                        id: r.try_get(10)?,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Instances marked broken by the workers, newest first.
    pub async fn broken_instances(&self, limit: i64) -> Result<Vec<BrokenInstance>, EngineError> {
        let rows = sqlx::query(
            "SELECT id, definition_key, object_kind, object_id, state, broken_at, broken_reason \
             FROM wf_instances WHERE broken_at IS NOT NULL ORDER BY broken_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.inner.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BrokenInstance {
                    id: r.try_get(0)?,
                    definition_key: r.try_get(1)?,
                    object: ObjectRef {
                        kind: r.try_get(2)?,
                        id: r.try_get(3)?,
                    },
                    state: r.try_get(4)?,
                    broken_at: from_db_time(r.try_get(5)?),
                    reason: r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
