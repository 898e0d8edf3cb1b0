//! The signing actions the workflows call.

use engine::{ActionError, EngineBuilder};

use crate::services::{ServicesCell, local};

/// `signing.send_order` and `signing.remind`, both local: envelopes and
/// the messages about them are written in the step that decides them.
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
    b.local_action(
        "signing.remind",
        Some(&[]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                super::envelopes::remind_owner_on(s, conn, "order", ctx.object.id)
                    .await
                    .map(|_| ())
                    .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    )
}
