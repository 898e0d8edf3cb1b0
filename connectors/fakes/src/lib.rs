//! Fake providers on loopback, for tests only.
//!
//! This crate is a dev-dependency of whoever tests against a provider
//! (`connectors`, `domain`, the `podryad` end-to-end tests): it is never
//! linked into the production binary, so neither axum-served fakes nor
//! their fixtures ship with it. The offline demo needs no fake: without a
//! provider, messages stay in the outbox and company details are typed by
//! hand.
//!
//! Each fake speaks the documented wire format of its provider closely
//! enough for the real adapter to be tested against it, records what it
//! received, and can be told to misbehave the way providers do: answer with
//! an error status, rate-limit, or stall until the client times out. They
//! listen on `127.0.0.1`, port 0 (a free port), and stop when dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod dadata;
mod diadoc;
mod dss;
mod geo;
mod sbis;
mod sms;
mod smtp;
mod telegram;

pub use dadata::FakeDadata;
pub use diadoc::{FakeDiadoc, FakeDiadocDocument};
pub use dss::{FakeDss, SignRequest};
pub use geo::{FakeDadataAddress, FakeNominatim, Place, gazetteer};
pub use sbis::{FakeSbis, FakeSbisDocument};
pub use sms::{FakeSmsGateway, ReceivedSms};
pub use smtp::{FakeSmtp, ReceivedMail};
pub use telegram::{FakeTelegram, ReceivedTelegram};

/// A way for an HTTP fake to misbehave on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFault {
    /// Answer with this status (e.g. 500, 502, 503) and a small error body.
    Status(u16),
    /// Answer 429, with `Retry-After` / `retry_after` in seconds.
    TooManyRequests { retry_after: u64 },
    /// Wait this long before answering normally (to trip client timeouts).
    Delay(Duration),
}

/// Faults to apply: queued ones first (one per request), then the sticky one.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queued: VecDeque<HttpFault>,
    sticky: Option<HttpFault>,
}

impl Faults {
    pub(crate) fn next(&mut self) -> Option<HttpFault> {
        self.queued.pop_front().or_else(|| self.sticky.clone())
    }
}

/// Shared by the HTTP fakes: their state plus faults.
pub(crate) struct Shared<S> {
    pub(crate) state: Mutex<S>,
    pub(crate) faults: Mutex<Faults>,
}

impl<S> Shared<S> {
    pub(crate) fn new(state: S) -> Arc<Shared<S>> {
        Arc::new(Shared {
            state: Mutex::new(state),
            faults: Mutex::new(Faults::default()),
        })
    }

    /// The state, even if a panicking test poisoned the lock.
    pub(crate) fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies the next fault: `Some(response)` to answer with instead,
    /// `None` to go on normally (after any delay).
    pub(crate) async fn fault_response(
        &self,
        body_for: impl Fn(u16, Option<u64>) -> serde_json::Value,
    ) -> Option<axum::response::Response> {
        use axum::response::IntoResponse;
        let fault = self.faults().next();
        match fault? {
            HttpFault::Delay(d) => {
                tokio::time::sleep(d).await;
                None
            }
            HttpFault::Status(code) => {
                let status = axum::http::StatusCode::from_u16(code)
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                Some((status, axum::Json(body_for(code, None))).into_response())
            }
            HttpFault::TooManyRequests { retry_after } => Some(
                (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, retry_after.to_string())],
                    axum::Json(body_for(429, Some(retry_after))),
                )
                    .into_response(),
            ),
        }
    }
}

impl<S> Shared<S> {
    /// The next fault to apply, if any; for fakes that must do the work
    /// before a [`HttpFault::Delay`] (a lost reply: the provider acted, the
    /// client never heard).
    pub(crate) fn next_fault(&self) -> Option<HttpFault> {
        self.faults().next()
    }
}

/// The error answer of a status fault; `None` for a delay.
pub(crate) fn fault_reply(
    fault: &HttpFault,
    body_for: impl Fn(u16, Option<u64>) -> serde_json::Value,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    match fault {
        HttpFault::Delay(_) => None,
        HttpFault::Status(code) => {
            let status = axum::http::StatusCode::from_u16(*code)
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, axum::Json(body_for(*code, None))).into_response())
        }
        HttpFault::TooManyRequests { retry_after } => Some(
            (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, retry_after.to_string())],
                axum::Json(body_for(429, Some(*retry_after))),
            )
                .into_response(),
        ),
    }
}

/// Fault controls common to the HTTP fakes.
macro_rules! fault_controls {
    ($t:ty) => {
        impl $t {
            /// Misbehaves on the next request only (queued faults apply in order).
            pub fn push_fault(&self, fault: $crate::HttpFault) {
                self.shared.faults().queued.push_back(fault);
            }

            /// Misbehaves on every request until `set_fault(None)`.
            pub fn set_fault(&self, fault: Option<$crate::HttpFault>) {
                self.shared.faults().sticky = fault;
            }
        }
    };
}
pub(crate) use fault_controls;

/// A background server task, stopped on drop.
pub(crate) struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `router` on a free loopback port.
pub(crate) async fn serve(router: axum::Router) -> std::io::Result<(SocketAddr, ServerTask)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "fake server stopped");
        }
    });
    Ok((addr, ServerTask(task)))
}
