//! The equipment catalogue analysts keep in `workflows/catalogue/equipment.yaml`:
//! machine categories, their typed specifications, the request types they
//! serve, and the documents each must keep valid.
//!
//! Loading checks everything and reports `file:line:column: what is wrong`
//! for semantic mistakes too (an unknown document code), using the positions
//! serde-saphyr keeps for each node.

use std::collections::{BTreeMap, HashSet};

use engine::{Diagnostic, Pos};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::error::FieldErrors;

/// The file name used in diagnostics when the catalogue is embedded.
pub const EQUIPMENT_FILE: &str = "workflows/catalogue/equipment.yaml";

#[derive(Debug, Clone, Serialize)]
pub struct DocumentKind {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecType {
    Integer,
    Decimal,
    Boolean,
    Choice,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpecDef {
    pub code: String,
    pub title: String,
    pub unit: Option<String>,
    #[serde(rename = "type")]
    pub kind: SpecType,
    pub required: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub code: String,
    pub title: String,
    pub serves: Vec<String>,
    pub road_vehicle: bool,
    pub documents: Vec<String>,
    pub specs: Vec<SpecDef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EquipmentCatalogue {
    pub documents: Vec<DocumentKind>,
    pub categories: Vec<Category>,
}

// The file as written, with positions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    #[serde(default)]
    documents: Vec<Spanned<RawDocument>>,
    #[serde(default)]
    categories: Vec<Spanned<RawCategory>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    code: Spanned<String>,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    code: Spanned<String>,
    title: String,
    #[serde(default)]
    serves: Vec<Spanned<String>>,
    #[serde(default)]
    road_vehicle: bool,
    #[serde(default)]
    documents: Vec<Spanned<String>>,
    #[serde(default)]
    specs: Vec<Spanned<RawSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    code: Spanned<String>,
    title: String,
    #[serde(default)]
    unit: Option<String>,
    #[serde(rename = "type")]
    kind: SpecType,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    options: Vec<String>,
}

/// A code analysts may give a category, spec, document, type or field:
/// lowercase Latin letters, digits and `_`, starting with a letter.
pub(crate) fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl EquipmentCatalogue {
    /// Parses and checks the catalogue. `request_types` are the codes a
    /// category may serve (`None` skips that check).
    pub fn parse(
        file: &str,
        text: &str,
        request_types: Option<&HashSet<String>>,
    ) -> Result<EquipmentCatalogue, Vec<Diagnostic>> {
        let raw: RawCatalogue = serde_saphyr::from_str(text)
            .map_err(|e| vec![engine::diag::from_yaml_error(file, &e)])?;
        let mut errors = Vec::new();
        let mut err = |p: Pos, msg: String| errors.push(Diagnostic::new(file, p, msg));

        let mut doc_codes = HashSet::new();
        let mut documents = Vec::new();
        for d in raw.documents {
            let d = d.value;
            if !valid_code(&d.code.value) {
                err(
                    Pos::from(&d.code),
                    format!(
                        "код документа «{}»: только строчные латинские буквы, цифры и _",
                        d.code.value
                    ),
                );
            }
            if !doc_codes.insert(d.code.value.clone()) {
                err(
                    Pos::from(&d.code),
                    format!("документ «{}» объявлен дважды", d.code.value),
                );
            }
            documents.push(DocumentKind {
                code: d.code.value,
                title: d.title,
            });
        }

        let mut category_codes = HashSet::new();
        let mut categories = Vec::new();
        for c in raw.categories {
            let c = c.value;
            if !valid_code(&c.code.value) {
                err(
                    Pos::from(&c.code),
                    format!(
                        "код категории «{}»: только строчные латинские буквы, цифры и _",
                        c.code.value
                    ),
                );
            }
            if !category_codes.insert(c.code.value.clone()) {
                err(
                    Pos::from(&c.code),
                    format!("категория «{}» объявлена дважды", c.code.value),
                );
            }
            if c.serves.is_empty() {
                err(
                    Pos::from(&c.code),
                    format!(
                        "категория «{}» не обслуживает ни одного вида заявок (добавьте serves: [...])",
                        c.code.value
                    ),
                );
            }
            if let Some(known) = request_types {
                for s in &c.serves {
                    if !known.contains(&s.value) {
                        let mut list: Vec<_> = known.iter().cloned().collect();
                        list.sort();
                        err(
                            Pos::from(s),
                            format!(
                                "неизвестный вид заявки «{}»; есть: {}",
                                s.value,
                                list.join(", ")
                            ),
                        );
                    }
                }
            }
            for d in &c.documents {
                if !doc_codes.contains(&d.value) {
                    err(
                        Pos::from(d),
                        format!(
                            "неизвестный документ «{}»: объявите его в documents:",
                            d.value
                        ),
                    );
                }
            }
            let mut spec_codes = HashSet::new();
            let mut specs = Vec::new();
            for s in c.specs {
                let p = Pos::from(&s);
                let s = s.value;
                if !valid_code(&s.code.value) {
                    err(
                        Pos::from(&s.code),
                        format!(
                            "код характеристики «{}»: только строчные латинские буквы, цифры и _",
                            s.code.value
                        ),
                    );
                }
                if !spec_codes.insert(s.code.value.clone()) {
                    err(
                        Pos::from(&s.code),
                        format!(
                            "характеристика «{}» объявлена в «{}» дважды",
                            s.code.value, c.code.value
                        ),
                    );
                }
                if s.kind == SpecType::Choice && s.options.is_empty() {
                    err(
                        p,
                        format!(
                            "характеристика «{}» — выбор из списка, но вариантов (options) нет",
                            s.code.value
                        ),
                    );
                }
                if s.kind != SpecType::Choice && !s.options.is_empty() {
                    err(
                        p,
                        format!(
                            "у характеристики «{}» есть варианты (options), но её тип не choice",
                            s.code.value
                        ),
                    );
                }
                if let (Some(min), Some(max)) = (s.min, s.max)
                    && min > max
                {
                    err(
                        p,
                        format!(
                            "характеристика «{}»: min {min} больше max {max}",
                            s.code.value
                        ),
                    );
                }
                specs.push(SpecDef {
                    code: s.code.value,
                    title: s.title,
                    unit: s.unit,
                    kind: s.kind,
                    required: s.required,
                    min: s.min,
                    max: s.max,
                    options: s.options,
                });
            }
            categories.push(Category {
                code: c.code.value,
                title: c.title,
                serves: c.serves.into_iter().map(|s| s.value).collect(),
                road_vehicle: c.road_vehicle,
                documents: c.documents.into_iter().map(|d| d.value).collect(),
                specs,
            });
        }
        if categories.is_empty() {
            errors.push(Diagnostic::new(
                file,
                Pos::new(1, 1),
                "в каталоге нет ни одной категории",
            ));
        }
        if errors.is_empty() {
            Ok(EquipmentCatalogue {
                documents,
                categories,
            })
        } else {
            Err(errors)
        }
    }

    /// The catalogue shipped in the binary.
    pub fn builtin() -> Result<EquipmentCatalogue, Vec<Diagnostic>> {
        Self::parse(
            EQUIPMENT_FILE,
            include_str!("../../../workflows/catalogue/equipment.yaml"),
            None,
        )
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    pub fn document(&self, code: &str) -> Option<&DocumentKind> {
        self.documents.iter().find(|d| d.code == code)
    }

    /// Categories that can serve a request type.
    pub fn serving(&self, request_type: &str) -> Vec<&Category> {
        self.categories
            .iter()
            .filter(|c| c.serves.iter().any(|s| s == request_type))
            .collect()
    }
}

impl Category {
    /// Checks the specifications a user typed (strings from a form or a
    /// spreadsheet) and returns them typed. Errors are keyed `spec_<code>`.
    pub fn parse_specs(
        &self,
        input: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, FieldErrors> {
        let mut out = Map::new();
        let mut errors = FieldErrors::new();
        for spec in &self.specs {
            let field = format!("spec_{}", spec.code);
            let raw = input.get(&spec.code).map(|s| s.trim()).unwrap_or("");
            if raw.is_empty() {
                if spec.required && spec.kind != SpecType::Boolean {
                    errors.add(&field, "required");
                } else if spec.kind == SpecType::Boolean {
                    out.insert(spec.code.clone(), Value::Bool(false));
                }
                continue;
            }
            let value = match spec.kind {
                SpecType::Integer => raw
                    .replace([' ', '\u{a0}'], "")
                    .parse::<i64>()
                    .ok()
                    .map(Value::from),
                SpecType::Decimal => raw
                    .replace([' ', '\u{a0}'], "")
                    .replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(Value::from),
                SpecType::Boolean => crate::values::parse_yes_no(raw).map(Value::Bool),
                SpecType::Choice => spec
                    .options
                    .iter()
                    .find(|o| o.to_lowercase() == raw.to_lowercase())
                    .map(|o| Value::String(o.clone())),
            };
            let Some(value) = value else {
                errors.add(
                    &field,
                    match spec.kind {
                        SpecType::Integer => "number.integer",
                        SpecType::Decimal => "number.invalid",
                        SpecType::Boolean => "boolean.invalid",
                        SpecType::Choice => "choice.invalid",
                    },
                );
                continue;
            };
            if let Some(n) = value.as_f64() {
                if spec.min.is_some_and(|min| n < min) {
                    errors.add(&field, "number.too_small");
                    continue;
                }
                if spec.max.is_some_and(|max| n > max) {
                    errors.add(&field, "number.too_large");
                    continue;
                }
            }
            out.insert(spec.code.clone(), value);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_is_valid() {
        let c = EquipmentCatalogue::builtin().unwrap_or_else(|e| panic!("{e:?}"));
        assert!(c.category("truck_crane").is_some());
        assert!(c.serving("passengers").iter().any(|c| c.code == "bus"));
    }

    #[test]
    fn semantic_errors_name_line_and_column() {
        let yaml = "documents:\n  - code: osago\n    title: ОСАГО\ncategories:\n  - code: tipper\n    title: Самосвал\n    serves: [cargo]\n    documents: [osago, kasko]\n    specs:\n      - { code: payload_t, title: Г, type: choice }\n";
        let errs = EquipmentCatalogue::parse("eq.yaml", yaml, None).expect_err("invalid");
        let text: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("eq.yaml:8:24: неизвестный документ «kasko»")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("eq.yaml:10:9:") && t.contains("вариантов (options) нет")),
            "{text:?}"
        );
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let errs = EquipmentCatalogue::parse("eq.yaml", "categories:\n  - code: [\n", None)
            .expect_err("invalid");
        assert_eq!(errs[0].file, "eq.yaml");
        assert!(errs[0].line >= 2, "{:?}", errs[0]);
    }

    #[test]
    fn specs_are_typed_and_checked() {
        let c = EquipmentCatalogue::builtin().expect("catalogue");
        let tipper = c.category("tipper").expect("tipper");
        let mut input = BTreeMap::new();
        input.insert("payload_t".to_string(), "25,5".to_string());
        input.insert("body_volume_m3".to_string(), "200".to_string());
        input.insert("axles".to_string(), "6X4".to_string());
        let errs = tipper.parse_specs(&input).expect_err("volume too large");
        assert_eq!(errs.get("spec_body_volume_m3"), Some("number.too_large"));
        input.insert("body_volume_m3".to_string(), "20".to_string());
        let specs = tipper.parse_specs(&input).expect("valid");
        assert_eq!(specs["payload_t"], serde_json::json!(25.5));
        assert_eq!(specs["axles"], serde_json::json!("6x4"));
    }
}
