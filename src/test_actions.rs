//! A counting action for the crash test (`PODRYAD_TEST_ACTIONS=1` only).
//!
//! `test.count` records its effect once per idempotency key and counts how
//! often it ran, so the harness can prove "at least once" runs produced
//! "exactly once" effects across kill -9 restarts.

use std::sync::Arc;

use engine::{ActionContext, ActionError, Db, EngineBuilder, action_fn};
use serde_json::json;

pub fn register(b: EngineBuilder, db: Db) -> EngineBuilder {
    let db = Arc::new(db);
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
    .object_kind("crash")
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
