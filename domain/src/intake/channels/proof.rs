//! Proof that a public request is an existing client's (issue 10, point 6).
//!
//! A website or API visitor is found again by INN, phone or e-mail
//! ([`find_client`]). But knowing a client's phone number (or its INN, which
//! is public) proves nothing: a request filed for the client on that alone
//! would act in the client's name. So a public request is the client's at
//! once only when everything the visitor typed that identifies a client —
//! phone, e-mail, INN — is already the client's on record (its own, a
//! contact person's, an active user's: [`orgs::has_contact`]). Otherwise it
//! is **client unconfirmed**:
//!
//! - it is filed under the matched client, so the person who handles that
//!   client (its manager or hunter) gets it and can call the client to
//!   check; the match (by what, and the client as typed) is kept in
//!   `request_client_matches`;
//! - the client's own users do not see it (the tenancy scope leaves it out),
//!   its attachments are held by the broker, not the client, and no offer can
//!   be sent for it (`request.client_unconfirmed`);
//! - the visitor is answered exactly as any visitor is: nothing of the
//!   client (not even that the phone is known) comes back to them;
//! - staff decide on the request page: [`confirm_client`] (the same client:
//!   the typed contacts become the client's and the request goes on) or
//!   [`split_client`] (another client: a new client is made from the typed
//!   details and takes the request).
//!
//! Our offers go only to the client's verified contacts
//! ([`orgs::verified_recipients`]), never to a request's typed contact; so
//! even a request that slips through cannot send the client's mail to a
//! stranger.

use super::*;
use crate::parties::orgs::ContactKind;

/// What a public request's client was found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Inn,
    Phone,
    Email,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Inn => "inn",
            MatchedBy::Phone => "phone",
            MatchedBy::Email => "email",
        }
    }
}

/// An existing client that typed details point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientMatch {
    pub org_id: i64,
    pub by: MatchedBy,
}

/// An existing client with this INN, phone or e-mail (in that order): the
/// organisation's own, a contact person's or a client user's.
pub(super) async fn find_client(
    tx: &mut Tx,
    c: &ValidClient,
) -> Result<Option<ClientMatch>, sqlx::Error> {
    if let Some(inn) = &c.inn {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM organisations WHERE kind = 'client' AND inn = $1 ORDER BY id LIMIT 1",
        )
        .bind(inn)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(org_id) = id {
            return Ok(Some(ClientMatch {
                org_id,
                by: MatchedBy::Inn,
            }));
        }
    }
    for (column, value, by) in [
        ("phone", &c.phone, MatchedBy::Phone),
        ("email", &c.email, MatchedBy::Email),
    ] {
        let Some(value) = value else { continue };
        // `column` is one of two fixed names, never input.
        let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT o.id FROM organisations o WHERE o.kind = 'client' AND (o.{column} = $1
               OR EXISTS (SELECT 1 FROM org_contacts c WHERE c.org_id = o.id AND c.{column} = $1)
               OR EXISTS (SELECT 1 FROM users u WHERE u.org_id = o.id AND u.{column} = $1))
             ORDER BY o.id LIMIT 1"
        )))
        .bind(value)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(org_id) = id {
            return Ok(Some(ClientMatch { org_id, by }));
        }
    }
    Ok(None)
}

/// Whether everything the visitor typed that identifies a client is the
/// matched client's on record: the phone, the e-mail, and the INN when one
/// was typed (a private person's phone with some company's INN is not
/// proof that the person orders for that company, nor the reverse).
pub(super) async fn proven(
    tx: &mut Tx,
    m: &ClientMatch,
    c: &ValidClient,
) -> Result<bool, sqlx::Error> {
    if let Some(inn) = &c.inn {
        let theirs: Option<Option<String>> =
            sqlx::query_scalar("SELECT inn FROM organisations WHERE id = $1")
                .bind(m.org_id)
                .fetch_optional(&mut **tx)
                .await?;
        if theirs.flatten().as_deref() != Some(inn.as_str()) {
            return Ok(false);
        }
    }
    for (kind, value) in [
        (ContactKind::Phone, &c.phone),
        (ContactKind::Email, &c.email),
    ] {
        if let Some(v) = value
            && !orgs::has_contact(tx, m.org_id, kind, v).await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Holds a request as "client unconfirmed" (in the request's transaction).
pub(super) async fn hold_unconfirmed(
    tx: &mut Tx,
    now: DateTime<Utc>,
    request_id: i64,
    m: &ClientMatch,
    c: &ValidClient,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO request_client_matches (request_id, matched_org_id, matched_by, status, legal_form, name, inn,
           contact_name, phone, email, created_at)
         VALUES ($1, $2, $3, 'unconfirmed', $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(request_id)
    .bind(m.org_id)
    .bind(m.by.as_str())
    .bind(&c.legal_form)
    .bind(&c.name)
    .bind(c.inn.clone())
    .bind(c.contact_name.clone())
    .bind(c.phone.clone())
    .bind(c.email.clone())
    .bind(to_db_time(now))
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        now,
        None,
        "request.client_unconfirmed",
        "request",
        Some(request_id),
        json!({"matched_org_id": m.org_id, "matched_by": m.by}),
    )
    .await
}

/// Whether the request waits for staff to confirm its client: then nothing
/// may go out in the client's name (our offer). Reads through `conn` (the
/// read pool, or a connection inside the caller's transaction).
pub async fn client_unconfirmed<'c, E>(conn: E, request_id: i64) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_client_matches WHERE request_id = $1 AND status = 'unconfirmed'",
    )
    .bind(request_id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// A public request's match with an existing client, as staff see it on
/// the request page.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ClientMatchView {
    pub request_id: i64,
    pub matched_org_id: i64,
    pub matched_name: String,
    /// `inn`, `phone` or `email`.
    pub matched_by: String,
    /// `unconfirmed`, `confirmed` or `split`.
    pub status: String,
    /// The client as the visitor typed it.
    pub legal_form: String,
    pub name: String,
    pub inn: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub split_org_id: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<i64>,
}

impl ClientMatchView {
    pub fn unconfirmed(&self) -> bool {
        self.status == "unconfirmed"
    }
}

/// The match of a request staff may see (`None`: the request was not held).
pub async fn client_match(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<Option<ClientMatchView>> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    requests::get(s, actor, request_id).await?;
    Ok(sqlx::query_as(MATCH_SELECT)
        .bind(request_id)
        .fetch_optional(s.db.pool())
        .await?)
}

const MATCH_SELECT: &str =
    "SELECT m.request_id, m.matched_org_id, o.name AS matched_name, m.matched_by, m.status,
        m.legal_form, m.name, m.inn, m.contact_name, m.phone, m.email, m.split_org_id,
        u.full_name AS decided_by_name, m.decided_at
    FROM request_client_matches m JOIN organisations o ON o.id = m.matched_org_id
    LEFT JOIN users u ON u.id = m.decided_by
    WHERE m.request_id = $1";

/// Marks an unconfirmed match decided; `Conflict` when it is not (any
/// more) waiting — two staff pressing the buttons at once decide once.
async fn decide(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    request_id: i64,
    status: &str,
    split_org_id: Option<i64>,
) -> DomainResult<ClientMatchView> {
    let done = sqlx::query(
        "UPDATE request_client_matches SET status = $1, split_org_id = $2, decided_by = $3, decided_at = $4
         WHERE request_id = $5 AND status = 'unconfirmed'",
    )
    .bind(status)
    .bind(split_org_id)
    .bind(actor.user())
    .bind(to_db_time(now))
    .bind(request_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(DomainError::Conflict("request.client_already_decided"));
    }
    Ok(sqlx::query_as(MATCH_SELECT)
        .bind(request_id)
        .fetch_one(&mut **tx)
        .await?)
}

/// Gives a held request's attachments (kept by the broker meanwhile) to
/// the client the request now belongs to.
async fn move_files(tx: &mut Tx, request_id: i64, org_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE files SET org_id = $1 WHERE id IN (SELECT file_id FROM request_files WHERE request_id = $2)",
    )
    .bind(org_id)
    .bind(request_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Staff: the visitor is the matched client. The contacts they typed that
/// the client does not have yet become a contact person of the client, and
/// the request goes on as the client's (offers go to the client's verified
/// contacts, now including these).
pub async fn confirm_client(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    requests::get(s, actor, request_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let m = decide(&mut tx, now, actor, request_id, "confirmed", None).await?;
    let mut phone = m.phone.clone();
    let mut email = m.email.clone();
    for (kind, value) in [
        (ContactKind::Phone, &mut phone),
        (ContactKind::Email, &mut email),
    ] {
        if let Some(v) = value.as_deref()
            && orgs::has_contact(&mut tx, m.matched_org_id, kind, v).await?
        {
            *value = None;
        }
    }
    if phone.is_some() || email.is_some() {
        let name = m.contact_name.clone().unwrap_or_else(|| m.name.clone());
        orgs::add_contact(
            &mut tx,
            now,
            m.matched_org_id,
            &name,
            phone.as_deref(),
            email.as_deref(),
        )
        .await?;
    }
    move_files(&mut tx, request_id, m.matched_org_id).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "request.client_confirmed",
        "request",
        Some(request_id),
        json!({"client_org_id": m.matched_org_id, "added_phone": phone, "added_email": email}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Staff: the visitor is someone else. A new client is made from what they
/// typed (without the matched client's INN: that one is not theirs) and
/// takes the request, its files and a manager of its own; the matched
/// client keeps nothing of it. Returns the new client's id.
pub async fn split_client(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<i64> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let r = requests::get(s, actor, request_id).await?;
    let channel = Channel::parse(&r.channel).unwrap_or(Channel::Website);
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    // Decide first: a second press finds nothing waiting and changes nothing.
    let m = decide(&mut tx, now, actor, request_id, "split", None).await?;
    let their_inn: Option<String> =
        sqlx::query_scalar("SELECT inn FROM organisations WHERE id = $1")
            .bind(m.matched_org_id)
            .fetch_one(&mut *tx)
            .await?;
    let typed = ValidClient {
        legal_form: m.legal_form.clone(),
        name: m.name.clone(),
        inn: m.inn.clone().filter(|i| their_inn.as_ref() != Some(i)),
        contact_name: m.contact_name.clone(),
        phone: m.phone.clone(),
        email: m.email.clone(),
    };
    let new_id = create_client(&mut tx, now, &typed, channel, None).await?;
    sqlx::query("UPDATE request_client_matches SET split_org_id = $1 WHERE request_id = $2")
        .bind(new_id)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    // The request leaves the matched client: its hunter gets no credit.
    sqlx::query(
        "UPDATE requests SET client_org_id = $1, hunter_user_id = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(new_id)
    .bind(to_db_time(now))
    .bind(request_id)
    .execute(&mut *tx)
    .await?;
    move_files(&mut tx, request_id, new_id).await?;
    // A passive channel's client gets a manager at once (DESIGN §4): the
    // manager already handling the request keeps it; otherwise (the matched
    // client's hunter had it) the rule picks one and the request follows.
    let owner = match r.owner_user_id {
        Some(u) if ownership::is_active_manager(&mut tx, u).await? => {
            ownership::assign_manager(&mut tx, new_id, u, channel).await?;
            Some(u)
        }
        _ => ownership::owner_for_new_request(&mut tx, new_id, channel, None).await?,
    };
    if owner != r.owner_user_id {
        sqlx::query("UPDATE requests SET owner_user_id = $1 WHERE id = $2")
            .bind(owner)
            .bind(request_id)
            .execute(&mut *tx)
            .await?;
        s.engine
            .emit_to_object_in_tx(
                &mut tx,
                "request",
                request_id,
                "owner.changed",
                json!({"owner_user_id": owner}),
                actor.user(),
            )
            .await?;
    }
    requests::reindex(&mut tx, request_id).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "request.client_split",
        "request",
        Some(request_id),
        json!({"from_org_id": m.matched_org_id, "client_org_id": new_id, "owner": owner}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(new_id)
}
