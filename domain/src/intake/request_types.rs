//! Request types, defined by analysts in `workflows/request_types/*.yaml`:
//! each type's own fields (with types, units, limits, help), which field is
//! the work site, whether a duration is asked, the price units suppliers may
//! quote in, the default markup, and the rules by which a machine fits a
//! request (`payload_t` at least `weight_t`…). A new type is a new file — no
//! code change: forms, validation, lists and matching read it from here.
//!
//! Loading checks everything against the equipment catalogue and reports
//! `file:line:column: what is wrong`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use engine::{Diagnostic, Pos};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::error::FieldErrors;
use crate::fleet::catalogue::{EquipmentCatalogue, SpecType};

/// The type of a request field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    String,
    Text,
    Integer,
    Decimal,
    Boolean,
    Choice,
    Date,
    /// An address with optional coordinates and the site's time zone.
    Address,
    /// An equipment category serving this request type.
    Category,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldDef {
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    pub unit: Option<String>,
    pub required: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub options: Vec<String>,
    pub help: Option<String>,
    pub default: Option<Value>,
}

/// What duration a request of this type asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationKind {
    None,
    Hours,
    Shifts,
}

/// How a machine must fit: its spec compared with a request field.
#[derive(Debug, Clone, Serialize)]
pub struct MatchRule {
    pub spec: String,
    /// The spec must be at least this (numeric) field's value.
    pub at_least: Option<String>,
    /// The spec must equal this (choice) field's value.
    pub equals: Option<String>,
    /// Applies only when another field has this value.
    pub when: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestType {
    pub code: String,
    pub title: String,
    /// What the service is, in a sentence or two, for the cards a client
    /// chooses the type from (`description`).
    pub description: Option<String>,
    pub order_title: String,
    pub position: i64,
    pub workflow: String,
    /// The order funnel its orders run (`order_workflow`, default `order`).
    pub order_workflow: String,
    /// The client's framework contract its orders need (`contract`):
    /// `forwarding` (transport forwarding, for cargo), `charter` (for
    /// passengers) or `services` (services with machinery, the default).
    pub contract: String,
    /// The address field that is the work site (distance, time zone).
    pub site: String,
    pub duration: DurationKind,
    pub price_units: Vec<String>,
    /// Default markup in basis points (15 % = 1500).
    pub markup_bp: i64,
    /// The margin over cost below which an offer needs approval, basis
    /// points; `None`: the company's (the broker's `min_margin_bp`).
    pub min_margin_bp: Option<i64>,
    pub fields: Vec<FieldDef>,
    /// Categories that can serve this type (from the catalogue's `serves`).
    pub categories: Vec<String>,
    pub rules: Vec<MatchRule>,
}

/// The kinds of a client's framework contract a type may ask for.
pub const CONTRACT_KINDS: [&str; 3] = ["forwarding", "charter", "services"];

/// Units a supplier may price in.
pub const PRICE_UNITS: [&str; 7] = ["trip", "hour", "shift", "day", "tonne", "m3", "km"];

/// Russia's time zones, for the site of a request.
pub const TIMEZONES: [&str; 11] = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    code: Spanned<String>,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    order_title: Option<String>,
    #[serde(default)]
    position: i64,
    #[serde(default)]
    workflow: Option<Spanned<String>>,
    #[serde(default)]
    order_workflow: Option<Spanned<String>>,
    #[serde(default)]
    contract: Option<Spanned<String>>,
    site: Spanned<String>,
    #[serde(default = "default_duration")]
    duration: DurationKind,
    price_units: Vec<Spanned<String>>,
    #[serde(default)]
    markup_percent: f64,
    #[serde(default)]
    min_margin_percent: Option<Spanned<f64>>,
    fields: Vec<Spanned<RawField>>,
    #[serde(default)]
    matching: Option<RawMatching>,
}

fn default_duration() -> DurationKind {
    DurationKind::None
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    id: Spanned<String>,
    title: String,
    #[serde(rename = "type")]
    kind: FieldKind,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    help: Option<String>,
    #[serde(default)]
    default: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatching {
    #[serde(default)]
    categories: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    spec: Spanned<String>,
    #[serde(default)]
    at_least: Option<Spanned<String>>,
    #[serde(default)]
    equals: Option<Spanned<String>>,
    #[serde(default)]
    when: Option<RawWhen>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    field: Spanned<String>,
    equals: String,
}

impl RequestType {
    /// Parses and checks one request type against the equipment catalogue.
    pub fn parse(
        file: &str,
        text: &str,
        catalogue: &EquipmentCatalogue,
    ) -> Result<RequestType, Vec<Diagnostic>> {
        let raw: RawType = serde_saphyr::from_str(text)
            .map_err(|e| vec![engine::diag::from_yaml_error(file, &e)])?;
        let mut errors = Vec::new();
        let mut err = |p: Pos, m: String| errors.push(Diagnostic::new(file, p, m));
        if !crate::fleet::catalogue::valid_code(&raw.code.value) {
            err(
                Pos::from(&raw.code),
                format!(
                    "код «{}»: только строчные латинские буквы, цифры и _",
                    raw.code.value
                ),
            );
        }
        let mut ids = HashSet::new();
        let mut fields = Vec::new();
        for f in raw.fields {
            let p = Pos::from(&f);
            let f = f.value;
            if !crate::fleet::catalogue::valid_code(&f.id.value) {
                err(
                    Pos::from(&f.id),
                    format!(
                        "имя поля «{}»: только строчные латинские буквы, цифры и _",
                        f.id.value
                    ),
                );
            }
            if !ids.insert(f.id.value.clone()) {
                err(
                    Pos::from(&f.id),
                    format!("поле «{}» объявлено дважды", f.id.value),
                );
            }
            if f.kind == FieldKind::Choice && f.options.is_empty() {
                err(
                    p,
                    format!(
                        "поле «{}» — выбор из списка, но вариантов (options) нет",
                        f.id.value
                    ),
                );
            }
            if f.kind != FieldKind::Choice && !f.options.is_empty() {
                err(
                    p,
                    format!(
                        "у поля «{}» есть варианты (options), но его тип не choice",
                        f.id.value
                    ),
                );
            }
            if let (Some(a), Some(b)) = (f.min, f.max)
                && a > b
            {
                err(p, format!("поле «{}»: min {a} больше max {b}", f.id.value));
            }
            fields.push(FieldDef {
                id: f.id.value,
                title: f.title,
                kind: f.kind,
                unit: f.unit,
                required: f.required,
                min: f.min,
                max: f.max,
                options: f.options,
                help: f.help,
                default: f.default,
            });
        }
        let field = |id: &str| fields.iter().find(|f| f.id == id);
        match field(&raw.site.value) {
            Some(f) if f.kind == FieldKind::Address => {}
            Some(_) => err(
                Pos::from(&raw.site),
                format!("site: поле «{}» должно быть типа address", raw.site.value),
            ),
            None => err(
                Pos::from(&raw.site),
                format!("site: поля «{}» в этом виде заявки нет", raw.site.value),
            ),
        }
        let mut units = Vec::new();
        for u in &raw.price_units {
            if !PRICE_UNITS.contains(&u.value.as_str()) {
                err(
                    Pos::from(u),
                    format!(
                        "неизвестная единица цены «{}»; есть: {}",
                        u.value,
                        PRICE_UNITS.join(", ")
                    ),
                );
            }
            units.push(u.value.clone());
        }
        if units.is_empty() {
            err(
                Pos::from(&raw.code),
                "в price_units не указано ни одной единицы цены".to_string(),
            );
        }
        if let Some(c) = &raw.contract
            && !CONTRACT_KINDS.contains(&c.value.as_str())
        {
            err(
                Pos::from(c),
                format!(
                    "неизвестный вид договора «{}»; есть: {}",
                    c.value,
                    CONTRACT_KINDS.join(", ")
                ),
            );
        }
        if !(0.0..=500.0).contains(&raw.markup_percent) {
            err(
                Pos::from(&raw.code),
                format!(
                    "markup_percent {} — вне допустимого от 0 до 500",
                    raw.markup_percent
                ),
            );
        }
        if let Some(m) = &raw.min_margin_percent
            && !(-100.0..=500.0).contains(&m.value)
        {
            err(
                Pos::from(m),
                format!(
                    "min_margin_percent {} — вне допустимого от −100 до 500",
                    m.value
                ),
            );
        }
        let serving: Vec<String> = catalogue
            .serving(&raw.code.value)
            .iter()
            .map(|c| c.code.clone())
            .collect();
        let matching = raw.matching.unwrap_or(RawMatching {
            categories: None,
            rules: Vec::new(),
        });
        let categories = match matching.categories {
            Some(list) => {
                let mut out = Vec::new();
                for c in list {
                    if catalogue.category(&c.value).is_none() {
                        err(
                            Pos::from(&c),
                            format!("неизвестная категория техники «{}»", c.value),
                        );
                    }
                    out.push(c.value);
                }
                out
            }
            None => serving,
        };
        if categories.is_empty() {
            err(
                Pos::from(&raw.code),
                format!(
                    "ни одна категория техники не обслуживает «{}» (добавьте его в serves: категории в каталоге)",
                    raw.code.value
                ),
            );
        }
        let known_specs: BTreeMap<&str, SpecType> = catalogue
            .categories
            .iter()
            .filter(|c| categories.contains(&c.code))
            .flat_map(|c| c.specs.iter().map(|s| (s.code.as_str(), s.kind)))
            .collect();
        let mut rules = Vec::new();
        for r in matching.rules {
            let r = r.value;
            let Some(spec_kind) = known_specs.get(r.spec.value.as_str()).copied() else {
                err(
                    Pos::from(&r.spec),
                    format!(
                        "ни у одной категории этого вида заявки нет характеристики «{}»",
                        r.spec.value
                    ),
                );
                continue;
            };
            match (&r.at_least, &r.equals) {
                (Some(f), None) => match field(&f.value) {
                    Some(d)
                        if matches!(d.kind, FieldKind::Integer | FieldKind::Decimal)
                            && matches!(spec_kind, SpecType::Integer | SpecType::Decimal) => {}
                    Some(_) => err(
                        Pos::from(f),
                        format!(
                            "at_least сравнивает числа: и поле, и характеристика должны быть числовыми («{}»)",
                            f.value
                        ),
                    ),
                    None => err(Pos::from(f), format!("неизвестное поле «{}»", f.value)),
                },
                (None, Some(f)) => match field(&f.value) {
                    Some(d) if d.kind == FieldKind::Choice => {}
                    Some(_) => err(
                        Pos::from(f),
                        format!("equals работает только с полем-выбором («{}»)", f.value),
                    ),
                    None => err(Pos::from(f), format!("неизвестное поле «{}»", f.value)),
                },
                _ => err(
                    Pos::from(&r.spec),
                    "в правиле нужно ровно одно из at_least: или equals:".to_string(),
                ),
            }
            if let Some(w) = &r.when
                && field(&w.field.value).is_none()
            {
                err(
                    Pos::from(&w.field),
                    format!("неизвестное поле «{}»", w.field.value),
                );
            }
            rules.push(MatchRule {
                spec: r.spec.value,
                at_least: r.at_least.map(|f| f.value),
                equals: r.equals.map(|f| f.value),
                when: r.when.map(|w| (w.field.value, w.equals)),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RequestType {
            order_title: raw.order_title.unwrap_or_else(|| raw.title.clone()),
            code: raw.code.value,
            title: raw.title,
            description: raw.description.filter(|d| !d.trim().is_empty()),
            position: raw.position,
            workflow: raw
                .workflow
                .map(|w| w.value)
                .unwrap_or_else(|| "request".into()),
            order_workflow: raw
                .order_workflow
                .map(|w| w.value)
                .unwrap_or_else(|| "order".into()),
            contract: raw
                .contract
                .map(|c| c.value)
                .unwrap_or_else(|| "services".into()),
            site: raw.site.value,
            duration: raw.duration,
            price_units: units,
            markup_bp: (raw.markup_percent * 100.0).round() as i64,
            min_margin_bp: raw
                .min_margin_percent
                .map(|m| (m.value * 100.0).round() as i64),
            fields,
            categories,
            rules,
        })
    }

    pub fn field(&self, id: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// Checks the values a user typed (form names `f.<id>`, and for an
    /// address `f.<id>.lat`, `.lon`, `.tz`) and returns them typed. Errors
    /// are keyed `f.<id>`.
    pub fn parse_fields(
        &self,
        input: &BTreeMap<String, String>,
        catalogue: &EquipmentCatalogue,
    ) -> Result<Map<String, Value>, FieldErrors> {
        let mut out = Map::new();
        let mut e = FieldErrors::new();
        for f in &self.fields {
            let key = format!("f.{}", f.id);
            let raw = input.get(&key).map(|s| s.trim()).unwrap_or("");
            if raw.is_empty() && f.kind != FieldKind::Boolean {
                if f.required {
                    e.add(&key, "required");
                } else if let Some(d) = &f.default {
                    out.insert(f.id.clone(), d.clone());
                }
                continue;
            }
            let number = |s: &str| {
                s.replace([' ', '\u{a0}'], "")
                    .replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
            };
            let value = match f.kind {
                FieldKind::String | FieldKind::Text => {
                    if raw.chars().count()
                        > if f.kind == FieldKind::String {
                            300
                        } else {
                            5000
                        }
                    {
                        e.add(&key, "text.too_long");
                        continue;
                    }
                    Value::String(raw.to_string())
                }
                FieldKind::Integer => match raw.replace([' ', '\u{a0}'], "").parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => {
                        e.add(&key, "number.integer");
                        continue;
                    }
                },
                FieldKind::Decimal => match number(raw) {
                    Some(n) => Value::from(n),
                    None => {
                        e.add(&key, "number.invalid");
                        continue;
                    }
                },
                // An unticked checkbox sends nothing.
                FieldKind::Boolean if raw.is_empty() => Value::Bool(false),
                FieldKind::Boolean => match crate::values::parse_yes_no(raw) {
                    Some(b) => Value::Bool(b),
                    None => {
                        e.add(&key, "boolean.invalid");
                        continue;
                    }
                },
                FieldKind::Choice => match f
                    .options
                    .iter()
                    .find(|o| o.to_lowercase() == raw.to_lowercase())
                {
                    Some(o) => Value::String(o.clone()),
                    None => {
                        e.add(&key, "choice.invalid");
                        continue;
                    }
                },
                FieldKind::Date => match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .or_else(|_| chrono::NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
                {
                    Ok(d) => Value::String(d.format("%Y-%m-%d").to_string()),
                    Err(_) => {
                        e.add(&key, "date.invalid");
                        continue;
                    }
                },
                FieldKind::Category => match self.categories.iter().find(|c| **c == raw) {
                    Some(c) if catalogue.category(c).is_some() => Value::String(c.clone()),
                    _ => {
                        e.add(&key, "category.unknown");
                        continue;
                    }
                },
                FieldKind::Address => {
                    let lat = input
                        .get(&format!("{key}.lat"))
                        .map(|s| s.trim())
                        .unwrap_or("");
                    let lon = input
                        .get(&format!("{key}.lon"))
                        .map(|s| s.trim())
                        .unwrap_or("");
                    let tz = input
                        .get(&format!("{key}.tz"))
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .unwrap_or("Europe/Moscow");
                    if !TIMEZONES.contains(&tz) {
                        e.add(&key, "timezone.invalid");
                        continue;
                    }
                    let mut a = Map::new();
                    a.insert("address".into(), Value::String(raw.to_string()));
                    a.insert("timezone".into(), Value::String(tz.to_string()));
                    match (lat, lon) {
                        ("", "") => {}
                        (la, lo) => match (number(la), number(lo)) {
                            (Some(la), Some(lo))
                                if (-90.0..=90.0).contains(&la)
                                    && (-180.0..=180.0).contains(&lo) =>
                            {
                                a.insert("lat".into(), Value::from(la));
                                a.insert("lon".into(), Value::from(lo));
                            }
                            _ => {
                                e.add(&key, "coordinates.invalid");
                                continue;
                            }
                        },
                    }
                    Value::Object(a)
                }
            };
            if let Some(n) = value.as_f64() {
                if f.min.is_some_and(|m| n < m) {
                    e.add(&key, "number.too_small");
                    continue;
                }
                if f.max.is_some_and(|m| n > m) {
                    e.add(&key, "number.too_large");
                    continue;
                }
            }
            out.insert(f.id.clone(), value);
        }
        if e.is_empty() { Ok(out) } else { Err(e) }
    }
}

/// All request types, ordered for menus.
#[derive(Debug, Clone, Serialize)]
pub struct RequestTypes(pub Vec<RequestType>);

impl RequestTypes {
    /// Loads every `*.yaml` of `dir`; refuses all of them if any has errors.
    pub fn load_dir(
        dir: &Path,
        catalogue: &EquipmentCatalogue,
    ) -> Result<RequestTypes, Vec<Diagnostic>> {
        let (types, errors) = Self::load_dir_keeping_good(dir, catalogue)?;
        if !errors.is_empty() {
            return Err(errors);
        }
        if types.0.is_empty() {
            return Err(vec![Diagnostic::new(
                &dir.display().to_string(),
                Pos::default(),
                "no request types defined",
            )]);
        }
        Ok(types)
    }

    /// Loads the good files of `dir` and returns the broken ones' problems
    /// beside them: a server starts with the types that are right, so one
    /// typo takes one type away instead of the whole server. Only an
    /// unreadable folder is an error.
    pub fn load_dir_keeping_good(
        dir: &Path,
        catalogue: &EquipmentCatalogue,
    ) -> Result<(RequestTypes, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| {
                vec![Diagnostic::new(
                    &dir.display().to_string(),
                    Pos::default(),
                    format!("не удалось прочитать папку: {e}"),
                )]
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        let mut types = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            let file = p.display().to_string();
            match std::fs::read_to_string(&p) {
                Ok(text) => match RequestType::parse(&file, &text, catalogue) {
                    Ok(t) => {
                        if types.iter().any(|x: &RequestType| x.code == t.code) {
                            errors.push(Diagnostic::new(
                                &file,
                                Pos::new(1, 1),
                                format!("вид заявки «{}» уже объявлен в другом файле", t.code),
                            ));
                        } else {
                            types.push(t);
                        }
                    }
                    Err(d) => errors.extend(d),
                },
                Err(e) => errors.push(Diagnostic::new(
                    &file,
                    Pos::default(),
                    format!("не удалось прочитать файл: {e}"),
                )),
            }
        }
        types.sort_by(|a, b| a.position.cmp(&b.position).then(a.code.cmp(&b.code)));
        Ok((RequestTypes(types), errors))
    }

    pub fn get(&self, code: &str) -> Option<&RequestType> {
        self.0.iter().find(|t| t.code == code)
    }

    pub fn codes(&self) -> HashSet<String> {
        self.0.iter().map(|t| t.code.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> EquipmentCatalogue {
        EquipmentCatalogue::builtin().expect("catalogue")
    }

    #[test]
    fn the_shipped_types_load() {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workflows/request_types"
        ));
        let types = RequestTypes::load_dir(dir, &catalogue()).unwrap_or_else(|e| panic!("{e:?}"));
        let codes: Vec<_> = types.0.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(codes, ["cargo", "passengers", "materials", "machinery"]);
        let cargo = types.get("cargo").expect("cargo");
        assert!(cargo.categories.contains(&"flatbed_truck".to_string()));
        assert_eq!(cargo.markup_bp, 1500);
        // Each describes its service for the cards a client picks from, and
        // names each field once (a form with two «Материал» confuses).
        for t in &types.0 {
            assert!(t.description.is_some(), "{} has a description", t.code);
            let mut titles = std::collections::BTreeSet::new();
            for f in &t.fields {
                assert!(titles.insert(&f.title), "{}: «{}» twice", t.code, f.title);
            }
        }
    }

    #[test]
    fn mistakes_name_line_and_column() {
        let yaml = "code: x\ntitle: X\nsite: place\nprice_units: [trip, bag]\nfields:\n  - {id: place, title: P, type: address}\n  - {id: w, title: W, type: text}\nmatching:\n  categories: [tipper]\n  rules:\n    - {spec: payload_t, at_least: w}\n    - {spec: wings, at_least: w}\n";
        let errs = RequestType::parse("x.yaml", yaml, &catalogue()).expect_err("invalid");
        let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("x.yaml:4:21: неизвестная единица цены «bag»")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("x.yaml:11:35:") && t.contains("числовыми")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("x.yaml:12:14:") && t.contains("wings")),
            "{text:?}"
        );
    }

    #[test]
    fn values_are_typed_and_checked() {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workflows/request_types"
        ));
        let c = catalogue();
        let types = RequestTypes::load_dir(dir, &c).expect("types");
        let cargo = types.get("cargo").expect("cargo");
        let mut input = BTreeMap::new();
        input.insert("f.cargo".to_string(), "Плитка".to_string());
        input.insert("f.weight_t".to_string(), "12,5".to_string());
        input.insert(
            "f.loading_address".to_string(),
            "Москва, ул. Ленина, 1".to_string(),
        );
        input.insert("f.loading_address.lat".to_string(), "55.75".to_string());
        input.insert("f.loading_address.lon".to_string(), "37.61".to_string());
        input.insert("f.unloading_address".to_string(), "Тверь".to_string());
        input.insert("f.body_type".to_string(), "ТЕНТ".to_string());
        let v = cargo.parse_fields(&input, &c).expect("valid");
        assert_eq!(v["weight_t"], serde_json::json!(12.5));
        assert_eq!(v["body_type"], serde_json::json!("тент"));
        assert_eq!(v["vehicles"], serde_json::json!(1), "default");
        assert_eq!(
            v["loading_address"]["timezone"],
            serde_json::json!("Europe/Moscow")
        );
        input.insert("f.weight_t".to_string(), "500".to_string());
        input.remove("f.cargo");
        let e = cargo.parse_fields(&input, &c).expect_err("invalid");
        assert_eq!(e.get("f.weight_t"), Some("number.too_large"));
        assert_eq!(e.get("f.cargo"), Some("required"));
    }

    #[test]
    fn a_yes_or_no_field_refuses_anything_else() {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workflows/request_types"
        ));
        let c = catalogue();
        let types = RequestTypes::load_dir(dir, &c).expect("types");
        let machinery = types.get("machinery").expect("machinery");
        let mut input = BTreeMap::new();
        input.insert("f.category".to_string(), "excavator".to_string());
        input.insert("f.work".to_string(), "Котлован".to_string());
        input.insert("f.site_address".to_string(), "Москва".to_string());
        for (raw, expected) in [
            ("да", Some(true)),
            ("", Some(false)),
            ("0", Some(false)),
            ("может быть", None),
        ] {
            input.insert("f.with_operator".to_string(), raw.to_string());
            match machinery.parse_fields(&input, &c) {
                Ok(v) => assert_eq!(
                    Some(v["with_operator"] == serde_json::json!(true)),
                    expected,
                    "{raw}"
                ),
                Err(e) => {
                    assert_eq!(expected, None, "{raw}: {e:?}");
                    assert_eq!(e.get("f.with_operator"), Some("boolean.invalid"));
                }
            }
        }
    }
}
