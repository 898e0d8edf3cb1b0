//! Whether an actor may see a workflow's business object — so a task or an
//! instance's history is shown only to whoever may see its object, through
//! the same [`scope`] as the object's own pages (a hunter sees the tasks of
//! their own book's requests, not everyone's).

use engine::{Db, Sql};

use crate::access::{Actor, Resource, hunter_only, scope};
use crate::error::{DomainError, DomainResult};

/// The object kinds workflows run for, the table each lives in and the
/// scope that decides who sees it.
const OBJECT_TABLES: [(&[&str], &str, Resource); 5] = [
    (&["request"], "requests", Resource::Request),
    (
        &["client", "supplier"],
        "organisations",
        Resource::Organisation,
    ),
    (
        &["machine_document"],
        "machine_documents",
        Resource::OrgOwned,
    ),
    (&["order"], "orders", Resource::Order),
    (&["contract"], "contracts", Resource::Contract),
];

/// Appends ` AND (…)` limiting workflow instances `alias` to those whose
/// object [`object_visible`] would show `actor` — the same rule, as one
/// condition of a list's query (a hunter's inbox: their book's tasks only),
/// instead of a question per row. `None` when the actor sees every object.
pub fn instance_scope(actor: &Actor) -> Option<impl Fn(&mut Sql, &str) + Send + Sync + 'static> {
    if !hunter_only(actor) {
        return None;
    }
    let actor = actor.clone();
    Some(move |sql: &mut Sql, alias: &str| {
        sql.push(" AND (");
        for (n, (kinds, table, resource)) in OBJECT_TABLES.iter().enumerate() {
            if n > 0 {
                sql.push(" OR ");
            }
            // Kinds and tables are the fixed names above, never input.
            sql.push("(")
                .push(alias)
                .push(".object_kind IN (")
                .bind_list(kinds.iter().copied())
                .push(") AND EXISTS (SELECT 1 FROM ")
                .push(table)
                .push(" x WHERE x.id = ")
                .push(alias)
                .push(".object_id");
            scope(sql, &actor, *resource, "x");
            sql.push("))");
        }
        sql.push(")");
    })
}

/// Whether `actor` may see the object `kind`/`id` a workflow runs for.
/// Unknown kinds are for the broker's staff with a role beyond hunting.
pub async fn object_visible(db: &Db, actor: &Actor, kind: &str, id: i64) -> DomainResult<bool> {
    let Some((_, table, resource)) = OBJECT_TABLES.iter().find(|(k, _, _)| k.contains(&kind))
    else {
        return Ok(actor.is_staff() && !hunter_only(actor));
    };
    // `table` is one of the fixed names above, never input.
    let mut sql = Sql::new(&format!("SELECT COUNT(*) FROM {table} x WHERE x.id = "));
    sql.bind(id);
    scope(&mut sql, actor, *resource, "x");
    let n: i64 = sql.query_scalar().fetch_one(db.pool()).await?;
    Ok(n > 0)
}

/// `Ok` when the object is visible, else [`DomainError::NotFound`].
pub async fn require_object(db: &Db, actor: &Actor, kind: &str, id: i64) -> DomainResult<()> {
    if object_visible(db, actor, kind, id).await? {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}
