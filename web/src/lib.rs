//! The web face of Podryad: server-rendered portals for staff, suppliers,
//! clients and drivers, the public request form, and the JSON API.
//!
//! Handlers are thin: they read the request, call the domain with the
//! signed-in [`domain::access::Actor`], and render a template or redirect.
//! Sessions, CSRF, authorisation and error pages are each handled in one
//! place (see [`auth`] and [`layout`]); texts come from the message catalogue
//! ([`i18n`]); templates and static assets are embedded in the binary, so
//! the server needs nothing from the internet.

pub mod api;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod diagram;
pub mod error;
pub mod forms;
pub mod guide;
pub mod i18n;
pub mod labels;
pub mod layout;
pub mod links;
pub mod multipart;
pub mod openapi;
pub mod ops;
pub mod pager;
pub mod pages;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use chrono_tz::Tz;
use domain::Db;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{AppError, AppResult};

/// Settings the web layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public address, used in links sent by e-mail/SMS.
    pub base_url: String,
    /// Demo mode: the sign-in page offers the demo accounts.
    pub demo: bool,
    /// Mark cookies `Secure` (true when `base_url` is https).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (behind a proxy only).
    pub trust_forwarded_for: bool,
    /// The time zone dates are shown in.
    pub timezone: Tz,
    /// Accounts listed on the sign-in page in demo mode.
    pub demo_accounts: Vec<DemoAccount>,
    /// Submissions of the public request form (page or JSON) per client
    /// address (`PODRYAD_PUBLIC_RATE_LIMIT`, default 10 per 10 minutes).
    pub public_rate_limit: domain::rate_limit::Limit,
    /// The same public submission again within this window is the same
    /// request (`PODRYAD_DUPLICATE_WINDOW`, default 10 minutes).
    pub duplicate_window: chrono::Duration,
    /// Who may frame the embeddable request form (`/embed/…`): the CSP
    /// `frame-ancestors` sources (`PODRYAD_FRAME_ANCESTORS`, default `*`).
    /// Every other page refuses to be framed.
    pub frame_ancestors: String,
    /// The Telegram bot's username, when people can link their chat by a
    /// `t.me` link (`PODRYAD_TELEGRAM_BOT`).
    pub telegram_bot: Option<String>,
    /// Addresses that may read `/metrics` without a token
    /// (`PODRYAD_METRICS_ALLOW`, default loopback); anyone else needs a
    /// bearer token with the `metrics` scope.
    pub metrics_allow: Vec<std::net::IpAddr>,
    /// The analysts' folder the server loaded its workflows from; the
    /// workflows page re-reads it on request (none: no reload button).
    pub workflows_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoAccount {
    pub login: String,
    pub password: String,
    pub role: String,
    pub name: String,
    pub org: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            base_url: "http://127.0.0.1:8080".into(),
            demo: false,
            secure_cookies: false,
            trust_forwarded_for: false,
            timezone: chrono_tz::Europe::Moscow,
            demo_accounts: Vec::new(),
            public_rate_limit: domain::rate_limit::Limit {
                limit: 10,
                window: chrono::Duration::minutes(10),
            },
            duplicate_window: chrono::Duration::minutes(
                domain::intake::DEFAULT_DUPLICATE_WINDOW_MINUTES,
            ),
            frame_ancestors: "*".into(),
            telegram_bot: None,
            metrics_allow: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            workflows_dir: None,
        }
    }
}

/// Everything a handler can reach ([`AppStateInner`], through `Deref`).
/// Cheap to clone: one reference count, since axum clones the state for
/// every middleware and handler of every request.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppStateInner {
    /// The brokerage's operations (database, engine, files, connectors).
    pub services: domain::services::Services,
    /// The same database as `services.db`, for brevity.
    pub db: Db,
    pub templates: Arc<render::Templates>,
    pub texts: Arc<i18n::Catalogue>,
    pub config: Arc<WebConfig>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The public form's captcha check: none by default; replace it with a
    /// provider's (see [`domain::intake::Captcha`]) before building the router.
    pub captcha: Arc<dyn domain::intake::Captcha>,
    /// Live updates of the notification bell (server-sent events).
    pub bell: domain::notify::Bell,
    /// Status labels from the workflows' YAML, for states the catalogue
    /// does not know; call [`AppState::refresh_labels`] once started.
    pub labels: Arc<labels::StatusLabels>,
}

impl AppState {
    pub fn new(
        services: domain::services::Services,
        texts: Arc<i18n::Catalogue>,
        config: WebConfig,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> anyhow::Result<AppState> {
        let labels = Arc::new(labels::StatusLabels::default());
        let templates = Arc::new(render::Templates::new(
            texts.clone(),
            labels.clone(),
            config.timezone,
        )?);
        // Looks for new notifications once a second, only while a page listens.
        let bell = domain::notify::Bell::new(services.db.clone(), Duration::from_secs(1));
        Ok(AppState(Arc::new(AppStateInner {
            db: services.db.clone(),
            services,
            templates,
            texts,
            config: Arc::new(config),
            metrics,
            captcha: Arc::new(domain::intake::NoCaptcha),
            bell,
            labels,
        })))
    }

    /// Reads the status labels from the active workflow versions again
    /// (at start and after an analyst activates a version).
    pub async fn refresh_labels(&self) {
        self.labels.refresh(&self.services).await;
    }
}

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'";

/// The content security policy and framing rules, per route: pages may not
/// be framed (`frame-ancestors 'none'`, `X-Frame-Options: DENY`) — except
/// the embeddable request form under `/embed/`, which the configured sites
/// may frame. A handler that sets its own policy keeps it.
async fn frame_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let embeddable = req.uri().path().starts_with("/embed/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if embeddable {
        let csp = format!("{CSP}; frame-ancestors {}", state.config.frame_ancestors);
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.remove(HeaderName::from_static("x-frame-options"));
    } else {
        if !h.contains_key(header::CONTENT_SECURITY_POLICY)
            && let Ok(v) = HeaderValue::from_str(&format!("{CSP}; frame-ancestors 'none'"))
        {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.entry(HeaderName::from_static("x-frame-options"))
            .or_insert(HeaderValue::from_static("DENY"));
    }
    resp
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .merge(pages::router())
        .merge(api::router())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(forms::refuse_control_chars))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            layout::nav_badges,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::session_middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            layout::error_pages,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            frame_headers,
        ));
    // Assets need no session, no navigation counts and no error pages: they
    // stay outside those layers, so a page's CSS and script cost no queries.
    let assets = Router::new()
        .nest_service("/static", assets::service())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    Router::new()
        .merge(ops::router())
        .merge(assets)
        .merge(pages)
        .layer(axum::middleware::from_fn(ops::track_metrics))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        // The request span names the path with one-time tokens masked
        // (`/password/set/••••`): a debug log must not hold live links.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::debug_span!(
                    "request",
                    method = %req.method(),
                    uri = %domain::notify::mask_secrets(&req.uri().to_string()),
                    version = ?req.version(),
                )
            }),
        )
        .layer(CatchPanicLayer::new())
        .with_state(state)
}
