//! Crash tests against the real `podryad` server process.
//!
//! - [`kills`]: the server is killed with SIGKILL at random moments, round
//!   after round, while a burst runs through it: the engine's own test
//!   workflow (events, a timer, actions), the real request workflow (requests
//!   filed through the API as an integration would, then qualified and closed
//!   through the task pages by a signed-in manager, so task mail is queued),
//!   and a workflow whose external actions call a fake payment provider over
//!   loopback HTTP. After recovery every instance has finished, every
//!   notification was queued exactly once, and every external effect was
//!   applied once — a repeated call carried the same idempotency key.
//! - [`two_servers`]: `podryad serve` processes started at the same moment on
//!   a fresh database all come up and prepare it once; then two of them, a
//!   third starting while an analyst activates versions, and a burst through
//!   both: every process finishes, every action runs once, every timer fires
//!   once.
//!
//! CI runs short versions (20–40 s per database on two cores). Longer:
//! `PODRYAD_CRASH_ROUNDS=50 PODRYAD_STARTUP_TRIES=20 PODRYAD_TWO_SERVERS_BURST=2000 cargo test --release --test crash -- --nocapture`
//! (add `PODRYAD_TEST_DATABASE=postgres://…` for PostgreSQL).

mod checks;
mod drivers;
mod edo;
mod kills;
mod provider;
mod two_servers;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_podryad");

/// The manager who works the request tasks (and is told about them).
pub const MANAGER_EMAIL: &str = "manager@crash.test";
pub const ANALYST_EMAIL: &str = "analyst@crash.test";
pub const PASSWORD: &str = "crash-test-password";
/// Links in mail point here (a fixed address, whatever port a server has).
pub const BASE_URL: &str = "http://crash.test";

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic random source (seeded from the clock, printed).
pub struct Rng(pub u64);

impl Rng {
    pub fn seeded() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A scratch database and folder for one test, and how to run the binary on them.
pub struct Setup {
    pub dir: PathBuf,
    pub url: String,
    pg: Option<(String, String)>,
    /// `PODRYAD_ACTION_LEASE_SECS` for servers (None: the default).
    pub lease_secs: Option<u64>,
    pub provider_url: String,
    /// More environment for the binary (an EDO operator's settings).
    pub env: Vec<(String, String)>,
}

impl Setup {
    pub async fn new(name: &str, provider_url: &str) -> Setup {
        let suffix = format!(
            "{}_{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        let dir = std::env::temp_dir().join(format!("podryad-{name}-{suffix}"));
        std::fs::create_dir_all(dir.join("workflows")).expect("dir");
        copy_dir(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows")),
            &dir.join("workflows"),
        );
        for file in ["crash_test.yaml", "crash_provider.yaml"] {
            std::fs::copy(
                Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crash")).join(file),
                dir.join("workflows").join(file),
            )
            .expect("copy a crash workflow");
        }
        let (url, pg) = match std::env::var("PODRYAD_TEST_DATABASE") {
            Ok(admin) if admin.starts_with("postgres") => {
                let db = format!("podryad_{name}_{suffix}");
                engine::db::create_postgres_database(&admin, &db)
                    .await
                    .expect("scratch database");
                (
                    engine::testing::replace_db_name(&admin, &db),
                    Some((admin, db)),
                )
            }
            _ => (format!("sqlite://{}/podryad.db", dir.display()), None),
        };
        Setup {
            dir,
            url,
            pg,
            lease_secs: None,
            provider_url: provider_url.to_string(),
            env: Vec::new(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    pub fn command(&self, args: &[&str], port: u16) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("DATABASE_URL", &self.url)
            .env("PODRYAD_WORKFLOWS_DIR", self.dir.join("workflows"))
            .env("PODRYAD_FILES_DIR", self.dir.join("files"))
            .env("PODRYAD_BIND", format!("127.0.0.1:{port}"))
            .env("PODRYAD_BASE_URL", BASE_URL)
            .env("PODRYAD_TEST_ACTIONS", "1")
            .env("PODRYAD_TEST_PROVIDER_URL", &self.provider_url)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(secs) = self.lease_secs {
            c.env("PODRYAD_ACTION_LEASE_SECS", secs.to_string());
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Runs a command of the binary to its end; panics unless it succeeds.
    pub async fn run(&self, args: &[&str]) -> String {
        let out = self
            .command(args, free_port())
            .output()
            .await
            .expect("the command runs");
        assert!(
            out.status.success(),
            "podryad {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub async fn token(&self, scopes: &[&str]) -> String {
        let mut args = vec!["token", "create", "--name", "crash test"];
        for s in scopes {
            args.extend(["--scope", s]);
        }
        self.run(&args).await
    }

    pub async fn user(&self, email: &str, role: &str) {
        self.run(&[
            "user",
            "add",
            "--name",
            "Мария Кузнецова",
            "--email",
            email,
            "--role",
            role,
            "--password",
            PASSWORD,
        ])
        .await;
    }

    pub async fn connect(&self) -> engine::Db {
        engine::Db::connect(
            &self.url,
            &engine::DbOptions {
                max_connections: 2,
                ..Default::default()
            },
        )
        .await
        .expect("connect")
    }

    pub async fn cleanup(self) {
        if let Some((admin, name)) = self.pg {
            let _ = engine::db::drop_postgres_database(&admin, &name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read workflows") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// A running `podryad serve`.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `podryad serve` (with `workflows` as its folder when given)
    /// and waits until it answers `/readyz`; panics with its log if it dies.
    pub async fn start(setup: &Setup, name: &str, workflows: Option<&Path>) -> Server {
        Server::start_command(setup, name, "serve", workflows).await
    }

    /// [`Server::start`] of `podryad <command>` (`serve`, `demo`).
    pub async fn start_command(
        setup: &Setup,
        name: &str,
        command: &str,
        workflows: Option<&Path>,
    ) -> Server {
        let port = free_port();
        let log = setup.dir.join(format!("{name}-{port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = setup.command(&[command], port);
        if let Some(w) = workflows {
            command.env("PODRYAD_WORKFLOWS_DIR", w);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the server starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "server {name} exited at start ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                return Server { child, base, log };
            }
            assert!(
                Instant::now() < deadline,
                "server {name} did not become ready:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }
}

/// A signed-in browser: keeps cookies, sends the CSRF token like a page.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Browser { http, jar }
    }

    fn cookie(&self, base: &str, name: &str) -> Option<String> {
        let url = base.parse().ok()?;
        let header = reqwest::cookie::CookieStore::cookies(&*self.jar, &url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// Posts a form with the CSRF token; `Err` when the server is gone.
    pub async fn post_form(
        &self,
        base: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        if self.cookie(base, "podryad_csrf").is_none() {
            self.http.get(format!("{base}/login")).send().await?;
        }
        let token = self.cookie(base, "podryad_csrf").unwrap_or_default();
        let mut all = fields.to_vec();
        all.push(("_csrf", &token));
        self.http
            .post(format!("{base}{path}"))
            .form(&all)
            .send()
            .await
    }

    /// Signs in; `false` when the server did not let us (or is gone).
    pub async fn login(&self, base: &str, email: &str) -> bool {
        self.login_with(base, email, PASSWORD).await
    }

    /// Signs in with another password (a demo account's).
    pub async fn login_with(&self, base: &str, email: &str, password: &str) -> bool {
        matches!(
            self.post_form(base, "/login", &[("login", email), ("password", password)]).await,
            Ok(r) if r.status().as_u16() == 303
        )
    }
}
