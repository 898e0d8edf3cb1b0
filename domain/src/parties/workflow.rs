//! What the onboarding funnel reads about a supplier application (`object.*`).

use engine::async_trait;
use serde_json::{Value, json};
use sqlx::AnyConnection;

/// `object.*` of a supplier application.
pub(super) struct SupplierContext;

#[async_trait]
impl engine::ContextProvider for SupplierContext {
    fn fields(&self) -> &'static [&'static str] {
        &["id", "name", "inn", "status", "region"]
    }

    async fn context(&self, conn: &mut AnyConnection, id: i64) -> anyhow::Result<Value> {
        let row: Option<(String, Option<String>, String, Option<String>)> =
            sqlx::query_as("SELECT name, inn, status, region FROM organisations WHERE id = $1")
                .bind(id)
                .fetch_optional(conn)
                .await?;
        Ok(match row {
            Some((name, inn, status, region)) => {
                json!({"id": id, "name": name, "inn": inn, "status": status, "region": region})
            }
            None => Value::Null,
        })
    }
}
