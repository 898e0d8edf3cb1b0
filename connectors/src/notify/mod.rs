//! Delivering a message to a person: the [`Transport`] trait and its
//! adapters — e-mail over SMTP ([`smtp`]), an SMS gateway ([`sms`]) and a
//! Telegram bot ([`telegram`]) — assembled per channel as [`Transports`].
//!
//! A transport delivers one [`OutgoingMessage`] once and says how it went
//! ([`DeliveryError`] tells a retry-worthy failure from a permanent one). It
//! never retries and never stores anything: queueing, retries with backoff
//! and the record of what was sent belong to the caller — Podryad's
//! notification outbox lives in the domain (`domain::notify`), because it is
//! our own database, not the outside world.
//!
//! Delivery through a provider is *at least once*: when a provider's reply
//! is lost, the caller cannot know whether the message went out and sends it
//! again. Every [`OutgoingMessage`] therefore carries an idempotency key that
//! stays the same across retries of one message, and each adapter passes it
//! to its provider where the provider can deduplicate by it: SMTP as the
//! `Message-ID` header ([`smtp`]). The SMS gateway ([`sms`]) and the
//! Telegram Bot API ([`telegram`]) have no such parameter; their module docs
//! say what that means.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod sms;
pub mod smtp;
pub mod telegram;

use crate::config::{ConfigError, ConnectorsConfig};

/// How a message reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Recipient: an e-mail address.
    Email,
    /// Recipient: a phone number, `+7XXXXXXXXXX`.
    Sms,
    /// Recipient: a Telegram chat id (the user must have started the bot).
    Telegram,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Telegram];

    /// The stored code, as in the table's CHECK constraint.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Telegram => "telegram",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The caller's id of the message (for logs).
    pub id: i64,
    /// The same on every attempt to deliver this one message, and different
    /// for every other message: the caller derives it from what it stored
    /// (Podryad's outbox: `notification-<row id>-<queued at, ms>`). Adapters
    /// hand it to the provider wherever the provider can drop a duplicate
    /// by it, so a retry after a lost reply does not deliver twice. Only
    /// `A-Z a-z 0-9 - . _` are expected; adapters replace anything else.
    pub idempotency_key: String,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: the provider is down, slow, rate-limiting, or our
    /// credentials are wrong (an admin may fix them while we retry).
    /// `retry_after` is the provider's own hint.
    #[error("temporary: {reason}")]
    Temporary {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help: the recipient does not exist or refuses.
    #[error("permanent: {reason}")]
    Permanent { reason: String },
}

impl DeliveryError {
    pub fn temporary(reason: impl Into<String>) -> DeliveryError {
        DeliveryError::Temporary {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> DeliveryError {
        DeliveryError::Permanent {
            reason: reason.into(),
        }
    }

    /// Classifies an HTTP client error: timeouts and connection problems are
    /// temporary.
    pub(crate) fn from_http(e: &reqwest::Error) -> DeliveryError {
        if e.is_timeout() {
            DeliveryError::temporary("timeout")
        } else if e.is_connect() {
            DeliveryError::temporary(format!("cannot connect: {e}"))
        } else {
            DeliveryError::temporary(format!("http error: {e}"))
        }
    }
}

/// Delivers messages of one channel.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// A short name for logs and metrics (`smtp`, `sms`, `telegram`).
    fn name(&self) -> &'static str;

    /// Delivers one message. Must not retry by itself: the caller does,
    /// durably, with backoff.
    async fn send(&self, message: &OutgoingMessage) -> Result<(), DeliveryError>;
}

/// The configured transport of each channel. A channel without one has no
/// way out: the caller keeps its messages (Podryad's outbox marks them
/// `undeliverable` for an admin to read).
#[derive(Clone, Default)]
pub struct Transports {
    email: Option<Arc<dyn Transport>>,
    sms: Option<Arc<dyn Transport>>,
    telegram: Option<Arc<dyn Transport>>,
}

impl std::fmt::Debug for Transports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |t: &Option<Arc<dyn Transport>>| t.as_ref().map(|t| t.name());
        f.debug_struct("Transports")
            .field("email", &name(&self.email))
            .field("sms", &name(&self.sms))
            .field("telegram", &name(&self.telegram))
            .finish()
    }
}

impl Transports {
    /// No transport: every message stays in the outbox.
    pub fn none() -> Transports {
        Transports::default()
    }

    /// Sets (replaces) the transport of `channel`.
    pub fn with(mut self, channel: Channel, transport: Arc<dyn Transport>) -> Transports {
        *self.slot(channel) = Some(transport);
        self
    }

    fn slot(&mut self, channel: Channel) -> &mut Option<Arc<dyn Transport>> {
        match channel {
            Channel::Email => &mut self.email,
            Channel::Sms => &mut self.sms,
            Channel::Telegram => &mut self.telegram,
        }
    }

    pub fn get(&self, channel: Channel) -> Option<&Arc<dyn Transport>> {
        match channel {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
            Channel::Telegram => self.telegram.as_ref(),
        }
    }

    /// The channels that have a transport.
    pub fn configured(&self) -> Vec<Channel> {
        Channel::ALL
            .into_iter()
            .filter(|c| self.get(*c).is_some())
            .collect()
    }

    /// Builds the transports of `config`.
    pub fn from_config(config: &ConnectorsConfig) -> Result<Transports, ConfigError> {
        let mut t = Transports::none();
        if let Some(c) = &config.smtp {
            t = t.with(Channel::Email, Arc::new(smtp::SmtpTransport::new(c)?));
        }
        if let Some(c) = &config.sms {
            t = t.with(Channel::Sms, Arc::new(sms::SmsGatewayTransport::new(c)?));
        }
        if let Some(c) = &config.telegram {
            t = t.with(
                Channel::Telegram,
                Arc::new(telegram::TelegramTransport::new(c)?),
            );
        }
        Ok(t)
    }

    /// Builds from the environment ([`ConnectorsConfig::from_env`]). A
    /// configuration error is logged at ERROR and no transport is used
    /// (messages stay in the outbox), so the server still starts; use
    /// [`Transports::from_config`] to refuse to start instead.
    pub fn from_env() -> Transports {
        match ConnectorsConfig::from_env().and_then(|c| Transports::from_config(&c)) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "notification transports misconfigured; messages stay in the outbox");
                Transports::none()
            }
        }
    }
}
