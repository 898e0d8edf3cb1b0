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
