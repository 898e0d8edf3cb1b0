//! The application's schema: `migrations/sqlite` and `migrations/postgres`
//! (the same schema, each in its own dialect), embedded at build time.
//!
//! The binary owns them rather than the engine, because the schema is the
//! whole application's (engine, domain, connectors); the engine is handed
//! them through [`engine::Db::migrate`].

use engine::{Db, Dialect, Migrations};
use sqlx::migrate::Migrator;

pub static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
pub static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Both dialects, for [`engine::testing::TestDb`] and the like.
pub static ALL: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// The migrator of `dialect`.
pub fn for_dialect(dialect: Dialect) -> &'static Migrator {
    ALL.for_dialect(dialect)
}

/// Applies every migration of `db`'s dialect.
pub async fn run(db: &Db) -> anyhow::Result<()> {
    db.migrate(for_dialect(db.dialect())).await
}
