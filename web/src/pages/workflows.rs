//! Workflows for analysts: definitions with their versions and a diagram
//! with live instance counts, the YAML editor (validate with line errors,
//! save, activate — no restart), and instance pages for staff.

use axum::Router;
use std::collections::BTreeMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::workflows::{self, Diagnostic, VersionPage};
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Analysts, Auth, Staff};
use crate::diagram;
use crate::error::{AppError, AppResult};
use crate::layout::redirect_with_flash;
use crate::links::object_href;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/new", get(new_page))
        .route("/workflows/guide", get(guide))
        .route("/workflows/check", post(check))
        .route("/workflows/reload", post(reload))
        .route("/workflows/save", post(save))
        .route("/workflows/versions/{id}", get(version_page))
        .route("/workflows/versions/{id}/activate", post(activate))
        .route("/workflows/{key}", get(definition_page))
        .route(
            "/workflows/{key}/migrate",
            get(migration_preview).post(migrate),
        )
        .route("/instances/{id}", get(instance_page))
}

async fn list(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    show_list(&state, &auth, None, StatusCode::OK).await
}

async fn show_list(
    state: &AppState,
    auth: &Auth<Analysts>,
    reloaded: Option<minijinja::Value>,
    status: StatusCode,
) -> AppResult<Response> {
    let defs = workflows::definitions(&state.services, &auth.actor).await?;
    Ok((
        status,
        state.page(
            &auth.info,
            "workflows/list.html",
            context! {
                defs => ser(&defs),
                can_reload => state.config.workflows_dir.is_some(),
                reloaded,
            },
        )?,
    )
        .into_response())
}

/// Re-reads the workflow files from the server's folder: changed files
/// become active, broken ones are refused with their positions while their
/// workflows keep the active version (the server goes on).
async fn reload(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let Some(dir) = state.config.workflows_dir.clone() else {
        return Err(AppError::NotFound);
    };
    let (loaded, refused) = workflows::reload_files(&state.services, &auth.actor, &dir).await?;
    state.refresh_labels().await;
    let changed: Vec<_> = loaded
        .iter()
        .filter(|f| f.action != workflows::LoadAction::Unchanged)
        .collect();
    let root = format!("{}/", dir.display());
    let refused: Vec<Diagnostic> = refused
        .into_iter()
        .map(|mut d| {
            // The folder is the server's business; the analyst knows the file.
            d.file = d.file.trim_start_matches(&root).to_string();
            d
        })
        .collect();
    let status = if refused.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let reloaded = context! { changed => ser(&changed), refused => ser(&refused) };
    show_list(&state, &auth, Some(reloaded), status).await
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
    let kind = |kind: &str| state.texts.get(&format!("wf-edge-{kind}"), &[]);
    let words = diagram::Words {
        kind: &kind,
        guarded: state.texts.get("wf-edge-guarded", &[]),
    };
    let svg = diagram::render(&page.graph, &words);
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

/// The analysts' guide to `object.*`, written from the code's own lists.
async fn guide(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let fields = workflows::object_fields(&state.services, &auth.actor)?;
    let kinds = crate::guide::object_fields(&fields, &state.texts);
    Ok(state
        .page(
            &auth.info,
            "workflows/guide.html",
            context! { kinds => ser(&kinds) },
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
            if activate {
                state.refresh_labels().await;
            }
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
    state.refresh_labels().await;
    Ok(redirect_with_flash(
        &format!("/workflows/versions/{}", v.id),
        "flash-workflow-activated",
        state.config.secure_cookies,
    ))
}

/// A migration as a form submits it: `to`, `from` (repeated; none = every
/// other version) and `map.<state>` = the target state for a source state
/// the target lacks (blank = keep the name).
#[derive(Debug, Default)]
struct MigrationForm {
    to: Option<i64>,
    from: Vec<i64>,
    map: BTreeMap<String, String>,
    /// A field that could not be read, for the 400 answer.
    bad: Option<&'static str>,
}

impl MigrationForm {
    fn parse(pairs: &[(String, String)]) -> MigrationForm {
        let mut f = MigrationForm::default();
        for (k, v) in pairs {
            let v = v.trim();
            if k == "to" {
                match v.parse() {
                    Ok(n) => f.to = Some(n),
                    Err(_) => f.bad = Some("to"),
                }
            } else if k == "from" {
                match v.parse() {
                    Ok(n) => f.from.push(n),
                    Err(_) => f.bad = Some("from"),
                }
            } else if let Some(state) = k.strip_prefix("map.")
                && !v.is_empty()
            {
                f.map.insert(state.to_string(), v.to_string());
            }
        }
        if f.to.is_none() && f.bad.is_none() {
            f.bad = Some("to");
        }
        f
    }

    /// A version that is not a number is the caller's mistake: 400.
    fn checked(self) -> Result<MigrationForm, AppError> {
        match self.bad {
            Some("from") => Err(AppError::BadRequest("migration.from")),
            Some(_) => Err(AppError::BadRequest("migration.to")),
            None => Ok(self),
        }
    }
}

/// What moving the running instances would do, before the analyst
/// confirms: each instance with its state before and after.
async fn migration_preview(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = MigrationForm::parse(&pairs).checked()?;
    show_migration(&state, &auth, &key, &form, StatusCode::OK).await
}

async fn show_migration(
    state: &AppState,
    auth: &Auth<Analysts>,
    key: &str,
    form: &MigrationForm,
    status: StatusCode,
) -> AppResult<Response> {
    let preview = workflows::preview_migration(
        &state.services,
        &auth.actor,
        key,
        &form.from,
        form.to.unwrap_or_default(),
        &form.map,
    )
    .await?;
    let moves: Vec<_> = preview
        .plan
        .moves
        .iter()
        .map(|m| {
            context! {
                m => ser(m),
                object_link => object_href(&m.object_kind, m.object_id),
            }
        })
        .collect();
    let unplaced: Vec<_> = preview.plan.unplaced.keys().cloned().collect();
    // Source states the analyst mapped stay in the form after a check.
    let mut map_states = unplaced.clone();
    map_states.extend(form.map.keys().filter(|s| !unplaced.contains(s)).cloned());
    Ok((
        status,
        state.page(
            &auth.info,
            "workflows/migrate.html",
            context! {
                key,
                to => preview.plan.to_version,
                versions => ser(&preview.versions),
                from_versions => preview.from_versions,
                moves,
                problems => preview.plan.problems,
                unplaced,
                map_states,
                map => &form.map,
                target_states => preview.target_states,
                titles => preview.titles,
            },
        )?,
    )
        .into_response())
}

/// Moves the running instances as the preview showed; a refusal shows the
/// preview again with the reasons (nothing moved).
async fn migrate(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = MigrationForm::parse(&pairs).checked()?;
    let to = form.to.unwrap_or_default();
    match workflows::migrate(
        &state.services,
        &auth.actor,
        &key,
        &form.from,
        to,
        &form.map,
    )
    .await?
    {
        Ok(_) => Ok(redirect_with_flash(
            &format!("/workflows/{key}"),
            "flash-workflow-migrated",
            state.config.secure_cookies,
        )),
        Err(_) => {
            show_migration(&state, &auth, &key, &form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
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
