//! Uploaded files: photos of machines and people, scans of documents,
//! spreadsheets for import. The bytes go to a [`FileStore`] — a folder on
//! local disk by default, behind a trait so S3-compatible storage can be
//! plugged in — and a `files` row records who owns them. Every read goes
//! through the owner's scope: another organisation's file is "not found".

use std::path::PathBuf;
use std::sync::Arc;

use engine::{Db, Sql, Tx, to_db_time};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::{Actor, Resource, scope};
use crate::crypto::random_token;
use crate::error::{DomainError, DomainResult};

/// Where file bytes live.
#[engine::async_trait]
pub trait FileStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>>;
    async fn delete(&self, key: &str) -> std::io::Result<()>;
}

/// Files in a folder, one per key (keys are random and path-safe).
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: impl Into<PathBuf>) -> LocalDisk {
        LocalDisk { root: root.into() }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "bad file key",
            ));
        }
        // Two levels of folders keep directories small.
        Ok(self.root.join(&key[..2.min(key.len())]).join(key))
    }
}

#[engine::async_trait]
impl FileStore for LocalDisk {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(self.path(key)?).await
    }

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// What a file is for; decides which types and sizes are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A photo of a machine or a person.
    Photo,
    /// A scan of a document (policy, card, permit).
    Document,
    /// A spreadsheet to import.
    Import,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Photo => "photo",
            Purpose::Document => "document",
            Purpose::Import => "import",
        }
    }

    pub fn max_bytes(self) -> usize {
        match self {
            Purpose::Photo => 8 * 1024 * 1024,
            Purpose::Document => 15 * 1024 * 1024,
            Purpose::Import => 20 * 1024 * 1024,
        }
    }

    fn allows(self, kind: FileKind) -> bool {
        use FileKind::*;
        match self {
            Purpose::Photo => matches!(kind, Jpeg | Png | Webp),
            Purpose::Document => matches!(kind, Jpeg | Png | Webp | Pdf),
            Purpose::Import => matches!(kind, Xlsx | Csv),
        }
    }
}

/// The type of a file, judged by its first bytes rather than by the name or
/// the browser's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Jpeg,
    Png,
    Webp,
    Pdf,
    Xlsx,
    Csv,
}

impl FileKind {
    pub fn sniff(name: &str, bytes: &[u8]) -> Option<FileKind> {
        let lower = name.to_lowercase();
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileKind::Png)
        } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(FileKind::Webp)
        } else if bytes.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else if bytes.starts_with(b"PK\x03\x04") && lower.ends_with(".xlsx") {
            Some(FileKind::Xlsx)
        } else if lower.ends_with(".csv") && std::str::from_utf8(bytes).is_ok() {
            Some(FileKind::Csv)
        } else if lower.ends_with(".csv") && !bytes.contains(&0) {
            // Spreadsheets exported on Windows are often windows-1251.
            Some(FileKind::Csv)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Webp => "image/webp",
            FileKind::Pdf => "application/pdf",
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Csv => "text/csv",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FileRow {
    pub id: i64,
    pub org_id: i64,
    pub purpose: String,
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub created_at: i64,
}

/// The files service: storage plus the rules above.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn FileStore>,
}

impl Files {
    pub fn new(store: Arc<dyn FileStore>) -> Files {
        Files { store }
    }

    pub fn local(root: impl Into<PathBuf>) -> Files {
        Files::new(Arc::new(LocalDisk::new(root)))
    }

    /// Checks a file and stores its bytes; returns what to record with
    /// [`StoredFile::record`] inside the caller's transaction. Field errors are
    /// keyed by `field`.
    pub async fn accept(
        &self,
        field: &str,
        purpose: Purpose,
        name: &str,
        bytes: &[u8],
    ) -> DomainResult<StoredFile> {
        if bytes.is_empty() {
            return Err(DomainError::field(field, "file.empty"));
        }
        if bytes.len() > purpose.max_bytes() {
            return Err(DomainError::field(field, "file.too_large"));
        }
        let Some(kind) = FileKind::sniff(name, bytes).filter(|k| purpose.allows(*k)) else {
            return Err(DomainError::field(
                field,
                match purpose {
                    Purpose::Photo => "file.not_an_image",
                    Purpose::Document => "file.not_image_or_pdf",
                    Purpose::Import => "file.not_a_spreadsheet",
                },
            ));
        };
        let key = random_token().replace('-', "_");
        self.store
            .put(&key, bytes)
            .await
            .map_err(anyhow::Error::from)?;
        let name: String = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("file")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Ok(StoredFile {
            purpose,
            name: if name.is_empty() { "file".into() } else { name },
            content_type: kind.content_type(),
            size: bytes.len() as i64,
            sha256: hex::encode(Sha256::digest(bytes)),
            key,
        })
    }

    /// The bytes of a file the actor may see.
    pub async fn read(&self, db: &Db, actor: &Actor, id: i64) -> DomainResult<(FileRow, Vec<u8>)> {
        let row = get(db, actor, id).await?;
        let bytes = self
            .store
            .get(&row.storage_key)
            .await
            .map_err(anyhow::Error::from)?;
        Ok((row, bytes))
    }

    /// Stores bytes the system made itself (a rendered document) under a
    /// new random key and returns the key; the caller records it with its
    /// own row and its own access rule (see `paperwork`).
    pub async fn put_generated(&self, bytes: &[u8]) -> DomainResult<String> {
        let key = random_token().replace('-', "_");
        self.store
            .put(&key, bytes)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(key)
    }

    /// The bytes stored under `key` by [`Files::put_generated`].
    pub async fn get_generated(&self, key: &str) -> DomainResult<Vec<u8>> {
        Ok(self.store.get(key).await.map_err(anyhow::Error::from)?)
    }

    /// Removes bytes whose row was never written.
    pub async fn discard_generated(&self, key: &str) {
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(key, error = %e, "could not remove an unused generated file");
        }
    }

    pub async fn discard(&self, stored: &StoredFile) {
        if let Err(e) = self.store.delete(&stored.key).await {
            tracing::warn!(key = stored.key, error = %e, "could not remove an unused file");
        }
    }
}

/// A file whose bytes are stored but whose row is not yet written.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub purpose: Purpose,
    pub name: String,
    pub content_type: &'static str,
    pub size: i64,
    pub sha256: String,
    pub key: String,
}

impl StoredFile {
    /// Records the file as owned by `org_id`.
    pub async fn record(
        &self,
        tx: &mut Tx,
        now: chrono::DateTime<chrono::Utc>,
        org_id: i64,
        user: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "INSERT INTO files (org_id, purpose, original_name, content_type, size_bytes, sha256, storage_key, uploaded_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(org_id)
        .bind(self.purpose.as_str())
        .bind(&self.name)
        .bind(self.content_type)
        .bind(self.size)
        .bind(&self.sha256)
        .bind(&self.key)
        .bind(user)
        .bind(to_db_time(now))
        .fetch_one(&mut **tx)
        .await
    }
}

/// A file's row, if the actor may see it.
pub async fn get(db: &Db, actor: &Actor, id: i64) -> DomainResult<FileRow> {
    let mut sql = Sql::new(
        "SELECT f.id, f.org_id, f.purpose, f.original_name, f.content_type, f.size_bytes, f.sha256, f.storage_key, f.created_at
         FROM files f WHERE f.id = ",
    );
    sql.bind(id);
    scope(&mut sql, actor, Resource::File, "f");
    sql.query_as()
        .fetch_optional(db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_judged_by_content() {
        assert_eq!(
            FileKind::sniff("a.jpg", &[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(FileKind::sniff("a.jpg", b"%PDF-1.7"), Some(FileKind::Pdf));
        assert_eq!(FileKind::sniff("evil.png", b"<script>"), None);
        assert!(Purpose::Photo.allows(FileKind::Png));
        assert!(!Purpose::Photo.allows(FileKind::Pdf));
    }

    #[tokio::test]
    async fn local_disk_refuses_path_tricks() {
        let dir = std::env::temp_dir().join(format!("podryad-files-{}", random_token()));
        let disk = LocalDisk::new(&dir);
        assert!(disk.put("../escape", b"x").await.is_err());
        disk.put("abc123", b"hello").await.expect("put");
        assert_eq!(disk.get("abc123").await.expect("get"), b"hello");
        disk.delete("abc123").await.expect("delete");
        let _ = std::fs::remove_dir_all(dir);
    }
}
