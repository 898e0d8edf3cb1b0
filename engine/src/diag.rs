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
            format!("duplicate id `{key}`")
        }
        None => raw.escape_debug().to_string().replace("\\\"", "\""),
    };
    Diagnostic::new(file, pos, message)
}
