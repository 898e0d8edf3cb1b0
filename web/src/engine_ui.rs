//! Glue between the signed-in actor and the engine's view of people, and
//! the mapping of engine errors to HTTP answers.

use domain::access::Actor;
use engine::{EngineError, UserRef};

use crate::error::AppError;

/// The engine's view of a user: id, organisation, roles.
pub fn user_ref(actor: &Actor) -> UserRef {
    UserRef {
        id: actor.user_id(),
        org_id: actor.org_id(),
        home_org: actor.is_staff(),
        roles: actor.role_names().into_iter().map(str::to_string).collect(),
    }
}

/// The engine's refusals reach HTTP only through the domain's one mapping
/// ([`domain::error::DomainError`]'s `From<EngineError>`), so a page and the
/// API answer the same refusal with the same status and reason.
impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        domain::error::DomainError::from(e).into()
    }
}

/// Where the business object of a workflow is shown, for links from tasks
/// and instances. Unknown kinds have no page.
pub fn object_href(kind: &str, id: i64) -> Option<String> {
    match kind {
        "supplier" | "client" => Some(format!("/parties/{id}")),
        "request" => Some(format!("/requests/{id}")),
        "machine_document" => Some(format!("/garage/documents/{id}")),
        _ => None,
    }
}
