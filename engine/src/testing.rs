//! A fresh, migrated database per test, on whichever database the suite runs.
//!
//! `PODRYAD_TEST_DATABASE` chooses: unset or `sqlite` gives a SQLite file in a
//! temporary folder; a `postgres://…` URL (an administrative connection, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`) gives a new database that is
//! dropped when the [`TestDb`] is dropped.

use std::sync::Arc;

use crate::clock::ManualClock;
use crate::db::{Db, DbOptions, Migrations};

pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile_dir::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    /// A database migrated with the caller's `migrations`, with the system clock.
    pub async fn new(migrations: &Migrations) -> TestDb {
        Self::create(migrations, None).await
    }

    /// A database migrated with the caller's `migrations`, whose clock is `clock`.
    pub async fn with_clock(migrations: &Migrations, clock: Arc<ManualClock>) -> TestDb {
        Self::create(migrations, Some(clock)).await
    }

    /// True when the suite runs on PostgreSQL.
    pub fn is_postgres() -> bool {
        target().is_some()
    }

    async fn create(migrations: &Migrations, clock: Option<Arc<ManualClock>>) -> TestDb {
        let (url, dir, pg_admin) = match target() {
            None => {
                let dir = tempfile_dir::TempDir::new();
                let url = format!("sqlite://{}/test.db", dir.path().display());
                (url, Some(dir), None)
            }
            Some(admin) => {
                let name = format!("podryad_t_{}", random_suffix());
                crate::db::create_postgres_database(&admin, &name)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database on {admin}: {e}"));
                let url = replace_db_name(&admin, &name);
                (url, None, Some((admin, name)))
            }
        };
        let mut db = Db::connect(
            &url,
            &DbOptions {
                max_connections: 8,
                ..DbOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        if let Some(clock) = clock {
            db = db.with_clock(clock);
        }
        db.migrate(migrations.for_dialect(db.dialect()))
            .await
            .expect("migrations apply");
        TestDb {
            db,
            url,
            _dir: dir,
            pg_admin,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_admin.take() {
            // Drop runs outside async context; use a short-lived runtime on a thread.
            // The test's pool is not closed from there: its sockets belong to the
            // test's runtime, which is blocked on this very drop under
            // `#[tokio::test]` (current-thread), so closing would hang.
            // `DROP DATABASE … WITH (FORCE)` ends those connections instead.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        let _ = crate::db::drop_postgres_database(&admin, &name).await;
                    });
                }
            })
            .join();
        }
    }
}

fn target() -> Option<String> {
    match std::env::var("PODRYAD_TEST_DATABASE") {
        Ok(v) if v.starts_with("postgres") => Some(v),
        _ => None,
    }
}

/// The URL of database `name` on the server of `admin_url`.
pub fn replace_db_name(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// A temporary folder removed on drop (kept tiny to avoid a dependency).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            let path =
                std::env::temp_dir().join(format!("podryad-test-{}", super::random_suffix()));
            std::fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
