//! The seam to the EDO operators (Diadoc, SBIS) and the ingress of their
//! events.
//!
//! Outgoing: an envelope on an EDO channel is created `sent` without a
//! message; whoever posts it (the EDO connectors, wired by an external
//! workflow action) takes [`outgoing`] — the PDF, the box, and the
//! idempotency key the operator must be given, so a retried post makes one
//! document at the operator — and records the operator's ids with
//! [`record_posted`].
//!
//! Incoming: [`apply_event`] stores an operator's event in
//! `edo_inbound_events` (unique on provider and the provider's event id)
//! and, in the same transaction, applies it to its envelope (found by the
//! operator's message id) and tells the envelope's owner workflow — the
//! party signed (`envelope.party_signed`) or rejected (`envelope.rejected`).
//! The same event again changes nothing.

use engine::to_db_time;
use serde_json::json;

use super::envelopes::system_get;
use crate::access::audit;
use crate::error::{DomainError, DomainResult};
use crate::paperwork::issued;
use crate::services::Services;

/// What an EDO operator is asked to deliver for an envelope.
#[derive(Debug, Clone)]
pub struct OutgoingEnvelope {
    pub envelope_id: i64,
    /// `diadoc` or `sbis`.
    pub channel: String,
    /// The counterparty's box at the operator.
    pub to_box: String,
    pub file_name: String,
    pub pdf: Vec<u8>,
    pub sha256: String,
    /// Stable per envelope: the operator dedupes a retried post on it.
    pub idempotency_key: String,
}

/// The envelope to post through its EDO operator; a conflict when it is
/// not (or no longer) an EDO envelope waiting to be posted.
pub async fn outgoing(s: &Services, envelope_id: i64) -> DomainResult<OutgoingEnvelope> {
    let e = system_get(s, envelope_id).await?;
    if e.channel == "pep" || e.status != "sent" {
        return Err(DomainError::Conflict("signing.not_edo"));
    }
    let to_box = e
        .edo_box_id
        .clone()
        .ok_or(DomainError::Conflict("signing.no_edo_box"))?;
    let (doc, pdf) = issued::system_pdf(&s.db, &s.files, e.document_id).await?;
    Ok(OutgoingEnvelope {
        envelope_id,
        channel: e.channel,
        to_box,
        file_name: format!("{}-v{}.pdf", doc.number, doc.version),
        pdf,
        sha256: doc.sha256,
        idempotency_key: format!("envelope-{envelope_id}"),
    })
}

/// Records the operator's ids of a posted envelope (repeating is harmless).
pub async fn record_posted(
    s: &Services,
    envelope_id: i64,
    message_id: &str,
    document_id: &str,
) -> DomainResult<()> {
    let mut tx = s.db.begin().await?;
    sqlx::query(
        "UPDATE envelopes SET edo_message_id = $1, edo_document_id = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(message_id)
    .bind(document_id)
    .bind(to_db_time(s.db.now()))
    .bind(envelope_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What an operator's event says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundKind {
    Delivered,
    RecipientSigned,
    RecipientRejected { reason: String },
}

impl InboundKind {
    fn code(&self) -> &'static str {
        match self {
            InboundKind::Delivered => "delivered",
            InboundKind::RecipientSigned => "recipient_signed",
            InboundKind::RecipientRejected { .. } => "recipient_rejected",
        }
    }
}

/// One event of an operator.
#[derive(Debug, Clone)]
pub struct InboundEvent {
    /// `diadoc` or `sbis`.
    pub provider: String,
    pub event_id: String,
    pub message_id: String,
    pub document_id: Option<String>,
    pub kind: InboundKind,
}

/// What [`apply_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stored and applied to envelope `.0` (if one matched).
    New(Option<i64>),
    /// Seen before: nothing changed.
    Duplicate,
}

/// Stores an operator's event once and applies it, in one transaction.
pub async fn apply_event(s: &Services, event: &InboundEvent) -> DomainResult<Applied> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let envelope: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM envelopes WHERE channel = $1 AND edo_message_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(&event.provider)
    .bind(&event.message_id)
    .fetch_optional(&mut *tx)
    .await?;
    let reason = match &event.kind {
        InboundKind::RecipientRejected { reason } => Some(reason.clone()),
        _ => None,
    };
    let stored = sqlx::query(
        "INSERT INTO edo_inbound_events (provider, event_id, message_id, document_id, kind, reason, envelope_id, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(&event.provider)
    .bind(&event.event_id)
    .bind(&event.message_id)
    .bind(&event.document_id)
    .bind(event.kind.code())
    .bind(&reason)
    .bind(envelope)
    .bind(to_db_time(now))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if stored == 0 {
        return Ok(Applied::Duplicate);
    }
    let Some(id) = envelope else {
        tx.commit().await?;
        return Ok(Applied::New(None));
    };
    let e = system_get(s, id).await?;
    let now_ms = to_db_time(now);
    match &event.kind {
        InboundKind::Delivered => {}
        InboundKind::RecipientSigned => {
            let moved = sqlx::query(
                "UPDATE envelopes SET status = 'signed_by_party', party_signed_at = $1, updated_at = $1 \
                 WHERE id = $2 AND status = 'sent'",
            )
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved > 0 {
                s.engine
                    .emit_to_object_in_tx(
                        &mut tx,
                        &e.owner_kind,
                        e.owner_id,
                        "envelope.party_signed",
                        json!({"envelope_id": id, "party_org_id": e.party_org_id, "provider": event.provider}),
                        None,
                    )
                    .await?;
            }
        }
        InboundKind::RecipientRejected { reason } => {
            let moved = sqlx::query(
                "UPDATE envelopes SET status = 'rejected', reject_reason = $1, rejected_at = $2, updated_at = $2 \
                 WHERE id = $3 AND status = 'sent'",
            )
            .bind(reason)
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved > 0 {
                super::pep::rejected_on(s, &mut tx, &e, reason, None).await?;
            }
        }
    }
    audit::record(
        &mut tx,
        now,
        None,
        "envelope.edo_event",
        "envelope",
        Some(id),
        json!({"provider": event.provider, "event_id": event.event_id, "kind": event.kind.code()}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(Applied::New(Some(id)))
}
