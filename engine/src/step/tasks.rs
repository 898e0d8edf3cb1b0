//! Human tasks in a step: completing one with an outcome, opening the
//! tasks (and planning the timers) of a state just entered, closing them.

use super::*;

impl<'a> Builder<'a> {
    pub(super) fn task_outcome(
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

    pub(super) fn close_all_tasks(&mut self) {
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

    pub(super) fn drop_task_timers(&mut self, task_key: &str) {
        for kind in [TimerKind::Remind, TimerKind::Escalate, TimerKind::Timeout] {
            self.remove_timer(&task_timer_key(task_key, kind));
        }
    }

    /// Opens the tasks and plans the timers of `state`, just entered.
    pub(super) fn open_state(&mut self, state: &State) -> Result<(), StepError> {
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
}

/// A user or organisation id from an expression (null → none).
pub(super) fn as_id(v: Value, e: &crate::expr::Expr) -> Result<Option<i64>, StepError> {
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64()),
        Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        _ => Err(StepError::Expr(e.error(format!("{v} is not an id")))),
    }
}
