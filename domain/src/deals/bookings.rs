//! Bookings: a machine taken for the days of an accepted job (DESIGN §4:
//! no machine is booked twice).
//!
//! # The days of a job
//!
//! A supplier quotes a machine for a job that starts on the site-local day
//! of its arrival (`supplier_quotes.work_day`) and lasts as many days as the
//! client asked for:
//!
//! - the requested period, when the request gives an end (`wanted_to`): from
//!   the day of `wanted_from` to the day of `wanted_to` (an end at midnight
//!   closes the day before), so a three-day window is a three-day job even
//!   when the supplier arrives a day late;
//! - otherwise the duration, in the request type's unit: one day per shift
//!   (rounded up); for hours, one day per 8 hours (the normal working day,
//!   rounded up), and at least the days a continuous stretch from the arrival
//!   crosses (4 hours from 22:00 is two days);
//! - otherwise one day.
//!
//! At most [`MAX_JOB_DAYS`]. The last day is stored on the quote
//! (`supplier_quotes.last_work_day`) when it is submitted: a quote is for the
//! days it names, whatever happens to the request afterwards. Matching judges
//! a request's own period the same way, from the day of `wanted_from`.
//!
//! # How a double booking is refused
//!
//! `machine_bookings` holds one row per machine and site-local day (its
//! primary key). Accepting an offer inserts a row for every day of its
//! quote's job, in the accepting transaction ([`book`]), so the database
//! itself refuses the second of two accepts that overlap: on PostgreSQL the
//! second insert waits for the first transaction and then fails on the key;
//! on SQLite the single writer puts one after the other and the second sees
//! the rows. Either way the refused accept rolls back whole
//! (`machine.booked`), and the request's manager is given a task in a
//! transaction of its own ([`report_conflict`]).
//!
//! The rule lives here, not in the workflow: an analyst editing
//! `request.yaml` cannot switch it off.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use engine::{Sql, from_db_time, to_db_time};
use serde::Serialize;
use serde_json::json;

use crate::access::audit;
use crate::deals::matching::RequestRow;
use crate::error::{DomainError, DomainResult};
use crate::fleet::garage;
use crate::intake::request_types::DurationKind;
use crate::services::Services;

/// The most days one job books (a longer rental is booked for its first year).
pub const MAX_JOB_DAYS: i64 = 366;
/// Working hours in one day of a job priced by the hour.
const HOURS_PER_DAY: f64 = 8.0;

/// The site-local calendar days of a job, first to last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobDays {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl JobDays {
    /// Every day, first to last.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let (first, last) = (self.first, self.last);
        first.iter_days().take_while(move |d| *d <= last)
    }

    /// How many days.
    pub fn count(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// `(first, last)` as stored: `YYYY-MM-DD`.
    pub fn stored(&self) -> (String, String) {
        (garage::ymd(self.first), garage::ymd(self.last))
    }
}

/// The days of a job on `r` that starts at `start` (the quote's arrival, or
/// the wanted time for matching), by the rule in the module docs.
pub fn job_days(r: &RequestRow, kind: DurationKind, start: DateTime<Utc>) -> JobDays {
    let tz = r.tz();
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let first = local(start);
    let from = r.wanted_from.map(from_db_time).unwrap_or(start);
    let days = match r.wanted_to.map(from_db_time) {
        Some(to) if to > from => {
            // An end at 00:00 means "through the day before".
            (local(to - Duration::milliseconds(1)) - local(from)).num_days() + 1
        }
        _ => match (kind, r.duration) {
            (DurationKind::Shifts, Some(shifts)) if shifts > 0.0 => {
                shifts.ceil().min(MAX_JOB_DAYS as f64) as i64
            }
            (DurationKind::Hours, Some(hours)) if hours > 0.0 => {
                let hours = hours.min(MAX_JOB_DAYS as f64 * 24.0);
                let by_day = (hours / HOURS_PER_DAY).ceil() as i64;
                let end = start + Duration::seconds((hours * 3600.0).round() as i64)
                    - Duration::milliseconds(1);
                by_day.max((local(end) - first).num_days() + 1)
            }
            _ => 1,
        },
    };
    let days = days.clamp(1, MAX_JOB_DAYS);
    JobDays {
        first,
        last: first + Duration::days(days - 1),
    }
}

/// The duration unit of the request's type (none when the type is gone).
pub fn duration_kind(s: &Services, r: &RequestRow) -> DurationKind {
    s.request_types
        .get(&r.request_type)
        .map(|t| t.duration)
        .unwrap_or(DurationKind::None)
}

/// The days the request itself asks for: from its wanted time (now when it
/// has none).
pub fn requested_days(s: &Services, r: &RequestRow) -> JobDays {
    let start = r
        .wanted_from
        .map(from_db_time)
        .unwrap_or_else(|| s.db.now());
    job_days(r, duration_kind(s, r), start)
}

/// Adds `AND <day column> BETWEEN first AND last` for `days`.
pub(crate) fn push_within(sql: &mut Sql, column: &str, days: &JobDays) {
    let (first, last) = days.stored();
    sql.push(" AND ")
        .push(column)
        .push(" BETWEEN ")
        .bind(first)
        .push(" AND ")
        .bind(last);
}

/// The days of `days` on which `machine_id` is already booked.
pub(crate) async fn booked_days(
    conn: &mut sqlx::AnyConnection,
    machine_id: i64,
    days: &JobDays,
) -> DomainResult<Vec<String>> {
    let mut sql = Sql::new("SELECT day FROM machine_bookings WHERE machine_id = ");
    sql.bind(machine_id);
    push_within(&mut sql, "day", days);
    sql.push(" ORDER BY day");
    Ok(sql.query_scalar().fetch_all(conn).await?)
}

/// The job of a quote as stored: its machines and days.
#[derive(Debug, Clone, sqlx::FromRow)]
struct QuoteJob {
    id: i64,
    machine_id: i64,
    work_day: String,
    last_work_day: String,
    /// Every machine of the quote (`machine_id` is the first), ascending.
    #[sqlx(skip)]
    machines: Vec<i64>,
}

impl QuoteJob {
    fn days(&self) -> Option<JobDays> {
        let first = garage::parse_date(&self.work_day)?;
        let last = garage::parse_date(&self.last_work_day)
            .filter(|l| *l >= first)
            .unwrap_or(first);
        Some(JobDays { first, last })
    }
}

async fn quote_job(conn: &mut sqlx::AnyConnection, quote_id: i64) -> DomainResult<QuoteJob> {
    let mut q: QuoteJob = sqlx::query_as(
        "SELECT id, machine_id, work_day, last_work_day FROM supplier_quotes WHERE id = $1",
    )
    .bind(quote_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let mut machines: Vec<i64> = crate::deals::quotes::machines_of(conn, quote_id)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    if machines.is_empty() {
        machines.push(q.machine_id);
    }
    // Ascending, so that two accepts sharing machines lock them in one order.
    machines.sort_unstable();
    q.machines = machines;
    Ok(q)
}

/// The days of `days` on which any of `machines` is already booked.
async fn any_booked(
    conn: &mut sqlx::AnyConnection,
    machines: &[i64],
    days: &JobDays,
) -> DomainResult<Vec<String>> {
    let mut taken = Vec::new();
    for m in machines {
        for d in booked_days(conn, *m, days).await? {
            if !taken.contains(&d) {
                taken.push(d);
            }
        }
    }
    taken.sort();
    Ok(taken)
}

/// Whether a machine of a quote is booked (by anyone) on a day of its job.
pub(crate) async fn quote_taken(
    conn: &mut sqlx::AnyConnection,
    quote_id: i64,
) -> DomainResult<bool> {
    let q = quote_job(conn, quote_id).await?;
    let Some(days) = q.days() else {
        return Ok(false);
    };
    Ok(!any_booked(conn, &q.machines, &days).await?.is_empty())
}

/// Books every machine of the quote for every day of its job, for an offer
/// being accepted in `tx`. A day already booked refuses the whole accept with
/// `machine.booked` (the caller rolls `tx` back). On PostgreSQL the failed
/// insert has aborted `tx`: nothing more may run in it.
pub(crate) async fn book(
    tx: &mut engine::Tx,
    now: DateTime<Utc>,
    offer_id: i64,
    request_id: i64,
    quote_id: i64,
) -> DomainResult<()> {
    let q = quote_job(tx, quote_id).await?;
    let days = q.days().ok_or_else(|| {
        DomainError::Other(anyhow::anyhow!(
            "quote {} has no readable work day: {:?}",
            q.id,
            q.work_day
        ))
    })?;
    // One statement, machines and days in ascending order: two overlapping
    // accepts wait on the same first common row instead of deadlocking.
    let mut sql = Sql::new(
        "INSERT INTO machine_bookings (machine_id, day, offer_id, supplier_quote_id, request_id, created_at) VALUES ",
    );
    let rows = q
        .machines
        .iter()
        .flat_map(|m| days.days().map(move |d| (*m, d)));
    for (i, (machine, day)) in rows.enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(machine)
            .push(", ")
            .bind(garage::ymd(day))
            .push(", ")
            .bind(offer_id)
            .push(", ")
            .bind(q.id)
            .push(", ")
            .bind(request_id)
            .push(", ")
            .bind(to_db_time(now))
            .push(")");
    }
    match sql.query().execute(&mut **tx).await {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(DomainError::Conflict(MACHINE_BOOKED))
        }
        Err(e) => Err(e.into()),
    }
}

/// The refusal code of an accept whose machine is taken.
pub const MACHINE_BOOKED: &str = "machine.booked";

/// After an accept was refused because its machine is taken (and rolled
/// back), tells the request's workflow (`offer.machine_booked`), which gives
/// the request's manager a task to find another machine, and records it in
/// the audit log — in a transaction of its own, so that it survives the
/// refused accept. A failure here is logged, not returned: the client's
/// answer is the refusal either way.
pub(crate) async fn report_conflict(
    s: &Services,
    offer_id: i64,
    request_id: i64,
    user: Option<i64>,
) {
    if let Err(e) = try_report_conflict(s, offer_id, request_id, user).await {
        tracing::error!(offer_id, request_id, error = %e, "cannot give the manager the task for a machine booked meanwhile");
    }
}

async fn try_report_conflict(
    s: &Services,
    offer_id: i64,
    request_id: i64,
    user: Option<i64>,
) -> DomainResult<()> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let mut taken: Vec<String> = Vec::new();
    let mut machines: Vec<i64> = Vec::new();
    for quote_id in crate::deals::offers::quotes_of(&mut tx, offer_id).await? {
        let q = quote_job(&mut tx, quote_id).await?;
        if let Some(days) = q.days() {
            for d in any_booked(&mut tx, &q.machines, &days).await? {
                if !taken.contains(&d) {
                    taken.push(d);
                }
            }
        }
        machines.extend(q.machines);
    }
    taken.sort();
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            request_id,
            "offer.machine_booked",
            json!({"offer_id": offer_id, "days": taken}),
            user,
        )
        .await?;
    if reports.iter().all(|r| r.ignored) {
        // The request has moved on (cancelled, or the task is open already).
        tracing::warn!(
            offer_id,
            request_id,
            "the request's workflow did not take offer.machine_booked"
        );
    }
    audit::record(
        &mut tx,
        now,
        None,
        "offer.machine_booked",
        "offer",
        Some(offer_id),
        json!({"by": user, "machines": machines, "days": taken}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(wanted_from: &str, wanted_to: Option<&str>, duration: Option<f64>) -> RequestRow {
        let at = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| to_db_time(t.with_timezone(&Utc)))
                .expect("time")
        };
        RequestRow {
            id: 1,
            number: "З-1".into(),
            request_type: "machinery".into(),
            client_org_id: 1,
            owner_user_id: None,
            status: "offer_sent".into(),
            site_address: None,
            site_lat: None,
            site_lon: None,
            site_timezone: Some("Europe/Moscow".into()),
            wanted_from: Some(at(wanted_from)),
            wanted_to: wanted_to.map(at),
            duration,
            fields: "{}".into(),
        }
    }

    fn start(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        garage::parse_date(s).expect("date")
    }

    #[test]
    fn a_window_is_the_job_from_the_arrival_day() {
        let r = request(
            "2026-03-10T08:00:00+03:00",
            Some("2026-03-12T18:00:00+03:00"),
            Some(1.0),
        );
        let j = job_days(&r, DurationKind::Shifts, start("2026-03-11T08:00:00+03:00"));
        assert_eq!((j.first, j.last), (d("2026-03-11"), d("2026-03-13")));
        assert_eq!(j.days().count(), 3);
        // An end at midnight closes the day before.
        let r = request(
            "2026-03-10T08:00:00+03:00",
            Some("2026-03-12T00:00:00+03:00"),
            None,
        );
        let j = job_days(&r, DurationKind::None, start("2026-03-10T08:00:00+03:00"));
        assert_eq!(j.last, d("2026-03-11"));
    }

    #[test]
    fn shifts_are_days_and_hours_are_working_days() {
        let r = request("2026-03-10T08:00:00+03:00", None, Some(2.5));
        let j = job_days(&r, DurationKind::Shifts, start("2026-03-10T08:00:00+03:00"));
        assert_eq!(j.count(), 3);
        let r = request("2026-03-10T08:00:00+03:00", None, Some(4.0));
        let j = job_days(&r, DurationKind::Hours, start("2026-03-10T09:00:00+03:00"));
        assert_eq!(j.count(), 1);
        let j = job_days(&r, DurationKind::Hours, start("2026-03-10T22:00:00+03:00"));
        assert_eq!(j.count(), 2, "four hours from 22:00 cross midnight");
        let r = request("2026-03-10T08:00:00+03:00", None, Some(20.0));
        let j = job_days(&r, DurationKind::Hours, start("2026-03-10T08:00:00+03:00"));
        assert_eq!(j.count(), 3, "20 hours are three working days");
        let r = request("2026-03-10T08:00:00+03:00", None, None);
        let j = job_days(&r, DurationKind::Hours, start("2026-03-10T08:00:00+03:00"));
        assert_eq!(j.count(), 1);
    }

    #[test]
    fn the_site_calendar_decides_the_day_and_length_is_capped() {
        // 02:00 in Vladivostok is the 10th there, though still the 9th in UTC.
        let mut r = request("2026-03-10T02:00:00+10:00", None, None);
        r.site_timezone = Some("Asia/Vladivostok".into());
        let j = job_days(&r, DurationKind::None, start("2026-03-10T02:00:00+10:00"));
        assert_eq!(j.first, d("2026-03-10"));
        let r = request(
            "2026-03-10T08:00:00+03:00",
            Some("2028-03-10T08:00:00+03:00"),
            None,
        );
        let j = job_days(&r, DurationKind::None, start("2026-03-10T08:00:00+03:00"));
        assert_eq!(j.count(), MAX_JOB_DAYS);
    }
}
