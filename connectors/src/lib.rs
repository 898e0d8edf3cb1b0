//! The outside world, behind traits.
//!
//! Every system Podryad talks to — mail and SMS gateways, Telegram, the
//! company registry (DaData), later EDO providers and payments — is a trait
//! here with three things behind it: a built-in or local implementation that
//! works with no account (so the demo runs offline and a fresh install is
//! usable: messages stay in an outbox an admin can read, company details are
//! typed by hand), a real adapter speaking the provider's documented HTTP
//! API, and a fake server (the `fakes` crate, a dev-dependency) on loopback
//! against which the tests
//! check the adapter, including the provider's failures (timeouts, 5xx,
//! rejected keys, rate limits). Nothing in this crate knows about requests,
//! quotes or orders; the domain decides what to say and to whom.
//!
//! - [`notify`]: delivering one message through [`Transports`] (SMTP, an
//!   SMS gateway, a Telegram bot). The notification outbox that queues and
//!   retries them is our own database and lives in `domain::notify`.
//! - [`registry`]: company and bank lookup by INN / BIK
//!   ([`registry::CompanyRegistry`]), DaData or manual entry.
//! - [`Connectors`] assembles both from a [`ConnectorsConfig`], which reads
//!   the `PODRYAD_*` environment variables listed there.

pub mod config;
pub mod notify;
pub mod registry;

use std::sync::Arc;

pub use config::{ConfigError, ConnectorsConfig};
pub use notify::Transports;
pub use registry::CompanyRegistry;

/// The connectors the application runs with, assembled once at start.
#[derive(Clone)]
pub struct Connectors {
    /// Delivery transports for the notification sender.
    pub transports: Transports,
    /// Company and bank lookup; [`registry::ManualEntry`] without an API key.
    pub registry: Arc<dyn CompanyRegistry>,
    /// What people write to the Telegram bot, and the bot's username; only
    /// when the bot is configured with its username.
    pub telegram_inbox: Option<(Arc<notify::telegram::TelegramInbox>, String)>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("transports", &self.transports)
            .field("registry_configured", &self.registry.is_configured())
            .field("telegram_bot", &self.telegram_inbox.as_ref().map(|t| &t.1))
            .finish()
    }
}

impl Connectors {
    /// Builds every configured connector; unconfigured ones fall back to
    /// their local implementation. Fails on a configuration that is present
    /// but wrong (a malformed SMTP URL), so a typo does not silently turn
    /// e-mail off.
    pub fn from_config(config: &ConnectorsConfig) -> Result<Connectors, ConfigError> {
        let transports = Transports::from_config(config)?;
        let registry: Arc<dyn CompanyRegistry> = match &config.dadata {
            Some(dadata) => Arc::new(registry::dadata::DadataRegistry::new(dadata.clone())?),
            None => Arc::new(registry::ManualEntry),
        };
        let telegram_inbox = match &config.telegram {
            Some(t) => match &t.bot_username {
                Some(bot) => Some((
                    Arc::new(notify::telegram::TelegramInbox::new(t)?),
                    bot.clone(),
                )),
                None => None,
            },
            None => None,
        };
        Ok(Connectors {
            transports,
            registry,
            telegram_inbox,
        })
    }

    /// Reads [`ConnectorsConfig::from_env`] and builds from it.
    pub fn from_env() -> Result<Connectors, ConfigError> {
        Connectors::from_config(&ConnectorsConfig::from_env()?)
    }

    /// No outside system at all: the outbox and manual entry (tests, demo).
    pub fn offline() -> Connectors {
        Connectors {
            transports: Transports::none(),
            registry: Arc::new(registry::ManualEntry),
            telegram_inbox: None,
        }
    }
}
