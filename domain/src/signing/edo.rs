//! The EDO operators (Diadoc, SBIS): posting envelopes, reading the
//! operators' event feeds, and finishing an envelope the counterparty
//! signed there.
//!
//! - **Posting** ([`post_owner`], the external workflow action
//!   `signing.post_edo`): every EDO envelope of an owner that was not posted
//!   yet goes to its operator ([`outgoing`] says what: the PDF, the box, the
//!   key), signed by us through the operator's signer (the signing service,
//!   or the operator's test signature in test mode), and the operator's ids
//!   are recorded ([`record_posted`]). The operator dedupes on the key
//!   (Diadoc's `operationId`, SBIS's document id), which is the envelope's
//!   own, so a retried or repeated action — a lost reply, a worker killed
//!   mid-call, a second run started meanwhile — makes one document there.
//! - **Reading** ([`poll`], the workers' periodic loop): each operator's
//!   feed of our box is read from the cursor stored in `edo_cursors`, and
//!   each page's events are applied ([`apply_event`]) in the transaction
//!   that moves the cursor past them: after a restart nothing is lost, and
//!   an event read twice is kept out by `edo_inbound_events` (unique per
//!   provider and event id).
//! - **Applying** an event: it changes its envelope (found by the
//!   operator's message id) and tells the envelope's owner workflow — the
//!   party signed (`envelope.party_signed`) or rejected
//!   (`envelope.rejected`, the same path as the built-in signature's
//!   rejection). A repeated or late event changes nothing.
//! - **Finishing** ([`finish`], the external workflow action
//!   `signing.finish_edo`): once the party signed at the operator, the
//!   document carries both qualified signatures (ours was made when it was
//!   posted). The signed copy is fetched, its content checked against the
//!   document's SHA-256, both detached signatures stored, the signature page
//!   rendered as for the built-in channel, and the envelope is
//!   countersigned; the owner goes on when it was its last one.

use std::collections::HashMap;

use connectors::edo::{EdoError, EdoEventKind, OutgoingDocument, Posted};
use engine::to_db_time;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::envelopes::system_get;
use super::{copy, pep};
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
    /// What the counterparty sees as its title: «Заказ-наряд З-2026-00017».
    pub title: String,
    pub number: String,
    /// The day the document was issued (UTC).
    pub date: chrono::NaiveDate,
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
    let kind = s.texts.text(
        &format!("doc-template-{}", doc.template_key),
        &HashMap::new(),
    );
    let date = chrono::DateTime::from_timestamp_millis(doc.created_at)
        .unwrap_or_default()
        .date_naive();
    Ok(OutgoingEnvelope {
        envelope_id,
        channel: e.channel,
        to_box,
        file_name: format!("{}-v{}.pdf", doc.number, doc.version),
        title: format!("{kind} {}", doc.number),
        number: doc.number,
        date,
        pdf,
        idempotency_key: post_key(envelope_id, &doc.sha256),
        sha256: doc.sha256,
    })
}

/// The operator's deduplication key of an envelope. It is the envelope's
/// own rather than one workflow action's: every action that may post the
/// envelope (the first one, a retry, a second one started by a channel
/// change meanwhile) names the same document. The document's hash in it
/// keeps two databases that share an operator box (a staging stand reset
/// to envelope 1) from naming each other's documents.
fn post_key(envelope_id: i64, sha256: &str) -> String {
    let short: String = sha256.chars().take(16).collect();
    format!("podryad-envelope-{envelope_id}-{short}")
}

/// Why an operator call did not get through, for the workflow action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdoFailure {
    /// Worth repeating (with the same key): the engine retries the action.
    Retry(String),
    /// Repeating will not help: the workflow hears `<action>.failed` and
    /// the manager gets a task.
    Refused(String),
}

impl From<EdoError> for EdoFailure {
    fn from(e: EdoError) -> EdoFailure {
        match e {
            EdoError::Retry { .. } => EdoFailure::Retry(e.to_string()),
            EdoError::Rejected { .. } | EdoError::Config(_) => EdoFailure::Refused(e.to_string()),
        }
    }
}

impl From<DomainError> for EdoFailure {
    fn from(e: DomainError) -> EdoFailure {
        match e {
            DomainError::Conflict(reason) => EdoFailure::Refused(reason.to_string()),
            other => EdoFailure::Retry(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for EdoFailure {
    fn from(e: sqlx::Error) -> EdoFailure {
        EdoFailure::Retry(e.to_string())
    }
}

/// `signing.post_edo`: posts every EDO envelope of the owner that waits to
/// be posted, through its operator, and records the operator's ids.
/// Returns how many were posted. An envelope whose operator is not
/// configured is refused (the manager switches it to the built-in
/// signature or an admin configures the operator).
pub async fn post_owner(s: &Services, kind: &str, id: i64) -> Result<usize, EdoFailure> {
    let waiting: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM envelopes WHERE owner_kind = $1 AND owner_id = $2 AND channel <> 'pep' \
         AND status = 'sent' AND edo_message_id IS NULL ORDER BY id",
    )
    .bind(kind)
    .bind(id)
    .fetch_all(s.db.pool())
    .await?;
    for envelope_id in &waiting {
        let out = outgoing(s, *envelope_id).await?;
        let operator = s.edo.get(&out.channel).ok_or_else(|| {
            EdoFailure::Refused(format!("signing.edo_not_configured:{}", out.channel))
        })?;
        let doc = OutgoingDocument {
            idempotency_key: out.idempotency_key.clone(),
            from_box: operator.our_box().to_string(),
            to_box: out.to_box.clone(),
            file_name: out.file_name.clone(),
            title: out.title.clone(),
            number: out.number.clone(),
            date: out.date,
            pdf: out.pdf,
            needs_recipient_signature: true,
        };
        let posted = operator.post(&doc).await?;
        record_posted(s, *envelope_id, &posted.message_id, &posted.document_id).await?;
    }
    Ok(waiting.len())
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
    let mut tx = s.db.begin().await?;
    let applied = apply_event_on(s, &mut tx, event).await?;
    tx.commit().await?;
    if applied != Applied::Duplicate {
        s.after_commit();
    }
    Ok(applied)
}

/// [`apply_event`] in the caller's transaction (the poller's, which also
/// moves the feed's cursor).
async fn apply_event_on(
    s: &Services,
    tx: &mut engine::Tx,
    event: &InboundEvent,
) -> DomainResult<Applied> {
    let now = s.db.now();
    let envelope: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM envelopes WHERE channel = $1 AND edo_message_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(&event.provider)
    .bind(&event.message_id)
    .fetch_optional(&mut **tx)
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
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if stored == 0 {
        return Ok(Applied::Duplicate);
    }
    let Some(id) = envelope else {
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
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if moved > 0 {
                // The party's signature as the operator reports it: by the
                // organisation (the operator checked its certificate; who
                // held it is in the signature itself, stored on finishing).
                let method = s.texts.text(
                    "signing-method-edo",
                    &HashMap::from([("operator", operator_name(s, &event.provider))]),
                );
                sqlx::query(
                    "INSERT INTO signatures (envelope_id, side, org_id, signer_name, position, basis, method, \
                     document_sha256, signed_at) VALUES ($1, 'party', $2, $3, '', '', $4, $5, $6)",
                )
                .bind(id)
                .bind(e.party_org_id)
                .bind(&e.party_name)
                .bind(method)
                .bind(&e.document_sha256)
                .bind(now_ms)
                .execute(&mut **tx)
                .await?;
                s.engine
                    .emit_to_object_in_tx(
                        tx,
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
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if moved > 0 {
                pep::rejected_on(s, tx, &e, reason, None).await?;
            }
        }
    }
    audit::record(
        tx,
        now,
        None,
        "envelope.edo_event",
        "envelope",
        Some(id),
        json!({"provider": event.provider, "event_id": event.event_id, "kind": event.kind.code()}),
    )
    .await?;
    Ok(Applied::New(Some(id)))
}

/// The operator's name as people know it (`Диадок`, `СБИС`).
fn operator_name(s: &Services, provider: &str) -> String {
    s.texts
        .text(&format!("signing-operator-{provider}"), &HashMap::new())
}

/// What one round of [`poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// Events read from the feeds (including repeated ones).
    pub read: usize,
    /// Events stored and applied for the first time.
    pub applied: usize,
}

/// Pages of a feed read in one round before giving the others a turn.
const PAGES_PER_ROUND: usize = 20;

/// Reads every configured operator's feed of our box from its stored
/// cursor and applies what is new; each page is applied in the
/// transaction that moves the cursor past it. A page another process
/// applied meanwhile (the cursor moved under us) is dropped and read again
/// next round. One operator failing does not stop the others; its error
/// is returned after they are read.
pub async fn poll(s: &Services) -> DomainResult<Polled> {
    let mut total = Polled::default();
    let mut failed = None;
    for operator in s.edo.iter() {
        let provider = operator.provider();
        let box_id = operator.our_box().to_string();
        for _ in 0..PAGES_PER_ROUND {
            let cursor: Option<String> = sqlx::query_scalar(
                "SELECT cursor FROM edo_cursors WHERE provider = $1 AND box_id = $2",
            )
            .bind(provider)
            .bind(&box_id)
            .fetch_optional(s.db.pool())
            .await?;
            let cursor = cursor.unwrap_or_default();
            let after = Some(cursor.as_str()).filter(|c| !c.is_empty());
            let page = match operator.events(&box_id, after).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(provider, error = %e, "reading the EDO operator's events failed");
                    failed = Some(anyhow::anyhow!("{provider}: {e}"));
                    break;
                }
            };
            let next = page.next_cursor.clone().unwrap_or_default();
            let mut tx = s.db.begin().await?;
            sqlx::query(
                "INSERT INTO edo_cursors (provider, box_id, cursor, updated_at) VALUES ($1, $2, '', $3) \
                 ON CONFLICT (provider, box_id) DO NOTHING",
            )
            .bind(provider)
            .bind(&box_id)
            .bind(to_db_time(s.db.now()))
            .execute(&mut *tx)
            .await?;
            // Moved only from where this page was read: a concurrent reader
            // that got there first leaves this one nothing to apply.
            let moved = sqlx::query(
                "UPDATE edo_cursors SET cursor = $1, updated_at = $2 \
                 WHERE provider = $3 AND box_id = $4 AND cursor = $5",
            )
            .bind(&next)
            .bind(to_db_time(s.db.now()))
            .bind(provider)
            .bind(&box_id)
            .bind(&cursor)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                break;
            }
            total.read += page.events.len();
            let mut applied = 0;
            for event in &page.events {
                let kind = match &event.kind {
                    EdoEventKind::Delivered => InboundKind::Delivered,
                    EdoEventKind::RecipientSigned => InboundKind::RecipientSigned,
                    EdoEventKind::RecipientRejected { reason } => InboundKind::RecipientRejected {
                        reason: reason.clone(),
                    },
                    // Our own message appearing, receipts: nothing to apply.
                    EdoEventKind::Other(_) => continue,
                };
                let inbound = InboundEvent {
                    provider: provider.to_string(),
                    event_id: event.event_id.clone(),
                    message_id: event.message_id.clone(),
                    document_id: Some(event.document_id.clone()).filter(|d| !d.is_empty()),
                    kind,
                };
                if apply_event_on(s, &mut tx, &inbound).await? != Applied::Duplicate {
                    applied += 1;
                }
            }
            tx.commit().await?;
            total.applied += applied;
            if applied > 0 {
                s.after_commit();
            }
            if !page.has_more {
                break;
            }
        }
    }
    match failed {
        Some(e) if total.read == 0 => Err(e.into()),
        _ => Ok(total),
    }
}

/// `signing.finish_edo`: our side of an EDO envelope the party signed
/// (see the module's documentation). Returns whether it was finished now;
/// an envelope on the built-in channel (staff countersign it), already
/// countersigned or no longer waiting is left as it is.
pub async fn finish(s: &Services, envelope_id: i64) -> Result<bool, EdoFailure> {
    let e = system_get(s, envelope_id).await?;
    if e.channel == "pep" || e.status != "signed_by_party" {
        return Ok(false);
    }
    let operator = s
        .edo
        .get(&e.channel)
        .ok_or_else(|| EdoFailure::Refused(format!("signing.edo_not_configured:{}", e.channel)))?;
    let ids: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT edo_message_id, edo_document_id FROM envelopes WHERE id = $1")
            .bind(envelope_id)
            .fetch_one(s.db.pool())
            .await?;
    let (Some(message_id), Some(document_id)) = ids else {
        return Err(EdoFailure::Refused("signing.edo_not_posted".into()));
    };
    let signed = operator
        .signed_copy(
            operator.our_box(),
            &Posted {
                message_id,
                document_id,
            },
        )
        .await?;
    // What the operator holds must be what we issued, byte for byte.
    if hex::encode(Sha256::digest(&signed.content)) != e.document_sha256 {
        return Err(EdoFailure::Refused("signing.edo_content_differs".into()));
    }
    let Some(theirs) = signed.their_signature else {
        return Err(EdoFailure::Retry(
            "the operator's copy does not carry the counterparty's signature yet".into(),
        ));
    };
    let their_key = s.files.put_generated(&theirs).await?;
    let our_key = s.files.put_generated(&signed.our_signature).await?;
    let now = s.db.now();
    let method = s.texts.text(
        "signing-method-edo",
        &HashMap::from([("operator", operator_name(s, &e.channel))]),
    );
    let org = copy::broker_name(s).await?;
    let ours = copy::SignatureLine {
        org: org.clone(),
        name: org.clone(),
        position: String::new(),
        basis: String::new(),
        signed_at: to_db_time(now),
        method: method.clone(),
        ip: None,
        code_hash: None,
    };
    let made = match copy::make(s, &e, ours).await {
        Ok(made) => made,
        Err(err) => {
            s.files.discard_generated(&their_key).await;
            s.files.discard_generated(&our_key).await;
            return Err(err.into());
        }
    };
    let broker = pep::BrokerSignature {
        user_id: None,
        name: org,
        position: String::new(),
        basis: String::new(),
        method,
        cms_storage_key: Some(our_key.clone()),
        ip: None,
        user_agent: None,
    };
    let result = async {
        let mut tx = s.db.begin().await?;
        sqlx::query(
            "UPDATE signatures SET cms_storage_key = $1 WHERE envelope_id = $2 AND side = 'party'",
        )
        .bind(&their_key)
        .bind(envelope_id)
        .execute(&mut *tx)
        .await?;
        pep::countersigned_on(s, &mut tx, &e, &made, &broker, None).await?;
        tx.commit().await?;
        DomainResult::Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            s.after_commit();
            Ok(true)
        }
        Err(err) => {
            for key in [&made.storage_key, &their_key, &our_key] {
                s.files.discard_generated(key).await;
            }
            // Finished meanwhile by another run: nothing left to do.
            if matches!(err, DomainError::Conflict("signing.not_signed_by_party")) {
                return Ok(false);
            }
            Err(err.into())
        }
    }
}
