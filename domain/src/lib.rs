//! The brokerage: who the parties are, what they may see, and the rules of
//! the business — requests, matching, quotes, offers, orders and contracts,
//! and the money of orders.
//!
//! The broker stands between suppliers and clients, so the rules that keep
//! each side's identity and prices from the other live here, next to the
//! data, not in the web handlers. Mechanics (workflow steps, timers, the
//! outbox) belong to `engine`; documents and the outside world to
//! `documents` and `connectors`. Every function that reads tenant data takes
//! the acting [`access::Actor`] and scopes its query through [`access::scope`].
//!
//! # Bounded contexts (DESIGN §1.1)
//!
//! Each context is a folder whose `mod.rs` says what it owns and what it
//! offers the others:
//!
//! - [`access`] — actors, roles, the tenancy scope, role requirements, audit;
//! - [`accounts`] — users, sessions, tokens, invitations, Telegram linking;
//! - [`parties`] — organisations, registration, moderation, employees;
//! - [`fleet`] — garages: machines, specs, documents, photos, calendar,
//!   imports, the equipment catalogue;
//! - [`intake`] — request types, requests, channels, hunters and managers;
//! - [`deals`] — matching, RFQ rounds, supplier quotes, offers, scoring;
//! - [`orders`] — orders and their legs, framework contracts, numbering,
//!   the data of work orders and contracts;
//! - [`notify`] — who is told what, through which channel;
//! - [`paperwork`] — document template versions and the documents
//!   rendered from them (immutable, with their SHA-256);
//! - [`signing`] — envelopes to each counterparty, the built-in simple
//!   e-signature with its evidence, countersignature, signed copies and
//!   their verification, the EDO seam and its event ingress;
//! - [`money`] — invoices, bank statements and their matching, payouts,
//!   the double-entry ledger.
//!
//! Shared, context-free modules sit at the top: [`error`], [`values`],
//! [`services`], [`texts`], [`search`], [`files`], [`rate_limit`], [`tax`]
//! (VAT rates by date and the legal model),
//! [`crypto`]; [`export`], the spreadsheet reports that read several
//! contexts (directories and garages) the way the web does; and
//! [`operations`], what the workflow workers could not do, for the
//! administrators; and [`workflows`], the workflows as people and
//! integrations meet them (inbox, tasks, instances, definitions, the API),
//! so that the web layer never calls the engine itself.
//!
//! # The dependency rule
//!
//! A context reaches another only through what the other's `mod.rs`
//! exports, never through its tables where avoidable, and dependencies
//! point one way, roughly `deals → intake, fleet → parties, accounts →
//! access`, with `notify` usable by all. Each context registers its own
//! workflow objects, actions and context providers in its
//! `register_engine`; [`engine_builder`] only composes them. Demo data,
//! benchmarks and test-only actions live in the binary crate, not here.

pub mod access;
pub mod accounts;
mod compose;
pub mod crypto;
pub mod deals;
pub mod error;
pub mod export;
pub mod files;
pub mod fleet;
pub mod intake;
pub mod money;
pub mod notify;
pub mod operations;
pub mod orders;
pub mod paperwork;
pub mod parties;
pub mod rate_limit;
pub mod search;
pub mod services;
pub mod signing;
pub mod tax;
pub mod texts;
pub mod values;
pub mod workflows;
pub mod workplace;

pub use compose::engine_builder;
/// The database handle (a read pool that cannot write, and the single
/// writer), for the layers above that hold one without knowing the engine.
pub use engine::Db;
