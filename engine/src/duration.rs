//! Durations as analysts write them: `90s`, `15m`, `2h`, `1d`, `1w`, or
//! several parts together (`1d 4h`, `1h30m`).
//!
//! Days and weeks are kept apart from seconds because a working-time calendar
//! counts them differently: `1d` there means "the same time on the next
//! working day", not 24 hours.

use std::fmt;

/// A parsed duration. `weeks` and `days` stay separate from `seconds` so that
/// a calendar can count whole working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dur {
    pub weeks: i64,
    pub days: i64,
    pub seconds: i64,
}

/// The longest duration accepted: ten years, far beyond any SLA, and small
/// enough that adding it to a time never overflows.
const MAX_SECONDS: i64 = 10 * 366 * 24 * 3600;

impl Dur {
    /// Parses `15m`, `2h`, `1d 4h`, `1w`… Units: s, m, h, d, w. The value must
    /// be positive.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err("срок не указан; пишите, например, 15m, 2h, 1d или 1d 4h".into());
        }
        let mut dur = Dur::default();
        let mut number = String::new();
        let mut parts = 0;
        for c in s.chars() {
            if c.is_ascii_digit() {
                number.push(c);
            } else if c.is_whitespace() {
                if !number.is_empty() {
                    return Err(format!(
                        "{text:?}: после {number} нужна единица — s, m, h, d или w"
                    ));
                }
            } else {
                if number.is_empty() {
                    return Err(format!(
                        "{text:?} — не срок; пишите, например, 15m, 2h, 1d или 1d 4h"
                    ));
                }
                let n: i64 = number
                    .parse()
                    .map_err(|_| format!("{text:?}: слишком большое число"))?;
                if n > MAX_SECONDS {
                    return Err(format!("{text:?}: слишком большое число"));
                }
                number.clear();
                parts += 1;
                match c {
                    's' => dur.seconds += n,
                    'm' => dur.seconds += n * 60,
                    'h' => dur.seconds += n * 3600,
                    'd' => dur.days += n,
                    'w' => dur.weeks += n,
                    other => {
                        return Err(format!(
                            "{text:?}: неизвестная единица {other:?}; допустимы s, m, h, d, w"
                        ));
                    }
                }
            }
        }
        if !number.is_empty() {
            return Err(format!(
                "{text:?}: после {number} нужна единица — s, m, h, d или w"
            ));
        }
        if parts == 0 {
            return Err(format!("{text:?} — не срок"));
        }
        if dur.total_seconds() > MAX_SECONDS {
            return Err(format!("{text:?} — больше десяти лет"));
        }
        if dur.total_seconds() == 0 {
            return Err(format!("{text:?}: срок должен быть больше нуля"));
        }
        Ok(dur)
    }

    /// The duration in plain (calendar) seconds: a day is 24 hours.
    pub fn total_seconds(&self) -> i64 {
        self.weeks * 7 * 86_400 + self.days * 86_400 + self.seconds
    }

    pub fn to_chrono(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.total_seconds())
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.weeks > 0 {
            parts.push(format!("{}w", self.weeks));
        }
        if self.days > 0 {
            parts.push(format!("{}d", self.days));
        }
        let (h, rest) = (self.seconds / 3600, self.seconds % 3600);
        let (m, s) = (rest / 60, rest % 60);
        if h > 0 {
            parts.push(format!("{h}h"));
        }
        if m > 0 {
            parts.push(format!("{m}m"));
        }
        if s > 0 || parts.is_empty() {
            parts.push(format!("{s}s"));
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(Dur::parse("15m").unwrap().total_seconds(), 900);
        assert_eq!(Dur::parse("2h").unwrap().total_seconds(), 7200);
        assert_eq!(Dur::parse("1d").unwrap().days, 1);
        assert_eq!(Dur::parse("1w").unwrap().weeks, 1);
        assert_eq!(Dur::parse("1d 4h").unwrap().seconds, 4 * 3600);
        assert_eq!(Dur::parse("1h30m").unwrap().total_seconds(), 5400);
        assert_eq!(Dur::parse("1h30m").unwrap().to_string(), "1h 30m");
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "15",
            "m",
            "2x",
            "0m",
            "1 h",
            "-1h",
            "99999999999999999999h",
            "5000w",
        ] {
            assert!(Dur::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
