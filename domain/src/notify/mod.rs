//! Notify: who is told what, through which channel. One rule of how a
//! person is reached ([`tell`]), over the notification outbox ([`outbox`]:
//! the `notifications` table, written in the causing transaction) that the
//! background [`NotificationSender`] ([`sender`]) delivers through the
//! transports of `connectors`. Reading the outbox and logging a message
//! masks one-time links ([`mask`]).
//!
//! Offers the others [`tell`], [`Recipient`] and the recipient columns to
//! select people with, [`enqueue`] for a message to one address, and the
//! outbox and its sender to the web (admin outbox) and the binary.
//! Registers the mail behind the engine's task events (`task.created`,
//! `task.remind`, `task.escalated`).

pub mod mask;
pub mod outbox;
pub mod sender;
mod tasks;
mod tell;

pub use mask::mask_secrets;
pub use outbox::{
    NewNotification, NotificationRow, OutboxFilter, count, enqueue, get, list, list_filtered,
    requeue,
};
pub use sender::{NO_TRANSPORT, NotificationSender, SenderConfig, SenderWaker, idempotency_key};
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
