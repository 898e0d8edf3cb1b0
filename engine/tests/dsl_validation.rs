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
        format!(
            "wf.yaml:{line}:{col}: неизвестное состояние «nowhere»; есть: closed, new, waiting"
        )
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
        "неизвестное состояние «nowhere»",
    );
    expect(
        &variant("initial: new", "initial: old"),
        "old",
        0,
        "неизвестное состояние «old»",
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
        "неизвестное действие «launch»",
    );
    expect(
        &variant(
            "with: {text: \"'Скоро приезд'\"}",
            "with: {txt: \"'Скоро приезд'\"}",
        ),
        "txt",
        0,
        "у действия «notify» нет параметра «txt»",
    );
    expect(
        &variant(
            "actions: [{action: send_rfq}]",
            "actions: [{action: task.remind}]",
        ),
        "task.remind",
        0,
        "служебное действие",
    );
}

#[test]
fn unknown_role() {
    expect(
        &variant("roles: [manager]", "roles: [boss]"),
        "boss",
        0,
        "неизвестная роль «boss»",
    );
}

#[test]
fn unknown_event() {
    expect(
        &variant("event: client.called", "event: client.texted"),
        "client.texted",
        0,
        "неизвестное событие «client.texted»",
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
        "неизвестное поле данных «notes»",
    );
    expect(
        &variant(
            "\"data.arrival_at | before('1h')\"",
            "\"data.arrive_at | before('1h')\"",
        ),
        "\"data.arrive_at",
        0,
        "неизвестное поле данных «arrive_at»",
    );
    expect(
        &variant(
            "title: \"Проверить {{ data.note }}\"",
            "title: \"Проверить {{ data.nots }}\"",
        ),
        "\"Проверить",
        0,
        "неизвестное поле данных «nots»",
    );
}

#[test]
fn unknown_form_field_and_misplaced_roots() {
    expect(
        &variant("set: {note: form.reason}", "set: {note: form.reasn}"),
        "form.reasn",
        0,
        "в форме задачи нет поля «reasn»",
    );
    expect(
        &variant(
            "with: {text: \"'Скоро приезд'\"}",
            "with: {text: form.reason}",
        ),
        "form.reason}",
        1,
        "«form» есть только в решении по задаче",
    );
    expect(
        &variant("with: {text: \"'Скоро приезд'\"}", "with: {text: approved}"),
        "approved}",
        0,
        "неизвестное имя «approved»",
    );
}

#[test]
fn unreachable_and_dead_end_states() {
    let y = variant("  closed:\n", "  orphan:\n    terminal: true\n  closed:\n");
    expect(&y, "orphan", 0, "в состояние «orphan» нельзя попасть");
    let y = variant(
        "  closed:\n    terminal: true\n",
        "  closed:\n    title: Закрыта\n",
    );
    expect(
        &y,
        "closed:\n    title",
        0,
        "из состояния «closed» нет выхода",
    );
}

#[test]
fn duplicate_ids() {
    let y = variant("  closed:\n", "  waiting:\n    terminal: true\n  closed:\n");
    expect(
        &y,
        "waiting:\n    terminal",
        0,
        "«waiting» объявлено дважды",
    );
    let y = variant(
        "  waiting:\n",
        "      - id: review\n        title: x\n        roles: [manager]\n        outcomes: {ok: {title: Ok, to: closed}}\n  waiting:\n",
    );
    expect(
        &y,
        "review",
        1,
        "задача «review» объявлена в состоянии дважды",
    );
    let y = variant(
        "          - id: reason\n            type: text\n",
        "          - id: reason\n            type: text\n          - id: reason\n",
    );
    expect(&y, "reason", 1, "поле формы «reason» объявлено дважды");
    let y = variant(
        "events: [client.called]",
        "events: [client.called, client.called]",
    );
    expect(
        &y,
        "client.called",
        1,
        "событие «client.called» объявлено дважды",
    );
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
        "ошибка в выражении",
    );
    expect(
        &variant("due: 2h", "due: 2 hours"),
        "2 hours",
        0,
        "неверный срок",
    );
    expect(
        &variant("after: 1d", "after: soon"),
        "soon",
        0,
        "неверный срок",
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
        "неизвестный фильтр «befor»",
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
        "конечное состояние «closed» не может иметь переходов",
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
        "ровно одно условие срабатывания",
    );
    let y = variant(
        "      - event: client.called\n        to: closed\n",
        "      - to: closed\n",
    );
    expect(&y, "to: closed\n      - at", 0, "нет условия срабатывания");
    let y = variant(
        "      - event: client.called\n        to: closed\n",
        "      - when: \"data.amount > 0\"\n",
    );
    expect(
        &y,
        "\"data.amount > 0\"",
        0,
        "должен вести (to:) в другое состояние",
    );
}

#[test]
fn unknown_calendar_and_types() {
    expect(
        &variant("calendar: working", "calendar: weekends"),
        "weekends",
        0,
        "неизвестный календарь «weekends»",
    );
    expect(
        &variant("amount: {type: money}", "amount: {type: roubles}"),
        "roubles",
        0,
        "неизвестный тип «roubles»",
    );
    expect(
        &variant("note: {type: text}", "note: {type: integer, default: many}"),
        "many",
        0,
        "значение по умолчанию не подходит",
    );
    // An unquoted date is arithmetic (2026 - 5 - 1), not a date.
    let y = variant("set: {note: form.reason}", "set: {arrival_at: 2026-05-01}");
    expect(
        &y,
        "2026-05-01",
        0,
        "не подходит к полю данных «arrival_at» типа datetime",
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
    expect(&y, "offer.accepted", 0, "а такого события в процессе нет");
    // An action's own result only the engine reports.
    let y = variant(
        "events: [client.called]\n",
        "events: [client.called]\nexternal: [send_rfq.done]\n",
    );
    expect(&y, "send_rfq.done", 0, "а такого события в процессе нет");
}

/// One typo, one message: a state misspelt where it is declared is named
/// once (with the places it is written and the likely intended name), and
/// what it drags along — transitions dropped, states without a way out,
/// "unreachable" states — is not reported on top.
#[test]
fn one_typo_gives_one_message() {
    let y = variant(
        "  closed:\n    terminal: true",
        "  clossed:\n    terminal: true",
    );
    let errs = errors(&y);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let (line, column) = pos_of(&y, "closed", 0);
    assert_eq!((errs[0].line, errs[0].column), (line, column), "{errs:?}");
    assert!(
        errs[0].message.contains("неизвестное состояние «closed»")
            && errs[0]
                .message
                .contains("возможно, опечатка — есть «clossed»")
            && errs[0].message.contains("ещё в строках"),
        "{}",
        errs[0].message
    );

    // The same data field misspelt twice is one message too.
    let y = variant(
        "title: \"Проверить {{ data.note }}\"",
        "title: \"Проверить {{ data.nots }} {{ data.nots }}\"",
    )
    .replacen("set: {note: form.reason}", "set: {nots: form.reason}", 1);
    let errs = errors(&y);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("«nots»") && errs[0].message.contains("«note»"));
}

/// A chain of states nobody enters is reported at its first state only.
#[test]
fn an_unreachable_chain_is_reported_once() {
    let y = variant(
        "  closed:\n    terminal: true",
        "  orphan:\n    on:\n      - event: client.called\n        to: orphan_next\n  orphan_next:\n    on:\n      - event: client.called\n        to: closed\n  closed:\n    terminal: true",
    );
    let errs = errors(&y);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("«orphan»"), "{}", errs[0].message);
}
