//! `podryad bench funnel`: what one request through the funnel costs the
//! server, measured from outside as people would use it.
//!
//! The application runs in this process on a scratch database with its
//! background workers, reading a copy of the analysts' folder whose
//! `request.yaml` is [`FUNNEL_YAML`] (the request funnel's first state, four
//! times over). A process is: an integration files a request through
//! `POST /api/public/requests` with a bearer token (the real intake: client,
//! request, owner, workflow, the visitor's confirmation), then the request's
//! owner does four tasks, each as a browser would — open the inbox, open the
//! task, claim it (and see the task page again), complete it through its
//! form with the CSRF token (and land on the inbox again). The owners are
//! simulated managers, each signed in once (Argon2 stays out of the funnel),
//! working their own inboxes concurrently.
//!
//! Two passes:
//! - **calibration**: one process, one request at a time, with every
//!   statement counted ([`super::sql_count`]) and the background work each
//!   request leaves (the notification sender) waited for and counted with
//!   it — the exact cost of each step;
//! - **load**: `processes` processes by `people` people at once, statement
//!   counting off (it costs CPU), timing every request. The server's CPU is
//!   the process's CPU minus the client's threads (named `bench-client`, on
//!   a runtime of their own); on PostgreSQL the server-side transaction count
//!   (`pg_stat_database`) and the CPU of the backends serving the bench are
//!   read too.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use engine::Db;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use super::sql_count::{self, Counts};
use crate::app::{AppOptions, RunningApp};
use crate::config::Config;

/// The workflow the bench runs as `request` (see the module docs).
pub const FUNNEL_YAML: &str = include_str!("funnel.yaml");

/// Human tasks in one process.
pub const HUMAN_STEPS: usize = 4;

/// The password of every simulated person.
pub const PASSWORD: &str = "bench-funnel-password";

/// What to run.
#[derive(Debug, Clone)]
pub struct FunnelOptions {
    pub processes: usize,
    pub people: usize,
    /// PostgreSQL admin URL (a scratch database is created there); SQLite
    /// when missing.
    pub postgres: Option<String>,
    /// The analysts' folder to copy (calendars, catalogues, request types).
    pub workflows: PathBuf,
    /// Processes under way at once (0: three per person).
    pub window: usize,
}

/// One kind of HTTP request of the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `POST /api/public/requests` (bearer token).
    Start,
    /// `GET /tasks`.
    Inbox,
    /// `GET /tasks/{id}`, before and after claiming.
    TaskPage,
    /// `POST /tasks/{id}/claim`.
    Claim,
    /// `POST /tasks/{id}/complete`.
    Complete,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Start,
        Step::Inbox,
        Step::TaskPage,
        Step::Claim,
        Step::Complete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Start => "start (API)",
            Step::Inbox => "inbox",
            Step::TaskPage => "task page",
            Step::Claim => "claim",
            Step::Complete => "complete",
        }
    }
}

/// Sees every request of the funnel.
#[engine::async_trait]
pub trait Observer: Send {
    async fn before(&mut self, step: Step);
    async fn after(&mut self, step: Step, took: Duration);
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// One person's browser: cookies, no automatic redirects (the person
/// follows them, and each is timed as the step it is).
pub struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(base: &str) -> anyhow::Result<Browser> {
        Ok(Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()?,
            base: base.trim_end_matches('/').to_string(),
            cookies: BTreeMap::new(),
        })
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, resp: reqwest::Response) -> anyhow::Result<Answer> {
        for v in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|kv| kv.trim().split_once('=')) else {
                continue;
            };
            let expired = parts.any(|p| p.trim().eq_ignore_ascii_case("Max-Age=0"));
            if expired || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await?;
        Ok(Answer {
            status,
            location,
            body,
        })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        self.read(resp).await
    }

    pub async fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        self.read(resp).await
    }

    /// Signs in through the sign-in form (once per person: Argon2 is not
    /// part of the funnel).
    pub async fn sign_in(&mut self, login: &str, password: &str) -> anyhow::Result<()> {
        let page = expect(self.get("/login").await?, 200, "GET /login")?;
        let csrf = hidden_csrf(&page.body).ok_or_else(|| anyhow!("no CSRF field on /login"))?;
        let answer = self
            .post_form(
                "/login",
                &[("_csrf", &csrf), ("login", login), ("password", password)],
            )
            .await?;
        expect(answer, 303, "POST /login")?;
        anyhow::ensure!(
            self.cookies.contains_key(web::auth::SESSION_COOKIE),
            "signing in as {login} gave no session"
        );
        Ok(())
    }
}

/// `application/x-www-form-urlencoded` for one key or value.
pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn expect(answer: Answer, status: u16, what: &str) -> anyhow::Result<Answer> {
    if answer.status != status {
        let snippet: String = answer.body.chars().take(400).collect();
        bail!(
            "{what}: expected {status}, got {} ({snippet})",
            answer.status
        );
    }
    Ok(answer)
}

/// The text after `marker` up to the next `"`.
fn attribute_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(&html[start..start + end])
}

fn hidden_csrf(html: &str) -> Option<String> {
    attribute_after(html, "name=\"_csrf\" value=\"").map(str::to_string)
}

/// The first task linked from an inbox page.
pub fn first_task(html: &str) -> Option<i64> {
    let mut rest = html;
    while let Some(i) = rest.find("href=\"/tasks/") {
        rest = &rest[i + "href=\"/tasks/".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && rest[digits.len()..].starts_with('"') {
            return digits.parse().ok();
        }
    }
    None
}

/// The integration that files requests through the API.
pub struct Integration {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Integration {
    pub fn new(base: &str, token: &str) -> anyhow::Result<Integration> {
        Ok(Integration {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// Files request `n` (a new client each: its own phone and e-mail).
    pub async fn file_request(&self, n: u64) -> anyhow::Result<()> {
        let wanted = (chrono::Utc::now() + chrono::Duration::days(3))
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive();
        let body = json!({
            "request_type": "machinery",
            "wanted_from": format!("{}T08:00", wanted.format("%Y-%m-%d")),
            "duration": 2,
            "contact_name": "Олег Никитин",
            "contact_phone": format!("+7 9{:02} {:03}-{:02}-{:02}", 10 + (n / 10_000_000) % 90, (n / 10_000) % 1000, (n / 100) % 100, n % 100),
            "contact_email": format!("client{n}@bench.test"),
            "company_name": format!("ООО «Котлован {n}»"),
            "fields": {
                "category": "excavator",
                "work": "Выкопать траншею 40 м",
                "site_address": {"address": "Екатеринбург, ул. Малышева, 1", "lat": 56.83, "lon": 60.6, "timezone": "Asia/Yekaterinburg"},
                "bucket_m3": 0.8
            }
        });
        let resp = self
            .http
            .post(format!("{}/api/public/requests", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .context("POST /api/public/requests")?;
        let status = resp.status().as_u16();
        if status != 201 {
            let text = resp.text().await.unwrap_or_default();
            bail!("POST /api/public/requests: expected 201, got {status} ({text})");
        }
        let _ = resp.bytes().await?;
        Ok(())
    }
}

/// Starts a process through the API, seen by `obs`.
pub async fn start_process(
    api: &Integration,
    n: u64,
    obs: &mut dyn Observer,
) -> anyhow::Result<()> {
    obs.before(Step::Start).await;
    let t = Instant::now();
    api.file_request(n).await?;
    obs.after(Step::Start, t.elapsed()).await;
    Ok(())
}

async fn timed(
    obs: &mut dyn Observer,
    step: Step,
    request: impl std::future::Future<Output = anyhow::Result<Answer>>,
) -> anyhow::Result<Answer> {
    obs.before(step).await;
    let t = Instant::now();
    let answer = request.await?;
    obs.after(step, t.elapsed()).await;
    Ok(answer)
}

/// Opens the inbox.
pub async fn open_inbox(b: &mut Browser, obs: &mut dyn Observer) -> anyhow::Result<String> {
    let a = timed(obs, Step::Inbox, b.get("/tasks")).await?;
    Ok(expect(a, 200, "GET /tasks")?.body)
}

/// One human step on task `id`: open it, claim it (back on its page),
/// complete it with its first outcome (then back to the inbox). Returns the
/// inbox page the person lands on.
pub async fn do_task(b: &mut Browser, id: i64, obs: &mut dyn Observer) -> anyhow::Result<String> {
    let path = format!("/tasks/{id}");
    let page = timed(obs, Step::TaskPage, b.get(&path)).await?;
    let page = expect(page, 200, "GET /tasks/{id}")?;
    let csrf = hidden_csrf(&page.body).ok_or_else(|| anyhow!("no CSRF field on {path}"))?;
    let claim_path = format!("{path}/claim");
    let claimed = timed(
        obs,
        Step::Claim,
        b.post_form(&claim_path, &[("_csrf", &csrf)]),
    )
    .await?;
    let claimed = expect(claimed, 303, "POST /tasks/{id}/claim")?;
    let back = claimed.location.unwrap_or_else(|| path.clone());
    let page = timed(obs, Step::TaskPage, b.get(&back)).await?;
    let page = expect(page, 200, "GET /tasks/{id} after claiming")?;
    let csrf = hidden_csrf(&page.body).ok_or_else(|| anyhow!("no CSRF field on {back}"))?;
    let outcome = attribute_after(&page.body, "name=\"outcome\" value=\"")
        .ok_or_else(|| anyhow!("task {id} offers no outcome to its claimer"))?
        .to_string();
    let complete_path = format!("{path}/complete");
    let done = timed(
        obs,
        Step::Complete,
        b.post_form(
            &complete_path,
            &[
                ("_csrf", &csrf),
                ("note", "Проверено, клиент подтвердил по телефону"),
                ("outcome", &outcome),
            ],
        ),
    )
    .await?;
    expect(done, 303, "POST /tasks/{id}/complete")?;
    // The page leads on to the request's next task or its page; the bench's
    // person goes back to the inbox, where the next task of any process
    // waits, so every process costs the same steps.
    let inbox = timed(obs, Step::Inbox, b.get("/tasks")).await?;
    Ok(expect(inbox, 200, "GET /tasks after completing")?.body)
}

/// A copy of the folder `source` in `into`, with the bench funnel as
/// `request.yaml`.
pub fn funnel_workflows(source: &Path, into: &Path) -> anyhow::Result<()> {
    copy_dir(source, into)
        .with_context(|| format!("copying {} to {}", source.display(), into.display()))?;
    std::fs::write(into.join("request.yaml"), FUNNEL_YAML)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Managers who own the requests (the least loaded gets each new one) and
/// the token of the integration.
pub struct Seeded {
    pub logins: Vec<String>,
    pub token: String,
}

/// Adds `people` managers to the broker and an API token that may file requests.
pub async fn seed(db: &Db, people: usize) -> anyhow::Result<Seeded> {
    let broker = domain::parties::orgs::ensure_broker(db).await?;
    let mut logins = Vec::with_capacity(people);
    for i in 0..people {
        let input = domain::accounts::UserInput {
            full_name: format!("Менеджер {}", i + 1),
            email: format!("manager{}@bench.test", i + 1),
            phone: String::new(),
            roles: vec!["manager".into()],
            password: PASSWORD.into(),
        };
        let user = input
            .validate(domain::access::roles::OrgKind::Broker)
            .await
            .map_err(|e| anyhow!("bench user: {e:?}"))?;
        let mut tx = db.begin().await?;
        domain::accounts::insert_user(&mut tx, db.now(), broker, &user).await?;
        tx.commit().await?;
        logins.push(input.email);
    }
    let (_, token) = domain::accounts::api_tokens::create(
        db,
        None,
        "bench funnel",
        &["requests:create".to_string()],
    )
    .await?;
    Ok(Seeded { logins, token })
}

/// A percentile of sorted durations, in milliseconds.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// CPU time in clock ticks (USER_HZ, 100 a second on Linux) of this
/// process and of its threads named `bench-client*`.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTicks {
    process: u64,
    client: u64,
}

const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of a `/proc/…/stat` line.
fn stat_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

fn cpu_now() -> CpuTicks {
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_ticks(&s))
        .map(|(_, t)| t)
        .unwrap_or(0);
    let mut client = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(entry.path().join("stat"))
                && let Some((comm, t)) = stat_ticks(&s)
                && comm.starts_with("bench-client")
            {
                client += t;
            }
        }
    }
    CpuTicks { process, client }
}

/// CPU ticks of processes by pid (PostgreSQL backends).
fn pid_ticks(pids: &[i32]) -> BTreeMap<i32, u64> {
    pids.iter()
        .filter_map(|pid| {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((*pid, stat_ticks(&s)?.1))
        })
        .collect()
}

/// A plain connection to the bench's PostgreSQL database, for what the
/// server itself reports (not counted, not part of the load).
struct PgProbe {
    pool: sqlx::AnyPool,
}

impl PgProbe {
    async fn connect(url: &str) -> anyhow::Result<PgProbe> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await?;
        Ok(PgProbe { pool })
    }

    /// Transactions committed and rolled back in this database. The server
    /// publishes a backend's figures when it goes idle, at most once a
    /// second, and an idle backend's within ten seconds: read after a pause.
    async fn transactions(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(xact_commit + xact_rollback AS BIGINT) FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// The backends serving this database, other than the probe.
    async fn backends(&self) -> anyhow::Result<Vec<i32>> {
        Ok(sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// What the PostgreSQL backends serving the bench were doing, sampled every
/// 20 ms during the load (`pg_stat_activity`): running, waiting for a lock,
/// for I/O (the WAL flush of a commit), or for the application.
#[derive(Debug, Clone, Default)]
pub struct PgWaits {
    pub samples: u64,
    pub by_kind: BTreeMap<String, u64>,
}

impl PgWaits {
    async fn sample(pool: sqlx::AnyPool, stop: Arc<AtomicBool>) -> PgWaits {
        let mut w = PgWaits::default();
        while !stop.load(Ordering::Relaxed) {
            let rows: Result<Vec<(String,)>, _> = sqlx::query_as(
                "SELECT CAST(CASE WHEN state = 'active' THEN COALESCE(wait_event_type || ': ' || wait_event, 'running') \
                 ELSE COALESCE(state, 'unknown') END AS TEXT) \
                 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
                 AND backend_type = 'client backend'",
            )
            .fetch_all(&pool)
            .await;
            if let Ok(rows) = rows {
                w.samples += 1;
                for (kind,) in rows {
                    *w.by_kind.entry(kind).or_default() += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        w
    }
}

/// The cost of one kind of request, from the calibration pass.
#[derive(Debug, Clone, Default)]
pub struct StepCost {
    pub requests: u64,
    /// Counted from the request to its answer.
    pub request: Counts,
    /// Counted after the answer, until the background work it caused
    /// (notifications sent, outbox actions) was done.
    pub background: Counts,
}

/// Counts every request and the background work after it.
pub struct Calibrator {
    db: Db,
    mark: Counts,
    pub costs: BTreeMap<Step, StepCost>,
}

impl Calibrator {
    pub fn new(db: Db) -> Calibrator {
        Calibrator {
            db,
            mark: Counts::default(),
            costs: BTreeMap::new(),
        }
    }

    /// Waits until the counters stand still (the background is done).
    async fn settle(&self) -> Counts {
        let mut last = Counts::now(&self.db);
        let mut still = 0;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            let now = Counts::now(&self.db);
            if now == last {
                still += 1;
                if still >= 4 {
                    break;
                }
            } else {
                still = 0;
                last = now;
            }
        }
        last
    }

    /// Everything counted, all steps together.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.costs.values() {
            t.add(&c.request);
            t.add(&c.background);
        }
        t
    }
}

#[engine::async_trait]
impl Observer for Calibrator {
    async fn before(&mut self, step: Step) {
        self.mark = self.settle().await;
        // With RUST_LOG=podryad::bench=debug,sqlx::query=trace the log
        // shows which statements each request ran.
        tracing::debug!(step = step.name(), "calibration: request");
    }

    async fn after(&mut self, step: Step, _took: Duration) {
        let answered = Counts::now(&self.db);
        tracing::debug!(
            step = step.name(),
            "calibration: answered; background follows"
        );
        let settled = self.settle().await;
        let c = self.costs.entry(step).or_default();
        c.requests += 1;
        c.request.add(&answered.since(&self.mark));
        c.background.add(&settled.since(&answered));
    }
}

/// Records how long each request took.
#[derive(Default)]
struct Timer {
    took: BTreeMap<Step, Vec<Duration>>,
}

#[engine::async_trait]
impl Observer for Timer {
    async fn before(&mut self, _step: Step) {}
    async fn after(&mut self, step: Step, took: Duration) {
        self.took.entry(step).or_default().push(took);
    }
}

/// The figures.
#[derive(Debug, Clone, Default)]
pub struct FunnelReport {
    pub database: String,
    pub processes: usize,
    pub people: usize,
    pub window: usize,
    pub calibration: BTreeMap<Step, StepCost>,
    pub seconds: f64,
    pub requests: u64,
    pub idle_polls: u64,
    /// p50, p99, max (ms) per step.
    pub latency: BTreeMap<Step, (f64, f64, f64)>,
    pub server_cpu_ms: f64,
    pub client_cpu_ms: f64,
    pub drain_seconds: f64,
    pub load_write_tx: u64,
    pub pg_transactions: Option<i64>,
    pub pg_backend_cpu_ms: Option<f64>,
    pub pg_waits: Option<PgWaits>,
    pub loadavg: String,
}

impl FunnelReport {
    pub fn processes_per_second(&self) -> f64 {
        self.processes as f64 / self.seconds.max(1e-9)
    }

    /// Calibration: (write tx, statements) of one human step: the requests
    /// of one task (inbox, two task pages, claim, complete) and what they
    /// left for the background.
    pub fn per_human_step(&self) -> (f64, f64) {
        let mut t = Counts::default();
        for s in [Step::Inbox, Step::TaskPage, Step::Claim, Step::Complete] {
            if let Some(c) = self.calibration.get(&s) {
                t.add(&c.request);
                t.add(&c.background);
            }
        }
        let n = HUMAN_STEPS as f64;
        (t.write_tx as f64 / n, t.statements() as f64 / n)
    }
}

impl fmt::Display for FunnelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.processes as f64;
        writeln!(
            f,
            "funnel benchmark on {}: {} processes, {} people, {} under way at most (load average at start: {})",
            self.database, self.processes, self.people, self.window, self.loadavg
        )?;
        writeln!(
            f,
            "  one process = POST /api/public/requests, then {HUMAN_STEPS} × (inbox, task page, claim, task page, complete)"
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  calibration (one process alone, every statement counted; background = notification sender and workers):"
        )?;
        writeln!(
            f,
            "    {:<14} {:>5} {:>10} {:>8} {:>8} {:>13} {:>13}",
            "request", "count", "write tx", "reads", "writes", "bg write tx", "bg statements"
        )?;
        let mut total = Counts::default();
        for s in Step::ALL {
            let Some(c) = self.calibration.get(&s) else {
                continue;
            };
            writeln!(
                f,
                "    {:<14} {:>5} {:>10} {:>8} {:>8} {:>13} {:>13}",
                s.name(),
                c.requests,
                c.request.write_tx,
                c.request.reads,
                c.request.writes,
                c.background.write_tx,
                c.background.statements()
            )?;
            total.add(&c.request);
            total.add(&c.background);
        }
        let (tx_step, st_step) = self.per_human_step();
        writeln!(
            f,
            "    per process: {} write transactions, {} statements ({} reads, {} writes)",
            total.write_tx,
            total.statements(),
            total.reads,
            total.writes
        )?;
        writeln!(
            f,
            "    per human step: {tx_step:.2} write transactions, {st_step:.1} statements"
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  load: {:.1} processes/s ({} processes in {:.2} s), {} HTTP requests ({:.1} per process, {} idle inbox polls)",
            self.processes_per_second(),
            self.processes,
            self.seconds,
            self.requests,
            self.requests as f64 / p,
            self.idle_polls
        )?;
        for s in Step::ALL {
            if let Some((p50, p99, max)) = self.latency.get(&s) {
                writeln!(
                    f,
                    "    {:<14} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
                    s.name(),
                    p50,
                    p99,
                    max
                )?;
            }
        }
        writeln!(
            f,
            "  server CPU: {:.1} ms per process, {:.3} ms per HTTP request (client: {:.1} ms per process; background drained {:.2} s after the last step)",
            self.server_cpu_ms / p,
            self.server_cpu_ms / self.requests.max(1) as f64,
            self.client_cpu_ms / p,
            self.drain_seconds
        )?;
        write!(
            f,
            "  write transactions under load: {:.1} per process",
            self.load_write_tx as f64 / p
        )?;
        if let Some(t) = self.pg_transactions {
            write!(
                f,
                "\n  PostgreSQL: {:.1} transactions per process (server-side, reads included)",
                t as f64 / p
            )?;
        }
        if let Some(ms) = self.pg_backend_cpu_ms {
            write!(f, ", backends' CPU {:.1} ms per process", ms / p)?;
        }
        if let Some(w) = &self.pg_waits {
            let total: u64 = w.by_kind.values().sum();
            let mut kinds: Vec<(&String, &u64)> = w.by_kind.iter().collect();
            kinds.sort_by(|a, b| b.1.cmp(a.1));
            write!(
                f,
                "\n  PostgreSQL backends, {} samples of {:.1} backends on average:",
                w.samples,
                total as f64 / w.samples.max(1) as f64
            )?;
            for (kind, n) in kinds.into_iter().take(8) {
                write!(
                    f,
                    "\n    {:>5.1} %  {kind}",
                    *n as f64 * 100.0 / total.max(1) as f64
                )?;
            }
        }
        Ok(())
    }
}

/// Runs the benchmark (see the module docs). The client side runs on a
/// runtime of its own whose threads are named `bench-client`.
pub async fn run(opts: &FunnelOptions) -> anyhow::Result<FunnelReport> {
    anyhow::ensure!(opts.people > 0 && opts.processes > 0, "nothing to run");
    super::on_scratch(
        opts.postgres.as_deref(),
        "funnel",
        |url, scratch| async move { run_on(opts, &url, &scratch).await },
    )
    .await
}

async fn run_on(opts: &FunnelOptions, url: &str, scratch: &Path) -> anyhow::Result<FunnelReport> {
    let workflows = scratch.join("workflows");
    funnel_workflows(&opts.workflows, &workflows)?;
    let mut config = Config::from_env(false)?;
    config.database_url = url.to_string();
    config.bind = "127.0.0.1:0".parse()?;
    config.base_url = String::new();
    config.demo = false;
    config.workers = true;
    config.test_actions = false;
    config.workflows_dir = workflows;
    config.files_dir = scratch.join("files");
    config.count_db = true;
    // Messages are handed to a provider that takes them at once, as a
    // healthy SMTP server or SMS gateway would (no network in the figures).
    let mut outside = connectors::Connectors::offline();
    let sink: Arc<dyn connectors::notify::Transport> = Arc::new(Sink);
    for channel in [
        connectors::notify::Channel::Email,
        connectors::notify::Channel::Sms,
        connectors::notify::Channel::Telegram,
    ] {
        outside.transports = outside.transports.with(channel, sink.clone());
    }
    let app = RunningApp::start(
        config,
        AppOptions {
            connectors: Some(outside),
            ..Default::default()
        },
    )
    .await?;
    let result = drive(opts, &app, url).await;
    app.stop().await;
    result
}

async fn drive(opts: &FunnelOptions, app: &RunningApp, url: &str) -> anyhow::Result<FunnelReport> {
    let db = app.db.clone();
    let postgres = db.dialect() == engine::Dialect::Postgres;
    let seeded = seed(&db, opts.people).await?;
    let base = app.base_url.clone();
    let window = if opts.window == 0 {
        opts.people * 3
    } else {
        opts.window
    };
    let client_rt = ClientRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-client")
            .enable_all()
            .build()?,
    ));
    let probe = if postgres {
        Some(PgProbe::connect(url).await?)
    } else {
        None
    };

    // Everyone signs in once.
    let mut people = {
        let base = base.clone();
        let logins = seeded.logins.clone();
        client_rt
            .spawn(async move {
                let mut people = Vec::with_capacity(logins.len());
                for login in &logins {
                    let mut b = Browser::new(&base)?;
                    b.sign_in(login, PASSWORD).await?;
                    people.push(b);
                }
                anyhow::Ok(people)
            })
            .await??
    };
    let api = Arc::new(Integration::new(&base, &seeded.token)?);

    // Calibration: one process alone, counted. The least loaded manager
    // gets it: the first one.
    sql_count::set_active(true);
    let calibration = {
        let api = api.clone();
        let mut person = people.remove(0);
        let db = db.clone();
        let (person, costs) = client_rt
            .spawn(async move {
                let mut cal = Calibrator::new(db);
                start_process(&api, 0, &mut cal).await?;
                let mut inbox = open_inbox(&mut person, &mut cal).await?;
                for _ in 0..HUMAN_STEPS {
                    let id = first_task(&inbox).ok_or_else(|| {
                        anyhow!("the calibration's task is not in its owner's inbox")
                    })?;
                    inbox = do_task(&mut person, id, &mut cal).await?;
                }
                anyhow::Ok((person, cal.costs))
            })
            .await??;
        people.insert(0, person);
        costs
    };
    sql_count::set_active(false);
    // The calibration opened the inbox once more than there are steps (it
    // lands there after the last one): each step is charged the average.
    let mut calibration = calibration;
    if let Some(inbox) = calibration.get_mut(&Step::Inbox) {
        let n = inbox.requests.max(1);
        let per = |v: u64| v * HUMAN_STEPS as u64 / n;
        inbox.request = Counts {
            write_tx: per(inbox.request.write_tx),
            reads: per(inbox.request.reads),
            writes: per(inbox.request.writes),
        };
        inbox.background = Counts {
            write_tx: per(inbox.background.write_tx),
            reads: per(inbox.background.reads),
            writes: per(inbox.background.writes),
        };
        inbox.requests = HUMAN_STEPS as u64;
    }

    // The load.
    if let Some(p) = &probe {
        // Let the server publish what the set-up did.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let _ = p.transactions().await?;
    }
    let pg_before = match &probe {
        Some(p) => Some((p.transactions().await?, pid_ticks(&p.backends().await?))),
        None => None,
    };
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let write_tx_before = Counts::now(&db).write_tx;
    // The sampler runs on the client's runtime: its CPU is not the server's.
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = probe
        .as_ref()
        .map(|p| client_rt.spawn(PgWaits::sample(p.pool.clone(), stop_sampling.clone())));
    let cpu_before = cpu_now();
    let load = {
        let api = api.clone();
        let processes = opts.processes;
        client_rt
            .spawn(async move { load(api, people, processes, window).await })
            .await??
    };
    stop_sampling.store(true, Ordering::Relaxed);
    let pg_waits = match sampler {
        Some(h) => Some(h.await?),
        None => None,
    };
    let last_step = Instant::now();
    // The background (notifications) may still be at work: it is part of
    // the cost, so wait for it before reading the CPU.
    let drained = wait_for_outbox(&db).await?;
    let drain_seconds = if drained {
        last_step.elapsed().as_secs_f64()
    } else {
        f64::NAN
    };
    let cpu_after = cpu_now();
    let load_write_tx = Counts::now(&db).write_tx - write_tx_before;
    let (pg_transactions, pg_backend_cpu_ms) = match (&probe, pg_before) {
        (Some(p), Some((tx_before, ticks_before))) => {
            tokio::time::sleep(Duration::from_secs(11)).await;
            let tx = p.transactions().await? - tx_before;
            let after = pid_ticks(&p.backends().await?);
            let used: u64 = after
                .iter()
                .map(|(pid, t)| t.saturating_sub(ticks_before.get(pid).copied().unwrap_or(0)))
                .sum();
            (Some(tx), Some(used as f64 * 1000.0 / TICKS_PER_SEC))
        }
        _ => (None, None),
    };
    drop(client_rt);
    let process_ms = (cpu_after.process - cpu_before.process) as f64 * 1000.0 / TICKS_PER_SEC;
    let client_ms =
        (cpu_after.client.saturating_sub(cpu_before.client)) as f64 * 1000.0 / TICKS_PER_SEC;
    let mut latency = BTreeMap::new();
    let mut requests = 0u64;
    for (step, mut took) in load.took {
        took.sort();
        requests += took.len() as u64;
        latency.insert(
            step,
            (
                percentile(&took, 0.5),
                percentile(&took, 0.99),
                took.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
            ),
        );
    }
    Ok(FunnelReport {
        database: if postgres {
            "PostgreSQL".into()
        } else {
            "SQLite".into()
        },
        processes: opts.processes,
        people: opts.people,
        window,
        calibration,
        seconds: load.seconds,
        requests,
        idle_polls: load.idle_polls,
        latency,
        server_cpu_ms: (process_ms - client_ms).max(0.0),
        client_cpu_ms: client_ms,
        drain_seconds,
        load_write_tx,
        pg_transactions,
        pg_backend_cpu_ms,
        pg_waits,
        loadavg,
    })
}

/// A message provider that accepts everything at once.
pub struct Sink;

#[engine::async_trait]
impl connectors::notify::Transport for Sink {
    fn name(&self) -> &'static str {
        "bench-sink"
    }

    async fn send(
        &self,
        _message: &connectors::notify::OutgoingMessage,
    ) -> Result<(), connectors::notify::DeliveryError> {
        Ok(())
    }
}

/// The client's runtime, shut down without waiting when dropped (it may be
/// dropped inside the server's runtime, where blocking is not allowed).
struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for ClientRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0
            .as_ref()
            .expect("the client runtime lives until dropped")
    }
}

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Waits (up to a minute) until no notification is queued; whether it got there.
async fn wait_for_outbox(db: &Db) -> anyhow::Result<bool> {
    for _ in 0..1200 {
        let queued: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE status = 'queued' AND attempts = 0",
        )
        .fetch_one(db.pool())
        .await?;
        if queued == 0 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(false)
}

struct LoadResult {
    seconds: f64,
    took: BTreeMap<Step, Vec<Duration>>,
    idle_polls: u64,
}

/// `processes` processes: starters file requests while fewer than `window`
/// are under way; each person works their inbox until every task is done.
async fn load(
    api: Arc<Integration>,
    people: Vec<Browser>,
    processes: usize,
    window: usize,
) -> anyhow::Result<LoadResult> {
    let total_tasks = (processes * HUMAN_STEPS) as u64;
    let room = Arc::new(Semaphore::new(window.max(1)));
    let started = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let idle = Arc::new(AtomicU64::new(0));
    let news = Arc::new(Notify::new());
    let begin = Instant::now();
    let mut handles = Vec::new();
    let starters = people.len().clamp(1, 8);
    for _ in 0..starters {
        let (api, room, started, news) = (api.clone(), room.clone(), started.clone(), news.clone());
        handles.push(tokio::spawn(async move {
            let mut timer = Timer::default();
            loop {
                let permit = room.acquire().await?;
                let n = started.fetch_add(1, Ordering::Relaxed);
                if n >= processes as u64 {
                    break;
                }
                // Released by the person who completes the last task.
                permit.forget();
                start_process(&api, n + 1, &mut timer).await?;
                news.notify_waiters();
            }
            anyhow::Ok((timer.took, 0u64))
        }));
    }
    for mut person in people {
        let (room, completed, idle, news) =
            (room.clone(), completed.clone(), idle.clone(), news.clone());
        handles.push(tokio::spawn(async move {
            let mut timer = Timer::default();
            let mut inbox: Option<String> = None;
            let mut polls = 0u64;
            while completed.load(Ordering::Relaxed) < total_tasks {
                let page = match inbox.take() {
                    Some(p) => p,
                    None => open_inbox(&mut person, &mut timer).await?,
                };
                let Some(id) = first_task(&page) else {
                    polls += 1;
                    idle.fetch_add(1, Ordering::Relaxed);
                    let _ = tokio::time::timeout(Duration::from_millis(20), news.notified()).await;
                    continue;
                };
                inbox = Some(do_task(&mut person, id, &mut timer).await?);
                let done = completed.fetch_add(1, Ordering::Relaxed) + 1;
                if done % HUMAN_STEPS as u64 == 0 {
                    room.add_permits(1);
                }
                news.notify_waiters();
            }
            anyhow::Ok((timer.took, polls))
        }));
    }
    let mut took: BTreeMap<Step, Vec<Duration>> = BTreeMap::new();
    let mut idle_polls = 0;
    for h in handles {
        let (t, polls) = h.await??;
        idle_polls += polls;
        for (step, mut d) in t {
            took.entry(step).or_default().append(&mut d);
        }
    }
    // Everyone has stopped: whatever waits for room may go.
    room.close();
    Ok(LoadResult {
        seconds: begin.elapsed().as_secs_f64(),
        took,
        idle_polls: idle.load(Ordering::Relaxed).max(idle_polls),
    })
}
