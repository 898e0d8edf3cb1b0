//! The core's model: what `step` is given (snapshot, trigger, context)
//! and what it returns (the outcome and its parts), and its errors.

use super::*;

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

    pub(super) fn actor(&self) -> Option<i64> {
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
