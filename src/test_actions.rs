//! Actions for the crash test (`PODRYAD_TEST_ACTIONS=1` only).
//!
//! - `test.count` records its effect once per idempotency key in our own
//!   database and counts how often it ran, so the harness can prove that
//!   "at least once" runs left one effect per key across kill -9 restarts.
//! - `test.provider` is a real external action: it calls a payment-like
//!   provider over HTTP (`PODRYAD_TEST_PROVIDER_URL`; the crash test starts a
//!   fake one on loopback) with the engine's idempotency key in the
//!   `Idempotency-Key` header, and returns the provider's answer, which the
//!   engine stores on the outbox row. The provider applies each key once, so
//!   the harness can tell "applied once" from "called once".
//! - `test.outage` stands for a call to an outside system that is down:
//!   while the table `test_outage` has a row it fails for good (no
//!   retries), and once the row is gone it records its effect like
//!   `test.count`. The administrators' problems page is tested with it.

use std::sync::Arc;
use std::time::Duration;

use engine::{
    ActionContext, ActionError, ActionHandler, Db, EngineBuilder, action_fn, async_trait,
};
use serde_json::{Value, json};

pub fn register(b: EngineBuilder, db: Db, provider_url: Option<String>) -> EngineBuilder {
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
        "test.provider",
        Some(&["op", "amount"]),
        Arc::new(Provider::new(provider_url)),
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
        "CREATE TABLE IF NOT EXISTS test_effects (idempotency_key TEXT PRIMARY KEY, instance_id BIGINT NOT NULL, runs BIGINT NOT NULL, pid BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    // `pid`: the process of the first run (the two-servers test checks that
    // both servers did work).
    sqlx::query(
        "INSERT INTO test_effects (idempotency_key, instance_id, runs, pid) VALUES ($1, $2, 1, $3)
         ON CONFLICT (idempotency_key) DO UPDATE SET runs = test_effects.runs + 1",
    )
    .bind(&ctx.idempotency_key)
    .bind(ctx.instance_id)
    .bind(i64::from(std::process::id()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The client of the test provider.
struct Provider {
    http: reqwest::Client,
    url: Option<String>,
}

impl Provider {
    fn new(url: Option<String>) -> Provider {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Provider {
            http,
            url: url.map(|u| u.trim_end_matches('/').to_string()),
        }
    }
}

#[async_trait]
impl ActionHandler for Provider {
    async fn run(&self, ctx: ActionContext) -> Result<Value, ActionError> {
        let Some(url) = &self.url else {
            return Err(ActionError::Fail(
                "no test provider configured (PODRYAD_TEST_PROVIDER_URL)".into(),
            ));
        };
        let body = json!({
            "instance_id": ctx.instance_id,
            "object_id": ctx.object.id,
            "op": ctx.params.get("op").cloned().unwrap_or_default(),
            "amount": ctx.params.get("amount").cloned().unwrap_or_default(),
        });
        // The same key on every attempt: a retry after a lost answer, an
        // expired lease or a killed process is the same request to the
        // provider, which answers it from what it stored the first time.
        let answer = self
            .http
            .post(format!("{url}/effects"))
            .header("Idempotency-Key", &ctx.idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| ActionError::Retry(format!("provider unreachable: {e}")))?;
        let status = answer.status();
        if status.is_success() {
            return answer
                .json::<Value>()
                .await
                .map_err(|e| ActionError::Retry(format!("provider answer unreadable: {e}")));
        }
        let text = answer.text().await.unwrap_or_default();
        let message = format!("provider answered {status}: {text}");
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 409 {
            Err(ActionError::Retry(message))
        } else {
            Err(ActionError::Fail(message))
        }
    }
}
