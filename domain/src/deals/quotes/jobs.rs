//! The driver's upcoming jobs: the won quotes that name the driver (one of
//! the quote's machine rows), so a driver knows where and when to go as soon
//! as the client accepted. Only the job's area, day and machine — never the
//! client, its contacts or the prices (DESIGN §4: the site address reaches
//! the driver with the signed order).

use super::*;
use crate::intake::requests::{local_text, site_tz};

/// One upcoming job of a driver.
#[derive(Debug, Clone, Serialize)]
pub struct DriverJob {
    pub quote_id: i64,
    pub type_title: String,
    pub area: String,
    /// Arrival in the site's local time (`dd.mm.yyyy HH:MM`).
    pub arrival_local: String,
    pub work_day: String,
    pub last_work_day: String,
    pub machine: String,
    pub plate: Option<String>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    arrival_at: i64,
    work_day: String,
    last_work_day: String,
    request_type: String,
    site_address: Option<String>,
    site_timezone: Option<String>,
    make: String,
    model: String,
    plate: Option<String>,
}

/// The signed-in driver's jobs from won quotes whose last day has not
/// passed, soonest first. Anyone else has none.
pub async fn driver_jobs(s: &Services, actor: &Actor) -> DomainResult<Vec<DriverJob>> {
    let Some(user) = actor.user() else {
        return Ok(Vec::new());
    };
    // A day of slack: the site may be east of UTC.
    let since = (s.db.now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let rows: Vec<JobRow> = sqlx::query_as(
        "SELECT sq.id, sq.arrival_at, sq.work_day, sq.last_work_day, r.request_type, r.site_address, r.site_timezone,
                m.make, m.model, m.plate
         FROM supplier_quotes sq
         JOIN supplier_quote_machines qm ON qm.quote_id = sq.id
         JOIN employees e ON e.id = qm.employee_id
         JOIN machines m ON m.id = qm.machine_id
         JOIN requests r ON r.id = sq.request_id
         WHERE sq.status = 'won' AND e.user_id = $1 AND e.org_id = $2 AND e.status = 'active'
           AND sq.supplier_org_id = $2 AND sq.last_work_day >= $3
         ORDER BY sq.arrival_at, sq.id LIMIT 50",
    )
    .bind(user)
    .bind(actor.org_id())
    .bind(since)
    .fetch_all(s.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|x| DriverJob {
            quote_id: x.id,
            type_title: s
                .request_types
                .get(&x.request_type)
                .map(|t| t.title.clone())
                .unwrap_or(x.request_type),
            area: x
                .site_address
                .as_deref()
                .map(rfq::area_of)
                .unwrap_or_default(),
            arrival_local: local_text(Some(x.arrival_at), site_tz(x.site_timezone.as_deref())),
            work_day: x.work_day,
            last_work_day: x.last_work_day,
            machine: format!("{} {}", x.make, x.model),
            plate: x.plate,
        })
        .collect())
}
