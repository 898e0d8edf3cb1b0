//! Notify: who is told what, through which channel. One rule of how a
//! person is reached ([`tell`]), over the notification outbox of
//! `connectors`.
//!
//! Offers the others [`tell`], [`Recipient`] and the recipient columns to
//! select people with. Registers the mail behind the engine's task events
//! (`task.created`, `task.remind`, `task.escalated`).

mod tasks;
mod tell;

pub use tell::*;

use engine::{ActionContext, ActionError, EngineBuilder, action_fn};
use serde_json::json;

use crate::services::{ServicesCell, ready};

/// Registers the task-event notifications.
pub(crate) fn register_engine(mut b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
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
                    let s = ready(&c)?;
                    let sent = tasks::notify_about_task(s, &ctx, key)
                        .await
                        .map_err(|e| ActionError::Retry(e.to_string()))?;
                    Ok(json!({"notified": sent}))
                }
            }),
        );
    }
    b
}
