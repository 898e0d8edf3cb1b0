//! The header search of every staff page: one box for a request or order
//! number, a phone in any form or any part of it, an INN, a company name
//! or a contact's surname; the answer is grouped — clients, requests,
//! orders — and holds only what the person may see (the same scope as the
//! lists: a hunter finds their own book).
//!
//! Reads the search terms ([`crate::search`]) by prefix on their index, so
//! it costs the matching rows, not the table: each group is one query that
//! stops at [`GROUP`] rows.

use engine::Sql;
use serde::Serialize;

use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult};
use crate::search::{Query, TermKind};
use crate::services::Services;

/// Rows a group shows at most; one more tells there are more.
pub const GROUP: i64 = 10;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FoundClient {
    pub id: i64,
    pub name: String,
    pub inn: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FoundRequest {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub client_name: String,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FoundOrder {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub client_name: String,
    pub first_day: String,
}

/// What a search found, by group; `more_*` when a group has more than it shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Found {
    pub clients: Vec<FoundClient>,
    pub requests: Vec<FoundRequest>,
    pub orders: Vec<FoundOrder>,
    pub more_clients: bool,
    pub more_requests: bool,
    pub more_orders: bool,
    /// Whether the text was something to search by (two characters or more).
    pub searched: bool,
}

/// Searches clients, requests and orders for `text`, within what `actor`
/// may see; newest first in each group.
pub async fn find(s: &Services, actor: &Actor, text: &str) -> DomainResult<Found> {
    if !actor.is_staff() {
        return Err(DomainError::Forbidden);
    }
    let Some(q) = Query::parse(text) else {
        return Ok(Found::default());
    };
    let mut found = Found {
        searched: true,
        ..Found::default()
    };

    let mut sql = Sql::new(
        "SELECT o.id, o.name, o.inn, o.phone FROM organisations o WHERE o.kind = 'client'",
    );
    q.restrict(&mut sql, TermKind::Client, "o.id");
    scope(&mut sql, actor, Resource::Organisation, "o");
    sql.push(" ORDER BY o.id DESC LIMIT ").bind(GROUP + 1);
    found.clients = sql.query_as().fetch_all(s.db.pool()).await?;
    found.more_clients = trim(&mut found.clients);

    let mut sql = Sql::new(
        "SELECT r.id, r.number, r.status, o.name AS client_name, r.contact_name, r.contact_phone, r.created_at \
         FROM requests r JOIN organisations o ON o.id = r.client_org_id WHERE 1 = 1",
    );
    q.restrict(&mut sql, TermKind::Request, "r.id");
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY r.id DESC LIMIT ").bind(GROUP + 1);
    found.requests = sql.query_as().fetch_all(s.db.pool()).await?;
    found.more_requests = trim(&mut found.requests);

    let mut sql = Sql::new(
        "SELECT d.id, d.number, d.status, o.name AS client_name, d.first_day \
         FROM orders d JOIN organisations o ON o.id = d.client_org_id WHERE 1 = 1",
    );
    q.restrict(&mut sql, TermKind::Order, "d.id");
    scope(&mut sql, actor, Resource::Order, "d");
    sql.push(" ORDER BY d.id DESC LIMIT ").bind(GROUP + 1);
    found.orders = sql.query_as().fetch_all(s.db.pool()).await?;
    found.more_orders = trim(&mut found.orders);
    Ok(found)
}

/// Drops the row beyond a group's size; whether there was one.
fn trim<T>(rows: &mut Vec<T>) -> bool {
    let more = rows.len() as i64 > GROUP;
    rows.truncate(GROUP as usize);
    more
}
