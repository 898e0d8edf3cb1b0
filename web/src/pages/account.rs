//! The signed-in user's own account: who they are and where their
//! notifications go.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::error::DomainError;
use minijinja::context;
use minijinja::value::Value;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/telegram", post(telegram))
        .route("/account/telegram/link", post(telegram_link))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TelegramForm {
    telegram_chat_id: String,
}

async fn page(
    state: &AppState,
    auth: &Auth<AnyUser>,
    typed: Option<&str>,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    render(state, auth, typed, errors, None, status).await
}

async fn render(
    state: &AppState,
    auth: &Auth<AnyUser>,
    typed: Option<&str>,
    errors: Value,
    link: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let me = domain::accounts::get_user(&state.db, &auth.actor, auth.actor.user_id()).await?;
    let telegram = typed
        .map(str::to_string)
        .or_else(|| me.telegram_chat_id.clone())
        .unwrap_or_default();
    Ok((
        status,
        state.page(
            &auth.info,
            "account.html",
            context! {
                me => ser(&me), telegram, errors, link,
                bot => state.config.telegram_bot.clone(),
            },
        )?,
    )
        .into_response())
}

async fn account(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    page(&state, &auth, None, Value::UNDEFINED, StatusCode::OK).await
}

async fn telegram(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Form(f): Form<TelegramForm>,
) -> AppResult<Response> {
    match domain::accounts::set_telegram(&state.db, &auth.actor, &f.telegram_chat_id).await {
        Ok(()) => Ok(redirect_with_flash(
            "/account",
            if f.telegram_chat_id.trim().is_empty() {
                "flash-telegram-unlinked"
            } else {
                "flash-telegram-linked"
            },
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            page(
                &state,
                &auth,
                Some(&f.telegram_chat_id),
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A one-time `t.me` link that attaches the chat it is opened in.
async fn telegram_link(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let Some(bot) = state.config.telegram_bot.clone() else {
        return page(&state, &auth, None, Value::UNDEFINED, StatusCode::NOT_FOUND).await;
    };
    let link = domain::accounts::telegram::link_url(&state.services, &auth.actor, &bot).await?;
    render(
        &state,
        &auth,
        None,
        Value::UNDEFINED,
        Some(link),
        StatusCode::OK,
    )
    .await
}
