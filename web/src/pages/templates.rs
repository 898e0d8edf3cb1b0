//! Document templates for analysts and lawyers: the list of templates, the
//! Typst editor (check with line and column, preview with the sample data as
//! a PDF, save a draft, activate — no restart), and the versions of each,
//! as `workflows.rs` does for workflow definitions. New documents use the
//! active version; with none, the built-in one.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::paperwork::templates::{self, SaveError};
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Analysts, Auth};
use crate::error::{AppError, AppResult};
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list))
        .route("/templates/versions/{id}", get(version_page))
        .route("/templates/versions/{id}/activate", post(activate))
        .route("/templates/{key}", get(template_page))
        .route("/templates/{key}/check", post(check))
        .route("/templates/{key}/preview", post(preview))
        .route("/templates/{key}/save", post(save))
        .route("/templates/{key}/builtin", post(use_builtin))
}

async fn list(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let list = templates::list(&state.db).await?;
    Ok(state
        .page(
            &auth.info,
            "templates/list.html",
            context! { templates => ser(&list) },
        )?
        .into_response())
}

/// What the editor shows besides the text.
struct Shown {
    /// The stored version being looked at, if any.
    version: Option<templates::TemplateVersion>,
    diagnostics: Vec<documents::Diagnostic>,
    checked: Option<bool>,
    status: StatusCode,
}

async fn editor(
    state: &AppState,
    auth: &Auth<Analysts>,
    key: &str,
    source: String,
    shown: Shown,
) -> AppResult<Response> {
    let builtin = documents::builtin::get(key).ok_or(AppError::NotFound)?;
    let versions = templates::versions(&state.db, key).await?;
    let active = versions.iter().find(|v| v.status == "active").cloned();
    let errors = shown
        .diagnostics
        .iter()
        .filter(|d| d.severity == documents::Severity::Error)
        .count();
    Ok((
        shown.status,
        state.page(
            &auth.info,
            "templates/editor.html",
            context! {
                key,
                source,
                sample => builtin.sample,
                sample_file => builtin.sample_file(),
                variants => builtin.variants.iter().map(|(name, _)| format!("{key}.{name}.sample.json")).collect::<Vec<_>>(),
                v => ser(&shown.version),
                active => ser(&active),
                versions => ser(&versions),
                diagnostics => ser(&shown.diagnostics),
                errors,
                checked => shown.checked,
            },
        )?,
    )
        .into_response())
}

async fn template_page(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
) -> AppResult<Response> {
    let template = templates::active(&state.db, &key).await?;
    let versions = templates::versions(&state.db, &key).await?;
    let version = versions.into_iter().find(|v| v.status == "active");
    editor(
        &state,
        &auth,
        &key,
        template.source,
        Shown {
            version,
            diagnostics: Vec::new(),
            checked: None,
            status: StatusCode::OK,
        },
    )
    .await
}

async fn version_page(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (version, source) = templates::version(&state.db, id).await?;
    let key = version.key.clone();
    editor(
        &state,
        &auth,
        &key,
        source,
        Shown {
            version: Some(version),
            diagnostics: Vec::new(),
            checked: None,
            status: StatusCode::OK,
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SourceForm {
    source: String,
    activate: Option<String>,
}

/// Browsers send text areas with CR LF line ends; Typst counts lines the
/// same either way, but the stored text should not depend on the browser.
fn normalise(source: &str) -> String {
    source.replace("\r\n", "\n")
}

fn invalid(diagnostics: Vec<documents::Diagnostic>) -> Shown {
    Shown {
        version: None,
        diagnostics,
        checked: Some(false),
        status: StatusCode::UNPROCESSABLE_ENTITY,
    }
}

async fn check(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
    Form(form): Form<SourceForm>,
) -> AppResult<Response> {
    let source = normalise(&form.source);
    let problems = templates::check(&key, &source).await?;
    let ok = !problems
        .iter()
        .any(|d| d.severity == documents::Severity::Error);
    let shown = if ok {
        Shown {
            version: None,
            diagnostics: problems,
            checked: Some(true),
            status: StatusCode::OK,
        }
    } else {
        invalid(problems)
    };
    editor(&state, &auth, &key, source, shown).await
}

async fn preview(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
    Form(form): Form<SourceForm>,
) -> AppResult<Response> {
    let source = normalise(&form.source);
    match templates::preview(&key, &source).await? {
        Ok(rendered) => {
            let mut resp = rendered.pdf.into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            let disposition = crate::forms::content_disposition(
                "inline",
                &format!("{key}-preview.pdf"),
                &format!("{key}-preview.pdf"),
            );
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        Err(diagnostics) => editor(&state, &auth, &key, source, invalid(diagnostics)).await,
    }
}

async fn save(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
    Form(form): Form<SourceForm>,
) -> AppResult<Response> {
    let source = normalise(&form.source);
    let user = Some(auth.actor.user_id());
    match templates::save_draft(&state.db, &key, &source, user).await {
        Ok(version) => {
            let (flash, id) = if form.activate.is_some() {
                match templates::activate(&state.db, version.id, user).await {
                    Ok(v) => ("flash-template-activated", v.id),
                    Err(SaveError::Invalid(d)) => {
                        return editor(&state, &auth, &key, source, invalid(d)).await;
                    }
                    Err(SaveError::Domain(e)) => return Err(e.into()),
                }
            } else {
                ("flash-template-saved", version.id)
            };
            Ok(redirect_with_flash(
                &format!("/templates/versions/{id}"),
                flash,
                state.config.secure_cookies,
            ))
        }
        Err(SaveError::Invalid(d)) => editor(&state, &auth, &key, source, invalid(d)).await,
        Err(SaveError::Domain(e)) => Err(e.into()),
    }
}

async fn activate(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    match templates::activate(&state.db, id, Some(auth.actor.user_id())).await {
        Ok(v) => Ok(redirect_with_flash(
            &format!("/templates/versions/{}", v.id),
            "flash-template-activated",
            state.config.secure_cookies,
        )),
        Err(SaveError::Invalid(d)) => {
            let (version, source) = templates::version(&state.db, id).await?;
            let key = version.key.clone();
            let mut shown = invalid(d);
            shown.version = Some(version);
            editor(&state, &auth, &key, source, shown).await
        }
        Err(SaveError::Domain(e)) => Err(e.into()),
    }
}

async fn use_builtin(
    State(state): State<AppState>,
    _auth: Auth<Analysts>,
    Path(key): Path<String>,
) -> AppResult<Response> {
    templates::use_builtin(&state.db, &key).await?;
    Ok(redirect_with_flash(
        &format!("/templates/{key}"),
        "flash-template-builtin",
        state.config.secure_cookies,
    ))
}
