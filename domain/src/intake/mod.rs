//! Intake: how requests come in and whose they are — request types (the
//! analysts' forms), requests themselves, the channels (website, contact
//! centre, hunters, cabinets, API) and the hunter → manager ownership rule.
//!
//! Offers the others [`request_types`], [`requests`] (a request, its status,
//! what matching and deals read), [`addresses`] (suggestions and
//! coordinates of the addresses people type), [`ownership`] and the intake functions
//! re-exported here. Registers the `request` object, what the request funnel
//! reads about it (`object.*`), the local `request.set_status` and the
//! external `client.first_order`.

pub mod addresses;
mod channels;
pub mod handling;
pub mod ownership;
pub mod request_types;
pub mod requests;
mod workflow;

pub use channels::*;

use std::sync::Arc;

use engine::{ActionContext, ActionError, EngineBuilder, action_fn};
use serde_json::{Value, json};

use crate::error::DomainError;
use crate::services::{ServicesCell, local, ready, text_param};

/// Registers intake's objects, context provider and actions.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    let mut b = b
        .object_kind("request")
        .context("request", Arc::new(workflow::RequestContext));
    // The status projection is local: written in the step's transaction.
    b = b.local_action(
        "request.set_status",
        Some(&["status"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let status = text_param(ctx, "status")
                    .ok_or_else(|| ActionError::Fail("status is missing".into()))?;
                requests::set_status(s, conn, ctx.object.id, status)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    );
    // The client's first order goes into work: the hunter hands the client
    // over to its responsible manager (DESIGN §4). Any workflow may call it
    // (the request funnel today; the order funnel once orders exist).
    let c = cell;
    b.action(
        "client.first_order",
        Some(&["client_org_id", "manager_id"]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                let client = ctx
                    .params
                    .get("client_org_id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ActionError::Fail("client_org_id is missing".into()))?;
                let chosen = ctx.params.get("manager_id").and_then(Value::as_i64);
                match hand_over(s, client, chosen).await {
                    Ok(manager) => Ok(json!({"manager_id": manager})),
                    Err(DomainError::NotFound) => {
                        Err(ActionError::Fail(format!("no client {client}")))
                    }
                    Err(e) => Err(ActionError::Retry(e.to_string())),
                }
            }
        }),
    )
}
