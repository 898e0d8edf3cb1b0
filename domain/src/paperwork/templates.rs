//! Template versions, like workflow definitions: an analyst saves a draft
//! (checked against the template's sample data, refused with positions when
//! it does not compile), previews it, and activates it — without a restart.
//! New documents use the active version; with none active, the built-in
//! template (version 0, in the binary) is used. Only the built-in keys can
//! be edited: the orders context asks for documents by those keys.

use documents::{Diagnostic, Severity, Template};
use engine::{Db, Dialect, Tx, to_db_time};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{DomainError, DomainResult};

/// One stored version (without its source).
#[derive(Debug, Clone, Serialize)]
pub struct TemplateVersion {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub sha256: String,
    /// `draft`, `active` or `inactive` (was active once).
    pub status: String,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
}

/// A template key as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateSummary {
    pub key: String,
    /// The active stored version; `None` — the built-in one is in use.
    pub active_version: Option<i64>,
    pub versions: i64,
    pub last_saved_at: Option<i64>,
}

/// Why a draft was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The template does not compile against its samples.
    #[error("the template has problems")]
    Invalid(Vec<Diagnostic>),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Domain(e.into())
    }
}

const COLUMNS: &str = "t.id, t.key, t.version, t.sha256, t.status, t.created_by, u.full_name AS created_by_name, t.created_at, t.activated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<TemplateVersion, sqlx::Error> {
    Ok(TemplateVersion {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        version: r.try_get("version")?,
        sha256: r.try_get("sha256")?,
        status: r.try_get("status")?,
        created_by: r.try_get("created_by")?,
        created_by_name: r.try_get("created_by_name")?,
        created_at: r.try_get("created_at")?,
        activated_at: r.try_get("activated_at")?,
    })
}

fn known(key: &str) -> DomainResult<&'static documents::builtin::Builtin> {
    documents::builtin::get(key).ok_or(DomainError::NotFound)
}

/// The template new documents of `key` are rendered with: the active stored
/// version, else the built-in one. An unknown key is `NotFound`.
pub async fn active(db: &Db, key: &str) -> DomainResult<Template> {
    let builtin = known(key)?;
    let row = sqlx::query(
        "SELECT version, source FROM document_templates WHERE key = $1 AND status = 'active'",
    )
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some(r) => Template::new(
            key,
            r.try_get("version")?,
            r.try_get::<String, _>("source")?,
        ),
        None => builtin.template(),
    })
}

/// Every built-in key with its stored versions.
pub async fn list(db: &Db) -> DomainResult<Vec<TemplateSummary>> {
    let rows = sqlx::query(
        "SELECT key, COUNT(*) AS n, MAX(created_at) AS last_at, \
                MAX(CASE WHEN status = 'active' THEN version END) AS active_version \
         FROM document_templates GROUP BY key",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for b in documents::builtin::ALL {
        let row = rows
            .iter()
            .find(|r| r.try_get::<String, _>("key").ok().as_deref() == Some(b.key));
        let (versions, last_saved_at, active_version) = match row {
            Some(r) => (
                r.try_get::<i64, _>("n")?,
                r.try_get::<Option<i64>, _>("last_at")?,
                r.try_get::<Option<i64>, _>("active_version")?,
            ),
            None => (0, None, None),
        };
        out.push(TemplateSummary {
            key: b.key.to_string(),
            active_version,
            versions,
            last_saved_at,
        });
    }
    Ok(out)
}

/// The stored versions of `key`, newest first.
pub async fn versions(db: &Db, key: &str) -> DomainResult<Vec<TemplateVersion>> {
    known(key)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM document_templates t LEFT JOIN users u ON u.id = t.created_by \
         WHERE t.key = $1 ORDER BY t.version DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// One stored version and its source.
pub async fn version(db: &Db, id: i64) -> DomainResult<(TemplateVersion, String)> {
    let sql = format!(
        "SELECT {COLUMNS}, t.source FROM document_templates t LEFT JOIN users u ON u.id = t.created_by WHERE t.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok((from_row(&row)?, row.try_get("source")?))
}

/// Compiles `source` as template `key` against every sample of the built-in
/// template of that key; returns the problems (errors first). Runs on a
/// blocking thread.
pub async fn check(key: &str, source: &str) -> DomainResult<Vec<Diagnostic>> {
    let builtin = known(key)?;
    let template = Template::new(key, 0, source);
    let problems = tokio::task::spawn_blocking(move || check_samples(builtin, &template))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(problems)
}

fn check_samples(builtin: &documents::builtin::Builtin, template: &Template) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for (file, data) in builtin.samples() {
        let found = match data {
            Ok(data) => documents::check(template, &data),
            Err(e) => vec![Diagnostic {
                template: template.key.clone(),
                file,
                line: e.line() as u32,
                column: e.column() as u32,
                severity: Severity::Error,
                message: e.to_string(),
                hints: Vec::new(),
            }],
        };
        // The same mistake shows with every sample; report it once.
        for d in found {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out.sort_by_key(|d| (d.severity != Severity::Error, d.line, d.column));
    out
}

fn has_errors(problems: &[Diagnostic]) -> bool {
    problems.iter().any(|d| d.severity == Severity::Error)
}

/// Renders `source` as template `key` with its main sample: the preview an
/// analyst sees before activating.
pub async fn preview(
    key: &str,
    source: &str,
) -> DomainResult<Result<documents::Rendered, Vec<Diagnostic>>> {
    let builtin = known(key)?;
    let data = builtin
        .sample_data()
        .map_err(|e| anyhow::anyhow!("{}: {e}", builtin.sample_file()))?;
    let rendered = super::render_blocking(Template::new(key, 0, source), data).await?;
    Ok(rendered.map_err(|e| match e {
        documents::RenderError::Template(d) => d,
        other => vec![Diagnostic {
            template: key.to_string(),
            file: format!("{key}.typ"),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message: other.to_string(),
            hints: Vec::new(),
        }],
    }))
}

/// Serialises writers of template versions on PostgreSQL (SQLite has one
/// writer anyway), so two saves cannot take the same version number.
async fn lock(tx: &mut Tx, dialect: Dialect) -> Result<(), sqlx::Error> {
    const KEY: i64 = 0x0064_6f63_5f74_706c; // "doc_tpl"
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS l")
            .bind(KEY)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Saves `source` as a new draft version of `key` after checking it; the
/// same text as an existing version returns that version instead.
pub async fn save_draft(
    db: &Db,
    key: &str,
    source: &str,
    user: Option<i64>,
) -> Result<TemplateVersion, SaveError> {
    let problems = check(key, source).await?;
    if has_errors(&problems) {
        return Err(SaveError::Invalid(problems));
    }
    let hash = hex::encode(Sha256::digest(source.as_bytes()));
    let mut tx = db.begin().await?;
    lock(&mut tx, db.dialect()).await?;
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM document_templates WHERE key = $1 AND sha256 = $2")
            .bind(key)
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?;
    let id = match existing {
        Some(id) => id,
        None => {
            let last: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM document_templates WHERE key = $1")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query_scalar(
                "INSERT INTO document_templates (key, version, source, sha256, status, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, 'draft', $5, $6) RETURNING id",
            )
            .bind(key)
            .bind(last.unwrap_or(0) + 1)
            .bind(source)
            .bind(&hash)
            .bind(user)
            .bind(to_db_time(db.now()))
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(version(db, id).await?.0)
}

/// Makes version `id` the active one of its key (the previous one becomes
/// inactive). It is checked again first: a version must compile against the
/// samples of today's binary to go live.
pub async fn activate(db: &Db, id: i64, user: Option<i64>) -> Result<TemplateVersion, SaveError> {
    let (v, source) = version(db, id).await?;
    let problems = check(&v.key, &source).await?;
    if has_errors(&problems) {
        return Err(SaveError::Invalid(problems));
    }
    let mut tx = db.begin().await?;
    lock(&mut tx, db.dialect()).await?;
    sqlx::query(
        "UPDATE document_templates SET status = 'inactive' WHERE key = $1 AND status = 'active' AND id <> $2",
    )
    .bind(&v.key)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE document_templates SET status = 'active', activated_by = $1, activated_at = $2 WHERE id = $3",
    )
    .bind(user)
    .bind(to_db_time(db.now()))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(version(db, id).await?.0)
}

/// Goes back to the built-in template of `key`: no stored version is active.
pub async fn use_builtin(db: &Db, key: &str) -> DomainResult<()> {
    known(key)?;
    let mut tx = db.begin().await?;
    lock(&mut tx, db.dialect()).await?;
    sqlx::query(
        "UPDATE document_templates SET status = 'inactive' WHERE key = $1 AND status = 'active'",
    )
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
