//! Expressions and templates: minijinja's expression language over the
//! roots `data`, `object`, `event`, `form`, `task`, `outcome` and `now`.
//!
//! One process-wide environment holds the filters analysts may use, so that
//! compiled expressions can live inside a definition (`'static`) and are
//! compiled once per definition, not once per step.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::value::{Serde, Value};
use minijinja::{Environment, ErrorKind, Expression, UndefinedBehavior};

use crate::diag::Pos;
use crate::duration::Dur;

/// The roots an expression may name.
pub const ROOTS: [&str; 7] = ["data", "object", "event", "form", "task", "outcome", "now"];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `data.a.b` on a missing `a` is undefined rather than an error:
        // data fill in over time, and a guard on a missing value is just false.
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.add_filter("before", before);
        env.add_filter("after", after);
        env.add_filter("datetime", normalize_time);
        env.add_function("earliest", earliest);
        env.add_function("latest", latest);
        env
    })
}

/// Formats a time the way the engine writes times into data and `now`:
/// RFC 3339 in UTC with milliseconds, so that strings compare in time order.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time (any offset).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn shift(value: &Value, by: &str, sign: i64) -> Result<Value, minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::from(()));
    }
    let Some(text) = value.as_str() else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "before/after apply to an RFC 3339 time string",
        ));
    };
    let t = parse_time(text).ok_or_else(|| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("{text:?} is not an RFC 3339 time"),
        )
    })?;
    let d = Dur::parse(by).map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e))?;
    Ok(Value::from(format_time(t + d.to_chrono() * sign as i32)))
}

/// `"2026-05-01T10:00:00+03:00" | before('1h')` — one hour earlier, in UTC.
fn before(value: Value, by: String) -> Result<Value, minijinja::Error> {
    shift(&value, &by, -1)
}

/// `… | after('30m')` — thirty minutes later, in UTC.
fn after(value: Value, by: String) -> Result<Value, minijinja::Error> {
    shift(&value, &by, 1)
}

/// `… | datetime` — the same time written in UTC, comparable as a string.
fn normalize_time(value: Value) -> Result<Value, minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::from(()));
    }
    let text = value.as_str().unwrap_or_default();
    parse_time(text)
        .map(|t| Value::from(format_time(t)))
        .ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("{text:?} is not an RFC 3339 time"),
            )
        })
}

/// The times among `values` (empty ones skipped), in UTC.
fn times(values: &[Value]) -> Result<Vec<DateTime<Utc>>, minijinja::Error> {
    let mut out = Vec::new();
    for v in values {
        if v.is_undefined() || v.is_none() {
            continue;
        }
        let text = v.as_str().unwrap_or_default();
        out.push(parse_time(text).ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("{v} is not an RFC 3339 time"),
            )
        })?);
    }
    Ok(out)
}

/// `earliest(now | after('2h'), data.arrival_at | before('1h'))` — the
/// earliest of the times given, empty ones skipped (empty if all are).
fn earliest(values: minijinja::value::Rest<Value>) -> Result<Value, minijinja::Error> {
    Ok(times(&values)?
        .into_iter()
        .min()
        .map(|t| Value::from(format_time(t)))
        .unwrap_or(Value::from(())))
}

/// `latest(…)` — the latest of the times given, empty ones skipped.
fn latest(values: minijinja::value::Rest<Value>) -> Result<Value, minijinja::Error> {
    Ok(times(&values)?
        .into_iter()
        .max()
        .map(|t| Value::from(format_time(t)))
        .unwrap_or(Value::from(())))
}

/// A compiled expression with its source and position in the YAML file.
pub struct Expr {
    pub src: String,
    pub pos: Pos,
    compiled: Expression<'static, 'static>,
    /// Root-qualified names it reads: `data.arrival_at`, `object.name`, `now`…
    pub reads: BTreeSet<String>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.src)
    }
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: `{src}`: {message}")]
pub struct EvalError {
    pub line: u32,
    pub column: u32,
    pub src: String,
    pub message: String,
}

impl Expr {
    /// Compiles `src`; the error text names what is wrong (not where).
    pub fn compile(src: &str, pos: Pos) -> Result<Expr, String> {
        let compiled = env()
            .compile_expression_owned(src.to_string())
            .map_err(|e| syntax_message(&e))?;
        let reads = compiled.undeclared_variables(true).into_iter().collect();
        Ok(Expr {
            src: src.to_string(),
            pos,
            compiled,
            reads,
        })
    }

    /// The data fields it reads (`data.x` → `x`; plain `data` → `*`).
    pub fn data_fields(&self) -> BTreeSet<String> {
        fields_of(&self.reads, "data")
    }

    pub fn eval(&self, ctx: &Value) -> Result<Value, EvalError> {
        self.compiled
            .eval(ctx.clone())
            .map_err(|e| self.error(e.to_string()))
    }

    /// Evaluates to JSON (undefined becomes null).
    pub fn eval_json(&self, ctx: &Value) -> Result<serde_json::Value, EvalError> {
        let v = self.eval(ctx)?;
        to_json(&v).map_err(|e| self.error(e))
    }

    /// Evaluates as a guard: true when the value is truthy.
    pub fn eval_bool(&self, ctx: &Value) -> Result<bool, EvalError> {
        Ok(self.eval(ctx)?.is_true())
    }

    pub(crate) fn error(&self, message: String) -> EvalError {
        EvalError {
            line: self.pos.line,
            column: self.pos.column,
            src: self.src.clone(),
            message,
        }
    }
}

/// Fields under `root` named by root-qualified reads; `*` when the whole root
/// is used (e.g. `data | tojson`).
pub(crate) fn fields_of(reads: &BTreeSet<String>, root: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in reads {
        let mut parts = r.split('.');
        if parts.next() == Some(root) {
            out.insert(parts.next().unwrap_or("*").to_string());
        }
    }
    out
}

/// A minijinja template (task titles), compiled on demand.
#[derive(Debug, Clone)]
pub struct Template {
    pub src: String,
    pub pos: Pos,
    pub reads: BTreeSet<String>,
}

impl Template {
    pub fn compile(src: &str, pos: Pos) -> Result<Template, String> {
        let t = env()
            .template_from_str(src)
            .map_err(|e| syntax_message(&e))?;
        let reads = t.undeclared_variables(true).into_iter().collect();
        Ok(Template {
            src: src.to_string(),
            pos,
            reads,
        })
    }

    pub fn render(&self, ctx: &Value) -> Result<String, EvalError> {
        env()
            .render_str(&self.src, ctx.clone())
            .map_err(|e| EvalError {
                line: self.pos.line,
                column: self.pos.column,
                src: self.src.clone(),
                message: e.to_string(),
            })
    }
}

fn syntax_message(e: &minijinja::Error) -> String {
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    format!("ошибка в выражении: {detail}")
}

/// Converts a template value to JSON.
pub fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    if v.is_undefined() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::to_value(v).map_err(|e| format!("value cannot be stored: {e}"))
}

/// Converts JSON to a template value.
pub fn from_json(v: &serde_json::Value) -> Value {
    Value::from(Serde(v))
}

/// Names of filters an expression applies (`x | before('1h')` → `before`),
/// found by a small scan that skips string literals. minijinja only notices an
/// unknown filter when it runs, which for a timer may be days later.
pub(crate) fn filter_names(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '|' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let start = j;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j > start {
                out.push(chars[start..j].iter().collect());
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

fn probe_cache() -> &'static Mutex<HashMap<String, bool>> {
    static CACHE: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn probe(key: String, src: String) -> bool {
    if let Some(v) = probe_cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return *v;
    }
    let known = match env().compile_expression_owned(src) {
        Ok(e) => match e.eval(()) {
            Ok(v) => !v.is_undefined(),
            Err(err) => !matches!(
                err.kind(),
                ErrorKind::UnknownFilter | ErrorKind::UnknownFunction
            ),
        },
        Err(_) => false,
    };
    probe_cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, known);
    known
}

/// Whether the environment knows a filter called `name`.
pub(crate) fn filter_exists(name: &str) -> bool {
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return false;
    }
    probe(format!("filter:{name}"), format!("none | {name}"))
}

/// Whether `name` is a global function of the environment (`range`, `dict`…).
pub(crate) fn global_exists(name: &str) -> bool {
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return false;
    }
    probe(format!("global:{name}"), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_filters_shift_and_normalise() {
        let e = Expr::compile("data.at | before('1h')", Pos::default()).unwrap();
        let ctx = from_json(&serde_json::json!({"data": {"at": "2026-05-01T10:00:00+03:00"}}));
        assert_eq!(
            e.eval_json(&ctx).unwrap(),
            serde_json::json!("2026-05-01T06:00:00.000Z")
        );
        let ctx = from_json(&serde_json::json!({"data": {}}));
        assert_eq!(e.eval_json(&ctx).unwrap(), serde_json::Value::Null);
        assert_eq!(
            e.data_fields().into_iter().collect::<Vec<_>>(),
            vec!["at".to_string()]
        );
    }

    #[test]
    fn earliest_and_latest_skip_empty_times() {
        let ctx = from_json(&serde_json::json!({
            "now": "2026-05-01T10:00:00.000Z",
            "data": {"at": "2026-05-01T14:00:00+03:00"}
        }));
        let e = Expr::compile(
            "earliest(now | after('2h'), data.at | before('1h'), data.missing)",
            Pos::default(),
        )
        .unwrap();
        assert_eq!(
            e.eval_json(&ctx).unwrap(),
            serde_json::json!("2026-05-01T10:00:00.000Z")
        );
        let e = Expr::compile("latest(data.at, now)", Pos::default()).unwrap();
        assert_eq!(
            e.eval_json(&ctx).unwrap(),
            serde_json::json!("2026-05-01T11:00:00.000Z")
        );
        let e = Expr::compile("latest(data.missing)", Pos::default()).unwrap();
        assert_eq!(e.eval_json(&ctx).unwrap(), serde_json::Value::Null);
        let e = Expr::compile("earliest(data.at, 'soon')", Pos::default()).unwrap();
        assert!(e.eval_json(&ctx).is_err());
    }

    #[test]
    fn finds_filters_outside_strings() {
        assert_eq!(
            filter_names("a | upper | before('x|y') ~ \"|no\""),
            vec!["upper", "before"]
        );
        assert!(filter_exists("upper"));
        assert!(filter_exists("before"));
        assert!(!filter_exists("nosuch"));
        assert!(global_exists("range"));
        assert!(!global_exists("nosuch"));
    }
}
