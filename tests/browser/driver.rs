//! Starting chromedriver and the application, and the small vocabulary the
//! tests speak (sign in, click, read).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use podryad::app::{AppOptions, RunningApp};
use podryad::config::Config;
use serde_json::json;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether to run: the browser must be installed, or skipping asked for.
pub fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if present {
        return true;
    }
    if std::env::var("PODRYAD_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("browser tests skipped: PODRYAD_SKIP_BROWSER=1");
        return false;
    }
    panic!(
        "browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium and chromium-driver); \
         scripts/test installs them, or set PODRYAD_SKIP_BROWSER=1 to skip"
    );
}

/// A chromedriver process, stopped on drop.
pub struct Driver {
    child: Child,
    pub url: String,
    profile: std::path::PathBuf,
}

impl Driver {
    pub async fn start() -> Driver {
        podryad::app::install_crypto_provider();
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("podryad-chromium-{port}"));
        Driver {
            child,
            url,
            profile,
        }
    }

    /// A fresh headless browser window of the given size.
    pub async fn browser(&self, width: u32, height: u32) -> Client {
        self.open(width, height, false).await
    }

    /// A browser whose viewport is exactly `width` × `height` CSS pixels,
    /// as a phone's: a headless window is never narrower than about 500 px,
    /// so a 390 px window alone lays pages out wider than a phone does.
    pub async fn phone(&self, width: u32, height: u32) -> Client {
        self.open(width, height, true).await
    }

    async fn open(&self, width: u32, height: u32, emulate: bool) -> Client {
        let mut caps = serde_json::Map::new();
        let mut options = json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}-{}", self.profile.display(), rand_suffix()),
                ]
        });
        if emulate {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}});
        }
        caps.insert("goog:chromeOptions".into(), options);
        // Chromium now and then fails to come up on a loaded machine (the
        // session request errors): try again before calling it a failure.
        let mut last = None;
        for _ in 0..3 {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("a browser session: {last:?}")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The demo application on a fresh database (SQLite or PostgreSQL, as the
/// end-to-end suite).
pub struct DemoApp {
    pub app: RunningApp,
    _dir: Option<std::path::PathBuf>,
    pg: Option<(String, String)>,
}

impl DemoApp {
    pub async fn start() -> DemoApp {
        let suffix = format!("{:x}", rand_suffix());
        let (url, dir, pg) = match std::env::var("PODRYAD_TEST_DATABASE") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("podryad_br_{suffix}");
                engine::db::create_postgres_database(&admin, &name)
                    .await
                    .expect("test database");
                (
                    engine::testing::replace_db_name(&admin, &name),
                    None,
                    Some((admin, name)),
                )
            }
            _ => {
                let dir = std::env::temp_dir().join(format!("podryad-browser-{suffix}"));
                std::fs::create_dir_all(&dir).expect("dir");
                (
                    format!("sqlite://{}/demo.db", dir.display()),
                    Some(dir),
                    None,
                )
            }
        };
        let mut config = Config::from_env(true).expect("config");
        config.database_url = url;
        config.bind = "127.0.0.1:0".parse().expect("addr");
        config.base_url = String::new();
        config.workflows_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/workflows").into();
        config.files_dir = std::env::temp_dir().join(format!("podryad-browser-files-{suffix}"));
        let db = podryad::app::prepare_db(&config, None).await.expect("db");
        podryad::demo::seed(&db).await.expect("demo data");
        db.close().await;
        let app = RunningApp::start(config, AppOptions::default())
            .await
            .expect("app");
        DemoApp { app, _dir: dir, pg }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.app.base_url, path)
    }

    pub async fn stop(mut self) {
        let pg = self.pg.take();
        let dir = self._dir.take();
        self.app.stop().await;
        if let Some((admin, name)) = pg {
            let _ = engine::db::drop_postgres_database(&admin, &name).await;
        }
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Waits for an element and returns its text.
pub async fn text_of(b: &Client, css: &str) -> String {
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css} appears: {e}"))
        .text()
        .await
        .expect("text")
}

pub async fn click(b: &Client, css: &str) {
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css} appears: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Clicks something that loads a new page (a form's button, a link) and
/// waits until the new document has loaded, so what is read next comes from
/// the new page and not from the one being left (reading the old page's
/// heading, or an element of it going stale, made tests flaky).
pub async fn submit(b: &Client, css: &str) {
    b.execute("window.__podryadLeaving = true;", vec![])
        .await
        .expect("mark the page being left");
    click(b, css).await;
    for _ in 0..200 {
        let loaded = b
            .execute(
                "return window.__podryadLeaving === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if loaded {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {css} did not load a new page within 10 s");
}

pub async fn fill(b: &Client, css: &str, value: &str) {
    let el = b
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css} appears: {e}"));
    el.clear().await.ok();
    el.send_keys(value)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Waits until the page's path is `path`.
pub async fn wait_path(b: &Client, path: &str) {
    for _ in 0..100 {
        if b.current_url()
            .await
            .map(|u| u.path() == path)
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the browser did not reach {path}: it is at {:?}",
        b.current_url().await.map(|u| u.to_string())
    );
}
