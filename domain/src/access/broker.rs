//! The broker's own organisation: the tenant whose users are staff and
//! whose id the system actor acts for. It lives here, with the actors and
//! the tenancy scope, so every context may ask for it without depending on
//! `parties` (which creates the row, see `parties::orgs::ensure_broker`).

use engine::Db;

use crate::error::DomainResult;

/// The broker's organisation id; `None` before the first start created it.
/// Not cached: the row is created once at start, and tests run several
/// applications (each with its own database) in one process.
pub async fn broker_id(db: &Db) -> DomainResult<Option<i64>> {
    broker_id_on(db.pool()).await
}

/// [`broker_id`] on a given connection: inside a write transaction (a
/// step's local action, or `ensure_broker`'s re-check) it sees that
/// transaction's view.
pub async fn broker_id_on<'e, E>(conn: E) -> DomainResult<Option<i64>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_scalar(
            "SELECT id FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
        )
        .fetch_optional(conn)
        .await?,
    )
}
