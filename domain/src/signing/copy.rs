//! The signed copy and its verification.
//!
//! A countersigned envelope gets a signed copy: the original PDF's pages,
//! unchanged, followed by a signature page rendered by Typst (the
//! `signature_page` template, editable like the others) listing the
//! signers, their authority, the times (UTC), the original's SHA-256 and a
//! verification link with its QR code. The copy is stored once, never
//! changed, with its own SHA-256 on the envelope.
//!
//! [`verify`] answers the public verification page: the SHA-256 of a PDF
//! (the signed copy or the original) → which document, who signed it,
//! when, with what authority. An unknown hash — an altered file — finds
//! nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::envelopes::{Envelope, SignatureView, system_get};
use crate::error::{DomainError, DomainResult};
use crate::paperwork::{issued, templates};
use crate::services::Services;

/// One signature as the signature page prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureLine {
    pub org: String,
    pub name: String,
    pub position: String,
    pub basis: String,
    /// UTC milliseconds.
    pub signed_at: i64,
    pub method: String,
    pub ip: Option<String>,
    pub code_hash: Option<String>,
}

/// A party's signature as read back: organisation, signer, position,
/// basis, time, method, IP address, code hash.
type PartyRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// A stored signed copy.
pub struct Made {
    pub storage_key: String,
    pub sha256: String,
}

/// The broker's name as documents print it.
pub async fn broker_name(s: &Services) -> DomainResult<String> {
    let id = crate::access::broker_id(&s.db)
        .await?
        .ok_or(DomainError::Conflict("signing.no_broker"))?;
    Ok(
        sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1")
            .bind(id)
            .fetch_one(s.db.pool())
            .await?,
    )
}

fn utc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%d.%m.%Y %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The verification link for a document's SHA-256.
pub fn verify_url(s: &Services, sha256: &str) -> String {
    format!("{}/verify?sha256={sha256}", s.base_url)
}

/// Renders and stores the signed copy of `e` with the party's signatures
/// kept so far and `ours`. Nothing is written to the database; the caller
/// records the key and hash (and discards the file if it cannot).
pub(crate) async fn make(s: &Services, e: &Envelope, ours: SignatureLine) -> DomainResult<Made> {
    let (doc, original) = issued::system_pdf(&s.db, &s.files, e.document_id).await?;
    let party: Vec<PartyRow> =
        sqlx::query_as(
            "SELECT o.name, g.signer_name, g.position, g.basis, g.signed_at, g.method, g.ip, g.code_hash \
             FROM signatures g JOIN organisations o ON o.id = g.org_id WHERE g.envelope_id = $1 AND g.side = 'party' ORDER BY g.id",
        )
        .bind(e.id)
        .fetch_all(s.db.pool())
        .await?;
    let mut lines: Vec<SignatureLine> = party
        .into_iter()
        .map(
            |(org, name, position, basis, signed_at, method, ip, code_hash)| SignatureLine {
                org,
                name,
                position,
                basis,
                signed_at,
                method,
                ip,
                // The salted digest as kept (salt$sha256): the page prints the digest.
                code_hash: code_hash.map(|h| h.rsplit('$').next().unwrap_or_default().to_string()),
            },
        )
        .collect();
    lines.push(ours);
    let url = verify_url(s, &doc.sha256);
    let qr = documents::qr_svg(&url).map_err(|err| anyhow::anyhow!("{err}"))?;
    let title = s.texts.text(
        &format!("doc-template-{}", doc.template_key),
        &HashMap::new(),
    );
    let data = json!({
        "document": {
            "title": title,
            "number": doc.number,
            "version": doc.version,
            "pages": doc.pages,
            "sha256": doc.sha256,
        },
        "original_pages": doc.pages,
        "signatures": lines.iter().map(|l| json!({
            "org": l.org,
            "name": l.name,
            "position": l.position,
            "basis": l.basis,
            "time": utc(l.signed_at),
            "method": l.method,
            "ip": l.ip,
            "code_hash": l.code_hash,
        })).collect::<Vec<_>>(),
        "verify_url": url,
        "qr_svg": qr,
    });
    let template = templates::active(&s.db, "signature_page").await?;
    let rendered = tokio::task::spawn_blocking(move || {
        documents::render_with(&template, &data, vec![("/original.pdf".into(), original)])
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(|err| anyhow::anyhow!("signature page: {err}"))?;
    let storage_key = s.files.put_generated(&rendered.pdf).await?;
    Ok(Made {
        storage_key,
        sha256: rendered.sha256,
    })
}

/// What the verification page shows for a known document.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// `signed_copy` when the hash is a signed copy's, `original` when it
    /// is the document as issued.
    pub matched: String,
    pub template_key: String,
    pub number: String,
    pub version: i64,
    pub original_sha256: String,
    pub signed_sha256: Option<String>,
    pub status: String,
    pub party_name: String,
    pub signatures: Vec<SignatureView>,
    pub signer_orgs: Vec<String>,
}

/// Normalises a typed SHA-256 (hex, any case, spaces around); `None` when
/// it is not one.
pub fn parse_sha256(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_lowercase();
    (t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())).then_some(t)
}

/// The public verification: a PDF's SHA-256 → the envelope(s) it belongs
/// to. Only signed (or signing) documents are shown; a hash nobody issued
/// or signed — an altered file — is [`DomainError::NotFound`].
pub async fn verify(s: &Services, sha256: &str) -> DomainResult<Verified> {
    let sha = parse_sha256(sha256).ok_or(DomainError::NotFound)?;
    let signed: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM envelopes WHERE signed_sha256 = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(&sha)
    .fetch_optional(s.db.pool())
    .await?;
    let (matched, envelope) = match signed {
        Some(id) => ("signed_copy", id),
        None => {
            let docs = issued::by_sha256(&s.db, &sha).await?;
            let ids: Vec<i64> = docs.iter().map(|d| d.id).collect();
            let mut found = None;
            for id in ids {
                let e: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM envelopes WHERE document_id = $1 AND status IN ('signed_by_party', 'countersigned')",
                )
                .bind(id)
                .fetch_optional(s.db.pool())
                .await?;
                if e.is_some() {
                    found = e;
                }
            }
            ("original", found.ok_or(DomainError::NotFound)?)
        }
    };
    let e = system_get(s, envelope).await?;
    let mut signer_orgs = Vec::new();
    for g in &e.signatures {
        signer_orgs.push(if g.side == "party" {
            e.party_name.clone()
        } else {
            broker_name(s).await?
        });
    }
    Ok(Verified {
        matched: matched.into(),
        template_key: e.template_key,
        number: e.document_number,
        version: e.document_version,
        original_sha256: e.document_sha256,
        signed_sha256: e.signed_sha256,
        status: e.status,
        party_name: e.party_name,
        signatures: e.signatures,
        signer_orgs,
    })
}
