//! Workplace: what each member of the broker's staff sees first — their home
//! page as the place their work starts (issue 11 point 2). A read model
//! over the other contexts: it owns no table; the board's moves change a
//! request only through intake and the request's workflow.
//!
//! - the manager's desk: their tasks due today and overdue, their offers
//!   about to expire, their RFQ rounds waiting for quotes, today's jobs;
//! - the operator's: today's intake by channel;
//! - the hunter's: their clients and each one's requests per stage;
//! - the administrator's: notification failures, SLA breaches (overdue
//!   tasks), workflow actions the workers could not do;
//! - the analyst's: the request funnel by type and by channel, the median
//!   time spent in each state, SLA breaches by task;
//! - everyone's: the pipeline board of requests by stage ([`board`]) and
//!   the header search across clients, requests and orders ([`find`]).
//!
//! Every figure is one bounded query on an index (a day, the next 48 hours,
//! the last 90 days, a few thousand transitions), never the whole history:
//! home pages stay fast at a company's volume (issue 11 point 11;
//! `migrations/*/0031_workplace_indexes.sql`). What a person may see goes
//! through [`crate::access::scope`] like every other list: a hunter's home
//! shows their book only, a manager's desk their own work.
//!
//! Uses `access` (scope, roles) and `notify` (the outbox's counts); reads
//! the workflow engine's task and history tables for the task sections,
//! as the engine's own inbox would, because the engine offers no query by
//! due time across a person's tasks.

pub mod board;
pub mod find;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use engine::{Sql, to_db_time};
use serde::Serialize;

use crate::access::roles::Role;
use crate::access::{Actor, Resource, Rule, require, scope};
use crate::error::{DomainError, DomainResult};
use crate::services::Services;

/// Rows a home list shows at most.
const LIST: i64 = 20;
/// The analyst's window.
pub const ANALYTICS_DAYS: i64 = 90;
/// Transitions the analyst's time-in-state figures are computed from, at
/// most (the newest of the window): a median needs a sample, not a year.
const TRANSITIONS_SAMPLE: i64 = 5000;
/// Offers expiring within this many hours are "about to expire".
const EXPIRY_HOURS: i64 = 48;

/// The request statuses in funnel order: the stage a request has reached is
/// the rank of its status. A cancelled request counts as received only (its
/// status no longer says how far it got).
pub const FUNNEL: &[(&str, &[&str])] = &[
    ("received", &[]),
    (
        "matching",
        &[
            "ready_for_matching",
            "rfq",
            "no_quotes",
            "quote_review",
            "offer_approval",
            "offer_sent",
            "machine_booked",
            "offer_declined",
            "offer_expired",
            "accepted",
            "ordered",
        ],
    ),
    (
        "quotes",
        &[
            "quote_review",
            "offer_approval",
            "offer_sent",
            "machine_booked",
            "offer_declined",
            "offer_expired",
            "accepted",
            "ordered",
        ],
    ),
    (
        "offer",
        &[
            "offer_sent",
            "machine_booked",
            "offer_declined",
            "offer_expired",
            "accepted",
            "ordered",
        ],
    ),
    ("accepted", &["accepted", "ordered"]),
    ("ordered", &["ordered"]),
];

/// The order statuses in which a job may be on today.
const LIVE_ORDER: &[&str] = &[
    "new",
    "contract_check",
    "awaiting_contracts",
    "documents",
    "documents_failed",
    "ready_for_signing",
    "in_work",
];

/// A calendar day in the broker's time zone: its date and its bounds in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Day {
    /// The day `now` falls on in `tz`.
    pub fn of(now: DateTime<Utc>, tz: Tz) -> Day {
        let date = now.with_timezone(&tz).date_naive();
        let bound = |d: NaiveDate| {
            let midnight = d.and_time(NaiveTime::MIN);
            tz.from_local_datetime(&midnight)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                // A zone without that midnight (none in Russia): UTC's.
                .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
        };
        Day {
            date,
            start: bound(date),
            end: bound(date + Duration::days(1)),
        }
    }
}

// ---- The manager ----

/// A task on the desk (times: UTC milliseconds).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeskTask {
    pub id: i64,
    pub title: String,
    pub due_at: i64,
    pub priority: String,
    #[sqlx(skip)]
    pub overdue: bool,
}

/// An offer waiting for the client's answer that expires soon.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ExpiringOffer {
    pub id: i64,
    pub request_id: i64,
    pub number: String,
    pub client_name: String,
    pub total_gross: i64,
    pub valid_until: i64,
}

/// An open RFQ round and how many suppliers have answered.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WaitingRound {
    pub round_id: i64,
    pub request_id: i64,
    pub number: String,
    pub deadline_at: Option<i64>,
    pub invited: i64,
    pub answered: i64,
}

/// An order with a work day today.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TodayJob {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub client_name: String,
    pub site_address: Option<String>,
    pub starts_at: i64,
    pub first_day: String,
    pub last_day: String,
}

/// The manager's home.
#[derive(Debug, Clone, Serialize)]
pub struct ManagerDesk {
    /// Their tasks due today or overdue, earliest due first.
    pub tasks: Vec<DeskTask>,
    pub expiring_offers: Vec<ExpiringOffer>,
    pub rounds: Vec<WaitingRound>,
    pub jobs: Vec<TodayJob>,
}

/// The signed-in manager's desk for `day`: their own work only (the tasks
/// claimed by or assigned to them; the requests and orders they are
/// responsible for).
pub async fn manager_desk(s: &Services, actor: &Actor, day: Day) -> DomainResult<ManagerDesk> {
    require_role(actor, Role::Manager)?;
    let me = actor.user_id();
    let now = to_db_time(s.db.now());
    let pool = s.db.pool();

    let mut tasks: Vec<DeskTask> = Sql::new(
        "SELECT t.id, t.title, t.due_at, t.priority FROM wf_tasks t WHERE t.status = 'open' AND (t.claimed_by = ",
    )
    .bind(me)
    .push(" OR (t.claimed_by IS NULL AND t.assignee_user_id = ")
    .bind(me)
    .push(")) AND t.due_at IS NOT NULL AND t.due_at < ")
    .bind(to_db_time(day.end))
    .push(" ORDER BY t.due_at, t.id LIMIT ")
    .bind(LIST)
    .query_as()
    .fetch_all(pool)
    .await?;
    for t in &mut tasks {
        t.overdue = t.due_at < now;
    }

    let mut sql = Sql::new(
        "SELECT f.id, f.request_id, r.number, c.name AS client_name, f.total_gross, f.valid_until \
         FROM offers f JOIN requests r ON r.id = f.request_id JOIN organisations c ON c.id = f.client_org_id \
         WHERE f.status = 'sent' AND f.valid_until >= ",
    );
    sql.bind(now)
        .push(" AND f.valid_until < ")
        .bind(now + EXPIRY_HOURS * 3_600_000)
        .push(" AND r.owner_user_id = ")
        .bind(me);
    scope(&mut sql, actor, Resource::Offer, "f");
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY f.valid_until, f.id LIMIT ").bind(LIST);
    let expiring_offers = sql.query_as().fetch_all(pool).await?;

    let mut sql = Sql::new(
        "SELECT w.id AS round_id, w.request_id, r.number, w.deadline_at, \
         (SELECT COUNT(*) FROM rfqs q WHERE q.round_id = w.id) AS invited, \
         (SELECT COUNT(*) FROM rfqs q WHERE q.round_id = w.id AND q.status <> 'sent') AS answered \
         FROM rfq_rounds w JOIN requests r ON r.id = w.request_id WHERE w.status = 'open' AND r.owner_user_id = ",
    );
    sql.bind(me);
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY w.deadline_at, w.id LIMIT ").bind(LIST);
    let rounds = sql.query_as().fetch_all(pool).await?;

    let today = day.date.format("%Y-%m-%d").to_string();
    let mut sql = Sql::new(
        "SELECT o.id, o.number, o.status, c.name AS client_name, o.site_address, o.starts_at, o.first_day, o.last_day \
         FROM orders o JOIN organisations c ON c.id = o.client_org_id WHERE o.first_day <= ",
    );
    sql.bind(today.as_str())
        .push(" AND o.last_day >= ")
        .bind(today.as_str())
        .push(" AND o.status IN (")
        .bind_list(LIVE_ORDER.iter().copied())
        .push(") AND (o.manager_user_id = ")
        .bind(me)
        .push(" OR o.request_id IN (SELECT mr.id FROM requests mr WHERE mr.owner_user_id = ")
        .bind(me)
        .push("))");
    scope(&mut sql, actor, Resource::Order, "o");
    sql.push(" ORDER BY o.starts_at, o.id LIMIT ").bind(LIST);
    let jobs = sql.query_as().fetch_all(pool).await?;

    Ok(ManagerDesk {
        tasks,
        expiring_offers,
        rounds,
        jobs,
    })
}

// ---- The operator ----

/// A request taken today.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IntakeRow {
    pub id: i64,
    pub number: String,
    pub request_type: String,
    pub channel: String,
    pub status: String,
    pub created_at: i64,
}

/// The operator's home: today's intake.
#[derive(Debug, Clone, Serialize)]
pub struct TodayIntake {
    /// Requests created today per channel code.
    pub by_channel: BTreeMap<String, i64>,
    pub total: i64,
    /// The latest of them.
    pub latest: Vec<IntakeRow>,
}

/// Requests created on `day`, by channel, and the latest of them.
pub async fn today_intake(s: &Services, actor: &Actor, day: Day) -> DomainResult<TodayIntake> {
    require_role(actor, Role::Operator)?;
    let pool = s.db.pool();
    let (start, end) = (to_db_time(day.start), to_db_time(day.end));
    let mut sql = Sql::new("SELECT r.channel, COUNT(*) FROM requests r WHERE r.created_at >= ");
    sql.bind(start).push(" AND r.created_at < ").bind(end);
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" GROUP BY r.channel");
    let rows: Vec<(String, i64)> = sql.query_as().fetch_all(pool).await?;
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    let mut sql = Sql::new(
        "SELECT r.id, r.number, r.request_type, r.channel, r.status, r.created_at FROM requests r WHERE r.created_at >= ",
    );
    sql.bind(start).push(" AND r.created_at < ").bind(end);
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
        .bind(LIST);
    let latest = sql.query_as().fetch_all(pool).await?;
    Ok(TodayIntake {
        by_channel: rows.into_iter().collect(),
        total,
        latest,
    })
}

// ---- The hunter ----

/// One of the hunter's clients and its requests per status.
#[derive(Debug, Clone, Serialize)]
pub struct HunterClient {
    pub id: i64,
    pub name: String,
    /// Requests per status code, in funnel order of [`request_statuses`].
    pub stages: Vec<(String, i64)>,
    pub total: i64,
}

/// Clients shown on a hunter's home, at most.
const HUNTER_CLIENTS: i64 = 100;

/// The hunter's clients (those they brought, and those whose requests they
/// brought or own) with their requests per stage — their book only: the
/// requests are counted through the same scope as the request lists.
pub async fn hunter_book(s: &Services, actor: &Actor) -> DomainResult<Vec<HunterClient>> {
    require_role(actor, Role::Hunter)?;
    let me = actor.user_id();
    let mut sql = Sql::new(
        "SELECT o.id, o.name, br.status, COUNT(br.id) FROM organisations o LEFT JOIN \
         (SELECT r.id, r.client_org_id, r.status FROM requests r WHERE 1 = 1",
    );
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(") br ON br.client_org_id = o.id WHERE o.kind = 'client' AND o.id IN (")
        .push("SELECT h.id FROM organisations h WHERE h.hunter_user_id = ")
        .bind(me)
        .push(" UNION SELECT hr.client_org_id FROM requests hr WHERE hr.hunter_user_id = ")
        .bind(me)
        .push(" OR hr.owner_user_id = ")
        .bind(me)
        .push(") GROUP BY o.id, o.name, br.status ORDER BY o.name, o.id LIMIT ")
        .bind(HUNTER_CLIENTS * 16);
    let rows: Vec<(i64, String, Option<String>, i64)> =
        sql.query_as().fetch_all(s.db.pool()).await?;
    let order = request_statuses();
    let mut clients: Vec<HunterClient> = Vec::new();
    for (id, name, status, n) in rows {
        if clients.last().is_none_or(|c| c.id != id) {
            if clients.len() as i64 == HUNTER_CLIENTS {
                break;
            }
            clients.push(HunterClient {
                id,
                name,
                stages: Vec::new(),
                total: 0,
            });
        }
        if let (Some(c), Some(status)) = (clients.last_mut(), status)
            && n > 0
        {
            c.total += n;
            c.stages.push((status, n));
        }
    }
    for c in &mut clients {
        c.stages.sort_by_key(|(st, _)| {
            order
                .iter()
                .position(|o| *o == st.as_str())
                .unwrap_or(order.len())
        });
    }
    Ok(clients)
}

/// Every request status in the order of the request funnel.
pub fn request_statuses() -> Vec<&'static str> {
    vec![
        "new",
        "qualification",
        "ready_for_matching",
        "rfq",
        "no_quotes",
        "quote_review",
        "offer_approval",
        "offer_sent",
        "machine_booked",
        "offer_declined",
        "offer_expired",
        "accepted",
        "ordered",
        "cancelled",
    ]
}

// ---- The administrator ----

/// An open task past its due time.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Breach {
    pub id: i64,
    pub title: String,
    pub definition_key: String,
    pub due_at: i64,
}

/// The administrator's home.
#[derive(Debug, Clone, Serialize)]
pub struct AdminDesk {
    /// Messages given up on (`failed`) and with no transport (`undeliverable`).
    pub outbox_failed: i64,
    pub outbox_undeliverable: i64,
    /// Open tasks past their due time, and the longest overdue of them.
    pub overdue_tasks: i64,
    pub breaches: Vec<Breach>,
    /// What the workflow workers could not do (the problems page's counts).
    pub failed_actions: i64,
    pub retrying_actions: i64,
    pub failed_timers: i64,
    pub broken_instances: i64,
}

/// Counts of what needs an administrator, and the worst SLA breaches.
pub async fn admin_desk(s: &Services, actor: &Actor) -> DomainResult<AdminDesk> {
    require(actor, Rule::Admin)?;
    let mut outbox = [0i64; 2];
    for (n, status) in outbox.iter_mut().zip(["failed", "undeliverable"]) {
        let filter = crate::notify::OutboxFilter {
            status: Some(status.to_string()),
            ..Default::default()
        };
        *n = crate::notify::count(&s.db, &filter)
            .await
            .map_err(DomainError::Other)?;
    }
    let [outbox_failed, outbox_undeliverable] = outbox;
    let (overdue_tasks, breaches) = overdue(s).await?;
    let problems = s.engine.problems().await?;
    Ok(AdminDesk {
        outbox_failed,
        outbox_undeliverable,
        overdue_tasks,
        breaches,
        failed_actions: problems.failed_actions.count,
        retrying_actions: problems.retrying_actions.count,
        failed_timers: problems.failed_timers.count,
        broken_instances: problems.broken_instances.count,
    })
}

/// How many open tasks are overdue, and the longest overdue of them.
async fn overdue(s: &Services) -> DomainResult<(i64, Vec<Breach>)> {
    let now = to_db_time(s.db.now());
    let pool = s.db.pool();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_tasks WHERE status = 'open' AND due_at IS NOT NULL AND due_at < $1",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    let breaches = sqlx::query_as(
        "SELECT id, title, definition_key, due_at FROM wf_tasks \
         WHERE status = 'open' AND due_at IS NOT NULL AND due_at < $1 ORDER BY due_at, id LIMIT $2",
    )
    .bind(now)
    .bind(LIST / 2)
    .fetch_all(pool)
    .await?;
    Ok((n, breaches))
}

// ---- The analyst ----

/// One bar: a code the page translates, and its figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub key: String,
    pub value: i64,
}

/// The request funnel of one slice (a request type, a channel, or all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    pub key: String,
    /// Requests that reached each stage of [`FUNNEL`], in order.
    pub stages: Vec<Figure>,
    /// Requests received.
    pub received: i64,
    /// Those that became orders, in basis points of those received.
    pub conversion_bp: i64,
}

/// The analyst's home.
#[derive(Debug, Clone, Serialize)]
pub struct Analytics {
    pub days: i64,
    pub overall: Funnel,
    pub by_type: Vec<Funnel>,
    pub by_channel: Vec<Funnel>,
    /// Median hours spent in each state of the request workflow (state
    /// title, tenths of an hour), over the newest transitions of the window.
    pub time_in_state: Vec<Figure>,
    pub transitions_sampled: i64,
    /// Open tasks past due, by task title.
    pub breaches_by_task: Vec<Figure>,
    pub overdue_tasks: i64,
}

/// The funnel figures, time in state and SLA breaches of the last
/// [`ANALYTICS_DAYS`] days.
pub async fn analytics(s: &Services, actor: &Actor) -> DomainResult<Analytics> {
    if !(actor.is_staff() && actor.has_any(&[Role::Analyst, Role::Admin])) {
        return Err(DomainError::Forbidden);
    }
    let pool = s.db.pool();
    let now = s.db.now();
    let since = to_db_time(now - Duration::days(ANALYTICS_DAYS));

    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT request_type, channel, status, COUNT(*) FROM requests WHERE created_at >= $1 \
         GROUP BY request_type, channel, status",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut all = BTreeMap::new();
    let mut types: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut channels: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (t, c, st, n) in rows {
        *all.entry(st.clone()).or_default() += n;
        *types.entry(t).or_default().entry(st.clone()).or_default() += n;
        *channels.entry(c).or_default().entry(st).or_default() += n;
    }

    // Read from the newest transition back until the sample is full: a
    // join would start from every request instance and sort a year of
    // history (issue 11 point 11).
    let transitions: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT h.instance_id, h.from_state, h.to_state, h.at FROM wf_history h \
         WHERE h.at >= $1 AND h.from_state <> h.to_state \
         AND EXISTS (SELECT 1 FROM wf_instances i WHERE i.id = h.instance_id AND i.definition_key = 'request') \
         ORDER BY h.at DESC LIMIT $2",
    )
    .bind(since)
    .bind(TRANSITIONS_SAMPLE)
    .fetch_all(pool)
    .await?;
    let transitions_sampled = transitions.len() as i64;
    let titles = request_state_titles(s).await?;
    let time_in_state = median_time_in_state(transitions)
        .into_iter()
        .map(|(state, tenths)| Figure {
            key: titles.get(&state).cloned().unwrap_or(state),
            value: tenths,
        })
        .collect();

    let now_ms = to_db_time(now);
    // By the kind of task (its workflow's state), not by its title, which
    // names the request: one bar per kind, named as the YAML names the state.
    let breaches: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT definition_key, state, MIN(title), COUNT(*) FROM wf_tasks \
         WHERE status = 'open' AND due_at IS NOT NULL AND due_at < $1 \
         GROUP BY definition_key, state ORDER BY COUNT(*) DESC, definition_key, state LIMIT $2",
    )
    .bind(now_ms)
    .bind(LIST)
    .fetch_all(pool)
    .await?;
    let breaches: Vec<(String, i64)> = breaches
        .into_iter()
        .map(|(key, state, title, n)| {
            let label = match titles.get(&state) {
                Some(t) if key == "request" => t.clone(),
                _ => title,
            };
            (label, n)
        })
        .collect();
    let (overdue_tasks, _) = overdue(s).await?;

    Ok(Analytics {
        days: ANALYTICS_DAYS,
        overall: funnel("all", &all),
        by_type: types.iter().map(|(k, v)| funnel(k, v)).collect(),
        by_channel: channels.iter().map(|(k, v)| funnel(k, v)).collect(),
        time_in_state,
        transitions_sampled,
        breaches_by_task: breaches
            .into_iter()
            .map(|(key, value)| Figure { key, value })
            .collect(),
        overdue_tasks,
    })
}

/// The funnel of one slice from its requests per status.
pub fn funnel(key: &str, by_status: &BTreeMap<String, i64>) -> Funnel {
    let received: i64 = by_status.values().sum();
    let stages: Vec<Figure> = FUNNEL
        .iter()
        .map(|(stage, statuses)| Figure {
            key: (*stage).to_string(),
            value: if statuses.is_empty() {
                received
            } else {
                statuses
                    .iter()
                    .map(|st| by_status.get(*st).copied().unwrap_or(0))
                    .sum()
            },
        })
        .collect();
    let ordered = stages.last().map_or(0, |f| f.value);
    Funnel {
        key: key.to_string(),
        conversion_bp: if received > 0 {
            ordered * 10_000 / received
        } else {
            0
        },
        stages,
        received,
    }
}

/// Median time spent in each state, in tenths of an hour, from transitions
/// `(instance, from, to, at)`: a state entered by one transition of an
/// instance and left by its next one. States in the order first seen.
pub fn median_time_in_state(
    mut transitions: Vec<(i64, String, String, i64)>,
) -> Vec<(String, i64)> {
    transitions.sort_by_key(|a| (a.0, a.3));
    let mut spent: Vec<(String, Vec<i64>)> = Vec::new();
    for pair in transitions.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.0 != b.0 || a.2 != b.1 {
            continue;
        }
        let ms = b.3 - a.3;
        match spent.iter_mut().find(|(s, _)| *s == a.2) {
            Some((_, v)) => v.push(ms),
            None => spent.push((a.2.clone(), vec![ms])),
        }
    }
    spent
        .into_iter()
        .map(|(state, mut v)| {
            v.sort_unstable();
            let mid = v.len() / 2;
            let median = if v.len() % 2 == 1 {
                v[mid]
            } else {
                (v[mid - 1] + v[mid]) / 2
            };
            // Tenths of an hour, rounded.
            (state, (median + 180_000) / 360_000)
        })
        .collect()
}

/// The titles of the request workflow's states (of the version most
/// recently started), for the time-in-state chart.
async fn request_state_titles(s: &Services) -> DomainResult<BTreeMap<String, String>> {
    let def: Option<i64> = sqlx::query_scalar(
        "SELECT definition_id FROM wf_instances WHERE definition_key = 'request' ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(s.db.pool())
    .await?;
    let Some(def) = def else {
        return Ok(BTreeMap::new());
    };
    Ok(s.engine
        .graph(def)
        .await?
        .states
        .into_iter()
        .map(|st| (st.name, st.title))
        .collect())
}

/// The broker's staff holding `role`; anyone else is refused.
fn require_role(actor: &Actor, role: Role) -> DomainResult<()> {
    if actor.is_staff() && actor.has(role) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_funnel_counts_every_request_that_reached_a_stage() {
        let by_status: BTreeMap<String, i64> = [
            ("qualification", 4),
            ("cancelled", 2),
            ("rfq", 3),
            ("offer_sent", 2),
            ("ordered", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let f = funnel("cargo", &by_status);
        let values: Vec<i64> = f.stages.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![12, 6, 3, 3, 1, 1]);
        assert_eq!(f.received, 12);
        assert_eq!(f.conversion_bp, 833);
    }

    #[test]
    fn time_in_state_is_the_median_between_entering_and_leaving() {
        let h = 3_600_000;
        let t = |i: i64, from: &str, to: &str, at: i64| (i, from.to_string(), to.to_string(), at);
        let v = vec![
            t(1, "qualification", "rfq", 0),
            t(1, "rfq", "quote_review", 2 * h),
            t(2, "qualification", "rfq", 0),
            t(2, "rfq", "quote_review", 4 * h),
            t(3, "qualification", "rfq", h),
            t(3, "rfq", "quote_review", 10 * h),
            // Another instance's row never closes this one's state.
            t(4, "qualification", "rfq", 0),
        ];
        assert_eq!(median_time_in_state(v), vec![("rfq".to_string(), 40)]);
    }

    #[test]
    fn a_day_is_bounded_in_the_brokers_time_zone() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 22, 30, 0).unwrap();
        let d = Day::of(now, chrono_tz::Europe::Moscow);
        assert_eq!(d.date, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(d.start, Utc.with_ymd_and_hms(2026, 3, 1, 21, 0, 0).unwrap());
        assert_eq!(d.end, Utc.with_ymd_and_hms(2026, 3, 2, 21, 0, 0).unwrap());
    }
}
