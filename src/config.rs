//! Configuration from the environment (and command-line flags, which win).
//! With nothing set, Podryad runs on a SQLite file under `./data`.

use std::net::SocketAddr;

use anyhow::Context;

/// Everything the application needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub bind: SocketAddr,
    /// The public address used in links (e-mails, SMS); defaults to the bind address.
    pub base_url: String,
    pub demo: bool,
    pub timezone: chrono_tz::Tz,
    pub trust_forwarded_for: bool,
    pub sqlite_synchronous: String,
    pub db_max_connections: u32,
    /// Where the analysts' YAML lives.
    pub workflows_dir: std::path::PathBuf,
    /// Where uploaded files are kept (local storage).
    pub files_dir: std::path::PathBuf,
    /// Register the crash test's actions (`PODRYAD_TEST_ACTIONS=1`).
    pub test_actions: bool,
    /// Where the crash test's external action `test.provider` calls its fake
    /// provider (`PODRYAD_TEST_PROVIDER_URL`; only with test actions).
    pub test_provider_url: Option<String>,
    /// How long an outbox worker holds an action before another may retry it
    /// (`PODRYAD_ACTION_LEASE_SECS`, default 300).
    pub action_lease_secs: u64,
    /// How often the workers read the EDO operators' event feeds
    /// (`PODRYAD_EDO_POLL_SECS`, default 60; only with an operator configured).
    pub edo_poll_secs: u64,
    /// Run background workers in this process (on by default; turn off for
    /// web-only instances when workers run elsewhere).
    pub workers: bool,
    /// Submissions of the public request form per client address
    /// (`PODRYAD_PUBLIC_RATE_LIMIT`, e.g. `10/10m`, the default).
    pub public_rate_limit: domain::rate_limit::Limit,
    /// The same public submission again within this window is the same
    /// request (`PODRYAD_DUPLICATE_WINDOW`, e.g. `10m`, the default; `0` off).
    pub duplicate_window: chrono::Duration,
    /// Sites that may show the embeddable request form in an iframe: CSP
    /// `frame-ancestors` sources (`PODRYAD_FRAME_ANCESTORS`, e.g.
    /// `https://example.ru https://*.example.ru`; default `*`, anyone).
    pub frame_ancestors: String,
    /// Addresses allowed to read `/metrics` without a token
    /// (`PODRYAD_METRICS_ALLOW`, comma-separated; default loopback only).
    /// Others need a bearer token with the `metrics` scope.
    pub metrics_allow: Vec<std::net::IpAddr>,
    /// Count the database work (write transactions, statements) for
    /// `podryad bench funnel` and the cost-budget test; never from the
    /// environment (see [`engine::Db::connect_counted`]).
    pub count_db: bool,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/podryad.db";
pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo.db";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_flag(name: &str) -> bool {
    env(name).is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

impl Config {
    /// Reads the environment; `demo` switches the default database to the
    /// demo file and turns demo mode on.
    pub fn from_env(demo: bool) -> anyhow::Result<Config> {
        let database_url = env("DATABASE_URL").unwrap_or_else(|| {
            if demo {
                DEMO_DATABASE_URL
            } else {
                DEFAULT_DATABASE_URL
            }
            .to_string()
        });
        let bind: SocketAddr = env("PODRYAD_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("PODRYAD_BIND must be an address like 127.0.0.1:8080")?;
        let timezone = env("PODRYAD_TIMEZONE")
            .unwrap_or_else(|| "Europe/Moscow".into())
            .parse()
            .map_err(|e| anyhow::anyhow!("PODRYAD_TIMEZONE: {e}"))?;
        Ok(Config {
            database_url,
            bind,
            base_url: env("PODRYAD_BASE_URL").unwrap_or_default(),
            demo: demo || env_flag("PODRYAD_DEMO"),
            timezone,
            trust_forwarded_for: env_flag("PODRYAD_TRUST_FORWARDED_FOR"),
            sqlite_synchronous: env("PODRYAD_SQLITE_SYNCHRONOUS")
                .unwrap_or_else(|| "NORMAL".into()),
            db_max_connections: env("PODRYAD_DB_MAX_CONNECTIONS")
                .map(|v| v.parse())
                .transpose()
                .context("PODRYAD_DB_MAX_CONNECTIONS must be a number")?
                .unwrap_or(16),
            workflows_dir: env("PODRYAD_WORKFLOWS_DIR")
                .unwrap_or_else(|| "workflows".into())
                .into(),
            files_dir: env("PODRYAD_FILES_DIR")
                .unwrap_or_else(|| "data/files".into())
                .into(),
            test_actions: env_flag("PODRYAD_TEST_ACTIONS"),
            test_provider_url: env("PODRYAD_TEST_PROVIDER_URL"),
            action_lease_secs: env("PODRYAD_ACTION_LEASE_SECS")
                .map(|v| v.parse())
                .transpose()
                .context("PODRYAD_ACTION_LEASE_SECS must be a number of seconds")?
                .unwrap_or(300),
            edo_poll_secs: env("PODRYAD_EDO_POLL_SECS")
                .map(|v| v.parse())
                .transpose()
                .context("PODRYAD_EDO_POLL_SECS must be a number of seconds")?
                .unwrap_or(60),
            workers: env("PODRYAD_WORKERS")
                .is_none_or(|v| !matches!(v.as_str(), "0" | "false" | "off")),
            public_rate_limit: match env("PODRYAD_PUBLIC_RATE_LIMIT") {
                Some(v) => domain::rate_limit::Limit::parse(&v).with_context(|| {
                    format!("PODRYAD_PUBLIC_RATE_LIMIT must look like 10/10m, not {v:?}")
                })?,
                None => domain::rate_limit::Limit {
                    limit: 10,
                    window: chrono::Duration::minutes(10),
                },
            },
            duplicate_window: match env("PODRYAD_DUPLICATE_WINDOW") {
                Some(v) if v.trim() == "0" => chrono::Duration::zero(),
                Some(v) => domain::rate_limit::Limit::parse(&format!("1/{}", v.trim()))
                    .map(|l| l.window)
                    .with_context(|| {
                        format!("PODRYAD_DUPLICATE_WINDOW must look like 10m or 1h, not {v:?}")
                    })?,
                None => chrono::Duration::minutes(domain::intake::DEFAULT_DUPLICATE_WINDOW_MINUTES),
            },
            frame_ancestors: {
                let v = env("PODRYAD_FRAME_ANCESTORS").unwrap_or_else(|| "*".into());
                anyhow::ensure!(
                    v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || " :/.*-_'".contains(c)),
                    "PODRYAD_FRAME_ANCESTORS must be CSP sources separated by spaces, not {v:?}"
                );
                v.trim().to_string()
            },
            metrics_allow: match env("PODRYAD_METRICS_ALLOW") {
                Some(v) => v
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        a.parse().with_context(|| {
                            format!("PODRYAD_METRICS_ALLOW must list IP addresses, not {a:?}")
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
                None => vec![
                    std::net::IpAddr::from([127, 0, 0, 1]),
                    std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                ],
            },
            count_db: false,
        })
    }

    /// The base URL for links: configured, or derived from the bound address.
    pub fn base_url_for(&self, bound: SocketAddr) -> String {
        if self.base_url.is_empty() {
            format!("http://{bound}")
        } else {
            self.base_url.trim_end_matches('/').to_string()
        }
    }
}
