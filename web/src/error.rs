//! One error type for every handler, mapped to HTTP in one place.
//!
//! Pages get a full HTML error page (rendered by [`crate::layout`]'s error
//! middleware, which knows the user and the layout); `/api/` paths get JSON
//! `{"error": code, "fields": [...]}`. 4xx answers say what the caller can
//! fix; 5xx are logged with detail and shown without it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::error::{DomainError, FieldErrors};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("sign-in required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    /// Forbidden, with a machine-readable reason the caller can act on
    /// (`token.scope`, `event.not_external`).
    #[error("forbidden: {0}")]
    ForbiddenBecause(&'static str),
    #[error("invalid: {0:?}")]
    Invalid(FieldErrors),
    /// Text with control characters (a NUL byte…): 422 `text.control_chars`
    /// with the fields named.
    #[error("control characters in: {0:?}")]
    InvalidText(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: i64 },
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound => AppError::NotFound,
            DomainError::Forbidden => AppError::Forbidden,
            DomainError::ForbiddenBecause(c) => AppError::ForbiddenBecause(c),
            DomainError::Invalid(f) => AppError::Invalid(f),
            DomainError::Conflict(c) => AppError::Conflict(c),
            DomainError::Throttled { retry_after_secs } => {
                AppError::TooManyRequests { retry_after_secs }
            }
            DomainError::Database(e) => AppError::Internal(e.into()),
            DomainError::Other(e) => AppError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<minijinja::Error> for AppError {
    fn from(e: minijinja::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("template: {e:#}"))
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::ForbiddenBecause(_) | AppError::Csrf => {
                StatusCode::FORBIDDEN
            }
            AppError::Invalid(_) | AppError::InvalidText(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable reason (also the catalogue key suffix).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::Csrf => "csrf",
            AppError::Invalid(_) => "invalid",
            AppError::InvalidText(_) => "text.control_chars",
            AppError::BadRequest(c) | AppError::Conflict(c) | AppError::ForbiddenBecause(c) => c,
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Internal(_) => "internal",
        }
    }
}

/// Carried in the response so the error-page middleware can render HTML.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub code: String,
    pub retry_after_secs: Option<i64>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let fields = match &self {
            AppError::Invalid(f) | AppError::InvalidText(f) => {
                serde_json::to_value(&f.0).unwrap_or_default()
            }
            _ => json!([]),
        };
        let retry = match &self {
            AppError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let mut body = json!({"error": self.code(), "fields": fields});
        if let Some(r) = retry {
            body["retry_after_secs"] = json!(r);
        }
        let mut resp = (status, Json(body)).into_response();
        if let Some(r) = retry
            && let Ok(v) = axum::http::HeaderValue::from_str(&r.to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp.extensions_mut().insert(ErrorPage {
            status,
            code: self.code().to_string(),
            retry_after_secs: retry,
        });
        resp
    }
}

pub type AppResult<T> = Result<T, AppError>;
