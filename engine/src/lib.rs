//! The durable workflow engine of Podryad.
//!
//! It knows states, transitions, human tasks, timers, events and actions —
//! nothing about trucks or quotes. Analysts describe workflows in YAML; the
//! engine validates them, runs one instance per business object, and keeps
//! every step durable: a pure `step()` computes what a trigger changes, and
//! one database transaction stores all of it or none. The domain registers
//! named actions and context providers; workflows refer to them by name.
//!
//! This crate also owns the database handle ([`db::Db`]), because it is the
//! lowest layer that touches the database; the migrations belong to the
//! application (the `podryad` crate embeds `migrations/` and passes them to
//! [`Db::migrate`]).
//!
//! # Map
//!
//! - [`dsl`] parses and validates YAML into a [`model::Definition`]
//!   ([`dsl::compile`], [`dsl::check_files`]); problems are
//!   [`Diagnostic`]s `file:line:column: message`. The analysts' guide to the
//!   language is `workflows/README.md`.
//! - [`mod@step`] is the functional core: [`step::step`] turns (definition,
//!   snapshot, trigger, context, now) into an [`step::Outcome`], and
//!   [`step::migrate`] moves a snapshot to another version.
//! - [`Engine`] is the shell: start, emit, complete tasks, each stored in one
//!   transaction with an optimistic version check ([`engine`], [`store`]).
//!   On SQLite, steps of concurrent callers are group-committed by one writer
//!   task (module `writer`), because every statement through sqlx costs a
//!   thread round trip and SQLite has a single writer anyway.
//! - [`worker`] fires timers and runs external actions from the outbox.
//!   Local actions run in the step's own transaction ([`store`], and the
//!   SQLite writer); see [`registry`] for the two kinds.
//! - [`versions`] stores definition versions, activates and migrates.
//! - [`queries`] answers the web UI: inbox, instances, history, diagram,
//!   and the administrators' list of what is stuck
//!   ([`Engine::problems`]: failed and retrying actions, failed timers,
//!   broken instances).
//! - [`story`] tells what each step of a history did in the workflow's
//!   own words (its YAML titles), for pages read by people, not analysts.
//! - [`mod@bench`] measures throughput and timer lag.
//!
//! # Why our own workers and not apalis
//!
//! The design card names apalis for background jobs. We run actions and
//! timers with a small worker of our own instead, because:
//!
//! 1. The outbox row must be written in the same transaction as the step
//!    that plans the action (else a crash between the two loses or duplicates
//!    an effect). apalis' storages (`SqliteStorage`, `PostgresStorage`) own
//!    typed `SqlitePool`/`PgPool`s and cannot join a transaction of our
//!    `AnyPool`, which serves both databases through one code path.
//! 2. apalis re-enqueues "orphaned" jobs after a fixed time
//!    (apalis-dev/apalis#530), which runs a long job twice; our lease is
//!    explicit, ownership is checked on completion, and every action carries
//!    an idempotency key anyway.
//! 3. Workers reportedly stop taking jobs on long-running SQLite servers
//!    (apalis-dev/apalis-sqlite#58); our SQLite path is one query per wake-up
//!    on the same single-writer connection as everything else.
//!
//! The worker is a few hundred lines: claim with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL (one instance's rows in step order), lease with a heartbeat,
//! exponential backoff, result fed back as an event.

pub mod bench;
pub mod calendar;
pub mod clock;
pub mod db;
pub mod diag;
pub mod dsl;
pub mod duration;
pub mod engine;
pub mod expr;
pub mod form;
pub mod model;
pub mod queries;
pub mod registry;
pub mod sql;
pub mod step;
pub mod store;
pub mod story;
pub mod values;
pub mod versions;
pub mod worker;
mod writer;

pub use async_trait::async_trait;
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{
    Db, DbCounter, DbOptions, Dialect, Migrations, ReadPool, Tx, from_db_time, to_db_time,
};
pub use diag::{Diagnostic, Diagnostics, Pos};
pub use dsl::{Vocabulary, check_files, compile};
pub use engine::{
    Actor, Engine, EngineBuilder, EngineConfig, EngineError, Started, StepReport, UserRef,
};
pub use form::{FieldError, FieldErrors};
pub use registry::{
    ActionContext, ActionError, ActionHandler, ContextProvider, LocalActionHandler, action_fn,
    static_context,
};
pub use sql::{Param, Sql};
pub use step::{ObjectRef, Outcome, Snapshot, StepContext, StepError, Trigger, step};
/// Stops the workers started by [`Engine::spawn_workers`].
pub use tokio_util::sync::CancellationToken;
#[doc(hidden)]
pub mod testing;
