//! Tokens for the JSON API: integrations and tools authenticate with
//! `Authorization: Bearer <token>`. A token acts as the system (the broker),
//! so creating one is an administrator's decision.

use engine::{Db, to_db_time};
use serde::Serialize;

use crate::access::Actor;
use crate::crypto::{random_token, sha256_hex};
use crate::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Creates a token; the returned secret is shown once and never stored.
pub async fn create(db: &Db, created_by: Option<i64>, name: &str) -> DomainResult<(i64, String)> {
    if name.trim().is_empty() {
        return Err(DomainError::field("name", "required"));
    }
    let token = format!("pdr_{}", random_token());
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name.trim())
    .bind(sha256_hex(&token))
    .bind(created_by)
    .bind(to_db_time(db.now()))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The system actor behind a valid token, or `None`.
pub async fn authenticate(db: &Db, token: &str) -> DomainResult<Option<Actor>> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(sha256_hex(token))
    .fetch_optional(db.pool())
    .await?;
    let Some(_) = id else { return Ok(None) };
    let Some(broker) = crate::access::broker_id(db).await? else {
        return Ok(None);
    };
    Ok(Some(Actor::system(broker)))
}

pub async fn list(db: &Db) -> DomainResult<Vec<ApiToken>> {
    Ok(
        sqlx::query_as("SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY id DESC")
            .fetch_all(db.pool())
            .await?,
    )
}

pub async fn revoke(db: &Db, id: i64) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    let n =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_db_time(db.now()))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    if n == 0 {
        Err(DomainError::NotFound)
    } else {
        Ok(())
    }
}
