//! Helpers for HTML forms: turning domain field errors into what templates
//! show next to each field, and keeping what the user typed.

use std::collections::BTreeMap;

use domain::error::FieldErrors;

/// Field id → error code, as templates expect (`errors.inn`).
pub fn error_map(errors: &FieldErrors) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for e in &errors.0 {
        map.entry(e.field.clone()).or_insert_with(|| e.code.clone());
    }
    map
}

/// A local path to go back to after signing in; anything else becomes the
/// home page. Only a same-site path passes: it starts with one `/` (not
/// `//`, which browsers read as another host), and has no backslash (read
/// as `/`), no control character or whitespace (browsers drop a tab or a
/// newline, so `/\t/evil.example` would become `//evil.example`, and a
/// newline cannot go into a header) and no non-ASCII character.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_same_site_path(n) => n.to_string(),
        _ => "/home".to_string(),
    }
}

fn is_same_site_path(n: &str) -> bool {
    n.starts_with('/')
        && !n.starts_with("//")
        && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !n
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .contains("//")
}

/// Whether text holds a control character people never type: NUL and the
/// other C0/C1 controls except tab, line feed and carriage return (which a
/// textarea sends). PostgreSQL refuses NUL in text (a 500 before this
/// check) and SQLite would store it raw; neither is wanted.
pub fn has_control_chars(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The reason of a refused text field.
pub const CONTROL_CHARS: &str = "text.control_chars";

/// Fields of an urlencoded form whose name or value has control characters.
pub fn form_control_chars(body: &[u8]) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if has_control_chars(&k) || has_control_chars(&v) {
            errors.add(&k, CONTROL_CHARS);
        }
    }
    errors
}

/// Paths in a JSON document (`a.b.0`) whose key or string has control
/// characters.
pub fn json_control_chars(value: &serde_json::Value) -> FieldErrors {
    fn walk(v: &serde_json::Value, path: &str, errors: &mut FieldErrors) {
        let join = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match v {
            serde_json::Value::String(s) if has_control_chars(s) => {
                errors.add(if path.is_empty() { "body" } else { path }, CONTROL_CHARS)
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &join(&i.to_string()), errors);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    if has_control_chars(k) {
                        errors.add(&join(k), CONTROL_CHARS);
                    } else {
                        walk(item, &join(k), errors);
                    }
                }
            }
            _ => {}
        }
    }
    let mut errors = FieldErrors::new();
    walk(value, "", &mut errors);
    errors
}

/// The largest form or JSON body read (axum's own default limit).
const MAX_TEXT_BODY: usize = 2 * 1024 * 1024;

/// Refuses, in one place for every handler, a form or JSON body with a
/// control character in any text (`422`, reason `text.control_chars`, the
/// fields named): no handler sees it, no database stores it. Multipart
/// text fields are checked where they are read ([`crate::multipart`]).
pub async fn refuse_control_chars(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let content_type = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let json = content_type.starts_with("application/json");
    if !(form || json) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TEXT_BODY).await else {
        return (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({"error": "body.too_large", "fields": []})),
        )
            .into_response();
    };
    let errors = if form {
        form_control_chars(&bytes)
    } else {
        // Invalid JSON is the handler's to report; a `\u0000` escape is
        // seen only once parsed.
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .map(|v| json_control_chars(&v))
            .unwrap_or_default()
    };
    if !errors.is_empty() {
        return crate::AppError::InvalidText(errors).into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// A `Content-Disposition` value with the file's real (UTF-8) name per
/// RFC 5987 and an ASCII name for clients that do not read it.
pub fn content_disposition(kind: &str, name: &str, ascii_fallback: &str) -> String {
    let fallback: String = ascii_fallback
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        rfc5987(name)
    )
}

/// `attr-char` of RFC 5987 stays; every other byte is percent-encoded.
fn rfc5987(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/admin/users")), "/admin/users");
        assert_eq!(safe_next(Some("//evil.example")), "/home");
        assert_eq!(safe_next(Some("https://evil.example")), "/home");
        assert_eq!(safe_next(None), "/home");
        assert_eq!(
            safe_next(Some("/requests?status=new")),
            "/requests?status=new"
        );
        for evil in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%09/evil.example/../x\r",
            "/ /evil.example",
            "/x//evil",
            "javascript:alert(1)",
            "/\u{0}x",
            "/путь",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/home", "{evil:?}");
        }
    }

    #[test]
    fn control_characters_are_found_in_forms_and_json() {
        assert!(has_control_chars("a\u{0}b"));
        assert!(has_control_chars("\u{1b}[31m"));
        assert!(!has_control_chars("Строка 1\r\nстрока 2\tи ещё"));
        let e = form_control_chars(b"name=ok&comment=a%00b&_csrf=x");
        assert_eq!(e.get("comment"), Some(CONTROL_CHARS));
        assert_eq!(e.0.len(), 1);
        let v = serde_json::json!({"a": "ok", "fields": {"work": "x\u{0}"}, "list": ["\u{7}"]});
        let e = json_control_chars(&v);
        assert_eq!(e.get("fields.work"), Some(CONTROL_CHARS));
        assert_eq!(e.get("list.0"), Some(CONTROL_CHARS));
        assert_eq!(e.0.len(), 2);
    }

    #[test]
    fn file_names_are_encoded_per_rfc_5987() {
        assert_eq!(
            content_disposition("inline", "Полис ОСАГО.pdf", "osago.pdf"),
            "inline; filename=\"osago.pdf\"; filename*=UTF-8''%D0%9F%D0%BE%D0%BB%D0%B8%D1%81%20%D0%9E%D0%A1%D0%90%D0%93%D0%9E.pdf"
        );
        assert_eq!(rfc5987("a\"b;c"), "a%22b%3Bc");
    }
}
