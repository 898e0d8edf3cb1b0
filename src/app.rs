//! Starting and stopping the whole application: database (migrated),
//! broker organisation, background workers and the web server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use engine::{Clock, Db, DbOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::startup::StartupLock;

/// What tests may replace.
#[derive(Default)]
pub struct AppOptions {
    /// A clock tests move by hand.
    pub clock: Option<Arc<dyn Clock>>,
    /// Outside systems (tests point them at fake servers); default: from the
    /// environment.
    pub connectors: Option<connectors::Connectors>,
    /// Engine tuning (tests shorten retries).
    pub engine: Option<engine::EngineConfig>,
}

/// A running application.
pub struct RunningApp {
    pub addr: SocketAddr,
    pub base_url: String,
    pub db: Db,
    pub services: domain::services::Services,
    pub state: web::AppState,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Connects to the database, applies migrations and makes sure the broker's
/// own organisation exists — in turn with other processes starting on the
/// same database ([`StartupLock`]).
pub async fn prepare_db(config: &Config, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Db> {
    let startup = StartupLock::acquire(&config.database_url).await?;
    let db = prepare_db_in_turn(config, clock).await;
    startup.release().await;
    db
}

/// [`prepare_db`] for a caller that holds the start-up lock.
async fn prepare_db_in_turn(config: &Config, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Db> {
    let options = DbOptions {
        max_connections: config.db_max_connections,
        sqlite_synchronous: config.sqlite_synchronous.clone(),
    };
    let mut db = if config.count_db {
        Db::connect_counted(&config.database_url, &options).await?
    } else {
        Db::connect(&config.database_url, &options).await?
    };
    if let Some(clock) = clock {
        db = db.with_clock(clock);
    }
    crate::migrations::run(&db).await?;
    domain::parties::orgs::ensure_broker(&db).await?;
    domain::search::index_missing(&db).await?;
    domain::search::index_missing_terms(&db).await?;
    Ok(db)
}

impl RunningApp {
    /// Starts everything and returns once the server listens.
    pub async fn start(config: Config, options: AppOptions) -> anyhow::Result<RunningApp> {
        install_crypto_provider();
        // Everything up to the workers writes what "is missing": another
        // server starting now waits until this one is done.
        let startup = StartupLock::acquire(&config.database_url).await?;
        let db = prepare_db_in_turn(&config, options.clock).await?;
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let base_url = config.base_url_for(addr);
        let connectors = match options.connectors {
            Some(c) => c,
            None => connectors::Connectors::from_env()?,
        };
        let texts = Arc::new(web::i18n::Catalogue::russian()?);
        let catalogue = crate::workflows::Catalogues::load(&config.workflows_dir)?;
        let cell: domain::services::ServicesCell = Arc::new(std::sync::OnceLock::new());
        let mut builder = domain::engine_builder(db.clone(), cell.clone());
        if config.test_actions {
            builder = crate::test_actions::register(
                builder,
                db.clone(),
                config.test_provider_url.clone(),
            );
        }
        let engine_config = options.engine.unwrap_or_else(|| engine::EngineConfig {
            lease: std::time::Duration::from_secs(config.action_lease_secs.max(1)),
            ..Default::default()
        });
        let engine = builder
            .calendars(catalogue.calendars.clone())
            .timezone(config.timezone)
            .config(engine_config)
            .build();
        // A broken workflow file is refused and logged; its key keeps the
        // version that was active, so the server still starts.
        let (loaded, refused) = engine
            .load_dir_keeping_good(&catalogue.dir, None)
            .await
            .map_err(|e| anyhow::anyhow!("workflows in {}: {e}", catalogue.dir.display()))?;
        for problem in &refused {
            tracing::error!(%problem, "workflow file refused; the active version stays");
        }
        for f in loaded
            .iter()
            .filter(|f| f.action != engine::versions::LoadAction::Unchanged)
        {
            tracing::info!(
                file = f.file,
                key = f.key,
                version = f.version,
                "workflow definition activated"
            );
        }
        let sender =
            domain::notify::NotificationSender::new(db.clone(), connectors.transports.clone());
        let services = domain::services::Services {
            db: db.clone(),
            engine: engine.clone(),
            files: domain::files::Files::local(&config.files_dir),
            registry: connectors.registry.clone(),
            geocoder: connectors.geocoder.clone(),
            texts: texts.clone(),
            equipment: Arc::new(catalogue.equipment),
            request_types: Arc::new(catalogue.request_types),
            base_url: base_url.clone(),
            notifier: Some(sender.waker()),
            edo: connectors.edo.clone(),
        };
        let _ = cell.set(services.clone());
        // Documents written without the app (demo seed, imports) get their
        // expiry watches now.
        domain::fleet::garage::ensure_document_watches(&services).await?;
        if config.demo {
            crate::demo::seed_live(&services).await?;
        }
        startup.release().await;

        let demo_accounts = if config.demo {
            crate::demo::accounts()
                .into_iter()
                .map(|a| web::DemoAccount {
                    login: a.email.to_string(),
                    password: crate::demo::DEMO_PASSWORD.to_string(),
                    role: a.role.as_str().to_string(),
                    name: a.full_name.to_string(),
                    org: a.org_name.to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let web_config = web::WebConfig {
            base_url: base_url.clone(),
            demo: config.demo,
            secure_cookies: base_url.starts_with("https://"),
            trust_forwarded_for: config.trust_forwarded_for,
            timezone: config.timezone,
            demo_accounts,
            public_rate_limit: config.public_rate_limit,
            duplicate_window: config.duplicate_window,
            frame_ancestors: config.frame_ancestors.clone(),
            metrics_allow: config.metrics_allow.clone(),
            telegram_bot: connectors
                .telegram_inbox
                .as_ref()
                .map(|(_, bot)| bot.clone()),
            workflows_dir: Some(catalogue.dir.clone()),
        };
        let state = web::AppState::new(
            services.clone(),
            texts,
            web_config,
            crate::telemetry::metrics_handle(),
        )?;
        state.refresh_labels().await;
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let router = web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let token = shutdown.clone();
        let bell = state.bell.clone();
        tasks.push(tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    token.cancelled().await;
                    // Open notification streams end, or the graceful
                    // shutdown would wait for them forever.
                    bell.close();
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "web server stopped with an error");
            }
        }));

        // On PostgreSQL, session answers are cached only while this hears
        // other servers' changes (domain::accounts::session_cache).
        {
            let (db, url, token) = (db.clone(), config.database_url.clone(), shutdown.clone());
            tasks.push(tokio::spawn(async move {
                domain::accounts::session_cache::listen(db, url, token).await
            }));
        }
        if config.workers {
            tasks.extend(engine.spawn_workers(shutdown.clone()));
            let token = shutdown.clone();
            tasks.push(tokio::spawn(async move { sender.run(token).await }));
            if !connectors.edo.is_empty() {
                let token = shutdown.clone();
                let services = services.clone();
                let every = Duration::from_secs(config.edo_poll_secs.max(1));
                tasks.push(tokio::spawn(async move {
                    read_edo(services, every, token).await
                }));
            }
            if let Some((inbox, _)) = connectors.telegram_inbox.clone() {
                let token = shutdown.clone();
                let services = services.clone();
                tasks.push(tokio::spawn(async move {
                    read_telegram(services, inbox, token).await
                }));
            }
        }
        tracing::info!(%addr, database = db_kind(&config.database_url), "Podryad is listening");
        Ok(RunningApp {
            addr,
            base_url,
            db,
            services,
            state,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting requests, lets running ones finish, stops workers.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        self.db.close().await;
    }

    /// Runs until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

/// Chooses rustls' crypto backend for the process. Two are linked (sqlx
/// brings ring, reqwest aws-lc-rs), and TLS clients that ask for "the
/// default" (SMTP, WebDriver) would otherwise panic. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn db_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Reads what people write to the Telegram bot (linking their chats) by
/// long polling until shutdown; after an error it waits before trying again.
async fn read_telegram(
    services: domain::services::Services,
    inbox: Arc<connectors::notify::telegram::TelegramInbox>,
    shutdown: CancellationToken,
) {
    let mut offset = 0;
    loop {
        let step =
            domain::accounts::telegram::poll(&services, &inbox, offset, Duration::from_secs(25));
        let pause = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = step => match result {
                Ok(next) => {
                    // A real long poll waits on Telegram's side; an answer
                    // that comes back at once must not spin this loop.
                    let pause = if next == offset { Duration::from_secs(1) } else { Duration::ZERO };
                    offset = next;
                    pause
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the Telegram bot failed; retrying in 30 s");
                    Duration::from_secs(30)
                }
            },
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Reads the EDO operators' event feeds every `every` until shutdown (the
/// cursors are in the database, so a restart goes on where this stopped);
/// a page with more after it is read again at once by `poll` itself.
async fn read_edo(
    services: domain::services::Services,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            result = domain::signing::edo::poll(&services) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "reading the EDO operators' events failed");
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
