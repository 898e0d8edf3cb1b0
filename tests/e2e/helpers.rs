//! Starting the application for a test and talking to it.

use std::sync::Arc;

use engine::{Clock, Db, ManualClock};
use podryad::app::{AppOptions, RunningApp};
use podryad::config::Config;
use reqwest::cookie::CookieStore;
use reqwest::{Client, Response, StatusCode, redirect};

pub struct TestApp {
    pub app: Option<RunningApp>,
    pub base: String,
    pub clock: Arc<ManualClock>,
    /// Dropped with the app: removes the test's database.
    _database: TestDatabase,
}

/// A database that exists for one test and is removed afterwards.
struct TestDatabase {
    url: String,
    dir: Option<std::path::PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDatabase {
    async fn create() -> TestDatabase {
        let suffix = format!("{:016x}", rand_u64());
        match std::env::var("PODRYAD_TEST_DATABASE") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("podryad_e2e_{suffix}");
                engine::db::create_postgres_database(&admin, &name)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create a test database on {admin}: {e}"));
                TestDatabase {
                    url: engine::testing::replace_db_name(&admin, &name),
                    dir: None,
                    pg: Some((admin, name)),
                }
            }
            _ => {
                let dir = std::env::temp_dir().join(format!("podryad-e2e-{suffix}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                TestDatabase {
                    url: format!("sqlite://{}/podryad.db", dir.display()),
                    dir: Some(dir),
                    pg: None,
                }
            }
        }
    }
}

impl TestDatabase {
    fn files_dir(&self) -> std::path::PathBuf {
        match &self.dir {
            Some(d) => d.join("files"),
            None => std::env::temp_dir().join(format!("podryad-files-{:016x}", rand_u64())),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async move {
                        let _ = engine::db::drop_postgres_database(&admin, &name).await;
                    });
                }
            })
            .join();
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Logs of the application under test go to the test's output (shown
/// for failing tests); RUST_LOG picks the level, warnings by default.
fn init_test_logs() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter),
        )
        // Counts the statements of counted databases (the cost budget test).
        .with(podryad::bench::sql_count::layer())
        .try_init();
}

impl TestApp {
    /// A running application on a fresh database.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(false).await
    }

    /// The same, with the demo data and demo mode.
    pub async fn spawn_demo() -> TestApp {
        Self::spawn_with(true).await
    }

    /// The demo application with `connectors` for its outside systems.
    pub async fn spawn_demo_with_connectors(connectors: connectors::Connectors) -> TestApp {
        Self::spawn_inner(true, Some(connectors), None).await
    }

    /// An application (the demo's when `demo`) whose company registry is a
    /// fake DaData on loopback, key `test-key`; keep the fake alive with it.
    pub async fn spawn_with_fake_registry(demo: bool) -> (TestApp, fakes::FakeDadata) {
        let dadata = fakes::FakeDadata::start("test-key")
            .await
            .expect("fake DaData");
        let config = connectors::ConnectorsConfig {
            dadata: Some(dadata.config("test-key")),
            ..Default::default()
        };
        let connectors = connectors::Connectors::from_config(&config).expect("connectors");
        let app = Self::spawn_inner(demo, Some(connectors), None).await;
        (app, dadata)
    }

    /// The demo application reading the analysts' files from `workflows`
    /// (a changed copy of `workflows/`), as `PODRYAD_WORKFLOWS_DIR` would.
    pub async fn spawn_demo_with_workflows(workflows: std::path::PathBuf) -> TestApp {
        Self::spawn_inner(true, None, Some(workflows)).await
    }

    async fn spawn_with(demo: bool) -> TestApp {
        Self::spawn_inner(demo, None, None).await
    }

    /// A running application on a fresh database (no demo data) with
    /// settings changed by `change`.
    pub async fn spawn_configured(change: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_full(false, None, None, change).await
    }

    /// The demo application with settings changed by `change` (as the
    /// environment would change them).
    pub async fn spawn_demo_configured(change: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_full(true, None, None, change).await
    }

    async fn spawn_inner(
        demo: bool,
        outside: Option<connectors::Connectors>,
        workflows: Option<std::path::PathBuf>,
    ) -> TestApp {
        Self::spawn_full(demo, outside, workflows, |_| {}).await
    }

    async fn spawn_full(
        demo: bool,
        outside: Option<connectors::Connectors>,
        workflows: Option<std::path::PathBuf>,
        change: impl FnOnce(&mut Config),
    ) -> TestApp {
        init_test_logs();
        let database = TestDatabase::create().await;
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let mut config = Config::from_env(demo).expect("config");
        config.database_url = database.url.clone();
        config.bind = "127.0.0.1:0".parse().expect("addr");
        config.base_url = String::new();
        config.demo = demo;
        config.db_max_connections = 4;
        // Tests drive timers and actions themselves (`run_due`), so that what
        // they check does not race a background worker.
        config.workers = false;
        config.workflows_dir =
            workflows.unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/workflows").into());
        config.files_dir = database.files_dir();
        change(&mut config);
        if demo {
            let db = podryad::app::prepare_db(&config, Some(clock.clone() as Arc<dyn Clock>))
                .await
                .expect("database");
            podryad::demo::seed(&db).await.expect("demo data");
            db.close().await;
        }
        let app = RunningApp::start(
            config,
            AppOptions {
                clock: Some(clock.clone() as Arc<dyn Clock>),
                connectors: Some(outside.unwrap_or_else(connectors::Connectors::offline)),
                engine: None,
            },
        )
        .await
        .expect("the application starts");
        let base = app.base_url.clone();
        TestApp {
            app: Some(app),
            base,
            clock,
            _database: database,
        }
    }

    /// The test database's address, for running the binary's tools on it.
    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    pub fn db(&self) -> &Db {
        &self.app.as_ref().expect("running").db
    }

    /// The domain's actor of a demo person, signed in through the sign-in
    /// page: a test that calls the domain directly acts as the session
    /// lookup shows someone, never as an actor made up by hand.
    pub async fn actor(&self, login: &str) -> domain::access::Actor {
        let b = self.client();
        b.login(login, DEMO_PASSWORD).await;
        let token = b.cookie("podryad_session").expect("a session cookie");
        domain::accounts::actor_for_session(self.db(), &token)
            .await
            .expect("session lookup")
            .expect("signed in")
    }

    /// Fires due timers and runs due workflow actions now (the workers would
    /// do it a moment later; tests want it deterministic).
    pub async fn run_due(&self) {
        let app = self.app.as_ref().expect("running");
        app.services
            .engine
            .run_due_now()
            .await
            .expect("due work runs");
    }

    /// A browser-like client: keeps cookies, does not follow redirects (so
    /// tests can see them).
    pub fn client(&self) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            http,
            jar,
            base: self.base.clone(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }
}

/// One visitor's session.
pub struct Browser {
    pub http: Client,
    jar: Arc<reqwest::cookie::Jar>,
    pub base: String,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        let s = r.status();
        (s, r.text().await.expect("body"))
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().expect("url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// The CSRF token, fetching a page first if the browser has none yet.
    pub async fn csrf(&self) -> String {
        if let Some(t) = self.cookie("podryad_csrf") {
            return t;
        }
        let _ = self.get("/login").await;
        self.cookie("podryad_csrf")
            .expect("the server sets a CSRF cookie")
    }

    /// Follows a Post/Redirect/Get answer the way a browser does: it must
    /// be `303`; the page it points to is opened (with this browser's
    /// cookies) and returned.
    pub async fn follow(&self, r: Response) -> (StatusCode, String) {
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "Post/Redirect/Get");
        let to = location(&r);
        let to = to.strip_prefix(&self.base).unwrap_or(&to).to_string();
        self.get_text(&to).await
    }

    /// Submits a form the way a page does (with the CSRF token).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("_csrf", &token));
        self.http
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    /// Signs in and checks it worked.
    pub async fn login(&self, login: &str, password: &str) {
        let r = self
            .post_form("/login", &[("login", login), ("password", password)])
            .await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "sign-in as {login} should redirect"
        );
        assert!(
            self.cookie("podryad_session").is_some(),
            "a session cookie is set"
        );
    }
}

/// The `Location` header of a redirect.
pub fn location(r: &Response) -> String {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub const DEMO_PASSWORD: &str = podryad::demo::DEMO_PASSWORD;
