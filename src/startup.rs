//! Taking turns at start-up when several processes start on one database.
//!
//! Preparing the database is a sequence of steps that each look at what is
//! stored and then write: migrations, the broker's own organisation, the
//! workflows folder, watches for documents written without the app. Two
//! servers started at the same moment both saw "missing" and both wrote: on
//! SQLite the second one died applying a migration the first had just
//! applied ("table organisations already exists"), on PostgreSQL two broker
//! organisations appeared. Each step guarding itself is not enough (SQLite's
//! migrator takes no lock at all), so start-up as a whole takes a lock: the
//! second process waits, then finds everything in place.
//!
//! PostgreSQL: a session advisory lock on a connection of its own.
//! SQLite: an exclusive lock on a file beside the database
//! (`<database>-startup.lock`), since SQLite's own locks guard one
//! transaction, not a sequence of them. Either is released when the holder
//! ends, even by kill -9, so a crashed start never blocks the next one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use anyhow::Context;
use sqlx::Connection;

/// The advisory lock key (the bytes spell `podryad`).
const POSTGRES_KEY: i64 = 0x0070_6f64_7279_6164;

/// Held while this process prepares the database; see the module docs.
#[must_use = "the lock is released when dropped"]
pub struct StartupLock {
    // Closing the connection or the file lets go.
    postgres: Option<sqlx::AnyConnection>,
    _sqlite: Option<File>,
}

impl StartupLock {
    /// Waits until no other process is starting on `database_url`.
    pub async fn acquire(database_url: &str) -> anyhow::Result<StartupLock> {
        if database_url.starts_with("postgres") {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(database_url).await?;
            let free: i64 = sqlx::query_scalar(
                "SELECT CAST(CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END AS BIGINT)",
            )
            .bind(POSTGRES_KEY)
            .fetch_one(&mut conn)
            .await?;
            if free == 0 {
                tracing::info!("another server is starting on this database; waiting for it");
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_lock($1)) AS l")
                    .bind(POSTGRES_KEY)
                    .execute(&mut conn)
                    .await?;
            }
            Ok(StartupLock {
                postgres: Some(conn),
                _sqlite: None,
            })
        } else {
            let path = sqlite_lock_file(database_url)?;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .with_context(|| format!("cannot open the start-up lock {}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    tracing::info!("another process is starting on this database; waiting for it");
                    let file = file.try_clone()?;
                    tokio::task::spawn_blocking(move || file.lock()).await??;
                }
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| {
                        format!("cannot take the start-up lock {}", path.display())
                    });
                }
            }
            Ok(StartupLock {
                postgres: None,
                _sqlite: Some(file),
            })
        }
    }
}

impl StartupLock {
    /// Lets the next process go on. (Dropping the lock does too; this also
    /// closes the PostgreSQL connection politely.)
    pub async fn release(self) {
        if let Some(conn) = self.postgres
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the start-up lock's connection");
        }
    }
}

/// `<database file>-startup.lock` for a `sqlite:` URL.
fn sqlite_lock_file(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    anyhow::ensure!(
        !path.is_empty() && !path.contains(":memory:"),
        "an in-memory SQLite database is not supported"
    );
    let path = PathBuf::from(format!("{path}-startup.lock"));
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_lock_file_is_beside_the_database() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("data/podryad.db");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        assert_eq!(
            sqlite_lock_file(&url).expect("path"),
            PathBuf::from(format!("{}-startup.lock", db.display()))
        );
        assert!(dir.path().join("data").is_dir(), "its folder is created");
        assert!(sqlite_lock_file("sqlite::memory:").is_err());
    }

    /// A second process (here: a second open file) waits until the first
    /// lets go.
    #[tokio::test]
    async fn a_second_start_waits_for_the_first() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}/podryad.db", dir.path().display());
        let first = StartupLock::acquire(&url).await.expect("first");
        let second = tokio::spawn({
            let url = url.clone();
            async move { StartupLock::acquire(&url).await.map(|_| ()) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the second start waits");
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(5), second)
            .await
            .expect("the second start goes on once the first is done")
            .expect("task")
            .expect("lock");
    }
}
