//! The built-in simple e-signature (ПЭП, 63-ФЗ art. 6 and 9): the
//! e-signature agreement, one-time codes, the party's signature with its
//! evidence, a rejection, our countersignature and a corrected version.
//!
//! The key of the simple signature is the one-time code sent to the
//! signer's own phone or e-mail (the agreement says so): 6 digits, only a
//! salted SHA-256 stored, valid for 10 minutes, 5 attempts, at most one
//! code a minute and five an hour per signer. A wrong, expired or used code
//! is refused on the code field. Our countersignature is given by a staff
//! member whom an admin gave the authority (`users.can_countersign`, with
//! the position and basis printed on the signature page); their key is
//! their signed-in session, as the agreement says.

use std::collections::HashMap;

use chrono::Duration;
use engine::to_db_time;
use rand::Rng;
use serde_json::json;

use super::copy;
use super::envelopes::{Envelope, get, signs_for_party};
use crate::access::{Actor, Rule, audit, require};
use crate::crypto::{random_token, sha256_hex};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::notify::{NewNotification, enqueue};
use crate::paperwork::issued;
use crate::rate_limit::{Limit, hit};
use crate::services::Services;

/// The version of the e-signature agreement's text (its text is the
/// message `esign-agreement-text`; its SHA-256 is kept with each acceptance).
pub const AGREEMENT_VERSION: &str = "2026-12";
/// How long a code is valid.
pub const CODE_TTL_MINUTES: i64 = 10;
/// Wrong entries a code survives.
pub const CODE_ATTEMPTS: i64 = 5;

/// Who signs and how the request came (the evidence kept).
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// When and by whom the agreement was accepted.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Agreement {
    pub version: String,
    pub user_name: String,
    pub accepted_at: i64,
}

/// The counterparty's acceptance of the current agreement, if any.
pub async fn agreement(s: &Services, org_id: i64) -> DomainResult<Option<Agreement>> {
    Ok(sqlx::query_as(
        "SELECT a.version, u.full_name AS user_name, a.accepted_at FROM esign_agreements a \
         JOIN users u ON u.id = a.user_id WHERE a.org_id = $1 AND a.version = $2",
    )
    .bind(org_id)
    .bind(AGREEMENT_VERSION)
    .fetch_optional(s.db.pool())
    .await?)
}

/// An envelope the actor signs for its party: it must be theirs and they
/// must sign for their organisation.
async fn own_envelope(s: &Services, actor: &Actor, id: i64) -> DomainResult<Envelope> {
    let e = get(s, actor, id).await?;
    if actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    if !signs_for_party(actor) {
        return Err(DomainError::Forbidden);
    }
    Ok(e)
}

/// The party accepts the e-signature agreement (once per counterparty and
/// version): which text, who, when, from where.
pub async fn accept_agreement(
    s: &Services,
    actor: &Actor,
    envelope_id: i64,
    evidence: &Evidence,
) -> DomainResult<()> {
    let e = own_envelope(s, actor, envelope_id).await?;
    let text = s.texts.text("esign-agreement-text", &HashMap::new());
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query(
        "INSERT INTO esign_agreements (org_id, version, text_sha256, user_id, ip, user_agent, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, version) DO NOTHING",
    )
    .bind(e.party_org_id)
    .bind(AGREEMENT_VERSION)
    .bind(sha256_hex(&text))
    .bind(actor.user_id())
    .bind(&evidence.ip)
    .bind(&evidence.user_agent)
    .bind(to_db_time(now))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "esign.agreement_accepted",
        "organisation",
        Some(e.party_org_id),
        json!({"version": AGREEMENT_VERSION, "ip": evidence.ip}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn code_hash(salt: &str, code: &str) -> String {
    format!("{salt}${}", sha256_hex(&format!("{salt}:{code}")))
}

fn code_matches(stored: &str, code: &str) -> bool {
    match stored.split_once('$') {
        Some((salt, _)) => {
            let a = code_hash(salt, code);
            // Constant-time enough for equal-length hex digests.
            a.len() == stored.len()
                && a.bytes()
                    .zip(stored.bytes())
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0
        }
        None => false,
    }
}

/// Masks an address for the page ("+7 916 ***-**-42", "c***@sevbeton.test").
pub fn masked(recipient: &str) -> String {
    if let Some((name, domain)) = recipient.split_once('@') {
        let first: String = name.chars().take(1).collect();
        format!("{first}***@{domain}")
    } else {
        let digits: Vec<char> = recipient.chars().collect();
        let n = digits.len();
        let tail: String = digits[n.saturating_sub(2)..].iter().collect();
        let head: String = digits[..n.min(6)].iter().collect();
        format!("{head}***{tail}")
    }
}

/// Sends the signer a one-time code for an envelope by `via` (`sms` to
/// their phone, `email` to their e-mail). Refused before the agreement is
/// accepted, when the envelope does not wait for the party, and past the
/// rate limit. Returns where it went (masked).
pub async fn request_code(
    s: &Services,
    actor: &Actor,
    envelope_id: i64,
    via: &str,
) -> DomainResult<String> {
    let e = own_envelope(s, actor, envelope_id).await?;
    if e.status != "sent" || e.channel != "pep" {
        return Err(DomainError::Conflict("signing.not_waiting"));
    }
    if agreement(s, e.party_org_id).await?.is_none() {
        return Err(DomainError::field(
            "agreement",
            "signing.agreement_required",
        ));
    }
    let (email, phone): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT email, phone FROM users WHERE id = $1")
            .bind(actor.user_id())
            .fetch_one(s.db.pool())
            .await?;
    let recipient = match via {
        "sms" => phone.ok_or_else(|| DomainError::field("via", "signing.no_phone"))?,
        "email" => email.ok_or_else(|| DomainError::field("via", "signing.no_email"))?,
        _ => return Err(DomainError::field("via", "signing.via_unknown")),
    };
    // Every request counts, refused ones too (rate_limit's rule).
    for (suffix, limit) in [
        (
            "m",
            Limit {
                limit: 1,
                window: Duration::seconds(60),
            },
        ),
        (
            "h",
            Limit {
                limit: 5,
                window: Duration::hours(1),
            },
        ),
    ] {
        if let Err(DomainError::Throttled { .. }) = hit(
            &s.db,
            &format!("sign-code:{}:{suffix}", actor.user_id()),
            limit,
        )
        .await
        {
            return Err(DomainError::field("via", "signing.code_too_often"));
        }
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let salt = random_token();
    let now = s.db.now();
    let args: HashMap<&str, String> = HashMap::from([
        ("code", code.clone()),
        ("number", e.document_number.clone()),
        ("minutes", CODE_TTL_MINUTES.to_string()),
    ]);
    let mut tx = s.db.begin().await?;
    // A new code replaces the ones sent before.
    sqlx::query(
        "UPDATE signing_codes SET expires_at = $1 WHERE envelope_id = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(to_db_time(now))
    .bind(envelope_id)
    .bind(actor.user_id())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO signing_codes (envelope_id, user_id, code_hash, channel, recipient, attempts, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
    )
    .bind(envelope_id)
    .bind(actor.user_id())
    .bind(code_hash(&salt, &code))
    .bind(via)
    .bind(&recipient)
    .bind(to_db_time(now))
    .bind(to_db_time(now + Duration::minutes(CODE_TTL_MINUTES)))
    .execute(&mut *tx)
    .await?;
    enqueue(
        &mut tx,
        now,
        NewNotification {
            channel: via.to_string(),
            recipient: recipient.clone(),
            user_id: Some(actor.user_id()),
            subject: s.texts.text("mail-signing-code-subject", &args),
            body: s.texts.text("mail-signing-code-body", &args),
        },
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(masked(&recipient))
}

/// What the signer enters: the code and their authority.
#[derive(Debug, Clone, Default)]
pub struct SignInput {
    pub code: String,
    pub position: String,
    /// `charter`, `power_of_attorney` or `self` (an entrepreneur, a person).
    pub basis: String,
    pub poa_number: String,
    /// `YYYY-MM-DD`.
    pub poa_date: String,
}

/// The authority as the signature page prints it ("Устав",
/// "Доверенность № 12 от 10.01.2026").
fn basis_text(s: &Services, basis: &str, number: &str, date: &str) -> String {
    let args: HashMap<&str, String> =
        HashMap::from([("number", number.to_string()), ("date", date.to_string())]);
    s.texts.text(&format!("signing-basis-{basis}"), &args)
}

fn check_authority(input: &SignInput) -> DomainResult<()> {
    let mut errors = FieldErrors::new();
    let position = input.position.trim();
    if position.is_empty() {
        errors.add("position", "required");
    } else if position.chars().count() > 200 {
        errors.add("position", "text.too_long");
    }
    match input.basis.as_str() {
        "charter" | "self" => {}
        "power_of_attorney" => {
            if input.poa_number.trim().is_empty() {
                errors.add("poa_number", "required");
            } else if input.poa_number.trim().chars().count() > 100 {
                errors.add("poa_number", "text.too_long");
            }
            if input.poa_date.trim().is_empty() {
                errors.add("poa_date", "required");
            } else if chrono::NaiveDate::parse_from_str(input.poa_date.trim(), "%Y-%m-%d").is_err()
            {
                errors.add("poa_date", "date.invalid");
            }
        }
        "" => errors.add("basis", "required"),
        _ => errors.add("basis", "signing.basis_unknown"),
    }
    let code = input.code.trim();
    if code.is_empty() {
        errors.add("code", "required");
    } else if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        errors.add("code", "signing.code_format");
    }
    errors.into_result()
}

/// The party signs its envelope with the code it was sent. The code must
/// be the signer's latest for this envelope, unused, unexpired and within
/// its attempts; a wrong one uses up an attempt. On success the signature
/// and its evidence are kept, the envelope waits for our countersignature,
/// and its owner's workflow hears `envelope.party_signed`.
pub async fn sign(
    s: &Services,
    actor: &Actor,
    envelope_id: i64,
    input: &SignInput,
    evidence: &Evidence,
) -> DomainResult<()> {
    let e = own_envelope(s, actor, envelope_id).await?;
    let now = s.db.now();
    let now_ms = to_db_time(now);
    let latest: Option<(i64, String, String, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, code_hash, recipient, attempts, expires_at, used_at FROM signing_codes \
         WHERE envelope_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(envelope_id)
    .bind(actor.user_id())
    .fetch_optional(s.db.pool())
    .await?;
    // A code entered again after it signed is refused as used, on its field.
    if e.status != "sent" && latest.as_ref().is_some_and(|c| c.5.is_some()) {
        return Err(DomainError::field("code", "signing.code_used"));
    }
    if e.status != "sent" || e.channel != "pep" {
        return Err(DomainError::Conflict("signing.not_waiting"));
    }
    if agreement(s, e.party_org_id).await?.is_none() {
        return Err(DomainError::field(
            "agreement",
            "signing.agreement_required",
        ));
    }
    check_authority(input)?;
    // The document must still be the one issued (its bytes match its hash).
    let (doc, _) = issued::system_pdf(&s.db, &s.files, e.document_id).await?;
    let Some((code_id, stored, recipient, attempts, expires_at, used_at)) = latest else {
        return Err(DomainError::field("code", "signing.code_missing"));
    };
    if used_at.is_some() {
        return Err(DomainError::field("code", "signing.code_used"));
    }
    if attempts >= CODE_ATTEMPTS {
        return Err(DomainError::field("code", "signing.code_attempts"));
    }
    if expires_at <= now_ms {
        return Err(DomainError::field("code", "signing.code_expired"));
    }
    let code = input.code.trim();
    let mut tx = s.db.begin().await?;
    if !code_matches(&stored, code) {
        sqlx::query("UPDATE signing_codes SET attempts = attempts + 1 WHERE id = $1")
            .bind(code_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Err(DomainError::field("code", "signing.code_wrong"));
    }
    // Used exactly once: a concurrent second use finds it taken.
    let taken =
        sqlx::query("UPDATE signing_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms)
            .bind(code_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let moved = sqlx::query(
        "UPDATE envelopes SET status = 'signed_by_party', party_signed_at = $1, updated_at = $1 \
         WHERE id = $2 AND status = 'sent'",
    )
    .bind(now_ms)
    .bind(envelope_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if taken == 0 {
        return Err(DomainError::field("code", "signing.code_used"));
    }
    if moved == 0 {
        return Err(DomainError::Conflict("signing.not_waiting"));
    }
    let basis = input.basis.as_str();
    let (poa_number, poa_date) = if basis == "power_of_attorney" {
        (
            Some(input.poa_number.trim().to_string()),
            Some(input.poa_date.trim().to_string()),
        )
    } else {
        (None, None)
    };
    let method = s.texts.text(
        "signing-method-code",
        &HashMap::from([("to", masked(&recipient))]),
    );
    sqlx::query(
        "INSERT INTO signatures (envelope_id, side, org_id, user_id, signer_name, position, basis, poa_number, poa_date, \
         method, document_sha256, code_hash, ip, user_agent, signed_at) \
         VALUES ($1, 'party', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(envelope_id)
    .bind(e.party_org_id)
    .bind(actor.user_id())
    .bind(actor.full_name())
    .bind(input.position.trim())
    .bind(basis_text(
        s,
        basis,
        poa_number.as_deref().unwrap_or(""),
        poa_date.as_deref().unwrap_or(""),
    ))
    .bind(&poa_number)
    .bind(&poa_date)
    .bind(method)
    .bind(&doc.sha256)
    .bind(&stored)
    .bind(&evidence.ip)
    .bind(&evidence.user_agent)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "envelope.party_signed",
        "envelope",
        Some(envelope_id),
        json!({"sha256": doc.sha256, "ip": evidence.ip}),
    )
    .await?;
    s.engine
        .emit_to_object_in_tx(
            &mut tx,
            &e.owner_kind,
            e.owner_id,
            "envelope.party_signed",
            json!({"envelope_id": envelope_id, "party_org_id": e.party_org_id}),
            actor.user(),
        )
        .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// The party rejects its envelope with a reason: the envelope is
/// `rejected` and its owner's workflow hears `envelope.rejected` (a task
/// for the manager to issue a corrected version).
pub async fn reject(
    s: &Services,
    actor: &Actor,
    envelope_id: i64,
    reason: &str,
) -> DomainResult<()> {
    let e = own_envelope(s, actor, envelope_id).await?;
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
    if e.status != "sent" {
        return Err(DomainError::Conflict("signing.not_waiting"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let moved = sqlx::query(
        "UPDATE envelopes SET status = 'rejected', reject_reason = $1, rejected_at = $2, updated_at = $2 \
         WHERE id = $3 AND status = 'sent'",
    )
    .bind(reason)
    .bind(to_db_time(now))
    .bind(envelope_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(DomainError::Conflict("signing.not_waiting"));
    }
    rejected_on(s, &mut tx, &e, reason, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "envelope.rejected",
        "envelope",
        Some(envelope_id),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Tells the envelope's owner that the party rejected it (the built-in
/// signature and the EDO ingress alike).
pub(crate) async fn rejected_on(
    s: &Services,
    tx: &mut engine::Tx,
    e: &Envelope,
    reason: &str,
    by: Option<i64>,
) -> DomainResult<()> {
    s.engine
        .emit_to_object_in_tx(
            tx,
            &e.owner_kind,
            e.owner_id,
            "envelope.rejected",
            json!({
                "envelope_id": e.id,
                "party_org_id": e.party_org_id,
                "party_name": e.party_name,
                "number": e.document_number,
                "reason": reason,
            }),
            by,
        )
        .await?;
    Ok(())
}

/// Whether a staff member may countersign, and the authority they sign
/// with: `(position, basis)`.
pub async fn countersign_authority(
    s: &Services,
    actor: &Actor,
) -> DomainResult<Option<(String, String)>> {
    if !actor.is_staff() {
        return Ok(None);
    }
    let row: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT can_countersign, sign_position, sign_basis FROM users WHERE id = $1",
    )
    .bind(actor.user_id())
    .fetch_optional(s.db.pool())
    .await?;
    Ok(match row {
        Some((1, position, basis)) => {
            Some((position.unwrap_or_default(), basis.unwrap_or_default()))
        }
        _ => None,
    })
}

/// An admin gives (or takes) a staff member the authority to countersign,
/// with the position and basis the signature page prints.
pub async fn set_authority(
    s: &Services,
    actor: &Actor,
    user_id: i64,
    allowed: bool,
    position: &str,
    basis: &str,
) -> DomainResult<()> {
    require(actor, Rule::Admin)?;
    let mut errors = FieldErrors::new();
    let (position, basis) = (position.trim(), basis.trim());
    if allowed && position.is_empty() {
        errors.add("position", "required");
    }
    if allowed && basis.is_empty() {
        errors.add("basis", "required");
    }
    if position.chars().count() > 200 {
        errors.add("position", "text.too_long");
    }
    if basis.chars().count() > 200 {
        errors.add("basis", "text.too_long");
    }
    errors.into_result()?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let n = sqlx::query(
        "UPDATE users SET can_countersign = $1, sign_position = $2, sign_basis = $3, updated_at = $4 \
         WHERE id = $5 AND org_id = $6",
    )
    .bind(i64::from(allowed))
    .bind(Some(position).filter(|p| !p.is_empty()))
    .bind(Some(basis).filter(|b| !b.is_empty()))
    .bind(to_db_time(now))
    .bind(user_id)
    .bind(actor.org_id())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "signing.authority",
        "user",
        Some(user_id),
        json!({"allowed": allowed, "position": position, "basis": basis}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The staff and their countersignature authority (the admin's page).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct StaffAuthority {
    pub id: i64,
    pub full_name: String,
    pub can_countersign: i64,
    pub sign_position: Option<String>,
    pub sign_basis: Option<String>,
}

pub async fn staff_authorities(s: &Services, actor: &Actor) -> DomainResult<Vec<StaffAuthority>> {
    require(actor, Rule::Admin)?;
    Ok(sqlx::query_as(
        "SELECT id, full_name, can_countersign, sign_position, sign_basis FROM users \
         WHERE org_id = $1 AND status = 'active' ORDER BY full_name",
    )
    .bind(actor.org_id())
    .fetch_all(s.db.pool())
    .await?)
}

/// A staff member with the authority countersigns an envelope the party
/// signed: the signed copy (original + signature page) is rendered and
/// stored, the signature kept, the copy's link sent to the party, and when
/// it was the owner's last envelope, the owner hears `order.signed`.
pub async fn countersign(
    s: &Services,
    actor: &Actor,
    envelope_id: i64,
    evidence: &Evidence,
) -> DomainResult<()> {
    require(actor, Rule::FrontOffice)?;
    let e = get(s, actor, envelope_id).await?;
    let Some((position, basis)) = countersign_authority(s, actor).await? else {
        return Err(DomainError::ForbiddenBecause("signing.no_authority"));
    };
    if e.status != "signed_by_party" {
        return Err(DomainError::Conflict("signing.not_signed_by_party"));
    }
    let now = s.db.now();
    let method = s.texts.text("signing-method-session", &HashMap::new());
    let ours = copy::SignatureLine {
        org: copy::broker_name(s).await?,
        name: actor.full_name().to_string(),
        position: position.clone(),
        basis: basis.clone(),
        signed_at: to_db_time(now),
        method: method.clone(),
        ip: evidence.ip.clone(),
        code_hash: None,
    };
    // Heavy work first, outside any transaction.
    let made = copy::make(s, &e, ours).await?;
    let broker = BrokerSignature {
        user_id: actor.user(),
        name: actor.full_name().to_string(),
        position,
        basis,
        method,
        cms_storage_key: None,
        ip: evidence.ip.clone(),
        user_agent: evidence.user_agent.clone(),
    };
    let result = async {
        let mut tx = s.db.begin().await?;
        countersigned_on(s, &mut tx, &e, &made, &broker, Some(actor)).await?;
        tx.commit().await?;
        DomainResult::Ok(())
    }
    .await;
    if let Err(err) = result {
        s.files.discard_generated(&made.storage_key).await;
        return Err(err);
    }
    s.after_commit();
    Ok(())
}

/// Our signature as it is kept: a staff member's (the built-in channel) or
/// the organisation's qualified one made for an EDO operator.
pub(crate) struct BrokerSignature {
    pub user_id: Option<i64>,
    pub name: String,
    pub position: String,
    pub basis: String,
    pub method: String,
    /// The detached CMS signature an EDO operator gave back, stored.
    pub cms_storage_key: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Records our countersignature of an envelope the party signed, with its
/// signed copy `made`: the envelope is `countersigned`, our signature kept,
/// the party told, and when it was the owner's last envelope, the owner
/// hears `<owner>.signed` (`order.signed`, `contract.signed`).
pub(crate) async fn countersigned_on(
    s: &Services,
    tx: &mut engine::Tx,
    e: &Envelope,
    made: &copy::Made,
    ours: &BrokerSignature,
    actor: Option<&Actor>,
) -> DomainResult<()> {
    let now = s.db.now();
    let moved = sqlx::query(
        "UPDATE envelopes SET status = 'countersigned', countersigned_at = $1, signed_storage_key = $2, \
         signed_sha256 = $3, updated_at = $1 WHERE id = $4 AND status = 'signed_by_party'",
    )
    .bind(to_db_time(now))
    .bind(&made.storage_key)
    .bind(&made.sha256)
    .bind(e.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(DomainError::Conflict("signing.not_signed_by_party"));
    }
    let broker = crate::access::broker_id_on(&mut **tx)
        .await?
        .ok_or(DomainError::Conflict("signing.no_broker"))?;
    sqlx::query(
        "INSERT INTO signatures (envelope_id, side, org_id, user_id, signer_name, position, basis, method, \
         document_sha256, cms_storage_key, ip, user_agent, signed_at) \
         VALUES ($1, 'broker', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(e.id)
    .bind(broker)
    .bind(ours.user_id)
    .bind(&ours.name)
    .bind(&ours.position)
    .bind(&ours.basis)
    .bind(&ours.method)
    .bind(&e.document_sha256)
    .bind(&ours.cms_storage_key)
    .bind(&ours.ip)
    .bind(&ours.user_agent)
    .bind(to_db_time(now))
    .execute(&mut **tx)
    .await?;
    super::envelopes::announce_signed_on(s, tx, e).await?;
    audit::record(
        tx,
        now,
        actor,
        "envelope.countersigned",
        "envelope",
        Some(e.id),
        json!({"signed_sha256": made.sha256, "by": ours.user_id, "method": ours.method, "ip": ours.ip}),
    )
    .await?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM envelopes WHERE owner_kind = $1 AND owner_id = $2 \
         AND status NOT IN ('countersigned', 'superseded')",
    )
    .bind(&e.owner_kind)
    .bind(e.owner_id)
    .fetch_one(&mut **tx)
    .await?;
    if waiting == 0 {
        let event = format!("{}.signed", e.owner_kind);
        s.engine
            .emit_to_object_in_tx(
                tx,
                &e.owner_kind,
                e.owner_id,
                &event,
                json!({"envelope_id": e.id, "how": "envelopes"}),
                ours.user_id,
            )
            .await?;
    }
    Ok(())
}

/// Staff issue a corrected version of a rejected (or still unsigned)
/// envelope's document: the next version is rendered and stored, a new
/// envelope goes to the party, the old one is `superseded`, and the owner
/// hears `envelope.reissued`. Returns the new envelope.
pub async fn reissue(s: &Services, actor: &Actor, envelope_id: i64) -> DomainResult<i64> {
    require(actor, Rule::FrontOffice)?;
    let e = get(s, actor, envelope_id).await?;
    if !matches!(e.status.as_str(), "rejected" | "sent") {
        return Err(DomainError::Conflict("signing.not_reissuable"));
    }
    let mut doc = issued::next_version_of(&s.db, e.document_id, actor.user()).await?;
    // The correction is marked where the document prints its number
    // ("…, исправление № 1"), so the new version is told apart from the
    // old one on paper (and its bytes and hash differ).
    let correction = e.document_version.to_string();
    if let Some(d) = doc.data.get_mut("document").and_then(|d| d.as_object_mut()) {
        let printed = d
            .get("number")
            .and_then(|n| n.as_str())
            .unwrap_or(&doc.number)
            .split(", ")
            .next()
            .unwrap_or_default()
            .to_string();
        let args: HashMap<&str, String> =
            HashMap::from([("number", printed), ("n", correction.clone())]);
        d.insert(
            "number".into(),
            json!(s.texts.text("signing-correction-number", &args)),
        );
        d.insert("correction".into(), json!(correction));
    }
    let prepared = issued::prepare(&s.db, &s.files, doc)
        .await
        .map_err(|err| match err {
            issued::IssueError::Domain(d) => d,
            other => DomainError::Other(anyhow::anyhow!("{other}")),
        })?;
    let now = s.db.now();
    let result = async {
        let mut tx = s.db.begin().await?;
        let moved = sqlx::query(
            "UPDATE envelopes SET status = 'superseded', updated_at = $1 WHERE id = $2 AND status IN ('rejected', 'sent')",
        )
        .bind(to_db_time(now))
        .bind(envelope_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Err(DomainError::Conflict("signing.not_reissuable"));
        }
        let doc_id = prepared.record(&mut tx, s.db.dialect(), now).await?;
        let doc = issued::IssuedDocument {
            id: doc_id,
            template_key: prepared.doc.template_key.clone(),
            template_version: prepared.template_version,
            number: prepared.doc.number.clone(),
            owner: prepared.doc.owner.clone(),
            party_org_id: prepared.doc.party_org_id,
            version: 0,
            sha256: prepared.rendered_sha256.clone(),
            size_bytes: prepared.size_bytes,
            pages: prepared.pages,
            created_by: actor.user(),
            created_at: to_db_time(now),
        };
        let new_id =
            super::envelopes::open_on(s, &mut tx, &doc, e.party_org_id, actor.user()).await?;
        sqlx::query("UPDATE envelopes SET superseded_by = $1 WHERE id = $2")
            .bind(new_id)
            .bind(envelope_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "envelope.reissued",
            "envelope",
            Some(envelope_id),
            json!({"new_envelope_id": new_id, "document_id": doc_id}),
        )
        .await?;
        s.engine
            .emit_to_object_in_tx(
                &mut tx,
                &e.owner_kind,
                e.owner_id,
                "envelope.reissued",
                json!({"envelope_id": new_id, "previous_id": envelope_id}),
                actor.user(),
            )
            .await?;
        tx.commit().await?;
        DomainResult::Ok(new_id)
    }
    .await;
    match result {
        Ok(id) => {
            s.after_commit();
            Ok(id)
        }
        Err(err) => {
            prepared.discard(&s.files).await;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_against_their_salted_hash() {
        let stored = code_hash("salt", "123456");
        assert!(code_matches(&stored, "123456"));
        assert!(!code_matches(&stored, "123457"));
        assert!(!code_matches("garbage", "123456"));
        assert!(!stored.contains("123456"));
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(masked("client@sevbeton.test"), "c***@sevbeton.test");
        assert_eq!(masked("+79161234542"), "+79161***42");
    }

    #[test]
    fn authority_needs_the_power_of_attorney_details() {
        let mut input = SignInput {
            code: "123456".into(),
            position: "Директор".into(),
            basis: "power_of_attorney".into(),
            ..Default::default()
        };
        let Err(DomainError::Invalid(e)) = check_authority(&input) else {
            panic!("refused")
        };
        assert_eq!(e.get("poa_number"), Some("required"));
        assert_eq!(e.get("poa_date"), Some("required"));
        input.poa_number = "12".into();
        input.poa_date = "2026-01-10".into();
        assert!(check_authority(&input).is_ok());
        input.code = "12a456".into();
        assert!(check_authority(&input).is_err());
    }
}
