//! Validation of a human task's form when it is completed.
//!
//! Errors are machine-readable codes keyed by field id (`required`,
//! `too_small`, `pattern`, `not_an_option`…); the web layer turns them into
//! words in the user's language.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{FieldType, FormField, TaskDef};
use crate::values::{coerce, parse_money_input};

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// `required`, `too_small`, `too_large`, `too_short`, `too_long`,
    /// `pattern`, `not_an_option`, `not_an_integer`, `not_a_number`,
    /// `not_money`, `not_a_boolean`, `not_a_date`, `not_a_datetime`,
    /// `not_a_string`.
    pub code: String,
    /// The bound that was crossed, for `too_*` codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Value>,
}

impl FieldError {
    fn new(code: &str) -> FieldError {
        FieldError {
            code: code.to_string(),
            limit: None,
        }
    }

    fn limit(code: &str, limit: f64) -> FieldError {
        FieldError {
            code: code.to_string(),
            limit: serde_json::Number::from_f64(limit).map(Value::Number),
        }
    }
}

/// Field id → error.
pub type FieldErrors = BTreeMap<String, FieldError>;

fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Checks `input` against the task's form for completing it with `outcome`
/// and returns the normalised values (money in kopecks, times in UTC).
/// Fields not on the form are dropped.
pub fn validate_form(
    task: &TaskDef,
    outcome: &str,
    input: &Map<String, Value>,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut out = Map::new();
    let mut errors = FieldErrors::new();
    for field in &task.form {
        let raw = input.get(&field.id);
        let required = task.field_required(field, outcome);
        if field.ty == FieldType::Boolean && is_blank(raw) {
            // An unticked checkbox is not sent at all: it means false.
            if required {
                errors.insert(field.id.clone(), FieldError::new("required"));
            } else {
                out.insert(field.id.clone(), Value::Bool(false));
            }
            continue;
        }
        if is_blank(raw) {
            if required {
                errors.insert(field.id.clone(), FieldError::new("required"));
            }
            continue;
        }
        let raw = raw.cloned().unwrap_or(Value::Null);
        match check_field(field, raw) {
            Ok(v) => {
                if field.ty == FieldType::Boolean && required && v == Value::Bool(false) {
                    errors.insert(field.id.clone(), FieldError::new("required"));
                } else {
                    out.insert(field.id.clone(), v);
                }
            }
            Err(e) => {
                errors.insert(field.id.clone(), e);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn check_field(field: &FormField, raw: Value) -> Result<Value, FieldError> {
    let raw = match raw {
        Value::String(s) if field.ty != FieldType::Json => Value::String(s.trim().to_string()),
        other => other,
    };
    let v = if field.ty == FieldType::Money {
        Value::from(parse_money_input(&raw).map_err(FieldError::new)?)
    } else {
        coerce(field.ty, raw).map_err(FieldError::new)?
    };
    if !field.options.is_empty() {
        let as_text = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !field.options.iter().any(|o| o.value == as_text) {
            return Err(FieldError::new("not_an_option"));
        }
    }
    match field.ty {
        FieldType::Integer | FieldType::Number | FieldType::Money => {
            let n = v.as_f64().unwrap_or_default();
            if let Some(min) = field.min
                && n < min
            {
                return Err(FieldError::limit("too_small", min));
            }
            if let Some(max) = field.max
                && n > max
            {
                return Err(FieldError::limit("too_large", max));
            }
        }
        FieldType::String | FieldType::Text => {
            let s = v.as_str().unwrap_or_default();
            let len = s.chars().count() as f64;
            if let Some(min) = field.min
                && len < min
            {
                return Err(FieldError::limit("too_short", min));
            }
            if let Some(max) = field.max
                && len > max
            {
                return Err(FieldError::limit("too_long", max));
            }
            if let Some(re) = &field.regex
                && !re.is_match(s)
            {
                return Err(FieldError::new("pattern"));
            }
        }
        _ => {}
    }
    Ok(v)
}
