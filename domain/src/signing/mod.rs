//! Signing: getting a document signed by its counterparty and by us
//! (DESIGN §10, issue 13).
//!
//! Owns `envelopes`, `signatures`, `esign_agreements`, `signing_codes`,
//! `edo_inbound_events` and `edo_cursors`, the countersignature authority on `users`
//! (`can_countersign`, `sign_position`, `sign_basis`) and the signing
//! channel on `organisations` (`signing_channel`, `edo_box_id`).
//!
//! - An **envelope** ([`envelopes`]) carries one rendered document (a leg's
//!   work order; later contracts and acts) to one counterparty through one
//!   channel: the built-in simple e-signature (`pep`) or an EDO operator
//!   (`diadoc`, `sbis`). Its status goes `sent` → `signed_by_party` →
//!   `countersigned`, or `rejected` (with the reason); a corrected version
//!   of the document goes out in a new envelope and the old one is
//!   `superseded`. The channel comes from the counterparty's setting (pep
//!   by default); staff may override it per envelope.
//! - The order workflow's `ready_for_signing` sends the envelopes of the
//!   order's work orders (`signing.send_order`, local); the contract
//!   workflow sends a client's framework contract the same way
//!   (`signing.send_contract`). When every envelope of an owner is
//!   countersigned, the owner hears `<kind>.signed` (`order.signed`,
//!   `contract.signed`); a rejection tells it `envelope.rejected` (a task
//!   for the manager).
//! - EDO envelopes are posted by the external action `signing.post_edo`
//!   and finished by `signing.finish_edo` once the party signed at its
//!   operator; the operators' feeds are read by [`edo::poll`] (see [`edo`]).
//! - The **built-in simple e-signature** ([`pep`], 63-ФЗ art. 6, 9): the
//!   counterparty accepts the e-signature agreement once; a signer asks for
//!   a one-time code (SMS or e-mail through the notify outbox; 6 digits,
//!   stored hashed, 10 minutes, 5 attempts, at most 1 a minute and 5 an
//!   hour), enters it with their authority, and the evidence is kept per
//!   signature (the document's SHA-256, the signer, their authority, the
//!   time, IP address, browser, the code's hash). Our countersignature is
//!   given by a staff member with `can_countersign`; it makes the **signed
//!   copy** ([`copy`]): the original's pages and a signature page rendered
//!   by Typst with a QR code of the verification link, stored immutably
//!   with its own SHA-256, and sent back to the party.
//! - The public **verification** ([`copy::verify`]): a PDF's SHA-256 (the
//!   original or the signed copy) → which document, who signed it, when,
//!   with what authority.
//! - **EDO** ([`edo`]): posting envelopes through the operators (one
//!   document per envelope, whatever is retried), reading their feeds from
//!   stored cursors, the ingress of their events (`edo_inbound_events`,
//!   unique per provider and event id: each event changes its envelope and
//!   tells the workflow in the same transaction, so a repeated event changes
//!   nothing), and finishing our side with the operator's signed copy.
//!
//! Depends on `access`, `paperwork` (the documents it carries), `notify`
//! (codes and links go through the outbox) and the `documents` crate (the
//! signature page). Nothing here reads the orders context: an order is
//! only an envelope's owner (`order`, id, part) and a workflow object.

pub mod copy;
pub mod edo;
pub mod envelopes;
pub mod pep;
mod workflow;

pub use envelopes::*;

use engine::EngineBuilder;

use crate::services::ServicesCell;

/// Registers the signing actions the workflows call.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    workflow::register_actions(b, cell)
}
