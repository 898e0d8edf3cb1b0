//! Serving uploaded files to those allowed to see them: the owning
//! organisation's office and the broker's staff; a driver only their own
//! and their jobs' machines' files ([`domain::access::Resource::File`]).
//! Anyone else gets 404.
//!
//! Also the documents we issue (`/documents/{id}`: work orders, contracts):
//! to the staff and to the party a document is for — a client asking for a
//! supplier's work order, or a supplier for the client's, gets 404 (the
//! paperwork context decides). The PDF is checked against its SHA-256
//! before it is served.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/files/{id}", get(serve))
        .route("/documents/{id}", get(document))
}

async fn document(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (doc, bytes) =
        domain::paperwork::issued::pdf(&state.db, &state.services.files, &auth.actor, id).await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let name = format!("{} v{}.pdf", doc.number, doc.version);
    let disposition =
        crate::forms::content_disposition("inline", &name, &format!("document-{}.pdf", doc.id));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        "x-document-sha256",
        HeaderValue::from_str(&doc.sha256).unwrap_or(HeaderValue::from_static("")),
    );
    Ok(resp)
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
