//! Bulk import of a supplier's fleet (see `domain::fleet::imports`) and lists
//! exported to XLSX (see `domain::export`): the staff's directories and a
//! supplier's garage.

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use domain::access::roles::OrgKind;
use domain::error::{DomainError, FieldErrors};
use domain::export;
use domain::files::Purpose;
use domain::fleet::imports::{self, Column, Import, ImportRow};
use domain::parties::DirectoryFilter;
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Auth, FrontOffice, SupplierOffice};
use crate::error::AppResult;
use crate::forms::error_map;
use crate::i18n::error_key;
use crate::layout::redirect_with_flash;
use crate::multipart::MultipartForm;
use crate::render::ser;

/// The largest spreadsheet accepted, plus room for the form around it.
const MAX_UPLOAD: usize = 20 * 1024 * 1024 + 256 * 1024;
/// Rows shown on one page of a preview.
const PAGE_ROWS: usize = 200;
/// Imports listed on the import page.
const RECENT: i64 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/garage/import", get(index).post(upload))
        .route("/garage/import/template.xlsx", get(template))
        .route("/garage/import/{id}", get(show))
        .route("/garage/import/{id}/progress", get(progress))
        .route("/garage/import/{id}/confirm", post(confirm))
        .route("/garage/import/{id}/cancel", post(cancel))
        .route("/garage/export.xlsx", get(export_garage))
        .route("/suppliers/export.xlsx", get(export_suppliers))
        .route("/clients/export.xlsx", get(export_clients))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

/// The text of an error code: the catalogue's `error-<code>`, or the
/// import page's own wording for codes the catalogue has no text for yet.
fn error_text(state: &AppState, code: &str) -> String {
    let key = error_key(code);
    if state.texts.has(&key) {
        return state.texts.get(&key, &[]);
    }
    let own = format!("import-{key}");
    if state.texts.has(&own) {
        return state.texts.get(&own, &[]);
    }
    state.texts.error(code)
}

#[derive(Serialize)]
struct ColumnHelp {
    title: String,
    required: bool,
    hint: String,
}

fn index_page(
    state: &AppState,
    auth: &Auth<SupplierOffice>,
    recent: &[Import],
    errors: &FieldErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let columns: Vec<ColumnHelp> = Column::ALL
        .iter()
        .map(|c| ColumnHelp {
            title: state.texts.get(c.title_key(), &[]),
            required: Column::REQUIRED.contains(c),
            hint: state.texts.get(&format!("{}.hint", c.title_key()), &[]),
        })
        .collect();
    let errors: std::collections::BTreeMap<String, String> = error_map(errors)
        .into_iter()
        .map(|(field, code)| (field, error_text(state, &code)))
        .collect();
    Ok((
        status,
        state.page(
            &auth.info,
            "imports/index.html",
            context! {
                recent => ser(&recent),
                columns => ser(&columns),
                categories => ser(&imports::help(&state.services.equipment)),
                errors => ser(&errors),
                max_mb => Purpose::Import.max_bytes() / (1024 * 1024),
                max_rows => imports::MAX_ROWS,
            },
        )?,
    )
        .into_response())
}

async fn index(State(state): State<AppState>, auth: Auth<SupplierOffice>) -> AppResult<Response> {
    let recent = imports::list(&state.services, &auth.actor, RECENT).await?;
    index_page(&state, &auth, &recent, &FieldErrors::new(), StatusCode::OK)
}

async fn upload(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    mp: Multipart,
) -> AppResult<Response> {
    let mut mp = MultipartForm::read(mp, MAX_UPLOAD).await?;
    let result = match mp.files.remove("file") {
        Some(f) => imports::start(&state.services, &auth.actor, &f.name, f.bytes).await,
        None => Err(DomainError::field("file", "required")),
    };
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/garage/import/{id}")).into_response()),
        Err(DomainError::Invalid(e)) => {
            let recent = imports::list(&state.services, &auth.actor, RECENT).await?;
            index_page(&state, &auth, &recent, &e, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviewQuery {
    page: Option<usize>,
    /// "1": rows with errors only.
    errors: Option<String>,
}

#[derive(Serialize)]
struct Message {
    column: String,
    text: String,
}

#[derive(Serialize)]
struct RowOut {
    #[serde(flatten)]
    row: imports::RowView,
    messages: Vec<Message>,
}

fn row_out(state: &AppState, r: &ImportRow) -> RowOut {
    let row = imports::view_row(state.services.texts.as_ref(), &state.services.equipment, r);
    let messages = row
        .errors
        .iter()
        .map(|e| Message {
            column: e.column.clone(),
            text: error_text(state, &e.code),
        })
        .collect();
    RowOut { row, messages }
}

async fn show(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    Query(q): Query<PreviewQuery>,
) -> AppResult<Response> {
    let imp = imports::get(&state.services, &auth.actor, id).await?;
    let progress = imports::Progress::from(&imp);
    let errors_only = q.errors.as_deref() == Some("1");
    let (mut rows_out, mut ignored, mut page, mut pages) = (Vec::new(), Vec::new(), 1usize, 1usize);
    if imp.status == "preview" {
        let (rows, ignored_columns) = imports::rows(&state.services, &auth.actor, id).await?;
        ignored = ignored_columns;
        let shown: Vec<&ImportRow> = rows
            .iter()
            .filter(|r| !errors_only || !r.is_valid())
            .collect();
        pages = shown.len().div_ceil(PAGE_ROWS).max(1);
        page = q.page.unwrap_or(1).clamp(1, pages);
        rows_out = shown
            .iter()
            .skip((page - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .map(|r| row_out(&state, r))
            .collect();
    }
    let message = imp.message.as_deref().map(|code| error_text(&state, code));
    Ok(state
        .page(
            &auth.info,
            "imports/show.html",
            context! {
                imp => ser(&imp),
                p => ser(&progress),
                can_confirm => imp.can_confirm(),
                valid_rows => imp.valid_rows(),
                rows => ser(&rows_out),
                ignored => ignored.join(", "),
                errors_only,
                page,
                pages,
                message,
            },
        )?
        .into_response())
}

async fn progress(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let imp = imports::get(&state.services, &auth.actor, id).await?;
    let mut resp = Json(imports::Progress::from(&imp)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn confirm(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    imports::confirm(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/garage/import/{id}"),
        "import-flash-done",
        state.config.secure_cookies,
    ))
}

async fn cancel(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    imports::cancel(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        "/garage/import",
        "import-flash-cancelled",
        state.config.secure_cookies,
    ))
}

// ---------------------------------------------------------------------------
// Downloads.

/// An XLSX download named `<title> <dd.mm.yyyy>.xlsx`, with an ASCII name
/// for clients that do not read RFC 5987 names.
fn xlsx_download(bytes: Vec<u8>, ascii_name: &str, title: &str, day: NaiveDate) -> Response {
    let fallback = format!("{ascii_name}-{}.xlsx", day.format("%Y-%m-%d"));
    let name = format!("{title} {}.xlsx", day.format("%d.%m.%Y"));
    let disposition = crate::forms::content_disposition("attachment", &name, &fallback);
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(export::XLSX_CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

fn today(state: &AppState) -> NaiveDate {
    state
        .db
        .now()
        .with_timezone(&state.config.timezone)
        .date_naive()
}

async fn template(
    State(state): State<AppState>,
    _auth: Auth<SupplierOffice>,
) -> AppResult<Response> {
    let bytes = export::template(&state.services).await?;
    let title = state.texts.get("export-file-template", &[]);
    Ok(xlsx_download(
        bytes,
        "garage-template",
        &title,
        today(&state),
    ))
}

async fn export_garage(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
) -> AppResult<Response> {
    let bytes = export::garage(&state.services, &auth.actor).await?;
    let title = state.texts.get("export-file-garage", &[]);
    Ok(xlsx_download(bytes, "garage", &title, today(&state)))
}

async fn export_directory(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    kind: OrgKind,
    f: &DirectoryFilter,
) -> AppResult<Response> {
    let bytes =
        export::directory(&state.services, &auth.actor, kind, f, state.config.timezone).await?;
    let title = state
        .texts
        .get(&format!("directory-title-{}", kind.as_str()), &[]);
    Ok(xlsx_download(
        bytes,
        &format!("{}s", kind.as_str()),
        &title,
        today(state),
    ))
}

async fn export_suppliers(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Query(f): Query<DirectoryFilter>,
) -> AppResult<Response> {
    export_directory(&state, &auth, OrgKind::Supplier, &f).await
}

async fn export_clients(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Query(f): Query<DirectoryFilter>,
) -> AppResult<Response> {
    export_directory(&state, &auth, OrgKind::Client, &f).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_import_error_has_a_text() {
        let texts = crate::i18n::Catalogue::russian().expect("catalogue");
        for code in imports::ERROR_CODES {
            let key = error_key(code);
            assert!(
                texts.has(&key) || texts.has(&format!("import-{key}")),
                "no text for {code}"
            );
        }
        for c in Column::ALL {
            assert!(texts.has(c.title_key()), "no title for {c:?}");
        }
        for key in [
            "import-yes",
            "import-no",
            "export-column-legal-form",
            "export-column-registered",
            "export-sheet-garage",
            "export-sheet-reference",
            "export-reference-category-code",
            "export-reference-column",
            "export-reference-spec-code",
            "export-reference-required",
            "export-reference-values",
            "export-reference-range",
            "export-file-template",
            "export-file-garage",
            "company-name",
            "field-inn",
            "company-region",
            "field-phone",
            "field-email",
            "users-status",
            "directory-machines",
            "directory-title-supplier",
            "directory-title-client",
        ] {
            assert!(texts.has(key), "no text {key}");
        }
    }
}
