//! Signing in and out, and setting a password through a one-time link.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::error::DomainError;
use minijinja::context;

use crate::render::ser;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{CSRF_COOKIE, RequestInfo, SESSION_COOKIE, set_cookie};
use crate::error::{AppError, AppResult};
use crate::forms::{error_map, safe_next};
use crate::layout::redirect_with_flash;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/set/{token}", get(set_page).post(set_password))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub login: String,
    pub password: String,
    pub next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    info: RequestInfo,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    if info.actor.is_some() {
        return Ok(Redirect::to(&safe_next(q.next.as_deref())).into_response());
    }
    Ok(state
        .page(
            &info,
            "login.html",
            context! { next => q.next, demo_accounts => ser(&state.config.demo_accounts) },
        )?
        .into_response())
}

async fn login(
    State(state): State<AppState>,
    info: RequestInfo,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let result =
        domain::accounts::authenticate(&state.db, &form.login, &form.password, info.ip.as_deref())
            .await;
    let (status, errors, minutes) = match result {
        Ok(user_id) => {
            let token = domain::accounts::open_session(
                &state.db,
                user_id,
                info.ip.as_deref(),
                info.user_agent.as_deref(),
            )
            .await?;
            let secure = state.config.secure_cookies;
            let mut resp = Redirect::to(&safe_next(form.next.as_deref())).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &token,
                    Some(domain::accounts::SESSION_TTL.num_seconds()),
                    secure,
                ),
            );
            // The session's own CSRF token from now on, so a token planted
            // (or read) before sign-in is useless.
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    CSRF_COOKIE,
                    &crate::auth::session_csrf(&token),
                    None,
                    secure,
                ),
            );
            return Ok(resp);
        }
        Err(DomainError::Invalid(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, error_map(&errors), None)
        }
        Err(DomainError::Throttled { retry_after_secs }) => {
            let mut errors = std::collections::BTreeMap::new();
            errors.insert("login".to_string(), "login.throttled".to_string());
            (
                StatusCode::TOO_MANY_REQUESTS,
                errors,
                Some(retry_after_secs),
            )
        }
        Err(e) => return Err(e.into()),
    };
    // A throttled attempt says why (`login.throttled`) and how long to wait:
    // in the page, and in `Retry-After` for scripts.
    let page = state.page(
        &info,
        "login.html",
        context! {
            next => form.next,
            login => form.login,
            errors,
            locked_minutes => minutes.filter(|s| *s >= 60).map(|s| (s + 59) / 60),
            locked_seconds => minutes.filter(|s| *s < 60),
            demo_accounts => ser(&state.config.demo_accounts),
        },
    )?;
    let mut resp = (status, page).into_response();
    if let Some(secs) = minutes
        && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(resp)
}

async fn logout(State(state): State<AppState>, info: RequestInfo) -> AppResult<Response> {
    if let Some(token) = &info.session_token {
        domain::accounts::close_session(&state.db, token).await?;
    }
    let secure = state.config.secure_cookies;
    let mut resp = redirect_with_flash("/login", "flash-signed-out", secure);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), secure),
    );
    // The signed-out browser gets a new anonymous token: the session's one
    // is dead with the session.
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(CSRF_COOKIE, &domain::crypto::random_token(), None, secure),
    );
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ForgotForm {
    login: String,
}

async fn forgot_page(State(state): State<AppState>, info: RequestInfo) -> AppResult<Response> {
    Ok(state
        .page(&info, "password_forgot.html", context! {})?
        .into_response())
}

async fn forgot(
    State(state): State<AppState>,
    info: RequestInfo,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    match domain::accounts::request_password_reset(&state.services, &form.login, info.ip.as_deref())
        .await
    {
        Ok(()) => Ok(state
            .page(
                &info,
                "password_forgot.html",
                context! { sent => true, login => form.login },
            )?
            .into_response()),
        Err(DomainError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            state.page(
                &info,
                "password_forgot.html",
                context! { login => form.login, errors => error_map(&errors) },
            )?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SetPasswordForm {
    password: String,
    confirm: String,
}

async fn set_page(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let valid = domain::accounts::password_link_valid(&state.db, &token).await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok((
        status,
        state.page(&info, "password_set.html", context! { token, valid })?,
    )
        .into_response())
}

async fn set_password(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
    Form(form): Form<SetPasswordForm>,
) -> AppResult<Response> {
    match domain::accounts::set_password_with_link(&state.db, &token, &form.password, &form.confirm)
        .await
    {
        Ok(_) => Ok(redirect_with_flash(
            "/login",
            "flash-password-set",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            state.page(
                &info,
                "password_set.html",
                context! { token, valid => true, errors => error_map(&errors) },
            )?,
        )
            .into_response()),
        Err(DomainError::Conflict(_)) => Ok((
            StatusCode::GONE,
            state.page(
                &info,
                "password_set.html",
                context! { token, valid => false },
            )?,
        )
            .into_response()),
        Err(e) => Err(AppError::from(e)),
    }
}
