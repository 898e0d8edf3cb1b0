//! Errors the domain reports to its callers. They carry machine-readable
//! codes, never interface texts: the web layer translates codes through the
//! message catalogue and maps kinds to HTTP statuses.

use serde::Serialize;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    /// A message-catalogue key suffix, e.g. `required`, `inn.checksum`.
    pub code: String,
}

/// Problems with a submitted form or API body, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors(Vec::new())
    }

    pub fn add(&mut self, field: &str, code: &str) {
        self.0.push(FieldError {
            field: field.to_string(),
            code: code.to_string(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error of `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.code.as_str())
    }

    /// Reads an optional text field through a value parser: blank gives
    /// `None`, a value the parser refuses records `code` for `field`, a
    /// valid one gives its normalised text.
    pub fn optional<T: AsRef<str>, E>(
        &mut self,
        field: &str,
        input: &str,
        code: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<String> {
        let input = input.trim();
        if input.is_empty() {
            return None;
        }
        match parse(input) {
            Ok(v) => Some(v.as_ref().to_string()),
            Err(_) => {
                self.add(field, code);
                None
            }
        }
    }

    /// Like [`FieldErrors::optional`], but blank records `required`.
    pub fn required<T: AsRef<str>, E>(
        &mut self,
        field: &str,
        input: &str,
        code: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<String> {
        if input.trim().is_empty() {
            self.add(field, "required");
            return None;
        }
        self.optional(field, input, code, parse)
    }

    /// `Ok(())` when there are no errors, so validation can end with `?`.
    pub fn into_result(self) -> Result<(), DomainError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The object does not exist *for this caller*: another party's objects
    /// are reported exactly like missing ones.
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// Forbidden, with a machine-readable reason the caller can act on
    /// (`token.scope`, `event.not_external`).
    #[error("forbidden: {0}")]
    ForbiddenBecause(&'static str),
    #[error("invalid input: {0:?}")]
    Invalid(FieldErrors),
    /// A business rule refused the action; the code names the rule.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("too many attempts, retry after {retry_after_secs} s")]
    Throttled { retry_after_secs: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl DomainError {
    /// A single-field validation error.
    pub fn field(field: &str, code: &str) -> DomainError {
        let mut e = FieldErrors::new();
        e.add(field, code);
        DomainError::Invalid(e)
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// A workflow's refusal is the caller's problem, not a server fault: a
/// missing task, instance or definition is "not found"; a step the
/// workflow does not take now (task already done or taken by a colleague,
/// transition not accepted in this state, instance finished or busy, a
/// local action refusing) is a conflict with a machine code; an unknown
/// outcome, a refused form or bad instance data are field errors; a task
/// the person is no candidate for is forbidden. Only the database, broken
/// definitions and expressions, and stored data that cannot be read are
/// internal errors. This is the one mapping: the web layer turns the
/// domain's error into HTTP and never looks at the engine's.
impl From<engine::EngineError> for DomainError {
    fn from(e: engine::EngineError) -> Self {
        use engine::{EngineError as E, StepError as S};
        match e {
            E::TaskNotFound(_)
            | E::InstanceNotFound(_)
            | E::DefinitionNotFound(_)
            | E::NoActiveDefinition(_) => DomainError::NotFound,
            E::NotAllowed("claimed_by_other") => DomainError::Conflict("task.claimed_by_other"),
            E::NotAllowed("not_claimed_by_you") => DomainError::Conflict("task.not_claimed_by_you"),
            E::NotAllowed("not_a_candidate") => DomainError::Forbidden,
            E::NotAllowed(_) => DomainError::Conflict("workflow.not_allowed"),
            E::ActionRefused { .. } => DomainError::Conflict("workflow.action_refused"),
            E::Conflict(_) => DomainError::Conflict("workflow.busy"),
            E::Step(S::TaskNotOpen(_)) => DomainError::Conflict("task.closed"),
            E::Step(S::NotAccepted { .. }) => DomainError::Conflict("workflow.not_accepted"),
            E::Step(S::Finished) => DomainError::Conflict("workflow.finished"),
            E::Step(S::UnknownOutcome { .. }) => DomainError::field("outcome", "unknown"),
            E::Step(S::Form(errors)) => {
                let mut e = FieldErrors::new();
                for (field, error) in errors {
                    e.add(&field, &error.code);
                }
                DomainError::Invalid(e)
            }
            E::Step(S::BadData { field, code }) => DomainError::field(&field, &code),
            E::Step(S::UnknownField(field)) => DomainError::field(&field, "unknown"),
            E::Db(e) => DomainError::Database(e),
            other => DomainError::Other(anyhow::anyhow!("{other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use engine::{EngineError, StepError};

    use super::*;

    #[test]
    fn workflow_refusals_are_not_server_faults() {
        assert!(matches!(
            DomainError::from(EngineError::TaskNotFound(1)),
            DomainError::NotFound
        ));
        assert!(matches!(
            DomainError::from(EngineError::InstanceNotFound(1)),
            DomainError::NotFound
        ));
        assert!(matches!(
            DomainError::from(EngineError::Step(StepError::TaskNotOpen(1))),
            DomainError::Conflict("task.closed")
        ));
        assert!(matches!(
            DomainError::from(EngineError::Step(StepError::NotAccepted {
                state: "new".into(),
                event: "rfq.sent".into(),
            })),
            DomainError::Conflict("workflow.not_accepted")
        ));
        assert!(matches!(
            DomainError::from(EngineError::Step(StepError::Finished)),
            DomainError::Conflict("workflow.finished")
        ));
        assert!(matches!(
            DomainError::from(EngineError::Conflict(3)),
            DomainError::Conflict("workflow.busy")
        ));
        assert!(matches!(
            DomainError::from(EngineError::NotAllowed("claimed_by_other")),
            DomainError::Conflict("task.claimed_by_other")
        ));
        assert!(matches!(
            DomainError::from(EngineError::NotAllowed("not_claimed_by_you")),
            DomainError::Conflict("task.not_claimed_by_you")
        ));
        assert!(matches!(
            DomainError::from(EngineError::NotAllowed("not_a_candidate")),
            DomainError::Forbidden
        ));
        assert!(matches!(
            DomainError::from(EngineError::NoActiveDefinition("x".into())),
            DomainError::NotFound
        ));
        assert!(matches!(
            DomainError::from(EngineError::ActionRefused {
                action: "book".into(),
                reason: "machine.booked".into(),
            }),
            DomainError::Conflict("workflow.action_refused")
        ));
        match DomainError::from(EngineError::Step(StepError::UnknownOutcome {
            task: "verify".into(),
            outcome: "maybe".into(),
        })) {
            DomainError::Invalid(e) => assert_eq!(e.get("outcome"), Some("unknown")),
            other => panic!("{other:?}"),
        }
        match DomainError::from(EngineError::Step(StepError::BadData {
            field: "rounds".into(),
            code: "not_an_integer".into(),
        })) {
            DomainError::Invalid(e) => assert_eq!(e.get("rounds"), Some("not_an_integer")),
            other => panic!("{other:?}"),
        }
        let mut form = engine::FieldErrors::new();
        form.insert(
            "reason".into(),
            engine::FieldError {
                code: "required".into(),
                limit: None,
            },
        );
        match DomainError::from(EngineError::Step(StepError::Form(form))) {
            DomainError::Invalid(e) => assert_eq!(e.get("reason"), Some("required")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            DomainError::from(EngineError::Db(sqlx::Error::RowNotFound)),
            DomainError::Database(_)
        ));
        assert!(matches!(
            DomainError::from(EngineError::Step(StepError::Loop)),
            DomainError::Other(_)
        ));
    }
}
