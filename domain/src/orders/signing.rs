//! An order's way from "ready for signing" into work, or to cancellation:
//! what the order workflow's actions do, and the staff's hand in it.
//!
//! Signing itself (the parties' simple e-signature, EDO) is issue 10: it
//! will send `order.signed`. Until then the staff complete the signing
//! task with its "signed on paper" outcome, attaching the scan of both
//! signed work orders ([`signed_on_paper`]); the workflow's local action
//! checks the scan is ours ([`record_signature_on`]) and keeps it with the
//! order in the same step.

use engine::{Sql, UserRef, to_db_time};
use serde_json::{Map, Value, json};
use sqlx::AnyConnection;

use crate::access::{Actor, Resource, audit, broker_id_on, scope};
use crate::error::{DomainError, DomainResult};
use crate::services::Services;

/// The task of the order workflow that waits for the signatures, and its
/// outcome for a signature on paper.
pub const SIGN_TASK: &str = "sign";
pub const SIGNED_ON_PAPER: &str = "signed_on_paper";

/// Statuses an order's workflow may give it.
const STATUSES: [&str; 10] = [
    "new",
    "contract_check",
    "awaiting_contracts",
    "documents",
    "documents_failed",
    "ready_for_signing",
    "in_work",
    "signed",
    "completed",
    "cancelled",
];

/// `order.set_status` (local): the status lists show; going into work
/// records when.
pub(crate) async fn set_status_on(
    s: &Services,
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
) -> DomainResult<()> {
    if !STATUSES.contains(&status) {
        return Err(DomainError::Other(anyhow::anyhow!(
            "unknown order status {status:?}"
        )));
    }
    let now = to_db_time(s.db.now());
    sqlx::query(
        "UPDATE orders SET status = $1, updated_at = $2,
           started_at = CASE WHEN $1 = 'in_work' THEN COALESCE(started_at, $2) ELSE started_at END
         WHERE id = $3",
    )
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// `order.record_signature` (local): keeps the scan of the signed work
/// orders with the order. The scan must be a document file of ours (staff
/// uploaded it); anything else refuses the step.
pub(crate) async fn record_signature_on(
    s: &Services,
    conn: &mut AnyConnection,
    id: i64,
    file_id: i64,
    by: Option<i64>,
) -> DomainResult<()> {
    let broker = broker_id_on(&mut *conn).await?;
    let file: Option<(i64, String)> =
        sqlx::query_as("SELECT org_id, purpose FROM files WHERE id = $1")
            .bind(file_id)
            .fetch_optional(&mut *conn)
            .await?;
    match (file, broker) {
        (Some((org, purpose)), Some(b)) if org == b && purpose == "document" => {}
        _ => return Err(DomainError::Conflict("order.scan_invalid")),
    }
    let now = s.db.now();
    sqlx::query(
        "UPDATE orders SET signed_at = $1, signed_by = $2, signed_scan_file_id = $3, updated_at = $1 WHERE id = $4",
    )
    .bind(to_db_time(now))
    .bind(by)
    .bind(file_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        now,
        None,
        "order.signed_on_paper",
        "order",
        Some(id),
        json!({"by": by, "file_id": file_id}),
    )
    .await?;
    Ok(())
}

/// `order.release` (local): a cancelled order gives its machines' days back.
pub(crate) async fn release_on(
    s: &Services,
    conn: &mut AnyConnection,
    id: i64,
    reason: Option<&str>,
) -> DomainResult<()> {
    let now = s.db.now();
    let freed = sqlx::query(
        "DELETE FROM machine_bookings WHERE offer_id = (SELECT offer_id FROM orders WHERE id = $1)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("UPDATE orders SET cancel_reason = COALESCE($1, cancel_reason), updated_at = $2 WHERE id = $3")
        .bind(reason)
        .bind(to_db_time(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        now,
        None,
        "order.released",
        "order",
        Some(id),
        json!({"days_freed": freed, "reason": reason}),
    )
    .await?;
    Ok(())
}

/// `order.started` (external): the client's responsible manager takes the
/// order (and the client, if this is its first order: the hunter hands it
/// over), and the request is told `order.started`.
pub(crate) async fn started(s: &Services, id: i64) -> DomainResult<Option<i64>> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT client_org_id, request_id FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(s.db.pool())
            .await?;
    let Some((client, request)) = row else {
        return Ok(None);
    };
    let manager = crate::intake::hand_over(s, client, None).await?;
    if let Some(m) = manager {
        let mut tx = s.db.begin().await?;
        sqlx::query("UPDATE orders SET manager_user_id = $1, updated_at = $2 WHERE id = $3")
            .bind(m)
            .bind(to_db_time(s.db.now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    s.engine
        .emit_to_object(
            "request",
            request,
            "order.started",
            json!({"order_id": id}),
            None,
        )
        .await?;
    Ok(manager)
}

/// The order's open task `key`, if its workflow has one.
pub(crate) async fn open_task(s: &Services, order_id: i64, key: &str) -> DomainResult<Option<i64>> {
    for i in s.engine.instances_for_object("order", order_id).await? {
        if let Some(t) = s
            .engine
            .instance_tasks(i.id, false)
            .await?
            .into_iter()
            .find(|t| t.task_key == key)
        {
            return Ok(Some(t.id));
        }
    }
    Ok(None)
}

/// The engine's view of a signed-in person (for completing tasks).
fn user_ref(actor: &Actor) -> UserRef {
    UserRef {
        id: actor.user_id(),
        org_id: actor.org_id(),
        home_org: actor.is_staff(),
        roles: actor.role_names().into_iter().map(str::to_string).collect(),
    }
}

/// Staff attach the scan of the work orders signed on paper: the scan is
/// stored, then the signing task is completed with its "signed on paper"
/// outcome, which moves the order into work. A refused completion (the task
/// was done meanwhile, the user may not do it) removes the scan again.
pub async fn signed_on_paper(
    s: &Services,
    actor: &Actor,
    order_id: i64,
    scan_name: &str,
    scan: &[u8],
) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let mut sql = Sql::new("SELECT COUNT(*) FROM orders o WHERE o.id = ");
    sql.bind(order_id);
    scope(&mut sql, actor, Resource::Order, "o");
    let visible: i64 = sql.query_scalar().fetch_one(s.db.pool()).await?;
    if visible == 0 {
        return Err(DomainError::NotFound);
    }
    let task = open_task(s, order_id, SIGN_TASK)
        .await?
        .ok_or(DomainError::Conflict("order.not_ready_for_signing"))?;
    let stored = s
        .files
        .accept("scan", crate::files::Purpose::Document, scan_name, scan)
        .await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let file = match stored
        .record(&mut tx, now, actor.org_id(), actor.user())
        .await
    {
        Ok(f) => f,
        Err(e) => {
            drop(tx);
            s.files.discard(&stored).await;
            return Err(e.into());
        }
    };
    tx.commit().await?;
    let mut form = Map::new();
    form.insert("scan_file_id".into(), Value::from(file));
    let done = s
        .engine
        .complete_task(
            task,
            SIGNED_ON_PAPER,
            form,
            &engine::Actor::User(user_ref(actor)),
        )
        .await;
    if let Err(e) = done {
        if let Ok(mut tx) = s.db.begin().await
            && sqlx::query("DELETE FROM files WHERE id = $1")
                .bind(file)
                .execute(&mut *tx)
                .await
                .is_ok()
            && tx.commit().await.is_ok()
        {
            s.files.discard(&stored).await;
        }
        return Err(e.into());
    }
    s.after_commit();
    Ok(())
}

/// Staff cancel an order that has not gone into work, with a reason: the
/// order's workflow frees its machines' days, and the request is cancelled
/// with it — one transaction.
pub async fn cancel(s: &Services, actor: &Actor, order_id: i64, reason: &str) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let reason = reason.trim();
    if reason.chars().count() < 3 {
        return Err(DomainError::field(
            "reason",
            if reason.is_empty() {
                "required"
            } else {
                "quote.reason_too_short"
            },
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(DomainError::field("reason", "text.too_long"));
    }
    let mut sql = Sql::new("SELECT o.request_id, o.status FROM orders o WHERE o.id = ");
    sql.bind(order_id);
    scope(&mut sql, actor, Resource::Order, "o");
    let (request, status): (i64, String) = sql
        .query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    if matches!(
        status.as_str(),
        "signed" | "in_work" | "completed" | "cancelled"
    ) {
        return Err(DomainError::Conflict("order.not_cancellable"));
    }
    let mut tx = s.db.begin().await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "order",
            order_id,
            "order.cancelled",
            json!({"reason": reason}),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|r| r.ignored) {
        return Err(DomainError::Conflict("order.not_cancellable"));
    }
    s.engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            request,
            "request.cancelled",
            json!({"reason": reason}),
            actor.user(),
        )
        .await?;
    audit::record(
        &mut tx,
        s.db.now(),
        Some(actor),
        "order.cancelled",
        "order",
        Some(order_id),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}
