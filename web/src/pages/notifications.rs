//! In-app notifications: the list behind the bell, marking them read, the
//! unread count as JSON, and its live stream (server-sent events).
//!
//! Everyone signed in has a bell; each person reads only their own
//! notifications ([`domain::notify::in_app`] takes their own user id). The
//! stream holds no database connection while it waits: it listens to the
//! process's [`domain::notify::Bell`] and reads the count only when told
//! something changed for this person.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::notify::in_app;
use futures::Stream;
use minijinja::context;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::{AppError, AppResult};
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/count", get(count))
        .route("/notifications/stream", get(stream))
        .route("/notifications/read", post(read_all))
        .route("/notifications/{id}/open", post(open))
}

async fn list(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let items = in_app::list(&state.db, auth.actor.user_id()).await?;
    let unread = items.iter().filter(|n| n.read_at.is_none()).count();
    Ok(state
        .page(
            &auth.info,
            "notifications.html",
            context! { items => ser(&items), unread },
        )?
        .into_response())
}

/// `{"unread": n}`: the bell's figure, for scripts and integrations.
async fn count(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let n = in_app::unread_count(&state.db, auth.actor.user_id()).await?;
    Ok(Json(serde_json::json!({ "unread": n })).into_response())
}

/// Marks one notification read and goes to the page it is about.
async fn open(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let me = auth.actor.user_id();
    let n = in_app::mark_read(&state.db, me, id)
        .await?
        .ok_or(AppError::NotFound)?;
    state.bell.read_by(me);
    let to = n
        .link
        .as_deref()
        .map(|l| local_path(l, &state.config.base_url))
        .unwrap_or_else(|| "/notifications".into());
    Ok(Redirect::to(&to).into_response())
}

async fn read_all(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let me = auth.actor.user_id();
    in_app::mark_all_read(&state.db, me).await?;
    state.bell.read_by(me);
    Ok(redirect_with_flash(
        "/notifications",
        "flash-notifications-read",
        state.config.secure_cookies,
    ))
}

/// Server-sent events named `unread` whose data is the unread count: one
/// at once, then one whenever it may have changed.
async fn stream(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let me = auth.actor.user_id();
    let updates = state.bell.subscribe(me).await;
    let db = state.db.clone();
    let events = futures::stream::unfold((updates, true), move |(mut updates, first)| {
        let db = db.clone();
        async move {
            if !first {
                updates.next().await?;
            }
            let event = match in_app::unread_count(&db, me).await {
                Ok(n) => Event::default().event("unread").data(n.to_string()),
                // The next change tries again; the page keeps its figure.
                Err(e) => {
                    tracing::warn!(error = %e, "notification stream: cannot count");
                    Event::default().comment("retry later")
                }
            };
            Some((Ok(event), (updates, false)))
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(25)))
}

/// A link of a notification as a redirect target on this site: messages
/// carry full addresses (`https://podryad.example/tasks/5`) for e-mail; a
/// link elsewhere is not followed from here.
fn local_path(link: &str, base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let path = if !base.is_empty() && link.starts_with(base) {
        &link[base.len()..]
    } else {
        link
    };
    if path.starts_with('/') && !path.starts_with("//") {
        path.to_string()
    } else {
        "/notifications".into()
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn links_lead_only_to_this_site() {
        let base = "https://podryad.example";
        assert_eq!(
            local_path("https://podryad.example/tasks/5", base),
            "/tasks/5"
        );
        assert_eq!(local_path("/tasks/5", ""), "/tasks/5");
        assert_eq!(local_path("https://evil.example/x", base), "/notifications");
        assert_eq!(local_path("//evil.example/x", ""), "/notifications");
    }
}
