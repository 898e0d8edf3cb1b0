//! The manager's control of an open RFQ round: close it early, remind the
//! suppliers who have not answered, move its deadline, and what the quotes
//! page shows about it.
//!
//! Each control is an event of the request workflow (`rfq.closed_early`,
//! `rfq.reminder_requested`, `rfq.extended` in `workflows/request.yaml`), so
//! the workflow decides what it does and its history says who did it; this
//! module only checks that it makes sense first and answers why not
//! (`409 rfq.round_closed`, `409 rfq.nobody_to_remind`, a field error for a
//! deadline in the past). Making the offer from the quotes in hand while the
//! round is open is `offers::send` as usual: the workflow closes the round.

use chrono::{DateTime, Utc};
use engine::to_db_time;
use serde::Serialize;
use serde_json::json;

use super::{Round, round};
use crate::access::{Actor, Rule, audit, require};
use crate::deals::matching::{self, RequestRow};
use crate::error::{DomainError, DomainResult};
use crate::intake::requests::{local_input, local_to_utc};
use crate::services::Services;

/// The latest round of a request as the manager's page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RoundControl {
    pub round: Round,
    /// Suppliers still silent.
    pub pending: i64,
    /// Active quotes in hand.
    pub quotes: i64,
    /// Suppliers may still answer (open and before the deadline).
    pub open: bool,
    /// The deadline as the site-local `YYYY-MM-DDTHH:MM` of the form.
    pub deadline_input: String,
    /// The site's time zone the form's time is in.
    pub timezone: String,
}

/// The request's latest round with its figures; `None` before the first.
pub async fn control(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<Option<RoundControl>> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    let mut conn = s.db.pool().acquire().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM rfq_rounds WHERE request_id = $1 ORDER BY number DESC LIMIT 1",
    )
    .bind(r.id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    let round = round(&mut conn, id).await?.ok_or(DomainError::NotFound)?;
    let (quotes, pending): (i64, i64) = sqlx::query_as(
        "SELECT CAST((SELECT COUNT(*) FROM rfqs WHERE round_id = $1 AND status = 'quoted') AS BIGINT),
                CAST((SELECT COUNT(*) FROM rfqs WHERE round_id = $1 AND status = 'sent') AS BIGINT)",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let tz = r.tz();
    Ok(Some(RoundControl {
        open: round.is_open(s.db.now()),
        deadline_input: local_input(round.deadline_at, tz),
        timezone: tz.name().to_string(),
        round,
        pending,
        quotes,
    }))
}

/// The request (the actor may see) and its open round, or why not.
async fn open_round_of(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<(RequestRow, Round)> {
    require(actor, Rule::FrontOffice)?;
    let r = matching::request_for(s, actor, request_id).await?;
    let mut conn = s.db.pool().acquire().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM rfq_rounds WHERE request_id = $1 AND status = 'open' ORDER BY number DESC LIMIT 1",
    )
    .bind(r.id)
    .fetch_optional(&mut *conn)
    .await?;
    let round = match id {
        Some(id) => round(&mut conn, id).await?,
        None => None,
    };
    match round {
        Some(round) if round.is_open(s.db.now()) => Ok((r, round)),
        _ => Err(DomainError::Conflict("rfq.round_closed")),
    }
}

/// Sends `event` to the request's workflow in one transaction with its
/// audit line; a workflow that did not take it (the round closed
/// meanwhile, or the request moved on) is a conflict.
async fn tell_workflow(
    s: &Services,
    actor: &Actor,
    r: &RequestRow,
    event: &str,
    payload: serde_json::Value,
) -> DomainResult<()> {
    let mut tx = s.db.begin().await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            r.id,
            event,
            payload.clone(),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|x| x.ignored) {
        return Err(DomainError::Conflict("rfq.round_closed"));
    }
    audit::record(
        &mut tx,
        s.db.now(),
        Some(actor),
        event,
        "request",
        Some(r.id),
        payload,
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// The manager closes the open round before its deadline: the silent
/// suppliers' RFQs expire and the review starts with the quotes in hand
/// (or the "no quotes" task when there are none).
pub async fn close_early(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<()> {
    let (r, round) = open_round_of(s, actor, request_id).await?;
    tell_workflow(
        s,
        actor,
        &r,
        "rfq.closed_early",
        json!({"round_id": round.id}),
    )
    .await
}

/// The manager reminds now the suppliers of the open round who have not
/// answered (those who quoted or declined are not bothered). Returns how
/// many suppliers are reminded.
pub async fn remind_now(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<i64> {
    let (r, round) = open_round_of(s, actor, request_id).await?;
    let pending: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM rfqs WHERE round_id = $1 AND status = 'sent'",
    )
    .bind(round.id)
    .fetch_one(s.db.pool())
    .await?;
    if pending == 0 {
        return Err(DomainError::Conflict("rfq.nobody_to_remind"));
    }
    tell_workflow(
        s,
        actor,
        &r,
        "rfq.reminder_requested",
        json!({"round_id": round.id}),
    )
    .await?;
    Ok(pending)
}

/// The manager moves the open round's deadline to `until` (site-local
/// `YYYY-MM-DDTHH:MM`): later than now and than the present deadline. The
/// workflow moves its timer; suppliers answer until then.
pub async fn extend(
    s: &Services,
    actor: &Actor,
    request_id: i64,
    until: &str,
) -> DomainResult<DateTime<Utc>> {
    let (r, round) = open_round_of(s, actor, request_id).await?;
    let deadline = match until.trim() {
        "" => return Err(DomainError::field("deadline", "required")),
        t => local_to_utc(t, r.tz())
            .ok_or_else(|| DomainError::field("deadline", "rfq.deadline_invalid"))?,
    };
    if deadline <= s.db.now() {
        return Err(DomainError::field("deadline", "rfq.deadline_in_past"));
    }
    if round.deadline_at.is_some_and(|d| to_db_time(deadline) <= d) {
        return Err(DomainError::field("deadline", "rfq.deadline_not_later"));
    }
    tell_workflow(
        s,
        actor,
        &r,
        "rfq.extended",
        json!({"round_id": round.id, "deadline": engine::expr::format_time(deadline)}),
    )
    .await?;
    Ok(deadline)
}
