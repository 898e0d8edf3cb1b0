//! Whether an actor may see a workflow's business object — so a task or an
//! instance's history is shown only to whoever may see its object, through
//! the same [`scope`] as the object's own pages (a hunter sees the tasks of
//! their own book's requests, not everyone's).

use engine::{Db, Sql};

use crate::access::{Actor, Resource, hunter_only, scope};
use crate::error::{DomainError, DomainResult};

/// Whether `actor` may see the object `kind`/`id` a workflow runs for.
/// Unknown kinds are for the broker's staff with a role beyond hunting.
pub async fn object_visible(db: &Db, actor: &Actor, kind: &str, id: i64) -> DomainResult<bool> {
    let (table, resource) = match kind {
        "request" => ("requests", Resource::Request),
        "client" | "supplier" => ("organisations", Resource::Organisation),
        "machine_document" => ("machine_documents", Resource::OrgOwned),
        "order" => ("orders", Resource::Order),
        "contract" => ("contracts", Resource::Contract),
        _ => return Ok(actor.is_staff() && !hunter_only(actor)),
    };
    // `table` is one of the fixed names above, never input.
    let mut sql = Sql::new(&format!("SELECT COUNT(*) FROM {table} x WHERE x.id = "));
    sql.bind(id);
    scope(&mut sql, actor, resource, "x");
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
