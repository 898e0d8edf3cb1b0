//! Connector configuration, read from environment variables.
//!
//! Each connector is on when its key variable is set (and non-empty), off
//! otherwise; off means no transport for that channel (its messages stay
//! in the domain's outbox) or manual entry for the registry.
//!
//! | variable | meaning |
//! |---|---|
//! | `PODRYAD_SMTP_URL` | turns e-mail on: `smtp://user:pass@host:587?tls=starttls`; `tls` is `starttls` (default for `smtp://`), `tls` (implicit TLS, default for `smtps://`) or `none` (plain, for a local relay); the port defaults to 587, 465 or 25 accordingly; user and password are percent-encoded |
//! | `PODRYAD_SMTP_FROM` | sender address, required with `PODRYAD_SMTP_URL`: `Podryad <noreply@example.ru>` |
//! | `PODRYAD_SMS_API_ID` | turns SMS on: the SMS.ru-style gateway's `api_id` |
//! | `PODRYAD_SMS_URL` | gateway base URL, default `https://sms.ru` |
//! | `PODRYAD_SMS_FROM` | optional approved sender name |
//! | `PODRYAD_TELEGRAM_TOKEN` | turns Telegram on: the bot token from @BotFather |
//! | `PODRYAD_TELEGRAM_API` | Bot API base URL, default `https://api.telegram.org` |
//! | `PODRYAD_TELEGRAM_BOT` | the bot's username: people link their chat through `t.me/<bot>?start=…` |
//! | `PODRYAD_DADATA_API_KEY` | turns company lookup on: the DaData API key (the secret key is not needed) |
//! | `PODRYAD_DADATA_URL` | DaData suggestions base URL, default `https://suggestions.dadata.ru/suggestions/api/4_1/rs` |
//! | `PODRYAD_GEOCODER` | address suggestions and coordinates: `dadata` (needs `PODRYAD_DADATA_API_KEY`), `nominatim` (needs `PODRYAD_NOMINATIM_URL`) or `none`; unset means `dadata` when the DaData key is set, `none` otherwise |
//! | `PODRYAD_NOMINATIM_URL` | a self-hosted Nominatim's base URL: `http://nominatim.local:8080` |
//! | `PODRYAD_NOMINATIM_USER_AGENT` | the `User-Agent` sent to Nominatim, default `Podryad/<version>` |
//! | `PODRYAD_EDO_TEST_MODE` | `1` on a staging stand or in tests: allows the operators' test signatures |
//! | `PODRYAD_DIADOC_URL` | turns Diadoc on: API base URL, `https://diadoc-api.kontur.ru` (staging `https://diadoc-api-staging.kontur.ru`) |
//! | `PODRYAD_DIADOC_TOKEN_URL` | OpenID Connect token endpoint, default `https://identity.kontur.ru/connect/token` |
//! | `PODRYAD_DIADOC_CLIENT_ID`, `PODRYAD_DIADOC_CLIENT_SECRET` | the integrator's `client_id` and the API key issued for it; required |
//! | `PODRYAD_DIADOC_LOGIN`, `PODRYAD_DIADOC_PASSWORD` | the Diadoc user to act as (password grant); without them the client credentials grant is used |
//! | `PODRYAD_DIADOC_REFRESH_TOKEN` | a refresh token obtained once (Kontur's "Refresh Token Flow"); used before any other grant |
//! | `PODRYAD_DIADOC_SCOPE` | default `openid offline_access Diadoc.PublicAPI` (staging: `… Diadoc.PublicAPI.Staging`) |
//! | `PODRYAD_DIADOC_BOX_ID` | our box id; required |
//! | `PODRYAD_DIADOC_TEST_SIGNATURE` | `1`: Diadoc signs with its test signature (needs `PODRYAD_EDO_TEST_MODE=1`); otherwise the signing service signs |
//! | `PODRYAD_SBIS_URL` | turns SBIS on: `https://online.sbis.ru` (test stand `https://fix-online.sbis.ru`) |
//! | `PODRYAD_SBIS_LOGIN`, `PODRYAD_SBIS_PASSWORD` | the SBIS user; required |
//! | `PODRYAD_SBIS_BOX_ID` | our organisation at SBIS: `ИНН` or `ИНН/КПП`; required |
//! | `PODRYAD_SBIS_CERT_THUMBPRINT` | the thumbprint of our signing certificate as SBIS knows it (`Сертификат.Отпечаток`) |
//! | `PODRYAD_SBIS_DOC_TYPE` | SBIS document type of what we send, default `ДокОтгрИсх` |
//! | `PODRYAD_SBIS_TEST_SIGNATURE` | `1`: SBIS signs server-side with the stand's certificate (needs `PODRYAD_EDO_TEST_MODE=1`) |
//! | `PODRYAD_DSS_URL` | the signing service (CryptoPro DSS style) SignServer REST base, e.g. `https://dss.example.ru/SignServer/rest` |
//! | `PODRYAD_DSS_TOKEN_URL` | its OAuth token endpoint, e.g. `https://dss.example.ru/STS/oauth/token`; required with `PODRYAD_DSS_URL` |
//! | `PODRYAD_DSS_CLIENT_ID`, `PODRYAD_DSS_LOGIN`, `PODRYAD_DSS_PASSWORD` | OAuth client and the signing user (password grant); required |
//! | `PODRYAD_DSS_RESOURCE` | the OAuth `resource`, default `urn:cryptopro:dss:signserver:signserver` |
//! | `PODRYAD_DSS_CERTIFICATE_ID` | the certificate to sign with, default `0` (the user's default certificate) |
//! | `PODRYAD_DSS_PIN` | the key's PIN, when it has one |

use std::time::Duration;

/// A configuration that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required when {because} is set")]
    Missing {
        var: &'static str,
        because: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid(var: &'static str, reason: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            var,
            reason: reason.to_string(),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465, `smtps://`).
    Tls,
    /// No encryption: only for a relay on the same host or network, and tests.
    None,
}

/// An SMTP relay.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `Name <address>` or a bare address.
    pub from: String,
    /// The longest one message's delivery may take, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpConfig {
    /// Parses `PODRYAD_SMTP_URL` (see the module documentation).
    pub fn from_url(url: &str, from: &str) -> Result<SmtpConfig, ConfigError> {
        const VAR: &str = "PODRYAD_SMTP_URL";
        let parsed = url::Url::parse(url).map_err(|e| ConfigError::invalid(VAR, e))?;
        let mut security = match parsed.scheme() {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::Tls,
            other => {
                return Err(ConfigError::invalid(
                    VAR,
                    format!("scheme must be smtp or smtps, not {other}"),
                ));
            }
        };
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") => security = SmtpSecurity::StartTls,
                ("tls", "tls" | "wrapper" | "implicit") => security = SmtpSecurity::Tls,
                ("tls", "none" | "plain" | "off") => security = SmtpSecurity::None,
                (key, value) => {
                    return Err(ConfigError::invalid(
                        VAR,
                        format!("unknown parameter {key}={value}"),
                    ));
                }
            }
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ConfigError::invalid(VAR, "no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = parsed.port().unwrap_or(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        let decode = |s: &str| -> Result<String, ConfigError> {
            percent_decode(s).ok_or_else(|| ConfigError::invalid(VAR, "bad percent-encoding"))
        };
        let username = Some(parsed.username())
            .filter(|u| !u.is_empty())
            .map(decode)
            .transpose()?;
        let password = parsed.password().map(decode).transpose()?;
        if from.trim().is_empty() {
            return Err(ConfigError::Missing {
                var: "PODRYAD_SMTP_FROM",
                because: VAR,
            });
        }
        from.trim()
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| ConfigError::invalid("PODRYAD_SMTP_FROM", e))?;
        Ok(SmtpConfig {
            host,
            port,
            security,
            username,
            password,
            from: from.trim().to_string(),
            timeout: Duration::from_secs(60),
        })
    }
}

/// Decodes `%XX` escapes of a URL's user-info.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An SMS.ru-style HTTP gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// Without a trailing slash: `https://sms.ru`.
    pub base_url: String,
    pub api_id: String,
    /// An approved sender name; the gateway's default when `None`.
    pub sender: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("base_url", &self.base_url)
            .field("api_id", &"<redacted>")
            .field("sender", &self.sender)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmsConfig {
    pub const DEFAULT_URL: &'static str = "https://sms.ru";

    pub fn new(base_url: &str, api_id: &str) -> SmsConfig {
        SmsConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_id: api_id.to_string(),
            sender: None,
            timeout: Duration::from_secs(15),
        }
    }
}

/// A Telegram bot.
#[derive(Clone, PartialEq, Eq)]
pub struct TelegramConfig {
    /// Without a trailing slash: `https://api.telegram.org`.
    pub api_url: String,
    pub token: String,
    pub timeout: Duration,
    /// The bot's username without `@`: with it, people link their chat by
    /// opening `https://t.me/<bot>?start=<token>`.
    pub bot_username: Option<String>,
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("api_url", &self.api_url)
            .field("token", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("bot_username", &self.bot_username)
            .finish()
    }
}

impl TelegramConfig {
    pub const DEFAULT_URL: &'static str = "https://api.telegram.org";

    pub fn new(api_url: &str, token: &str) -> TelegramConfig {
        TelegramConfig {
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            timeout: Duration::from_secs(15),
            bot_username: None,
        }
    }
}

/// DaData's suggestions API.
#[derive(Clone, PartialEq, Eq)]
pub struct DadataConfig {
    /// Without a trailing slash, up to `/rs`.
    pub base_url: String,
    pub api_key: String,
    /// Short: a person waits in a form, and can always type the details.
    pub timeout: Duration,
}

impl std::fmt::Debug for DadataConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DadataConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl DadataConfig {
    pub const DEFAULT_URL: &'static str = "https://suggestions.dadata.ru/suggestions/api/4_1/rs";

    pub fn new(base_url: &str, api_key: &str) -> DadataConfig {
        DadataConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// How the Diadoc adapter gets its OpenID Connect token.
#[derive(Clone, PartialEq, Eq)]
pub enum DiadocGrant {
    /// `grant_type=client_credentials`: the application acts for itself.
    ClientCredentials,
    /// `grant_type=password`: the application acts as this Diadoc user.
    Password { login: String, password: String },
}

impl std::fmt::Debug for DiadocGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiadocGrant::ClientCredentials => f.write_str("ClientCredentials"),
            DiadocGrant::Password { login, .. } => f
                .debug_struct("Password")
                .field("login", login)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// Kontur.Diadoc's HTTP API.
#[derive(Clone, PartialEq, Eq)]
pub struct DiadocConfig {
    /// Without a trailing slash: `https://diadoc-api.kontur.ru`.
    pub base_url: String,
    /// The OpenID Connect token endpoint.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub grant: DiadocGrant,
    /// A refresh token from a one-time interactive login; tried first.
    pub refresh_token: Option<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// Our box id.
    pub box_id: String,
    /// Sign with Diadoc's test signature (`SignWithTestSignature`).
    pub test_signature: bool,
    /// Documents larger than this go to the shelf first (`ShelfUpload`)
    /// and are referenced by name; Kontur advises it above about 100 KB.
    pub shelf_threshold: usize,
    pub timeout: Duration,
}

impl std::fmt::Debug for DiadocConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiadocConfig")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("grant", &self.grant)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("scope", &self.scope)
            .field("box_id", &self.box_id)
            .field("test_signature", &self.test_signature)
            .field("shelf_threshold", &self.shelf_threshold)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl DiadocConfig {
    pub const DEFAULT_TOKEN_URL: &'static str = "https://identity.kontur.ru/connect/token";
    pub const DEFAULT_SCOPE: &'static str = "openid offline_access Diadoc.PublicAPI";
    pub const DEFAULT_SHELF_THRESHOLD: usize = 100 * 1024;

    /// A client-credentials configuration with the defaults.
    pub fn new(
        base_url: &str,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        box_id: &str,
    ) -> DiadocConfig {
        DiadocConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            grant: DiadocGrant::ClientCredentials,
            refresh_token: None,
            scope: DiadocConfig::DEFAULT_SCOPE.to_string(),
            box_id: box_id.to_string(),
            test_signature: false,
            shelf_threshold: DiadocConfig::DEFAULT_SHELF_THRESHOLD,
            timeout: Duration::from_secs(60),
        }
    }
}

/// SBIS (Saby) JSON-RPC API.
#[derive(Clone, PartialEq, Eq)]
pub struct SbisConfig {
    /// Without a trailing slash: `https://online.sbis.ru`; the adapter calls
    /// `{base}/auth/service/` and `{base}/service/?srv=1`.
    pub base_url: String,
    pub login: String,
    pub password: String,
    /// Our organisation: `ИНН` or `ИНН/КПП`.
    pub box_id: String,
    /// Our certificate's thumbprint at SBIS (`Сертификат.Отпечаток`).
    pub cert_thumbprint: Option<String>,
    /// The SBIS document type (`Тип`) of what we send.
    pub doc_type: String,
    /// Let SBIS sign server-side with the stand's certificate (test mode).
    pub test_signature: bool,
    pub timeout: Duration,
}

impl std::fmt::Debug for SbisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SbisConfig")
            .field("base_url", &self.base_url)
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .field("box_id", &self.box_id)
            .field("cert_thumbprint", &self.cert_thumbprint)
            .field("doc_type", &self.doc_type)
            .field("test_signature", &self.test_signature)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SbisConfig {
    pub const DEFAULT_DOC_TYPE: &'static str = "ДокОтгрИсх";

    pub fn new(base_url: &str, login: &str, password: &str, box_id: &str) -> SbisConfig {
        SbisConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            login: login.to_string(),
            password: password.to_string(),
            box_id: box_id.to_string(),
            cert_thumbprint: None,
            doc_type: SbisConfig::DEFAULT_DOC_TYPE.to_string(),
            test_signature: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A signing service in the style of CryptoPro DSS (SignServer REST API
/// plus its OAuth token service).
#[derive(Clone, PartialEq, Eq)]
pub struct DssConfig {
    /// SignServer REST base without a trailing slash; the adapter posts to
    /// `{base}/api/documents`.
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub login: String,
    pub password: String,
    pub resource: String,
    pub certificate_id: String,
    pub pin: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for DssConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DssConfig")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .field("resource", &self.resource)
            .field("certificate_id", &self.certificate_id)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl DssConfig {
    pub const DEFAULT_RESOURCE: &'static str = "urn:cryptopro:dss:signserver:signserver";

    pub fn new(
        base_url: &str,
        token_url: &str,
        client_id: &str,
        login: &str,
        password: &str,
    ) -> DssConfig {
        DssConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            login: login.to_string(),
            password: password.to_string(),
            resource: DssConfig::DEFAULT_RESOURCE.to_string(),
            certificate_id: "0".to_string(),
            pin: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A Nominatim instance (OpenStreetMap geocoder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NominatimConfig {
    /// Without a trailing slash; `{base_url}/search` is asked.
    pub base_url: String,
    /// Nominatim's usage policy asks every application to name itself.
    pub user_agent: String,
    pub timeout: Duration,
}

impl NominatimConfig {
    pub fn new(base_url: &str) -> NominatimConfig {
        NominatimConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            user_agent: format!("Podryad/{}", env!("CARGO_PKG_VERSION")),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Which geocoder suggests addresses and finds their coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeocoderConfig {
    /// DaData's address suggestions, with the company lookup's key.
    Dadata(DadataConfig),
    Nominatim(NominatimConfig),
}

/// Which connectors are on, and how to reach them. `None` means the local
/// implementation. See the module documentation for the variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorsConfig {
    pub smtp: Option<SmtpConfig>,
    pub sms: Option<SmsConfig>,
    pub telegram: Option<TelegramConfig>,
    pub dadata: Option<DadataConfig>,
    /// `None`: no suggestions, coordinates typed by staff.
    pub geocoder: Option<GeocoderConfig>,
    /// A staging stand or tests: the operators' test signatures are allowed.
    pub edo_test_mode: bool,
    pub diadoc: Option<DiadocConfig>,
    pub sbis: Option<SbisConfig>,
    pub dss: Option<DssConfig>,
}

impl ConnectorsConfig {
    /// Reads the `PODRYAD_*` variables of the process environment.
    pub fn from_env() -> Result<ConnectorsConfig, ConfigError> {
        ConnectorsConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (tests pass a map). Empty values
    /// count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectorsConfig, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let smtp = match get("PODRYAD_SMTP_URL") {
            Some(url) => Some(SmtpConfig::from_url(
                &url,
                &get("PODRYAD_SMTP_FROM").unwrap_or_default(),
            )?),
            None => None,
        };
        let sms = get("PODRYAD_SMS_API_ID").map(|api_id| {
            let mut c = SmsConfig::new(
                &get("PODRYAD_SMS_URL").unwrap_or_else(|| SmsConfig::DEFAULT_URL.into()),
                &api_id,
            );
            c.sender = get("PODRYAD_SMS_FROM");
            c
        });
        let telegram = get("PODRYAD_TELEGRAM_TOKEN").map(|token| {
            let mut c = TelegramConfig::new(
                &get("PODRYAD_TELEGRAM_API").unwrap_or_else(|| TelegramConfig::DEFAULT_URL.into()),
                &token,
            );
            c.bot_username =
                get("PODRYAD_TELEGRAM_BOT").map(|b| b.trim_start_matches('@').to_string());
            c
        });
        let dadata = get("PODRYAD_DADATA_API_KEY").map(|key| {
            DadataConfig::new(
                &get("PODRYAD_DADATA_URL").unwrap_or_else(|| DadataConfig::DEFAULT_URL.into()),
                &key,
            )
        });
        let flag = |var: &'static str| -> Result<bool, ConfigError> {
            match get(var).as_deref() {
                None | Some("0" | "false" | "no" | "off") => Ok(false),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some(other) => Err(ConfigError::invalid(
                    var,
                    format!("expected 1 or 0, not {other}"),
                )),
            }
        };
        let required = |var: &'static str, because: &'static str| {
            get(var).ok_or(ConfigError::Missing { var, because })
        };
        let edo_test_mode = flag("PODRYAD_EDO_TEST_MODE")?;
        let diadoc = match get("PODRYAD_DIADOC_URL") {
            Some(url) => {
                const BY: &str = "PODRYAD_DIADOC_URL";
                let mut c = DiadocConfig::new(
                    &url,
                    &get("PODRYAD_DIADOC_TOKEN_URL")
                        .unwrap_or_else(|| DiadocConfig::DEFAULT_TOKEN_URL.into()),
                    &required("PODRYAD_DIADOC_CLIENT_ID", BY)?,
                    &required("PODRYAD_DIADOC_CLIENT_SECRET", BY)?,
                    &required("PODRYAD_DIADOC_BOX_ID", BY)?,
                );
                c.grant = match get("PODRYAD_DIADOC_LOGIN") {
                    Some(login) => DiadocGrant::Password {
                        login,
                        password: required("PODRYAD_DIADOC_PASSWORD", "PODRYAD_DIADOC_LOGIN")?,
                    },
                    None => DiadocGrant::ClientCredentials,
                };
                c.refresh_token = get("PODRYAD_DIADOC_REFRESH_TOKEN");
                if let Some(scope) = get("PODRYAD_DIADOC_SCOPE") {
                    c.scope = scope;
                }
                c.test_signature = flag("PODRYAD_DIADOC_TEST_SIGNATURE")?;
                Some(c)
            }
            None => None,
        };
        let sbis = match get("PODRYAD_SBIS_URL") {
            Some(url) => {
                const BY: &str = "PODRYAD_SBIS_URL";
                let mut c = SbisConfig::new(
                    &url,
                    &required("PODRYAD_SBIS_LOGIN", BY)?,
                    &required("PODRYAD_SBIS_PASSWORD", BY)?,
                    &required("PODRYAD_SBIS_BOX_ID", BY)?,
                );
                c.cert_thumbprint = get("PODRYAD_SBIS_CERT_THUMBPRINT");
                if let Some(t) = get("PODRYAD_SBIS_DOC_TYPE") {
                    c.doc_type = t;
                }
                c.test_signature = flag("PODRYAD_SBIS_TEST_SIGNATURE")?;
                Some(c)
            }
            None => None,
        };
        let dss = match get("PODRYAD_DSS_URL") {
            Some(url) => {
                const BY: &str = "PODRYAD_DSS_URL";
                let mut c = DssConfig::new(
                    &url,
                    &required("PODRYAD_DSS_TOKEN_URL", BY)?,
                    &required("PODRYAD_DSS_CLIENT_ID", BY)?,
                    &required("PODRYAD_DSS_LOGIN", BY)?,
                    &required("PODRYAD_DSS_PASSWORD", BY)?,
                );
                if let Some(r) = get("PODRYAD_DSS_RESOURCE") {
                    c.resource = r;
                }
                if let Some(id) = get("PODRYAD_DSS_CERTIFICATE_ID") {
                    c.certificate_id = id;
                }
                c.pin = get("PODRYAD_DSS_PIN");
                Some(c)
            }
            None => None,
        };
        let nominatim = get("PODRYAD_NOMINATIM_URL").map(|url| {
            let mut c = NominatimConfig::new(&url);
            if let Some(agent) = get("PODRYAD_NOMINATIM_USER_AGENT") {
                c.user_agent = agent;
            }
            c
        });
        let geocoder = match get("PODRYAD_GEOCODER").as_deref() {
            None => dadata.clone().map(GeocoderConfig::Dadata),
            Some("none") => None,
            Some("dadata") => Some(GeocoderConfig::Dadata(dadata.clone().ok_or(
                ConfigError::Missing {
                    var: "PODRYAD_DADATA_API_KEY",
                    because: "PODRYAD_GEOCODER=dadata",
                },
            )?)),
            Some("nominatim") => Some(GeocoderConfig::Nominatim(nominatim.clone().ok_or(
                ConfigError::Missing {
                    var: "PODRYAD_NOMINATIM_URL",
                    because: "PODRYAD_GEOCODER=nominatim",
                },
            )?)),
            Some(other) => {
                return Err(ConfigError::invalid(
                    "PODRYAD_GEOCODER",
                    format!("{other}: expected dadata, nominatim or none"),
                ));
            }
        };
        for (var, url) in [
            ("PODRYAD_DIADOC_URL", diadoc.as_ref().map(|c| &c.base_url)),
            (
                "PODRYAD_DIADOC_TOKEN_URL",
                diadoc.as_ref().map(|c| &c.token_url),
            ),
            ("PODRYAD_SBIS_URL", sbis.as_ref().map(|c| &c.base_url)),
            ("PODRYAD_DSS_URL", dss.as_ref().map(|c| &c.base_url)),
            ("PODRYAD_DSS_TOKEN_URL", dss.as_ref().map(|c| &c.token_url)),
            ("PODRYAD_SMS_URL", sms.as_ref().map(|c| &c.base_url)),
            (
                "PODRYAD_TELEGRAM_API",
                telegram.as_ref().map(|c| &c.api_url),
            ),
            ("PODRYAD_DADATA_URL", dadata.as_ref().map(|c| &c.base_url)),
            (
                "PODRYAD_NOMINATIM_URL",
                nominatim.as_ref().map(|c| &c.base_url),
            ),
        ] {
            if let Some(url) = url {
                let parsed = url::Url::parse(url).map_err(|e| ConfigError::invalid(var, e))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(ConfigError::invalid(var, "must be an http(s) URL"));
                }
            }
        }
        Ok(ConnectorsConfig {
            smtp,
            sms,
            telegram,
            dadata,
            geocoder,
            edo_test_mode,
            diadoc,
            sbis,
            dss,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<ConnectorsConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConnectorsConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_is_all_local() {
        assert_eq!(from(&[]).unwrap(), ConnectorsConfig::default());
        assert_eq!(
            from(&[("PODRYAD_SMTP_URL", "  ")]).unwrap(),
            ConnectorsConfig::default()
        );
    }

    #[test]
    fn smtp_urls() {
        let c = from(&[
            (
                "PODRYAD_SMTP_URL",
                "smtp://mailer%40podryad.ru:p%40ss@smtp.example.ru?tls=starttls",
            ),
            ("PODRYAD_SMTP_FROM", "Подряд <noreply@podryad.ru>"),
        ])
        .unwrap()
        .smtp
        .unwrap();
        assert_eq!(c.host, "smtp.example.ru");
        assert_eq!(c.port, 587);
        assert_eq!(c.security, SmtpSecurity::StartTls);
        assert_eq!(c.username.as_deref(), Some("mailer@podryad.ru"));
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert!(
            !format!("{c:?}").contains("p@ss"),
            "the password is not logged"
        );

        let c = SmtpConfig::from_url("smtps://smtp.example.ru", "a@b.ru").unwrap();
        assert_eq!((c.port, c.security), (465, SmtpSecurity::Tls));
        let c = SmtpConfig::from_url("smtp://127.0.0.1:2525?tls=none", "a@b.ru").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.security),
            ("127.0.0.1", 2525, SmtpSecurity::None)
        );
        assert_eq!(c.username, None);

        assert_eq!(
            from(&[("PODRYAD_SMTP_URL", "smtp://h")]),
            Err(ConfigError::Missing {
                var: "PODRYAD_SMTP_FROM",
                because: "PODRYAD_SMTP_URL"
            })
        );
        assert!(SmtpConfig::from_url("http://h", "a@b.ru").is_err());
        assert!(SmtpConfig::from_url("smtp://h?tls=maybe", "a@b.ru").is_err());
        assert!(SmtpConfig::from_url("smtp://h", "not an address").is_err());
        assert!(SmtpConfig::from_url("not a url", "a@b.ru").is_err());
    }

    #[test]
    fn http_connectors() {
        let c = from(&[
            ("PODRYAD_SMS_API_ID", "abc"),
            ("PODRYAD_SMS_FROM", "Podryad"),
            ("PODRYAD_TELEGRAM_TOKEN", "123:xyz"),
            ("PODRYAD_TELEGRAM_API", "http://127.0.0.1:9/"),
            ("PODRYAD_DADATA_API_KEY", "key"),
        ])
        .unwrap();
        let sms = c.sms.unwrap();
        assert_eq!(sms.base_url, "https://sms.ru");
        assert_eq!(sms.sender.as_deref(), Some("Podryad"));
        assert_eq!(c.telegram.unwrap().api_url, "http://127.0.0.1:9");
        assert_eq!(c.dadata.unwrap().base_url, DadataConfig::DEFAULT_URL);
        assert!(
            from(&[
                ("PODRYAD_DADATA_API_KEY", "k"),
                ("PODRYAD_DADATA_URL", "ftp://x")
            ])
            .is_err()
        );
        assert!(from(&[("PODRYAD_SMS_API_ID", "k"), ("PODRYAD_SMS_URL", "nonsense")]).is_err());
    }

    #[test]
    fn edo_connectors() {
        let c = from(&[
            ("PODRYAD_DIADOC_URL", "https://diadoc-api.kontur.ru/"),
            ("PODRYAD_DIADOC_CLIENT_ID", "app"),
            ("PODRYAD_DIADOC_CLIENT_SECRET", "s3cret"),
            ("PODRYAD_DIADOC_LOGIN", "robot@podryad.ru"),
            ("PODRYAD_DIADOC_PASSWORD", "pw"),
            ("PODRYAD_DIADOC_BOX_ID", "box-1"),
            ("PODRYAD_SBIS_URL", "https://online.sbis.ru"),
            ("PODRYAD_SBIS_LOGIN", "robot"),
            ("PODRYAD_SBIS_PASSWORD", "pw2"),
            ("PODRYAD_SBIS_BOX_ID", "7707083893/773601001"),
            ("PODRYAD_DSS_URL", "https://dss.example.ru/SignServer/rest"),
            (
                "PODRYAD_DSS_TOKEN_URL",
                "https://dss.example.ru/STS/oauth/token",
            ),
            ("PODRYAD_DSS_CLIENT_ID", "dss"),
            ("PODRYAD_DSS_LOGIN", "signer"),
            ("PODRYAD_DSS_PASSWORD", "pw3"),
        ])
        .unwrap();
        let diadoc = c.diadoc.unwrap();
        assert_eq!(diadoc.base_url, "https://diadoc-api.kontur.ru");
        assert_eq!(diadoc.token_url, DiadocConfig::DEFAULT_TOKEN_URL);
        assert_eq!(
            diadoc.grant,
            DiadocGrant::Password {
                login: "robot@podryad.ru".into(),
                password: "pw".into()
            }
        );
        assert!(!diadoc.test_signature && !c.edo_test_mode);
        let shown = format!("{diadoc:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("\"pw\""),
            "{shown}"
        );
        let sbis = c.sbis.unwrap();
        assert_eq!(sbis.doc_type, SbisConfig::DEFAULT_DOC_TYPE);
        assert!(!format!("{sbis:?}").contains("pw2"));
        let dss = c.dss.unwrap();
        assert_eq!(dss.certificate_id, "0");
        assert_eq!(dss.resource, DssConfig::DEFAULT_RESOURCE);
        assert!(!format!("{dss:?}").contains("pw3"));

        assert_eq!(
            from(&[
                ("PODRYAD_DIADOC_URL", "https://d"),
                ("PODRYAD_DIADOC_CLIENT_ID", "a")
            ]),
            Err(ConfigError::Missing {
                var: "PODRYAD_DIADOC_CLIENT_SECRET",
                because: "PODRYAD_DIADOC_URL"
            })
        );
        assert_eq!(
            from(&[
                ("PODRYAD_SBIS_URL", "https://s"),
                ("PODRYAD_SBIS_LOGIN", "l"),
                ("PODRYAD_SBIS_PASSWORD", "p")
            ]),
            Err(ConfigError::Missing {
                var: "PODRYAD_SBIS_BOX_ID",
                because: "PODRYAD_SBIS_URL"
            })
        );
        assert!(from(&[("PODRYAD_EDO_TEST_MODE", "maybe")]).is_err());
        assert!(
            from(&[("PODRYAD_EDO_TEST_MODE", "1")])
                .unwrap()
                .edo_test_mode
        );
        assert!(
            from(&[
                ("PODRYAD_DSS_URL", "not a url"),
                ("PODRYAD_DSS_TOKEN_URL", "https://t"),
                ("PODRYAD_DSS_CLIENT_ID", "c"),
                ("PODRYAD_DSS_LOGIN", "l"),
                ("PODRYAD_DSS_PASSWORD", "p"),
            ])
            .is_err()
        );
    }

    #[test]
    fn geocoders() {
        // The DaData key turns address suggestions on too, unless told not to.
        let c = from(&[("PODRYAD_DADATA_API_KEY", "key")]).unwrap();
        assert!(matches!(c.geocoder, Some(GeocoderConfig::Dadata(ref d)) if d.api_key == "key"));
        let c = from(&[
            ("PODRYAD_DADATA_API_KEY", "key"),
            ("PODRYAD_GEOCODER", "none"),
        ])
        .unwrap();
        assert_eq!(c.geocoder, None);
        let c = from(&[
            ("PODRYAD_GEOCODER", "nominatim"),
            ("PODRYAD_NOMINATIM_URL", "http://osm.local:8080/"),
            ("PODRYAD_NOMINATIM_USER_AGENT", "Podryad test"),
        ])
        .unwrap();
        let Some(GeocoderConfig::Nominatim(n)) = c.geocoder else {
            panic!("nominatim expected");
        };
        assert_eq!(n.base_url, "http://osm.local:8080");
        assert_eq!(n.user_agent, "Podryad test");
        assert_eq!(
            from(&[("PODRYAD_GEOCODER", "nominatim")]),
            Err(ConfigError::Missing {
                var: "PODRYAD_NOMINATIM_URL",
                because: "PODRYAD_GEOCODER=nominatim"
            })
        );
        assert!(from(&[("PODRYAD_GEOCODER", "dadata")]).is_err());
        assert!(from(&[("PODRYAD_GEOCODER", "yandex")]).is_err());
        assert!(
            from(&[
                ("PODRYAD_GEOCODER", "nominatim"),
                ("PODRYAD_NOMINATIM_URL", "nonsense")
            ])
            .is_err()
        );
    }
}
