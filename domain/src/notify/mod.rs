//! Notify: who is told what, through which channel. One rule of how a
//! person is reached ([`tell`]), over the notification outbox ([`outbox`]:
//! the `notifications` table, written in the causing transaction) that the
//! background [`NotificationSender`] ([`sender`]) delivers through the
//! transports of `connectors`. Reading the outbox and logging a message
//! masks one-time links ([`mask`]). Every message to a person with a login
//! is also an in-app notification ([`in_app`]: the bell and its live
//! updates).
//!
//! Offers the others [`tell`], [`Recipient`] and the recipient columns to
//! select people with, [`enqueue`] for a message to one address, and the
//! outbox and its sender to the web (admin outbox) and the binary.
//! Registers the mail behind the engine's task events (`task.created`,
//! `task.remind`, `task.escalated`) as local actions: queued in the step's
//! transaction, exactly once with it.

pub mod in_app;
pub mod mask;
pub mod outbox;
pub mod sender;
mod tasks;
mod tell;

pub use in_app::{Bell, BellUpdates, InAppNotification};
pub use mask::{mask_contacts, mask_secrets};
pub use outbox::{
    NewNotification, NotificationRow, OutboxFilter, count, enqueue, get, list, list_filtered,
    requeue,
};
pub use sender::{NO_TRANSPORT, NotificationSender, SenderConfig, SenderWaker, idempotency_key};
pub use tell::*;

use std::sync::Arc;

use engine::{ActionContext, ActionError, EngineBuilder, LocalActionHandler, async_trait};
use sqlx::AnyConnection;

use crate::services::{ServicesCell, ready};

/// Queues the mail about one task event in the step's transaction.
struct TaskMail {
    cell: ServicesCell,
    key: &'static str,
}

#[async_trait]
impl LocalActionHandler for TaskMail {
    async fn run(&self, conn: &mut AnyConnection, ctx: ActionContext) -> Result<(), ActionError> {
        let s = ready(&self.cell)?;
        tasks::notify_about_task(s, conn, &ctx, self.key)
            .await
            .map_err(|e| ActionError::Retry(e.to_string()))?;
        Ok(())
    }
}

/// Registers the task-event notifications (local actions).
pub(crate) fn register_engine(mut b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    for (action, key) in [
        ("task.created", "mail-task-assigned"),
        ("task.remind", "mail-task-reminder"),
        ("task.escalated", "mail-task-escalated"),
    ] {
        b = b.local_action(
            action,
            None,
            Arc::new(TaskMail {
                cell: cell.clone(),
                key,
            }),
        );
    }
    b
}
