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
                    // Fractions the Russian way (`8,2 км`): Fluent would print `8.2`.
                    let fv = match (v.as_i64(), f64::try_from(v.clone())) {
                        (Some(n), _) if v.is_integer() => FluentValue::from(n),
                        (_, Ok(n)) if v.is_number() => FluentValue::from(number_text(n)),
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
        let cat = catalogue.clone();
        env.add_function("error_text", move |code: &str| cat.error(code));
        // A time zone as people name it: `Europe/Moscow` → «Москва (МСК)».
        let cat = catalogue;
        env.add_filter("tz_name", move |name: &str| tz_name(&cat, name));
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
        // `num(6)` keeps up to six decimals (coordinates).
        env.add_filter("num", |v: Value, digits: Option<i32>| -> String {
            match f64::try_from(v.clone()) {
                Ok(n) => number_with(n, digits.unwrap_or(3)),
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
        // Epoch milliseconds at a site, in the site's own time zone.
        env.add_filter("site_datetime", |ms: Value, zone: Option<String>| {
            use domain::intake::requests::{local_text, site_tz};
            local_text(ms.as_i64(), site_tz(zone.as_deref()))
        });
        // The engine reports times as RFC 3339 text.
        env.add_filter("isodt", move |v: Value| {
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string())
                .unwrap_or_default()
        });
        Ok(Templates { env })
    }

    /// Renders a template; a page (`.html`) gets its nested quotes the
    /// Russian way ([`nested_quotes`]).
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, Error> {
        let out = self.env.get_template(name)?.render(ctx)?;
        Ok(if name.ends_with(".html") {
            nested_quotes(&out)
        } else {
            out
        })
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

/// Quotes inside quotes the Russian way: «Заявка ООО „Север“» rather than
/// «Заявка ООО «Север»» — a company's name («ООО «Север»») often lands
/// inside a text that quotes it. Only text between tags is touched, and
/// the depth starts afresh at each block's end, so that one unclosed quote
/// typed by someone cannot turn the rest of the page.
pub fn nested_quotes(html: &str) -> String {
    if !html.contains('«') {
        return html.to_string();
    }
    const BLOCK_ENDS: &[&str] = &[
        "</p", "</li", "</td", "</th", "</dd", "</dt", "</div", "</h", "</tr", "</option",
        "</label", "</title", "<br", "</small", "</strong", "</a", "</span", "</button",
    ];
    let mut out = String::with_capacity(html.len() + 16);
    let mut depth = 0usize;
    let mut in_tag = false;
    for (i, c) in html.char_indices() {
        match c {
            '<' => {
                in_tag = true;
                let rest = &html[i..];
                if BLOCK_ENDS.iter().any(|b| rest.starts_with(b)) && depth > 0 {
                    // Leaving an element with an open quote: forget it.
                    depth = 0;
                }
                out.push(c);
            }
            '>' => {
                in_tag = false;
                out.push(c);
            }
            '«' if !in_tag => {
                out.push(if depth > 0 { '„' } else { '«' });
                depth += 1;
            }
            '»' if !in_tag => {
                depth = depth.saturating_sub(1);
                out.push(if depth > 0 { '“' } else { '»' });
            }
            _ => out.push(c),
        }
    }
    out
}

/// A number the Russian way: `4` rather than `4.0`, `12,5` for 12.5, at
/// most three decimals.
pub fn number_text(n: f64) -> String {
    number_with(n, 3)
}

fn number_with(n: f64, digits: i32) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        let scale = 10f64.powi(digits.clamp(0, 9));
        format!("{}", (n * scale).round() / scale).replace('.', ",")
    }
}

/// The catalogue's name of an IANA time zone (`tz-europe-moscow`); a zone
/// the catalogue does not name is told by its offset from Moscow time
/// («МСК+2»), never by its identifier.
fn tz_name(cat: &Catalogue, name: &str) -> String {
    let key = format!("tz-{}", name.to_lowercase().replace('/', "-"));
    if cat.has(&key) {
        return cat.get(&key, &[]);
    }
    let Ok(zone) = name.parse::<Tz>() else {
        return String::new();
    };
    let now = chrono::Utc::now();
    let offset = |z: Tz| {
        use chrono::Offset;
        i64::from(now.with_timezone(&z).offset().fix().local_minus_utc())
    };
    let minutes = (offset(zone) - offset(chrono_tz::Europe::Moscow)) / 60;
    let sign = if minutes < 0 { "−" } else { "+" };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    let shift = match (h, m) {
        (0, 0) => String::new(),
        (h, 0) => format!("{sign}{h}"),
        (h, m) => format!("{sign}{h}:{m:02}"),
    };
    cat.get("tz-other", &[("shift", FluentValue::from(shift))])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_inside_quotes_become_low_ones() {
        assert_eq!(
            nested_quotes("<p>Клиент «ООО «Север»» принял</p>"),
            "<p>Клиент «ООО „Север“» принял</p>"
        );
        // Attributes stay as typed; a quote left open ends with its element.
        assert_eq!(
            nested_quotes(r#"<a title="«x»">«открыта</a><p>«ООО «Юг»»</p>"#),
            r#"<a title="«x»">«открыта</a><p>«ООО „Юг“»</p>"#
        );
        assert_eq!(nested_quotes("«просто»"), "«просто»");
    }

    #[test]
    fn time_zones_are_named_never_by_their_identifier() {
        let c = Catalogue::russian().expect("catalogue");
        assert_eq!(tz_name(&c, "Europe/Moscow"), "Москва (МСК)");
        // Not in the catalogue: by its shift from Moscow time.
        assert_eq!(tz_name(&c, "Asia/Novosibirsk"), "МСК+4");
        assert_eq!(tz_name(&c, "Asia/Kolkata"), "МСК+2:30");
        assert_eq!(tz_name(&c, "Nowhere/Else"), "");
    }

    #[test]
    fn numbers_have_decimal_commas() {
        assert_eq!(number_text(8.2), "8,2");
        assert_eq!(number_text(60.0), "60");
        assert_eq!(number_text(1.23456), "1,235");
        assert_eq!(number_with(55.755826, 6), "55,755826");
    }
}
