//! Typed values: the checks and normal forms for data fields and form input.
//!
//! Data are JSON; a declared type decides what a value must look like. Times
//! are normalised to UTC with milliseconds so that they compare as strings.

use chrono::NaiveDate;
use serde_json::Value;

use crate::expr::{format_time, parse_time};
use crate::model::FieldType;

/// Checks `v` against `ty` and returns its normal form. `Err` carries a
/// machine-readable code (`not_an_integer`, `not_a_datetime`…).
pub fn coerce(ty: FieldType, v: Value) -> Result<Value, &'static str> {
    if v.is_null() {
        return Ok(v);
    }
    match ty {
        FieldType::Json => Ok(v),
        FieldType::String | FieldType::Text => match v {
            Value::String(_) => Ok(v),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err("not_a_string"),
        },
        FieldType::Integer | FieldType::Money => {
            let code = if ty == FieldType::Money {
                "not_money"
            } else {
                "not_an_integer"
            };
            match &v {
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        Ok(Value::from(i))
                    } else {
                        match n.as_f64() {
                            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                                Ok(Value::from(f as i64))
                            }
                            _ => Err(code),
                        }
                    }
                }
                Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| code),
                _ => Err(code),
            }
        }
        FieldType::Number => match &v {
            Value::Number(_) => Ok(v),
            Value::String(s) => s
                .trim()
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or("not_a_number"),
            _ => Err("not_a_number"),
        },
        FieldType::Boolean => match &v {
            Value::Bool(_) => Ok(v),
            Value::String(s) => match s.trim().to_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "off" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err("not_a_boolean"),
            },
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(Value::Bool(n.as_i64() == Some(1)))
            }
            _ => Err("not_a_boolean"),
        },
        FieldType::Datetime => match &v {
            Value::String(s) => parse_time(s)
                .map(|t| Value::String(format_time(t)))
                .ok_or("not_a_datetime"),
            _ => Err("not_a_datetime"),
        },
        FieldType::Date => match &v {
            Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .map_err(|_| "not_a_date"),
            _ => Err("not_a_date"),
        },
    }
}

/// Parses an amount of roubles as typed by a person (`1 234,50`, `1234.5`,
/// `1234`) into kopecks. Integers in JSON are already kopecks.
pub fn parse_money_input(v: &Value) -> Result<i64, &'static str> {
    match v {
        Value::Number(n) => n.as_i64().ok_or("not_money"),
        Value::String(s) => {
            let cleaned: String = s
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '₽')
                .map(|c| if c == ',' { '.' } else { c })
                .collect();
            let (neg, body) = match cleaned.strip_prefix('-') {
                Some(rest) => (true, rest.to_string()),
                None => (false, cleaned),
            };
            let (rub, kop) = match body.split_once('.') {
                Some((r, k)) => (r.to_string(), k.to_string()),
                None => (body.clone(), String::new()),
            };
            if rub.is_empty()
                || !rub.chars().all(|c| c.is_ascii_digit())
                || kop.len() > 2
                || !kop.chars().all(|c| c.is_ascii_digit())
            {
                return Err("not_money");
            }
            let rub: i64 = rub.parse().map_err(|_| "not_money")?;
            let kop: i64 = if kop.is_empty() {
                0
            } else {
                format!("{kop:0<2}").parse().map_err(|_| "not_money")?
            };
            let total = rub
                .checked_mul(100)
                .and_then(|r| r.checked_add(kop))
                .ok_or("not_money")?;
            Ok(if neg { -total } else { total })
        }
        _ => Err("not_money"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerces_to_normal_forms() {
        assert_eq!(coerce(FieldType::Integer, json!("12")), Ok(json!(12)));
        assert_eq!(coerce(FieldType::Integer, json!(12.0)), Ok(json!(12)));
        assert_eq!(
            coerce(FieldType::Integer, json!(12.5)),
            Err("not_an_integer")
        );
        assert_eq!(
            coerce(FieldType::Datetime, json!("2026-05-01T10:00:00+03:00")),
            Ok(json!("2026-05-01T07:00:00.000Z"))
        );
        assert_eq!(
            coerce(FieldType::Date, json!("2026-13-01")),
            Err("not_a_date")
        );
        assert_eq!(coerce(FieldType::Boolean, json!("on")), Ok(json!(true)));
        assert_eq!(coerce(FieldType::Text, json!(null)), Ok(json!(null)));
    }

    #[test]
    fn parses_roubles_to_kopecks() {
        assert_eq!(parse_money_input(&json!("1 234,50")), Ok(123_450));
        assert_eq!(parse_money_input(&json!("1234.5")), Ok(123_450));
        assert_eq!(parse_money_input(&json!("10")), Ok(1000));
        assert_eq!(parse_money_input(&json!(5)), Ok(5));
        assert_eq!(parse_money_input(&json!("1.234")), Err("not_money"));
        assert_eq!(parse_money_input(&json!("abc")), Err("not_money"));
    }
}
