//! What a step of an instance's history did, in the workflow's own words.
//!
//! The history stores triggers as the engine knows them — `qualify:ready`
//! for a task's outcome, `rfq.sent` for an event, `when: data.x > 0` for an
//! automatic transition, `s:rfq_round:4` for a timer. People read the titles
//! the analysts wrote in the YAML instead: the outcome's, the transition's.
//! [`step_story`] finds them in the definition the instance runs; the domain
//! puts the names of people and the interface's phrases around them.

use serde::Serialize;
use serde_json::Value;

use crate::model::{Definition, Transition, When};
use crate::queries::HistoryView;
use crate::step::parse_state_key;

/// What kind of thing happened at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoryKind {
    /// The instance started in its initial state.
    Started,
    /// Someone (or a timeout) completed a task with an outcome.
    Outcome,
    /// An event, a timer or a condition moved the instance (or changed its
    /// data without leaving the state).
    Transition,
    /// A reminder about an open task went out.
    Reminder,
    /// An overdue task went to another role.
    Escalation,
    /// The instance moved to another version of its workflow.
    Migrated,
    /// A step failed; the instance stays where it was.
    Failed,
}

/// One step of a history told in the workflow's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepStory {
    pub kind: StoryKind,
    /// The YAML title of what was done: the outcome's for a task, the
    /// transition's otherwise; `None` when the YAML gives none.
    pub title: Option<String>,
    /// The task completed, reminded of or escalated.
    pub task_id: Option<i64>,
    /// The role an escalated task went to.
    pub role: Option<String>,
}

/// What the step `h` of an instance running `def` did; `None` for a step
/// that changed nothing (an event the state does not accept, a timer whose
/// state was left or whose condition was false) — the technical history
/// keeps those, a person's reading of it does not need them.
pub fn step_story(def: &Definition, h: &HistoryView) -> Option<StepStory> {
    if h.details.get("ignored").is_some() {
        return None;
    }
    let task_id = h.details.get("task_id").and_then(Value::as_i64);
    let story = |kind, title: Option<String>| StepStory {
        kind,
        title,
        task_id,
        role: None,
    };
    let name = h.trigger_name.as_deref().unwrap_or_default();
    Some(match h.trigger_kind.as_str() {
        "start" => story(StoryKind::Started, None),
        "migrate" => story(StoryKind::Migrated, None),
        "error" => story(StoryKind::Failed, None),
        "task" => {
            let (task, outcome) = name.rsplit_once(':').unwrap_or((name, ""));
            let title = def
                .state(&h.from_state)
                .and_then(|s| s.task(task))
                .and_then(|t| t.outcome(outcome))
                .map(|o| o.title.clone());
            story(StoryKind::Outcome, title)
        }
        "timer" if h.details.get("reminder").is_some() => story(StoryKind::Reminder, None),
        "timer" if h.details.get("escalated_to").is_some() => StepStory {
            role: h
                .details
                .get("escalated_to")
                .and_then(Value::as_str)
                .map(str::to_string),
            ..story(StoryKind::Escalation, None)
        },
        "timer" => {
            let title = parse_state_key(name)
                .and_then(|(state, i)| def.state(state)?.transitions.get(i))
                .and_then(|t| t.title.clone());
            story(StoryKind::Transition, title)
        }
        "event" => story(
            StoryKind::Transition,
            taken(def, h, |w| matches!(w, When::Event(e) if e == name)),
        ),
        "auto" => {
            let src = name.strip_prefix("when: ").unwrap_or(name);
            story(
                StoryKind::Transition,
                taken(def, h, |w| matches!(w, When::Guard(g) if g.src == src)),
            )
        }
        _ => story(StoryKind::Transition, None),
    })
}

/// The title of the transition of `h`'s state that `trigger` picks and
/// that leads where `h` went (an event may have several, told apart by
/// their guards).
fn taken(def: &Definition, h: &HistoryView, trigger: impl Fn(&When) -> bool) -> Option<String> {
    let leads_there = |t: &Transition| t.to.as_deref().unwrap_or(&h.from_state) == h.to_state;
    def.state(&h.from_state)?
        .transitions
        .iter()
        .find(|t| trigger(&t.when) && leads_there(t))
        .and_then(|t| t.title.clone())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    const YAML: &str = r#"
id: story
title: История
object: thing
data:
  n: {type: integer, default: 0}
events: [go, poke]
initial: first
states:
  first:
    title: Первое
    tasks:
      - id: check
        title: Проверить
        roles: [manager]
        outcomes:
          ok: {title: Всё верно, to: second}
    on:
      - event: go
        to: second
        title: Поехали
      - event: poke
        title: Толчок
        set: {n: "data.n + 1"}
      - when: "data.n > 2"
        to: second
        title: Трижды толкнули
      - after: 1h
        to: second
        title: Час прошёл
  second:
    title: Второе
    terminal: true
"#;

    fn def() -> Definition {
        let vocab = crate::dsl::Vocabulary {
            roles: ["manager".to_string()].into(),
            events: ["go".to_string(), "poke".to_string()].into(),
            ..Default::default()
        };
        crate::dsl::compile(YAML, "story.yaml", &vocab).expect("the test workflow compiles")
    }

    fn step(kind: &str, name: Option<&str>, from: &str, to: &str, details: Value) -> HistoryView {
        HistoryView {
            step: 1,
            seq: 0,
            trigger_kind: kind.into(),
            trigger_name: name.map(str::to_string),
            from_state: from.into(),
            to_state: to.into(),
            actor: None,
            at: Utc::now(),
            data_change: Value::Null,
            details,
        }
    }

    fn title(h: &HistoryView) -> Option<String> {
        step_story(&def(), h).and_then(|s| s.title)
    }

    #[test]
    fn outcomes_transitions_and_timers_are_told_by_their_titles() {
        let outcome = step(
            "task",
            Some("check:ok"),
            "first",
            "second",
            json!({"task_id": 7}),
        );
        let told = step_story(&def(), &outcome).expect("a completed task is told");
        assert_eq!(told.kind, StoryKind::Outcome);
        assert_eq!(told.title.as_deref(), Some("Всё верно"));
        assert_eq!(told.task_id, Some(7));

        let event = step("event", Some("go"), "first", "second", Value::Null);
        assert_eq!(title(&event).as_deref(), Some("Поехали"));
        let internal = step("event", Some("poke"), "first", "first", Value::Null);
        assert_eq!(title(&internal).as_deref(), Some("Толчок"));
        let auto = step(
            "auto",
            Some("when: data.n > 2"),
            "first",
            "second",
            Value::Null,
        );
        assert_eq!(title(&auto).as_deref(), Some("Трижды толкнули"));
        let timer = step("timer", Some("s:first:3"), "first", "second", Value::Null);
        assert_eq!(title(&timer).as_deref(), Some("Час прошёл"));
    }

    #[test]
    fn steps_that_changed_nothing_are_left_out_and_others_keep_their_kind() {
        let ignored = step(
            "event",
            Some("go"),
            "second",
            "second",
            json!({"ignored": "finished"}),
        );
        assert_eq!(step_story(&def(), &ignored), None);
        let escalated = step(
            "timer",
            Some("t:check:escalate"),
            "first",
            "first",
            json!({"escalated_to": "admin", "task_id": 3}),
        );
        let told = step_story(&def(), &escalated).expect("an escalation is told");
        assert_eq!(told.kind, StoryKind::Escalation);
        assert_eq!(told.role.as_deref(), Some("admin"));
        let start = step("start", None, "", "first", Value::Null);
        assert_eq!(
            step_story(&def(), &start).map(|s| s.kind),
            Some(StoryKind::Started)
        );
        // A transition the YAML gives no title: told by its states alone.
        let unknown = step("event", Some("elsewhere"), "first", "second", Value::Null);
        assert_eq!(title(&unknown), None);
    }
}
