//! A compiled, validated workflow definition: what `step()` runs.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::Calendar;
use crate::diag::Pos;
use crate::duration::Dur;
use crate::expr::{Expr, Template};

/// The value types a data field or form field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Text,
    Integer,
    Number,
    /// An integer number of kopecks.
    Money,
    Boolean,
    /// An RFC 3339 time; stored in UTC with milliseconds.
    Datetime,
    /// `YYYY-MM-DD`.
    Date,
    Json,
}

impl FieldType {
    pub fn parse(s: &str) -> Option<FieldType> {
        Some(match s {
            "string" => FieldType::String,
            "text" => FieldType::Text,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "money" => FieldType::Money,
            "boolean" => FieldType::Boolean,
            "datetime" => FieldType::Datetime,
            "date" => FieldType::Date,
            "json" => FieldType::Json,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Money => "money",
            FieldType::Boolean => "boolean",
            FieldType::Datetime => "datetime",
            FieldType::Date => "date",
            FieldType::Json => "json",
        }
    }

    pub const NAMES: &'static str =
        "string, text, integer, number, money, boolean, datetime, date, json";
}

/// A declared data field.
#[derive(Debug, Clone, Serialize)]
pub struct DataField {
    pub name: String,
    pub ty: FieldType,
    pub title: Option<String>,
    pub default: Option<serde_json::Value>,
}

/// A duration, counted in plain time or in a working-time calendar.
#[derive(Debug, Clone)]
pub struct Wait {
    pub dur: Dur,
    pub calendar: Option<Arc<Calendar>>,
}

impl Wait {
    pub fn due_from(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        match &self.calendar {
            Some(c) => c.add(from, self.dur),
            None => from + self.dur.to_chrono(),
        }
    }

    pub fn label(&self) -> String {
        match &self.calendar {
            Some(c) => format!("{} ({})", self.dur, c.name),
            None => self.dur.to_string(),
        }
    }
}

/// A cron schedule, already translated to the `cron` crate's form.
#[derive(Debug, Clone)]
pub struct CronSpec {
    /// What the analyst wrote.
    pub text: String,
    pub schedule: cron::Schedule,
    pub timezone: Tz,
}

impl CronSpec {
    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&t.with_timezone(&self.timezone))
            .next()
            .map(|x| x.with_timezone(&Utc))
    }
}

/// What makes a transition fire.
#[derive(Debug)]
pub enum When {
    Event(String),
    After(Wait),
    At(Expr),
    Cron(CronSpec),
    Guard(Expr),
}

impl When {
    pub fn kind(&self) -> &'static str {
        match self {
            When::Event(_) => "event",
            When::After(_) => "after",
            When::At(_) => "at",
            When::Cron(_) => "cron",
            When::Guard(_) => "when",
        }
    }

    /// Timer triggers get a timer row when their state is entered.
    pub fn is_timer(&self) -> bool {
        matches!(self, When::After(_) | When::At(_) | When::Cron(_))
    }
}

/// A parameter value of an action call: literals stay, strings are expressions.
#[derive(Debug)]
pub enum Param {
    Literal(serde_json::Value),
    Expr(Expr),
    List(Vec<Param>),
    Map(Vec<(String, Param)>),
}

#[derive(Debug)]
pub struct ActionCall {
    pub name: String,
    pub params: Vec<(String, Param)>,
    pub pos: Pos,
}

/// A `set:` entry: data field ← expression (or literal).
#[derive(Debug)]
pub struct Assign {
    pub field: String,
    pub value: Param,
}

#[derive(Debug)]
pub struct Transition {
    pub when: When,
    /// `None`: an internal transition (stays, no exit/entry).
    pub to: Option<String>,
    pub guard: Option<Expr>,
    pub set: Vec<Assign>,
    pub actions: Vec<ActionCall>,
    pub title: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s {
            "low" => Priority::Low,
            "normal" => Priority::Normal,
            "high" => Priority::High,
            "urgent" => Priority::Urgent,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// An allowed value of a choice field.
#[derive(Debug, Clone, Serialize)]
pub struct FormOption {
    pub value: String,
    pub label: Option<String>,
}

/// One field of a task's form. The web renders it; the engine validates it.
#[derive(Debug, Clone, Serialize)]
pub struct FormField {
    pub id: String,
    pub ty: FieldType,
    pub label: Option<String>,
    pub help: Option<String>,
    pub required: bool,
    /// Required only when completing with one of these outcomes.
    pub required_if: Vec<String>,
    /// Numbers: smallest value; texts: shortest length.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    #[serde(skip)]
    pub regex: Option<regex::Regex>,
    pub options: Vec<FormOption>,
}

#[derive(Debug)]
pub struct TaskOutcomeDef {
    pub id: String,
    pub title: String,
    pub to: String,
    pub set: Vec<Assign>,
    pub actions: Vec<ActionCall>,
    /// Form fields this outcome requires (besides always-required ones).
    pub requires: Vec<String>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct Escalation {
    pub after: Wait,
    pub to_role: String,
    /// Organisation of the escalation role; `None` keeps the task's own.
    pub org: Option<Expr>,
}

#[derive(Debug)]
pub struct TaskDef {
    pub id: String,
    pub title: Template,
    pub description: Option<String>,
    pub roles: Vec<String>,
    pub assignee: Option<Expr>,
    pub org: Option<Expr>,
    pub priority: Priority,
    pub due: Option<Wait>,
    pub form: Vec<FormField>,
    pub outcomes: Vec<TaskOutcomeDef>,
    pub reminders: Option<Wait>,
    pub escalate: Option<Escalation>,
    pub on_timeout: Option<(Wait, String)>,
    pub pos: Pos,
}

impl TaskDef {
    pub fn outcome(&self, id: &str) -> Option<&TaskOutcomeDef> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// Whether this form field must be filled when completing with `outcome`.
    pub fn field_required(&self, field: &FormField, outcome: &str) -> bool {
        field.required
            || field.required_if.iter().any(|o| o == outcome)
            || self
                .outcome(outcome)
                .is_some_and(|o| o.requires.contains(&field.id))
    }
}

#[derive(Debug)]
pub struct State {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub terminal: bool,
    pub on_enter: Vec<ActionCall>,
    pub on_exit: Vec<ActionCall>,
    pub tasks: Vec<TaskDef>,
    pub transitions: Vec<Transition>,
    pub pos: Pos,
}

impl State {
    pub fn task(&self, id: &str) -> Option<&TaskDef> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// Whether instances in this state may have timer rows.
    pub fn has_timers(&self) -> bool {
        self.transitions.iter().any(|t| t.when.is_timer())
            || self
                .tasks
                .iter()
                .any(|t| t.reminders.is_some() || t.escalate.is_some() || t.on_timeout.is_some())
    }
}

/// A validated workflow definition.
#[derive(Debug)]
pub struct Definition {
    pub key: String,
    pub title: String,
    pub description: Option<String>,
    pub object_kind: String,
    pub timezone: Tz,
    pub data: Vec<DataField>,
    pub events: Vec<String>,
    /// The events that may come from outside (`external:`): the JSON API
    /// emits only these.
    pub external_events: Vec<String>,
    pub initial: String,
    pub states: Vec<State>,
    index: HashMap<String, usize>,
    /// Whether any expression reads `object` (else no context is loaded).
    pub uses_object: bool,
    /// Every event name some transition listens to.
    pub listened_events: std::collections::BTreeSet<String>,
    /// Hex SHA-256 of the YAML text.
    pub content_hash: String,
    pub source_name: String,
}

impl Definition {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        key: String,
        title: String,
        description: Option<String>,
        object_kind: String,
        timezone: Tz,
        data: Vec<DataField>,
        events: Vec<String>,
        initial: String,
        states: Vec<State>,
        content_hash: String,
        source_name: String,
    ) -> Definition {
        let index = states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let mut uses_object = false;
        let mut listened_events = std::collections::BTreeSet::new();
        let mut note = |reads: &std::collections::BTreeSet<String>| {
            if reads
                .iter()
                .any(|r| r == "object" || r.starts_with("object."))
            {
                uses_object = true;
            }
        };
        for s in &states {
            for t in &s.transitions {
                if let When::Event(e) = &t.when {
                    listened_events.insert(e.clone());
                }
                visit_transition_reads(t, &mut note);
            }
            for a in s.on_enter.iter().chain(&s.on_exit) {
                visit_action_reads(a, &mut note);
            }
            for task in &s.tasks {
                note(&task.title.reads);
                for e in task.assignee.iter().chain(&task.org) {
                    note(&e.reads);
                }
                if let Some(esc) = &task.escalate
                    && let Some(e) = &esc.org
                {
                    note(&e.reads);
                }
                for o in &task.outcomes {
                    for a in &o.set {
                        visit_param_reads(&a.value, &mut note);
                    }
                    for a in &o.actions {
                        visit_action_reads(a, &mut note);
                    }
                }
            }
        }
        Definition {
            key,
            title,
            description,
            object_kind,
            timezone,
            data,
            events,
            external_events: Vec::new(),
            initial,
            states,
            index,
            uses_object,
            listened_events,
            content_hash,
            source_name,
        }
    }

    /// Whether `event` may come from outside the system (the JSON API).
    pub fn is_external(&self, event: &str) -> bool {
        self.external_events.iter().any(|e| e == event)
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.index.get(name).map(|i| &self.states[*i])
    }

    pub fn field(&self, name: &str) -> Option<&DataField> {
        self.data.iter().find(|f| f.name == name)
    }
}

fn visit_param_reads(p: &Param, f: &mut impl FnMut(&std::collections::BTreeSet<String>)) {
    match p {
        Param::Literal(_) => {}
        Param::Expr(e) => f(&e.reads),
        Param::List(l) => l.iter().for_each(|p| visit_param_reads(p, f)),
        Param::Map(m) => m.iter().for_each(|(_, p)| visit_param_reads(p, f)),
    }
}

fn visit_action_reads(a: &ActionCall, f: &mut impl FnMut(&std::collections::BTreeSet<String>)) {
    for (_, p) in &a.params {
        visit_param_reads(p, f);
    }
}

fn visit_transition_reads(t: &Transition, f: &mut impl FnMut(&std::collections::BTreeSet<String>)) {
    match &t.when {
        When::At(e) | When::Guard(e) => f(&e.reads),
        _ => {}
    }
    if let Some(g) = &t.guard {
        f(&g.reads);
    }
    for a in &t.set {
        visit_param_reads(&a.value, f);
    }
    for a in &t.actions {
        visit_action_reads(a, f);
    }
}
