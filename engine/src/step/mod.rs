//! The functional core: [`step`] computes what one trigger does to one
//! instance, without touching the database or the clock.
//!
//! Given a definition, a snapshot of the instance (state, data, open tasks,
//! pending timers), a trigger, the business object's context and the time, it
//! returns an [`Outcome`]: the new state and data, tasks to open and close,
//! timers to set and cancel, actions to enqueue and history to append. The
//! shell stores an Outcome in one transaction. Keeping this pure is what
//! makes the engine testable: property tests drive `step` millions of times
//! without a database.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::dsl::{TASK_CREATED, TASK_ESCALATED, TASK_REMIND};
use crate::expr::{EvalError, format_time, from_json, parse_time};
use crate::form::{FieldErrors, validate_form};
use crate::model::*;
use crate::values::coerce;

/// How many transitions one step may chain (a trigger plus automatic
/// `when:` transitions) before it is refused as a loop.
pub const MAX_CHAIN: usize = 25;

/// The business object an instance runs for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub id: i64,
}

/// An open task as the core needs to know it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenTask {
    pub id: i64,
    pub key: String,
    pub state: String,
    pub title: String,
    pub org_id: Option<i64>,
    pub assignee: Option<i64>,
    pub claimed_by: Option<i64>,
}

/// What a timer row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// A state's `after:` transition.
    After,
    /// A state's `at:` transition.
    At,
    /// A state's `cron:` transition.
    Cron,
    /// A task's reminder (repeats until the task is done).
    Remind,
    /// A task's escalation.
    Escalate,
    /// A task's `on_timeout`.
    Timeout,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::After => "after",
            TimerKind::At => "at",
            TimerKind::Cron => "cron",
            TimerKind::Remind => "remind",
            TimerKind::Escalate => "escalate",
            TimerKind::Timeout => "timeout",
        }
    }

    pub fn parse(s: &str) -> Option<TimerKind> {
        Some(match s {
            "after" => TimerKind::After,
            "at" => TimerKind::At,
            "cron" => TimerKind::Cron,
            "remind" => TimerKind::Remind,
            "escalate" => TimerKind::Escalate,
            "timeout" => TimerKind::Timeout,
            _ => return None,
        })
    }
}

/// A pending timer of the instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimerRef {
    pub id: i64,
    pub kind: TimerKind,
    /// `s:<state>:<transition index>` or `t:<task key>:<kind>`.
    pub key: String,
    pub due_at: DateTime<Utc>,
}

/// An instance as `step` sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub id: i64,
    pub object: ObjectRef,
    pub state: String,
    pub data: Map<String, Value>,
    /// How many steps were applied (0 before the start).
    pub version: i64,
    pub finished: bool,
    pub tasks: Vec<OpenTask>,
    pub timers: Vec<TimerRef>,
}

impl Snapshot {
    /// An instance that is about to start (`id` may be 0 until stored).
    pub fn new_instance(id: i64, object: ObjectRef) -> Snapshot {
        Snapshot {
            id,
            object,
            state: String::new(),
            data: Map::new(),
            version: 0,
            finished: false,
            tasks: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Applies an outcome in memory, as the store does to rows; `next_id`
    /// hands out ids for new tasks and timers. For tests and simulations.
    pub fn apply(&mut self, o: &Outcome, next_id: &mut dyn FnMut() -> i64) {
        self.state = o.state.clone();
        self.data = o.data.clone();
        self.version = o.version;
        self.finished = o.finished;
        let closed: BTreeSet<i64> = o.close_tasks.iter().map(|c| c.id).collect();
        self.tasks.retain(|t| !closed.contains(&t.id));
        for t in &o.open_tasks {
            self.tasks.push(OpenTask {
                id: next_id(),
                key: t.key.clone(),
                state: t.state.clone(),
                title: t.title.clone(),
                org_id: t.org_id,
                assignee: t.assignee,
                claimed_by: t.claimed_by,
            });
        }
        let cancelled: BTreeSet<i64> = o
            .cancel_timers
            .iter()
            .copied()
            .chain(o.consumed_timer)
            .collect();
        self.timers.retain(|t| !cancelled.contains(&t.id));
        for t in &o.set_timers {
            self.timers.push(TimerRef {
                id: next_id(),
                kind: t.kind,
                key: t.key.clone(),
                due_at: t.due_at,
            });
        }
    }
}

/// What happened to the instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// The instance starts with these data.
    Start {
        data: Map<String, Value>,
        actor: Option<i64>,
    },
    /// An external event (or an action's `<name>.done` / `<name>.failed`).
    Event {
        name: String,
        payload: Value,
        actor: Option<i64>,
    },
    /// A person completed a task with an outcome and a filled-in form.
    TaskOutcome {
        task_id: i64,
        outcome: String,
        form: Map<String, Value>,
        actor: Option<i64>,
    },
    /// A timer came due.
    Timer {
        id: i64,
        kind: TimerKind,
        key: String,
        payload: Value,
    },
    /// Re-evaluate `when:` guards and `at:` times (the business object changed).
    Recheck,
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Start { .. } => "start",
            Trigger::Event { .. } => "event",
            Trigger::TaskOutcome { .. } => "task",
            Trigger::Timer { .. } => "timer",
            Trigger::Recheck => "recheck",
        }
    }

    fn actor(&self) -> Option<i64> {
        match self {
            Trigger::Start { actor, .. }
            | Trigger::Event { actor, .. }
            | Trigger::TaskOutcome { actor, .. } => *actor,
            _ => None,
        }
    }
}

/// What the caller knows besides the instance: the business object's context
/// and whether an event nobody listens to is an error.
#[derive(Debug, Clone, Default)]
pub struct StepContext {
    pub object: Value,
    /// Refuse (rather than record as ignored) an event the state does not accept.
    pub strict: bool,
}

/// A task to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTask {
    pub key: String,
    pub state: String,
    pub title: String,
    pub roles: Vec<String>,
    pub org_id: Option<i64>,
    pub assignee: Option<i64>,
    /// Kept across a version migration when the same task exists in both.
    pub claimed_by: Option<i64>,
    pub priority: Priority,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Done,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Done => "done",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// A task to close: done with an outcome, or cancelled because the state was left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClosedTask {
    pub id: i64,
    pub status: TaskStatus,
    pub outcome: Option<String>,
    pub form: Option<Map<String, Value>>,
    pub by: Option<i64>,
}

/// A change to an open task that does not close it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TaskChange {
    /// Members of `role` (in `org_id`, or the home organisation when `None`) may now do it.
    Escalate {
        id: i64,
        role: String,
        org_id: Option<i64>,
    },
}

/// A timer to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTimer {
    pub kind: TimerKind,
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub payload: Value,
}

/// An action to run after commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedAction {
    /// Position in this step; with the instance id and the step number it
    /// makes the idempotency key.
    pub index: u32,
    pub name: String,
    pub params: Value,
    /// Key of a task opened by this same step: the store adds its id as
    /// `params.task_id` once the row exists.
    pub task_key: Option<String>,
}

/// One line of the instance's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// `start`, `event`, `task`, `timer`, `auto`, `recheck`, `migrate`, `error`.
    pub trigger_kind: String,
    /// Event name, `task:outcome`, timer key…
    pub trigger_name: Option<String>,
    pub from_state: String,
    pub to_state: String,
    pub actor: Option<i64>,
    /// Fields changed by this entry → new values.
    pub data_change: Map<String, Value>,
    /// Anything else worth reading later (`ignored`, `internal`, task ids…).
    pub details: Value,
}

/// Everything one step changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub instance_id: i64,
    /// The version the step was computed from (the optimistic check).
    pub from_version: i64,
    pub version: i64,
    pub from_state: String,
    pub state: String,
    pub data: Map<String, Value>,
    pub data_changes: Map<String, Value>,
    pub finished: bool,
    pub open_tasks: Vec<NewTask>,
    pub close_tasks: Vec<ClosedTask>,
    pub task_changes: Vec<TaskChange>,
    pub set_timers: Vec<NewTimer>,
    pub cancel_timers: Vec<i64>,
    /// The timer that triggered this step; the store deletes it and refuses
    /// the step if it is already gone (another worker fired it).
    pub consumed_timer: Option<i64>,
    pub actions: Vec<PlannedAction>,
    pub history: Vec<HistoryEntry>,
}

impl Outcome {
    /// True when storing it would change nothing (a recheck with no effect).
    pub fn is_noop(&self) -> bool {
        self.history.is_empty()
            && self.open_tasks.is_empty()
            && self.close_tasks.is_empty()
            && self.task_changes.is_empty()
            && self.set_timers.is_empty()
            && self.cancel_timers.is_empty()
            && self.consumed_timer.is_none()
            && self.actions.is_empty()
            && self.data_changes.is_empty()
    }

    /// The idempotency key of this step's action number `index`.
    pub fn idempotency_key(&self, instance_id: i64, index: u32) -> String {
        idempotency_key(instance_id, self.version, index)
    }
}

/// `wf-<instance>-<step>-<action index>`: stable across retries of the same
/// action, unique across actions.
pub fn idempotency_key(instance_id: i64, step: i64, index: u32) -> String {
    format!("wf-{instance_id}-{step}-{index}")
}

/// Why a trigger could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("the instance has already started")]
    AlreadyStarted,
    #[error("the instance is finished")]
    Finished,
    #[error("state `{0}` is not in the definition")]
    UnknownState(String),
    #[error("task {0} is not open (already completed or cancelled)")]
    TaskNotOpen(i64),
    #[error("task `{task}` has no outcome `{outcome}`")]
    UnknownOutcome { task: String, outcome: String },
    #[error("the form has errors")]
    Form(FieldErrors),
    #[error("state `{state}` does not accept event `{event}`")]
    NotAccepted { state: String, event: String },
    #[error("data field `{0}` is not declared")]
    UnknownField(String),
    #[error("data field `{field}`: {code}")]
    BadData { field: String, code: String },
    #[error("expression at {0}")]
    Expr(EvalError),
    #[error("more than {MAX_CHAIN} automatic transitions in one step (a loop of `when:` guards?)")]
    Loop,
}

impl From<EvalError> for StepError {
    fn from(e: EvalError) -> Self {
        StepError::Expr(e)
    }
}

enum WTask {
    Existing(OpenTask),
    New(NewTask),
}

enum WTimer {
    Existing(TimerRef),
    New(NewTimer),
}

impl WTimer {
    fn key(&self) -> &str {
        match self {
            WTimer::Existing(t) => &t.key,
            WTimer::New(t) => &t.key,
        }
    }

    fn due(&self) -> DateTime<Utc> {
        match self {
            WTimer::Existing(t) => t.due_at,
            WTimer::New(t) => t.due_at,
        }
    }
}

/// Extra roots available while applying a task outcome.
struct OutcomeRoots {
    form: Value,
    task: Value,
    outcome: Value,
}

struct Builder<'a> {
    def: &'a Definition,
    snap: &'a Snapshot,
    ctx: &'a StepContext,
    now: DateTime<Utc>,
    state: String,
    data: Map<String, Value>,
    event: Value,
    tasks: Vec<WTask>,
    timers: Vec<WTimer>,
    close_tasks: Vec<ClosedTask>,
    task_changes: Vec<TaskChange>,
    cancel_timers: Vec<i64>,
    consumed_timer: Option<i64>,
    actions: Vec<PlannedAction>,
    history: Vec<HistoryEntry>,
    chain: usize,
}

/// Computes the outcome of `trigger` on `snap`. Pure: the same inputs give
/// the same outcome.
pub fn step(
    def: &Definition,
    snap: &Snapshot,
    trigger: &Trigger,
    ctx: &StepContext,
    now: DateTime<Utc>,
) -> Result<Outcome, StepError> {
    let mut b = Builder::new(def, snap, ctx, now);
    match trigger {
        Trigger::Start { data, actor } => b.start(data, *actor)?,
        Trigger::Event {
            name,
            payload,
            actor,
        } => b.event(name, payload, *actor)?,
        Trigger::TaskOutcome {
            task_id,
            outcome,
            form,
            actor,
        } => b.task_outcome(*task_id, outcome, form, *actor, true)?,
        Trigger::Timer {
            id,
            kind,
            key,
            payload,
        } => b.timer(*id, *kind, key, payload)?,
        Trigger::Recheck => {
            if b.snap.finished {
                return Ok(b.finish());
            }
        }
    }
    if !b.snap.finished || matches!(trigger, Trigger::Start { .. }) {
        b.auto_transitions(trigger.actor())?;
        b.replan_at(matches!(trigger, Trigger::Recheck))?;
    }
    if matches!(trigger, Trigger::Recheck)
        && b.history.is_empty()
        && (!b.cancel_timers.is_empty() || b.timers.iter().any(|t| matches!(t, WTimer::New(_))))
    {
        b.record(
            "recheck",
            None,
            None,
            Map::new(),
            json!({"replanned": true}),
        );
    }
    Ok(b.finish())
}

/// Moves an instance to another version of its definition (`to`), into
/// `target_state`: its tasks and timers are closed and those of the target
/// state opened and planned; entry actions do not run again. Tasks that
/// exist under the same key in both keep their claim.
pub fn migrate(
    to: &Definition,
    snap: &Snapshot,
    target_state: &str,
    ctx: &StepContext,
    now: DateTime<Utc>,
    actor: Option<i64>,
    details: Value,
) -> Result<Outcome, StepError> {
    let state = to
        .state(target_state)
        .ok_or_else(|| StepError::UnknownState(target_state.to_string()))?;
    let mut b = Builder::new(to, snap, ctx, now);
    let claims: Vec<(String, i64)> = snap
        .tasks
        .iter()
        .filter_map(|t| t.claimed_by.map(|c| (t.key.clone(), c)))
        .collect();
    b.close_all_tasks();
    b.cancel_all_timers();
    for f in &to.data {
        if !b.data.contains_key(&f.name)
            && let Some(d) = &f.default
        {
            b.data.insert(f.name.clone(), d.clone());
        }
    }
    let from = b.state.clone();
    b.state = state.name.clone();
    b.open_state(state)?;
    for t in &mut b.tasks {
        if let WTask::New(n) = t
            && let Some((_, c)) = claims.iter().find(|(k, _)| *k == n.key)
        {
            n.claimed_by = Some(*c);
        }
    }
    let mut entry = HistoryEntry {
        trigger_kind: "migrate".into(),
        trigger_name: None,
        from_state: from,
        to_state: state.name.clone(),
        actor,
        data_change: Map::new(),
        details,
    };
    entry.data_change = diff(&snap.data, &b.data);
    b.history.push(entry);
    Ok(b.finish())
}

impl<'a> Builder<'a> {
    fn new(
        def: &'a Definition,
        snap: &'a Snapshot,
        ctx: &'a StepContext,
        now: DateTime<Utc>,
    ) -> Builder<'a> {
        Builder {
            def,
            snap,
            ctx,
            now,
            state: snap.state.clone(),
            data: snap.data.clone(),
            event: Value::Null,
            tasks: snap.tasks.iter().cloned().map(WTask::Existing).collect(),
            timers: snap.timers.iter().cloned().map(WTimer::Existing).collect(),
            close_tasks: Vec::new(),
            task_changes: Vec::new(),
            cancel_timers: Vec::new(),
            consumed_timer: None,
            actions: Vec::new(),
            history: Vec::new(),
            chain: 0,
        }
    }

    fn finish(self) -> Outcome {
        let finished =
            self.snap.finished || self.def.state(&self.state).is_some_and(|s| s.terminal);
        let data_changes = diff(&self.snap.data, &self.data);
        let actions = self
            .actions
            .into_iter()
            .enumerate()
            .map(|(i, mut a)| {
                a.index = i as u32;
                a
            })
            .collect();
        Outcome {
            instance_id: self.snap.id,
            from_version: self.snap.version,
            version: self.snap.version + 1,
            from_state: self.snap.state.clone(),
            state: self.state,
            data: self.data,
            data_changes,
            finished,
            open_tasks: self
                .tasks
                .into_iter()
                .filter_map(|t| match t {
                    WTask::New(n) => Some(n),
                    WTask::Existing(_) => None,
                })
                .collect(),
            close_tasks: self.close_tasks,
            task_changes: self.task_changes,
            set_timers: self
                .timers
                .into_iter()
                .filter_map(|t| match t {
                    WTimer::New(n) => Some(n),
                    WTimer::Existing(_) => None,
                })
                .collect(),
            cancel_timers: self.cancel_timers,
            consumed_timer: self.consumed_timer,
            actions,
            history: self.history,
        }
    }

    fn current(&self) -> Result<&'a State, StepError> {
        self.def
            .state(&self.state)
            .ok_or_else(|| StepError::UnknownState(self.state.clone()))
    }

    /// The expression context: `data` (declared fields present, null when
    /// unset), `object`, `event`, `now`, and outcome roots when given.
    fn scope(&self, extra: Option<&OutcomeRoots>) -> minijinja::Value {
        let mut data = self.data.clone();
        for f in &self.def.data {
            data.entry(f.name.clone()).or_insert(Value::Null);
        }
        let mut root = Map::new();
        root.insert("data".into(), Value::Object(data));
        root.insert("object".into(), self.ctx.object.clone());
        root.insert("event".into(), self.event.clone());
        root.insert("now".into(), Value::String(format_time(self.now)));
        if let Some(x) = extra {
            root.insert("form".into(), x.form.clone());
            root.insert("task".into(), x.task.clone());
            root.insert("outcome".into(), x.outcome.clone());
        }
        from_json(&Value::Object(root))
    }

    fn record(
        &mut self,
        kind: &str,
        name: Option<String>,
        actor: Option<i64>,
        data_change: Map<String, Value>,
        details: Value,
    ) {
        self.history.push(HistoryEntry {
            trigger_kind: kind.to_string(),
            trigger_name: name,
            from_state: self.state.clone(),
            to_state: self.state.clone(),
            actor,
            data_change,
            details,
        });
    }

    fn start(&mut self, input: &Map<String, Value>, actor: Option<i64>) -> Result<(), StepError> {
        if self.snap.version != 0 {
            return Err(StepError::AlreadyStarted);
        }
        for (k, v) in input {
            let field = self
                .def
                .field(k)
                .ok_or_else(|| StepError::UnknownField(k.clone()))?;
            let v = coerce(field.ty, v.clone()).map_err(|code| StepError::BadData {
                field: k.clone(),
                code: code.to_string(),
            })?;
            self.data.insert(k.clone(), v);
        }
        for f in &self.def.data {
            if !self.data.contains_key(&f.name)
                && let Some(d) = &f.default
            {
                self.data.insert(f.name.clone(), d.clone());
            }
        }
        let initial = self
            .def
            .state(&self.def.initial)
            .ok_or_else(|| StepError::UnknownState(self.def.initial.clone()))?;
        self.state = initial.name.clone();
        self.run_actions(&initial.on_enter, None)?;
        self.open_state(initial)?;
        let change = self.data.clone();
        self.history.push(HistoryEntry {
            trigger_kind: "start".into(),
            trigger_name: None,
            from_state: String::new(),
            to_state: initial.name.clone(),
            actor,
            data_change: change,
            details: Value::Null,
        });
        Ok(())
    }

    fn event(&mut self, name: &str, payload: &Value, actor: Option<i64>) -> Result<(), StepError> {
        self.event = payload.clone();
        if self.snap.finished {
            if self.ctx.strict {
                return Err(StepError::Finished);
            }
            self.record(
                "event",
                Some(name.to_string()),
                actor,
                Map::new(),
                json!({"ignored": "finished"}),
            );
            return Ok(());
        }
        let state = self.current()?;
        for t in &state.transitions {
            if let When::Event(e) = &t.when
                && e == name
                && self.guard_ok(t.guard.as_ref(), None)?
            {
                return self.take(t, "event", Some(name.to_string()), actor, None);
            }
        }
        if self.ctx.strict {
            return Err(StepError::NotAccepted {
                state: self.state.clone(),
                event: name.to_string(),
            });
        }
        self.record(
            "event",
            Some(name.to_string()),
            actor,
            Map::new(),
            json!({"ignored": "not_accepted"}),
        );
        Ok(())
    }

    fn guard_ok(
        &self,
        guard: Option<&crate::expr::Expr>,
        extra: Option<&OutcomeRoots>,
    ) -> Result<bool, StepError> {
        match guard {
            None => Ok(true),
            Some(g) => Ok(g.eval_bool(&self.scope(extra))?),
        }
    }

    fn task_outcome(
        &mut self,
        task_id: i64,
        outcome: &str,
        form: &Map<String, Value>,
        actor: Option<i64>,
        check_form: bool,
    ) -> Result<(), StepError> {
        if self.snap.finished {
            return Err(StepError::TaskNotOpen(task_id));
        }
        let Some(open) = self.snap.tasks.iter().find(|t| t.id == task_id).cloned() else {
            return Err(StepError::TaskNotOpen(task_id));
        };
        let state = self.current()?;
        let task = state
            .task(&open.key)
            .ok_or(StepError::TaskNotOpen(task_id))?;
        let out = task
            .outcome(outcome)
            .ok_or_else(|| StepError::UnknownOutcome {
                task: task.id.clone(),
                outcome: outcome.to_string(),
            })?;
        let values = if check_form {
            validate_form(task, outcome, form).map_err(StepError::Form)?
        } else {
            form.clone()
        };
        self.event = json!({"task": open.key, "outcome": outcome, "form": values});
        let roots = OutcomeRoots {
            form: Value::Object(values.clone()),
            task: json!({"id": open.id, "key": open.key, "title": open.title, "claimed_by": open.claimed_by, "completed_by": actor}),
            outcome: Value::String(outcome.to_string()),
        };
        // Close this task as done first, so leaving the state cancels only the others.
        self.tasks
            .retain(|t| !matches!(t, WTask::Existing(x) if x.id == task_id));
        self.close_tasks.push(ClosedTask {
            id: task_id,
            status: TaskStatus::Done,
            outcome: Some(outcome.to_string()),
            form: Some(values),
            by: actor,
        });
        self.drop_task_timers(&open.key);
        let name = format!("{}:{}", open.key, outcome);
        self.transition_to(
            Some(&out.to),
            &out.set,
            &out.actions,
            Some(&roots),
            "task",
            Some(name),
            actor,
            json!({"task_id": task_id}),
        )
    }

    fn timer(
        &mut self,
        id: i64,
        kind: TimerKind,
        key: &str,
        payload: &Value,
    ) -> Result<(), StepError> {
        self.consumed_timer = Some(id);
        self.timers
            .retain(|t| !matches!(t, WTimer::Existing(x) if x.id == id));
        self.event = payload.clone();
        if self.snap.finished {
            self.record(
                "timer",
                Some(key.to_string()),
                None,
                Map::new(),
                json!({"ignored": "finished"}),
            );
            return Ok(());
        }
        let state = self.current()?;
        match kind {
            TimerKind::After | TimerKind::At | TimerKind::Cron => {
                let tr = parse_state_key(key)
                    .filter(|(s, _)| *s == state.name)
                    .and_then(|(_, i)| state.transitions.get(i));
                let Some(tr) = tr else {
                    self.record(
                        "timer",
                        Some(key.to_string()),
                        None,
                        Map::new(),
                        json!({"ignored": "stale"}),
                    );
                    return Ok(());
                };
                if self.guard_ok(tr.guard.as_ref(), None)? {
                    self.take(tr, "timer", Some(key.to_string()), None, None)?;
                } else {
                    self.record(
                        "timer",
                        Some(key.to_string()),
                        None,
                        Map::new(),
                        json!({"ignored": "guard_false"}),
                    );
                }
                // A cron schedule keeps running while its state stays (internal
                // transition or false guard); re-entering the state planned it anew.
                if let When::Cron(spec) = &tr.when
                    && self.state == state.name
                    && !self.timers.iter().any(|t| t.key() == key)
                    && let Some(next) = spec.next_after(self.now)
                {
                    self.timers.push(WTimer::New(NewTimer {
                        kind: TimerKind::Cron,
                        key: key.to_string(),
                        due_at: next,
                        payload: json!({"scheduled_at": format_time(next)}),
                    }));
                }
                Ok(())
            }
            TimerKind::Remind | TimerKind::Escalate | TimerKind::Timeout => {
                let task_key = parse_task_key(key).unwrap_or_default().to_string();
                let open = self.snap.tasks.iter().find(|t| t.key == task_key).cloned();
                let (Some(open), Some(def)) = (open, state.task(&task_key)) else {
                    self.record(
                        "timer",
                        Some(key.to_string()),
                        None,
                        Map::new(),
                        json!({"ignored": "task_closed"}),
                    );
                    return Ok(());
                };
                match kind {
                    TimerKind::Remind => {
                        let n = payload.get("n").and_then(Value::as_i64).unwrap_or(1);
                        self.actions.push(PlannedAction {
                            index: 0,
                            name: TASK_REMIND.into(),
                            params: json!({
                                "task_id": open.id, "task_key": open.key, "title": open.title,
                                "roles": def.roles, "org_id": open.org_id, "assignee": open.assignee,
                                "claimed_by": open.claimed_by, "reminder": n,
                            }),
                            task_key: None,
                        });
                        if let Some(every) = &def.reminders {
                            let due = every.due_from(self.now);
                            self.timers.push(WTimer::New(NewTimer {
                                kind: TimerKind::Remind,
                                key: key.to_string(),
                                due_at: due,
                                payload: json!({"n": n + 1}),
                            }));
                        }
                        self.record(
                            "timer",
                            Some(key.to_string()),
                            None,
                            Map::new(),
                            json!({"reminder": n, "task_id": open.id}),
                        );
                    }
                    TimerKind::Escalate => {
                        if let Some(esc) = &def.escalate {
                            let org_id = match &esc.org {
                                Some(e) => as_id(e.eval_json(&self.scope(None))?, e)?,
                                None => open.org_id,
                            };
                            self.task_changes.push(TaskChange::Escalate {
                                id: open.id,
                                role: esc.to_role.clone(),
                                org_id,
                            });
                            self.actions.push(PlannedAction {
                                index: 0,
                                name: TASK_ESCALATED.into(),
                                params: json!({
                                    "task_id": open.id, "task_key": open.key, "title": open.title,
                                    "role": esc.to_role, "org_id": org_id,
                                    "assignee": open.assignee, "claimed_by": open.claimed_by,
                                }),
                                task_key: None,
                            });
                            self.record(
                                "timer",
                                Some(key.to_string()),
                                None,
                                Map::new(),
                                json!({"escalated_to": esc.to_role, "task_id": open.id}),
                            );
                        }
                    }
                    _ => {
                        if let Some((_, outcome)) = &def.on_timeout {
                            let outcome = outcome.clone();
                            self.task_outcome(open.id, &outcome, &Map::new(), None, false)?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Takes transition `t` of the current state.
    fn take(
        &mut self,
        t: &Transition,
        kind: &str,
        name: Option<String>,
        actor: Option<i64>,
        roots: Option<&OutcomeRoots>,
    ) -> Result<(), StepError> {
        self.transition_to(
            t.to.as_ref(),
            &t.set,
            &t.actions,
            roots,
            kind,
            name,
            actor,
            Value::Null,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn transition_to(
        &mut self,
        to: Option<&String>,
        set: &[Assign],
        actions: &[ActionCall],
        roots: Option<&OutcomeRoots>,
        kind: &str,
        name: Option<String>,
        actor: Option<i64>,
        mut details: Value,
    ) -> Result<(), StepError> {
        self.chain += 1;
        if self.chain > MAX_CHAIN {
            return Err(StepError::Loop);
        }
        let from = self.state.clone();
        let before = self.data.clone();
        let current = self.current()?;
        let target = match to {
            Some(name) => Some(
                self.def
                    .state(name)
                    .ok_or_else(|| StepError::UnknownState(name.clone()))?,
            ),
            None => None,
        };
        if target.is_some() {
            self.run_actions(&current.on_exit, roots)?;
            self.close_all_tasks();
            self.cancel_all_timers();
        }
        self.assign(set, roots)?;
        self.run_actions(actions, roots)?;
        if let Some(target) = target {
            self.state = target.name.clone();
            self.run_actions(&target.on_enter, None)?;
            self.open_state(target)?;
        } else if let Value::Object(m) = &mut details {
            m.insert("internal".into(), Value::Bool(true));
        } else {
            details = json!({"internal": true});
        }
        self.history.push(HistoryEntry {
            trigger_kind: kind.to_string(),
            trigger_name: name,
            from_state: from,
            to_state: self.state.clone(),
            actor,
            data_change: diff(&before, &self.data),
            details,
        });
        Ok(())
    }

    fn assign(&mut self, set: &[Assign], roots: Option<&OutcomeRoots>) -> Result<(), StepError> {
        if set.is_empty() {
            return Ok(());
        }
        let scope = self.scope(roots);
        let mut values = Vec::with_capacity(set.len());
        for a in set {
            let v = eval_param(&a.value, &scope)?;
            let ty = self
                .def
                .field(&a.field)
                .map(|f| f.ty)
                .ok_or_else(|| StepError::UnknownField(a.field.clone()))?;
            let v = coerce(ty, v).map_err(|code| StepError::BadData {
                field: a.field.clone(),
                code: code.to_string(),
            })?;
            values.push((a.field.clone(), v));
        }
        for (k, v) in values {
            self.data.insert(k, v);
        }
        Ok(())
    }

    fn run_actions(
        &mut self,
        calls: &[ActionCall],
        roots: Option<&OutcomeRoots>,
    ) -> Result<(), StepError> {
        if calls.is_empty() {
            return Ok(());
        }
        let scope = self.scope(roots);
        for c in calls {
            let mut params = Map::new();
            for (k, p) in &c.params {
                params.insert(k.clone(), eval_param(p, &scope)?);
            }
            self.actions.push(PlannedAction {
                index: 0,
                name: c.name.clone(),
                params: Value::Object(params),
                task_key: None,
            });
        }
        Ok(())
    }

    fn close_all_tasks(&mut self) {
        for t in std::mem::take(&mut self.tasks) {
            match t {
                WTask::Existing(x) => self.close_tasks.push(ClosedTask {
                    id: x.id,
                    status: TaskStatus::Cancelled,
                    outcome: None,
                    form: None,
                    by: None,
                }),
                WTask::New(n) => {
                    // Opened and left within this step: it never existed.
                    self.actions.retain(|a| {
                        !(a.name == TASK_CREATED && a.task_key.as_deref() == Some(n.key.as_str()))
                    });
                }
            }
        }
    }

    fn cancel_all_timers(&mut self) {
        for t in std::mem::take(&mut self.timers) {
            if let WTimer::Existing(x) = t {
                self.cancel_timers.push(x.id);
            }
        }
    }

    fn remove_timer(&mut self, key: &str) {
        let mut kept = Vec::new();
        for t in std::mem::take(&mut self.timers) {
            if t.key() == key {
                if let WTimer::Existing(x) = t {
                    self.cancel_timers.push(x.id);
                }
            } else {
                kept.push(t);
            }
        }
        self.timers = kept;
    }

    fn drop_task_timers(&mut self, task_key: &str) {
        for kind in [TimerKind::Remind, TimerKind::Escalate, TimerKind::Timeout] {
            self.remove_timer(&task_timer_key(task_key, kind));
        }
    }

    /// Opens the tasks and plans the timers of `state`, just entered.
    fn open_state(&mut self, state: &State) -> Result<(), StepError> {
        if state.terminal {
            return Ok(());
        }
        let scope = if state.tasks.is_empty()
            && !state
                .transitions
                .iter()
                .any(|t| matches!(t.when, When::At(_)))
        {
            None
        } else {
            Some(self.scope(None))
        };
        for (i, t) in state.transitions.iter().enumerate() {
            let key = state_timer_key(&state.name, i);
            let planned = match &t.when {
                When::After(w) => Some((TimerKind::After, w.due_from(self.now))),
                When::Cron(c) => c.next_after(self.now).map(|d| (TimerKind::Cron, d)),
                When::At(e) => match &scope {
                    Some(s) => at_time(e, s)?.map(|d| (TimerKind::At, d)),
                    None => None,
                },
                _ => None,
            };
            if let Some((kind, due_at)) = planned {
                self.timers.push(WTimer::New(NewTimer {
                    kind,
                    key,
                    due_at,
                    payload: json!({"scheduled_at": format_time(due_at)}),
                }));
            }
        }
        let Some(scope) = scope else { return Ok(()) };
        for task in &state.tasks {
            let title = task.title.render(&scope)?;
            let assignee = match &task.assignee {
                Some(e) => as_id(e.eval_json(&scope)?, e)?,
                None => None,
            };
            let org_id = match &task.org {
                Some(e) => as_id(e.eval_json(&scope)?, e)?,
                None => None,
            };
            let due_at = task.due.as_ref().map(|w| w.due_from(self.now));
            self.actions.push(PlannedAction {
                index: 0,
                name: TASK_CREATED.into(),
                params: json!({
                    "task_key": task.id, "title": title, "roles": task.roles,
                    "org_id": org_id, "assignee": assignee, "priority": task.priority,
                    "due_at": due_at.map(format_time),
                }),
                task_key: Some(task.id.clone()),
            });
            self.tasks.push(WTask::New(NewTask {
                key: task.id.clone(),
                state: state.name.clone(),
                title,
                roles: task.roles.clone(),
                org_id,
                assignee,
                claimed_by: None,
                priority: task.priority,
                due_at,
            }));
            let mut plan = |kind: TimerKind, wait: &Wait, payload: Value| {
                let due_at = wait.due_from(self.now);
                self.timers.push(WTimer::New(NewTimer {
                    kind,
                    key: task_timer_key(&task.id, kind),
                    due_at,
                    payload,
                }));
            };
            if let Some(w) = &task.reminders {
                plan(TimerKind::Remind, w, json!({"n": 1}));
            }
            if let Some(e) = &task.escalate {
                plan(TimerKind::Escalate, &e.after, Value::Null);
            }
            if let Some((w, _)) = &task.on_timeout {
                plan(TimerKind::Timeout, w, Value::Null);
            }
        }
        Ok(())
    }

    /// Follows `when:` transitions of the current state while their guards hold.
    fn auto_transitions(&mut self, actor: Option<i64>) -> Result<(), StepError> {
        loop {
            let state = self.current()?;
            if state.terminal {
                return Ok(());
            }
            let mut next = None;
            for t in &state.transitions {
                if let When::Guard(g) = &t.when {
                    let scope = self.scope(None);
                    if g.eval_bool(&scope)? && self.guard_ok(t.guard.as_ref(), None)? {
                        next = Some(t);
                        break;
                    }
                }
            }
            match next {
                Some(t) => self.take(
                    t,
                    "auto",
                    Some(format!("when: {}", guard_src(t))),
                    actor,
                    None,
                )?,
                None => return Ok(()),
            }
        }
    }

    /// Re-plans `at:` timers of the current state whose inputs changed (or
    /// all of them on a recheck): a reminder follows the date it hangs on.
    fn replan_at(&mut self, all: bool) -> Result<(), StepError> {
        let state = self.current()?;
        if state.terminal {
            return Ok(());
        }
        let changed: BTreeSet<String> = diff(&self.snap.data, &self.data).keys().cloned().collect();
        for (i, t) in state.transitions.iter().enumerate() {
            let When::At(e) = &t.when else { continue };
            let fields = e.data_fields();
            let touched = all || fields.contains("*") || fields.iter().any(|f| changed.contains(f));
            if !touched {
                continue;
            }
            let key = state_timer_key(&state.name, i);
            let desired = at_time(e, &self.scope(None))?;
            let current = self.timers.iter().find(|t| t.key() == key).map(WTimer::due);
            if current == desired {
                continue;
            }
            self.remove_timer(&key);
            if let Some(due_at) = desired {
                self.timers.push(WTimer::New(NewTimer {
                    kind: TimerKind::At,
                    key,
                    due_at,
                    payload: json!({"scheduled_at": format_time(due_at)}),
                }));
            }
        }
        Ok(())
    }
}

fn guard_src(t: &Transition) -> String {
    match &t.when {
        When::Guard(g) => g.src.clone(),
        _ => String::new(),
    }
}

/// Timer key of transition `index` of `state`.
pub fn state_timer_key(state: &str, index: usize) -> String {
    format!("s:{state}:{index}")
}

/// Timer key of a task's reminder, escalation or timeout.
pub fn task_timer_key(task: &str, kind: TimerKind) -> String {
    format!("t:{task}:{}", kind.as_str())
}

fn parse_state_key(key: &str) -> Option<(&str, usize)> {
    let rest = key.strip_prefix("s:")?;
    let (state, idx) = rest.rsplit_once(':')?;
    Some((state, idx.parse().ok()?))
}

fn parse_task_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("t:")?;
    Some(rest.rsplit_once(':')?.0)
}

/// The due time of an `at:` expression, `None` when it has no value yet.
fn at_time(
    e: &crate::expr::Expr,
    scope: &minijinja::Value,
) -> Result<Option<DateTime<Utc>>, StepError> {
    match e.eval_json(scope)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => parse_time(&s)
            .map(Some)
            .ok_or_else(|| StepError::Expr(e.error(format!("{s:?} is not an RFC 3339 time")))),
        other => Err(StepError::Expr(e.error(format!("{other} is not a time")))),
    }
}

/// A user or organisation id from an expression (null → none).
fn as_id(v: Value, e: &crate::expr::Expr) -> Result<Option<i64>, StepError> {
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64()),
        Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        _ => Err(StepError::Expr(e.error(format!("{v} is not an id")))),
    }
}

fn eval_param(p: &Param, scope: &minijinja::Value) -> Result<Value, StepError> {
    Ok(match p {
        Param::Literal(v) => v.clone(),
        Param::Expr(e) => e.eval_json(scope)?,
        Param::List(items) => Value::Array(
            items
                .iter()
                .map(|i| eval_param(i, scope))
                .collect::<Result<_, _>>()?,
        ),
        Param::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), eval_param(v, scope)?);
            }
            Value::Object(out)
        }
    })
}

/// Fields whose value differs between `a` and `b` → value in `b` (null when removed).
fn diff(a: &Map<String, Value>, b: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in b {
        if a.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

/// The outcome that records a step that failed (a broken expression in a
/// timer's guard, say) without changing state or data: the timer is consumed
/// and the history says why, rather than the worker retrying it forever.
pub fn error_outcome(snap: &Snapshot, trigger: &Trigger, error: &str) -> Outcome {
    let (name, consumed) = match trigger {
        Trigger::Timer { id, key, .. } => (Some(key.clone()), Some(*id)),
        Trigger::Event { name, .. } => (Some(name.clone()), None),
        Trigger::TaskOutcome {
            task_id, outcome, ..
        } => (Some(format!("{task_id}:{outcome}")), None),
        _ => (None, None),
    };
    Outcome {
        instance_id: snap.id,
        from_version: snap.version,
        version: snap.version + 1,
        from_state: snap.state.clone(),
        state: snap.state.clone(),
        data: snap.data.clone(),
        data_changes: Map::new(),
        finished: snap.finished,
        open_tasks: Vec::new(),
        close_tasks: Vec::new(),
        task_changes: Vec::new(),
        set_timers: Vec::new(),
        cancel_timers: Vec::new(),
        consumed_timer: consumed,
        actions: Vec::new(),
        history: vec![HistoryEntry {
            trigger_kind: "error".into(),
            trigger_name: name,
            from_state: snap.state.clone(),
            to_state: snap.state.clone(),
            actor: None,
            data_change: Map::new(),
            details: json!({"trigger": trigger.kind(), "error": error}),
        }],
    }
}
