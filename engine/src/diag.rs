//! Diagnostics: what is wrong in a workflow file, and where.

use std::fmt;

/// A position in a YAML file (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }
}

/// Where a parsed YAML value was written.
impl<T> From<&serde_saphyr::Spanned<T>> for Pos {
    fn from(s: &serde_saphyr::Spanned<T>) -> Pos {
        s.referenced.into()
    }
}

impl From<serde_saphyr::Location> for Pos {
    fn from(l: serde_saphyr::Location) -> Pos {
        Pos {
            line: l.line() as u32,
            column: l.column() as u32,
        }
    }
}

/// One problem found while loading a definition. Displays as
/// `file:line:column: message`, the form editors and terminals understand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Several diagnostics as one error value (one per line when displayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Turns a serde-saphyr error (a YAML syntax error or a value of the wrong
/// shape) into a diagnostic with the parser's own position.
pub fn from_yaml_error(file: &str, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::MessageFormatter;
    let pos = err.location().map(Pos::from).unwrap_or_default();
    let raw = serde_saphyr::DefaultMessageFormatter
        .format_message(err.without_snippet())
        .to_string();
    let message = match raw.strip_prefix("duplicate mapping key: ") {
        Some(rest) => {
            let key = rest.split(',').next().unwrap_or(rest).trim();
            format!("«{key}» объявлено дважды")
        }
        None => russian_yaml_message(&raw)
            .unwrap_or_else(|| raw.escape_debug().to_string().replace("\\\"", "\"")),
    };
    Diagnostic::new(file, pos, message)
}

/// The YAML parser's messages said in plain Russian, the analysts'
/// language. The engine has no access to the web's message catalogue (it
/// sits below it), so the table lives here, in one place. Matched on the
/// parser's wording; an unknown message falls through in English.
const YAML_MESSAGES: &[(&str, &str)] = &[
    (
        "did not find expected '-' indicator",
        "ожидался элемент списка «- …»: проверьте отступ этой строки — он должен совпадать с соседними элементами",
    ),
    (
        "while parsing a block mapping, did not find expected key",
        "ожидалось «имя: значение»: проверьте отступ этой строки и парные кавычки в строке выше",
    ),
    (
        "did not find expected node content",
        "здесь ожидалось значение, а его нет",
    ),
    (
        "did not find expected ',' or '}'",
        "в записи «{…}» пропущена запятая или закрывающая «}»",
    ),
    (
        "expected ',' or ']'",
        "в списке «[…]» пропущена запятая или закрывающая «]»",
    ),
    (
        "unexpected EOF while parsing a flow mapping",
        "не закрыта скобка «{»",
    ),
    (
        "unexpected EOF while parsing a flow sequence",
        "не закрыта скобка «[»",
    ),
    ("unexpected EOF", "файл оборвался посреди записи"),
    (
        "mapping values are not allowed",
        "двоеточие не на месте: если оно — часть текста, возьмите значение в кавычки",
    ),
    (
        "simple key expected ':'",
        "после имени ожидалось двоеточие «:»",
    ),
    ("invalid indentation", "неверный отступ"),
    (
        "tabs disallowed",
        "табуляция в отступах не допускается: используйте пробелы",
    ),
    (
        "found unknown anchor",
        "ссылка «*…» на неизвестную метку «&…»",
    ),
    (
        "found character that cannot start any token",
        "этот символ не может начинать значение: возьмите значение в кавычки",
    ),
    ("while scanning a quoted scalar", "не закрыты кавычки"),
];

/// Serde's shape messages (`missing field`, `unknown field`, …) and the
/// parser's, in Russian; `None` for a message not in the table.
fn russian_yaml_message(raw: &str) -> Option<String> {
    if let Some(rest) = raw.strip_prefix("missing field ") {
        return Some(format!("не хватает обязательного поля {}", quoted(rest)));
    }
    if let Some(rest) = raw.strip_prefix("unknown field ") {
        let (name, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(" one of")
            .trim_start_matches(':')
            .trim();
        return Some(if expected.is_empty() {
            format!("неизвестное поле {}", quoted(name))
        } else {
            format!(
                "неизвестное поле {} — возможно, опечатка; допустимы: {}",
                quoted(name),
                expected.replace('`', "")
            )
        });
    }
    if let Some(rest) = raw.strip_prefix("unknown variant ") {
        let (name, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(" one of")
            .trim_start_matches(':')
            .trim();
        return Some(format!(
            "неизвестное значение {}; допустимы: {}",
            quoted(name),
            expected.replace('`', "")
        ));
    }
    if raw.starts_with("invalid type:") {
        return Some(format!(
            "значение не того вида: {}",
            raw.trim_start_matches("invalid type:")
                .trim()
                .replace("expected", "а ожидалось")
        ));
    }
    YAML_MESSAGES
        .iter()
        .find(|(en, _)| raw.contains(en))
        .map(|(_, ru)| (*ru).to_string())
}

/// `` `name` `` as «name».
fn quoted(s: &str) -> String {
    format!("«{}»", s.trim().trim_matches('`'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(yaml: &str) -> String {
        let e = serde_saphyr::from_str::<std::collections::BTreeMap<String, Vec<String>>>(yaml)
            .expect_err("broken");
        from_yaml_error("f.yaml", &e).message
    }

    #[test]
    fn a_misindented_list_item_is_explained_in_russian() {
        let m = message("a:\n  - x\n  - y\n b: 1\n");
        assert!(
            !m.contains("did not find") && m.chars().any(|c| ('а'..='я').contains(&c)),
            "{m}"
        );
    }
}
