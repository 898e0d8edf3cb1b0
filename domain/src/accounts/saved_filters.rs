//! Saved filters: a staff member keeps the filter of a list they use often
//! (the requests list, the pipeline board, the task inbox) under a name and
//! finds it again as a chip above that list. A filter is the list's query
//! string as the page submitted it, so whatever the page filters by can be
//! saved, and a page that learns a new filter needs nothing here. Each is
//! its owner's alone: another person's is not found.

use engine::to_db_time;
use serde::Serialize;

use crate::access::{Actor, Rule, require};
use crate::error::{DomainError, DomainResult};
use crate::services::Services;

/// The pages whose filters can be saved.
pub const PAGES: [&str; 3] = ["requests", "board", "tasks"];
/// The longest name and query string kept.
const NAME_MAX: usize = 60;
const QUERY_MAX: usize = 2000;
/// Filters one person keeps per page at most.
const PER_PAGE: i64 = 30;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SavedFilter {
    pub id: i64,
    pub page: String,
    pub name: String,
    /// The query string, without `?`.
    pub query: String,
}

/// The actor's saved filters of `page`, by name.
pub async fn list(s: &Services, actor: &Actor, page: &str) -> DomainResult<Vec<SavedFilter>> {
    Ok(sqlx::query_as(
        "SELECT id, page, name, query FROM saved_filters WHERE user_id = $1 AND page = $2 ORDER BY name, id",
    )
    .bind(actor.user_id())
    .bind(page)
    .fetch_all(s.db.pool())
    .await?)
}

/// Keeps `query` (a page's filter, as its query string) of `page` under
/// `name`; the same name again replaces it. Field errors: `name`
/// (`required`, `text.too_long`), `page` (`unknown`), `query`
/// (`text.too_long`, `saved_filter.too_many`).
pub async fn save(
    s: &Services,
    actor: &Actor,
    page: &str,
    name: &str,
    query: &str,
) -> DomainResult<SavedFilter> {
    require(actor, Rule::FrontOffice)?;
    if !PAGES.contains(&page) {
        return Err(DomainError::field("page", "unknown"));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::field("name", "required"));
    }
    if name.chars().count() > NAME_MAX {
        return Err(DomainError::field("name", "text.too_long"));
    }
    // What the page shows again, never a session's token.
    let query: String = query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            !k.is_empty() && !k.starts_with('_') && k != "page" && !v.is_empty()
        })
        .collect::<Vec<_>>()
        .join("&");
    if query.len() > QUERY_MAX {
        return Err(DomainError::field("query", "text.too_long"));
    }
    let mut tx = s.db.begin().await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM saved_filters WHERE user_id = $1 AND page = $2 AND name <> $3",
    )
    .bind(actor.user_id())
    .bind(page)
    .bind(name)
    .fetch_one(&mut *tx)
    .await?;
    if n >= PER_PAGE {
        return Err(DomainError::field("name", "saved_filter.too_many"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO saved_filters (user_id, page, name, query, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, page, name) DO UPDATE SET query = excluded.query RETURNING id",
    )
    .bind(actor.user_id())
    .bind(page)
    .bind(name)
    .bind(&query)
    .bind(to_db_time(s.db.now()))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(SavedFilter {
        id,
        page: page.to_string(),
        name: name.to_string(),
        query,
    })
}

/// Deletes one of the actor's saved filters; another's is not found.
/// Returns its page.
pub async fn delete(s: &Services, actor: &Actor, id: i64) -> DomainResult<String> {
    let page: Option<String> = {
        let mut conn = s.db.single_write().await?;
        sqlx::query_scalar(
            "DELETE FROM saved_filters WHERE id = $1 AND user_id = $2 RETURNING page",
        )
        .bind(id)
        .bind(actor.user_id())
        .fetch_optional(&mut *conn)
        .await?
    };
    page.ok_or(DomainError::NotFound)
}
