//! The signing actions the workflows call.

use engine::{ActionContext, ActionError, EngineBuilder, action_fn};
use serde_json::{Value, json};

use super::edo::EdoFailure;
use crate::services::{ServicesCell, local, ready};

impl From<EdoFailure> for ActionError {
    fn from(f: EdoFailure) -> ActionError {
        match f {
            EdoFailure::Retry(why) => ActionError::Retry(why),
            EdoFailure::Refused(why) => ActionError::Fail(why),
        }
    }
}

/// `signing.send_order`, `signing.send_contract` and `signing.remind`,
/// local: envelopes and the messages about them are written in the step
/// that decides them. `signing.post_edo` and `signing.finish_edo`,
/// external: they call the EDO operators, after the step's commit, with
/// retries (see [`super::edo`]).
pub(super) fn register_actions(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    let b = b.local_action(
        "signing.send_order",
        Some(&[]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                super::envelopes::send_owner_on(s, conn, "order", ctx.object.id, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    );
    let b = b.local_action(
        "signing.send_contract",
        Some(&[]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                super::envelopes::send_owner_on(s, conn, "contract", ctx.object.id, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    );
    let b = b.local_action(
        "signing.remind",
        Some(&[]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                super::envelopes::remind_owner_on(s, conn, &ctx.object.kind, ctx.object.id)
                    .await
                    .map(|_| ())
                    .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    );
    // Posts the owner's EDO envelopes that wait for it (none on the
    // built-in channel: then it does nothing).
    let c = cell.clone();
    let b = b.action(
        "signing.post_edo",
        Some(&[]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                let posted = super::edo::post_owner(s, &ctx.object.kind, ctx.object.id).await?;
                Ok(json!({"posted": posted}))
            }
        }),
    );
    // Our side of an EDO envelope the party signed at its operator.
    let c = cell;
    b.action(
        "signing.finish_edo",
        Some(&["envelope_id"]),
        action_fn(move |ctx: ActionContext| {
            let c = c.clone();
            async move {
                let s = ready(&c)?;
                let envelope = ctx
                    .params
                    .get("envelope_id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ActionError::Fail("envelope_id is missing".into()))?;
                let finished = super::edo::finish(s, envelope).await?;
                Ok(json!({"envelope_id": envelope, "finished": finished}))
            }
        }),
    )
}
