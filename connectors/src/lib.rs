//! The outside world, behind traits.
//!
//! Every system Podryad talks to — mail and SMS gateways, Telegram, the
//! company registry (DaData), EDO operators, later payments — is a trait
//! here with a real adapter speaking the provider's documented API and, where
//! one makes sense, a local fallback that works with no account (company
//! details typed by hand: [`registry::ManualEntry`]). Nothing in this crate
//! knows about requests, quotes or orders, and nothing here touches our
//! database: the domain decides what to say and to whom, and keeps its own
//! records.
//!
//! What this crate owns:
//!
//! - [`notify`]: how one message reaches a person — the [`notify::Transport`]
//!   trait, the message handed to it ([`notify::OutgoingMessage`], with an
//!   idempotency key stable across retries), its adapters (SMTP, an SMS
//!   gateway, a Telegram bot, plus [`notify::telegram::TelegramInbox`] for
//!   what people write to the bot) and [`Transports`], one per channel. The
//!   notification *outbox* — queueing in the causing transaction, retries
//!   with backoff, the admin's view — is our own database and lives in the
//!   domain (`domain::notify`).
//! - [`registry`]: company and bank lookup by INN / BIK
//!   ([`registry::CompanyRegistry`]), DaData or manual entry.
//! - [`edo`]: signing documents through EDO operators — the
//!   [`edo::EdoOperator`] trait (post a signed PDF idempotently, read the
//!   event feed from a stored cursor, fetch the signed copy), its Diadoc and
//!   SBIS adapters, and the [`edo::Signer`] of our qualified signature (an
//!   external signing service, or the operator's test signature in test
//!   mode only), assembled as [`edo::EdoOperators`].
//! - [`geo`]: address suggestions and coordinates ([`geo::Geocoder`]):
//!   DaData, a self-hosted Nominatim, or none.
//! - [`http`]: what the HTTP adapters share — sending a request and the
//!   kinds of a provider's failure ([`http::ProviderError`]).
//! - [`config`]: the `PODRYAD_*` environment variables of all of them
//!   ([`ConnectorsConfig`]); [`Connectors`] assembles the adapters from it.
//!
//! Each adapter is tested against a fake server of its provider on loopback,
//! including the provider's failures (timeouts, 5xx, rejected keys, rate
//! limits, lost replies). The fakes are a crate of their own, `fakes`
//! (`connectors/fakes`), which only tests depend on: neither the fakes nor
//! the web framework they are served with are compiled into the production
//! binary through this crate, and this crate depends on neither `engine`
//! nor `axum`.

pub mod config;
pub mod edo;
pub mod geo;
pub mod http;
pub mod notify;
pub mod registry;

use std::sync::Arc;

pub use config::{ConfigError, ConnectorsConfig};
pub use edo::EdoOperators;
pub use geo::Geocoder;
pub use notify::Transports;
pub use registry::CompanyRegistry;

/// The connectors the application runs with, assembled once at start.
#[derive(Clone)]
pub struct Connectors {
    /// Delivery transports for the notification sender.
    pub transports: Transports,
    /// Company and bank lookup; [`registry::ManualEntry`] without an API key.
    pub registry: Arc<dyn CompanyRegistry>,
    /// Address suggestions and coordinates; [`geo::NoGeocoder`] when none
    /// is configured.
    pub geocoder: Arc<dyn Geocoder>,
    /// What people write to the Telegram bot, and the bot's username; only
    /// when the bot is configured with its username.
    pub telegram_inbox: Option<(Arc<notify::telegram::TelegramInbox>, String)>,
    /// The configured EDO operators (Diadoc, SBIS); empty when none is, and
    /// documents are signed with the built-in simple signature only.
    pub edo: EdoOperators,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("transports", &self.transports)
            .field("registry_configured", &self.registry.is_configured())
            .field("geocoder_configured", &self.geocoder.is_configured())
            .field("telegram_bot", &self.telegram_inbox.as_ref().map(|t| &t.1))
            .field("edo", &self.edo)
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
        let geocoder: Arc<dyn Geocoder> = match &config.geocoder {
            Some(config::GeocoderConfig::Dadata(d)) => {
                Arc::new(geo::dadata::DadataAddress::new(d.clone())?)
            }
            Some(config::GeocoderConfig::Nominatim(n)) => {
                Arc::new(geo::nominatim::Nominatim::new(n)?)
            }
            None => Arc::new(geo::NoGeocoder),
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
        let edo = EdoOperators::from_config(config)?;
        Ok(Connectors {
            transports,
            registry,
            geocoder,
            telegram_inbox,
            edo,
        })
    }

    /// Reads [`ConnectorsConfig::from_env`] and builds from it.
    pub fn from_env() -> Result<Connectors, ConfigError> {
        Connectors::from_config(&ConnectorsConfig::from_env()?)
    }

    /// No outside system at all: no transports (messages stay in the
    /// domain's outbox), manual entry, no EDO operator and no geocoder (tests, demo).
    pub fn offline() -> Connectors {
        Connectors {
            transports: Transports::none(),
            registry: Arc::new(registry::ManualEntry),
            geocoder: Arc::new(geo::NoGeocoder),
            telegram_inbox: None,
            edo: EdoOperators::none(),
        }
    }
}
