//! Workflows for analysts: definitions with their versions and a diagram
//! with live instance counts, the YAML editor (validate with line errors,
//! save, activate — no restart), and instance pages for staff.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::workflows::{self, Diagnostic, VersionPage};
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Analysts, Auth, Staff};
use crate::diagram;
use crate::error::AppResult;
use crate::layout::redirect_with_flash;
use crate::links::object_href;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/new", get(new_page))
        .route("/workflows/check", post(check))
        .route("/workflows/save", post(save))
        .route("/workflows/versions/{id}", get(version_page))
        .route("/workflows/versions/{id}/activate", post(activate))
        .route("/workflows/{key}", get(definition_page))
        .route("/instances/{id}", get(instance_page))
}

async fn list(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let defs = workflows::definitions(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "workflows/list.html",
            context! { defs => ser(&defs) },
        )?
        .into_response())
}

fn edge_label(state: &AppState) -> impl Fn(&str) -> String + '_ {
    move |kind: &str| state.texts.get(&format!("wf-edge-{kind}"), &[])
}

async fn definition_page(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
) -> AppResult<Response> {
    let page = workflows::current_version(&state.services, &auth.actor, &key).await?;
    show_version(&state, &auth, page)
}

async fn version_page(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let page = workflows::version(&state.services, &auth.actor, id).await?;
    show_version(&state, &auth, page)
}

fn show_version(state: &AppState, auth: &Auth<Analysts>, page: VersionPage) -> AppResult<Response> {
    let svg = diagram::render(&page.graph, &edge_label(state));
    Ok(state
        .page(
            &auth.info,
            "workflows/definition.html",
            context! {
                v => ser(&page.version),
                versions => ser(&page.versions),
                yaml => page.yaml,
                svg => minijinja::Value::from_safe_string(svg),
                graph => ser(&page.graph),
            },
        )?
        .into_response())
}

async fn new_page(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let yaml = include_str!("../../templates/workflows/new_definition.yaml").to_string();
    editor(&state, &auth, yaml, Vec::new(), None, StatusCode::OK)
}

fn editor(
    state: &AppState,
    auth: &Auth<Analysts>,
    yaml: String,
    diagnostics: Vec<Diagnostic>,
    checked: Option<bool>,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "workflows/editor.html",
            context! { yaml, diagnostics => ser(&diagnostics), checked },
        )?,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YamlForm {
    yaml: String,
    activate: Option<String>,
}

async fn check(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Form(form): Form<YamlForm>,
) -> AppResult<Response> {
    let problems = workflows::check(&state.services, &auth.actor, &form.yaml)?;
    if problems.is_empty() {
        editor(
            &state,
            &auth,
            form.yaml,
            Vec::new(),
            Some(true),
            StatusCode::OK,
        )
    } else {
        editor(
            &state,
            &auth,
            form.yaml,
            problems,
            Some(false),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    }
}

async fn save(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Form(form): Form<YamlForm>,
) -> AppResult<Response> {
    let activate = form.activate.is_some();
    match workflows::save(&state.services, &auth.actor, &form.yaml, activate).await? {
        Ok(version) => {
            let flash = if activate {
                "flash-workflow-activated"
            } else {
                "flash-workflow-saved"
            };
            Ok(redirect_with_flash(
                &format!("/workflows/versions/{}", version.id),
                flash,
                state.config.secure_cookies,
            ))
        }
        Err(problems) => editor(
            &state,
            &auth,
            form.yaml,
            problems,
            Some(false),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

async fn activate(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let v = workflows::activate(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/workflows/versions/{}", v.id),
        "flash-workflow-activated",
        state.config.secure_cookies,
    ))
}

async fn instance_page(
    State(state): State<AppState>,
    auth: Auth<Staff>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let d = workflows::instance_detail(&state.services, &auth.actor, id).await?;
    let object_link = object_href(&d.instance.object.kind, d.instance.object.id);
    Ok(state
        .page(
            &auth.info,
            "workflows/instance.html",
            context! {
                i => ser(&d.instance),
                history => ser(&d.history),
                tasks => ser(&d.tasks),
                timers => ser(&d.timers),
                actions => ser(&d.actions),
                titles => ser(&d.titles),
                people => ser(&d.people),
                object_link,
            },
        )?
        .into_response())
}
