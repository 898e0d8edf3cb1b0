//! What the order and contract workflows read (`object.*`) and the actions
//! they may call.

use engine::{ActionContext, ActionError, EngineBuilder, action_fn, async_trait};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::orders::{contracts, signing};
use crate::services::{ServicesCell, local, ready, text_param};

/// `object.*` of an order.
pub(super) struct OrderContext;

#[async_trait]
impl engine::ContextProvider for OrderContext {
    fn fields(&self) -> &'static [&'static str] {
        &[
            "id",
            "number",
            "status",
            "request_id",
            "client_org_id",
            "request_type",
            "manager_user_id",
            "contracts_waiting",
            "contracts_ready",
        ]
    }

    async fn context(&self, conn: &mut AnyConnection, id: i64) -> anyhow::Result<Value> {
        #[derive(sqlx::FromRow)]
        struct Row {
            number: String,
            status: String,
            request_id: i64,
            client_org_id: i64,
            request_type: String,
            manager_user_id: Option<i64>,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT number, status, request_id, client_org_id, request_type, manager_user_id FROM orders WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(r) = row else {
            return Ok(Value::Null);
        };
        // Legs whose framework contract is not in force (or missing).
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM order_legs l LEFT JOIN contracts c ON c.id = l.contract_id
             WHERE l.order_id = $1 AND (c.id IS NULL OR c.status <> 'in_force')",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(json!({
            "id": id,
            "number": r.number,
            "status": r.status,
            "request_id": r.request_id,
            "client_org_id": r.client_org_id,
            "request_type": r.request_type,
            "manager_user_id": r.manager_user_id,
            "contracts_waiting": waiting,
            "contracts_ready": waiting == 0,
        }))
    }
}

/// `object.*` of a contract.
pub(super) struct ContractContext;

#[async_trait]
impl engine::ContextProvider for ContractContext {
    fn fields(&self) -> &'static [&'static str] {
        &[
            "id",
            "number",
            "side",
            "kind",
            "status",
            "party_org_id",
            "party_name",
            "manager_user_id",
            "details_given",
        ]
    }

    async fn context(&self, conn: &mut AnyConnection, id: i64) -> anyhow::Result<Value> {
        #[derive(sqlx::FromRow)]
        struct Row {
            number: String,
            side: String,
            kind: String,
            status: String,
            party_org_id: i64,
            party_name: String,
            manager_user_id: Option<i64>,
            details_at: Option<i64>,
        }
        // The party's responsible manager, else the hunter who brought it.
        let row: Option<Row> = sqlx::query_as(
            "SELECT c.number, c.side, c.kind, c.status, c.party_org_id, o.name AS party_name,
               COALESCE(o.manager_user_id, o.hunter_user_id) AS manager_user_id, c.details_at
             FROM contracts c JOIN organisations o ON o.id = c.party_org_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(conn)
        .await?;
        Ok(match row {
            Some(r) => json!({
                "id": id,
                "number": r.number,
                "side": r.side,
                "kind": r.kind,
                "status": r.status,
                "party_org_id": r.party_org_id,
                "party_name": r.party_name,
                "manager_user_id": r.manager_user_id,
                "details_given": r.details_at.is_some(),
            }),
            None => Value::Null,
        })
    }
}

/// A document that cannot be made from the data it has (a conflict) will
/// not be made by retrying: the workflow hears `….failed` at once; anything
/// else (the database, the file store) is retried.
fn fail_on_conflict(e: crate::error::DomainError) -> ActionError {
    match e {
        crate::error::DomainError::Conflict(code) => ActionError::Fail(code.to_string()),
        e => ActionError::Retry(e.to_string()),
    }
}

fn int_param(ctx: &ActionContext, name: &str) -> Option<i64> {
    ctx.params.get(name).and_then(Value::as_i64)
}

/// The order and contract workflows' actions.
pub(super) fn register_actions(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    // The status projection lists read, written in the step.
    let b = b.local_action(
        "order.set_status",
        Some(&["status"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let status = text_param(ctx, "status")
                    .ok_or_else(|| ActionError::Fail("status is missing".into()))?;
                signing::set_status_on(s, conn, ctx.object.id, status)
                    .await
                    .map_err(|e| ActionError::Fail(e.to_string()))
            })
        }),
    );
    // The scan of the work orders signed on paper, checked and kept with
    // the order in the step that moves it into work.
    let b = b.local_action(
        "order.record_signature",
        Some(&["file_id", "by"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let file = int_param(ctx, "file_id")
                    .ok_or_else(|| ActionError::Fail("file.missing".into()))?;
                signing::record_signature_on(s, conn, ctx.object.id, file, int_param(ctx, "by"))
                    .await
                    .map_err(|e| ActionError::Fail(e.to_string()))
            })
        }),
    );
    // A cancelled order frees its machines' days, in the cancelling step.
    let b = b.local_action(
        "order.release",
        Some(&["reason"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                signing::release_on(s, conn, ctx.object.id, text_param(ctx, "reason"))
                    .await
                    .map_err(|e| ActionError::Fail(e.to_string()))
            })
        }),
    );
    // The work orders of every leg. External (after commit, retried), not
    // for an outside effect but because rendering documents is heavy work
    // that must not hold the step's transaction; see `paper`.
    let c = cell.clone();
    let b = b.action(
        "order.documents",
        Some(&[]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                // Missing data will not appear by retrying: the workflow
                // gets `order.documents.failed` and staff a task at once.
                let legs = crate::orders::paper::prepare(s, ctx.object.id)
                    .await
                    .map_err(fail_on_conflict)?;
                Ok(json!({"documents": legs}))
            }
        }),
    );
    // The order went into work: the client's responsible manager takes it
    // (the hunter → manager hand-over, DESIGN §4) and the request hears
    // `order.started`. At least once; repeating changes nothing.
    let c = cell.clone();
    let b = b.action(
        "order.started",
        Some(&[]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                let manager = signing::started(s, ctx.object.id)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({"manager_id": manager}))
            }
        }),
    );
    let b = b.local_action(
        "contract.set_status",
        Some(&["status", "how"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let status = text_param(ctx, "status")
                    .ok_or_else(|| ActionError::Fail("status is missing".into()))?;
                contracts::set_status_on(s, conn, ctx.object.id, status, text_param(ctx, "how"))
                    .await
                    .map_err(|e| ActionError::Fail(e.to_string()))
            })
        }),
    );
    let b = b.local_action(
        "contract.ask_details",
        Some(&[]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                contracts::ask_details_on(s, conn, ctx.object.id)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    );
    // The contract's PDF, when it goes out for signature. External for the
    // same reason as the work orders: rendering must not hold the step.
    let c = cell.clone();
    let b = b.action(
        "contract.document",
        Some(&[]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                let id = crate::orders::paper::issue_contract(s, ctx.object.id)
                    .await
                    .map_err(fail_on_conflict)?;
                Ok(json!({"document": id}))
            }
        }),
    );
    let c = cell;
    b.action(
        "contract.announce",
        Some(&[]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                let told = contracts::announce(s, ctx.object.id)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({"orders": told}))
            }
        }),
    )
}
