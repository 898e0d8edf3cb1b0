//! Parties: the organisations the brokerage deals with — the broker itself,
//! suppliers and clients — their registration, company details, moderation
//! of suppliers, contacts and a supplier's employees.
//!
//! Offers the others [`orgs`] (organisations, the broker's id), the
//! directory and registration functions re-exported here, and
//! [`employees`]. Registers the `supplier` and `client` objects with the
//! engine, the onboarding funnel's local `supplier.set_status` action and what
//! that funnel reads about an application (`object.*`).

mod directory;
pub mod employees;
pub mod orgs;
mod workflow;

pub use directory::*;

use std::sync::Arc;

use engine::{ActionError, EngineBuilder};

use crate::services::{ServicesCell, local, text_param};

/// Registers the parties' objects, context provider and actions.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    let b = b
        .object_kind("supplier")
        .object_kind("client")
        .context("supplier", Arc::new(workflow::SupplierContext));
    // Local: the status and the owner's mail are written in the step.
    b.local_action(
        "supplier.set_status",
        Some(&["status", "reason"]),
        local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let status = text_param(ctx, "status")
                    .ok_or_else(|| ActionError::Fail("status is missing".into()))?;
                apply_moderation_status_on(
                    s,
                    conn,
                    ctx.object.id,
                    status,
                    text_param(ctx, "reason"),
                )
                .await
                .map_err(|e| ActionError::Retry(e.to_string()))
            })
        }),
    )
}
