//! Contact details: Russian phone numbers and e-mail addresses. Both are
//! logins, so each has exactly one stored spelling.

use super::{ValueError, is_blank, string_value};

/// A Russian phone number, stored as E.164 `+7XXXXXXXXXX`.
///
/// Accepts what people type: `+7`, `8` or `7` before the ten-digit national
/// number, or the ten digits alone, with spaces, dashes, dots and brackets
/// anywhere (`8 (916) 123-45-67`). The national number must start with 3, 4,
/// 8 or 9 — the Russian geographic, toll-free and mobile ranges; `+7 6xx` and
/// `+7 7xx` are Kazakhstan and are rejected as [`ValueError::Format`].
/// `Display` gives `+7 (916) 123-45-67` for pages and documents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<PhoneNumber, ValueError> {
        let trimmed = input.trim_matches(is_blank);
        if trimmed.is_empty() {
            return Err(ValueError::Empty);
        }
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(11);
        for c in rest.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !(is_blank(c) || matches!(c, '-' | '(' | ')' | '.' | '\u{2010}' | '\u{2013}'))
            {
                return Err(ValueError::Format);
            }
        }
        let national = match (plus, digits.len()) {
            (true, 11) if digits.starts_with('7') => &digits[1..],
            (true, 11) => return Err(ValueError::Prefix { expected: "+7" }),
            (false, 11) if digits.starts_with('7') || digits.starts_with('8') => &digits[1..],
            (false, 11) => return Err(ValueError::Prefix { expected: "+7|8|7" }),
            (false, 10) => &digits[..],
            (true, _) => return Err(ValueError::Length { expected: &[11] }),
            (false, _) => {
                return Err(ValueError::Length {
                    expected: &[10, 11],
                });
            }
        };
        if !matches!(national.as_bytes().first(), Some(b'3' | b'4' | b'8' | b'9')) {
            return Err(ValueError::Format);
        }
        Ok(PhoneNumber(format!("+7{national}")))
    }

    /// E.164: `+79161234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ten digits after `+7`.
    pub fn national(&self) -> &str {
        &self.0[2..]
    }
}
string_value!(PhoneNumber, no_display);

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.national();
        write!(f, "+7 ({}) {}-{}-{}", &n[..3], &n[3..6], &n[6..8], &n[8..])
    }
}

/// An e-mail address, trimmed and lowercased.
///
/// The check is deliberately practical rather than RFC 5322 complete: one
/// `@`, a dot-atom local part of common characters (no quoted strings or
/// comments, which no real customer uses), and a domain of at least two
/// labels of letters, digits and hyphens, where letters may be non-ASCII
/// (`почта.рф`). The whole address is lowercased because it is a login and
/// every mail system our users meet treats the local part case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, ValueError> {
        let s = input.trim_matches(is_blank).to_lowercase();
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        if s.len() > 254 {
            return Err(ValueError::Format);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ValueError::Format);
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.chars().count() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| {
                tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
            });
        if !local_ok || !domain_ok {
            return Err(ValueError::Format);
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}
string_value!(Email);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_accepts_common_spellings() {
        for input in [
            "+79161234567",
            "+7 916 123-45-67",
            "+7 (916) 123-45-67",
            "8 (916) 123-45-67",
            "89161234567",
            "79161234567",
            "9161234567",
            " 8-916-123-45-67 ",
            "8\u{a0}916\u{a0}123\u{a0}45\u{a0}67",
            "+7.916.123.45.67",
        ] {
            let p = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.as_str(), "+79161234567", "{input}");
            assert_eq!(p.to_string(), "+7 (916) 123-45-67");
            assert_eq!(p.national(), "9161234567");
        }
        // Moscow landline and toll-free numbers.
        assert_eq!(
            PhoneNumber::parse("8 (495) 500-55-50").unwrap().as_str(),
            "+74955005550"
        );
        assert_eq!(
            PhoneNumber::parse("8 800 555-35-35").unwrap().as_str(),
            "+78005553535"
        );
    }

    #[test]
    fn phone_rejects() {
        assert_eq!(PhoneNumber::parse(""), Err(ValueError::Empty));
        assert_eq!(
            PhoneNumber::parse("+8 916 123 45 67"),
            Err(ValueError::Prefix { expected: "+7" })
        );
        assert_eq!(
            PhoneNumber::parse("69161234567"),
            Err(ValueError::Prefix { expected: "+7|8|7" })
        );
        assert_eq!(
            PhoneNumber::parse("+7916123456"),
            Err(ValueError::Length { expected: &[11] })
        );
        assert_eq!(
            PhoneNumber::parse("916123456"),
            Err(ValueError::Length {
                expected: &[10, 11]
            })
        );
        assert_eq!(
            PhoneNumber::parse("+7 916 ABC 45 67"),
            Err(ValueError::Format)
        );
        assert_eq!(PhoneNumber::parse("7+9161234567"), Err(ValueError::Format));
        assert_eq!(PhoneNumber::parse("++79161234567"), Err(ValueError::Format));
        // Kazakhstan and unassigned ranges.
        assert_eq!(
            PhoneNumber::parse("+7 701 123 45 67"),
            Err(ValueError::Format)
        );
        assert_eq!(
            PhoneNumber::parse("+7 123 123 45 67"),
            Err(ValueError::Format)
        );
    }

    #[test]
    fn phone_serde_uses_e164() {
        let p = PhoneNumber::parse("8 916 123 45 67").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+79161234567\"");
        let back: PhoneNumber = serde_json::from_str("\"+7 (916) 123-45-67\"").unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn email() {
        let e = Email::parse("  Ivan.Petrov@Example.RU ").unwrap();
        assert_eq!(e.as_str(), "ivan.petrov@example.ru");
        assert_eq!(e.domain(), "example.ru");
        assert!(Email::parse("a+tag@mail.co.uk").is_ok());
        assert!(Email::parse("director@почта.рф").is_ok());
        assert_eq!(
            Email::parse("DIRECTOR@ПОЧТА.РФ").unwrap().as_str(),
            "director@почта.рф"
        );
        for bad in [
            "",
            "plain",
            "@example.ru",
            "ivan@",
            "ivan@localhost",
            "ivan@@example.ru",
            "ivan@exa mple.ru",
            "iv an@example.ru",
            ".ivan@example.ru",
            "ivan.@example.ru",
            "iv..an@example.ru",
            "ivan@-example.ru",
            "ivan@example-.ru",
            "ivan@example..ru",
            "ivan@example.r",
            "ivan@1.2.3.4",
            "\"ivan\"@example.ru",
            "ivan@example.ru\n",
        ] {
            if bad.trim().is_empty() {
                assert_eq!(Email::parse(bad), Err(ValueError::Empty));
            } else if bad == "ivan@example.ru\n" {
                // A trailing newline is only whitespace around the value.
                assert!(Email::parse(bad).is_ok());
            } else {
                assert_eq!(Email::parse(bad), Err(ValueError::Format), "{bad:?}");
            }
        }
        let long_local = format!("{}@example.ru", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(ValueError::Format));
    }

    proptest! {
        #[test]
        fn any_phone_spelling_of_a_valid_number_normalises(
            first in prop::sample::select(vec!['3', '4', '8', '9']),
            rest in "[0-9]{9}",
            prefix in prop::sample::select(vec!["+7", "8", "7", "", "+7 "]),
            bracket in any::<bool>(),
        ) {
            let national = format!("{first}{rest}");
            let typed = if bracket {
                format!("{prefix}({}) {}-{}-{}", &national[..3], &national[3..6], &national[6..8], &national[8..])
            } else {
                format!("{prefix}{national}")
            };
            let p = PhoneNumber::parse(&typed).unwrap();
            prop_assert_eq!(p.as_str(), format!("+7{national}"));
            prop_assert_eq!(PhoneNumber::parse(&format!("{p}")).unwrap(), p);
        }

        #[test]
        fn contact_parsers_never_panic(s in "\\PC{0,80}") {
            let _ = PhoneNumber::parse(&s);
            let _ = Email::parse(&s);
        }
    }
}
