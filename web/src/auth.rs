//! Sessions, CSRF protection and authorisation — each in one place.
//!
//! * The session middleware turns the `podryad_session` cookie into an
//!   [`Actor`] (or none) for every request.
//! * Every state-changing request outside `/api/` must carry the CSRF token
//!   (a form field `_csrf`, an `X-CSRF-Token` header, or a `_csrf` query
//!   parameter for multipart uploads). For a signed-in session the token is
//!   bound to the session: it is derived from the session's secret token
//!   ([`session_csrf`]), so a token of another session — or of this browser
//!   before it signed in or after it signed out — is refused. Anonymous
//!   forms (sign-in, registration, the public request form) use a
//!   double-submit cookie. The check is in the middleware, so no handler
//!   can forget it.
//! * Every answer to a signed-in session, and every page behind a one-time
//!   link, is `Cache-Control: no-store`: a shared computer's browser cache
//!   or a proxy keeps nothing private.
//! * Handlers declare who may call them in their signature: an [`Auth<P>`]
//!   argument whose policy `P` lists the roles. The only way to get an
//!   [`Actor`] is through it, and repositories need the actor to scope rows.

use std::marker::PhantomData;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use domain::access::Actor;
use domain::access::roles::Role;

use crate::AppState;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "podryad_session";
pub const CSRF_COOKIE: &str = "podryad_csrf";
pub const FLASH_COOKIE: &str = "podryad_flash";
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// What the middleware learned about the request, for handlers and pages.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub actor: Option<Actor>,
    pub csrf: String,
    pub flash: Option<String>,
    pub path: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub session_token: Option<String>,
}

/// Reads a cookie from request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the attributes every cookie of ours has.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The client's address: the connection's peer, or — behind a reverse
/// proxy, when configured — the first `X-Forwarded-For` hop (trusted only
/// then, since clients can forge the header).
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> Option<String> {
    if trust_forwarded_for
        && let Some(fwd) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
    {
        return fwd.split(',').next().map(|s| s.trim().to_string());
    }
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Loads the session, enforces CSRF, keeps the CSRF cookie and flash.
pub async fn session_middleware(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers().clone();
    let path = req.uri().path().to_string();
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let session_token = cookie(&headers, SESSION_COOKIE).map(str::to_string);
    let actor = match &session_token {
        Some(token) => match domain::accounts::actor_for_session(&state.db, token).await {
            Ok(a) => a,
            Err(e) => return AppError::from(e).into_response(),
        },
        None => None,
    };
    let existing_csrf = cookie(&headers, CSRF_COOKIE)
        .filter(|t| t.len() >= 32)
        .map(str::to_string);
    // A signed-in session's token is its own; an anonymous visitor's is the
    // double-submit cookie (a new one when it has none).
    let bound_csrf = match (&actor, &session_token) {
        (Some(_), Some(token)) => Some(session_csrf(token)),
        _ => None,
    };
    let csrf = bound_csrf
        .clone()
        .or_else(|| existing_csrf.clone())
        .unwrap_or_else(domain::crypto::random_token);
    let flash = cookie(&headers, FLASH_COOKIE).map(str::to_string);

    let api = path.starts_with("/api/");
    let info = RequestInfo {
        actor,
        csrf: csrf.clone(),
        flash: flash.clone(),
        path: path.clone(),
        ip,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        session_token,
    };
    let mut req = req;
    // The embeddable request form lives in other sites' iframes, where our
    // SameSite cookies are not sent; it creates nothing tied to a session,
    // so it is protected like the public API (rate limit, honeypot, captcha)
    // instead of by the CSRF token.
    let embedded_form = path.starts_with("/embed/");
    let expected_csrf = bound_csrf.as_deref().or(existing_csrf.as_deref());
    let mut resp = if is_unsafe(req.method()) && !api && !embedded_form {
        let (ok, rebuilt) = check_csrf(req, expected_csrf).await;
        req = rebuilt;
        if ok {
            req.extensions_mut().insert(info.clone());
            next.run(req).await
        } else {
            tracing::info!(path, "CSRF check failed");
            AppError::Csrf.into_response()
        }
    } else {
        req.extensions_mut().insert(info.clone());
        next.run(req).await
    };
    let signed_in = info.actor.is_some();
    resp.extensions_mut().insert(info);
    let secure = state.config.secure_cookies;
    let sets_csrf = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.starts_with(CSRF_COOKIE)));
    if existing_csrf.as_deref() != Some(csrf.as_str()) && !api && !sets_csrf {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &csrf, None, secure),
        );
    }
    if signed_in || one_time_link(&path) {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
    }
    let sets_flash = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.starts_with(FLASH_COOKIE)));
    if flash.is_some() && !sets_flash {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(FLASH_COOKIE, "", Some(0), secure),
        );
    }
    resp
}

/// The CSRF token of a signed-in session: derived from the session's secret
/// (which only the HttpOnly cookie carries), so it needs no storage, changes
/// with every sign-in and dies with the session. The hash keeps the session
/// token itself out of pages.
pub fn session_csrf(session_token: &str) -> String {
    domain::crypto::sha256_hex(&format!("podryad-csrf:{session_token}"))
}

/// Pages reached through a one-time link (password, invitation, e-mail
/// confirmation, the client's offer, the client's contract details): the link's token is in the address
/// and the page may show what it grants, so nothing of it is cached.
fn one_time_link(path: &str) -> bool {
    [
        "/password/set/",
        "/join/",
        "/confirm/",
        "/offers/t/",
        "/contracts/t/",
        "/request/confirm/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// Compares the submitted token with the expected one; gives the request back
/// (with its body restored when it had to be read).
async fn check_csrf(req: Request, cookie_token: Option<&str>) -> (bool, Request) {
    let Some(expected) = cookie_token else {
        return (false, req);
    };
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return (constant_time_eq(h, expected), req);
    }
    if let Some(q) = req.uri().query()
        && let Some(t) = url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.into_owned())
    {
        return (constant_time_eq(&t, expected), req);
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (false, req);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return (false, Request::from_parts(parts, Body::empty()));
    };
    let ok = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "_csrf")
        .is_some_and(|(_, v)| constant_time_eq(&v, expected));
    (ok, Request::from_parts(parts, Body::from(bytes)))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl<S: Send + Sync> FromRequestParts<S> for RequestInfo {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestInfo>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("session middleware not installed")))
    }
}

/// Who may call a handler: the roles listed; an empty list means any
/// signed-in user.
pub trait Policy: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// A signed-in caller allowed by policy `P`. Anonymous callers are sent to
/// the sign-in page (401 on the API); signed-in callers without a listed
/// role get 403.
pub struct Auth<P: Policy> {
    pub actor: Actor,
    pub info: RequestInfo,
    _policy: PhantomData<P>,
}

impl<S: Send + Sync, P: Policy> FromRequestParts<S> for Auth<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let info = RequestInfo::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(actor) = info.actor.clone() else {
            if info.path.starts_with("/api/") {
                return Err(AppError::Unauthorized.into_response());
            }
            let back = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let to = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
            );
            return Err(Redirect::to(&to).into_response());
        };
        if !P::ROLES.is_empty() && !actor.has_any(P::ROLES) {
            return Err(AppError::Forbidden.into_response());
        }
        Ok(Auth {
            actor,
            info,
            _policy: PhantomData,
        })
    }
}

macro_rules! policy {
    ($(#[$doc:meta])* $name:ident = [$($role:ident),*]) => {
        $(#[$doc])*
        pub struct $name;
        impl Policy for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),*];
        }
    };
}

policy!(
    /// Any signed-in user.
    AnyUser = []
);
policy!(AdminOnly = [Admin]);
policy!(
    /// Every role of the broker's staff.
    Staff = [Admin, Hunter, Manager, Operator, Accountant, Analyst]
);
policy!(
    /// Staff who work with clients and suppliers day to day.
    FrontOffice = [Admin, Hunter, Manager, Operator]
);
policy!(Analysts = [Admin, Analyst]);
policy!(Accounting = [Admin, Accountant]);
policy!(
    /// A supplier's office: the owner and dispatchers.
    SupplierOffice = [Owner, Dispatcher]
);
policy!(SupplierOwner = [Owner]);
policy!(
    /// Anyone of a supplier, drivers included.
    SupplierAny = [Owner, Dispatcher, Driver]
);
policy!(Driver = [Driver]);
policy!(ClientUser = [Client]);
policy!(
    /// The contact centre's quick entry: operators, and managers and admins
    /// who take a call.
    Operators = [Admin, Operator, Manager]
);
policy!(
    /// A hunter's own clients.
    Hunters = [Hunter]
);
policy!(
    /// Staff who place requests for clients (operator or hunter channel).
    IntakeStaff = [Admin, Operator, Manager, Hunter]
);
policy!(
    /// Who reads the intake report.
    Reports = [Admin, Manager]
);
policy!(
    /// Who opens request lists and pages: staff (scoped by role) and clients
    /// (their own organisation's); suppliers never see requests.
    RequestReaders = [Admin, Hunter, Manager, Operator, Accountant, Analyst, Client]
);
