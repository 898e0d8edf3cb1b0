//! Tokens for the JSON API: integrations and tools authenticate with
//! `Authorization: Bearer <token>`. A token can do only what its scopes
//! name ([`Scope`]), each endpoint checking its own; creating one is an
//! administrator's decision (`podryad token create --scope …`).
//!
//! A token made before scopes existed has none: it still authenticates but
//! every endpoint refuses it, so no old token silently keeps the system's
//! full power.

use engine::{Db, to_db_time};
use serde::Serialize;

use crate::crypto::{random_token, sha256_hex};
use crate::error::{DomainError, DomainResult};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Scope {
    /// `POST /api/public/requests` for an integration that files requests
    /// for many visitors from one server: not held to the per-address rate
    /// limit of the public form (every other check still applies).
    RequestsCreate,
    /// `POST /api/v1/workflows/{key}/start`.
    WorkflowsStart,
    /// `GET /api/v1/instances/{id}`.
    InstancesRead,
    /// `POST /api/v1/instances/{id}/events` — and then only the events the
    /// workflow lists under `external:`.
    EventsEmit,
    /// `GET /metrics` from any address.
    Metrics,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::RequestsCreate,
        Scope::WorkflowsStart,
        Scope::InstancesRead,
        Scope::EventsEmit,
        Scope::Metrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RequestsCreate => "requests:create",
            Scope::WorkflowsStart => "workflows:start",
            Scope::InstancesRead => "instances:read",
            Scope::EventsEmit => "events:emit",
            Scope::Metrics => "metrics",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A valid token: what it may do. It carries no [`crate::access::Actor`]:
/// an integration is no signed-in person, and what it may touch is what
/// its scopes (and, for events, the workflow's `external:` list) allow.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub token_id: i64,
    pub scopes: Vec<Scope>,
}

impl TokenGrant {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Creates a token with `scopes`; the returned secret is shown once and
/// never stored. Unknown scope names are a field error.
pub async fn create(
    db: &Db,
    created_by: Option<i64>,
    name: &str,
    scopes: &[String],
) -> DomainResult<(i64, String)> {
    if name.trim().is_empty() {
        return Err(DomainError::field("name", "required"));
    }
    let mut parsed = Vec::new();
    for s in scopes {
        match Scope::parse(s) {
            Some(x) if !parsed.contains(&x) => parsed.push(x),
            Some(_) => {}
            None => return Err(DomainError::field("scope", "token.scope_unknown")),
        }
    }
    parsed.sort();
    let scopes_text = parsed
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let token = format!("pdr_{}", random_token());
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash, scopes, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name.trim())
    .bind(sha256_hex(&token))
    .bind(scopes_text)
    .bind(created_by)
    .bind(to_db_time(db.now()))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The grant behind a valid (unrevoked) token, or `None`.
pub async fn authenticate(db: &Db, token: &str) -> DomainResult<Option<TokenGrant>> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, scopes FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(sha256_hex(token))
    .fetch_optional(db.pool())
    .await?;
    let Some((token_id, scopes)) = row else {
        return Ok(None);
    };
    Ok(Some(TokenGrant {
        token_id,
        scopes: scopes.split_whitespace().filter_map(Scope::parse).collect(),
    }))
}

pub async fn list(db: &Db) -> DomainResult<Vec<ApiToken>> {
    Ok(sqlx::query_as(
        "SELECT id, name, scopes, created_at, revoked_at FROM api_tokens ORDER BY id DESC",
    )
    .fetch_all(db.pool())
    .await?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("admin"), None);
        assert_eq!(Scope::parse(""), None);
    }
}
