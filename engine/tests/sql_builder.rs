//! The `Sql` builder on both databases: placeholders, lists, and the
//! nullable-float workaround (a bound `None::<f64>` poisons sqlx's cached
//! statement on PostgreSQL, so the builder writes `NULL` instead).

use engine::testing::TestDb;
use engine::{Dialect, Migrations, Sql};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

#[tokio::test]
async fn nullable_floats_and_lists_round_trip() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let float = if db.dialect() == Dialect::Postgres {
        "DOUBLE PRECISION"
    } else {
        "REAL"
    };
    let mut tx = db.begin().await.expect("tx");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE sql_probe (id BIGINT PRIMARY KEY, x {float})"
    )))
    .execute(&mut *tx)
    .await
    .expect("create");
    // None, then a value, then None again through the same builder code:
    // each must store what it says.
    for (id, x) in [
        (1_i64, None),
        (2, Some(1.5_f64)),
        (3, None),
        (4, Some(-2.25)),
    ] {
        let mut sql = Sql::new("INSERT INTO sql_probe (id, x) VALUES (");
        sql.bind(id).push(", ").bind(x).push(")");
        sql.query().execute(&mut *tx).await.expect("insert");
    }
    tx.commit().await.expect("commit");
    let mut sql = Sql::new("SELECT id, x FROM sql_probe WHERE id IN (");
    sql.bind_list([1_i64, 2, 3, 4]).push(") ORDER BY id");
    let rows: Vec<(i64, Option<f64>)> = sql.query_as().fetch_all(db.pool()).await.expect("select");
    assert_eq!(
        rows,
        vec![(1, None), (2, Some(1.5)), (3, None), (4, Some(-2.25))]
    );
    let mut empty = Sql::new("SELECT COUNT(*) FROM sql_probe WHERE id IN (");
    empty.bind_list(Vec::<i64>::new()).push(")");
    let n: i64 = empty
        .query_scalar()
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(n, 0, "an empty list matches nothing");
}
