use super::*;

// ---------------------------------------------------------------------------
// Photos

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MachinePhoto {
    pub file_id: i64,
    pub position: i64,
}

/// The photos of a machine the actor may see, the main one first.
pub async fn photos(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
) -> DomainResult<Vec<MachinePhoto>> {
    let m = get(s, actor, machine_id).await?;
    let mut rows: Vec<MachinePhoto> =
        sqlx::query_as("SELECT file_id, position FROM machine_photos WHERE machine_id = $1 ORDER BY position, file_id")
            .bind(machine_id)
            .fetch_all(s.db.pool())
            .await?;
    if let Some(main) = m.photo_file_id
        && let Some(i) = rows.iter().position(|p| p.file_id == main)
    {
        let p = rows.remove(i);
        rows.insert(0, p);
    }
    Ok(rows)
}

pub(super) async fn attach_photo(
    tx: &mut Tx,
    now: chrono::DateTime<Utc>,
    actor: &Actor,
    machine_id: i64,
    f: &StoredFile,
    main: bool,
) -> DomainResult<i64> {
    let file_id = f.record(tx, now, actor.org_id(), actor.user()).await?;
    let position: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM machine_photos WHERE machine_id = $1",
    )
    .bind(machine_id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO machine_photos (machine_id, file_id, position, created_at) VALUES ($1, $2, $3, $4)")
        .bind(machine_id)
        .bind(file_id)
        .bind(position)
        .bind(to_db_time(now))
        .execute(&mut **tx)
        .await?;
    let sql = if main {
        "UPDATE machines SET photo_file_id = $1, updated_at = $2 WHERE id = $3"
    } else {
        "UPDATE machines SET photo_file_id = COALESCE(photo_file_id, $1), updated_at = $2 WHERE id = $3"
    };
    sqlx::query(sql)
        .bind(file_id)
        .bind(to_db_time(now))
        .bind(machine_id)
        .execute(&mut **tx)
        .await?;
    Ok(file_id)
}

/// Adds a photo to a machine of the actor's supplier.
pub async fn add_photo(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    upload: Option<Upload<'_>>,
) -> DomainResult<i64> {
    owned(s, actor, machine_id).await?;
    if upload.is_none() {
        return Err(DomainError::field("photo", "required"));
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM machine_photos WHERE machine_id = $1")
            .bind(machine_id)
            .fetch_one(s.db.pool())
            .await?;
    if count >= MAX_PHOTOS {
        return Err(DomainError::field("photo", "photos.too_many"));
    }
    let mut errors = FieldErrors::new();
    let stored = accept_upload(s, "photo", Purpose::Photo, upload, &mut errors).await?;
    let Some(stored) = stored else {
        return Err(DomainError::Invalid(errors));
    };
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let id = attach_photo(&mut tx, now, actor, machine_id, &stored, false).await?;
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.photo_added",
            "machine",
            Some(machine_id),
            json!({"file_id": id}),
        )
        .await?;
        Ok(id)
    }
    .await;
    finish(s, tx, result, Some(&stored)).await
}

/// Removes a photo from a machine (the file itself stays on record).
pub async fn remove_photo(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    file_id: i64,
) -> DomainResult<()> {
    owned(s, actor, machine_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let removed = sqlx::query("DELETE FROM machine_photos WHERE machine_id = $1 AND file_id = $2")
            .bind(machine_id)
            .bind(file_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(DomainError::NotFound);
        }
        sqlx::query(
            "UPDATE machines SET photo_file_id = (SELECT p.file_id FROM machine_photos p WHERE p.machine_id = $1 ORDER BY p.position, p.file_id LIMIT 1),
                updated_at = $2 WHERE id = $1 AND photo_file_id = $3",
        )
        .bind(machine_id)
        .bind(to_db_time(now))
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, now, Some(actor), "machine.photo_removed", "machine", Some(machine_id), json!({"file_id": file_id})).await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

/// Makes one of a machine's photos the main one (shown in lists).
pub async fn set_main_photo(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    file_id: i64,
) -> DomainResult<()> {
    owned(s, actor, machine_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let updated = sqlx::query(
            "UPDATE machines SET photo_file_id = $1, updated_at = $2 WHERE id = $3
               AND EXISTS (SELECT 1 FROM machine_photos p WHERE p.machine_id = $3 AND p.file_id = $1)",
        )
        .bind(file_id)
        .bind(to_db_time(now))
        .bind(machine_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(DomainError::NotFound);
        }
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}
