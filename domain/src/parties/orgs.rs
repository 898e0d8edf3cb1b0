//! Organisations: the broker itself, supplier companies and clients
//! (companies, sole proprietors, private persons).

use chrono::{DateTime, Utc};
use engine::{Db, Sql, Tx, to_db_time};
use serde::Serialize;

/// The broker's id lives in `access` so that contexts below `parties` may
/// ask for it; re-exported here for existing callers.
pub use crate::access::broker_id;
use crate::access::roles::OrgKind;
use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult};

/// Legal forms we deal with.
pub const LEGAL_FORMS: [&str; 6] = ["ooo", "ao", "pao", "ip", "self_employed", "person"];

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organisation {
    pub id: i64,
    pub kind: String,
    pub legal_form: String,
    pub name: String,
    pub short_name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub created_at: i64,
}

const COLUMNS: &str = "o.id, o.kind, o.legal_form, o.name, o.short_name, o.inn, o.kpp, o.ogrn, o.phone, o.email, o.status, o.created_at";

/// The minimum to create an organisation row; richer details (bank
/// account, addresses) are kept by the parties' own modules.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub kind: OrgKind,
    pub legal_form: String,
    pub name: String,
    pub short_name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub status: String,
}

pub async fn insert(tx: &mut Tx, now: DateTime<Utc>, org: &NewOrganisation) -> DomainResult<i64> {
    if !LEGAL_FORMS.contains(&org.legal_form.as_str()) {
        return Err(DomainError::field("legal_form", "legal_form.invalid"));
    }
    let id = sqlx::query_scalar(
        "INSERT INTO organisations (kind, legal_form, name, short_name, inn, kpp, ogrn, phone, email, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(org.kind.as_str())
    .bind(&org.legal_form)
    .bind(&org.name)
    .bind(org.short_name.clone())
    .bind(org.inn.clone())
    .bind(org.kpp.clone())
    .bind(org.ogrn.clone())
    .bind(org.phone.clone())
    .bind(org.email.clone())
    .bind(&org.status)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await?;
    crate::search::index_new_organisation(tx, id).await?;
    Ok(id)
}

/// The broker's own organisation, created on first start.
pub async fn ensure_broker(db: &Db) -> DomainResult<i64> {
    if let Some(id) = broker_id(db).await? {
        return Ok(id);
    }
    let now = db.now();
    let mut tx = db.begin().await?;
    // Re-check inside the write transaction: another process may have won.
    let existing = crate::access::broker_id_on(&mut *tx).await?;
    let id = match existing {
        Some(id) => id,
        None => {
            insert(
                &mut tx,
                now,
                &NewOrganisation {
                    kind: OrgKind::Broker,
                    legal_form: "ooo".into(),
                    name: "Podryad".into(),
                    short_name: None,
                    inn: None,
                    kpp: None,
                    ogrn: None,
                    phone: None,
                    email: None,
                    status: "active".into(),
                },
            )
            .await?
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// One organisation the actor may see; others are `NotFound`.
pub async fn get(db: &Db, actor: &Actor, id: i64) -> DomainResult<Organisation> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM organisations o WHERE o.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Organisation, "o");
    sql.query_as()
        .fetch_optional(db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Organisations of one kind the actor may see.
pub async fn list(db: &Db, actor: &Actor, kind: OrgKind) -> DomainResult<Vec<Organisation>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM organisations o WHERE o.kind = ")
        .bind(kind.as_str());
    scope(&mut sql, actor, Resource::Organisation, "o");
    sql.push(" ORDER BY o.name");
    Ok(sql.query_as().fetch_all(db.pool()).await?)
}

/// A way to reach an organisation that it may have on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Phone,
    Email,
}

impl ContactKind {
    /// The column of `organisations`, `org_contacts` and `users` that holds it.
    fn column(self) -> &'static str {
        match self {
            ContactKind::Phone => "phone",
            ContactKind::Email => "email",
        }
    }
}

/// Whether `value` (a normalised phone or e-mail) is on record for the
/// organisation: its own, one of its contact persons' or one of its active
/// users'. A request's typed contact is never a record: it is what a
/// visitor says, not what the client gave us.
pub async fn has_contact(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    kind: ContactKind,
    value: &str,
) -> Result<bool, sqlx::Error> {
    let column = kind.column();
    // `column` is one of two fixed names, never input.
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM organisations o WHERE o.id = $1 AND (o.{column} = $2
           OR EXISTS (SELECT 1 FROM org_contacts c WHERE c.org_id = o.id AND c.{column} = $2)
           OR EXISTS (SELECT 1 FROM users u WHERE u.org_id = o.id AND u.status = 'active' AND u.{column} = $2))"
    )))
    .bind(org_id)
    .bind(value)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Records a contact person of an organisation (in the caller's transaction).
pub async fn add_contact(
    conn: &mut sqlx::AnyConnection,
    now: DateTime<Utc>,
    org_id: i64,
    full_name: &str,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO org_contacts (org_id, full_name, phone, email, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(org_id)
    .bind(full_name)
    .bind(phone)
    .bind(email)
    .bind(to_db_time(now))
    .fetch_one(conn)
    .await
}

/// Who is told what concerns an organisation as a whole (our offer to a
/// client): its active users; failing those, what it has on record — its
/// own e-mail or phone and its contact persons'. Nothing typed with a
/// request counts, so a visitor who only knows a client's phone number
/// cannot have the client's mail sent to them. Each address once.
pub async fn verified_recipients(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
) -> Result<Vec<crate::notify::Recipient>, sqlx::Error> {
    let mut sql = Sql::new("SELECT ");
    sql.push(crate::notify::RECIPIENT_COLUMNS)
        .push(" FROM users u WHERE u.org_id = ")
        .bind(org_id)
        .push(" AND u.status = 'active' ORDER BY u.id");
    let users: Vec<crate::notify::Recipient> = sql.query_as().fetch_all(&mut *conn).await?;
    if users
        .iter()
        .any(|u| u.email.is_some() || u.phone.is_some() || u.telegram_chat_id.is_some())
    {
        return Ok(users);
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, email, phone FROM (
           SELECT 0 AS k, o.id AS id, COALESCE(o.contact_name, o.name) AS name, o.email, o.phone
             FROM organisations o WHERE o.id = $1
           UNION ALL
           SELECT 1 AS k, c.id AS id, c.full_name AS name, c.email, c.phone
             FROM org_contacts c WHERE c.org_id = $1
         ) x ORDER BY k, id",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<crate::notify::Recipient> = Vec::new();
    for (full_name, email, phone) in rows {
        // Reached by e-mail when there is one, else by SMS (as `tell` does):
        // that address is what must not repeat.
        let address = email.clone().or_else(|| phone.clone());
        let Some(address) = address else { continue };
        if out
            .iter()
            .any(|r| r.email.clone().or_else(|| r.phone.clone()).as_deref() == Some(&address))
        {
            continue;
        }
        out.push(crate::notify::Recipient {
            id: None,
            email,
            phone,
            full_name,
            telegram_chat_id: None,
        });
    }
    Ok(out)
}
