//! Orders: what an accepted offer becomes — the order with its two sides,
//! the framework contracts the parties work under, and the numbering of
//! both (DESIGN §10).
//!
//! Owns `orders`, `order_legs`, `order_assignments`, `contracts` and
//! `order_numbers`, and the company's number formats on the broker's
//! organisation row.
//!
//! - An **order** is made in the transaction that accepts an offer
//!   ([`create`], called by `deals::offers` with what was agreed), together
//!   with the machine bookings: either both are stored or neither. It copies
//!   the job (site, fields, dates, the client's contact) and has one
//!   **client leg** (broker → client: our price, our VAT, our terms), one
//!   **supplier leg** per supplier (supplier → broker: its price, its VAT,
//!   its terms) and one **assignment** per machine (the machine, its driver,
//!   its days).
//! - Each order runs its type's order workflow (`workflows/order.yaml`):
//!   contract check → documents → ready for signing → in work. It reads
//!   `object.*` from [`workflow`]; the local actions `order.set_status`,
//!   `order.record_signature`, `order.release` and the external
//!   `order.documents` and `order.started` are registered here.
//! - A **framework contract** ([`contracts`]) is needed once per client and
//!   kind (transport forwarding for cargo, charter for passengers, services
//!   with machinery) and once per supplier. A party without one gets a
//!   draft and its contract workflow (`workflows/contract.yaml`): the client
//!   gives the details the contract needs (in the cabinet or by an e-mailed
//!   link), staff mark it signed (on paper, with the scan, until signing
//!   exists); a supplier accepts its contract in its cabinet. The orders
//!   waiting for it go on when it comes into force.
//! - What each party may see of an order is decided here ([`view`]): the
//!   staff see both legs; the client its leg, the machine (model, plate) and
//!   the driver's first name; a supplier its own leg, the site and the work,
//!   and our contact — never the client or our price (DESIGN §4).
//! - The documents seam ([`paper`]): per leg, the data a work order (and per
//!   contract, the data a contract) is made from, already cut for its party.
//!   The `documents` crate renders them; the confidentiality rules are in
//!   these functions and tested on their output.
//!
//! - The money context reads an order's parties and agreed prices through
//!   [`terms::money_terms`], and numbers its invoices with [`numbering`].
//!
//! Depends on `access`, `accounts` (one-time links), `parties` (company
//! details and their checks), `intake` (request types, the hunter → manager
//! hand-over) and `notify`; `deals` calls [`create`], and nothing here reads
//! `deals`.

pub mod contracts;
mod create;
pub mod numbering;
pub mod paper;
pub mod print;
mod signing;
pub mod terms;
pub mod view;
mod workflow;

pub use create::*;
pub use signing::*;
pub use view::*;

use std::sync::Arc;

use engine::EngineBuilder;

use crate::services::ServicesCell;

/// The workflow contracts run.
pub const CONTRACT_WORKFLOW: &str = "contract";

/// Registers the `order` and `contract` objects, what their workflows read
/// and the actions they may call.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    let b = b
        .object_kind("order")
        .context("order", Arc::new(workflow::OrderContext))
        .object_kind("contract")
        .context("contract", Arc::new(workflow::ContractContext));
    workflow::register_actions(b, cell)
}
