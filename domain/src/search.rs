//! Search that ignores case in Russian too. SQLite's `LOWER()` folds only
//! ASCII letters, so a search for «грузавто» would miss «ГрузАвто»; instead,
//! rows keep a folded copy of their searchable text (`search_text`), written
//! by the application, and queries match it with `LIKE`.
//!
//! What must stay fast however many rows there are — the header search
//! and the requests list's search — reads **search terms** instead
//! (`search_terms`, migration 0035): the words, numbers, INNs and phone
//! tails of clients, requests and orders, matched by prefix as a range on
//! an index ([`Query`], [`write_terms`]). A phone is kept as every tail
//! of its digits, so any part of it typed any way is a prefix of one.

use std::collections::BTreeSet;

use engine::{Db, Sql, Tx};

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
    index_row(tx, "organisations", ORGANISATION, id).await?;
    client_terms(tx, id, false).await
}

/// [`index_organisation`] for an organisation just inserted: it has no
/// terms, contacts or users yet, so nothing is read or deleted for them.
pub async fn index_new_organisation(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    index_row(tx, "organisations", ORGANISATION, id).await?;
    client_terms(tx, id, true).await
}

pub async fn index_user(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    index_row(tx, "users", USER, id).await?;
    // A client's people find their client (its terms carry their names).
    let org: Option<i64> = sqlx::query_scalar("SELECT org_id FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match org {
        Some(org) => index_client_terms(tx, org).await,
        None => Ok(()),
    }
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

// ---- Search terms ----

/// What a search term describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    Client,
    Request,
    Order,
}

impl TermKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TermKind::Client => "client",
            TermKind::Request => "request",
            TermKind::Order => "order",
        }
    }
}

/// The folded words of a text: lower case, `ё` as `е`, split on anything
/// that is not a letter or a digit («ГрузАвто» → `грузавто`).
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The digits of a text, a Russian number's leading `8` read as `7`
/// (`8 916 777-00-11` and `+7 (916) 777-00-11` are one phone).
pub fn phone_digits(text: &str) -> String {
    let d: String = text.chars().filter(char::is_ascii_digit).collect();
    if d.len() == 11 && d.starts_with('8') {
        format!("7{}", &d[1..])
    } else {
        d
    }
}

/// The terms of one object, collected before they are written.
#[derive(Debug, Default, Clone)]
pub struct Terms(BTreeSet<String>);

impl Terms {
    /// Every word of a name, an address, a number.
    pub fn words(&mut self, text: Option<&str>) -> &mut Terms {
        for w in words(text.unwrap_or_default()) {
            self.0.insert(w);
        }
        self
    }

    /// A number (`З-2026-00042`): its words, its digits together and its
    /// sequence without leading zeros, so `00042`, `42` and `2026-00042`
    /// find it.
    pub fn number(&mut self, number: &str) -> &mut Terms {
        self.words(Some(number));
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            self.0.insert(digits);
        }
        if let Some(last) = words(number).last() {
            let short = last.trim_start_matches('0');
            if !short.is_empty() {
                self.0.insert(short.to_string());
            }
        }
        self
    }

    /// A phone as every tail of its digits of three or more, so any part
    /// of it is a prefix of a term.
    pub fn phone(&mut self, phone: Option<&str>) -> &mut Terms {
        let d = phone_digits(phone.unwrap_or_default());
        for i in 0..d.len().saturating_sub(2) {
            self.0.insert(d[i..].to_string());
        }
        self
    }

    /// A code kept whole (an INN, an e-mail).
    pub fn code(&mut self, code: Option<&str>) -> &mut Terms {
        if let Some(c) = code
            .map(|c| fold(c).replace(' ', ""))
            .filter(|c| !c.is_empty())
        {
            self.0.insert(c);
        }
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }
}

/// Replaces the terms of one object (inside the transaction that changed
/// it); `fresh`: the object was just inserted and has none to replace.
pub async fn write_terms(
    tx: &mut Tx,
    kind: TermKind,
    id: i64,
    terms: &Terms,
    fresh: bool,
) -> Result<(), sqlx::Error> {
    if !fresh {
        sqlx::query("DELETE FROM search_terms WHERE kind = $1 AND object_id = $2")
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    add_terms(tx, kind, id, terms).await
}

/// Adds terms to an object's (a contact person added to a client).
pub async fn add_terms(
    tx: &mut Tx,
    kind: TermKind,
    id: i64,
    terms: &Terms,
) -> Result<(), sqlx::Error> {
    // Several rows per statement: a phone alone gives nine.
    let all: Vec<&String> = terms.iter().collect();
    for chunk in all.chunks(100) {
        let mut sql = Sql::new("INSERT INTO search_terms (kind, object_id, term) VALUES ");
        for (i, term) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(kind.as_str())
                .push(", ")
                .bind(id)
                .push(", ")
                .bind((*term).clone())
                .push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING");
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

/// The most objects one search term reads (see [`Query::restrict`]).
pub const MATCHES: i64 = 5000;

/// A search as typed, read as term prefixes: every one of [`Query::all`]
/// must match a term of an object; each is a set of alternatives (a phone
/// typed with `8` may be stored with `7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub all: Vec<Vec<String>>,
}

impl Query {
    /// `None` when there is nothing to search by (blank, or one letter).
    pub fn parse(text: &str) -> Option<Query> {
        let text = text.trim();
        // Digits with a phone's or number's punctuation: one prefix
        // ("+7 (916) 777-00-11", "916 777", "2026-00042").
        let phone_like = text
            .chars()
            .all(|c| c.is_ascii_digit() || " +()-.".contains(c));
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        if phone_like && digits.len() >= 2 {
            let mut alternatives = vec![phone_digits(text)];
            if digits.starts_with('8') && digits.len() < 11 {
                alternatives.push(format!("7{}", &digits[1..]));
            }
            if !alternatives.contains(&digits) {
                alternatives.push(digits);
            }
            return Some(Query {
                all: vec![alternatives],
            });
        }
        let mut all: Vec<Vec<String>> = words(text)
            .into_iter()
            .filter(|w| w.chars().count() >= 2 || w.chars().all(|c| c.is_ascii_digit()))
            .map(|w| vec![w])
            .collect();
        all.dedup();
        if all.is_empty() {
            return None;
        }
        // The longest word drives the index range: it matches fewest.
        all.sort_by_key(|alts| std::cmp::Reverse(alts[0].chars().count()));
        Some(Query { all })
    }

    /// Appends ` AND <object id column> IN (ids of `kind` matching every
    /// word)`: one index range for the first word, the others checked on
    /// the same object through the primary key.
    pub fn restrict(&self, sql: &mut Sql, kind: TermKind, id_column: &str) {
        sql.push(" AND ")
            .push(id_column)
            .push(" IN (SELECT t0.object_id FROM search_terms t0 WHERE t0.kind = ")
            .bind(kind.as_str());
        for (i, alternatives) in self.all.iter().enumerate() {
            if i == 0 {
                push_ranges(sql, "t0", alternatives);
            } else {
                let t = format!("t{i}");
                sql.push(" AND EXISTS (SELECT 1 FROM search_terms ")
                    .push(&t)
                    .push(" WHERE ")
                    .push(&t)
                    .push(".kind = t0.kind AND ")
                    .push(&t)
                    .push(".object_id = t0.object_id");
                push_ranges(sql, &t, alternatives);
                sql.push(")");
            }
        }
        // A word that thousands of objects share ("ооо", "916") costs no
        // more than MATCHES of them; the page asks for a longer one then.
        sql.push(" LIMIT ").push(&MATCHES.to_string()).push(")");
    }
}

/// ` AND (term >= p AND term < next(p) OR …)` for the prefixes `alts`.
fn push_ranges(sql: &mut Sql, alias: &str, alts: &[String]) {
    sql.push(" AND (");
    for (i, p) in alts.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(")
            .push(alias)
            .push(".term >= ")
            .bind(p.clone())
            .push(" AND ")
            .push(alias)
            .push(".term < ")
            .bind(prefix_end(p))
            .push(")");
    }
    sql.push(")");
}

/// The least text greater than every text starting with `prefix`: its last
/// character moved one up (byte order on both databases: SQLite's BINARY,
/// PostgreSQL's `COLLATE "C"` of the column).
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only U+10FFFF characters: nothing is greater; the range is open.
    char::MAX.to_string().repeat(prefix.chars().count() + 1)
}

/// The terms of a client organisation: its names, INN, phone, e-mail, its
/// contact people's and its users' names and phones.
pub async fn index_client_terms(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    client_terms(tx, id, false).await
}

/// Adds a contact person's name and phone to their client's terms.
pub async fn add_contact_terms(
    tx: &mut Tx,
    client: i64,
    name: &str,
    phone: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut t = Terms::default();
    t.words(Some(name)).phone(phone);
    add_terms(tx, TermKind::Client, client, &t).await
}

async fn client_terms(tx: &mut Tx, id: i64, fresh: bool) -> Result<(), sqlx::Error> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT name, short_name, inn, phone, email, kind FROM organisations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((name, short_name, inn, phone, email, kind)) = row else {
        return Ok(());
    };
    if kind != "client" {
        return Ok(());
    }
    let mut t = Terms::default();
    t.words(Some(&name))
        .words(short_name.as_deref())
        .code(inn.as_deref())
        .phone(phone.as_deref())
        .code(email.as_deref());
    if !fresh {
        let people: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT full_name, phone FROM org_contacts WHERE org_id = $1
             UNION ALL SELECT full_name, phone FROM users WHERE org_id = $1",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        for (n, p) in &people {
            t.words(Some(n)).phone(p.as_deref());
        }
    }
    write_terms(tx, TermKind::Client, id, &t, fresh).await
}

/// The terms of an order, which has none yet (an order is indexed once, as
/// it is made; what they come from does not change): its number, its
/// request's number, the contact on site and its client's name and INN.
pub async fn index_order_terms(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<Row> =
        sqlx::query_as(
            "SELECT d.number, r.number, d.contact_name, d.contact_phone, o.name, o.inn FROM orders d
             JOIN requests r ON r.id = d.request_id JOIN organisations o ON o.id = d.client_org_id WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some((number, request, contact, phone, client, inn)) = row else {
        return Ok(());
    };
    let mut t = Terms::default();
    t.number(&number)
        .number(&request)
        .words(contact.as_deref())
        .phone(phone.as_deref())
        .words(Some(&client))
        .code(inn.as_deref());
    write_terms(tx, TermKind::Order, id, &t, true).await
}

/// Writes the terms of objects written before terms existed (or by bulk
/// loads that skip the application): clients, requests and orders with
/// none. Cheap when there is nothing to do.
pub async fn index_missing_terms(db: &Db) -> Result<(), sqlx::Error> {
    let missing = |table: &str, kind: TermKind, filter: &str| {
        format!(
            "SELECT x.id FROM {table} x WHERE {filter} NOT EXISTS (SELECT 1 FROM search_terms t WHERE t.kind = '{}' AND t.object_id = x.id) ORDER BY x.id",
            kind.as_str()
        )
    };
    let clients: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(missing(
        "organisations",
        TermKind::Client,
        "x.kind = 'client' AND",
    )))
    .fetch_all(db.pool())
    .await?;
    let requests: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(missing(
        "requests",
        TermKind::Request,
        "",
    )))
    .fetch_all(db.pool())
    .await?;
    let orders: Vec<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(missing("orders", TermKind::Order, "")))
            .fetch_all(db.pool())
            .await?;
    // In batches, so that the single writer is never held for long.
    for batch in clients.chunks(500) {
        let mut tx = db.begin().await?;
        for id in batch {
            index_client_terms(&mut tx, *id).await?;
        }
        tx.commit().await?;
    }
    for batch in requests.chunks(500) {
        let mut tx = db.begin().await?;
        for id in batch {
            crate::intake::requests::reindex(&mut tx, *id).await?;
        }
        tx.commit().await?;
    }
    for batch in orders.chunks(500) {
        let mut tx = db.begin().await?;
        for id in batch {
            index_order_terms(&mut tx, *id).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_kept_as_every_tail_and_found_by_any_part() {
        let mut t = Terms::default();
        t.phone(Some("+7 (916) 777-00-11"));
        let terms: Vec<&String> = t.iter().collect();
        assert!(terms.contains(&&"79167770011".to_string()));
        assert!(terms.contains(&&"7770011".to_string()));
        assert!(terms.contains(&&"011".to_string()));
        assert!(!terms.contains(&&"11".to_string()));
        for typed in [
            "7770011",
            "+7 (916) 777-00-11",
            "916 777",
            "8 916 777-00-11",
        ] {
            let q = Query::parse(typed).expect("a query");
            assert!(
                q.all[0]
                    .iter()
                    .any(|p| terms.iter().any(|t| t.starts_with(p.as_str()))),
                "{typed}: {q:?}"
            );
        }
        assert_eq!(Query::parse("8916777").unwrap().all[0][1], "7916777");
    }

    #[test]
    fn numbers_names_and_codes_are_words() {
        let mut t = Terms::default();
        t.number("З-2026-00042")
            .words(Some("ООО «ГрузАвто» Ёлкин"))
            .code(Some("7701234567"));
        for term in [
            "з",
            "2026",
            "00042",
            "42",
            "202600042",
            "ооо",
            "грузавто",
            "елкин",
            "7701234567",
        ] {
            assert!(t.iter().any(|x| x == term), "{term}");
        }
        let q = Query::parse("Павел Громов").unwrap();
        assert_eq!(
            q.all,
            vec![vec!["громов".to_string()], vec!["павел".to_string()]]
        );
        assert_eq!(
            Query::parse("з-2026-00042").unwrap().all[0],
            vec!["00042".to_string()]
        );
        assert!(Query::parse(" я ").is_none());
        assert_eq!(prefix_end("громов"), "громог");
    }

    #[test]
    fn folds_russian_and_escapes_wildcards() {
        assert_eq!(fold("ООО «ГрузАвто»  Ёлкин"), "ооо «грузавто» елкин");
        assert_eq!(pattern("100%_x"), "%100\\%\\_x%");
    }
}
