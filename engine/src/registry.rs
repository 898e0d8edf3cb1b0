//! What the host application plugs into the engine: action handlers and
//! context providers. Workflows name them; the engine calls them.
//!
//! Actions come in two kinds (DESIGN §2):
//!
//! - a **local** action ([`LocalActionHandler`]) changes only our own
//!   database. It runs inside the transaction that stores the step, on that
//!   transaction's connection, in step order, so it happens exactly once
//!   with the step. A refusal rolls the whole step back; the caller gets
//!   [`crate::EngineError::ActionRefused`]. It returns no result: there is no
//!   `<action>.done` / `<action>.failed` event for a local action (the
//!   workflow checker refuses to listen to one), because the step that ran
//!   it is already the step that knows it succeeded.
//! - an **external** action ([`ActionHandler`]) has an effect outside. It
//!   runs after commit from the outbox, at least once, with an idempotency
//!   key the handler passes to the provider; its result is stored with the
//!   outbox row and comes back as `<action>.done` / `<action>.failed`.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::step::ObjectRef;

/// Everything an action handler is told about one run (local or external).
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub instance_id: i64,
    pub object: ObjectRef,
    pub definition_key: String,
    pub action: String,
    pub params: Value,
    /// Stable across retries of this action, unique to it: pass it to the
    /// outside system (or record it) so that the effect happens once even
    /// when the action runs twice.
    pub idempotency_key: String,
    /// 1 on the first run (always 1 for a local action).
    pub attempt: u32,
}

/// How an action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// Worth trying again later (network, 5xx, timeout). From a local action
    /// it refuses the step like [`ActionError::Fail`]: the step's caller may
    /// try again, the engine does not.
    #[error("retry: {0}")]
    Retry(String),
    /// Pointless to retry (refused, invalid); the workflow gets
    /// `<action>.failed`. From a local action: the step is refused and rolled
    /// back, and the text is the machine-readable reason the caller gets
    /// (e.g. `machine_booked:2026-03-12`).
    #[error("failed: {0}")]
    Fail(String),
}

impl ActionError {
    /// The text of the error, without its kind.
    pub fn message(&self) -> &str {
        match self {
            ActionError::Retry(m) | ActionError::Fail(m) => m,
        }
    }
}

/// Runs a named action. Its `Ok` value becomes the payload of the
/// `<action>.done` event.
#[async_trait]
pub trait ActionHandler: Send + Sync + 'static {
    async fn run(&self, ctx: ActionContext) -> Result<Value, ActionError>;
}

/// Runs a named **local** action inside the transaction that stores the
/// step. `conn` is that transaction's connection: write through it (never
/// open another transaction on the engine's database — on SQLite there is
/// one writer, and it is this one). `Err` refuses the whole step: nothing of
/// it is stored, and the caller gets [`crate::EngineError::ActionRefused`]
/// with the action's name and [`ActionError::message`] as the reason.
///
/// Runs once per stored step; but a step that loses an optimistic race is
/// rolled back and computed again, so the handler may be *called* again for
/// the recomputed step — only what a committed step did remains.
#[async_trait]
pub trait LocalActionHandler: Send + Sync + 'static {
    async fn run(&self, conn: &mut AnyConnection, ctx: ActionContext) -> Result<(), ActionError>;
}

/// Local action handlers by name.
pub(crate) type LocalActions = std::collections::HashMap<String, Arc<dyn LocalActionHandler>>;

/// Loads the context of a business object (`object.*` in expressions). It is
/// given the connection of the step's transaction, so that a row created in
/// the same transaction is visible.
#[async_trait]
pub trait ContextProvider: Send + Sync + 'static {
    async fn context(&self, conn: &mut AnyConnection, object_id: i64) -> anyhow::Result<Value>;

    /// The fields `object.*` has (the keys of [`ContextProvider::context`]'s
    /// object): the one list the checker refuses other names by and the
    /// analysts' guide is written from. Empty: not declared, not checked.
    fn fields(&self) -> &'static [&'static str] {
        &[]
    }
}

struct FnAction<F>(F);

#[async_trait]
impl<F, Fut> ActionHandler for FnAction<F>
where
    F: Fn(ActionContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ActionError>> + Send + 'static,
{
    async fn run(&self, ctx: ActionContext) -> Result<Value, ActionError> {
        (self.0)(ctx).await
    }
}

/// An action handler from an async closure.
pub fn action_fn<F, Fut>(f: F) -> Arc<dyn ActionHandler>
where
    F: Fn(ActionContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ActionError>> + Send + 'static,
{
    Arc::new(FnAction(f))
}

struct StaticContext(Value);

#[async_trait]
impl ContextProvider for StaticContext {
    async fn context(&self, _conn: &mut AnyConnection, _object_id: i64) -> anyhow::Result<Value> {
        Ok(self.0.clone())
    }
}

/// A context provider that always answers `value` (tests, benchmarks).
pub fn static_context(value: Value) -> Arc<dyn ContextProvider> {
    Arc::new(StaticContext(value))
}
