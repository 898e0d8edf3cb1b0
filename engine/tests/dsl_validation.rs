//! Loading a definition reports each problem as `file:line:column: message`,
//! at the exact place in the YAML.

mod common;

use common::{fixtures_dir, vocabulary, workflows_dir};
use engine::{Diagnostic, check_files, compile};

/// A valid definition; each test breaks one thing in it.
const BASE: &str = r#"id: sample
title: Пример
object: request
data:
  amount: {type: money}
  arrival_at: {type: datetime}
  note: {type: text}
events: [client.called]
initial: new
states:
  new:
    title: Новая
    on_enter:
      - action: notify
        with: {to: "'manager'", text: "'Новая заявка'"}
    tasks:
      - id: review
        title: "Проверить {{ data.note }}"
        roles: [manager]
        due: 2h
        form:
          - id: reason
            type: text
        outcomes:
          accept: {title: Принять, to: waiting, set: {note: form.reason}}
          decline: {title: Отклонить, to: closed}
  waiting:
    on:
      - event: client.called
        to: closed
      - at: "data.arrival_at | before('1h')"
        actions:
          - action: notify
            with: {text: "'Скоро приезд'"}
      - after: 1d
        calendar: working
        to: closed
      - cron: "0 9 * * Mon-Fri"
        actions: [{action: send_rfq}]
  closed:
    terminal: true
"#;

/// (line, column) of the `nth` occurrence of `needle` in `text`, 1-based.
fn pos_of(text: &str, needle: &str, nth: usize) -> (u32, u32) {
    let mut from = 0;
    let mut at = 0;
    for _ in 0..=nth {
        at = from
            + text[from..]
                .find(needle)
                .unwrap_or_else(|| panic!("{needle:?} not in text"));
        from = at + 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    (line, col)
}

fn errors(yaml: &str) -> Vec<Diagnostic> {
    match compile(yaml, "wf.yaml", &vocabulary()) {
        Ok(_) => Vec::new(),
        Err(d) => d,
    }
}

/// Replaces `from` with `to` in BASE (exactly once) and returns the text.
fn variant(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// Asserts that `yaml` gives a diagnostic containing `message` exactly at
/// the `nth` occurrence of `needle`.
#[track_caller]
fn expect(yaml: &str, needle: &str, nth: usize, message: &str) {
    let (line, column) = pos_of(yaml, needle, nth);
    let errs = errors(yaml);
    let hit = errs
        .iter()
        .any(|d| d.line == line && d.column == column && d.message.contains(message));
    assert!(
        hit,
        "expected wf.yaml:{line}:{column}: …{message}…\ngot:\n{}",
        errs.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn base_is_valid() {
    let errs = errors(BASE);
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn display_is_file_line_column_message() {
    let y = variant("to: closed\n      - at:", "to: nowhere\n      - at:");
    let errs = errors(&y);
    let (line, col) = pos_of(&y, "nowhere", 0);
    assert_eq!(
        errs[0].to_string(),
        format!("wf.yaml:{line}:{col}: unknown state `nowhere` (states: closed, new, waiting)")
    );
}

#[test]
fn yaml_syntax_error_has_position() {
    let y = variant("title: Новая", "title: [Новая");
    let errs = errors(&y);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].file, "wf.yaml");
    assert!(errs[0].line >= 12, "{:?}", errs[0]);
}

#[test]
fn unknown_key_is_reported_at_the_key() {
    let y = variant("    title: Новая\n", "    title: Новая\n    colour: red\n");
    expect(&y, "colour", 0, "неизвестное поле «colour»");
}

#[test]
fn a_state_whose_only_ways_out_return_to_it_is_reported() {
    let y = variant(
        "        to: closed\n      - at:",
        "        to: waiting\n      - at:",
    )
    .replacen(
        "        calendar: working\n        to: closed",
        "        calendar: working\n        to: waiting",
        1,
    );
    expect(&y, "waiting:", 0, "ведут обратно в него же");
    assert!(
        errors(BASE).is_empty(),
        "a state with one way elsewhere is fine"
    );
}

#[test]
fn unknown_states() {
    expect(
        &variant("to: closed}", "to: nowhere}"),
        "nowhere",
        0,
        "unknown state `nowhere`",
    );
    expect(
        &variant("initial: new", "initial: old"),
        "old",
        0,
        "unknown state `old`",
    );
}

#[test]
fn unknown_action_and_parameter() {
    expect(
        &variant(
            "actions: [{action: send_rfq}]",
            "actions: [{action: launch}]",
        ),
        "launch",
        0,
        "unknown action `launch`",
    );
    expect(
        &variant(
            "with: {text: \"'Скоро приезд'\"}",
            "with: {txt: \"'Скоро приезд'\"}",
        ),
        "txt",
        0,
        "action `notify` has no parameter `txt`",
    );
    expect(
        &variant(
            "actions: [{action: send_rfq}]",
            "actions: [{action: task.remind}]",
        ),
        "task.remind",
        0,
        "reserved",
    );
}

#[test]
fn unknown_role() {
    expect(
        &variant("roles: [manager]", "roles: [boss]"),
        "boss",
        0,
        "unknown role `boss`",
    );
}

#[test]
fn unknown_event() {
    expect(
        &variant("event: client.called", "event: client.texted"),
        "client.texted",
        0,
        "unknown event `client.texted`",
    );
}

#[test]
fn globally_known_and_action_result_events_are_accepted() {
    let y = variant("event: client.called", "event: payment.received");
    assert!(errors(&y).is_empty());
    let y = variant("event: client.called", "event: send_rfq.done");
    assert!(errors(&y).is_empty());
}

#[test]
fn unknown_data_fields_in_set_and_expressions() {
    expect(
        &variant("set: {note: form.reason}", "set: {notes: form.reason}"),
        "notes",
        0,
        "unknown data field `notes`",
    );
    expect(
        &variant(
            "\"data.arrival_at | before('1h')\"",
            "\"data.arrive_at | before('1h')\"",
        ),
        "\"data.arrive_at",
        0,
        "unknown data field `arrive_at`",
    );
    expect(
        &variant(
            "title: \"Проверить {{ data.note }}\"",
            "title: \"Проверить {{ data.nots }}\"",
        ),
        "\"Проверить",
        0,
        "unknown data field `nots`",
    );
}

#[test]
fn unknown_form_field_and_misplaced_roots() {
    expect(
        &variant("set: {note: form.reason}", "set: {note: form.reasn}"),
        "form.reasn",
        0,
        "unknown form field `reasn`",
    );
    expect(
        &variant(
            "with: {text: \"'Скоро приезд'\"}",
            "with: {text: form.reason}",
        ),
        "form.reason}",
        1,
        "`form` is only available in a task outcome",
    );
    expect(
        &variant("with: {text: \"'Скоро приезд'\"}", "with: {text: approved}"),
        "approved}",
        0,
        "unknown name `approved`",
    );
}

#[test]
fn unreachable_and_dead_end_states() {
    let y = variant("  closed:\n", "  orphan:\n    terminal: true\n  closed:\n");
    expect(&y, "orphan", 0, "state `orphan` is unreachable");
    let y = variant(
        "  closed:\n    terminal: true\n",
        "  closed:\n    title: Закрыта\n",
    );
    expect(
        &y,
        "closed:\n    title",
        0,
        "state `closed` is not terminal but has no way out",
    );
}

#[test]
fn duplicate_ids() {
    let y = variant("  closed:\n", "  waiting:\n    terminal: true\n  closed:\n");
    expect(&y, "waiting:\n    terminal", 0, "duplicate id `waiting`");
    let y = variant(
        "  waiting:\n",
        "      - id: review\n        title: x\n        roles: [manager]\n        outcomes: {ok: {title: Ok, to: closed}}\n  waiting:\n",
    );
    expect(&y, "review", 1, "duplicate task id `review`");
    let y = variant(
        "          - id: reason\n            type: text\n",
        "          - id: reason\n            type: text\n          - id: reason\n",
    );
    expect(&y, "reason", 1, "duplicate form field `reason`");
    let y = variant(
        "events: [client.called]",
        "events: [client.called, client.called]",
    );
    expect(&y, "client.called", 1, "duplicate event `client.called`");
}

#[test]
fn bad_expression_duration_and_cron() {
    expect(
        &variant(
            "\"data.arrival_at | before('1h')\"",
            "\"data.arrival_at |\"",
        ),
        "\"data.arrival_at |\"",
        0,
        "bad expression",
    );
    expect(
        &variant("due: 2h", "due: 2 hours"),
        "2 hours",
        0,
        "bad duration",
    );
    expect(
        &variant("after: 1d", "after: soon"),
        "soon",
        0,
        "bad duration",
    );
    expect(
        &variant("\"0 9 * * Mon-Fri\"", "\"0 9 * * 1-5\""),
        "\"0 9 * * 1-5\"",
        0,
        "дни недели пишите названиями",
    );
    expect(
        &variant("\"0 9 * * Mon-Fri\"", "\"0 9 * *\""),
        "\"0 9 * *\"",
        0,
        "нужно 5 полей",
    );
    expect(
        &variant("\"0 9 * * Mon-Fri\"", "\"0 99 * * Mon-Fri\""),
        "\"0 99",
        0,
        "час — число от 0 до 23, а указано 99",
    );
    expect(
        &variant(
            "\"data.arrival_at | before('1h')\"",
            "\"data.arrival_at | befor('1h')\"",
        ),
        "\"data.arrival_at | befor",
        0,
        "unknown filter `befor`",
    );
}

#[test]
fn terminal_state_with_transitions_or_tasks() {
    let y = variant(
        "  closed:\n    terminal: true\n",
        "  closed:\n    terminal: true\n    on:\n      - event: client.called\n        to: new\n",
    );
    expect(
        &y,
        "event: client.called\n        to: new",
        0,
        "terminal state `closed` cannot have transitions",
    );
}

#[test]
fn trigger_count_and_when_rules() {
    let y = variant(
        "      - event: client.called\n        to: closed\n",
        "      - event: client.called\n        after: 1h\n        to: closed\n",
    );
    expect(
        &y,
        "event: client.called\n        after",
        0,
        "exactly one trigger",
    );
    let y = variant(
        "      - event: client.called\n        to: closed\n",
        "      - to: closed\n",
    );
    expect(&y, "to: closed\n      - at", 0, "needs a trigger");
    let y = variant(
        "      - event: client.called\n        to: closed\n",
        "      - when: \"data.amount > 0\"\n",
    );
    expect(&y, "\"data.amount > 0\"", 0, "must go `to:` another state");
}

#[test]
fn unknown_calendar_and_types() {
    expect(
        &variant("calendar: working", "calendar: weekends"),
        "weekends",
        0,
        "unknown calendar `weekends`",
    );
    expect(
        &variant("amount: {type: money}", "amount: {type: roubles}"),
        "roubles",
        0,
        "unknown type `roubles`",
    );
    expect(
        &variant("note: {type: text}", "note: {type: integer, default: many}"),
        "many",
        0,
        "default value does not fit",
    );
    // An unquoted date is arithmetic (2026 - 5 - 1), not a date.
    let y = variant("set: {note: form.reason}", "set: {arrival_at: 2026-05-01}");
    expect(
        &y,
        "2026-05-01",
        0,
        "does not fit data field `arrival_at` of type datetime",
    );
}

#[test]
fn real_workflows_and_fixtures_check_clean() {
    let mut files = vec![
        workflows_dir().join("supplier_onboarding.yaml"),
        workflows_dir().join("calendar.yaml"),
    ];
    for e in std::fs::read_dir(fixtures_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("valid_")
        {
            files.push(p);
        }
    }
    let errs = check_files(&files, &vocabulary());
    assert!(
        errs.is_empty(),
        "{}",
        errs.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn check_files_accepts_a_folder() {
    let dir = common::onboarding_dir();
    std::fs::copy(
        fixtures_dir().join("valid_timers.yaml"),
        dir.path().join("timers.yaml"),
    )
    .unwrap();
    let errs = check_files(&[dir.path()], &vocabulary());
    assert!(errs.is_empty(), "{errs:?}");
    std::fs::write(dir.path().join("broken.yaml"), "id: x\n").unwrap();
    let errs = check_files(&[dir.path()], &vocabulary());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].file.ends_with("broken.yaml"));
}

#[test]
fn check_files_reports_every_file_with_its_name() {
    let bad = fixtures_dir().join("invalid_many.yaml");
    let errs = check_files(std::slice::from_ref(&bad), &vocabulary());
    let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
    let name = bad.display().to_string();
    assert!(text.iter().all(|l| l.starts_with(&name)), "{text:?}");
    // The fixture has four mistakes, each on its own line.
    assert_eq!(errs.len(), 4, "{text:#?}");
    assert_eq!(
        errs.iter().map(|d| (d.line, d.column)).collect::<Vec<_>>(),
        vec![(8, 16), (10, 16), (13, 16), (14, 3)],
        "{text:#?}"
    );
}

#[test]
fn hostile_yaml_does_not_panic() {
    for text in [
        "",
        "---",
        "[]",
        "id: [",
        "a: &a [*a]",
        "id: x\ntitle: y\nobject: z\ninitial: s\nstates: {s: {terminal: yes}}\n",
        "id: x\ntitle: y\nobject: z\ninitial: s\nstates: {s: {on: [{after: 99999999999999999999d, to: s}]}}\n",
        "id: x\ntitle: y\nobject: z\ninitial: s\nstates: {s: {on: [{cron: '@@@', to: s}]}}\n",
        "id: x\ntitle: y\nobject: z\ninitial: s\nstates: {s: {on: [{at: '{{', to: s}]}}\n",
        "\u{0}\u{1}",
    ] {
        let _ = compile(text, "x.yaml", &vocabulary());
    }
}

#[test]
fn external_events_must_be_declared_events() {
    let ok = variant(
        "events: [client.called]\n",
        "events: [client.called]\nexternal: [client.called]\n",
    );
    let def = compile(&ok, "wf.yaml", &vocabulary()).expect("valid");
    assert!(def.is_external("client.called"));
    assert!(!def.is_external("send_rfq.done"));
    let y = variant(
        "events: [client.called]\n",
        "events: [client.called]\nexternal: [offer.accepted]\n",
    );
    expect(&y, "offer.accepted", 0, "not an event of this workflow");
    // An action's own result only the engine reports.
    let y = variant(
        "events: [client.called]\n",
        "events: [client.called]\nexternal: [send_rfq.done]\n",
    );
    expect(&y, "send_rfq.done", 0, "not an event of this workflow");
}
