//! Glue between the signed-in actor and the engine's view of people, and
//! the mapping of engine errors to HTTP answers.

use domain::access::Actor;
use engine::{EngineError, StepError, UserRef};

use crate::error::AppError;

/// The engine's view of a user: id, organisation, roles.
pub fn user_ref(actor: &Actor) -> UserRef {
    UserRef {
        id: actor.user_id,
        org_id: actor.org_id,
        home_org: actor.is_staff(),
        roles: actor.role_names().into_iter().map(str::to_string).collect(),
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::TaskNotFound(_)
            | EngineError::InstanceNotFound(_)
            | EngineError::DefinitionNotFound(_) => AppError::NotFound,
            EngineError::NotAllowed(_) => AppError::Forbidden,
            EngineError::Step(StepError::TaskNotOpen(_)) => AppError::Conflict("task.closed"),
            EngineError::Step(StepError::UnknownOutcome { .. }) => {
                AppError::BadRequest("task.unknown_outcome")
            }
            EngineError::Step(StepError::NotAccepted { .. }) => {
                AppError::Conflict("workflow.not_accepted")
            }
            EngineError::Step(StepError::Finished) => AppError::Conflict("workflow.finished"),
            EngineError::Conflict(_) => AppError::Conflict("workflow.busy"),
            other => AppError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// Where the business object of a workflow is shown, for links from tasks
/// and instances. Unknown kinds have no page.
pub fn object_href(kind: &str, id: i64) -> Option<String> {
    match kind {
        "supplier" | "client" => Some(format!("/parties/{id}")),
        "request" => Some(format!("/requests/{id}")),
        "machine_document" => Some(format!("/garage/documents/{id}")),
        "order" => Some(format!("/orders/{id}")),
        "contract" => Some(format!("/contracts/{id}")),
        _ => None,
    }
}
