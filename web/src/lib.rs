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
pub mod diagram;
pub mod engine_ui;
pub mod error;
pub mod forms;
pub mod i18n;
pub mod layout;
pub mod multipart;
pub mod ops;
pub mod pages;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use chrono_tz::Tz;
use engine::Db;
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
        }
    }
}

/// Everything a handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The brokerage's operations (database, engine, files, connectors).
    pub services: domain::services::Services,
    /// The same database as `services.db`, for brevity.
    pub db: Db,
    pub templates: Arc<render::Templates>,
    pub texts: Arc<i18n::Catalogue>,
    pub config: Arc<WebConfig>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    pub fn new(
        services: domain::services::Services,
        texts: Arc<i18n::Catalogue>,
        config: WebConfig,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> anyhow::Result<AppState> {
        let templates = Arc::new(render::Templates::new(texts.clone(), config.timezone)?);
        Ok(AppState {
            db: services.db.clone(),
            services,
            templates,
            texts,
            config: Arc::new(config),
            metrics,
        })
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .merge(pages::router())
        .merge(api::router())
        .nest_service("/static", assets::service())
        .fallback(pages::not_found)
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
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ));
    Router::new()
        .merge(ops::router())
        .merge(pages)
        .layer(axum::middleware::from_fn(ops::track_metrics))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
        .with_state(state)
}
