//! The database handle shared by the engine and the domain.
//!
//! One code path serves both databases through sqlx's `Any` driver, so SQL is
//! written once, in the portable subset both dialects understand (numbered
//! `$1` placeholders, `RETURNING`, `ON CONFLICT`). The few places that must
//! differ (row locking) ask [`Db::dialect`].
//!
//! Conventions every table follows, because `Any` only carries integers,
//! floats, text and blobs: ids are `BIGINT`/`INTEGER` (i64), times are UTC
//! milliseconds since the Unix epoch (i64, columns named `*_at`), money is
//! kopecks (i64), JSON is `TEXT`, and there are no boolean columns (a nullable
//! `*_at` time or a status text says more anyway).
//!
//! Reads and writes are different types. [`Db::read`] is a [`ReadPool`]
//! whose connections cannot write: SQLite read connections run with
//! `PRAGMA query_only = ON`, PostgreSQL read sessions are
//! `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY` (the seam where a
//! replica can go later). Every write goes through [`Db::begin`].
//!
//! SQLite allows one writer at a time. Rather than let concurrent deferred
//! transactions collide with `SQLITE_BUSY`, all writes go through a pool of a
//! single connection that opens transactions with `BEGIN IMMEDIATE`; reads use
//! the read pool and see committed data through WAL. Other processes on the
//! same file wait on SQLite's busy timeout. A write through the read pool
//! would bypass that single writer; `query_only` turns it into an error.

use std::any::{Any as AnyType, TypeId};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::ConnectOptions;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::clock::{Clock, SystemClock};

/// A write transaction.
pub type Tx = Transaction<'static, Any>;

/// Which SQL dialect the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Tuning for [`Db::connect`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections for reads (PostgreSQL: also for writes, in a pool of its own).
    pub max_connections: u32,
    /// SQLite `synchronous` pragma: `NORMAL` survives a process crash (the
    /// crash test checks it), `FULL` also survives power loss at a cost.
    pub sqlite_synchronous: String,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            sqlite_synchronous: "NORMAL".into(),
        }
    }
}

/// The pool for reads outside a transaction. Its connections refuse to
/// write (see the module docs); use it as a `&AnyPool` through `Deref` or
/// [`ReadPool::pool`].
#[derive(Clone, Debug)]
pub struct ReadPool(AnyPool);

impl ReadPool {
    pub fn pool(&self) -> &AnyPool {
        &self.0
    }
}

impl std::ops::Deref for ReadPool {
    type Target = AnyPool;
    fn deref(&self) -> &AnyPool {
        &self.0
    }
}

#[derive(Clone)]
pub struct Db {
    read: ReadPool,
    write: AnyPool,
    dialect: Dialect,
    clock: Arc<dyn Clock>,
    counter: Option<Arc<DbCounter>>,
    shared: Arc<Shared>,
}

/// Values shared by every clone of one [`Db`] (see [`Db::shared`]).
#[derive(Default)]
struct Shared(Mutex<HashMap<TypeId, Arc<dyn AnyType + Send + Sync>>>);

/// What a counted [`Db`] has done (see [`Db::connect_counted`]): the write
/// transactions it opened. Its statements are logged at `TRACE` under the
/// target `sqlx::query`, where a tracing layer can count them (the
/// `podryad` binary's `bench::sql_count`); no other database logs there.
#[derive(Debug, Default)]
pub struct DbCounter {
    write_transactions: AtomicU64,
}

impl DbCounter {
    /// Write transactions opened so far ([`Db::begin`]).
    pub fn write_transactions(&self) -> u64 {
        self.write_transactions.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect)
            .finish()
    }
}

/// The schema's migrations in both dialects. The engine owns none: its
/// tables are created by the application's migrations (the `podryad` crate
/// embeds `migrations/{sqlite,postgres}` and hands them over), because the
/// schema is one for the whole application.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

impl Migrations {
    /// The migrator of `dialect`.
    pub fn for_dialect(&self, dialect: Dialect) -> &'static Migrator {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`). A SQLite file and
    /// its folder are created when missing.
    pub async fn connect(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        Self::connect_inner(url, options, false).await
    }

    /// [`Db::connect`] for measuring what the application costs (`podryad
    /// bench funnel`, the cost-budget test): counts write transactions
    /// ([`Db::counter`]) and logs every statement at `TRACE` under the
    /// target `sqlx::query` for a counting tracing layer. A normal database
    /// pays neither.
    pub async fn connect_counted(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        Self::connect_inner(url, options, true).await
    }

    async fn connect_inner(url: &str, options: &DbOptions, counted: bool) -> anyhow::Result<Db> {
        install_default_drivers();
        // Pools ping a connection before handing it out only when it sat
        // idle for a while (sqlx pings every time by default): a ping is a
        // round trip to the database — on SQLite a hand-over to the
        // connection's thread and back — before every statement, for a check
        // that matters only after a database restart or a network cut. sqlx
        // still pings a connection when it goes back to the pool.
        let counter = counted.then(|| Arc::new(DbCounter::default()));
        let connect_options = |url: &str| -> anyhow::Result<AnyConnectOptions> {
            let o = AnyConnectOptions::from_str(url)?;
            Ok(if counted {
                o.log_statements(log::LevelFilter::Trace)
            } else {
                o
            })
        };
        if url.starts_with("sqlite:") {
            let url = ensure_sqlite_file(url)?;
            let sync = options.sqlite_synchronous.clone();
            anyhow::ensure!(
                ["OFF", "NORMAL", "FULL", "EXTRA"].contains(&sync.to_uppercase().as_str()),
                "unknown SQLite synchronous mode {sync:?}"
            );
            // Reads through a memory map skip a system call per page, and a
            // 16 MB page cache per connection keeps the hot indexes in
            // memory: matching a request reads a few thousand index entries
            // (`podryad bench matching`: p50 7 → 4 ms).
            let pragmas = format!(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = {sync};
                 PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16384;"
            );
            let pragmas = Arc::new(pragmas);
            let write = AnyPoolOptions::new()
                .test_before_acquire(false)
                .before_acquire(ping_if_idle)
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .after_connect({
                    let p = pragmas.clone();
                    move |conn, _meta| apply_pragmas(conn, p.clone())
                })
                .connect_with(connect_options(&url)?)
                .await?;
            // WAL is a property of the file: set once, kept by every later connection.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&write)
                .await?;
            let read_pragmas = Arc::new(format!("{pragmas} PRAGMA query_only = ON;"));
            let read = AnyPoolOptions::new()
                .test_before_acquire(false)
                .before_acquire(ping_if_idle)
                .max_connections(options.max_connections.max(2))
                .after_connect(move |conn, _meta| apply_pragmas(conn, read_pragmas.clone()))
                .connect_with(connect_options(&url)?)
                .await?;
            Ok(Db {
                read: ReadPool(read),
                write,
                dialect: Dialect::Sqlite,
                clock: Arc::new(SystemClock),
                counter,
                shared: Arc::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let write = AnyPoolOptions::new()
                .test_before_acquire(false)
                .before_acquire(ping_if_idle)
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect_options(url)?)
                .await?;
            let read_only =
                Arc::new("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY".to_string());
            let read = AnyPoolOptions::new()
                .test_before_acquire(false)
                .before_acquire(ping_if_idle)
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _meta| apply_pragmas(conn, read_only.clone()))
                .connect_with(connect_options(url)?)
                .await?;
            Ok(Db {
                read: ReadPool(read),
                write,
                dialect: Dialect::Postgres,
                clock: Arc::new(SystemClock),
                counter,
                shared: Arc::default(),
            })
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres: (got {url:?})")
        }
    }

    /// Replaces the clock (tests move time forward to fire timers).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Db {
        self.clock = clock;
        self
    }

    /// Applies `migrator`, which must be written in this database's dialect
    /// (see [`Migrations::for_dialect`]); the caller owns the migrations.
    pub async fn migrate(&self, migrator: &'static Migrator) -> anyhow::Result<()> {
        migrator.run(&self.write).await?;
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The read-only pool for reads outside a transaction.
    pub fn read(&self) -> &ReadPool {
        &self.read
    }

    /// The read-only pool as a plain `&AnyPool` (what sqlx's executors
    /// take); the same as `db.read().pool()`. Writes through it fail.
    pub fn pool(&self) -> &AnyPool {
        &self.read.0
    }

    /// Opens a write transaction. Never open a second one while holding one:
    /// on SQLite there is exactly one writer connection.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        if let Some(c) = &self.counter {
            c.write_transactions.fetch_add(1, Ordering::Relaxed);
        }
        match self.dialect {
            Dialect::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.write.begin().await,
        }
    }

    /// The value of type `T` that belongs to this database handle and its
    /// clones (created with `T::default()` on first use): in-process state
    /// that must follow the database rather than the process — several
    /// applications (tests) may run in one process, each on its own
    /// database. The domain keeps its session cache here.
    pub fn shared<T: AnyType + Send + Sync + Default>(&self) -> Arc<T> {
        let mut map = self.shared.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match entry.clone().downcast::<T>() {
            Ok(v) => v,
            // Stored under T's own TypeId, so it is a T.
            Err(_) => Arc::new(T::default()),
        }
    }

    /// The counter of a database opened with [`Db::connect_counted`].
    pub fn counter(&self) -> Option<&Arc<DbCounter>> {
        self.counter.as_ref()
    }

    /// The write connection for **one** statement that is atomic on its
    /// own (an `UPDATE … RETURNING`, an `INSERT`), run without
    /// `BEGIN`/`COMMIT` around it — two round trips fewer. Anything that
    /// needs two statements to agree takes a transaction ([`Db::begin`]).
    /// Counted as a write transaction, which it is. Like [`Db::begin`],
    /// never while holding a transaction: on SQLite there is one writer.
    pub async fn single_write(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        if let Some(c) = &self.counter {
            c.write_transactions.fetch_add(1, Ordering::Relaxed);
        }
        self.write.acquire().await
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Checks the database answers (readiness probe).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.read.0)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.0.close().await;
    }
}

/// How long a pooled connection may sit idle before it is pinged when
/// handed out again (see [`Db::connect`]).
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

fn ping_if_idle(
    conn: &mut sqlx::AnyConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for < PING_AFTER_IDLE {
            return Ok(true);
        }
        use sqlx::Connection;
        Ok(conn.ping().await.is_ok())
    })
}

/// Per-connection settings: SQLite pragmas (WAL itself is a property of the
/// file), or the read-only session of a PostgreSQL read connection.
fn apply_pragmas(
    conn: &mut sqlx::AnyConnection,
    pragmas: Arc<String>,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        conn.execute(sqlx::AssertSqlSafe((*pragmas).clone()))
            .await?;
        Ok(())
    })
}

/// Creates the folder of a SQLite file and asks sqlx to create the file.
fn ensure_sqlite_file(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        anyhow::bail!(
            "an in-memory SQLite database is not supported: every pool connection would see its own empty database"
        );
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(if rest.contains("mode=") {
        url.to_string()
    } else if rest.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// A UTC time as stored in the database: milliseconds since the Unix epoch.
pub fn to_db_time(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_db_time`].
pub fn from_db_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Creates database `name` on the PostgreSQL server of `admin_url`.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "bad database name {name:?}"
    );
    install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// Drops database `name` on the PostgreSQL server of `admin_url`, closing its
/// remaining connections.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "bad database name {name:?}"
    );
    install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}
