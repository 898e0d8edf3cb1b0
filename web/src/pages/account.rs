//! The signed-in user's own account.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::context;

use crate::render::ser;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;

pub fn router() -> Router<AppState> {
    Router::new().route("/account", get(account))
}

async fn account(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let me = domain::accounts::get_user(&state.db, &auth.actor, auth.actor.user_id).await?;
    Ok(state
        .page(&auth.info, "account.html", context! { me => ser(&me) })?
        .into_response())
}
