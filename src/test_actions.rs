//! Test-only actions (`PODRYAD_TEST_ACTIONS=1` only).
//!
//! `test.count` records its effect once per idempotency key and counts how
//! often it ran, so the harness can prove "at least once" runs produced
//! "exactly once" effects across kill -9 restarts.
//!
//! `test.outage` stands for a call to an outside system that is down: while
//! the table `test_outage` has a row it fails for good (no retries), and
//! once the row is gone it records its effect like `test.count`. The
//! administrators' problems page is tested with it: an action fails, the
//! cause is fixed, an administrator retries it.

use std::sync::Arc;

use engine::{ActionContext, ActionError, Db, EngineBuilder, action_fn};
use serde_json::json;

pub fn register(b: EngineBuilder, db: Db) -> EngineBuilder {
    let db = Arc::new(db);
    let outage_db = db.clone();
    b.action(
        "test.count",
        Some(&["n"]),
        action_fn(move |ctx: ActionContext| {
            let db = db.clone();
            async move {
                count(&db, &ctx)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({"n": ctx.params.get("n").cloned().unwrap_or_default()}))
            }
        }),
    )
    .action(
        "test.outage",
        None,
        action_fn(move |ctx: ActionContext| {
            let db = outage_db.clone();
            async move {
                if outside_down(&db)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?
                {
                    return Err(ActionError::Fail(
                        "the outside system is down (test_outage)".into(),
                    ));
                }
                count(&db, &ctx)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({}))
            }
        }),
    )
    .object_kind("crash")
}

/// Whether the test says the outside system is down (a row in `test_outage`).
async fn outside_down(db: &Db) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS test_outage (reason TEXT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM test_outage")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows > 0)
}

async fn count(db: &Db, ctx: &ActionContext) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS test_effects (idempotency_key TEXT PRIMARY KEY, instance_id BIGINT NOT NULL, runs BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO test_effects (idempotency_key, instance_id, runs) VALUES ($1, $2, 1)
         ON CONFLICT (idempotency_key) DO UPDATE SET runs = test_effects.runs + 1",
    )
    .bind(&ctx.idempotency_key)
    .bind(ctx.instance_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
