use super::*;

// ---------------------------------------------------------------------------
// Imports in the database.

/// An import, without its rows.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Import {
    pub id: i64,
    pub org_id: i64,
    pub user_id: Option<i64>,
    pub kind: String,
    pub file_name: String,
    pub file_id: Option<i64>,
    pub status: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub error_rows: i64,
    pub message: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl Import {
    pub fn valid_rows(&self) -> i64 {
        (self.total_rows - self.error_rows).max(0)
    }

    /// Still being checked.
    pub fn is_running(&self) -> bool {
        self.status == "parsing"
    }

    /// Everything is checked and nothing is wrong: it can be confirmed.
    pub fn can_confirm(&self) -> bool {
        self.status == "preview" && self.error_rows == 0 && self.total_rows > 0
    }
}

const COLUMNS: &str = "i.id, i.org_id, i.user_id, i.kind, i.file_name, i.file_id, i.status, i.total_rows, i.processed_rows, i.error_rows, i.message, i.created_at, i.finished_at";

/// Progress of a check, for a progress bar.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub status: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub error_rows: i64,
    /// Whole percent done.
    pub percent: i64,
    pub running: bool,
}

impl From<&Import> for Progress {
    fn from(i: &Import) -> Progress {
        let percent = if i.total_rows > 0 {
            (i.processed_rows * 100 / i.total_rows).clamp(0, 100)
        } else {
            0
        };
        Progress {
            status: i.status.clone(),
            total_rows: i.total_rows,
            processed_rows: i.processed_rows,
            error_rows: i.error_rows,
            percent,
            running: i.is_running(),
        }
    }
}

/// An import of the actor's organisation (another organisation's is "not
/// found"). A check interrupted by a restart is reported as failed.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Import> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM imports i WHERE i.id = ")
        .bind(id)
        .push(" AND i.org_id = ")
        .bind(actor.org_id());
    scope(&mut sql, actor, Resource::OrgOwned, "i");
    let mut imp: Import = sql
        .query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    let now = to_db_time(s.db.now());
    if imp.is_running() && now - imp.created_at > STALE_AFTER_MS {
        fail(s, id, "import.interrupted").await;
        imp.status = "failed".into();
        imp.message = Some("import.interrupted".into());
    }
    Ok(imp)
}

/// The checked rows of an import and the titles of columns left out.
pub async fn rows(
    s: &Services,
    actor: &Actor,
    id: i64,
) -> DomainResult<(Vec<ImportRow>, Vec<String>)> {
    let imp = get(s, actor, id).await?;
    let text: String = sqlx::query_scalar("SELECT rows FROM imports WHERE id = $1")
        .bind(imp.id)
        .fetch_one(s.db.pool())
        .await?;
    let stored = parse_stored(&text);
    Ok((stored.rows, stored.ignored_columns))
}

/// The organisation's latest imports.
pub async fn list(s: &Services, actor: &Actor, limit: i64) -> DomainResult<Vec<Import>> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM imports i WHERE i.org_id = ")
        .bind(actor.org_id());
    scope(&mut sql, actor, Resource::OrgOwned, "i");
    sql.push(" ORDER BY i.created_at DESC, i.id DESC LIMIT ")
        .bind(limit.clamp(1, 100));
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// Stores an uploaded spreadsheet and starts checking it in the
/// background. Small files are checked before this returns; for large ones
/// the caller shows progress. Returns the import's id. A file that is not
/// a spreadsheet at all is a field error on `file`.
pub async fn start(
    s: &Services,
    actor: &Actor,
    file_name: &str,
    bytes: Vec<u8>,
) -> DomainResult<i64> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let stored = s
        .files
        .accept("file", Purpose::Import, file_name, &bytes)
        .await?;
    let id = match insert(s, actor, &stored).await {
        Ok(id) => id,
        Err(e) => {
            s.files.discard(&stored).await;
            return Err(e);
        }
    };
    let (counted, rows_known) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(run(s.clone(), id, stored.name.clone(), bytes, counted));
    match rows_known.await {
        Ok(n) if n > INLINE_ROWS => {}
        // Small, or finished early (a file-level error): wait for the result.
        _ => {
            if let Err(e) = task.await {
                tracing::error!(import = id, error = %e, "the import check stopped");
            }
        }
    }
    Ok(id)
}

async fn insert(s: &Services, actor: &Actor, stored: &StoredFile) -> DomainResult<i64> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let file_id = stored
        .record(&mut tx, now, actor.org_id(), actor.user())
        .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO imports (org_id, user_id, kind, file_name, file_id, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'parsing', $6) RETURNING id",
    )
    .bind(actor.org_id())
    .bind(actor.user())
    .bind(KIND_FLEET)
    .bind(&stored.name)
    .bind(file_id)
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "import.uploaded",
        "import",
        Some(id),
        json!({"file_id": file_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Why a check stopped.
enum Stop {
    /// The file as a whole is wrong (a catalogue code).
    File(&'static str),
    /// Someone cancelled the import meanwhile.
    Cancelled,
    Other(anyhow::Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Stop {
        Stop::Other(e.into())
    }
}

/// The background check of one import.
async fn run(
    s: Services,
    id: i64,
    name: String,
    bytes: Vec<u8>,
    counted: tokio::sync::oneshot::Sender<usize>,
) {
    match check(&s, id, name, bytes, counted).await {
        Ok(()) | Err(Stop::Cancelled) => {}
        Err(Stop::File(code)) => fail(&s, id, code).await,
        Err(Stop::Other(e)) => {
            tracing::error!(import = id, error = ?e, "the import check failed");
            fail(&s, id, "import.failed").await;
        }
    }
}

async fn check(
    s: &Services,
    id: i64,
    name: String,
    bytes: Vec<u8>,
    counted: tokio::sync::oneshot::Sender<usize>,
) -> Result<(), Stop> {
    // Unpacking and parsing are CPU work; a panic in a parser is a bad file, not a crash.
    let table = tokio::task::spawn_blocking(move || read_table(&name, &bytes))
        .await
        .map_err(|_| Stop::File("import.unreadable"))?
        .map_err(Stop::File)?;
    let (head, data) = table.split_first().ok_or(Stop::File("import.empty"))?;
    let header = map_header(&head.cells, s.texts.as_ref(), &s.equipment).map_err(Stop::File)?;
    if data.is_empty() {
        return Err(Stop::File("import.no_rows"));
    }
    let total = data.len();
    progress(s, id, total, 0).await?;
    let _ = counted.send(total);
    let this_year = s.db.now().year();
    let mut rows = Vec::with_capacity(total);
    for chunk in data.chunks(PROGRESS_STEP) {
        rows.extend(
            chunk
                .iter()
                .map(|r| check_row(&header, r, &s.equipment, this_year)),
        );
        if rows.len() < total {
            progress(s, id, total, rows.len()).await?;
            tokio::task::yield_now().await;
        }
    }
    mark_repeated_plates(&mut rows);
    mark_taken_plates(s, &mut rows).await?;
    let error_rows = rows.iter().filter(|r| !r.is_valid()).count();
    let stored = Stored {
        ignored_columns: header.ignored.clone(),
        rows,
    };
    let text = serde_json::to_string(&stored).map_err(|e| Stop::Other(e.into()))?;
    let mut tx = s.db.begin().await?;
    let done = sqlx::query(
        "UPDATE imports SET status = 'preview', rows = $1, total_rows = $2, processed_rows = $2, error_rows = $3
         WHERE id = $4 AND status = 'parsing'",
    )
    .bind(text)
    .bind(total as i64)
    .bind(error_rows as i64)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Stop::Cancelled);
    }
    Ok(())
}

/// Writes progress in its own short transaction.
async fn progress(s: &Services, id: i64, total: usize, processed: usize) -> Result<(), Stop> {
    let mut tx = s.db.begin().await?;
    let r = sqlx::query("UPDATE imports SET total_rows = $1, processed_rows = $2 WHERE id = $3 AND status = 'parsing'")
        .bind(total as i64)
        .bind(processed as i64)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if r.rows_affected() == 0 {
        return Err(Stop::Cancelled);
    }
    Ok(())
}

async fn fail(s: &Services, id: i64, code: &str) {
    let now = to_db_time(s.db.now());
    let result = async {
        let mut tx = s.db.begin().await?;
        sqlx::query(
            "UPDATE imports SET status = 'failed', message = $1, finished_at = $2, rows = '[]' WHERE id = $3 AND status = 'parsing'",
        )
        .bind(code)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(import = id, error = %e, "could not record a failed import");
    }
}

/// Inserts every machine of a checked import, all in one transaction.
/// Refused while any row has an error. Returns how many machines were added.
pub async fn confirm(s: &Services, actor: &Actor, id: i64) -> DomainResult<usize> {
    let imp = get(s, actor, id).await?;
    if imp.status != "preview" {
        return Err(DomainError::Conflict("import.not_ready"));
    }
    if !imp.can_confirm() {
        return Err(DomainError::Conflict("import.has_errors"));
    }
    let (rows, _) = rows(s, actor, id).await?;
    let this_year = s.db.now().year();
    // Checked again: the catalogue may have changed since the preview.
    let mut machines = Vec::with_capacity(rows.len());
    for r in &rows {
        if !r.is_valid() {
            return Err(DomainError::Conflict("import.has_errors"));
        }
        machines.push(
            r.input
                .validate(&s.equipment, this_year)
                .map_err(|_| DomainError::Conflict("import.changed"))?,
        );
    }
    if machines.is_empty() {
        return Err(DomainError::Conflict("import.has_errors"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let claimed = sqlx::query(
        "UPDATE imports SET status = 'done', finished_at = $1, rows = '[]' WHERE id = $2 AND status = 'preview' AND error_rows = 0",
    )
    .bind(to_db_time(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(DomainError::Conflict("import.not_ready"));
    }
    for m in &machines {
        match crate::fleet::garage::insert_machine(&mut tx, now, imp.org_id, m).await {
            Ok(_) => {}
            // A plate taken since the preview: nothing is saved.
            Err(DomainError::Invalid(_)) => {
                return Err(DomainError::Conflict("import.plate_taken"));
            }
            Err(DomainError::Database(e)) if is_unique_violation(&e) => {
                return Err(DomainError::Conflict("import.plate_taken"));
            }
            Err(e) => return Err(e),
        }
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "import.confirmed",
        "import",
        Some(id),
        json!({"machines": machines.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(machines.len())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Cancels an import that is being checked or waits for confirmation.
pub async fn cancel(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    let imp = get(s, actor, id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let r = sqlx::query(
        "UPDATE imports SET status = 'cancelled', finished_at = $1, rows = '[]' WHERE id = $2 AND status IN ('parsing', 'preview')",
    )
    .bind(to_db_time(now))
    .bind(imp.id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(DomainError::Conflict("import.not_ready"));
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "import.cancelled",
        "import",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
