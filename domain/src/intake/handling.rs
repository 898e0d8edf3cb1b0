//! Handing a request over and closing it, one request at a time — what the
//! requests list's bulk actions and the pipeline board do to each request
//! they are given: give it to a colleague (or take it oneself), cancel it
//! with a reason. Each is one transaction that goes through the request's
//! workflow, so a request is handed over or cancelled whole or not at all;
//! a refusal is a machine-readable code the page shows next to the request.

use serde_json::json;

use crate::access::audit;
use crate::access::{Actor, Resource, Rule, require, scope};
use crate::error::{DomainError, DomainResult};
use crate::intake::requests::ENDED_STATUSES;
use crate::services::Services;
use engine::Sql;

/// The shortest reason a cancellation takes (the workflow's own limit).
const REASON_MIN: usize = 3;
const REASON_MAX: usize = 2000;

/// A request's number, status and owner, if the actor may see it.
async fn visible(
    s: &Services,
    actor: &Actor,
    id: i64,
) -> DomainResult<(String, String, Option<i64>)> {
    let mut sql =
        Sql::new("SELECT r.number, r.status, r.owner_user_id FROM requests r WHERE r.id = ");
    sql.bind(id);
    scope(&mut sql, actor, Resource::Request, "r");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Whether `user` is one of the broker's active staff who handle requests
/// (the roles the request workflow's tasks name).
pub async fn is_handler(s: &Services, user: i64) -> DomainResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker'
         WHERE u.id = $1 AND u.status = 'active'
         AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN ('admin', 'manager', 'hunter', 'operator'))",
    )
    .bind(user)
    .fetch_one(s.db.pool())
    .await?;
    Ok(n > 0)
}

/// The colleagues a request can be given to: active staff who handle
/// requests, by name.
pub async fn handlers(s: &Services, actor: &Actor) -> DomainResult<Vec<(i64, String)>> {
    require(actor, Rule::FrontOffice)?;
    Ok(sqlx::query_as(
        "SELECT u.id, u.full_name FROM users u JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker'
         WHERE u.status = 'active'
         AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN ('admin', 'manager', 'hunter', 'operator'))
         ORDER BY u.full_name, u.id",
    )
    .fetch_all(s.db.pool())
    .await?)
}

/// Makes `to` the request's owner: its open tasks that were the old
/// owner's become theirs (the workflow reopens qualification for them —
/// `owner.changed`), all in one transaction. `request.ended` for a
/// cancelled or finished request; `request.not_a_handler` when `to` is not
/// a colleague who handles requests. Giving a request to its owner changes
/// nothing.
pub async fn assign(s: &Services, actor: &Actor, id: i64, to: i64) -> DomainResult<()> {
    require(actor, Rule::FrontOffice)?;
    let (number, status, owner) = visible(s, actor, id).await?;
    if ENDED_STATUSES.contains(&status.as_str()) || status == "ordered" {
        return Err(DomainError::Conflict("request.ended"));
    }
    if !is_handler(s, to).await? {
        return Err(DomainError::Conflict("request.not_a_handler"));
    }
    if owner == Some(to) {
        return Ok(());
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query("UPDATE requests SET owner_user_id = $1, updated_at = $2 WHERE id = $3")
        .bind(to)
        .bind(engine::to_db_time(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    s.engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            id,
            "owner.changed",
            json!({"owner_user_id": to}),
            actor.user(),
        )
        .await?;
    if let Some(old) = owner {
        s.engine
            .reassign_object_tasks_in_tx(&mut tx, "request", id, old, to)
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "request.assigned",
        "request",
        Some(id),
        json!({"number": number, "from": owner, "to": to}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Checks a cancellation's reason as the workflow's forms do.
pub fn check_reason(reason: &str) -> DomainResult<String> {
    let reason = reason.trim();
    let n = reason.chars().count();
    if n == 0 {
        return Err(DomainError::field("reason", "required"));
    }
    if n < REASON_MIN {
        return Err(DomainError::field("reason", "quote.reason_too_short"));
    }
    if n > REASON_MAX {
        return Err(DomainError::field("reason", "text.too_long"));
    }
    Ok(reason.to_string())
}

/// Cancels a request with a reason: the workflow's `request.cancelled`,
/// which every open state of the funnel accepts (it closes the open task
/// and any RFQ round with it). `request.not_cancellable` once the request
/// has ended or its order is being made (cancel the order instead).
pub async fn cancel(s: &Services, actor: &Actor, id: i64, reason: &str) -> DomainResult<()> {
    require(actor, Rule::FrontOffice)?;
    let reason = check_reason(reason)?;
    let (number, status, _) = visible(s, actor, id).await?;
    if ENDED_STATUSES.contains(&status.as_str())
        || matches!(status.as_str(), "ordered" | "accepted")
    {
        return Err(DomainError::Conflict("request.not_cancellable"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            id,
            "request.cancelled",
            json!({"reason": reason}),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|r| r.ignored) {
        return Err(DomainError::Conflict("request.not_cancellable"));
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "request.cancelled",
        "request",
        Some(id),
        json!({"number": number, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// What a bulk action does to each request it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// Give to this colleague.
    Assign(i64),
    /// Take oneself.
    Claim,
    /// Cancel with this reason.
    Cancel(String),
}

/// How one request of a bulk action went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BulkItem {
    pub id: i64,
    /// The request's number, when the actor may see it.
    pub number: Option<String>,
    /// `None` when done; else the refusal's code (`not_found`, a conflict's
    /// code, a field's code).
    pub refused: Option<String>,
}

/// The most requests one bulk action takes.
pub const BULK_MAX: usize = 200;

/// Applies `action` to each request of `ids`, each in its own transaction:
/// one refused (another's, ended, taken meanwhile) leaves the others done.
/// A reason or colleague that is wrong for all is refused before anything
/// is done.
pub async fn bulk(
    s: &Services,
    actor: &Actor,
    ids: &[i64],
    action: &BulkAction,
) -> DomainResult<Vec<BulkItem>> {
    require(actor, Rule::FrontOffice)?;
    if ids.is_empty() {
        return Err(DomainError::field("ids", "required"));
    }
    if ids.len() > BULK_MAX {
        return Err(DomainError::field("ids", "bulk.too_many"));
    }
    match action {
        BulkAction::Cancel(reason) => {
            check_reason(reason)?;
        }
        BulkAction::Assign(to) => {
            if !is_handler(s, *to).await? {
                return Err(DomainError::field("assignee", "request.not_a_handler"));
            }
        }
        BulkAction::Claim => {}
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut seen = std::collections::BTreeSet::new();
    for &id in ids {
        if !seen.insert(id) {
            continue;
        }
        let number = visible(s, actor, id).await.ok().map(|(n, _, _)| n);
        let done = match action {
            BulkAction::Assign(to) => assign(s, actor, id, *to).await,
            BulkAction::Claim => assign(s, actor, id, actor.user_id()).await,
            BulkAction::Cancel(reason) => cancel(s, actor, id, reason).await,
        };
        out.push(BulkItem {
            id,
            number,
            refused: done.err().map(|e| refusal_code(&e)),
        });
    }
    Ok(out)
}

/// A refusal as a machine-readable code (a database error is not a
/// refusal: the caller sees it as a failure of that item, `error`).
pub fn refusal_code(e: &DomainError) -> String {
    match e {
        DomainError::NotFound => "not_found".into(),
        DomainError::Forbidden => "forbidden".into(),
        DomainError::ForbiddenBecause(c) | DomainError::Conflict(c) => (*c).to_string(),
        DomainError::Invalid(f) => f.0.first().map(|e| e.code.clone()).unwrap_or_default(),
        _ => "error".into(),
    }
}
