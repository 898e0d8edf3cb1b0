//! What the brokerage plugs into the workflow engine: the roles tasks may
//! name, the actions workflows may call, the business objects they run for,
//! and the notifications behind the engine's task events.

use std::sync::{Arc, OnceLock};

use engine::{ActionContext, ActionError, Db, Engine, EngineBuilder, action_fn, async_trait};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::args;
use crate::notify;
use crate::roles::Role;
use crate::services::Services;

/// The services, filled in once they exist (they contain the engine, and
/// the engine's actions need them).
pub type ServicesCell = Arc<OnceLock<Services>>;

fn services(cell: &ServicesCell) -> Result<&Services, ActionError> {
    cell.get()
        .ok_or_else(|| ActionError::Retry("the application is still starting".into()))
}

fn text_param<'a>(ctx: &'a ActionContext, name: &str) -> Option<&'a str> {
    ctx.params
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An engine builder with everything the brokerage registers.
pub fn engine_builder(db: Db, cell: ServicesCell) -> EngineBuilder {
    let mut b = Engine::builder(db).roles(Role::ALL.iter().map(|r| r.as_str()));
    for kind in ["supplier", "client", "request", "order", "machine_document"] {
        b = b.object_kind(kind);
    }
    b = b.context("supplier", Arc::new(SupplierContext));
    b = b.context("request", Arc::new(RequestContext));

    let c = cell.clone();
    b = b.action(
        "request.set_status",
        Some(&["status"]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = services(&c)?;
                let status = text_param(&ctx, "status")
                    .ok_or_else(|| ActionError::Fail("status is missing".into()))?;
                crate::requests::set_status(s, ctx.object.id, status)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({"status": status}))
            }
        }),
    );
    // The client's first order goes into work: the hunter hands the client
    // over to its responsible manager (DESIGN §4). Any workflow may call it
    // (the request funnel today; the order funnel once orders exist).
    let c = cell.clone();
    b = b.action(
        "client.first_order",
        Some(&["client_org_id", "manager_id"]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = services(&c)?;
                let client = ctx
                    .params
                    .get("client_org_id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ActionError::Fail("client_org_id is missing".into()))?;
                let chosen = ctx.params.get("manager_id").and_then(Value::as_i64);
                match crate::intake::hand_over(s, client, chosen).await {
                    Ok(manager) => Ok(json!({"manager_id": manager})),
                    Err(crate::error::DomainError::NotFound) => {
                        Err(ActionError::Fail(format!("no client {client}")))
                    }
                    Err(e) => Err(ActionError::Retry(e.to_string())),
                }
            }
        }),
    );
    b = crate::garage::register_engine(b, cell.clone());
    b = crate::rfq::register_engine(b, cell.clone());
    b = crate::offers::register_engine(b, cell.clone());

    let c = cell.clone();
    b = b.action(
        "supplier.set_status",
        Some(&["status", "reason"]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = services(&c)?;
                let status = text_param(&ctx, "status")
                    .ok_or_else(|| ActionError::Fail("status is missing".into()))?;
                crate::parties::apply_moderation_status(
                    s,
                    ctx.object.id,
                    status,
                    text_param(&ctx, "reason"),
                )
                .await
                .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({"status": status}))
            }
        }),
    );

    for (action, key) in [
        ("task.created", "mail-task-assigned"),
        ("task.remind", "mail-task-reminder"),
        ("task.escalated", "mail-task-escalated"),
    ] {
        let c = cell.clone();
        b = b.action(
            action,
            None,
            action_fn(move |ctx: ActionContext| {
                let c = c.clone();
                async move {
                    let s = services(&c)?;
                    let sent = notify_about_task(s, &ctx, key)
                        .await
                        .map_err(|e| ActionError::Retry(e.to_string()))?;
                    Ok(json!({"notified": sent}))
                }
            }),
        );
    }
    b
}

/// `object.*` of a request: what its workflow decides on.
struct RequestContext;

#[async_trait]
impl engine::ContextProvider for RequestContext {
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

/// `object.*` of a supplier application.
struct SupplierContext;

#[async_trait]
impl engine::ContextProvider for SupplierContext {
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

/// Tells the people a task is for: its assignee or claimer if any, else
/// everyone holding one of its roles in its organisation (the broker's own
/// when the task names none). A new task with nobody named is only in the
/// inbox: mailing a whole role on every task would be noise.
async fn notify_about_task(s: &Services, ctx: &ActionContext, key: &str) -> anyhow::Result<usize> {
    let p = &ctx.params;
    // An escalation goes to the escalation role even when someone holds the task.
    let person = if ctx.action == "task.escalated" {
        None
    } else {
        p.get("claimed_by")
            .and_then(Value::as_i64)
            .or_else(|| p.get("assignee").and_then(Value::as_i64))
    };
    let mut sql = engine::Sql::new("SELECT DISTINCT ");
    sql.push(notify::RECIPIENT_COLUMNS)
        .push(" FROM users u WHERE u.status = 'active' AND ");
    if let Some(uid) = person {
        sql.push("u.id = ").bind(uid);
    } else {
        if ctx.action == "task.created" {
            return Ok(0);
        }
        let roles: Vec<String> = match (ctx.action.as_str(), p.get("role").and_then(Value::as_str))
        {
            ("task.escalated", Some(r)) => vec![r.to_string()],
            _ => p
                .get("roles")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        };
        if roles.is_empty() {
            return Ok(0);
        }
        let org = match p.get("org_id").and_then(Value::as_i64) {
            Some(o) => o,
            None => match crate::orgs::broker_id(&s.db).await? {
                Some(b) => b,
                None => return Ok(0),
            },
        };
        sql.push("u.org_id = ")
            .bind(org)
            .push(" AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN (")
            .bind_list(roles)
            .push("))");
    }
    let people: Vec<notify::Recipient> = sql.query_as().fetch_all(s.db.pool()).await?;
    let title = p
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let task_id = p.get("task_id").and_then(Value::as_i64);
    let link = match task_id {
        Some(id) => format!("{}/tasks/{id}", s.base_url),
        None => format!("{}/tasks", s.base_url),
    };
    let mut tx = s.db.begin().await?;
    let mut sent = 0;
    for person in &people {
        let a = args!["name" => person.full_name, "title" => title, "link" => link];
        if notify::tell(s, &mut tx, person, key, &a).await? {
            sent += 1;
        }
    }
    tx.commit().await?;
    s.after_commit();
    Ok(sent)
}
