//! What every HTTP adapter shares: sending a request and turning the
//! provider's answer into either its JSON body or a [`ProviderError`] kind
//! (rejected key, rate limit, outage, timeout, network, nonsense), so each
//! connector's errors mean the same thing whichever provider is behind it.

use std::time::Duration;

use serde::de::DeserializeOwned;

/// Why a call to an outside provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The API key is missing, wrong or not allowed this API (401/403).
    #[error("the provider rejected the API key (HTTP {0})")]
    Unauthorized(u16),
    /// Too many requests (429); `retry_after` when the provider said.
    #[error("provider rate limit")]
    RateLimited { retry_after: Option<Duration> },
    /// The provider is down (5xx).
    #[error("provider unavailable (HTTP {0})")]
    Unavailable(u16),
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("cannot reach the provider: {0}")]
    Network(String),
    /// An answer we do not understand (an unexpected status or JSON).
    #[error("unexpected provider answer: {0}")]
    BadResponse(String),
}

impl ProviderError {
    /// A machine-readable code for logs and the message catalogue.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Unauthorized(_) => "unauthorized",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::Timeout => "timeout",
            ProviderError::Network(_) => "network",
            ProviderError::BadResponse(_) => "bad_response",
        }
    }
}

/// Sends `request` and reads a 200 answer's JSON body as `T`.
pub(crate) async fn json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, ProviderError> {
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                ProviderError::Timeout
            } else {
                ProviderError::Network(e.without_url().to_string())
            }
        })?;
    let status = response.status().as_u16();
    match status {
        200 => {}
        401 | 403 => return Err(ProviderError::Unauthorized(status)),
        429 => {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(ProviderError::RateLimited { retry_after });
        }
        500..=599 => return Err(ProviderError::Unavailable(status)),
        _ => return Err(ProviderError::BadResponse(format!("HTTP {status}"))),
    }
    response.json().await.map_err(|e| {
        if e.is_timeout() {
            ProviderError::Timeout
        } else {
            ProviderError::BadResponse(e.without_url().to_string())
        }
    })
}
