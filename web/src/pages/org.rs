//! An organisation's card and its people, as seen by its own members (and
//! by the broker's staff). Another organisation's card answers 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::accounts::UserFilter;
use minijinja::context;

use crate::render::ser;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/org", get(my_org))
        .route("/orgs/{id}", get(org_card))
        .route("/org/users", get(colleagues))
}

async fn my_org(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    show(&state, &auth, auth.actor.org_id()).await
}

async fn org_card(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    show(&state, &auth, id).await
}

async fn show(state: &AppState, auth: &Auth<AnyUser>, id: i64) -> AppResult<Response> {
    let org = domain::parties::orgs::get(&state.db, &auth.actor, id).await?;
    let people = domain::accounts::list_users(
        &state.db,
        &auth.actor,
        &UserFilter {
            org_id: Some(org.id),
            ..Default::default()
        },
    )
    .await?;
    Ok(state
        .page(
            &auth.info,
            "org/card.html",
            context! { org => ser(&org), people => ser(&people) },
        )?
        .into_response())
}

async fn colleagues(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let people = domain::accounts::list_users(
        &state.db,
        &auth.actor,
        &UserFilter {
            org_id: Some(auth.actor.org_id()),
            ..Default::default()
        },
    )
    .await?;
    Ok(state
        .page(
            &auth.info,
            "org/users.html",
            context! { people => ser(&people) },
        )?
        .into_response())
}
