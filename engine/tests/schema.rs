//! The SQLite and PostgreSQL migrations build the same schema: the same
//! tables, the same columns with compatible types and the same nullability,
//! the same named indexes. Needs both databases, so it runs only when
//! `PODRYAD_TEST_DATABASE` is a `postgres://` URL (it says so otherwise).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use engine::testing::TestDb;
use engine::{Db, DbOptions};
use sqlx::Row;

/// table → column → (type class, not null)
type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

fn class(ty: &str) -> String {
    let t = ty.to_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("real")
        || t.contains("double")
        || t.contains("float")
        || t.contains("numeric")
    {
        "real"
    } else if t.contains("blob") || t.contains("bytea") {
        "blob"
    } else {
        return t;
    }
    .to_string()
}

async fn sqlite_schema(db: &Db) -> (Columns, BTreeSet<String>) {
    let pool = db.pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut cols = Columns::new();
    for t in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{t}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        let mut m = BTreeMap::new();
        for r in rows {
            let name: String = r.try_get(0).unwrap();
            let ty: String = r.try_get(1).unwrap();
            let not_null: i64 = r.try_get(2).unwrap();
            let pk: i64 = r.try_get(3).unwrap();
            // An INTEGER PRIMARY KEY is the rowid: never null, though not declared so.
            m.insert(name, (class(&ty), not_null == 1 || pk > 0));
        }
        cols.insert(t, m);
    }
    // Named indexes only: SQLite's automatic ones back UNIQUE/PRIMARY KEY
    // constraints, which PostgreSQL names after the constraint.
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    (cols, indexes)
}

async fn postgres_schema(db: &Db) -> (Columns, BTreeSet<String>) {
    let pool = db.pool();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut cols = Columns::new();
    for r in rows {
        let t: String = r.try_get(0).unwrap();
        let c: String = r.try_get(1).unwrap();
        let ty: String = r.try_get(2).unwrap();
        let nullable: String = r.try_get(3).unwrap();
        cols.entry(t)
            .or_default()
            .insert(c, (class(&ty), nullable == "NO"));
    }
    let indexes = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename <> '_sqlx_migrations' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    (cols, indexes)
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    if !TestDb::is_postgres() {
        println!(
            "note: schema comparison skipped; set PODRYAD_TEST_DATABASE=postgres://… to compare SQLite with PostgreSQL"
        );
        return;
    }
    let pg = TestDb::new(&MIGRATIONS).await;
    let dir = tempfile::tempdir().unwrap();
    let lite = Db::connect(
        &format!("sqlite://{}/schema.db", dir.path().display()),
        &DbOptions::default(),
    )
    .await
    .unwrap();
    lite.migrate(&SQLITE_MIGRATIONS).await.unwrap();

    let (lite_cols, lite_idx) = sqlite_schema(&lite).await;
    let (pg_cols, pg_idx) = postgres_schema(&pg.db).await;
    assert!(lite_cols.contains_key("wf_timers") && pg_cols.contains_key("wf_timers"));
    assert!(lite_cols["wf_timers"].contains_key("failed_at"));
    assert!(lite_idx.contains("wf_timers_due") && pg_idx.contains("wf_timers_due"));
    let mut problems = Vec::new();
    let lite_tables: BTreeSet<_> = lite_cols.keys().collect();
    let pg_tables: BTreeSet<_> = pg_cols.keys().collect();
    for t in lite_tables.symmetric_difference(&pg_tables) {
        problems.push(format!(
            "table `{t}` only in {}",
            if lite_cols.contains_key(*t) {
                "SQLite"
            } else {
                "PostgreSQL"
            }
        ));
    }
    for (t, lc) in &lite_cols {
        let Some(pc) = pg_cols.get(t) else { continue };
        for c in lc
            .keys()
            .collect::<BTreeSet<_>>()
            .symmetric_difference(&pc.keys().collect())
        {
            problems.push(format!(
                "column `{t}.{c}` only in {}",
                if lc.contains_key(*c) {
                    "SQLite"
                } else {
                    "PostgreSQL"
                }
            ));
        }
        for (c, l) in lc {
            if let Some(p) = pc.get(c)
                && l != p
            {
                problems.push(format!(
                    "column `{t}.{c}`: SQLite {} {}, PostgreSQL {} {}",
                    l.0,
                    if l.1 { "NOT NULL" } else { "NULL" },
                    p.0,
                    if p.1 { "NOT NULL" } else { "NULL" }
                ));
            }
        }
    }
    for i in lite_idx.symmetric_difference(&pg_idx) {
        problems.push(format!(
            "index `{i}` only in {}",
            if lite_idx.contains(i) {
                "SQLite"
            } else {
                "PostgreSQL"
            }
        ));
    }
    assert!(
        problems.is_empty(),
        "the schemas differ:\n{}",
        problems.join("\n")
    );
    lite.close().await;
}
