//! Operations: what the workflow engine's background workers could not do,
//! shown to the administrators, and putting it right.
//!
//! The workers never stall on one bad row (issue 10 point 3): an action that
//! failed for good, or can never run (its instance is gone, its params are
//! corrupt), is marked failed; a timer that keeps failing is parked; an
//! instance whose stored data does not parse is marked broken. They stay
//! out of the way of everything else and wait here for a person. After
//! fixing the cause an administrator may queue a failed action or a parked
//! timer again — the engine refuses an action whose workflow has already
//! taken its failure branch, or whose instance is gone.
//!
//! Administrators only ([`Rule::Admin`]); the engine's own queries do the
//! reading ([`engine::Engine::problems`] and its neighbours).

use engine::queries::{ActionProblem, BrokenInstance, EngineProblems, Retry, TimerProblem};
use serde::Serialize;

use crate::access::{Actor, Rule, require};
use crate::error::{DomainError, DomainResult};
use crate::services::Services;

/// Rows of each kind a page shows, at most.
const LIMIT: i64 = 200;

/// The administrators' page: counts and latest errors, then the rows.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowProblems {
    pub summary: EngineProblems,
    /// Failed for good: run no more until retried.
    pub failed_actions: Vec<ActionProblem>,
    /// Failed at least once, waiting for (or running) another attempt.
    pub retrying_actions: Vec<ActionProblem>,
    /// Parked after their last attempt, and those still being retried.
    pub failed_timers: Vec<TimerProblem>,
    pub broken_instances: Vec<BrokenInstance>,
}

impl WorkflowProblems {
    pub fn is_empty(&self) -> bool {
        self.failed_actions.is_empty()
            && self.retrying_actions.is_empty()
            && self.failed_timers.is_empty()
            && self.broken_instances.is_empty()
    }
}

/// Everything the workers could not do, for an administrator.
pub async fn workflow_problems(s: &Services, actor: &Actor) -> DomainResult<WorkflowProblems> {
    require(actor, Rule::Admin)?;
    let e = &s.engine;
    Ok(WorkflowProblems {
        summary: e.problems().await?,
        failed_actions: e.failed_actions(LIMIT).await?,
        retrying_actions: e.retrying_actions(LIMIT).await?,
        failed_timers: e.failed_timers(LIMIT).await?,
        broken_instances: e.broken_instances(LIMIT).await?,
    })
}

/// Queues a failed action again (its attempts reset, the same idempotency
/// key). Refused with the engine's reason: `action.not_failed`,
/// `action.instance_gone`, `action.failure_handled`.
pub async fn retry_action(s: &Services, actor: &Actor, outbox_id: i64) -> DomainResult<()> {
    require(actor, Rule::Admin)?;
    let done = s.engine.retry_failed_action(outbox_id).await?;
    retried(
        s,
        actor,
        "workflow.action_retried",
        "wf_outbox",
        outbox_id,
        done,
    )
    .await
}

/// Makes a parked timer due now. Refused with `timer.not_failed` when it is
/// not parked (any more).
pub async fn retry_timer(s: &Services, actor: &Actor, timer_id: i64) -> DomainResult<()> {
    require(actor, Rule::Admin)?;
    let done = s.engine.retry_failed_timer(timer_id).await?;
    retried(
        s,
        actor,
        "workflow.timer_retried",
        "wf_timer",
        timer_id,
        done,
    )
    .await
}

/// Records who retried what, or turns the engine's refusal into ours.
async fn retried(
    s: &Services,
    actor: &Actor,
    action: &str,
    object_type: &str,
    id: i64,
    done: Retry,
) -> DomainResult<()> {
    match done {
        Retry::Queued => {
            let mut tx = s.db.begin().await?;
            crate::access::audit::record(
                &mut tx,
                s.db.now(),
                Some(actor),
                action,
                object_type,
                Some(id),
                serde_json::json!({}),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        Retry::NotFound => Err(DomainError::NotFound),
        Retry::Refused(reason) => Err(DomainError::Conflict(reason)),
    }
}
