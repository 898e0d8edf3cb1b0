//! Definition versions: storing, activating, listing, migrating instances.
//!
//! Every text ever stored is a version (`key`, `version` = 1, 2, …, content
//! hash). One version per key is active; new instances use it and running
//! ones stay on the version they started with until
//! [`Engine::migrate_instances`] moves them explicitly.
//!
//! **Files versus the browser.** At start-up [`Engine::load_dir`] stores each
//! workflow file; a file becomes a new active version only when its content
//! hash is not among the stored versions of its key. So when an analyst
//! activates an edited version in the browser, restarting with the old file
//! changes nothing — the edit stays active — until a *changed* file is
//! deployed, which then wins. (Deploying a file identical to an older version
//! does not re-activate that version either: activate it in the browser.)
//!
//! **Several servers at once.** Storing and activating take a
//! transaction-scoped lock first (`lock_definitions`: a PostgreSQL
//! advisory lock; on SQLite the single writer's `BEGIN IMMEDIATE` already
//! serialises), then read what is stored and decide. So two servers starting
//! at the same moment with the same folder store each text once, and an
//! analyst activating a version while a server starts cannot leave two
//! active versions or fail on a unique key. The INSERT says
//! `ON CONFLICT DO NOTHING` and re-reads as a second line of defence.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::db::{Dialect, from_db_time, to_db_time};
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::dsl::{compile, content_hash};
use crate::engine::{Engine, EngineError};
use crate::step::{StepContext, migrate};
use crate::store;

/// One stored version of a definition (without its text).
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionVersion {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub content_hash: String,
    pub title: String,
    pub object_kind: String,
    /// `draft` (never active), `active`, or `inactive` (was active once).
    pub status: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub activated_by: Option<i64>,
    pub activated_at: Option<DateTime<Utc>>,
}

/// A definition key with its active version and instance counts.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionSummary {
    pub key: String,
    pub title: String,
    pub active: Option<DefinitionVersion>,
    pub versions: i64,
    pub running_instances: i64,
}

/// What loading a file did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadAction {
    /// This text is already stored; nothing changed.
    Unchanged,
    /// Stored as a new version and activated.
    Activated,
    /// Already stored; activated because the key had no active version.
    Reactivated,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadedFile {
    pub file: String,
    pub key: String,
    pub version: i64,
    pub definition_id: i64,
    pub action: LoadAction,
}

/// Why saving a draft failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the definition has errors:\n{0}")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Engine(e.into())
    }
}

/// One running instance as a migration would move it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedMove {
    pub instance_id: i64,
    pub object_kind: String,
    pub object_id: i64,
    pub from_version: i64,
    pub from_state: String,
    pub to_state: String,
}

/// What a migration would do, checked but not applied.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationPlan {
    pub key: String,
    pub to_version: i64,
    pub moves: Vec<PlannedMove>,
    /// Running instances per source state that has no place in the target
    /// (neither mapped nor a state of the target): the map the analyst
    /// still has to give.
    pub unplaced: BTreeMap<String, usize>,
    /// Why the migration would be refused; empty when it may run.
    pub problems: Vec<String>,
}

/// What a migration moved.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub moved: usize,
    /// Instances moved, by (old state → new state).
    pub by_state: BTreeMap<String, usize>,
    pub to_definition_id: i64,
}

const VERSION_COLUMNS: &str = "id, key, version, content_hash, title, object_kind, status, created_by, created_at, activated_by, activated_at";

fn version_from_row(r: &sqlx::any::AnyRow) -> Result<DefinitionVersion, sqlx::Error> {
    Ok(DefinitionVersion {
        id: r.try_get(0)?,
        key: r.try_get(1)?,
        version: r.try_get(2)?,
        content_hash: r.try_get(3)?,
        title: r.try_get(4)?,
        object_kind: r.try_get(5)?,
        status: r.try_get(6)?,
        created_by: r.try_get(7)?,
        created_at: from_db_time(r.try_get(8)?),
        activated_by: r.try_get(9)?,
        activated_at: r.try_get::<Option<i64>, _>(10)?.map(from_db_time),
    })
}

impl Engine {
    /// Checks files or folders against this engine's vocabulary (for
    /// `podryad workflows check`).
    pub fn check_files<P: AsRef<Path>>(&self, paths: &[P]) -> Vec<Diagnostic> {
        crate::dsl::check_files(paths, &self.inner.vocab)
    }

    /// Validates a definition's text without storing it (the editor's
    /// "check" button).
    pub fn validate(&self, yaml: &str, file: &str) -> Result<(), Vec<Diagnostic>> {
        compile(yaml, file, &self.inner.vocab).map(|_| ())
    }

    /// Stores every `*.yaml` of `dir` (except `calendar.yaml`) as described
    /// in the module docs. Refuses all files if any has errors.
    pub async fn load_dir(
        &self,
        dir: &Path,
        actor: Option<i64>,
    ) -> Result<Vec<LoadedFile>, SaveError> {
        let (loaded, refused) = self.load_files(dir, actor, false).await?;
        if !refused.is_empty() {
            return Err(SaveError::Invalid(Diagnostics(refused)));
        }
        Ok(loaded)
    }

    /// Like [`Engine::load_dir`], but a file with errors is refused on its
    /// own: its key keeps the version that was active (the last good one),
    /// the good files are stored, and the refused files' problems are
    /// returned beside them. The server starts this way, so one analyst's
    /// typo never stops it. Only an unreadable folder is an error.
    pub async fn load_dir_keeping_good(
        &self,
        dir: &Path,
        actor: Option<i64>,
    ) -> Result<(Vec<LoadedFile>, Vec<Diagnostic>), SaveError> {
        self.load_files(dir, actor, true).await
    }

    /// Checks every file, then stores the good ones: all of them only if
    /// none has errors, unless `keep_good`.
    async fn load_files(
        &self,
        dir: &Path,
        actor: Option<i64>,
        keep_good: bool,
    ) -> Result<(Vec<LoadedFile>, Vec<Diagnostic>), SaveError> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| {
                SaveError::Invalid(Diagnostics(vec![Diagnostic::new(
                    &dir.display().to_string(),
                    Pos::default(),
                    format!("не удалось прочитать папку: {e}"),
                )]))
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                    && p.file_name().is_some_and(|n| n != "calendar.yaml")
            })
            .collect();
        files.sort();
        let mut texts = Vec::new();
        let mut errors = Vec::new();
        let mut keys = BTreeSet::new();
        for p in &files {
            let file = p.display().to_string();
            let text = match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(Diagnostic::new(
                        &file,
                        Pos::default(),
                        format!("не удалось прочитать файл: {e}"),
                    ));
                    continue;
                }
            };
            match compile(&text, &file, &self.inner.vocab) {
                Ok(def) => {
                    if !keys.insert(def.key.clone()) {
                        errors.push(Diagnostic::new(
                            &file,
                            Pos::new(1, 1),
                            format!("процесс «{}» уже объявлен в другом файле", def.key),
                        ));
                        continue;
                    }
                    texts.push((
                        file,
                        def.key.clone(),
                        def.title.clone(),
                        def.object_kind.clone(),
                        text,
                    ));
                }
                Err(d) => errors.extend(d),
            }
        }
        if !keep_good && !errors.is_empty() {
            return Ok((Vec::new(), errors));
        }
        let mut out = Vec::new();
        for (file, key, title, object_kind, text) in texts {
            let hash = content_hash(&text);
            let mut tx = self.inner.db.begin().await?;
            lock_definitions(&mut tx, self.inner.db.dialect()).await?;
            let existing: Option<(i64, i64)> = sqlx::query(
                "SELECT id, version FROM wf_definitions WHERE key = $1 AND content_hash = $2",
            )
            .bind(&key)
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?;
            let active = store::active_definition(&mut tx, &key).await?;
            let (id, version, action) = match existing {
                Some((id, version)) if active.is_some() => (id, version, LoadAction::Unchanged),
                Some((id, version)) => {
                    activate_on(&mut tx, id, &key, actor, self.inner.db.now()).await?;
                    (id, version, LoadAction::Reactivated)
                }
                None => {
                    let (id, version) = insert_version(
                        &mut tx,
                        &key,
                        &hash,
                        &text,
                        &title,
                        &object_kind,
                        actor,
                        self.inner.db.now(),
                    )
                    .await?;
                    activate_on(&mut tx, id, &key, actor, self.inner.db.now()).await?;
                    (id, version, LoadAction::Activated)
                }
            };
            tx.commit().await?;
            if action != LoadAction::Unchanged {
                tracing::info!(key, version, ?action, "workflow definition loaded");
            }
            out.push(LoadedFile {
                file,
                key,
                version,
                definition_id: id,
                action,
            });
        }
        Ok((out, errors))
    }

    /// Validates `yaml` and stores it as a draft version of its key (or
    /// returns the stored version with the same text).
    pub async fn save_draft(
        &self,
        yaml: &str,
        actor: Option<i64>,
    ) -> Result<DefinitionVersion, SaveError> {
        let def = compile(yaml, "definition.yaml", &self.inner.vocab)
            .map_err(|d| SaveError::Invalid(Diagnostics(d)))?;
        let hash = content_hash(yaml);
        let mut tx = self.inner.db.begin().await?;
        lock_definitions(&mut tx, self.inner.db.dialect()).await?;
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM wf_definitions WHERE key = $1 AND content_hash = $2",
        )
        .bind(&def.key)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match existing {
            Some(id) => id,
            None => {
                insert_version(
                    &mut tx,
                    &def.key,
                    &hash,
                    yaml,
                    &def.title,
                    &def.object_kind,
                    actor,
                    self.inner.db.now(),
                )
                .await?
                .0
            }
        };
        tx.commit().await?;
        Ok(self
            .definition_version(id)
            .await?
            .ok_or(EngineError::DefinitionNotFound(id))?)
    }

    /// Makes version `definition_id` the active one of its key. New
    /// instances use it from the next start on, in every process.
    pub async fn activate(
        &self,
        definition_id: i64,
        actor: Option<i64>,
    ) -> Result<DefinitionVersion, EngineError> {
        // Compile first: a version that no longer validates must not go live.
        self.definition(definition_id).await?;
        let mut tx = self.inner.db.begin().await?;
        lock_definitions(&mut tx, self.inner.db.dialect()).await?;
        let key: String = sqlx::query_scalar("SELECT key FROM wf_definitions WHERE id = $1")
            .bind(definition_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(EngineError::DefinitionNotFound(definition_id))?;
        activate_on(&mut tx, definition_id, &key, actor, self.inner.db.now()).await?;
        tx.commit().await?;
        self.definition_version(definition_id)
            .await?
            .ok_or(EngineError::DefinitionNotFound(definition_id))
    }

    pub async fn definition_version(
        &self,
        id: i64,
    ) -> Result<Option<DefinitionVersion>, EngineError> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM wf_definitions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.inner.db.pool())
            .await?;
        Ok(row.map(|r| version_from_row(&r)).transpose()?)
    }

    /// The YAML text of a version.
    pub async fn definition_yaml(&self, id: i64) -> Result<Option<String>, EngineError> {
        Ok(
            sqlx::query_scalar("SELECT yaml FROM wf_definitions WHERE id = $1")
                .bind(id)
                .fetch_optional(self.inner.db.pool())
                .await?,
        )
    }

    /// Every version of `key`, newest first.
    pub async fn list_versions(&self, key: &str) -> Result<Vec<DefinitionVersion>, EngineError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM wf_definitions WHERE key = $1 ORDER BY version DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(self.inner.db.pool())
            .await?;
        Ok(rows
            .iter()
            .map(version_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Every definition key with its active version.
    pub async fn list_definitions(&self) -> Result<Vec<DefinitionSummary>, EngineError> {
        let pool = self.inner.db.pool();
        let keys =
            sqlx::query("SELECT key, COUNT(*) FROM wf_definitions GROUP BY key ORDER BY key")
                .fetch_all(pool)
                .await?;
        let running: BTreeMap<String, i64> =
            sqlx::query("SELECT definition_key, COUNT(*) FROM wf_instances WHERE finished_at IS NULL GROUP BY definition_key")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?;
        let sql = format!("SELECT {VERSION_COLUMNS} FROM wf_definitions WHERE status = 'active'");
        let active: BTreeMap<String, DefinitionVersion> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| version_from_row(r).map(|v| (v.key.clone(), v)))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for r in keys {
            let key: String = r.try_get(0)?;
            let versions: i64 = r.try_get(1)?;
            let active = active.get(&key).cloned();
            let title = match &active {
                Some(a) => a.title.clone(),
                None => self
                    .list_versions(&key)
                    .await?
                    .first()
                    .map(|v| v.title.clone())
                    .unwrap_or_default(),
            };
            out.push(DefinitionSummary {
                running_instances: running.get(&key).copied().unwrap_or(0),
                key,
                title,
                active,
                versions,
            });
        }
        Ok(out)
    }

    /// The state titles of the active versions of every workflow run on
    /// `object_kind` (state name → title), for labelling a business
    /// object's status with what the analysts wrote in the YAML.
    pub async fn active_state_titles(
        &self,
        object_kind: &str,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM wf_definitions WHERE object_kind = $1 AND status = 'active' ORDER BY id",
        )
        .bind(object_kind)
        .fetch_all(self.inner.db.pool())
        .await?;
        let mut titles = BTreeMap::new();
        for id in ids {
            let def = self.definition(id).await?;
            for st in &def.states {
                titles
                    .entry(st.name.clone())
                    .or_insert_with(|| st.title.clone());
            }
        }
        Ok(titles)
    }

    /// Checks a migration without moving anything: the versions exist, the
    /// map names states of the source versions and of the target, and
    /// every running instance lands on a state of the target. Returns what
    /// would move where (the browser's preview before the analyst
    /// confirms) and the problems; a plan with problems moves nothing.
    pub async fn plan_migration(
        &self,
        key: &str,
        from_versions: &[i64],
        to_version: i64,
        state_map: &BTreeMap<String, String>,
    ) -> Result<MigrationPlan, EngineError> {
        let checked = self
            .check_migration(key, from_versions, to_version, state_map)
            .await?;
        let mut plan = MigrationPlan {
            key: key.to_string(),
            to_version,
            moves: Vec::new(),
            unplaced: BTreeMap::new(),
            problems: checked.problems,
        };
        let Some(target) = checked.target else {
            return Ok(plan);
        };
        for (from_id, version) in &checked.from {
            let rows = sqlx::query(
                "SELECT id, state, object_kind, object_id FROM wf_instances \
                 WHERE definition_id = $1 AND finished_at IS NULL ORDER BY id",
            )
            .bind(from_id)
            .fetch_all(self.inner.db.pool())
            .await?;
            for r in rows {
                let from_state: String = r.try_get(1)?;
                let to_state = state_map
                    .get(&from_state)
                    .cloned()
                    .unwrap_or_else(|| from_state.clone());
                if target.state(&to_state).is_none() {
                    *plan.unplaced.entry(from_state.clone()).or_default() += 1;
                }
                plan.moves.push(PlannedMove {
                    instance_id: r.try_get(0)?,
                    object_kind: r.try_get(2)?,
                    object_id: r.try_get(3)?,
                    from_version: *version,
                    from_state,
                    to_state,
                });
            }
        }
        for (state, n) in &plan.unplaced {
            plan.problems.push(unplaced_problem(state, *n, to_version));
        }
        Ok(plan)
    }

    /// The part of a migration's checks that needs no instance: versions
    /// and the state map.
    async fn check_migration(
        &self,
        key: &str,
        from_versions: &[i64],
        to_version: i64,
        state_map: &BTreeMap<String, String>,
    ) -> Result<CheckedMigration, EngineError> {
        let versions = self.list_versions(key).await?;
        let find = |v: i64| versions.iter().find(|x| x.version == v);
        let mut problems = Vec::new();
        let Some(target) = find(to_version) else {
            return Ok(CheckedMigration {
                target: None,
                target_id: 0,
                from: Vec::new(),
                problems: vec![format!("у процесса «{key}» нет версии {to_version}")],
            });
        };
        let target_def = self.definition(target.id).await?;
        let mut from = Vec::new();
        let mut source_states = BTreeSet::new();
        for v in from_versions {
            match find(*v) {
                None => problems.push(format!("у процесса «{key}» нет версии {v}")),
                Some(x) if x.version == to_version => problems.push(format!(
                    "версия {v} — это та, на которую переносим; уберите её из исходных"
                )),
                Some(x) => {
                    from.push((x.id, x.version));
                    let d = self.definition(x.id).await?;
                    source_states.extend(d.states.iter().map(|s| s.name.clone()));
                }
            }
        }
        for (from_state, to) in state_map {
            if !source_states.contains(from_state) {
                problems.push(format!("состояния «{from_state}» нет в исходных версиях"));
            }
            if target_def.state(to).is_none() {
                problems.push(format!(
                    "состояния «{to}», куда переносим, нет в версии {to_version}"
                ));
            }
        }
        Ok(CheckedMigration {
            target: Some(target_def),
            target_id: target.id,
            from,
            problems,
        })
    }

    /// Moves the running instances of `key` on versions `from_versions` to
    /// `to_version`. An instance whose state is in `state_map` goes to the
    /// mapped state; any other keeps its state name, which must exist in the
    /// target. Refused as a whole (nothing moves) if any instance could not
    /// be placed. Each moved instance gets its tasks reopened, its timers
    /// re-planned and a `migrate` line in its history; all in one transaction.
    pub async fn migrate_instances(
        &self,
        key: &str,
        from_versions: &[i64],
        to_version: i64,
        state_map: &BTreeMap<String, String>,
        actor: Option<i64>,
    ) -> Result<MigrationReport, EngineError> {
        let checked = self
            .check_migration(key, from_versions, to_version, state_map)
            .await?;
        if !checked.problems.is_empty() {
            return Err(EngineError::Migration(checked.problems));
        }
        let Some(target_def) = checked.target else {
            return Err(EngineError::Migration(vec![format!(
                "у процесса «{key}» нет версии {to_version}"
            )]));
        };
        let from_ids: Vec<i64> = checked.from.iter().map(|(id, _)| *id).collect();
        let target_id = checked.target_id;
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        let conn: &mut AnyConnection = &mut tx;
        let mut ids = Vec::new();
        for from_id in &from_ids {
            let rows = sqlx::query("SELECT id, state FROM wf_instances WHERE definition_id = $1 AND finished_at IS NULL ORDER BY id")
                .bind(from_id)
                .fetch_all(&mut *conn)
                .await?;
            for r in rows {
                ids.push((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?));
            }
        }
        let mut unplaced: BTreeMap<String, usize> = BTreeMap::new();
        for (_, state) in &ids {
            let target_state = state_map.get(state).unwrap_or(state);
            if target_def.state(target_state).is_none() {
                *unplaced.entry(state.clone()).or_default() += 1;
            }
        }
        if !unplaced.is_empty() {
            drop(tx);
            return Err(EngineError::Migration(
                unplaced
                    .into_iter()
                    .map(|(s, n)| unplaced_problem(&s, n, to_version))
                    .collect(),
            ));
        }
        let mut report = MigrationReport {
            moved: 0,
            by_state: BTreeMap::new(),
            to_definition_id: target_id,
        };
        let lock = db.dialect() == Dialect::Postgres;
        for (id, state) in ids {
            let row = store::instance_row(conn, id, lock)
                .await?
                .ok_or(EngineError::InstanceNotFound(id))?;
            let from_def_id = row.definition_id;
            let (_, snap) = store::snapshot(conn, row, true, true).await?;
            let target_state = state_map
                .get(&state)
                .cloned()
                .unwrap_or_else(|| state.clone());
            let object = self.object_context(conn, &target_def, &snap.object).await?;
            let details = serde_json::json!({
                "from_definition_id": from_def_id,
                "to_definition_id": target_id,
                "to_version": to_version,
            });
            let outcome = migrate(
                &target_def,
                &snap,
                &target_state,
                &StepContext {
                    object,
                    strict: false,
                },
                db.now(),
                actor,
                details,
            )?;
            store::apply(
                conn,
                &target_def.key,
                target_id,
                &snap,
                &outcome,
                db.now(),
                Some(target_id),
                &self.inner.locals,
            )
            .await
            .map_err(crate::engine::apply_error)?;
            self.inner.cache.remove(id);
            report.moved += 1;
            *report
                .by_state
                .entry(format!("{state} → {target_state}"))
                .or_default() += 1;
        }
        tx.commit().await?;
        // Moved instances may have new timers and actions.
        self.after_commit(true, true);
        Ok(report)
    }
}

/// What [`Engine::check_migration`] found: the target (when it exists),
/// the source versions as (row id, version number), and the problems.
struct CheckedMigration {
    target: Option<std::sync::Arc<crate::model::Definition>>,
    target_id: i64,
    from: Vec<(i64, i64)>,
    problems: Vec<String>,
}

fn unplaced_problem(state: &str, n: usize, to_version: i64) -> String {
    format!(
        "в состоянии «{state}» идёт процессов: {n}, а в версии {to_version} такого состояния нет — укажите, куда их перенести"
    )
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    conn: &mut AnyConnection,
    key: &str,
    hash: &str,
    text: &str,
    title: &str,
    object_kind: &str,
    actor: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM wf_definitions WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    let version = next.unwrap_or(0) + 1;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO wf_definitions (key, version, content_hash, yaml, title, object_kind, status, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(key)
    .bind(version)
    .bind(hash)
    .bind(text)
    .bind(title)
    .bind(object_kind)
    .bind(actor)
    .bind(to_db_time(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        return Ok((id, version));
    }
    // Stored meanwhile by someone who did not take the lock: use theirs.
    let row =
        sqlx::query("SELECT id, version FROM wf_definitions WHERE key = $1 AND content_hash = $2")
            .bind(key)
            .bind(hash)
            .fetch_one(&mut *conn)
            .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Takes the lock that serialises storing and activating definitions
/// until the end of the transaction. PostgreSQL: an advisory transaction
/// lock (the key spells `wf_defs`); SQLite: nothing to do, the transaction
/// was opened with `BEGIN IMMEDIATE` and holds the only write lock.
pub(crate) async fn lock_definitions(
    conn: &mut AnyConnection,
    dialect: Dialect,
) -> Result<(), sqlx::Error> {
    const KEY: i64 = 0x0077_665f_6465_6673; // "wf_defs"
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS l")
            .bind(KEY)
            .execute(conn)
            .await?;
    }
    Ok(())
}

async fn activate_on(
    conn: &mut AnyConnection,
    id: i64,
    key: &str,
    actor: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE wf_definitions SET status = 'inactive' WHERE key = $1 AND status = 'active' AND id <> $2")
        .bind(key)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE wf_definitions SET status = 'active', activated_by = $1, activated_at = $2 WHERE id = $3")
        .bind(actor)
        .bind(to_db_time(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
