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
    crate::search::index_organisation(tx, id).await?;
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
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
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
