use super::*;

// ---------------------------------------------------------------------------
// The client's side

/// The client's offers, newest first.
pub async fn list_for_client(s: &Services, actor: &Actor) -> DomainResult<Vec<ClientOffer>> {
    crate::access::require_or_hide(actor, crate::access::Rule::Client)?;
    client_rows(s, |sql| {
        sql.push(" AND f.status <> 'withdrawn'");
        scope(sql, actor, Resource::Offer, "f");
        sql.push(" ORDER BY f.sent_at DESC, f.id DESC LIMIT 200");
    })
    .await
}

/// One offer of the actor's client.
pub async fn for_client(s: &Services, actor: &Actor, id: i64) -> DomainResult<ClientOffer> {
    crate::access::require_or_hide(actor, crate::access::Rule::Client)?;
    client_rows(s, |sql| {
        sql.push(" AND f.id = ").bind(id);
        scope(sql, actor, Resource::Offer, "f");
    })
    .await?
    .pop()
    .ok_or(DomainError::NotFound)
}

/// The offer a link's token was issued for (the token stays valid).
pub async fn by_token(s: &Services, token: &str) -> DomainResult<ClientOffer> {
    let (_, payload) = tokens::peek(s.db.pool(), s.db.now(), TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    let (id, client) = token_ids(&payload).ok_or(DomainError::NotFound)?;
    client_rows(s, |sql| {
        sql.push(" AND f.id = ")
            .bind(id)
            .push(" AND f.client_org_id = ")
            .bind(client);
    })
    .await?
    .pop()
    .ok_or(DomainError::NotFound)
}

/// The offer and client a link's token names.
fn token_ids(payload: &Value) -> Option<(i64, i64)> {
    Some((
        payload.get("offer_id").and_then(Value::as_i64)?,
        payload.get("client_org_id").and_then(Value::as_i64)?,
    ))
}

async fn token_offer(s: &Services, payload: &Value) -> DomainResult<Offer> {
    let (id, client) = token_ids(payload).ok_or(DomainError::NotFound)?;
    let o = by_id(s, id).await?;
    if o.client_org_id != client {
        return Err(DomainError::NotFound);
    }
    Ok(o)
}

/// The client's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Decline,
}

async fn decide(
    s: &Services,
    tx: &mut engine::Tx,
    o: &Offer,
    decision: Decision,
    reason: Option<&str>,
    user: Option<i64>,
) -> DomainResult<()> {
    let now = s.db.now();
    if o.status != "sent" {
        return Err(DomainError::Conflict("offer.decided"));
    }
    if to_db_time(now) >= o.valid_until {
        return Err(DomainError::Conflict("offer.expired"));
    }
    let status = match decision {
        Decision::Accept => "accepted",
        Decision::Decline => "declined",
    };
    let n = sqlx::query(
        "UPDATE offers SET status = $1, decline_reason = $2, decided_at = $3, decided_by = $4 WHERE id = $5 AND status = 'sent'",
    )
    .bind(status)
    .bind(reason)
    .bind(to_db_time(now))
    .bind(user)
    .bind(o.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::Conflict("offer.decided"));
    }
    match decision {
        Decision::Accept => {
            // Before the quotes, the scores and the workflow are touched: of
            // two accepts that overlap, the second waits here and is refused
            // whole.
            let quotes = quotes_of(tx, o.id).await?;
            for q in &quotes {
                bookings::book(tx, now, o.id, o.request_id, *q).await?;
            }
            for q in &quotes {
                sqlx::query(
                    "UPDATE supplier_quotes SET status = 'won', updated_at = $1 WHERE id = $2",
                )
                .bind(to_db_time(now))
                .bind(*q)
                .execute(&mut **tx)
                .await?;
                let winner: i64 =
                    sqlx::query_scalar("SELECT supplier_org_id FROM supplier_quotes WHERE id = $1")
                        .bind(*q)
                        .fetch_one(&mut **tx)
                        .await?;
                scoring::record(tx, now, winner, scoring::Event::Won).await?;
            }
            sqlx::query(
                "UPDATE supplier_quotes SET status = 'lost', updated_at = $1 WHERE request_id = $2 AND status IN ('active', 'selected')",
            )
            .bind(to_db_time(now))
            .bind(o.request_id)
            .execute(&mut **tx)
            .await?;
            s.engine
                .emit_to_object_in_tx(
                    tx,
                    "request",
                    o.request_id,
                    "offer.accepted",
                    json!({"offer_id": o.id}),
                    user,
                )
                .await?;
            // The order of what was agreed, with the bookings above: a
            // refused order refuses the accept.
            let agreed = order::agreed(tx, o).await?;
            crate::orders::create(s, tx, &agreed, user).await?;
        }
        Decision::Decline => {
            sqlx::query("UPDATE supplier_quotes SET status = 'active', updated_at = $1 WHERE status = 'selected'
                           AND id IN (SELECT supplier_quote_id FROM offer_quotes WHERE offer_id = $2)")
                .bind(to_db_time(now))
                .bind(o.id)
                .execute(&mut **tx)
                .await?;
            s.engine
                .emit_to_object_in_tx(
                    tx,
                    "request",
                    o.request_id,
                    "offer.declined",
                    json!({"offer_id": o.id, "reason": reason.unwrap_or_default()}),
                    user,
                )
                .await?;
        }
    }
    audit::record(
        tx,
        now,
        None,
        &format!("offer.{status}"),
        "offer",
        Some(o.id),
        json!({"by": user, "reason": reason}),
    )
    .await?;
    Ok(())
}

fn checked_reason(decision: Decision, reason: &str) -> DomainResult<Option<String>> {
    let reason = reason.trim();
    match decision {
        Decision::Accept => Ok(None),
        Decision::Decline if reason.chars().count() < 3 => Err(DomainError::field(
            "reason",
            if reason.is_empty() {
                "required"
            } else {
                "quote.reason_too_short"
            },
        )),
        Decision::Decline if reason.chars().count() > 2000 => {
            Err(DomainError::field("reason", "text.too_long"))
        }
        Decision::Decline => Ok(Some(reason.to_string())),
    }
}

/// The signed-in client accepts or declines (with a reason) an offer.
///
/// An accept whose machine was booked meanwhile by another offer is refused
/// with `machine.booked`: nothing of it is stored, and the request's manager
/// gets a task to find another machine.
pub async fn answer(
    s: &Services,
    actor: &Actor,
    id: i64,
    decision: Decision,
    reason: &str,
) -> DomainResult<()> {
    crate::access::require_or_hide(actor, crate::access::Rule::Client)?;
    let reason = checked_reason(decision, reason)?;
    let o = get(s, actor, id).await?;
    let mut tx = s.db.begin().await?;
    // The e-mailed link then shows the decision and offers none.
    let decided = decide(s, &mut tx, &o, decision, reason.as_deref(), actor.user()).await;
    finish(s, tx, &o, decided, actor.user()).await
}

/// Accepts or declines through the e-mailed link (no password): the token
/// is consumed in the same transaction (and stays valid when the accept is
/// refused).
pub async fn answer_by_token(
    s: &Services,
    token: &str,
    decision: Decision,
    reason: &str,
) -> DomainResult<i64> {
    let reason = checked_reason(decision, reason)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let (_, payload) = tokens::consume(&mut tx, now, TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    let o = token_offer(s, &payload).await?;
    let decided = decide(s, &mut tx, &o, decision, reason.as_deref(), None).await;
    finish(s, tx, &o, decided, None).await?;
    Ok(o.id)
}

/// Commits a decision, or rolls it back whole; a refusal because the
/// machine is booked is then reported to the request's manager in a
/// transaction of its own ([`bookings::report_conflict`]).
async fn finish(
    s: &Services,
    tx: engine::Tx,
    o: &Offer,
    decided: DomainResult<()>,
    user: Option<i64>,
) -> DomainResult<()> {
    match decided {
        Ok(()) => {
            tx.commit().await?;
            s.after_commit();
            Ok(())
        }
        Err(e) => {
            // PostgreSQL has aborted the transaction already; a failed
            // rollback leaves nothing behind either (the connection drops it).
            let _ = tx.rollback().await;
            if matches!(e, DomainError::Conflict(bookings::MACHINE_BOOKED)) {
                bookings::report_conflict(s, o.id, o.request_id, user).await;
            }
            Err(e)
        }
    }
}

/// Marks an offer expired when its validity ends unanswered (the
/// `offer.expire` action of the workflow's validity timer: local, `tx` is
/// the step's connection): the named offer, and any live offer of the
/// request whose validity has ended — an offer sent on approval is not
/// named in the workflow's data (the approval task cannot learn its id).
/// Nothing was booked for an offer not accepted, so nothing is released.
pub async fn expire(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    offer_id: Option<i64>,
    request_id: i64,
) -> DomainResult<bool> {
    let now = s.db.now();
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE offers SET status = 'expired', decided_at = $1
         WHERE status = 'sent' AND (id = $2 OR (request_id = $3 AND valid_until <= $1)) RETURNING id",
    )
    .bind(to_db_time(now))
    .bind(offer_id)
    .bind(request_id)
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        sqlx::query(
            "UPDATE supplier_quotes SET status = 'active' WHERE id IN (SELECT supplier_quote_id FROM offer_quotes WHERE offer_id = $1) AND status = 'selected'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            tx,
            now,
            None,
            "offer.expired",
            "offer",
            Some(*id),
            json!({}),
        )
        .await?;
    }
    Ok(!ids.is_empty())
}

fn approval_param(ctx: &engine::ActionContext) -> Result<i64, ActionError> {
    ctx.params
        .get("approval_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| ActionError::Fail("approval_id is missing".into()))
}

/// A domain refusal as the step's refusal (its code reaches the caller);
/// anything else may pass on a retry.
fn refusal(e: DomainError) -> ActionError {
    match e {
        DomainError::Conflict(code) => ActionError::Fail(code.to_string()),
        e => ActionError::Retry(e.to_string()),
    }
}

/// Registers the local `offer.expire`, `offer.release` and `offer.reject`.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    b.local_action(
        "offer.expire",
        Some(&["offer_id"]),
        crate::services::local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let id = ctx.params.get("offer_id").and_then(Value::as_i64);
                expire(s, conn, id, ctx.object.id)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(())
            })
        }),
    )
    .local_action(
        "offer.release",
        Some(&["approval_id"]),
        crate::services::local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let id = approval_param(ctx)?;
                release(s, conn, ctx.object.id, id).await.map_err(refusal)?;
                Ok(())
            })
        }),
    )
    .local_action(
        "offer.reject",
        Some(&["approval_id", "reason"]),
        crate::services::local(&cell, |s, conn, ctx| {
            Box::pin(async move {
                let id = approval_param(ctx)?;
                let reason = ctx.params.get("reason").and_then(Value::as_str);
                reject(s, conn, ctx.object.id, id, reason)
                    .await
                    .map_err(refusal)?;
                Ok(())
            })
        }),
    )
}
