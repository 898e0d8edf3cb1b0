//! Rendered documents: immutable. Rendering again for the same owner, part
//! and template stores the next version beside the old one; nothing is
//! overwritten. Each row keeps the template version, the number, the data
//! the document was made from and the SHA-256 of its PDF, whose bytes are in
//! the file store.
//!
//! Who may read one: staff, and the organisation the document is for
//! (`party_org_id`) — a client never reads the supplier's work order, nor a
//! supplier the client's; anything else is "not found". The owner context
//! may narrow this further (its own rules on legs and orders).

use engine::{Db, Dialect, Tx, to_db_time};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::files::Files;

/// What a document belongs to: an object (`order` 17) and the part of it
/// (`client`, `supplier:42` — a leg), so each leg keeps its own versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub kind: String,
    pub id: i64,
    pub part: String,
}

impl Owner {
    pub fn new(kind: impl Into<String>, id: i64, part: impl Into<String>) -> Owner {
        Owner {
            kind: kind.into(),
            id,
            part: part.into(),
        }
    }
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub template_key: String,
    /// The document's number as printed on it.
    pub number: String,
    pub owner: Owner,
    /// The organisation the document is for (the client or the supplier);
    /// `None` — staff only.
    pub party_org_id: Option<i64>,
    pub data: Value,
    pub created_by: Option<i64>,
}

/// A stored document (without its data and bytes).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedDocument {
    pub id: i64,
    pub template_key: String,
    /// 0 — the built-in template.
    pub template_version: i64,
    pub number: String,
    pub owner: Owner,
    pub party_org_id: Option<i64>,
    pub version: i64,
    pub sha256: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// A document rendered and its bytes stored, whose row is not yet written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub doc: NewDocument,
    pub template_version: i64,
    pub rendered_sha256: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub storage_key: String,
}

/// Why a document could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The active template does not compile with this data.
    #[error("template {key} v{version}: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Template {
        key: String,
        version: i64,
        problems: Vec<documents::Diagnostic>,
    },
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<sqlx::Error> for IssueError {
    fn from(e: sqlx::Error) -> Self {
        IssueError::Domain(e.into())
    }
}

/// Renders `doc` with the active template of its key and stores the PDF's
/// bytes; the row is written by [`Prepared::record`] in the caller's
/// transaction (with whatever else it changes). Rendering happens outside
/// any transaction, on a blocking thread.
pub async fn prepare(db: &Db, files: &Files, doc: NewDocument) -> Result<Prepared, IssueError> {
    let template = super::templates::active(db, &doc.template_key).await?;
    let version = template.version;
    let rendered = super::render_blocking(template, doc.data.clone())
        .await
        .map_err(DomainError::from)?
        .map_err(|e| IssueError::Template {
            key: doc.template_key.clone(),
            version,
            problems: match e {
                documents::RenderError::Template(d) => d,
                other => vec![documents::Diagnostic {
                    template: doc.template_key.clone(),
                    file: format!("{}.typ", doc.template_key),
                    line: 0,
                    column: 0,
                    severity: documents::Severity::Error,
                    message: other.to_string(),
                    hints: Vec::new(),
                }],
            },
        })?;
    let storage_key = files.put_generated(&rendered.pdf).await?;
    Ok(Prepared {
        doc,
        template_version: version,
        rendered_sha256: rendered.sha256,
        size_bytes: rendered.pdf.len() as i64,
        pages: rendered.pages as i64,
        storage_key,
    })
}

/// Serialises version numbering per owner on PostgreSQL.
async fn lock(tx: &mut Tx, dialect: Dialect, owner: &Owner) -> Result<(), sqlx::Error> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1, $2)) AS l")
            .bind(0x646f_6373_i32) // "docs"
            .bind(owner.id as i32)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Prepared {
    /// Writes the document's row as the next version for its owner, part
    /// and template; returns its id. If the transaction is rolled back, call
    /// [`Prepared::discard`] to remove the stored bytes.
    pub async fn record(
        &self,
        tx: &mut Tx,
        dialect: Dialect,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DomainResult<i64> {
        let d = &self.doc;
        lock(tx, dialect, &d.owner).await?;
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM rendered_documents \
             WHERE owner_kind = $1 AND owner_id = $2 AND owner_part = $3 AND template_key = $4",
        )
        .bind(&d.owner.kind)
        .bind(d.owner.id)
        .bind(&d.owner.part)
        .bind(&d.template_key)
        .fetch_one(&mut **tx)
        .await?;
        let data = serde_json::to_string(&d.data).map_err(anyhow::Error::from)?;
        let id = sqlx::query_scalar(
            "INSERT INTO rendered_documents (template_key, template_version, number, owner_kind, owner_id, owner_part, \
             party_org_id, version, sha256, size_bytes, pages, data, storage_key, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(&d.template_key)
        .bind(self.template_version)
        .bind(&d.number)
        .bind(&d.owner.kind)
        .bind(d.owner.id)
        .bind(&d.owner.part)
        .bind(d.party_org_id)
        .bind(last.unwrap_or(0) + 1)
        .bind(&self.rendered_sha256)
        .bind(self.size_bytes)
        .bind(self.pages)
        .bind(data)
        .bind(&self.storage_key)
        .bind(d.created_by)
        .bind(to_db_time(now))
        .fetch_one(&mut **tx)
        .await?;
        Ok(id)
    }

    /// Removes the stored bytes of a document whose row was not written.
    pub async fn discard(&self, files: &Files) {
        files.discard_generated(&self.storage_key).await;
    }
}

/// Renders and stores a document in its own transaction; the new
/// version's row.
pub async fn issue(db: &Db, files: &Files, doc: NewDocument) -> Result<IssuedDocument, IssueError> {
    let prepared = prepare(db, files, doc).await?;
    let result = async {
        let mut tx = db.begin().await?;
        let id = prepared.record(&mut tx, db.dialect(), db.now()).await?;
        tx.commit().await?;
        DomainResult::Ok(id)
    }
    .await;
    match result {
        Ok(id) => Ok(row(db, id).await?),
        Err(e) => {
            prepared.discard(files).await;
            Err(e.into())
        }
    }
}

/// Issues `doc` unless its owner's latest version of the same template was
/// made from the same data with the template version active now — then
/// that one is returned. A workflow action that issues documents runs at
/// least once (a crash between rendering and the step's commit repeats
/// it); this makes the repeat change nothing, while a change of data or of
/// template still gives a new version.
pub async fn issue_once(
    db: &Db,
    files: &Files,
    doc: NewDocument,
) -> Result<IssuedDocument, IssueError> {
    let active = super::templates::active(db, &doc.template_key)
        .await?
        .version;
    let latest: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT id, template_version, data FROM rendered_documents \
         WHERE owner_kind = $1 AND owner_id = $2 AND owner_part = $3 AND template_key = $4 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(&doc.owner.kind)
    .bind(doc.owner.id)
    .bind(&doc.owner.part)
    .bind(&doc.template_key)
    .fetch_optional(db.pool())
    .await?;
    if let Some((id, version, data)) = latest
        && version == active
        && serde_json::from_str::<Value>(&data).ok().as_ref() == Some(&doc.data)
    {
        return Ok(row(db, id).await?);
    }
    issue(db, files, doc).await
}

/// The latest version of each document of an owner's part (`client`,
/// `supplier:42`), unscoped: for the owner context, which decides who asks.
pub async fn latest_for_part(
    db: &Db,
    owner_kind: &str,
    owner_id: i64,
    part: &str,
) -> DomainResult<Vec<IssuedDocument>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rendered_documents d WHERE owner_kind = $1 AND owner_id = $2 AND owner_part = $3 \
         AND version = (SELECT MAX(version) FROM rendered_documents x WHERE x.owner_kind = d.owner_kind \
           AND x.owner_id = d.owner_id AND x.owner_part = d.owner_part AND x.template_key = d.template_key) \
         ORDER BY template_key"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner_kind)
        .bind(owner_id)
        .bind(part)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

const COLUMNS: &str = "id, template_key, template_version, number, owner_kind, owner_id, owner_part, party_org_id, \
    version, sha256, size_bytes, pages, created_by, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<IssuedDocument, sqlx::Error> {
    Ok(IssuedDocument {
        id: r.try_get("id")?,
        template_key: r.try_get("template_key")?,
        template_version: r.try_get("template_version")?,
        number: r.try_get("number")?,
        owner: Owner {
            kind: r.try_get("owner_kind")?,
            id: r.try_get("owner_id")?,
            part: r.try_get("owner_part")?,
        },
        party_org_id: r.try_get("party_org_id")?,
        version: r.try_get("version")?,
        sha256: r.try_get("sha256")?,
        size_bytes: r.try_get("size_bytes")?,
        pages: r.try_get("pages")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn row(db: &Db, id: i64) -> DomainResult<IssuedDocument> {
    let sql = format!("SELECT {COLUMNS} FROM rendered_documents WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(from_row(&r)?)
}

fn may_read(actor: &Actor, doc: &IssuedDocument) -> bool {
    actor.is_staff() || doc.party_org_id == Some(actor.org_id())
}

/// One document, if `actor` may read it.
pub async fn get(db: &Db, actor: &Actor, id: i64) -> DomainResult<IssuedDocument> {
    let doc = row(db, id).await?;
    if may_read(actor, &doc) {
        Ok(doc)
    } else {
        Err(DomainError::NotFound)
    }
}

/// The data a document was made from, if `actor` may read it.
pub async fn data(db: &Db, actor: &Actor, id: i64) -> DomainResult<Value> {
    get(db, actor, id).await?;
    let text: String = sqlx::query_scalar("SELECT data FROM rendered_documents WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    Ok(serde_json::from_str(&text).map_err(anyhow::Error::from)?)
}

/// The PDF of a document, if `actor` may read it. Its SHA-256 is checked
/// against the stored one: a changed file is an error, never served.
pub async fn pdf(
    db: &Db,
    files: &Files,
    actor: &Actor,
    id: i64,
) -> DomainResult<(IssuedDocument, Vec<u8>)> {
    use sha2::{Digest, Sha256};
    let doc = get(db, actor, id).await?;
    let key: String =
        sqlx::query_scalar("SELECT storage_key FROM rendered_documents WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await?;
    let bytes = files.get_generated(&key).await?;
    if hex::encode(Sha256::digest(&bytes)) != doc.sha256 {
        return Err(anyhow::anyhow!("document {id}: stored PDF does not match its SHA-256").into());
    }
    Ok((doc, bytes))
}

/// Every version of every document of an owner that `actor` may read,
/// newest first within each template and part.
pub async fn list_for_owner(
    db: &Db,
    actor: &Actor,
    owner_kind: &str,
    owner_id: i64,
) -> DomainResult<Vec<IssuedDocument>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rendered_documents WHERE owner_kind = $1 AND owner_id = $2 \
         ORDER BY owner_part, template_key, version DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner_kind)
        .bind(owner_id)
        .fetch_all(db.pool())
        .await?;
    let docs: Vec<IssuedDocument> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok(docs.into_iter().filter(|d| may_read(actor, d)).collect())
}

/// The newest version of each document of an owner (one per part and
/// template), read on `conn` — inside the caller's transaction, for the
/// system (the signing context sends what was issued to its parties).
pub async fn latest_on(
    conn: &mut sqlx::AnyConnection,
    owner_kind: &str,
    owner_id: i64,
) -> DomainResult<Vec<IssuedDocument>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rendered_documents d WHERE owner_kind = $1 AND owner_id = $2 \
         AND version = (SELECT MAX(x.version) FROM rendered_documents x WHERE x.owner_kind = d.owner_kind \
           AND x.owner_id = d.owner_id AND x.owner_part = d.owner_part AND x.template_key = d.template_key) \
         ORDER BY owner_part, template_key"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner_kind)
        .bind(owner_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// One document for the system (no reader's rules): the signing context
/// reads the document an envelope carries after checking the envelope.
pub async fn system_get(db: &Db, id: i64) -> DomainResult<IssuedDocument> {
    row(db, id).await
}

/// The PDF of a document for the system, checked against its SHA-256.
pub async fn system_pdf(
    db: &Db,
    files: &Files,
    id: i64,
) -> DomainResult<(IssuedDocument, Vec<u8>)> {
    use sha2::{Digest, Sha256};
    let doc = row(db, id).await?;
    let key: String =
        sqlx::query_scalar("SELECT storage_key FROM rendered_documents WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await?;
    let bytes = files.get_generated(&key).await?;
    if hex::encode(Sha256::digest(&bytes)) != doc.sha256 {
        return Err(anyhow::anyhow!("document {id}: stored PDF does not match its SHA-256").into());
    }
    Ok((doc, bytes))
}

/// What issuing the next version of document `id` takes: the same
/// template, number, owner, party and data (the caller changes what the
/// correction changes). Issue it with [`issue`].
pub async fn next_version_of(
    db: &Db,
    id: i64,
    created_by: Option<i64>,
) -> DomainResult<NewDocument> {
    let doc = row(db, id).await?;
    let text: String = sqlx::query_scalar("SELECT data FROM rendered_documents WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    let data: Value = serde_json::from_str(&text).map_err(anyhow::Error::from)?;
    Ok(NewDocument {
        template_key: doc.template_key,
        number: doc.number,
        owner: doc.owner,
        party_org_id: doc.party_org_id,
        data,
        created_by,
    })
}

/// Documents whose PDF has this SHA-256 (the verification page).
pub async fn by_sha256(db: &Db, sha256: &str) -> DomainResult<Vec<IssuedDocument>> {
    let sql = format!("SELECT {COLUMNS} FROM rendered_documents WHERE sha256 = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sha256)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}
