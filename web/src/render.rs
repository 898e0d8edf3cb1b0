//! Server-rendered pages: one minijinja environment with every template
//! embedded in the binary, auto-escaping HTML, with the catalogue (`t`), and
//! money and date filters available to every template.

use std::sync::Arc;

use chrono::TimeZone;
use chrono_tz::Tz;
use fluent_bundle::FluentValue;
use include_dir::{Dir, include_dir};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};

use crate::i18n::Catalogue;
use crate::labels::StatusLabels;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    pub fn new(
        catalogue: Arc<Catalogue>,
        labels: Arc<StatusLabels>,
        tz: Tz,
    ) -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        add_dir(&mut env, &TEMPLATES)?;

        let cat = catalogue.clone();
        env.add_function(
            "t",
            move |key: &str, kwargs: Kwargs| -> Result<String, Error> {
                let mut args: Vec<(String, FluentValue<'static>)> = Vec::new();
                for name in kwargs.args() {
                    let v: Value = kwargs.get(name)?;
                    let fv = match v.as_i64() {
                        Some(n) if v.is_integer() => FluentValue::from(n),
                        _ => FluentValue::from(v.to_string()),
                    };
                    args.push((name.to_string(), fv));
                }
                let refs: Vec<(&str, FluentValue<'_>)> =
                    args.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                Ok(cat.get(key, &refs))
            },
        );
        // A status label: the catalogue's `<prefix>-<code>` for shipped
        // states, else the state's title from the active YAML of a workflow
        // run on `kind`, else the code itself.
        let cat = catalogue.clone();
        env.add_function(
            "status_label",
            move |prefix: &str, kind: &str, code: &str| -> String {
                let key = format!("{prefix}-{code}");
                if cat.has(&key) {
                    cat.get(&key, &[])
                } else {
                    labels.title(kind, code).unwrap_or_else(|| code.to_string())
                }
            },
        );
        let cat = catalogue;
        env.add_function("error_text", move |code: &str| cat.error(code));
        // Where a workflow's business object is shown (none for unknown kinds).
        env.add_function("object_href", |kind: &str, id: i64| {
            crate::links::object_href(kind, id)
        });
        env.add_filter("money", |kopecks: Value| -> Result<String, Error> {
            let k = kopecks
                .as_i64()
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "money needs kopecks"))?;
            Ok(format_money(k))
        });
        // Basis points as a percentage the Russian way: −10,00 %.
        env.add_filter("percent_bp", |bp: Value| -> Result<String, Error> {
            let bp = bp.as_i64().ok_or_else(|| {
                Error::new(ErrorKind::InvalidOperation, "percent_bp needs basis points")
            })?;
            let sign = if bp < 0 { "−" } else { "" };
            let a = bp.unsigned_abs();
            Ok(format!("{sign}{},{:02}\u{a0}%", a / 100, a % 100))
        });
        // +7XXXXXXXXXX as people read it: +7 (916) 123-45-67.
        env.add_filter("phone", |v: Value| -> String {
            let s = v.as_str().unwrap_or_default();
            domain::values::PhoneNumber::parse(s)
                .map(|p| p.to_string())
                .unwrap_or_else(|_| s.to_string())
        });
        // A number the Russian way: `4` rather than `4.0`, `12,5` for 12.5.
        env.add_filter("num", |v: Value| -> String {
            match f64::try_from(v.clone()) {
                Ok(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
                Ok(n) => format!("{}", (n * 1000.0).round() / 1000.0).replace('.', ","),
                Err(_) => v.to_string(),
            }
        });
        // Epoch milliseconds, or a calendar day as `YYYY-MM-DD`.
        env.add_filter("date", move |v: Value| match v.as_str() {
            Some(day) => chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map(|d| d.format("%d.%m.%Y").to_string())
                .unwrap_or_else(|_| day.to_string()),
            None => fmt_time(&v, tz, "%d.%m.%Y"),
        });
        env.add_filter("datetime", move |ms: Value| {
            fmt_time(&ms, tz, "%d.%m.%Y %H:%M")
        });
        env.add_filter("time", move |ms: Value| fmt_time(&ms, tz, "%H:%M"));
        // The engine reports times as RFC 3339 text.
        env.add_filter("isodt", move |v: Value| {
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string())
                .unwrap_or_default()
        });
        Ok(Templates { env })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, Error> {
        self.env.get_template(name)?.render(ctx)
    }

    pub fn env(&self) -> &Environment<'static> {
        &self.env
    }
}

fn add_dir(env: &mut Environment<'static>, dir: &'static Dir<'static>) -> anyhow::Result<()> {
    for file in dir.files() {
        let name = file.path().to_string_lossy().replace('\\', "/");
        let text = file
            .contents_utf8()
            .ok_or_else(|| anyhow::anyhow!("template {name} is not UTF-8"))?;
        env.add_template_owned(name.clone(), text.to_string())
            .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
    }
    for sub in dir.dirs() {
        add_dir(env, sub)?;
    }
    Ok(())
}

/// Any serialisable value as a template value.
pub fn ser<T: serde::Serialize>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// Kopecks as the interface shows money: `15 000,00 ₽`.
pub fn format_money(kopecks: i64) -> String {
    domain::values::Kopecks::new(kopecks).to_string()
}

fn fmt_time(ms: &Value, tz: Tz, pattern: &str) -> String {
    let Some(ms) = ms.as_i64() else {
        return String::new();
    };
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format(pattern).to_string(),
        None => String::new(),
    }
}
