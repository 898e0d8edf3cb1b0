//! What the host application plugs into the engine: action handlers and
//! context providers. Workflows name them; the engine calls them.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::step::ObjectRef;

/// Everything an action handler is told about one run.
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
    /// 1 on the first run.
    pub attempt: u32,
}

/// How an action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// Worth trying again later (network, 5xx, timeout).
    #[error("retry: {0}")]
    Retry(String),
    /// Pointless to retry (refused, invalid); the workflow gets `<action>.failed`.
    #[error("failed: {0}")]
    Fail(String),
}

/// Runs a named action. Its `Ok` value becomes the payload of the
/// `<action>.done` event.
#[async_trait]
pub trait ActionHandler: Send + Sync + 'static {
    async fn run(&self, ctx: ActionContext) -> Result<Value, ActionError>;
}

/// Loads the context of a business object (`object.*` in expressions). It is
/// given the connection of the step's transaction, so that a row created in
/// the same transaction is visible.
#[async_trait]
pub trait ContextProvider: Send + Sync + 'static {
    async fn context(&self, conn: &mut AnyConnection, object_id: i64) -> anyhow::Result<Value>;
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
