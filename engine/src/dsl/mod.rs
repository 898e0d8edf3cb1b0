//! The workflow DSL: parsing YAML into a validated [`Definition`], with every
//! problem reported as `file:line:column: message`.
//!
//! Parsing is two passes: serde-saphyr reads the YAML into `raw` structs whose
//! leaves keep their positions; the compiler below then checks meaning (names,
//! expressions, durations, reachability) and builds the model `step()` runs.
//! It collects every problem it can find rather than stopping at the first.

pub mod raw;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use chrono_tz::Tz;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::calendar::Calendars;
use crate::diag::{Diagnostic, Pos, from_yaml_error};
use crate::duration::Dur;
use crate::expr::{Expr, ROOTS, Template, filter_exists, filter_names, global_exists};
use crate::model::*;
use crate::values::coerce;
use raw::*;

/// Actions the engine itself enqueues for human tasks. A host may register
/// handlers for them (to send notifications); workflows cannot call them.
pub const TASK_CREATED: &str = "task.created";
pub const TASK_REMIND: &str = "task.remind";
pub const TASK_ESCALATED: &str = "task.escalated";
pub const RESERVED_ACTIONS: [&str; 3] = [TASK_CREATED, TASK_REMIND, TASK_ESCALATED];

/// The names a definition may use that the host application provides: roles,
/// actions (with their parameter names, if the host wants them checked),
/// globally known events, business-object kinds and calendars.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub roles: BTreeSet<String>,
    /// Action name → accepted parameter names (`None`: any). Local and
    /// external actions alike.
    pub actions: BTreeMap<String, Option<Vec<String>>>,
    /// Which of `actions` (and of the reserved task notifications) are
    /// **local**: run inside the step's transaction, with no `.done` /
    /// `.failed` result events. The others are external (outbox).
    pub local_actions: BTreeSet<String>,
    pub events: BTreeSet<String>,
    /// Object kinds with a context provider; empty means "any kind".
    pub object_kinds: BTreeSet<String>,
    /// The fields of `object.*` per object kind, as its context provider
    /// declares them; a kind not listed is not checked.
    pub object_fields: BTreeMap<String, Vec<String>>,
    pub calendars: Calendars,
    /// Time zone for cron schedules when a definition names none. Podryad's
    /// business runs on Moscow time, so that is the default.
    pub timezone: Tz,
}

impl Default for Vocabulary {
    fn default() -> Self {
        Vocabulary {
            roles: BTreeSet::new(),
            actions: BTreeMap::new(),
            local_actions: BTreeSet::new(),
            events: BTreeSet::new(),
            object_kinds: BTreeSet::new(),
            object_fields: BTreeMap::new(),
            calendars: Calendars::new(),
            timezone: chrono_tz::Europe::Moscow,
        }
    }
}

/// Hex SHA-256 of a definition's text: versions are told apart by content.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Parses and validates one definition. `file` names it in diagnostics.
pub fn compile(text: &str, file: &str, vocab: &Vocabulary) -> Result<Definition, Vec<Diagnostic>> {
    let raw: RawDefinition =
        serde_saphyr::from_str(text).map_err(|e| vec![from_yaml_error(file, &e)])?;
    let mut c = Compiler::new(file, vocab);
    let def = c.definition(&raw, content_hash(text));
    if c.diags.is_empty() {
        Ok(def)
    } else {
        c.diags.sort_by_key(|d| (d.line, d.column));
        c.diags.dedup();
        Err(c.diags)
    }
}

/// Checks workflow files (or folders of them) for `podryad workflows
/// check`; an empty result means all is well. A file named
/// `calendar.yaml` is checked as a calendar file; calendars it defines (and
/// those in a `calendar.yaml` beside a workflow) are known to the workflows.
pub fn check_files<P: AsRef<Path>>(paths: &[P], vocab: &Vocabulary) -> Vec<Diagnostic> {
    // A folder stands for the YAML files in it.
    let mut expanded = Vec::new();
    for p in paths {
        let p = p.as_ref();
        match std::fs::read_dir(p) {
            Ok(entries) if p.is_dir() => {
                let mut files: Vec<_> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                    .collect();
                files.sort();
                expanded.extend(files);
            }
            _ => expanded.push(p.to_path_buf()),
        }
    }
    let paths = expanded;
    let mut out = Vec::new();
    let mut vocab = vocab.clone();
    let is_calendar = |p: &Path| p.file_name().is_some_and(|n| n == "calendar.yaml");
    let add_calendars = |path: &Path, vocab: &mut Vocabulary, out: &mut Vec<Diagnostic>| {
        match Calendars::load_file(path) {
            Ok(cals) => {
                for name in cals.names() {
                    if let Some(c) = cals.get(name) {
                        vocab.calendars.insert((*c).clone());
                    }
                }
            }
            Err(d) => out.extend(d),
        }
    };
    let mut seen_calendars = BTreeSet::new();
    for p in &paths {
        let p = p.as_path();
        if is_calendar(p) {
            seen_calendars.insert(p.to_path_buf());
            add_calendars(p, &mut vocab, &mut out);
        }
    }
    for p in &paths {
        let p = p.as_path();
        if is_calendar(p) {
            continue;
        }
        if let Some(dir) = p.parent() {
            let sibling = dir.join("calendar.yaml");
            if sibling.exists() && seen_calendars.insert(sibling.clone()) {
                let mut ignored = Vec::new();
                add_calendars(&sibling, &mut vocab, &mut ignored);
            }
        }
        let file = p.display().to_string();
        match std::fs::read_to_string(p) {
            Ok(text) => {
                if let Err(d) = compile(&text, &file, &vocab) {
                    out.extend(d);
                }
            }
            Err(e) => out.push(Diagnostic::new(
                &file,
                Pos::default(),
                format!("не удалось прочитать файл: {e}"),
            )),
        }
    }
    out
}

fn pos<T>(s: &S<T>) -> Pos {
    Pos::from(s)
}

/// The position of `s`, or `fallback` when the parser had none for it.
fn pos_or<T>(s: &S<T>, fallback: Pos) -> Pos {
    let p = pos(s);
    if p.line == 0 { fallback } else { p }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_event_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The known name `name` is most likely a typo of: the nearest by edit
/// distance, if it is near enough (two edits, or a third of a long name).
fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn list(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = names.into_iter().map(|s| s.as_ref().to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Which roots an expression may read where it stands.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// `when:` and `at:`: only what the engine can re-check at any time.
    Watch,
    /// Transitions, entry/exit actions, task set-up.
    Step,
    /// A task outcome: also the form, the task and the outcome.
    Outcome(&'a [FormField]),
}

impl Scope<'_> {
    fn allows(&self, root: &str) -> bool {
        match self {
            Scope::Watch => matches!(root, "data" | "object" | "now"),
            Scope::Step => matches!(root, "data" | "object" | "event" | "now"),
            Scope::Outcome(_) => matches!(
                root,
                "data" | "object" | "form" | "task" | "outcome" | "now"
            ),
        }
    }
}

struct Compiler<'a> {
    file: &'a str,
    vocab: &'a Vocabulary,
    diags: Vec<Diagnostic>,
    data: Vec<DataField>,
    states: BTreeSet<String>,
    events: BTreeSet<String>,
    timezone: Tz,
    /// The definition's object kind (`object:`).
    object_kind: String,
    /// Unknown names by kind and name, with every place they were written:
    /// reported once each at the end, so one typo is one message.
    unknown: BTreeMap<(Unknown, String), Vec<Pos>>,
    /// Set when a transition or an outcome was dropped for an error: the
    /// graph is then incomplete, and "unreachable" would only echo it.
    dropped_edges: bool,
    /// States that lost a transition or an outcome to an error: their
    /// "no way out" would echo it too.
    broken_states: BTreeSet<String>,
}

/// What kind of name was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unknown {
    State,
    DataField,
    Event,
}

impl<'a> Compiler<'a> {
    fn new(file: &'a str, vocab: &'a Vocabulary) -> Compiler<'a> {
        Compiler {
            file,
            vocab,
            diags: Vec::new(),
            data: Vec::new(),
            states: BTreeSet::new(),
            events: BTreeSet::new(),
            timezone: vocab.timezone,
            object_kind: String::new(),
            unknown: BTreeMap::new(),
            dropped_edges: false,
            broken_states: BTreeSet::new(),
        }
    }

    fn err(&mut self, pos: Pos, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(self.file, pos, msg));
    }

    fn unknown(&mut self, what: Unknown, name: &str, at: Pos) {
        self.unknown
            .entry((what, name.to_string()))
            .or_default()
            .push(at);
    }

    /// One message per unknown name, at its first place, naming the other
    /// places and the known name it is most likely a typo of.
    fn report_unknown(&mut self) {
        let unknown = std::mem::take(&mut self.unknown);
        for ((what, name), mut places) in unknown {
            places.sort();
            places.dedup();
            let known: Vec<String> = match what {
                Unknown::State => self.states.iter().cloned().collect(),
                Unknown::DataField => self.data.iter().map(|d| d.name.clone()).collect(),
                Unknown::Event => self.events.iter().cloned().collect(),
            };
            let mut message = match what {
                Unknown::State => format!("неизвестное состояние «{name}»"),
                Unknown::DataField => {
                    format!("неизвестное поле данных «{name}»: объявите его в data:")
                }
                Unknown::Event => format!(
                    "неизвестное событие «{name}»: объявите его в events: (или это должно быть <действие>.done / <действие>.failed внешнего действия этого процесса)"
                ),
            };
            if let Some(close) = closest(&name, &known) {
                message.push_str(&format!("; возможно, опечатка — есть «{close}»"));
            } else if what == Unknown::State {
                message.push_str(&format!("; есть: {}", list(&known)));
            }
            if places.len() > 1 {
                let lines: Vec<String> = places[1..].iter().map(|p| p.line.to_string()).collect();
                message.push_str(&format!(" (то же имя ещё в строках {})", lines.join(", ")));
            }
            self.err(places[0], message);
        }
    }

    fn definition(&mut self, raw: &RawDefinition, hash: String) -> Definition {
        if !is_event_name(&raw.id.value) {
            self.err(
                pos(&raw.id),
                format!(
                    "«{}» не годится как идентификатор: только латинские буквы, цифры и _ . -",
                    raw.id.value
                ),
            );
        }
        if raw.title.value.trim().is_empty() {
            self.err(pos(&raw.title), "название (title) пустое");
        }
        self.object_kind = raw.object.value.clone();
        if raw.object.value.trim().is_empty() {
            self.err(pos(&raw.object), "не указан вид объекта (object)");
        } else if !self.vocab.object_kinds.is_empty()
            && !self.vocab.object_kinds.contains(&raw.object.value)
        {
            self.err(
                pos(&raw.object),
                format!(
                    "неизвестный вид объекта «{}»; есть: {}",
                    raw.object.value,
                    list(&self.vocab.object_kinds)
                ),
            );
        }
        if let Some(tz) = &raw.timezone {
            match tz.value.parse::<Tz>() {
                Ok(t) => self.timezone = t,
                Err(_) => self.err(
                    pos(tz),
                    format!(
                        "неизвестный часовой пояс «{}» (пишите, например, Europe/Moscow)",
                        tz.value
                    ),
                ),
            }
        }
        // Data fields.
        for (name, f) in &raw.data.0 {
            if !is_ident(&name.value) {
                self.err(
                    pos(name),
                    format!(
                        "«{}» не годится как имя поля: только латинские буквы, цифры и _",
                        name.value
                    ),
                );
            }
            let Some(ty) = FieldType::parse(&f.value.ty.value) else {
                self.err(
                    pos(&f.value.ty),
                    format!(
                        "неизвестный тип «{}»; допустимы: {}",
                        f.value.ty.value,
                        FieldType::NAMES
                    ),
                );
                continue;
            };
            let mut default = None;
            if let Some(d) = &f.value.default {
                match coerce(ty, d.value.clone()) {
                    Ok(v) => default = Some(v),
                    Err(code) => self.err(
                        pos(d),
                        format!(
                            "значение по умолчанию не подходит к типу {}: {code}",
                            f.value.ty.value
                        ),
                    ),
                }
            }
            self.data.push(DataField {
                name: name.value.clone(),
                ty,
                title: f.value.title.as_ref().map(|t| t.value.clone()),
                default,
            });
        }
        // Events: declared, global, and the results of actions this definition uses.
        let mut declared = Vec::new();
        for e in &raw.events {
            if !is_event_name(&e.value) {
                self.err(
                    pos(e),
                    format!(
                        "«{}» не годится как имя события: латинские буквы, цифры и _ . -",
                        e.value
                    ),
                );
            } else if declared.contains(&e.value) {
                self.err(pos(e), format!("событие «{}» объявлено дважды", e.value));
            } else {
                declared.push(e.value.clone());
            }
        }
        self.events.extend(declared.iter().cloned());
        self.events.extend(self.vocab.events.iter().cloned());
        // External events: only a declared or global event may come from
        // outside — never an action's own result (`<action>.done`), which
        // only the engine reports.
        let mut external = Vec::new();
        for e in &raw.external {
            if !declared.contains(&e.value) && !self.vocab.events.contains(&e.value) {
                self.err(
                    pos(e),
                    format!(
                        "в external указано «{}», а такого события в процессе нет: объявите его в events:",
                        e.value
                    ),
                );
            } else if external.contains(&e.value) {
                self.err(
                    pos(e),
                    format!("событие «{}» указано в external дважды", e.value),
                );
            } else {
                external.push(e.value.clone());
            }
        }
        // A local action has no result events: it ran in the step itself.
        for name in used_actions(raw) {
            if self.vocab.local_actions.contains(&name) {
                continue;
            }
            self.events.insert(format!("{name}.done"));
            self.events.insert(format!("{name}.failed"));
        }
        // States.
        for (name, _) in &raw.states.0 {
            if !is_ident(&name.value) {
                self.err(
                    pos(name),
                    format!(
                        "«{}» не годится как имя состояния: только латинские буквы, цифры и _",
                        name.value
                    ),
                );
            }
            self.states.insert(name.value.clone());
        }
        if raw.states.0.is_empty() {
            self.err(
                pos(&raw.initial),
                "в процессе должно быть хотя бы одно состояние",
            );
        }
        if !self.states.contains(&raw.initial.value) {
            self.unknown(Unknown::State, &raw.initial.value, pos(&raw.initial));
        }
        let mut states = Vec::new();
        for (name, s) in &raw.states.0 {
            states.push(self.state(name, s));
        }
        self.graph_checks(raw, &states);
        self.report_unknown();
        let mut definition = Definition::new(
            raw.id.value.clone(),
            raw.title.value.clone(),
            raw.description.as_ref().map(|d| d.value.clone()),
            raw.object.value.clone(),
            self.timezone,
            std::mem::take(&mut self.data),
            declared,
            raw.initial.value.clone(),
            states,
            hash,
            self.file.to_string(),
        );
        definition.external_events = external;
        definition
    }

    fn graph_checks(&mut self, raw: &RawDefinition, states: &[State]) {
        let mut reached = BTreeSet::new();
        let mut queue = VecDeque::from([raw.initial.value.clone()]);
        let find = |n: &str| states.iter().find(|s| s.name == n);
        while let Some(n) = queue.pop_front() {
            if !reached.insert(n.clone()) {
                continue;
            }
            if let Some(s) = find(&n) {
                for t in &s.transitions {
                    if let Some(to) = &t.to {
                        queue.push_back(to.clone());
                    }
                }
                for task in &s.tasks {
                    for o in &task.outcomes {
                        queue.push_back(o.to.clone());
                    }
                }
            }
        }
        // Only the first state of an unreachable part is reported: the
        // states after it are unreachable because it is. Nothing is reported
        // when an edge was dropped for another error (it would only echo it).
        let unreached: BTreeSet<&str> = states
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !reached.contains(*n))
            .collect();
        let entered_from_unreached = |name: &str| {
            states
                .iter()
                .filter(|s| unreached.contains(s.name.as_str()) && s.name != name)
                .any(|s| {
                    s.transitions.iter().any(|t| t.to.as_deref() == Some(name))
                        || s.tasks
                            .iter()
                            .any(|t| t.outcomes.iter().any(|o| o.to == name))
                })
        };
        let mut report_unreached: BTreeSet<&str> = unreached
            .iter()
            .copied()
            .filter(|n| !entered_from_unreached(n))
            .collect();
        if report_unreached.is_empty()
            && let Some(first) = states.iter().find(|s| unreached.contains(s.name.as_str()))
        {
            // A closed loop of unreachable states: name its first.
            report_unreached.insert(first.name.as_str());
        }
        for s in states {
            if self.broken_states.contains(&s.name) {
                continue;
            }
            if report_unreached.contains(s.name.as_str())
                && !self.dropped_edges
                && self.states.contains(&raw.initial.value)
            {
                self.err(
                    s.pos,
                    format!(
                        "в состояние «{}» нельзя попасть из начального «{}»: ни один переход не ведёт в него",
                        s.name, raw.initial.value
                    ),
                );
            }
            let exits = s.transitions.iter().any(|t| t.to.is_some())
                || s.tasks.iter().any(|t| !t.outcomes.is_empty());
            if s.terminal {
                if !s.transitions.is_empty() {
                    self.err(
                        s.transitions[0].pos,
                        format!("конечное состояние «{}» не может иметь переходов", s.name),
                    );
                }
                if !s.tasks.is_empty() {
                    self.err(
                        s.tasks[0].pos,
                        format!("в конечном состоянии «{}» не может быть задач", s.name),
                    );
                }
                if !s.on_exit.is_empty() {
                    self.err(
                        s.on_exit[0].pos,
                        format!(
                            "из конечного состояния «{}» не выходят: on_exit никогда не выполнится",
                            s.name
                        ),
                    );
                }
            } else if !exits {
                self.err(
                    s.pos,
                    format!("из состояния «{}» нет выхода, а конечным оно не отмечено: добавьте переход или задачу либо напишите terminal: true", s.name),
                );
            } else if s
                .transitions
                .iter()
                .filter_map(|t| t.to.as_deref())
                .chain(
                    s.tasks
                        .iter()
                        .flat_map(|t| t.outcomes.iter().map(|o| o.to.as_str())),
                )
                .all(|to| to == s.name)
            {
                // Every exit returns here: an instance that enters never
                // leaves, which is a mistake as surely as no exit at all.
                self.err(
                    s.pos,
                    format!(
                        "состояние «{}»: все переходы из него ведут обратно в него же — выйти из него нельзя; направьте хотя бы один переход в другое состояние или отметьте его `terminal: true`",
                        s.name
                    ),
                );
            }
        }
    }

    fn state(&mut self, name: &S<String>, s: &S<RawState>) -> State {
        let r = &s.value;
        let scope = Scope::Step;
        let on_enter = r
            .on_enter
            .iter()
            .filter_map(|a| self.action(a, scope))
            .collect();
        let on_exit = r
            .on_exit
            .iter()
            .filter_map(|a| self.action(a, scope))
            .collect();
        let mut tasks: Vec<TaskDef> = Vec::new();
        let mut lost = false;
        for t in &r.tasks {
            let task = self.task(t);
            lost |= task
                .as_ref()
                .is_none_or(|x| x.outcomes.len() < t.value.outcomes.0.len());
            if let Some(task) = task {
                if tasks.iter().any(|x| x.id == task.id) {
                    self.err(
                        pos(&t.value.id),
                        format!("задача «{}» объявлена в состоянии дважды", task.id),
                    );
                    continue;
                }
                tasks.push(task);
            }
        }
        let transitions: Vec<Transition> =
            r.on.iter()
                .filter_map(|t| self.transition(&name.value, t))
                .collect();
        if lost || transitions.len() < r.on.len() {
            self.dropped_edges = true;
            self.broken_states.insert(name.value.clone());
        }
        State {
            name: name.value.clone(),
            title: r
                .title
                .as_ref()
                .map(|t| t.value.clone())
                .unwrap_or_else(|| name.value.clone()),
            description: r.description.as_ref().map(|d| d.value.clone()),
            terminal: r.terminal.as_ref().is_some_and(|t| t.value),
            on_enter,
            on_exit,
            tasks,
            transitions,
            pos: pos(name),
        }
    }

    fn state_ref(&mut self, to: &S<String>) -> Option<String> {
        if self.states.contains(&to.value) {
            Some(to.value.clone())
        } else {
            self.unknown(Unknown::State, &to.value, pos(to));
            None
        }
    }

    fn transition(&mut self, state: &str, t: &S<RawTransition>) -> Option<Transition> {
        let r = &t.value;
        let at = pos(t);
        let triggers = [
            r.event.is_some(),
            r.after.is_some(),
            r.at.is_some(),
            r.cron.is_some(),
            r.when.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if triggers != 1 {
            self.err(
                at,
                if triggers == 0 {
                    "у перехода нет условия срабатывания: укажите одно из event, after, at, cron, when".to_string()
                } else {
                    "у перехода должно быть ровно одно условие срабатывания: event, after, at, cron или when"
                        .to_string()
                },
            );
            return None;
        }
        if let (Some(c), None) = (&r.calendar, &r.after) {
            self.err(pos(c), "calendar пишут только у перехода after:");
        }
        let when = if let Some(e) = &r.event {
            let local = e
                .value
                .strip_suffix(".done")
                .or_else(|| e.value.strip_suffix(".failed"))
                .filter(|a| self.vocab.local_actions.contains(*a));
            if let Some(action) = local {
                self.err(
                    pos(e),
                    format!(
                        "«{action}» выполняется внутри шага, события «{}» у него не бывает (если действие отказало, отменяется весь шаг)",
                        e.value
                    ),
                );
            } else if !self.events.contains(&e.value) {
                self.unknown(Unknown::Event, &e.value, pos(e));
            }
            When::Event(e.value.clone())
        } else if let Some(a) = &r.after {
            When::After(self.wait(a, r.calendar.as_ref(), at)?)
        } else if let Some(x) = &r.at {
            When::At(self.expr(x, Scope::Watch)?)
        } else if let Some(c) = &r.cron {
            When::Cron(self.cron(c)?)
        } else if let Some(w) = &r.when {
            let e = self.expr(w, Scope::Watch)?;
            match &r.to {
                Some(to) if to.value != state => {}
                _ => {
                    self.err(pos(w), "переход when: должен вести (to:) в другое состояние, иначе он срабатывал бы бесконечно");
                }
            }
            When::Guard(e)
        } else {
            return None;
        };
        let to = match &r.to {
            Some(to) => Some(self.state_ref(to)?),
            None => None,
        };
        let guard = match &r.guard {
            Some(g) => Some(self.expr(g, Scope::Step)?),
            None => None,
        };
        let set = r
            .set
            .0
            .iter()
            .filter_map(|(k, v)| self.assign(k, v, Scope::Step))
            .collect();
        let actions = r
            .actions
            .iter()
            .filter_map(|a| self.action(a, Scope::Step))
            .collect();
        Some(Transition {
            when,
            to,
            guard,
            set,
            actions,
            title: r.title.as_ref().map(|t| t.value.clone()),
            pos: at,
        })
    }

    fn wait(
        &mut self,
        after: &S<String>,
        calendar: Option<&S<String>>,
        fallback: Pos,
    ) -> Option<Wait> {
        let dur = match Dur::parse(&after.value) {
            Ok(d) => d,
            Err(e) => {
                self.err(pos_or(after, fallback), format!("неверный срок: {e}"));
                return None;
            }
        };
        let calendar = match calendar {
            None => None,
            Some(c) => match self.vocab.calendars.get(&c.value) {
                Some(cal) => Some(cal),
                None => {
                    self.err(
                        pos_or(c, fallback),
                        format!(
                            "неизвестный календарь «{}»; есть: {}",
                            c.value,
                            list(self.vocab.calendars.names())
                        ),
                    );
                    return None;
                }
            },
        };
        Some(Wait { dur, calendar })
    }

    fn cron(&mut self, c: &S<String>) -> Option<CronSpec> {
        match translate_cron(&c.value) {
            Ok(text) => match text.parse::<cron::Schedule>() {
                Ok(schedule) => Some(CronSpec {
                    text: c.value.clone(),
                    schedule,
                    timezone: self.timezone,
                }),
                Err(_) => {
                    // Ranges were checked in Russian above; what is left is
                    // a word or sign cron does not know.
                    self.err(
                        pos(c),
                        format!(
                            "расписание «{}» не понято: пишите «минута час день месяц день_недели», например «0 9 * * Mon-Fri»",
                            c.value
                        ),
                    );
                    None
                }
            },
            Err(msg) => {
                self.err(pos(c), msg);
                None
            }
        }
    }

    fn expr(&mut self, s: &S<String>, scope: Scope) -> Option<Expr> {
        self.expr_at(&s.value, pos(s), scope)
    }

    fn expr_at(&mut self, src: &str, at: Pos, scope: Scope) -> Option<Expr> {
        if src.trim().is_empty() {
            self.err(at, "пустое выражение");
            return None;
        }
        let e = match Expr::compile(src, at) {
            Ok(e) => e,
            Err(msg) => {
                self.err(at, format!("{msg} в «{src}»"));
                return None;
            }
        };
        let ok = self.check_reads(&e.reads, src, at, scope);
        for f in filter_names(src) {
            if !filter_exists(&f) {
                self.err(at, format!("неизвестный фильтр «{f}» в «{src}»"));
            }
        }
        ok.then_some(e)
    }

    fn check_reads(&mut self, reads: &BTreeSet<String>, src: &str, at: Pos, scope: Scope) -> bool {
        let mut ok = true;
        for r in reads {
            let mut parts = r.split('.');
            let root = parts.next().unwrap_or_default();
            let field = parts.next();
            if !scope.allows(root) {
                if ROOTS.contains(&root) {
                    let msg = match root {
                        "form" | "task" | "outcome" => {
                            format!("«{root}» есть только в решении по задаче (outcomes): «{src}»")
                        }
                        "event" => format!(
                            "«event» нельзя читать в when: и at: — их перепроверяют без события: «{src}»"
                        ),
                        _ => format!("«{root}» здесь недоступно: «{src}»"),
                    };
                    self.err(at, msg);
                    ok = false;
                } else if !global_exists(root) {
                    self.err(
                        at,
                        format!("неизвестное имя «{root}» в «{src}»: пишите data., object., event., form. или now, а текст берите в кавычки: \"'{root}'\""),
                    );
                    ok = false;
                }
                continue;
            }
            match (root, field) {
                ("data", Some(f)) if !self.data.iter().any(|d| d.name == f) => {
                    self.unknown(Unknown::DataField, f, at);
                    ok = false;
                }
                ("object", Some(f))
                    if self
                        .vocab
                        .object_fields
                        .get(&self.object_kind)
                        .is_some_and(|fields| !fields.iter().any(|x| x == f)) =>
                {
                    let known = self
                        .vocab
                        .object_fields
                        .get(&self.object_kind)
                        .map(|f| f.join(", "))
                        .unwrap_or_default();
                    self.err(
                        at,
                        format!(
                            "у объекта «{}» нет поля «{f}» в «{src}»; есть: {known}",
                            self.object_kind
                        ),
                    );
                    ok = false;
                }
                ("form", Some(f)) => {
                    if let Scope::Outcome(fields) = scope
                        && !fields.iter().any(|x| x.id == f)
                    {
                        self.err(at, format!("в форме задачи нет поля «{f}»: «{src}»"));
                        ok = false;
                    }
                }
                _ => {}
            }
        }
        ok
    }

    fn param(&mut self, v: &Value, at: Pos, scope: Scope) -> Option<Param> {
        Some(match v {
            Value::String(s) => Param::Expr(self.expr_at(s, at, scope)?),
            Value::Array(items) => {
                let mut out = Vec::new();
                for i in items {
                    out.push(self.param(i, at, scope)?);
                }
                Param::List(out)
            }
            Value::Object(map) => {
                let mut out = Vec::new();
                for (k, i) in map {
                    out.push((k.clone(), self.param(i, at, scope)?));
                }
                Param::Map(out)
            }
            other => Param::Literal(other.clone()),
        })
    }

    fn assign(&mut self, field: &S<String>, value: &S<Value>, scope: Scope) -> Option<Assign> {
        let Some(ty) = self
            .data
            .iter()
            .find(|d| d.name == field.value)
            .map(|d| d.ty)
        else {
            self.unknown(Unknown::DataField, &field.value, pos(field));
            return None;
        };
        let at = pos(value);
        let p = self.param(&value.value, at, scope)?;
        // A value that reads nothing can be checked against the type now.
        let constant = match &p {
            Param::Literal(v) => Some(v.clone()),
            Param::Expr(e) if e.reads.is_empty() => e.eval_json(&minijinja::Value::from(())).ok(),
            _ => None,
        };
        if let Some(v) = constant
            && coerce(ty, v.clone()).is_err()
        {
            let hint = if matches!(value.value, Value::String(_)) {
                " (текст внутри выражения берите в кавычки, например \"'2026-05-01'\")"
            } else {
                ""
            };
            self.err(
                at,
                format!(
                    "значение {v} не подходит к полю данных «{}» типа {}{hint}",
                    field.value,
                    ty.as_str()
                ),
            );
            return None;
        }
        Some(Assign {
            field: field.value.clone(),
            value: p,
        })
    }

    fn action(&mut self, a: &S<RawAction>, scope: Scope) -> Option<ActionCall> {
        let name = &a.value.action;
        if RESERVED_ACTIONS.contains(&name.value.as_str()) {
            self.err(
                pos(name),
                format!(
                    "«{}» — служебное действие движка, его нельзя вызывать из процесса",
                    name.value
                ),
            );
            return None;
        }
        let Some(params) = self.vocab.actions.get(&name.value) else {
            self.err(
                pos(name),
                format!(
                    "неизвестное действие «{}»; есть: {}",
                    name.value,
                    list(self.vocab.actions.keys())
                ),
            );
            return None;
        };
        let allowed = params.clone();
        let mut out = Vec::new();
        for (k, v) in &a.value.with.0 {
            if let Some(allowed) = &allowed
                && !allowed.contains(&k.value)
            {
                self.err(
                    pos(k),
                    format!(
                        "у действия «{}» нет параметра «{}»; есть: {}",
                        name.value,
                        k.value,
                        list(allowed)
                    ),
                );
                continue;
            }
            if let Some(p) = self.param(&v.value, pos(v), scope) {
                out.push((k.value.clone(), p));
            }
        }
        Some(ActionCall {
            name: name.value.clone(),
            params: out,
            pos: pos(name),
        })
    }

    fn role(&mut self, r: &S<String>) -> bool {
        if self.vocab.roles.contains(&r.value) {
            true
        } else {
            self.err(
                pos(r),
                format!(
                    "неизвестная роль «{}»; есть: {}",
                    r.value,
                    list(&self.vocab.roles)
                ),
            );
            false
        }
    }

    fn form_field(&mut self, f: &S<RawFormField>) -> Option<FormField> {
        let r = &f.value;
        if !is_ident(&r.id.value) {
            self.err(
                pos(&r.id),
                format!(
                    "«{}» не годится как имя поля формы: только латинские буквы, цифры и _",
                    r.id.value
                ),
            );
        }
        let ty = match &r.ty {
            None => FieldType::String,
            Some(t) => match FieldType::parse(&t.value) {
                Some(ty) => ty,
                None => {
                    self.err(
                        pos(t),
                        format!(
                            "неизвестный тип «{}»; допустимы: {}",
                            t.value,
                            FieldType::NAMES
                        ),
                    );
                    return None;
                }
            },
        };
        let mut field = FormField {
            id: r.id.value.clone(),
            ty,
            label: r.label.as_ref().map(|l| l.value.clone()),
            help: r.help.as_ref().map(|l| l.value.clone()),
            required: r.required.as_ref().is_some_and(|x| x.value),
            required_if: r.required_if.iter().map(|x| x.value.clone()).collect(),
            min: None,
            max: None,
            pattern: None,
            regex: None,
            options: Vec::new(),
        };
        if let Some(v) = &r.validation {
            field.min = v.value.min.as_ref().map(|x| x.value);
            field.max = v.value.max.as_ref().map(|x| x.value);
            if let (Some(min), Some(max)) = (&v.value.min, &v.value.max)
                && min.value > max.value
            {
                self.err(pos(max), "max меньше min");
            }
            if let Some(p) = &v.value.pattern {
                match regex::Regex::new(&format!("^(?:{})$", p.value)) {
                    Ok(re) => {
                        field.pattern = Some(p.value.clone());
                        field.regex = Some(re);
                    }
                    Err(e) => {
                        let msg = e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim()
                            .to_string();
                        self.err(pos(p), format!("неверный шаблон (pattern): {msg}"));
                    }
                }
            }
            for o in &v.value.options {
                if field.options.iter().any(|x| x.value == o.value.value) {
                    self.err(pos(o), format!("вариант «{}» указан дважды", o.value.value));
                }
                field.options.push(FormOption {
                    value: o.value.value.clone(),
                    label: o.value.label.clone(),
                });
            }
        }
        Some(field)
    }

    fn task(&mut self, t: &S<RawTask>) -> Option<TaskDef> {
        let r = &t.value;
        let at = pos(t);
        if !is_ident(&r.id.value) {
            self.err(
                pos(&r.id),
                format!(
                    "«{}» не годится как имя задачи: только латинские буквы, цифры и _",
                    r.id.value
                ),
            );
        }
        let title = match Template::compile(&r.title.value, pos(&r.title)) {
            Ok(tpl) => {
                self.check_reads(
                    &tpl.reads.clone(),
                    &r.title.value,
                    pos(&r.title),
                    Scope::Step,
                );
                tpl
            }
            Err(msg) => {
                self.err(pos(&r.title), format!("{msg} в заголовке"));
                return None;
            }
        };
        if r.roles.is_empty() && r.assignee.is_none() {
            self.err(
                pos(&r.id),
                format!(
                    "у задачи «{}» не указано, кто её делает: roles или assignee",
                    r.id.value
                ),
            );
        }
        let mut roles = Vec::new();
        for role in &r.roles {
            if self.role(role) && !roles.contains(&role.value) {
                roles.push(role.value.clone());
            }
        }
        let assignee = r.assignee.as_ref().and_then(|a| self.expr(a, Scope::Step));
        let org = r.org.as_ref().and_then(|a| self.expr(a, Scope::Step));
        let priority = match &r.priority {
            None => Priority::Normal,
            Some(p) => Priority::parse(&p.value).unwrap_or_else(|| {
                self.err(
                    pos(p),
                    format!(
                        "неизвестная важность «{}»; допустимы: low, normal, high, urgent",
                        p.value
                    ),
                );
                Priority::Normal
            }),
        };
        let due = r
            .due
            .as_ref()
            .and_then(|d| self.wait(&d.value.after, d.value.calendar.as_ref(), pos(d)));
        let mut form: Vec<FormField> = Vec::new();
        for f in &r.form {
            if let Some(field) = self.form_field(f) {
                if form.iter().any(|x| x.id == field.id) {
                    self.err(
                        pos(&f.value.id),
                        format!("поле формы «{}» объявлено дважды", field.id),
                    );
                    continue;
                }
                form.push(field);
            }
        }
        if r.outcomes.0.is_empty() {
            self.err(
                pos(&r.id),
                format!("у задачи «{}» нет ни одного решения (outcomes)", r.id.value),
            );
        }
        let mut outcomes = Vec::new();
        for (id, o) in &r.outcomes.0 {
            if !is_ident(&id.value) {
                self.err(
                    pos(id),
                    format!(
                        "«{}» не годится как имя решения: только латинские буквы, цифры и _",
                        id.value
                    ),
                );
            }
            let scope = Scope::Outcome(&form);
            let to = self.state_ref(&o.value.to);
            let set: Vec<Assign> = o
                .value
                .set
                .0
                .iter()
                .filter_map(|(k, v)| self.assign(k, v, scope))
                .collect();
            let actions: Vec<ActionCall> = o
                .value
                .actions
                .iter()
                .filter_map(|a| self.action(a, scope))
                .collect();
            let mut requires = Vec::new();
            for f in &o.value.requires {
                if form.iter().any(|x| x.id == f.value) {
                    requires.push(f.value.clone());
                } else {
                    self.err(
                        pos(f),
                        format!(
                            "в форме нет поля «{}»; есть: {}",
                            f.value,
                            list(form.iter().map(|x| &x.id))
                        ),
                    );
                }
            }
            if let Some(to) = to {
                outcomes.push(TaskOutcomeDef {
                    id: id.value.clone(),
                    title: o.value.title.value.clone(),
                    to,
                    set,
                    actions,
                    requires,
                    pos: pos(id),
                });
            }
        }
        let outcome_ids: BTreeSet<String> =
            r.outcomes.0.iter().map(|(k, _)| k.value.clone()).collect();
        for f in &r.form {
            for o in &f.value.required_if {
                if !outcome_ids.contains(&o.value) {
                    self.err(
                        pos(o),
                        format!(
                            "неизвестное решение «{}»; есть: {}",
                            o.value,
                            list(&outcome_ids)
                        ),
                    );
                }
            }
        }
        let reminders = r
            .reminders
            .as_ref()
            .and_then(|x| self.wait(&x.value.every, x.value.calendar.as_ref(), pos(x)));
        let escalate = match &r.escalate {
            None => None,
            Some(e) => {
                let after = self.wait(&e.value.after, e.value.calendar.as_ref(), pos(e));
                let role_ok = self.role(&e.value.to_role);
                let org = e.value.org.as_ref().and_then(|x| self.expr(x, Scope::Step));
                match (after, role_ok) {
                    (Some(after), true) => Some(Escalation {
                        after,
                        to_role: e.value.to_role.value.clone(),
                        org,
                    }),
                    _ => None,
                }
            }
        };
        let on_timeout = match &r.on_timeout {
            None => None,
            Some(x) => {
                let wait = self.wait(&x.value.after, x.value.calendar.as_ref(), pos(x));
                if !outcome_ids.contains(&x.value.outcome.value) {
                    self.err(
                        pos(&x.value.outcome),
                        format!(
                            "неизвестное решение «{}»; есть: {}",
                            x.value.outcome.value,
                            list(&outcome_ids)
                        ),
                    );
                }
                wait.map(|w| (w, x.value.outcome.value.clone()))
            }
        };
        Some(TaskDef {
            id: r.id.value.clone(),
            title,
            description: r.description.as_ref().map(|d| d.value.clone()),
            roles,
            assignee,
            org,
            priority,
            due,
            form,
            outcomes,
            reminders,
            escalate,
            on_timeout,
            pos: at,
        })
    }
}

/// Every action name called anywhere in the definition.
fn used_actions(raw: &RawDefinition) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |list: &[S<RawAction>]| {
        for a in list {
            out.insert(a.value.action.value.clone());
        }
    };
    for (_, s) in &raw.states.0 {
        add(&s.value.on_enter);
        add(&s.value.on_exit);
        for t in &s.value.on {
            add(&t.value.actions);
        }
        for task in &s.value.tasks {
            for (_, o) in &task.value.outcomes.0 {
                add(&o.value.actions);
            }
        }
    }
    out
}

/// Translates an analyst's cron expression for the `cron` crate, which wants a
/// leading seconds field. The familiar five fields (`0 9 * * Mon-Fri`) get
/// `0` seconds prepended; six or seven fields are taken as they are. Numeric
/// weekdays are refused: the crate counts 1 = Sunday, cron(8) counts
/// 1 = Monday, and guessing would fire on the wrong days.
pub fn translate_cron(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.starts_with('@') {
        return Ok(t.to_string());
    }
    let fields: Vec<&str> = t.split_whitespace().collect();
    let (full, dow) = match fields.len() {
        5 => (format!("0 {}", fields.join(" ")), fields[4]),
        6 | 7 => (fields.join(" "), fields[5]),
        n => {
            return Err(format!(
                "расписание «{t}»: нужно 5 полей (минута, час, день месяца, месяц, день недели), а их {n}"
            ));
        }
    };
    if dow.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!(
            "расписание «{t}»: дни недели пишите названиями (Mon-Fri, Sat,Sun), а не числами «{dow}» — в разных вариантах cron их нумерация разная"
        ));
    }
    // The cron crate's range messages are off by one ("less than 59" for
    // minutes, which allow 59) and English; check the ranges here and say
    // them as they are. The last five fields are always minute … weekday.
    let five = if fields.len() == 5 {
        &fields[..]
    } else {
        &fields[1..6]
    };
    const RANGES: [(&str, u32, u32); 4] = [
        ("минута", 0, 59),
        ("час", 0, 23),
        ("день месяца", 1, 31),
        ("месяц", 1, 12),
    ];
    for ((name, lo, hi), field) in RANGES.iter().zip(five) {
        for part in field.split(',') {
            // After `/` comes a step, not a value.
            let values = part.split('/').next().unwrap_or(part);
            for v in values.split('-') {
                if let Ok(n) = v.parse::<u32>()
                    && (n < *lo || n > *hi)
                {
                    return Err(format!(
                        "расписание «{t}»: {name} — число от {lo} до {hi}, а указано {n}"
                    ));
                }
            }
        }
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_translation() {
        assert_eq!(
            translate_cron("0 9 * * Mon-Fri").unwrap(),
            "0 0 9 * * Mon-Fri"
        );
        assert!(
            translate_cron("0 9 * * 1-5")
                .unwrap_err()
                .contains("названиями")
        );
        assert!(translate_cron("0 9 * *").is_err());
        assert_eq!(translate_cron("@daily").unwrap(), "@daily");
    }

    #[test]
    fn cron_ranges_are_said_as_they_are() {
        let e = translate_cron("60 9 * * Mon").unwrap_err();
        assert!(e.contains("минута — число от 0 до 59, а указано 60"), "{e}");
        assert!(translate_cron("59 23 31 12 Sun").is_ok());
        assert!(
            translate_cron("*/15 8-24 * * *")
                .unwrap_err()
                .contains("от 0 до 23")
        );
    }
}
