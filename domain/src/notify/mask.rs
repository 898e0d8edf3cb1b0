//! Masking one-time secrets in message texts for those who must not use them.
//!
//! The messages we queue carry live one-time links: password resets and
//! invitations (`/password/set/<token>`), employee invitations
//! (`/join/<token>`), offers a client accepts without logging in
//! (`/offers/t/<token>`), a Telegram start link (`?start=<token>`). The
//! person the message is for must get them; nobody else may read them — not
//! an admin looking through the outbox, not whoever reads the logs. So every
//! way of *reading* the outbox ([`super::outbox`]) and every log line about
//! a message show texts through [`mask_secrets`]; only the transport gets
//! the real text.
//!
//! What counts as a token is decided by its look, not by a list of routes,
//! so a new kind of link is masked without anyone remembering to add it:
//! inside an `http(s)://` link, after the host, any run of URL-safe
//! characters (`A-Z a-z 0-9 - _`) of [`MIN_IN_LINK`] or more that mixes at
//! least two of lower case, upper case and digits. Our tokens are 43
//! characters of URL-safe base64 (`crypto::random_token`), so they always
//! qualify; paths such as `/supplier/rfqs/42` or `/password/set/` never do.
//! Outside links, a run of [`MIN_ELSEWHERE`] or more such characters is
//! masked too (a token pasted as text); ordinary words and numbers (an INN,
//! an account number: digits only) are far from it.

use std::sync::LazyLock;

use regex::Regex;

/// What a masked token is shown as.
pub const MASK: &str = "••••";

/// The shortest token-looking run masked inside a link.
pub const MIN_IN_LINK: usize = 16;

/// The shortest token-looking run masked in plain text.
pub const MIN_ELSEWHERE: usize = 32;

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bhttps?://[^\s<>"'«»]+"#).expect("the link pattern is valid")
});

/// `text` with every one-time token replaced by [`MASK`] (see the module
/// docs). Texts without one come back unchanged.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for link in LINK.find_iter(text) {
        out.push_str(&mask_runs(&text[last..link.start()], MIN_ELSEWHERE));
        let url = link.as_str();
        // The scheme and host stay; the path, query and fragment are masked.
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let path_start = url[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| after_scheme + i);
        out.push_str(&url[..path_start]);
        out.push_str(&mask_runs(&url[path_start..], MIN_IN_LINK));
        last = link.end();
    }
    out.push_str(&mask_runs(&text[last..], MIN_ELSEWHERE));
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether a run of token characters looks random: long enough and mixing
/// at least two kinds of characters.
fn looks_random(run: &str, min_len: usize) -> bool {
    if run.len() < min_len {
        return false;
    }
    let lower = run.bytes().any(|b| b.is_ascii_lowercase());
    let upper = run.bytes().any(|b| b.is_ascii_uppercase());
    let digit = run.bytes().any(|b| b.is_ascii_digit());
    usize::from(lower) + usize::from(upper) + usize::from(digit) >= 2
}

/// `s` with every random-looking run of token characters masked.
fn mask_runs(s: &str, min_len: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        if looks_random(run, min_len) {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
    };
    for (i, c) in s.char_indices() {
        if is_token_char(c) {
            run_start.get_or_insert(i);
        } else {
            if let Some(start) = run_start.take() {
                flush(&mut out, &s[start..i]);
            }
            out.push(c);
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &s[start..]);
    }
    out
}

// ---------------------------------------------------------------------------
// Contacts in free text

/// Patterns of contacts in free text (constant patterns: they compile), in
/// the order they are applied.
fn contact_patterns() -> &'static [Regex; 4] {
    static R: std::sync::OnceLock<[Regex; 4]> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        [
            // E-mails, also written to dodge filters: name@mail.ru,
            // name(at)mail.ru, name [at] mail [dot] ru, name at mail.ru,
            // name собака mail.ru. The domain ends with a letter TLD.
            Regex::new(
                r"(?i)[\w.+\-]+\s*(?:@|\(\s*at\s*\)|\[\s*at\s*\]|\{\s*at\s*\}|\s+at\s+|\(?\s*собака\s*\)?)\s*[\w\-]+(?:\s*(?:\.|\(\s*dot\s*\)|\[\s*dot\s*\]|\s+dot\s+|\s+точка\s+)\s*[\w\-]+)*\s*(?:\.|\(\s*dot\s*\)|\[\s*dot\s*\]|\s+dot\s+|\s+точка\s+)\s*[a-zа-я]{2,}\b",
            )
            .expect("a constant pattern"),
            // Messenger and social links: t.me/…, telegram.me/…, vk.com/…,
            // wa.me/…, whatsapp, instagram, ok.ru, max.ru.
            Regex::new(
                r"(?i)(?:https?://)?(?:www\.)?(?:t\.me|telegram\.(?:me|dog)|vk\.(?:com|me|ru)|wa\.me|api\.whatsapp\.com|chat\.whatsapp\.com|instagram\.com|ok\.ru|max\.ru)\s*/\s*\S*",
            )
            .expect("a constant pattern"),
            // Phones in any grouping: 10 or 11 digits with spaces, dashes,
            // dots or brackets between them, with or without +7/8.
            Regex::new(r"\+?\d(?:[\s\-().]{0,3}\d){9,10}").expect("a constant pattern"),
            // @handles (Telegram, Instagram…).
            Regex::new(r"@[A-Za-z0-9_]{3,}").expect("a constant pattern"),
        ]
    })
}

/// What a supplier may see of a client's free text: every contact masked —
/// phone numbers in any grouping of 10–11 digits, e-mails (also `(at)`,
/// `[at]`, ` at ` forms), @handles and messenger or social links. This is
/// the one masking function; free text reaches suppliers only through it.
pub fn mask_contacts(text: &str) -> String {
    let mut t = text.to_string();
    for pattern in contact_patterns() {
        t = pattern.replace_all(&t, "***").into_owned();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random_token;

    const TOKEN: &str = "q7Xv0Zk3N1pR8sLm2Wc5Yb9Hd4Jt6Fg0Ae_Ku-Ri3Qo";

    #[test]
    fn one_time_links_lose_their_token() {
        for (text, masked) in [
            (
                format!("Ссылка: https://podryad.example/password/set/{TOKEN}"),
                "Ссылка: https://podryad.example/password/set/••••",
            ),
            (
                format!("https://podryad.example/join/{TOKEN}\nДо встречи."),
                "https://podryad.example/join/••••\nДо встречи.",
            ),
            (
                format!("Предложение: http://127.0.0.1:8080/offers/t/{TOKEN}."),
                "Предложение: http://127.0.0.1:8080/offers/t/••••.",
            ),
            (
                format!("https://t.me/podryad_bot?start={TOKEN}&x=1#{TOKEN}"),
                "https://t.me/podryad_bot?start=••••&x=1#••••",
            ),
            (
                format!("(HTTPS://Podryad.Example/password/set/{TOKEN})"),
                "(HTTPS://Podryad.Example/password/set/••••)",
            ),
        ] {
            assert_eq!(mask_secrets(&text), masked);
        }
    }

    #[test]
    fn every_token_we_issue_is_masked() {
        for _ in 0..2000 {
            let token = random_token();
            let text = format!("https://podryad.example/password/set/{token}");
            let masked = mask_secrets(&text);
            assert_eq!(
                masked, "https://podryad.example/password/set/••••",
                "{token}"
            );
            let api = format!("Ключ: pdr_{token}");
            assert_eq!(mask_secrets(&api), "Ключ: ••••", "{token}");
        }
    }

    #[test]
    fn ordinary_links_and_texts_stay() {
        for text in [
            "https://podryad.example/supplier/rfqs/42",
            "https://podryad.example/tasks/17 и https://podryad.example/garage/5",
            "https://podryad.example/password/set/",
            "https://very-long-subdomain-name-here.podryad.example/supplier/profile",
            "ИНН 7707083893, р/с 40702810938000012345, БИК 044525225",
            "Заявка З-2026-000123 принята. Тема: Сброс пароля",
            "Текст: Сброс пароля",
            "",
        ] {
            assert_eq!(mask_secrets(text), text);
        }
    }

    #[test]
    fn a_long_token_in_plain_text_is_masked() {
        assert_eq!(
            mask_secrets(&format!("код {TOKEN} и всё")),
            "код •••• и всё"
        );
        // A short one outside a link is just a word.
        assert_eq!(mask_secrets("код Ab12Cd34Ef56Gh78"), "код Ab12Cd34Ef56Gh78");
    }

    #[test]
    fn masking_twice_changes_nothing_more() {
        let text = format!("https://podryad.example/join/{TOKEN} {TOKEN}");
        let once = mask_secrets(&text);
        assert_eq!(mask_secrets(&once), once);
        assert!(!once.contains(TOKEN));
    }
}
