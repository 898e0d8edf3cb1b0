//! The audit trail of changes outside workflow history (which the engine
//! keeps): who did what to which object, and when.

use engine::to_db_time;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::access::Actor;

/// Records on `tx`, a connection inside the caller's transaction (a
/// `&mut Tx` coerces to it; a local workflow action passes the step's).
pub async fn record(
    tx: &mut AnyConnection,
    now: chrono::DateTime<chrono::Utc>,
    actor: Option<&Actor>,
    action: &str,
    object_type: &str,
    object_id: Option<i64>,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, org_id, action, object_type, object_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(to_db_time(now))
    .bind(actor.and_then(|a| a.user()))
    .bind(actor.map(|a| a.org_id()))
    .bind(action)
    .bind(object_type)
    .bind(object_id)
    .bind(details.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
