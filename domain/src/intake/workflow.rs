//! What the request funnel reads about its request (`object.*`).

use engine::async_trait;
use serde_json::{Value, json};
use sqlx::AnyConnection;

/// `object.*` of a request: what its workflow decides on.
pub(super) struct RequestContext;

#[async_trait]
impl engine::ContextProvider for RequestContext {
    fn fields(&self) -> &'static [&'static str] {
        &[
            "id",
            "number",
            "request_type",
            "client_org_id",
            "channel",
            "hunter_user_id",
            "owner_user_id",
            "status",
            "wanted_from",
            "site_timezone",
        ]
    }

    async fn context(&self, conn: &mut AnyConnection, id: i64) -> anyhow::Result<Value> {
        #[derive(sqlx::FromRow)]
        struct Row {
            number: String,
            request_type: String,
            client_org_id: i64,
            channel: String,
            hunter_user_id: Option<i64>,
            owner_user_id: Option<i64>,
            status: String,
            wanted_from: Option<i64>,
            site_timezone: Option<String>,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT number, request_type, client_org_id, channel, hunter_user_id, owner_user_id, status, wanted_from, site_timezone
             FROM requests WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(conn)
        .await?;
        Ok(match row {
            Some(r) => json!({
                "id": id,
                "number": r.number,
                "request_type": r.request_type,
                "client_org_id": r.client_org_id,
                "channel": r.channel,
                "hunter_user_id": r.hunter_user_id,
                "owner_user_id": r.owner_user_id,
                "status": r.status,
                "wanted_from": r.wanted_from.map(|ms| engine::from_db_time(ms).to_rfc3339()),
                "site_timezone": r.site_timezone,
            }),
            None => Value::Null,
        })
    }
}
