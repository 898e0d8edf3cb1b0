//! Serving uploaded files to those allowed to see them: the owning
//! organisation's office and the broker's staff; a driver only their own
//! and their jobs' machines' files ([`domain::access::Resource::File`]).
//! Anyone else gets 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;

pub fn router() -> Router<AppState> {
    Router::new().route("/files/{id}", get(serve))
}

async fn serve(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (row, bytes) = state
        .services
        .files
        .read(&state.db, &auth.actor, id)
        .await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&row.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Inline: images and PDFs open in the browser.
    let ext = row
        .original_name
        .rsplit('.')
        .next()
        .filter(|e| e.len() <= 5)
        .unwrap_or("bin");
    let disposition = crate::forms::content_disposition(
        "inline",
        &row.original_name,
        &format!("file-{}.{ext}", row.id),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(resp)
}
