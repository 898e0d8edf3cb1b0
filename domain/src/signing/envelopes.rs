//! Envelopes: one rendered document on its way to one counterparty, with
//! its channel and status; who may see which; sending an order's work
//! orders; the staff's channel override and the counterparty's default.

use std::collections::HashMap;

use engine::{Sql, to_db_time};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, Rule, audit, require, scope};
use crate::error::{DomainError, DomainResult};
use crate::notify::{RECIPIENT_COLUMNS, Recipient, tell};
use crate::paperwork::issued;
use crate::services::Services;

/// How a counterparty signs.
pub const CHANNELS: [&str; 3] = ["pep", "diadoc", "sbis"];

/// An envelope's statuses, in the order they go.
pub const STATUSES: [&str; 5] = [
    "sent",
    "signed_by_party",
    "countersigned",
    "rejected",
    "superseded",
];

/// One signature given on an envelope, as the pages show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SignatureView {
    pub side: String,
    pub signer_name: String,
    pub position: String,
    pub basis: String,
    pub poa_number: Option<String>,
    pub poa_date: Option<String>,
    pub method: String,
    pub document_sha256: String,
    pub signed_at: i64,
}

/// An envelope with the document it carries.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub id: i64,
    pub document_id: i64,
    pub document_number: String,
    pub template_key: String,
    pub document_version: i64,
    pub document_sha256: String,
    pub owner_kind: String,
    pub owner_id: i64,
    pub owner_part: String,
    pub party_org_id: i64,
    pub party_name: String,
    pub channel: String,
    pub edo_box_id: Option<String>,
    pub status: String,
    pub reject_reason: Option<String>,
    pub signed_sha256: Option<String>,
    pub created_at: i64,
    pub party_signed_at: Option<i64>,
    pub countersigned_at: Option<i64>,
    pub rejected_at: Option<i64>,
    pub signatures: Vec<SignatureView>,
}

const SELECT: &str = "SELECT e.id, e.document_id, d.number AS document_number, d.template_key, \
    d.version AS document_version, d.sha256 AS document_sha256, e.owner_kind, e.owner_id, e.owner_part, \
    e.party_org_id, o.name AS party_name, e.channel, e.edo_box_id, e.status, e.reject_reason, e.signed_sha256, \
    e.created_at, e.party_signed_at, e.countersigned_at, e.rejected_at \
    FROM envelopes e JOIN rendered_documents d ON d.id = e.document_id \
    JOIN organisations o ON o.id = e.party_org_id WHERE 1 = 1";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Envelope, sqlx::Error> {
    Ok(Envelope {
        id: r.try_get("id")?,
        document_id: r.try_get("document_id")?,
        document_number: r.try_get("document_number")?,
        template_key: r.try_get("template_key")?,
        document_version: r.try_get("document_version")?,
        document_sha256: r.try_get("document_sha256")?,
        owner_kind: r.try_get("owner_kind")?,
        owner_id: r.try_get("owner_id")?,
        owner_part: r.try_get("owner_part")?,
        party_org_id: r.try_get("party_org_id")?,
        party_name: r.try_get("party_name")?,
        channel: r.try_get("channel")?,
        edo_box_id: r.try_get("edo_box_id")?,
        status: r.try_get("status")?,
        reject_reason: r.try_get("reject_reason")?,
        signed_sha256: r.try_get("signed_sha256")?,
        created_at: r.try_get("created_at")?,
        party_signed_at: r.try_get("party_signed_at")?,
        countersigned_at: r.try_get("countersigned_at")?,
        rejected_at: r.try_get("rejected_at")?,
        signatures: Vec::new(),
    })
}

async fn with_signatures(s: &Services, mut list: Vec<Envelope>) -> DomainResult<Vec<Envelope>> {
    for e in &mut list {
        e.signatures = sqlx::query_as(
            "SELECT side, signer_name, position, basis, poa_number, poa_date, method, document_sha256, signed_at \
             FROM signatures WHERE envelope_id = $1 ORDER BY id",
        )
        .bind(e.id)
        .fetch_all(s.db.pool())
        .await?;
    }
    Ok(list)
}

/// An envelope for the system (workers, the EDO ingress): no reader's rules.
pub(crate) async fn system_get(s: &Services, id: i64) -> DomainResult<Envelope> {
    let mut sql = Sql::new(SELECT);
    sql.push(" AND e.id = ").bind(id);
    let row = sql
        .query()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    let e = from_row(&row)?;
    Ok(with_signatures(s, vec![e]).await?.remove(0))
}

/// Whether `actor` may read the envelopes of an owner object: staff who
/// may see the object, the party only its own envelopes (checked by the
/// caller on `party_org_id`).
async fn owner_visible(s: &Services, actor: &Actor, kind: &str, id: i64) -> DomainResult<bool> {
    let (table, resource) = match kind {
        "order" => ("orders", Resource::Order),
        "contract" => ("contracts", Resource::Contract),
        _ => return Ok(actor.is_staff()),
    };
    let mut sql = Sql::new(&format!("SELECT COUNT(*) FROM {table} x WHERE x.id = "));
    sql.bind(id);
    scope(&mut sql, actor, resource, "x");
    let n: i64 = sql.query_scalar().fetch_one(s.db.pool()).await?;
    Ok(n > 0)
}

/// Whether a party's member may deal with envelopes at all: a client's
/// people and a supplier's office (not its drivers).
fn party_member(actor: &Actor) -> bool {
    match actor.org_kind() {
        OrgKind::Client => true,
        OrgKind::Supplier => actor.is_supplier_office(),
        _ => false,
    }
}

/// Whether `actor` signs for its organisation: anyone of a client, a
/// supplier's owner (a dispatcher sees the envelope but does not sign).
pub fn signs_for_party(actor: &Actor) -> bool {
    match actor.org_kind() {
        OrgKind::Client => true,
        OrgKind::Supplier => actor.has(Role::Owner),
        _ => false,
    }
}

/// One envelope, if `actor` may read it: staff who may see its owner, and
/// the counterparty it is for; anyone else gets "not found".
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Envelope> {
    let e = system_get(s, id).await?;
    let ok = if actor.is_staff() {
        owner_visible(s, actor, &e.owner_kind, e.owner_id).await?
    } else {
        party_member(actor) && e.party_org_id == actor.org_id()
    };
    if ok {
        Ok(e)
    } else {
        Err(DomainError::NotFound)
    }
}

/// The envelopes of an owner object that `actor` may read, newest first
/// per part: staff all, a party its own.
pub async fn for_owner(
    s: &Services,
    actor: &Actor,
    kind: &str,
    id: i64,
) -> DomainResult<Vec<Envelope>> {
    if !owner_visible(s, actor, kind, id).await? {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(SELECT);
    sql.push(" AND e.owner_kind = ").bind(kind.to_string());
    sql.push(" AND e.owner_id = ").bind(id);
    if !actor.is_staff() {
        if !party_member(actor) {
            return Ok(Vec::new());
        }
        sql.push(" AND e.party_org_id = ").bind(actor.org_id());
    }
    sql.push(" ORDER BY e.owner_part, e.id DESC");
    let rows = sql.query().fetch_all(s.db.pool()).await?;
    let list = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_signatures(s, list).await
}

/// The party's envelopes ("документы на подпись"), open ones first.
pub async fn inbox(s: &Services, actor: &Actor) -> DomainResult<Vec<Envelope>> {
    if actor.is_staff() || !party_member(actor) {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(SELECT);
    sql.push(" AND e.party_org_id = ").bind(actor.org_id());
    sql.push(" AND e.status <> 'superseded'");
    sql.push(
        " ORDER BY CASE e.status WHEN 'sent' THEN 0 WHEN 'signed_by_party' THEN 1 ELSE 2 END, e.id DESC LIMIT 200",
    );
    let rows = sql.query().fetch_all(s.db.pool()).await?;
    let list = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_signatures(s, list).await
}

/// The original PDF an envelope carries, for whoever may read the envelope.
pub async fn original_pdf(s: &Services, actor: &Actor, id: i64) -> DomainResult<(String, Vec<u8>)> {
    let e = get(s, actor, id).await?;
    let (doc, bytes) = issued::system_pdf(&s.db, &s.files, e.document_id).await?;
    Ok((format!("{}-v{}.pdf", doc.number, doc.version), bytes))
}

/// The signed copy (original + signature page), once countersigned.
pub async fn signed_pdf(s: &Services, actor: &Actor, id: i64) -> DomainResult<(String, Vec<u8>)> {
    use sha2::{Digest, Sha256};
    let e = get(s, actor, id).await?;
    let key: Option<String> =
        sqlx::query_scalar("SELECT signed_storage_key FROM envelopes WHERE id = $1")
            .bind(id)
            .fetch_one(s.db.pool())
            .await?;
    let (Some(key), Some(sha)) = (key, e.signed_sha256.as_deref()) else {
        return Err(DomainError::NotFound);
    };
    let bytes = s.files.get_generated(&key).await?;
    if hex::encode(Sha256::digest(&bytes)) != sha {
        return Err(
            anyhow::anyhow!("envelope {id}: signed copy does not match its SHA-256").into(),
        );
    }
    Ok((
        format!("{}-v{}-signed.pdf", e.document_number, e.document_version),
        bytes,
    ))
}

/// The counterparty's signing channel and EDO box.
pub async fn org_channel_on(
    conn: &mut AnyConnection,
    org_id: i64,
) -> DomainResult<(String, Option<String>)> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT signing_channel, edo_box_id FROM organisations WHERE id = $1")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.unwrap_or_else(|| ("pep".into(), None)))
}

/// The people who sign for `org`: a client's users, a supplier's owners.
async fn signers_on(conn: &mut AnyConnection, org_id: i64) -> DomainResult<Vec<Recipient>> {
    let sql = format!(
        "SELECT {RECIPIENT_COLUMNS} FROM users u JOIN organisations o ON o.id = u.org_id \
         WHERE u.org_id = $1 AND u.status = 'active' AND (o.kind = 'client' OR EXISTS \
           (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'owner')) ORDER BY u.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// Tells the party's signers that a document waits for them.
async fn announce_on(
    s: &Services,
    conn: &mut AnyConnection,
    envelope_id: i64,
    org_id: i64,
    number: &str,
    key: &str,
) -> DomainResult<()> {
    let link = format!("{}/signing/{envelope_id}", s.base_url);
    let args: HashMap<&str, String> =
        HashMap::from([("number", number.to_string()), ("link", link)]);
    for person in signers_on(conn, org_id).await? {
        tell(s, conn, &person, key, &args).await?;
    }
    Ok(())
}

/// Creates the envelope of one issued document for its party and, on the
/// built-in channel, tells the party's signers. EDO envelopes wait for the
/// operator's posting ([`super::edo`]).
pub(crate) async fn open_on(
    s: &Services,
    conn: &mut AnyConnection,
    doc: &issued::IssuedDocument,
    party: i64,
    by: Option<i64>,
) -> DomainResult<i64> {
    let now = to_db_time(s.db.now());
    let (channel, edo_box) = org_channel_on(conn, party).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO envelopes (document_id, owner_kind, owner_id, owner_part, party_org_id, channel, edo_box_id, \
         status, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent', $8, $9, $9) RETURNING id",
    )
    .bind(doc.id)
    .bind(&doc.owner.kind)
    .bind(doc.owner.id)
    .bind(&doc.owner.part)
    .bind(party)
    .bind(&channel)
    .bind(edo_box)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if channel == "pep" {
        announce_on(s, conn, id, party, &doc.number, "mail-signing-sent").await?;
    }
    audit::record(
        conn,
        s.db.now(),
        None,
        "envelope.sent",
        "envelope",
        Some(id),
        json!({"document_id": doc.id, "channel": channel, "party_org_id": party, "by": by}),
    )
    .await?;
    Ok(id)
}

/// `signing.send_order` (local, in the step that enters "ready for
/// signing"): an envelope for every issued document of the order that is
/// for a party and has none yet (a rejected one waits for its corrected
/// version). Sending twice sends nothing new. Returns how many were sent.
pub(crate) async fn send_owner_on(
    s: &Services,
    conn: &mut AnyConnection,
    kind: &str,
    id: i64,
    by: Option<i64>,
) -> DomainResult<usize> {
    let docs = issued::latest_on(conn, kind, id).await?;
    let mut sent = 0;
    for doc in docs {
        let Some(party) = doc.party_org_id else {
            continue;
        };
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM envelopes WHERE owner_kind = $1 AND owner_id = $2 AND owner_part = $3 \
             AND status <> 'superseded'",
        )
        .bind(kind)
        .bind(id)
        .bind(&doc.owner.part)
        .fetch_one(&mut *conn)
        .await?;
        if open > 0 {
            continue;
        }
        open_on(s, conn, &doc, party, by).await?;
        sent += 1;
    }
    Ok(sent)
}

/// Staff send an order's issued work orders for signing now (the workflow
/// does it on entering "ready for signing"; this is for documents issued
/// later). Returns how many envelopes went out.
pub async fn send_order(s: &Services, actor: &Actor, order_id: i64) -> DomainResult<usize> {
    require(actor, Rule::FrontOffice)?;
    if !owner_visible(s, actor, "order", order_id).await? {
        return Err(DomainError::NotFound);
    }
    let mut tx = s.db.begin().await?;
    let n = send_owner_on(s, &mut tx, "order", order_id, actor.user()).await?;
    if n == 0 {
        return Err(DomainError::Conflict("signing.nothing_to_send"));
    }
    tx.commit().await?;
    s.after_commit();
    Ok(n)
}

/// What staff choose for an envelope's channel.
#[derive(Debug, Clone, Default)]
pub struct ChannelInput {
    pub channel: String,
    pub edo_box_id: String,
    /// Also make it the counterparty's default.
    pub remember: bool,
}

/// Staff override an envelope's channel (before the party signed), and
/// optionally make it the counterparty's default. An EDO channel needs the
/// party's box id.
pub async fn set_channel(
    s: &Services,
    actor: &Actor,
    id: i64,
    input: &ChannelInput,
) -> DomainResult<()> {
    require(actor, Rule::FrontOffice)?;
    let e = get(s, actor, id).await?;
    let channel = input.channel.trim();
    if !CHANNELS.contains(&channel) {
        return Err(DomainError::field("channel", "signing.channel_unknown"));
    }
    let edo_box = input.edo_box_id.trim();
    if channel != "pep" && edo_box.is_empty() {
        return Err(DomainError::field("edo_box_id", "required"));
    }
    if edo_box.chars().count() > 200 {
        return Err(DomainError::field("edo_box_id", "text.too_long"));
    }
    if e.status != "sent" || e.party_signed_at.is_some() {
        return Err(DomainError::Conflict("signing.channel_fixed"));
    }
    // Once at an operator, the document is the counterparty's to answer there.
    let posted: Option<String> =
        sqlx::query_scalar("SELECT edo_message_id FROM envelopes WHERE id = $1")
            .bind(id)
            .fetch_one(s.db.pool())
            .await?;
    if posted.is_some() {
        return Err(DomainError::Conflict("signing.channel_fixed"));
    }
    let edo_box = (channel != "pep").then(|| edo_box.to_string());
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query(
        "UPDATE envelopes SET channel = $1, edo_box_id = $2, updated_at = $3 \
         WHERE id = $4 AND status = 'sent' AND edo_message_id IS NULL",
    )
    .bind(channel)
    .bind(&edo_box)
    .bind(to_db_time(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if input.remember {
        sqlx::query("UPDATE organisations SET signing_channel = $1, edo_box_id = $2 WHERE id = $3")
            .bind(channel)
            .bind(&edo_box)
            .bind(e.party_org_id)
            .execute(&mut *tx)
            .await?;
    }
    if channel == "pep" && e.channel != "pep" {
        announce_on(
            s,
            &mut tx,
            id,
            e.party_org_id,
            &e.document_number,
            "mail-signing-sent",
        )
        .await?;
    }
    if channel != "pep" {
        // The owner's workflow has it posted (`signing.post_edo`).
        s.engine
            .emit_to_object_in_tx(
                &mut tx,
                &e.owner_kind,
                e.owner_id,
                "envelope.channel_changed",
                json!({"envelope_id": id, "channel": channel}),
                actor.user(),
            )
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "envelope.channel",
        "envelope",
        Some(id),
        json!({"channel": channel, "edo_box_id": edo_box, "remember": input.remember}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// `signing.remind` (local, a workflow timer): tells the signers of every
/// built-in envelope of the owner still waiting for them again.
pub(crate) async fn remind_owner_on(
    s: &Services,
    conn: &mut AnyConnection,
    kind: &str,
    id: i64,
) -> DomainResult<usize> {
    let waiting: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT e.id, e.party_org_id, d.number FROM envelopes e JOIN rendered_documents d ON d.id = e.document_id \
         WHERE e.owner_kind = $1 AND e.owner_id = $2 AND e.status = 'sent' AND e.channel = 'pep' ORDER BY e.id",
    )
    .bind(kind)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let now = to_db_time(s.db.now());
    for (envelope, party, number) in &waiting {
        announce_on(s, conn, *envelope, *party, number, "mail-signing-reminder").await?;
        sqlx::query("UPDATE envelopes SET reminded_at = $1 WHERE id = $2")
            .bind(now)
            .bind(envelope)
            .execute(&mut *conn)
            .await?;
    }
    Ok(waiting.len())
}

/// Tells the party's signers that the countersigned copy is ready, with
/// the link to it.
pub(crate) async fn announce_signed_on(
    s: &Services,
    conn: &mut AnyConnection,
    e: &Envelope,
) -> DomainResult<()> {
    announce_on(
        s,
        conn,
        e.id,
        e.party_org_id,
        &e.document_number,
        "mail-signing-done",
    )
    .await
}
