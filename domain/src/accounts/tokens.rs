//! One-time links: password reset, invitations, e-mail confirmation.
//! The link carries a random token; only its SHA-256 is stored, and a token
//! is consumed in the same transaction as the action it authorises.

use chrono::{DateTime, Duration, Utc};
use engine::{Tx, from_db_time, to_db_time};
use serde_json::Value;

use crate::crypto::{random_token, sha256_hex};

pub async fn issue(
    tx: &mut sqlx::AnyConnection,
    now: DateTime<Utc>,
    purpose: &str,
    user_id: Option<i64>,
    payload: &Value,
    ttl: Duration,
) -> Result<String, sqlx::Error> {
    let token = random_token();
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, payload, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sha256_hex(&token))
    .bind(purpose)
    .bind(user_id)
    .bind(payload.to_string())
    .bind(to_db_time(now))
    .bind(to_db_time(now + ttl))
    .execute(&mut *tx)
    .await?;
    Ok(token)
}

/// A valid (unused, unexpired) token of `purpose`, without consuming it.
pub async fn peek(
    pool: &sqlx::AnyPool,
    now: DateTime<Utc>,
    purpose: &str,
    token: &str,
) -> Result<Option<(Option<i64>, Value)>, sqlx::Error> {
    let row: Option<(Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT user_id, payload, expires_at FROM one_time_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(sha256_hex(token))
    .bind(purpose)
    .fetch_optional(pool)
    .await?;
    Ok(row
        .filter(|(_, _, exp)| from_db_time(*exp) > now)
        .map(|(u, p, _)| (u, serde_json::from_str(&p).unwrap_or(Value::Null))))
}

/// Marks the token used and returns what it was issued for; `None` when it
/// is unknown, expired or already used.
pub async fn consume(
    tx: &mut Tx,
    now: DateTime<Utc>,
    purpose: &str,
    token: &str,
) -> Result<Option<(Option<i64>, Value)>, sqlx::Error> {
    let row: Option<(Option<i64>, String)> = sqlx::query_as(
        "UPDATE one_time_tokens SET used_at = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING user_id, payload",
    )
    .bind(to_db_time(now))
    .bind(sha256_hex(token))
    .bind(purpose)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(u, p)| (u, serde_json::from_str(&p).unwrap_or(Value::Null))))
}
