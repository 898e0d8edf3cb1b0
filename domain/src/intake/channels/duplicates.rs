//! Repeated public submissions and the "sent" receipt (issue 11, point 8).
//!
//! A visitor who presses "send" twice, or reloads the answer, must not make
//! two requests: a website or JSON submission whose fingerprint — the type,
//! the contact phone and e-mail, the company and INN, the dates and every
//! field, as checked (so `8 916…` and `+7 916…` are the same phone) — was
//! stored within the window is the request stored then; nothing new is
//! written and the visitor gets the same answer. A different submission
//! (another field, another contact) is a new request.
//!
//! The page after the form shows the request's number only to the browser
//! that sent it: [`issue_receipt`] makes a random token (kept as its SHA-256,
//! for half an hour) that the web layer puts in a cookie, and [`receipt`]
//! reads it back. The number is never in the address.

use super::*;
use crate::crypto::{random_token, sha256_hex};

/// How long the same submission again is the same request, unless
/// configured (`PODRYAD_DUPLICATE_WINDOW`).
pub const DEFAULT_DUPLICATE_WINDOW_MINUTES: i64 = 10;

/// How long a receipt shows the number.
const RECEIPT_MINUTES: i64 = 30;

/// The fingerprint of a checked submission.
pub(super) fn fingerprint(valid: &ValidRequest, client: &ValidClient) -> String {
    let key = json!({
        "type": valid.request_type,
        "from": valid.wanted_from.map(to_db_time),
        "to": valid.wanted_to.map(to_db_time),
        "duration": valid.duration,
        "comment": valid.comment,
        "contact_name": valid.contact_name,
        "phone": client.phone,
        "email": client.email,
        "company": if client.is_company() { Some(&client.name) } else { None },
        "inn": client.inn,
        "site": valid.site_address,
        // serde_json's maps are ordered by key: the same fields give the
        // same text whatever order they were sent in.
        "fields": valid.fields,
    });
    sha256_hex(&key.to_string())
}

/// The request stored for the same fingerprint within `window`, if any.
pub(super) async fn earlier_same(
    s: &Services,
    fingerprint: &str,
    window: chrono::Duration,
) -> DomainResult<Option<Created>> {
    let since = to_db_time(s.db.now() - window);
    let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT r.id, r.number, r.owner_user_id FROM public_submissions p JOIN requests r ON r.id = p.request_id
         WHERE p.fingerprint = $1 AND p.created_at >= $2 ORDER BY p.id DESC LIMIT 1",
    )
    .bind(fingerprint)
    .bind(since)
    .fetch_optional(s.db.pool())
    .await?;
    Ok(row.map(|(id, number, owner_user_id)| Created {
        id,
        number,
        owner_user_id,
    }))
}

/// Records the fingerprint of a stored request in its transaction.
pub(super) async fn remember(
    tx: &mut Tx,
    now: DateTime<Utc>,
    fingerprint: &str,
    request_id: i64,
) -> DomainResult<()> {
    sqlx::query(
        "INSERT INTO public_submissions (fingerprint, request_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(fingerprint)
    .bind(request_id)
    .bind(to_db_time(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A token that shows request `request_id`'s number on the "sent" page for
/// half an hour (old receipts are swept on the way).
pub async fn issue_receipt(s: &Services, request_id: i64) -> DomainResult<String> {
    let now = to_db_time(s.db.now());
    let token = random_token();
    let mut tx = s.db.begin().await?;
    sqlx::query("DELETE FROM public_receipts WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO public_receipts (token_hash, request_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(sha256_hex(&token))
    .bind(request_id)
    .bind(now + RECEIPT_MINUTES * 60_000)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// What the "sent" page shows its sender.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub number: String,
    pub request_type: String,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
}

/// The request a receipt token shows, while it is valid.
pub async fn receipt(s: &Services, token: &str) -> DomainResult<Option<Receipt>> {
    let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT r.number, r.request_type, r.contact_phone, r.contact_email FROM public_receipts p
         JOIN requests r ON r.id = p.request_id WHERE p.token_hash = $1 AND p.expires_at >= $2",
    )
    .bind(sha256_hex(token.trim()))
    .bind(to_db_time(s.db.now()))
    .fetch_optional(s.db.pool())
    .await?;
    Ok(row.map(
        |(number, request_type, contact_phone, contact_email)| Receipt {
            number,
            request_type,
            contact_phone,
            contact_email,
        },
    ))
}
