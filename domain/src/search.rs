//! Search that ignores case in Russian too. SQLite's `LOWER()` folds only
//! ASCII letters, so a search for «грузавто» would miss «ГрузАвто»; instead,
//! rows keep a folded copy of their searchable text (`search_text`), written
//! by the application, and queries match it with `LIKE`.

use engine::{Db, Tx};

/// Lower case, `ё` read as `е`, spaces collapsed.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
        .replace('ё', "е")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `LIKE` pattern for what a user typed; `%` and `_` are taken literally.
pub fn pattern(query: &str) -> String {
    let folded = fold(query)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{folded}%")
}

/// Recomputes `search_text` of one row of `table` from `columns` (fixed
/// identifiers from this module, never user input).
async fn index_row(tx: &mut Tx, table: &str, columns: &[&str], id: i64) -> Result<(), sqlx::Error> {
    let concat = columns
        .iter()
        .map(|c| format!("COALESCE({c}, '')"))
        .collect::<Vec<_>>()
        .join(" || ' ' || ");
    let text: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {concat} FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(text) = text {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET search_text = $1 WHERE id = $2"
        )))
        .bind(fold(&text))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

const ORGANISATION: &[&str] = &["name", "short_name", "inn", "email", "phone", "region"];
const USER: &[&str] = &["full_name", "email", "phone"];
const MACHINE: &[&str] = &["make", "model", "plate", "vin", "base_address"];

pub async fn index_organisation(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    index_row(tx, "organisations", ORGANISATION, id).await
}

pub async fn index_user(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    index_row(tx, "users", USER, id).await
}

pub async fn index_machine(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    index_row(tx, "machines", MACHINE, id).await
}

/// Fills `search_text` of rows that have none (rows written before the
/// column existed). Cheap when there is nothing to do.
pub async fn index_missing(db: &Db) -> Result<(), sqlx::Error> {
    let orgs: Vec<i64> = sqlx::query_scalar("SELECT id FROM organisations WHERE search_text = ''")
        .fetch_all(db.pool())
        .await?;
    let users: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE search_text = ''")
        .fetch_all(db.pool())
        .await?;
    let machines: Vec<i64> = sqlx::query_scalar("SELECT id FROM machines WHERE search_text = ''")
        .fetch_all(db.pool())
        .await?;
    if orgs.is_empty() && users.is_empty() && machines.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for id in orgs {
        index_organisation(&mut tx, id).await?;
    }
    for id in users {
        index_user(&mut tx, id).await?;
    }
    for id in machines {
        index_machine(&mut tx, id).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_russian_and_escapes_wildcards() {
        assert_eq!(fold("ООО «ГрузАвто»  Ёлкин"), "ооо «грузавто» елкин");
        assert_eq!(pattern("100%_x"), "%100\\%\\_x%");
    }
}
