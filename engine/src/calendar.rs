//! Working-time calendars (`workflows/calendar.yaml`).
//!
//! A timer or SLA written as `after: 1d` with `calendar: working` counts only
//! working time: whole days are working days (the same clock time on the next
//! working day), hours and minutes are consumed inside working hours only.
//! Anything starting outside working hours starts at the next opening.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diag::{Diagnostic, Pos, from_yaml_error};
use crate::dsl::raw::SMap;
use crate::duration::Dur;

/// One working-time calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub name: String,
    pub title: String,
    pub timezone: Tz,
    /// Working weekdays, Monday first.
    pub week: [bool; 7],
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days declared working (Russia moves days off by decree).
    pub working_weekends: BTreeSet<NaiveDate>,
}

/// How far to search for a working day before giving up (a calendar whose
/// every day is a holiday would otherwise loop forever).
const SEARCH_DAYS: i64 = 3 * 366;

impl Calendar {
    /// Monday to Friday, 09:00–18:00 in `timezone`, no holidays.
    pub fn office_hours(name: &str, timezone: Tz) -> Calendar {
        Calendar {
            name: name.to_string(),
            title: name.to_string(),
            timezone,
            week: [true, true, true, true, true, false, false],
            opens: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            closes: NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default(),
            holidays: BTreeSet::new(),
            working_weekends: BTreeSet::new(),
        }
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.holidays.contains(&d) {
            return false;
        }
        if self.working_weekends.contains(&d) {
            return true;
        }
        self.week[d.weekday().num_days_from_monday() as usize]
    }

    fn next_working_day(&self, d: NaiveDate) -> Option<NaiveDate> {
        let mut day = d;
        for _ in 0..SEARCH_DAYS {
            day = day.succ_opt()?;
            if self.is_working_day(day) {
                return Some(day);
            }
        }
        None
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.timezone).naive_local()
    }

    fn utc(&self, t: NaiveDateTime) -> DateTime<Utc> {
        // A local time skipped by a DST change does not exist: move past the gap.
        let mut t = t;
        for _ in 0..4 {
            if let Some(x) = self.timezone.from_local_datetime(&t).earliest() {
                return x.with_timezone(&Utc);
            }
            t += Duration::minutes(30);
        }
        Utc.from_utc_datetime(&t)
    }

    /// The first working moment at or after `t` (local time).
    fn normalize(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let day = t.date();
        if self.is_working_day(day) {
            if t.time() < self.opens {
                return Some(day.and_time(self.opens));
            }
            if t.time() < self.closes {
                return Some(t);
            }
        }
        Some(self.next_working_day(day)?.and_time(self.opens))
    }

    /// `from` plus `dur` counted in working time. Falls back to plain time if
    /// the calendar has no working day within three years.
    pub fn add(&self, from: DateTime<Utc>, dur: Dur) -> DateTime<Utc> {
        self.add_working(from, dur)
            .unwrap_or_else(|| from + dur.to_chrono())
    }

    fn add_working(&self, from: DateTime<Utc>, dur: Dur) -> Option<DateTime<Utc>> {
        let mut t = self.normalize(self.local(from))?;
        let week_len = self.week.iter().filter(|w| **w).count().max(1) as i64;
        let days = dur.weeks * week_len + dur.days;
        for _ in 0..days {
            let day = self.next_working_day(t.date())?;
            t = day.and_time(t.time());
        }
        let mut rest = Duration::seconds(dur.seconds);
        for _ in 0..SEARCH_DAYS {
            let close = t.date().and_time(self.closes);
            let available = close - t;
            if rest <= available {
                return Some(self.utc(t + rest));
            }
            rest -= available;
            t = self.next_working_day(t.date())?.and_time(self.opens);
        }
        None
    }
}

/// The calendars a definition may name, by name.
#[derive(Debug, Clone, Default)]
pub struct Calendars(BTreeMap<String, Arc<Calendar>>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    calendars: SMap<RawCalendar>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    title: Option<String>,
    timezone: Spanned<String>,
    days: Spanned<Vec<String>>,
    hours: Spanned<String>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    working_weekends: Vec<Spanned<String>>,
}

impl Calendars {
    pub fn new() -> Calendars {
        Calendars::default()
    }

    pub fn insert(&mut self, calendar: Calendar) {
        self.0.insert(calendar.name.clone(), Arc::new(calendar));
    }

    pub fn get(&self, name: &str) -> Option<Arc<Calendar>> {
        self.0.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a calendar file; `file` names it in diagnostics.
    pub fn parse(text: &str, file: &str) -> Result<Calendars, Vec<Diagnostic>> {
        let raw: RawFile =
            serde_saphyr::from_str(text).map_err(|e| vec![from_yaml_error(file, &e)])?;
        let mut out = Calendars::new();
        let mut errors = Vec::new();
        let mut err = |pos: Pos, msg: String| errors.push(Diagnostic::new(file, pos, msg));
        for (name, rc) in raw.calendars.0 {
            let timezone = match rc.timezone.value.parse::<Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    err(
                        rc.timezone.referenced.into(),
                        format!(
                            "неизвестный часовой пояс «{}» (пишите, например, Europe/Moscow)",
                            rc.timezone.value
                        ),
                    );
                    continue;
                }
            };
            let mut week = [false; 7];
            for d in &rc.days.value {
                match d.parse::<Weekday>() {
                    Ok(w) => week[w.num_days_from_monday() as usize] = true,
                    Err(_) => err(
                        rc.days.referenced.into(),
                        format!(
                            "неизвестный день недели «{d}»; пишите mon, tue, wed, thu, fri, sat, sun"
                        ),
                    ),
                }
            }
            if !week.iter().any(|w| *w) {
                err(
                    rc.days.referenced.into(),
                    "в календаре нужен хотя бы один рабочий день недели".into(),
                );
            }
            let hours = rc.hours.value.split_once('-').and_then(|(a, b)| {
                let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
                let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
                (a < b).then_some((a, b))
            });
            let Some((opens, closes)) = hours else {
                err(
                    rc.hours.referenced.into(),
                    format!("рабочие часы «{}» пишите так: 09:00-18:00", rc.hours.value),
                );
                continue;
            };
            let dates = |list: &[Spanned<String>], err: &mut dyn FnMut(Pos, String)| {
                let mut set = BTreeSet::new();
                for d in list {
                    match NaiveDate::parse_from_str(d.value.trim(), "%Y-%m-%d") {
                        Ok(x) => {
                            set.insert(x);
                        }
                        Err(_) => err(
                            d.referenced.into(),
                            format!("«{}» — не дата (пишите ГГГГ-ММ-ДД)", d.value),
                        ),
                    }
                }
                set
            };
            let holidays = dates(&rc.holidays, &mut err);
            let working_weekends = dates(&rc.working_weekends, &mut err);
            out.insert(Calendar {
                name: name.value.clone(),
                title: rc.title.unwrap_or_else(|| name.value.clone()),
                timezone,
                week,
                opens,
                closes,
                holidays,
                working_weekends,
            });
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Reads a calendar file from disk.
    pub fn load_file(path: &std::path::Path) -> Result<Calendars, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::new(
                &file,
                Pos::default(),
                format!("не удалось прочитать файл: {e}"),
            )]
        })?;
        Calendars::parse(&text, &file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        let mut c = Calendar::office_hours("working", chrono_tz::Europe::Moscow);
        c.holidays
            .insert(NaiveDate::from_ymd_opt(2026, 6, 12).unwrap());
        c
    }

    fn msk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Moscow
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn one_working_day_skips_weekends_and_holidays() {
        let c = cal();
        // Thursday 11 June 2026 15:00 → Friday 12 June is a holiday → Monday 15 June 15:00.
        let due = c.add(msk(2026, 6, 11, 15, 0), Dur::parse("1d").unwrap());
        assert_eq!(due, msk(2026, 6, 15, 15, 0));
        // Saturday night starts at Monday's opening.
        let due = c.add(msk(2026, 6, 13, 23, 0), Dur::parse("1d").unwrap());
        assert_eq!(due, msk(2026, 6, 16, 9, 0));
    }

    #[test]
    fn hours_are_consumed_inside_working_hours() {
        let c = cal();
        // Monday 17:00 + 2h = Tuesday 10:00.
        let due = c.add(msk(2026, 6, 15, 17, 0), Dur::parse("2h").unwrap());
        assert_eq!(due, msk(2026, 6, 16, 10, 0));
        // Exactly to closing time stays on the same day.
        let due = c.add(msk(2026, 6, 15, 17, 0), Dur::parse("1h").unwrap());
        assert_eq!(due, msk(2026, 6, 15, 18, 0));
    }

    #[test]
    fn parses_calendar_file_and_reports_positions() {
        let ok = "calendars:\n  working:\n    timezone: Europe/Moscow\n    days: [mon, tue, wed, thu, fri]\n    hours: \"09:00-18:00\"\n    holidays: [2026-01-01]\n";
        let cals = Calendars::parse(ok, "calendar.yaml").unwrap();
        assert!(cals.get("working").unwrap().holidays.len() == 1);
        let bad = "calendars:\n  working:\n    timezone: Mars/Olympus\n    days: [mon]\n    hours: \"9-18\"\n";
        let errs = Calendars::parse(bad, "calendar.yaml").unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "calendar.yaml:3:15: неизвестный часовой пояс «Mars/Olympus» (пишите, например, Europe/Moscow)"
        );
    }
}
