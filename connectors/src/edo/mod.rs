//! Signing documents through EDO operators (электронный документооборот):
//! the [`EdoOperator`] trait, what goes in and out of it, and its adapters —
//! Kontur.Diadoc ([`diadoc`]) and SBIS/Saby ([`sbis`]) — plus the [`signer`]
//! that makes *our* qualified signature, which is never made in-process.
//!
//! What an operator does for Podryad, and nothing more:
//!
//! 1. [`EdoOperator::post`] sends one signed PDF from our box to the
//!    counterparty's box, asking for their signature. The caller's
//!    idempotency key (the workflow action's key) goes to the operator as its
//!    own deduplication key (Diadoc's `operationId`, SBIS's document
//!    `Идентификатор`), so posting the same document twice — a retry after a
//!    lost reply, a worker killed mid-call — returns the same [`Posted`] and
//!    creates nothing new. Adapters never invent a key.
//! 2. [`EdoOperator::events`] reads our box's event feed from a cursor the
//!    caller stores ([`EventPage::next_cursor`]); after a restart the caller
//!    passes the stored cursor and nothing is lost. A provider may repeat an
//!    event (and its feed may show a signature before the delivery), so the
//!    caller must key what it applies on ([`provider`](EdoOperator::provider),
//!    [`EdoEvent::event_id`]) — the domain's ingress table does.
//! 3. [`EdoOperator::signed_copy`] fetches the document as finally signed:
//!    its content, our signature and the counterparty's.
//!
//! Nothing here touches our database or knows about orders: the domain's
//! `signing` context decides what to send and records what came back.
//!
//! Every failure is an [`EdoError`]: `Retry` (the operator is slow, down or
//! rate-limiting, or the reply was lost — repeat with the same key),
//! `Rejected` (the operator refused the request; repeating will not help)
//! or `Config` (our own settings are wrong; an admin must act).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

pub mod diadoc;
mod oauth;
pub mod sbis;
pub mod signer;

pub use signer::{DssSigner, Signature, Signer, TestSignature};

use crate::config::{ConfigError, ConnectorsConfig};

/// One document on its way to a counterparty for signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingDocument {
    /// The workflow action's idempotency key: the same on every attempt to
    /// send this document, different for every other document. It becomes
    /// Diadoc's `operationId` and SBIS's document id (a UUID derived from
    /// it), and the signing service's request key.
    pub idempotency_key: String,
    /// Our box at the operator: Diadoc's `BoxId`; for SBIS our INN
    /// (`ИНН` or `ИНН/КПП`), which is how SBIS names an organisation.
    pub from_box: String,
    /// The counterparty's box, in the same form as `from_box`.
    pub to_box: String,
    /// The file name the counterparty sees: `Заказ-наряд З-2026-00017.pdf`.
    pub file_name: String,
    /// A human title (Diadoc's comment, SBIS's `Примечание`).
    pub title: String,
    /// The document's number as printed on it.
    pub number: String,
    /// The document's date as printed on it.
    pub date: NaiveDate,
    /// The rendered PDF, exactly the bytes we sign.
    pub pdf: Vec<u8>,
    /// Ask the counterparty to sign it back (a work order, a contract); a
    /// notice that needs no answer says `false`.
    pub needs_recipient_signature: bool,
}

/// Where a posted document lives at the operator. Store both ids: events and
/// the signed copy are found by them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Posted {
    /// Diadoc's `MessageId`; SBIS's document `Идентификатор`.
    pub message_id: String,
    /// Diadoc's `EntityId` of the document in the message; SBIS's
    /// attachment (`Вложение`) `Идентификатор`.
    pub document_id: String,
}

/// What happened to a posted document, as far as Podryad cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdoEventKind {
    /// The operator delivered it to the counterparty's box.
    Delivered,
    /// The counterparty signed it.
    RecipientSigned,
    /// The counterparty refused to sign, with the reason they typed.
    RecipientRejected { reason: String },
    /// Anything else in the feed (our own message appearing, a receipt, an
    /// unrelated document), with the operator's name for it; callers
    /// record and ignore it.
    Other(String),
}

/// One entry of an operator's event feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdoEvent {
    /// The operator's id of this event, unique within the provider: the
    /// caller's dedup key together with [`EdoOperator::provider`].
    pub event_id: String,
    /// [`Posted::message_id`] of the document it concerns.
    pub message_id: String,
    /// [`Posted::document_id`] of the document it concerns (empty when the
    /// event is about the whole message).
    pub document_id: String,
    pub kind: EdoEventKind,
    /// When it happened at the operator, UTC.
    pub at: DateTime<Utc>,
}

/// One page of the event feed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventPage {
    /// In the operator's feed order (which need not be the order things
    /// happened in).
    pub events: Vec<EdoEvent>,
    /// Where to read from next time: store it with what you applied, and
    /// pass it as `after`. The `after` given when the page is empty; `None`
    /// only when the feed has never had anything.
    pub next_cursor: Option<String>,
    /// The operator has more events after this page: read again at once.
    pub has_more: bool,
}

/// A document as finally signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCopy {
    /// The document's bytes, as sent.
    pub content: Vec<u8>,
    /// Our detached CMS signature (for a test signature: the operator's
    /// test CMS).
    pub our_signature: Vec<u8>,
    /// The counterparty's detached CMS signature; `None` until they sign.
    pub their_signature: Option<Vec<u8>>,
}

/// Why an operator call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdoError {
    /// Worth repeating later with the same idempotency key: a timeout, 5xx,
    /// 429, Diadoc's "still processing" 204, a lost connection. `after` is
    /// the operator's own hint (`Retry-After`).
    #[error("retry: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The operator refused: a bad box, a recipient who does not accept
    /// documents, a duplicate it will not resolve. `code` is machine-readable
    /// (`http_409`, the operator's error code).
    #[error("rejected ({code}): {reason}")]
    Rejected { code: String, reason: String },
    /// Our settings are wrong or incomplete (credentials refused, a test
    /// signature outside test mode). Retrying will not help until an admin
    /// fixes the configuration.
    #[error("configuration: {0}")]
    Config(String),
}

impl EdoError {
    pub fn retry(reason: impl Into<String>) -> EdoError {
        EdoError::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    pub fn rejected(code: impl Into<String>, reason: impl Into<String>) -> EdoError {
        EdoError::Rejected {
            code: code.into(),
            reason: reason.into(),
        }
    }

    /// Whether repeating the call (with the same key) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, EdoError::Retry { .. })
    }

    /// An HTTP client error: timeouts and connection problems are worth a
    /// retry. The URL is dropped (it may carry ids, never secrets, but logs
    /// stay short).
    pub(crate) fn from_http(e: reqwest::Error) -> EdoError {
        let e = e.without_url();
        if e.is_timeout() {
            EdoError::retry("timeout")
        } else if e.is_connect() {
            EdoError::retry(format!("cannot connect: {e}"))
        } else {
            EdoError::retry(format!("http error: {e}"))
        }
    }
}

/// An EDO operator: posts documents for signature, reads what happened to
/// them, fetches the signed copy. See the module documentation.
#[async_trait]
pub trait EdoOperator: Send + Sync + 'static {
    /// `"diadoc"` or `"sbis"`: stored with envelopes and events.
    fn provider(&self) -> &'static str;

    /// Our box at this operator (from the configuration), for callers that
    /// build an [`OutgoingDocument`] or read the feed.
    fn our_box(&self) -> &str;

    /// Sends `doc` signed by us. Idempotent by `doc.idempotency_key`.
    async fn post(&self, doc: &OutgoingDocument) -> Result<Posted, EdoError>;

    /// Events of `box_id` after the cursor `after` (`None`: from the start).
    async fn events(&self, box_id: &str, after: Option<&str>) -> Result<EventPage, EdoError>;

    /// The document `posted` with its signatures.
    async fn signed_copy(&self, box_id: &str, posted: &Posted) -> Result<SignedCopy, EdoError>;
}

/// The configured operators, by provider name. Empty when no EDO operator is
/// configured (the built-in simple signature still works).
#[derive(Clone, Default)]
pub struct EdoOperators {
    operators: Vec<Arc<dyn EdoOperator>>,
}

impl std::fmt::Debug for EdoOperators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.operators.iter().map(|o| o.provider()))
            .finish()
    }
}

impl EdoOperators {
    pub fn none() -> EdoOperators {
        EdoOperators::default()
    }

    /// Adds (or replaces, by provider name) an operator.
    pub fn with(mut self, operator: Arc<dyn EdoOperator>) -> EdoOperators {
        self.operators
            .retain(|o| o.provider() != operator.provider());
        self.operators.push(operator);
        self
    }

    /// The operator named `provider` (`"diadoc"`, `"sbis"`).
    pub fn get(&self, provider: &str) -> Option<&Arc<dyn EdoOperator>> {
        self.operators.iter().find(|o| o.provider() == provider)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn EdoOperator>> {
        self.operators.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
    }

    /// The configured providers' names.
    pub fn providers(&self) -> Vec<&'static str> {
        self.operators.iter().map(|o| o.provider()).collect()
    }

    /// Builds the operators of `config`, each with its signer: the signing
    /// service when `PODRYAD_DSS_URL` is set, the operator's test signature
    /// when asked for (only in test mode).
    pub fn from_config(config: &ConnectorsConfig) -> Result<EdoOperators, ConfigError> {
        let mut operators = EdoOperators::none();
        let dss: Option<Arc<dyn Signer>> = match &config.dss {
            Some(c) => Some(Arc::new(DssSigner::new(c.clone())?)),
            None => None,
        };
        let signer_for = |test_signature: bool,
                          test_var: &'static str,
                          url_var: &'static str|
         -> Result<Arc<dyn Signer>, ConfigError> {
            if test_signature {
                let signer =
                    TestSignature::new(config.edo_test_mode).map_err(|_| ConfigError::Missing {
                        var: "PODRYAD_EDO_TEST_MODE",
                        because: test_var,
                    })?;
                return Ok(Arc::new(signer));
            }
            dss.clone().ok_or(ConfigError::Missing {
                var: "PODRYAD_DSS_URL",
                because: url_var,
            })
        };
        if let Some(c) = &config.diadoc {
            let signer = signer_for(
                c.test_signature,
                "PODRYAD_DIADOC_TEST_SIGNATURE",
                "PODRYAD_DIADOC_URL",
            )?;
            operators = operators.with(Arc::new(diadoc::Diadoc::new(c.clone(), signer)?));
        }
        if let Some(c) = &config.sbis {
            let signer = signer_for(
                c.test_signature,
                "PODRYAD_SBIS_TEST_SIGNATURE",
                "PODRYAD_SBIS_URL",
            )?;
            operators = operators.with(Arc::new(sbis::Sbis::new(c.clone(), signer)?));
        }
        Ok(operators)
    }
}

/// `Retry-After` in seconds (the only form these operators use).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Classifies a non-success HTTP status of an operator call (after any
/// re-authentication): 429 and 5xx are retried, everything else refused.
pub(crate) fn error_for_status(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> EdoError {
    let body: String = body.chars().take(500).collect();
    match status {
        429 => EdoError::Retry {
            reason: "rate limited (429)".into(),
            after: retry_after(headers),
        },
        500..=599 => EdoError::Retry {
            reason: format!("operator unavailable ({status}): {body}"),
            after: retry_after(headers),
        },
        401 | 403 => EdoError::Config(format!(
            "operator refused our credentials ({status}): {body}"
        )),
        _ => EdoError::rejected(format!("http_{status}"), body),
    }
}
