//! `podryad bench pages`: the staff's pages at a real company's volume
//! (issue 11 point 11).
//!
//! The application runs in this process on a scratch database. Before it
//! serves anything the bench writes the volume straight into the tables in
//! a few big transactions (going through the workflow one request at a time
//! would take hours): staff (managers, hunters, operators, administrators,
//! an analyst), clients with their contacts, requests spread over
//! `history_days`, each with its request workflow instance, the history of
//! the states it went through, the tasks done on the way and — for the
//! newest `tasks` requests — the open task of the state it waits in,
//! assigned to its owner (some claimed, some left to the role, the oldest
//! escalated to the administrators). The rows are the ones the application
//! itself writes (numbers, folded search texts, role rows), so every page
//! reads them as it would read its own.
//!
//! Then each page of [`PAGES`] is fetched through HTTP by a signed-in
//! member of staff, `runs` times after two warm-up fetches, one at a time,
//! and its p50/p99 printed. Adding a page is one line of [`PAGES`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow};
use engine::{Db, Dialect, Param, Sql};

use super::funnel::{Browser, percentile};
use crate::app::{AppOptions, RunningApp};
use crate::config::Config;

/// The password of every seeded member of staff.
pub const PASSWORD: &str = "bench-pages-password";

/// Who fetches a page: the first seeded person of that role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    Manager,
    Hunter,
    Operator,
    Admin,
    Analyst,
}

impl Who {
    pub const ALL: [Who; 5] = [
        Who::Manager,
        Who::Hunter,
        Who::Operator,
        Who::Admin,
        Who::Analyst,
    ];

    pub fn role(self) -> &'static str {
        match self {
            Who::Manager => "manager",
            Who::Hunter => "hunter",
            Who::Operator => "operator",
            Who::Admin => "admin",
            Who::Analyst => "analyst",
        }
    }

    fn login(self) -> String {
        format!("{}1@bench.test", self.role())
    }
}

/// The pages measured, each fetched by whom. In a path, `{number}` is a
/// request's number, `{surname}` a contact's surname, `{phone}` seven digits
/// of a client's phone, `{full_phone}` the whole of it as people write it,
/// `{company}` a word of a client's name, `{inn}` a
/// client's INN — all of the volume seeded, so searches find something.
pub const PAGES: &[(Who, &str)] = &[
    // Home pages: each role's workplace.
    (Who::Manager, "/home"),
    (Who::Hunter, "/home"),
    (Who::Operator, "/home"),
    (Who::Admin, "/home"),
    (Who::Analyst, "/home"),
    // The task inbox, its filters, search and pages.
    (Who::Manager, "/tasks"),
    (Who::Manager, "/tasks?mine=1"),
    (Who::Manager, "/tasks?overdue=1"),
    (Who::Manager, "/tasks?priority=urgent"),
    (Who::Manager, "/tasks?workflow=request"),
    (Who::Manager, "/tasks?q={number}"),
    (Who::Manager, "/tasks?q=уточнить"),
    (Who::Manager, "/tasks?page=50"),
    (Who::Hunter, "/tasks"),
    (Who::Admin, "/tasks"),
    (Who::Admin, "/tasks?page=50"),
    // Requests: the manager's own, everyone's, filtered, searched.
    (Who::Manager, "/requests"),
    (Who::Manager, "/requests?status=qualification"),
    (Who::Admin, "/requests?scope=all"),
    (Who::Admin, "/requests?scope=all&channel=website"),
    (Who::Manager, "/requests?q={number}"),
    (Who::Manager, "/requests?q={surname}"),
    (Who::Manager, "/requests?q={phone}"),
    (Who::Manager, "/requests?q={inn}"),
    (Who::Hunter, "/requests"),
    // Orders and clients.
    (Who::Manager, "/orders"),
    (Who::Manager, "/clients"),
    (Who::Manager, "/clients?q={company}"),
    (Who::Hunter, "/hunter/clients"),
    // The operator's caller lookup.
    (Who::Operator, "/intake?q={phone}"),
    (Who::Operator, "/intake?q={full_phone}"),
    (Who::Operator, "/intake?q={surname}"),
    // The pipeline board and the header search.
    (Who::Manager, "/board"),
    (Who::Admin, "/board"),
    (Who::Hunter, "/board"),
    (Who::Manager, "/search?q={number}"),
    (Who::Manager, "/search?q={phone}"),
    (Who::Manager, "/search?q={surname}"),
    (Who::Manager, "/search?q={inn}"),
    (Who::Hunter, "/search?q={surname}"),
    // The bell's list.
    (Who::Manager, "/notifications"),
];

/// What to run.
#[derive(Debug, Clone)]
pub struct PagesOptions {
    /// PostgreSQL admin URL (a scratch database is created there); SQLite
    /// when missing.
    pub postgres: Option<String>,
    pub requests: usize,
    /// Open tasks (one per request still in work; at most `requests`).
    pub tasks: usize,
    pub history_days: i64,
    /// Timed fetches of each page.
    pub runs: usize,
    /// The analysts' folder (workflows, request types, catalogue).
    pub workflows: PathBuf,
}

/// One page's figures.
#[derive(Debug, Clone)]
pub struct PageFigures {
    pub who: Who,
    pub path: String,
    /// The status of the last answer (200 unless something is wrong).
    pub status: u16,
    pub bytes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The figures.
#[derive(Debug, Clone)]
pub struct PagesReport {
    pub database: String,
    pub machine: String,
    pub seeded: Seeded,
    pub seed_seconds: f64,
    pub runs: usize,
    pub pages: Vec<PageFigures>,
}

impl fmt::Display for PagesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.seeded;
        writeln!(f, "pages benchmark on {} ({})", self.database, self.machine)?;
        writeln!(
            f,
            "  seeded in {:.1} s: {} requests of {} clients over {} days, {} open tasks, {} done tasks, {} history rows, {} staff",
            self.seed_seconds,
            s.requests,
            s.clients,
            s.history_days,
            s.open_tasks,
            s.done_tasks,
            s.history,
            s.staff
        )?;
        writeln!(
            f,
            "  each page fetched {} times after 2 warm-up fetches, one at a time, signed in",
            self.runs
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  {:<9} {:<44} {:>6} {:>8} {:>9} {:>9} {:>9}",
            "who", "page", "status", "KiB", "p50 ms", "p99 ms", "max ms"
        )?;
        for p in &self.pages {
            let path: String = p.path.chars().take(44).collect();
            writeln!(
                f,
                "  {:<9} {:<44} {:>6} {:>8.1} {:>9.2} {:>9.2} {:>9.2}{}",
                p.who.role(),
                path,
                p.status,
                p.bytes as f64 / 1024.0,
                p.p50_ms,
                p.p99_ms,
                p.max_ms,
                if p.status != 200 { "  (not 200)" } else { "" }
            )?;
        }
        let worst = self.pages.iter().map(|p| p.p99_ms).fold(0.0f64, f64::max);
        write!(f, "  slowest p99: {worst:.2} ms")
    }
}

/// Runs the benchmark (see the module docs).
pub async fn run(opts: &PagesOptions) -> anyhow::Result<PagesReport> {
    anyhow::ensure!(opts.requests > 0 && opts.runs > 0, "nothing to run");
    super::on_scratch(
        opts.postgres.as_deref(),
        "pages",
        |url, scratch| async move { run_on(opts, &url, &scratch).await },
    )
    .await
}

async fn run_on(opts: &PagesOptions, url: &str, scratch: &Path) -> anyhow::Result<PagesReport> {
    let mut config = Config::from_env(false)?;
    config.database_url = url.to_string();
    config.bind = "127.0.0.1:0".parse()?;
    config.base_url = String::new();
    config.demo = false;
    // The workers would start escalating and reminding the seeded backlog:
    // the bench measures reading pages, not that.
    config.workers = false;
    config.test_actions = false;
    config.workflows_dir = opts.workflows.clone();
    config.files_dir = scratch.join("files");
    let app = RunningApp::start(
        config,
        AppOptions {
            connectors: Some(connectors::Connectors::offline()),
            ..Default::default()
        },
    )
    .await?;
    let result = drive(opts, &app).await;
    app.stop().await;
    result
}

async fn drive(opts: &PagesOptions, app: &RunningApp) -> anyhow::Result<PagesReport> {
    let db = app.db.clone();
    let t = Instant::now();
    let seeded = seed(&db, opts).await?;
    // Rows loaded past the application get their search terms the way a
    // server fills them at start.
    domain::search::index_missing_terms(&db).await?;
    let seed_seconds = t.elapsed().as_secs_f64();
    let mut browsers = Vec::new();
    for who in Who::ALL {
        let mut b = Browser::new(&app.base_url)?;
        b.sign_in(&who.login(), PASSWORD)
            .await
            .with_context(|| format!("signing in as the {}", who.role()))?;
        browsers.push((who, b));
    }
    let mut pages = Vec::with_capacity(PAGES.len());
    for (who, template) in PAGES {
        let path = seeded.fill(template);
        let (_, browser) = browsers
            .iter_mut()
            .find(|(w, _)| w == who)
            .ok_or_else(|| anyhow!("nobody signed in as {}", who.role()))?;
        pages.push(measure(browser, *who, &path, opts.runs).await?);
    }
    Ok(PagesReport {
        database: match db.dialect() {
            Dialect::Postgres => "PostgreSQL".into(),
            Dialect::Sqlite => "SQLite".into(),
        },
        machine: machine(),
        seeded,
        seed_seconds,
        runs: opts.runs,
        pages,
    })
}

/// Fetches `path` twice to warm up, then `runs` times timed.
async fn measure(
    b: &mut Browser,
    who: Who,
    path: &str,
    runs: usize,
) -> anyhow::Result<PageFigures> {
    for _ in 0..2 {
        b.get(path).await?;
    }
    let mut took = Vec::with_capacity(runs);
    let mut status = 0;
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let answer = b.get(path).await?;
        took.push(t.elapsed());
        status = answer.status;
        bytes = answer.body.len();
    }
    took.sort();
    Ok(PageFigures {
        who,
        path: path.to_string(),
        status,
        bytes,
        p50_ms: percentile(&took, 0.5),
        p99_ms: percentile(&took, 0.99),
        max_ms: took.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
    })
}

/// The processor, its cores and the memory, from `/proc`.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown processor".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!(
        "{model}, {cores} cores, {:.0} GB RAM, load average {load}, {} build",
        mem_kb as f64 / 1024.0 / 1024.0,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    )
}

// ---------------------------------------------------------------------------
// The volume.

/// What was seeded, and values the pages search for.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub requests: usize,
    pub clients: usize,
    pub history_days: i64,
    pub open_tasks: usize,
    pub done_tasks: usize,
    pub history: usize,
    pub staff: usize,
    pub number: String,
    pub surname: String,
    pub phone: String,
    pub full_phone: String,
    pub company: String,
    pub inn: String,
}

impl Seeded {
    /// A page's path with the searched values in place.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{number}", &super::funnel::form_encode(&self.number))
            .replace("{surname}", &super::funnel::form_encode(&self.surname))
            .replace("{phone}", &super::funnel::form_encode(&self.phone))
            .replace(
                "{full_phone}",
                &super::funnel::form_encode(&self.full_phone),
            )
            .replace("{company}", &super::funnel::form_encode(&self.company))
            .replace("{inn}", &super::funnel::form_encode(&self.inn))
    }
}

/// A reproducible pseudo-random number for `(what, i)` (splitmix64).
fn rnd(what: u64, i: u64) -> u64 {
    let mut z = what
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T>(list: &[T], what: u64, i: u64) -> &T {
    &list[(rnd(what, i) % list.len() as u64) as usize]
}

const SURNAMES: &[&str] = &[
    "Громов",
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Соколов",
    "Попов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Волков",
    "Алексеев",
    "Зайцев",
    "Павлов",
    "Семёнов",
    "Голубев",
    "Виноградов",
    "Богданов",
    "Воробьёв",
    "Фёдоров",
    "Михайлов",
    "Беляев",
    "Тарасов",
    "Белов",
    "Комаров",
    "Орлов",
    "Киселёв",
    "Макаров",
    "Андреев",
];
const FIRST_NAMES: &[&str] = &[
    "Олег",
    "Андрей",
    "Сергей",
    "Ирина",
    "Наталья",
    "Дмитрий",
    "Елена",
    "Алексей",
    "Мария",
    "Павел",
    "Юлия",
    "Игорь",
];
const COMPANY_WORDS: &[&str] = &[
    "Котлован",
    "СтройМонтаж",
    "Фундамент",
    "ГрузАвто",
    "Уралдорстрой",
    "Кран-Сервис",
    "ТехноПарк",
    "Магистраль",
    "Северстрой",
    "Альфа-Бетон",
    "Вектор",
    "Горизонт",
    "Меридиан",
    "Стройресурс",
    "Промтранс",
    "Гранит",
];
const CITIES: &[(&str, f64, f64, &str)] = &[
    (
        "Екатеринбург, ул. Малышева",
        56.83,
        60.6,
        "Asia/Yekaterinburg",
    ),
    ("Москва, Варшавское ш.", 55.65, 37.62, "Europe/Moscow"),
    ("Казань, ул. Баумана", 55.79, 49.12, "Europe/Moscow"),
    ("Новосибирск, Красный пр.", 55.03, 82.92, "Asia/Novosibirsk"),
    ("Челябинск, пр. Ленина", 55.16, 61.40, "Asia/Yekaterinburg"),
];
const TYPES: &[&str] = &[
    "machinery",
    "machinery",
    "machinery",
    "cargo",
    "materials",
    "passengers",
];
const CHANNELS: &[&str] = &[
    "website", "website", "operator", "operator", "hunter", "cabinet", "api",
];

/// A state an open request waits in with its task: (state, task, title
/// with `{}` for the number, priority, roles).
const OPEN_STATES: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "qualification",
        "qualify",
        "Уточнить заявку {}",
        "high",
        &["manager", "hunter", "operator", "admin"],
    ),
    (
        "qualification",
        "qualify",
        "Уточнить заявку {}",
        "high",
        &["manager", "hunter", "operator", "admin"],
    ),
    (
        "ready_for_matching",
        "match",
        "Подобрать поставщиков по заявке {}",
        "high",
        &["manager", "hunter", "admin"],
    ),
    (
        "ready_for_matching",
        "match",
        "Подобрать поставщиков по заявке {}",
        "high",
        &["manager", "hunter", "admin"],
    ),
    (
        "quote_review",
        "review_quotes",
        "Выбрать КП и предложить клиенту: заявка {}",
        "high",
        &["manager", "hunter", "admin"],
    ),
    (
        "no_quotes",
        "no_quotes",
        "Нет КП по заявке {}",
        "high",
        &["manager", "hunter", "admin"],
    ),
    (
        "offer_declined",
        "after_decline",
        "Клиент отказался от предложения по заявке {}",
        "high",
        &["manager", "hunter", "admin"],
    ),
    (
        "offer_expired",
        "after_expiry",
        "Клиент не ответил на предложение по заявке {}",
        "high",
        &["manager", "hunter", "admin"],
    ),
    (
        "machine_booked",
        "find_machine",
        "Машина по заявке {} уже занята: подберите другую",
        "urgent",
        &["manager", "hunter", "admin"],
    ),
    (
        "offer_approval",
        "approve_offer",
        "Согласовать предложение по заявке {}: маржа 2,1 %",
        "urgent",
        &["admin"],
    ),
];

/// The path to a state, with the task done to leave each (None: an event
/// or a timer moved it on).
fn path_to(state: &str) -> Vec<(&'static str, Option<(&'static str, &'static str)>)> {
    let mut path = vec![
        ("qualification", Some(("qualify", "ready"))),
        ("ready_for_matching", None),
        ("rfq_round", None),
    ];
    match state {
        "qualification" => path.truncate(1),
        "ready_for_matching" => path.truncate(2),
        "no_quotes" => path.push(("no_quotes", None)),
        "quote_review" => path.push(("quote_review", None)),
        "offer_approval" => path.push(("offer_approval", None)),
        "offer_declined" | "offer_expired" | "machine_booked" => {
            path.push(("quote_review", Some(("review_quotes", "offer"))));
            path.push(("offer_sent", None));
            path.push((static_state(state), None));
        }
        "ordered" => {
            path.push(("quote_review", Some(("review_quotes", "offer"))));
            path.push(("offer_sent", None));
            path.push(("accepted", None));
            path.push(("ordered", None));
        }
        "cancelled" => {
            path.truncate(1);
            path[0].1 = Some(("qualify", "cancel"));
            path.push(("cancelled", None));
        }
        _ => {}
    }
    // The match task is done when the RFQ is sent (its `rfq.sent` event).
    if path.len() > 2 {
        path[1].1 = Some(("match", "rfq_sent"));
    }
    path
}

/// What moved a request into `state` when no task's outcome did: (trigger
/// kind, event or timer name, whether a person sent it).
fn trigger_into(state: &str) -> (&'static str, &'static str, bool) {
    match state {
        "rfq_round" => ("event", "rfq.sent", true),
        "quote_review" => ("timer", "rfq_deadline", false),
        "no_quotes" => ("timer", "rfq_deadline", false),
        "offer_approval" => ("event", "offer.approval_requested", true),
        "offer_sent" => ("event", "offer.sent", true),
        "offer_declined" => ("event", "offer.declined", false),
        "offer_expired" => ("timer", "offer_expiry", false),
        "machine_booked" => ("event", "offer.machine_booked", false),
        "accepted" => ("event", "offer.accepted", false),
        "ordered" => ("event", "order.created", false),
        _ => ("event", "request.cancelled", false),
    }
}

fn static_state(state: &str) -> &'static str {
    match state {
        "offer_declined" => "offer_declined",
        "offer_expired" => "offer_expired",
        _ => "machine_booked",
    }
}

fn task_title(key: &str, number: &str) -> String {
    OPEN_STATES
        .iter()
        .find(|s| s.1 == key)
        .map(|s| s.2.replace("{}", number))
        .unwrap_or_else(|| format!("Задача по заявке {number}"))
}

/// Rows of one table, inserted in statements of about 2,000 parameters
/// (SQLite looks a `$n` up by name among the statement's parameters: a
/// statement with tens of thousands of them takes seconds to prepare).
struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Param>>,
}

impl Rows {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Rows {
        Rows {
            table,
            columns,
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<Param>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    async fn write(self, tx: &mut engine::Tx) -> anyhow::Result<usize> {
        let n = self.rows.len();
        let per = (2_000 / self.columns.len()).max(1);
        for chunk in self.rows.chunks(per) {
            let mut sql = Sql::new(&format!(
                "INSERT INTO {} ({}) VALUES ",
                self.table,
                self.columns.join(", ")
            ));
            for (k, row) in chunk.iter().enumerate() {
                if k > 0 {
                    sql.push(", ");
                }
                sql.push("(");
                for (j, v) in row.iter().enumerate() {
                    if j > 0 {
                        sql.push(", ");
                    }
                    sql.bind(v.clone());
                }
                sql.push(")");
            }
            sql.query()
                .execute(&mut **tx)
                .await
                .with_context(|| format!("seeding {}", self.table))?;
        }
        Ok(n)
    }
}

async fn next_id(db: &Db, table: &str) -> anyhow::Result<i64> {
    let max: Option<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT MAX(id) FROM {table}")))
            .fetch_one(db.pool())
            .await?;
    Ok(max.unwrap_or(0) + 1)
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Seeds the volume (see the module docs).
pub async fn seed(db: &Db, opts: &PagesOptions) -> anyhow::Result<Seeded> {
    use Who::*;
    let now = engine::to_db_time(db.now());
    let broker = domain::parties::orgs::ensure_broker(db).await?;
    let search = domain::search::fold;

    // Staff: the first of each role signs in through the form; the password
    // is hashed once and shared (Argon2 is not what is measured).
    let first = domain::accounts::UserInput {
        full_name: "Менеджер Первый".into(),
        email: Manager.login(),
        phone: String::new(),
        roles: vec!["manager".into()],
        password: PASSWORD.into(),
    }
    .validate(domain::access::roles::OrgKind::Broker)
    .await
    .map_err(|e| anyhow!("bench user: {e:?}"))?;
    let mut tx = db.begin().await?;
    let first_id = domain::accounts::insert_user(&mut tx, db.now(), broker, &first).await?;
    tx.commit().await?;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(first_id)
        .fetch_one(db.pool())
        .await?;

    let managers = (opts.requests / 2_500).clamp(4, 60);
    let hunters = (managers / 4).max(2);
    let mut staff: Vec<(i64, Who)> = vec![(first_id, Manager)];
    let mut users = Rows::new(
        "users",
        &[
            "id",
            "org_id",
            "email",
            "full_name",
            "password_hash",
            "status",
            "created_at",
            "updated_at",
            "search_text",
        ],
    );
    let mut roles = Rows::new("user_roles", &["user_id", "role"]);
    let mut id = next_id(db, "users").await?;
    for (who, count) in [
        (Manager, managers - 1),
        (Hunter, hunters),
        (Operator, 4),
        (Admin, 2),
        (Analyst, 1),
    ] {
        for k in 0..count {
            let n = if who == Manager { k + 2 } else { k + 1 };
            let name = format!(
                "{} {}",
                pick(SURNAMES, 1, id as u64),
                pick(FIRST_NAMES, 2, id as u64)
            );
            let email = format!("{}{n}@bench.test", who.role());
            users.push(vec![
                id.into(),
                broker.into(),
                email.clone().into(),
                name.clone().into(),
                hash.clone().into(),
                "active".into(),
                (now - 400 * DAY).into(),
                (now - 400 * DAY).into(),
                search(&format!("{name} {email}")).into(),
            ]);
            roles.push(vec![id.into(), who.role().into()]);
            staff.push((id, who));
            id += 1;
        }
    }
    let of = |who: Who| -> Vec<i64> {
        staff
            .iter()
            .filter(|(_, w)| *w == who)
            .map(|(id, _)| *id)
            .collect()
    };
    let (manager_ids, hunter_ids) = (of(Manager), of(Hunter));
    let mut tx = db.begin().await?;
    users.write(&mut tx).await?;
    roles.write(&mut tx).await?;
    tx.commit().await?;

    // Clients: about three requests each; a fifth brought by a hunter.
    let clients = (opts.requests / 3).max(1);
    let first_client = next_id(db, "organisations").await?;
    let mut orgs = Rows::new(
        "organisations",
        &[
            "id",
            "kind",
            "legal_form",
            "name",
            "inn",
            "phone",
            "email",
            "status",
            "contact_name",
            "hunter_user_id",
            "manager_user_id",
            "acquisition_channel",
            "created_at",
            "updated_at",
            "search_text",
        ],
    );
    struct Client {
        name: String,
        inn: String,
        phone: String,
        contact: String,
        hunter: Option<i64>,
        manager: i64,
    }
    let mut client_rows = Vec::with_capacity(clients);
    let span = opts.history_days.max(1) * DAY;
    for c in 0..clients {
        let i = c as u64;
        let id = first_client + c as i64;
        let name = format!("ООО «{} {}»", pick(COMPANY_WORDS, 3, i), 100 + c);
        let inn = format!("{:010}", 6_600_000_000u64 + i * 7);
        let phone = format!("+79{:09}", 160_000_000 + i * 13);
        let contact = format!("{} {}", pick(SURNAMES, 4, i), pick(FIRST_NAMES, 5, i));
        let hunter = rnd(6, i)
            .is_multiple_of(5)
            .then(|| *pick(&hunter_ids, 7, i));
        let manager = *pick(&manager_ids, 8, i);
        let created = now - span - 30 * DAY + (rnd(9, i) % (span as u64)) as i64;
        orgs.push(vec![
            id.into(),
            "client".into(),
            "ooo".into(),
            name.clone().into(),
            inn.clone().into(),
            phone.clone().into(),
            format!("client{c}@bench.test").into(),
            "active".into(),
            contact.clone().into(),
            hunter.into(),
            Some(manager).into(),
            (if hunter.is_some() {
                "hunter"
            } else {
                "website"
            })
            .into(),
            created.into(),
            created.into(),
            search(&format!("{name} {inn} client{c}@bench.test {phone}")).into(),
        ]);
        client_rows.push(Client {
            name,
            inn,
            phone,
            contact,
            hunter,
            manager,
        });
    }
    let mut tx = db.begin().await?;
    orgs.write(&mut tx).await?;
    tx.commit().await?;

    // Requests, oldest first; the newest `tasks` are still in work.
    let definition: i64 = sqlx::query_scalar(
        "SELECT id FROM wf_definitions WHERE key = 'request' AND status = 'active'",
    )
    .fetch_one(db.pool())
    .await
    .context("the request workflow is not loaded")?;
    let open = opts.tasks.min(opts.requests);
    let finished = opts.requests - open;
    let first_request = next_id(db, "requests").await?;
    let first_instance = next_id(db, "wf_instances").await?;
    let mut next_task = next_id(db, "wf_tasks").await?;
    let mut seeded = Seeded {
        requests: opts.requests,
        clients,
        history_days: opts.history_days,
        staff: staff.len(),
        ..Default::default()
    };
    let mut last_number: std::collections::BTreeMap<i32, i64> = Default::default();
    let batch = 10_000;
    let mut start = 0;
    while start < opts.requests {
        let end = (start + batch).min(opts.requests);
        let mut requests = Rows::new(
            "requests",
            &[
                "id",
                "number",
                "request_type",
                "client_org_id",
                "contact_name",
                "contact_phone",
                "contact_email",
                "channel",
                "hunter_user_id",
                "owner_user_id",
                "created_by",
                "status",
                "site_address",
                "site_lat",
                "site_lon",
                "site_timezone",
                "wanted_from",
                "duration",
                "fields",
                "search_text",
                "created_at",
                "updated_at",
            ],
        );
        let mut instances = Rows::new(
            "wf_instances",
            &[
                "id",
                "definition_id",
                "definition_key",
                "object_kind",
                "object_id",
                "state",
                "data",
                "version",
                "created_at",
                "updated_at",
                "finished_at",
            ],
        );
        let mut history = Rows::new(
            "wf_history",
            &[
                "instance_id",
                "step",
                "seq",
                "trigger_kind",
                "trigger_name",
                "from_state",
                "to_state",
                "actor_user_id",
                "at",
            ],
        );
        let mut tasks = Rows::new(
            "wf_tasks",
            &[
                "id",
                "instance_id",
                "definition_key",
                "task_key",
                "state",
                "title",
                "search_text",
                "assignee_user_id",
                "claimed_by",
                "claimed_at",
                "priority",
                "priority_rank",
                "due_at",
                "status",
                "outcome",
                "created_at",
                "completed_at",
                "completed_by",
                "escalated_at",
            ],
        );
        let mut task_roles = Rows::new("wf_task_roles", &["task_id", "role", "via"]);
        let mut bell = Rows::new(
            "user_notifications",
            &[
                "user_id",
                "subject",
                "body",
                "link",
                "created_at",
                "read_at",
            ],
        );
        for r in start..end {
            let i = r as u64;
            let request_id = first_request + r as i64;
            let instance_id = first_instance + r as i64;
            // Spread over the history, oldest first.
            let created = now - span + (r as i64 * span) / opts.requests as i64;
            let client_no = (rnd(10, i) % clients as u64) as usize;
            let client = &client_rows[client_no];
            let channel = if client.hunter.is_some() {
                "hunter"
            } else {
                pick(CHANNELS, 11, i)
            };
            let owner = client.hunter.unwrap_or(client.manager);
            let year = chrono::DateTime::from_timestamp_millis(created)
                .map(|d| chrono::Datelike::year(&d))
                .unwrap_or(2026);
            let seq = last_number.entry(year).or_default();
            *seq += 1;
            let number = format!("З-{year}-{:05}", *seq);
            let request_type = *pick(TYPES, 12, i);
            let (address, lat, lon, tz) = *pick(CITIES, 13, i);
            let address = format!("{address}, {}", 1 + rnd(14, i) % 120);
            let contact_phone = client.phone.clone();
            let email = format!("client{client_no}@bench.test");
            let state: &str = if r < finished {
                if rnd(15, i) % 10 < 6 {
                    "ordered"
                } else {
                    "cancelled"
                }
            } else {
                pick(OPEN_STATES, 16, i).0
            };
            let fields = if request_type == "machinery" {
                serde_json::json!({"category": "excavator", "work": "Выкопать траншею 40 м", "bucket_m3": 0.8, "with_operator": true})
            } else {
                serde_json::json!({"work": "Перевезти груз"})
            };
            requests.push(vec![
                request_id.into(),
                number.clone().into(),
                request_type.into(),
                (first_client + client_no as i64).into(),
                client.contact.clone().into(),
                contact_phone.clone().into(),
                email.clone().into(),
                channel.into(),
                client.hunter.into(),
                Some(owner).into(),
                (channel == "operator" || channel == "hunter")
                    .then_some(owner)
                    .into(),
                state.into(),
                address.clone().into(),
                lat.into(),
                lon.into(),
                tz.into(),
                Some(created + 3 * DAY).into(),
                2.0.into(),
                fields.to_string().into(),
                search(&format!(
                    "{number} {} {contact_phone} {email} {address} {} {}",
                    client.contact, client.name, client.inn
                ))
                .into(),
                created.into(),
                created.into(),
            ]);
            // The way here: a transition every few hours.
            let path = path_to(state);
            let mut at = created;
            let step_gap = HOUR + (rnd(17, i) % (6 * HOUR as u64)) as i64;
            history.push(vec![
                instance_id.into(),
                1i64.into(),
                0i64.into(),
                "start".into(),
                None::<String>.into(),
                "".into(),
                "qualification".into(),
                None::<i64>.into(),
                at.into(),
            ]);
            let mut step = 1i64;
            for (k, (from, task)) in path.iter().enumerate() {
                let Some((to, _)) = path.get(k + 1) else {
                    break;
                };
                let task_at = at + step_gap;
                if let Some((key, outcome)) = task {
                    let done_by = owner;
                    // The match task closes when the RFQ goes out (an
                    // event), not through an outcome.
                    let by_event = *outcome == "rfq_sent";
                    tasks.push(vec![
                        next_task.into(),
                        instance_id.into(),
                        "request".into(),
                        (*key).into(),
                        (*from).into(),
                        task_title(key, &number).into(),
                        format!("{} request {key}", task_title(key, &number))
                            .to_lowercase()
                            .into(),
                        Some(owner).into(),
                        Some(done_by).into(),
                        Some(at + HOUR / 2).into(),
                        "high".into(),
                        2i64.into(),
                        Some(at + HOUR).into(),
                        (if by_event { "cancelled" } else { "done" }).into(),
                        (!by_event).then(|| (*outcome).to_string()).into(),
                        at.into(),
                        Some(task_at).into(),
                        Some(done_by).into(),
                        None::<i64>.into(),
                    ]);
                    next_task += 1;
                    seeded.done_tasks += 1;
                }
                step += 1;
                let (kind, name, actor) = match task {
                    Some((key, outcome)) if *outcome != "rfq_sent" => {
                        ("task", format!("{key}:{outcome}"), Some(owner))
                    }
                    _ => {
                        let (kind, name, by_owner) = trigger_into(to);
                        (kind, name.to_string(), by_owner.then_some(owner))
                    }
                };
                history.push(vec![
                    instance_id.into(),
                    step.into(),
                    0i64.into(),
                    kind.into(),
                    name.into(),
                    (*from).into(),
                    (*to).into(),
                    actor.into(),
                    task_at.into(),
                ]);
                at = task_at;
            }
            seeded.history += step as usize;
            let terminal = state == "ordered" || state == "cancelled";
            if !terminal {
                let (_, key, _, priority, candidates) = OPEN_STATES
                    .iter()
                    .find(|s| s.0 == state)
                    .copied()
                    .unwrap_or(OPEN_STATES[0]);
                let roll = rnd(18, i) % 100;
                // A twentieth are nobody's yet (their role's to claim); of
                // the rest, a third are claimed by their owner.
                let assignee = (roll >= 5 && key != "approve_offer").then_some(owner);
                let claimed = (assignee.is_some() && roll.is_multiple_of(3)).then_some(owner);
                // Due soon after it opened, so most of a year's backlog is
                // overdue; the oldest quarter went up to the administrators.
                let due = at + if priority == "urgent" { HOUR } else { 3 * HOUR };
                let escalated = (r < finished + open / 4).then_some(at + 4 * HOUR);
                let rank: i64 = if priority == "urgent" { 3 } else { 2 };
                let title = task_title(key, &number);
                tasks.push(vec![
                    next_task.into(),
                    instance_id.into(),
                    "request".into(),
                    key.into(),
                    state.into(),
                    title.clone().into(),
                    format!("{title} request {key}").to_lowercase().into(),
                    assignee.into(),
                    claimed.into(),
                    claimed.map(|_| at + HOUR / 4).into(),
                    priority.into(),
                    rank.into(),
                    Some(due).into(),
                    "open".into(),
                    None::<String>.into(),
                    at.into(),
                    None::<i64>.into(),
                    None::<i64>.into(),
                    escalated.into(),
                ]);
                for role in candidates {
                    task_roles.push(vec![next_task.into(), (*role).into(), "candidate".into()]);
                }
                if escalated.is_some() {
                    task_roles.push(vec![next_task.into(), "admin".into(), "escalation".into()]);
                }
                next_task += 1;
                seeded.open_tasks += 1;
            }
            // The owner was told of the new request; the newest are unread.
            bell.push(vec![
                owner.into(),
                format!("Новая заявка {number}").into(),
                format!("{}: {}", client.name, address).into(),
                Some(format!("/requests/{request_id}")).into(),
                created.into(),
                (r + opts.requests / 20 < opts.requests)
                    .then_some(created + HOUR)
                    .into(),
            ]);
            let data = serde_json::json!({"number": number, "request_type": request_type});
            instances.push(vec![
                instance_id.into(),
                definition.into(),
                "request".into(),
                "request".into(),
                request_id.into(),
                state.into(),
                data.to_string().into(),
                step.into(),
                created.into(),
                at.into(),
                terminal.then_some(at).into(),
            ]);
            if r == opts.requests - 1 {
                seeded.number = number;
                seeded.surname = client.contact.split(' ').next().unwrap_or("").to_string();
                seeded.phone = client.phone[client.phone.len() - 7..].to_string();
                let p = &client.phone;
                seeded.full_phone =
                    format!("8 ({}) {}-{}-{}", &p[2..5], &p[5..8], &p[8..10], &p[10..]);
                seeded.company = pick(COMPANY_WORDS, 3, client_no as u64).to_string();
                seeded.inn = client.inn.clone();
            }
        }
        let mut tx = db.begin().await?;
        requests.write(&mut tx).await?;
        instances.write(&mut tx).await?;
        history.write(&mut tx).await?;
        tasks.write(&mut tx).await?;
        task_roles.write(&mut tx).await?;
        bell.write(&mut tx).await?;
        tx.commit().await?;
        start = end;
    }
    // New requests get the next numbers.
    let mut tx = db.begin().await?;
    for (year, last) in last_number {
        sqlx::query("DELETE FROM request_numbers WHERE year = $1")
            .bind(year as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO request_numbers (year, last) VALUES ($1, $2)")
            .bind(year as i64)
            .bind(last)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if db.dialect() == Dialect::Postgres {
        let mut conn = db.single_write().await?;
        for t in [
            "users",
            "organisations",
            "requests",
            "wf_instances",
            "wf_history",
            "wf_tasks",
        ] {
            // The identity sequences learn of the ids written explicitly.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {t}))"
            )))
            .execute(&mut *conn)
            .await?;
        }
        // Autovacuum would have analysed tables that grew this big; SQLite
        // keeps no statistics unless asked (the application never asks), so
        // its plans are measured as they would run.
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
    }
    Ok(seeded)
}
