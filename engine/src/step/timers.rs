//! Timers in a step: firing one (transition, reminder, escalation,
//! timeout), cancelling and re-planning them, and the timer keys.

use super::*;

impl<'a> Builder<'a> {
    pub(super) fn timer(
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

    pub(super) fn cancel_all_timers(&mut self) {
        for t in std::mem::take(&mut self.timers) {
            if let WTimer::Existing(x) = t {
                self.cancel_timers.push(x.id);
            }
        }
    }

    pub(super) fn remove_timer(&mut self, key: &str) {
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

    /// Re-plans `at:` timers of the current state whose inputs changed (or
    /// all of them on a recheck): a reminder follows the date it hangs on.
    pub(super) fn replan_at(&mut self, all: bool) -> Result<(), StepError> {
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

/// Timer key of transition `index` of `state`.
pub fn state_timer_key(state: &str, index: usize) -> String {
    format!("s:{state}:{index}")
}

/// Timer key of a task's reminder, escalation or timeout.
pub fn task_timer_key(task: &str, kind: TimerKind) -> String {
    format!("t:{task}:{}", kind.as_str())
}

/// The state and transition index of a transition timer's key.
pub fn parse_state_key(key: &str) -> Option<(&str, usize)> {
    let rest = key.strip_prefix("s:")?;
    let (state, idx) = rest.rsplit_once(':')?;
    Some((state, idx.parse().ok()?))
}

/// The task of a reminder's, escalation's or timeout's key.
pub fn parse_task_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("t:")?;
    Some(rest.rsplit_once(':')?.0)
}

/// The due time of an `at:` expression, `None` when it has no value yet.
pub(super) fn at_time(
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
