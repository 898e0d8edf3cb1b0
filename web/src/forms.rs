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
    fn file_names_are_encoded_per_rfc_5987() {
        assert_eq!(
            content_disposition("inline", "Полис ОСАГО.pdf", "osago.pdf"),
            "inline; filename=\"osago.pdf\"; filename*=UTF-8''%D0%9F%D0%BE%D0%BB%D0%B8%D1%81%20%D0%9E%D0%A1%D0%90%D0%93%D0%9E.pdf"
        );
        assert_eq!(rfc5987("a\"b;c"), "a%22b%3Bc");
    }
}
