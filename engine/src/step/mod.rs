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

mod migrate;
mod tasks;
mod timers;
mod types;

pub use migrate::migrate;
pub use timers::{parse_state_key, parse_task_key, state_timer_key, task_timer_key};
pub use types::*;

use tasks::as_id;
use timers::at_time;

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
}

fn guard_src(t: &Transition) -> String {
    match &t.when {
        When::Guard(g) => g.src.clone(),
        _ => String::new(),
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
