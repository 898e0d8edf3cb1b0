//! Accounts on the suite's database (SQLite, or PostgreSQL with
//! `PODRYAD_TEST_DATABASE=postgres://…`).

use std::time::Duration;

use domain::access::SystemActor;
use domain::access::roles::{OrgKind, Role};
use domain::accounts::{self, UserInput};
use engine::Migrations;
use engine::testing::TestDb;

// The application's migrations (the engine embeds none).
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

const PASSWORD: &str = "dlinnyi-parol-42";

/// Argon2 takes a tenth of a second on purpose; inside a write transaction
/// it would hold SQLite's one writer that long. Validation hashes the
/// password, so it runs while another write holds the database, and the
/// transaction that stores the user only writes rows.
#[tokio::test]
async fn a_password_is_hashed_before_the_transaction_that_stores_it() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let broker = domain::parties::orgs::ensure_broker(db)
        .await
        .expect("broker");
    let input = UserInput {
        full_name: "Пётр Сидоров".into(),
        email: "petr@podryad.test".into(),
        phone: String::new(),
        roles: vec!["manager".into()],
        password: PASSWORD.into(),
    };

    // Another write holds the database (on SQLite, its single writer)…
    let mut held = db.begin().await.expect("a write transaction");
    // …and validation, hashing included, does not wait for it.
    let user = tokio::time::timeout(Duration::from_secs(60), input.validate(OrgKind::Broker))
        .await
        .expect("validation needs no transaction")
        .expect("valid input");
    let hash = user.password.as_ref().expect("a password was given");
    assert!(
        !format!("{user:?}{hash:?}").contains(PASSWORD),
        "neither the password nor its hash is printed"
    );
    // Storing it takes the ready hash: rows only.
    let id = accounts::insert_user(&mut held, db.now(), broker, &user)
        .await
        .expect("inserted");
    held.commit().await.expect("commit");

    // The stored hash is the password's.
    assert_eq!(
        accounts::authenticate(db, "petr@podryad.test", PASSWORD, None)
            .await
            .expect("signs in"),
        id
    );
    assert!(
        accounts::authenticate(db, "petr@podryad.test", "другой-пароль", None)
            .await
            .is_err()
    );

    // An invitation (no password) stores no hash and signs nobody in.
    let invited = UserInput {
        email: "anna@podryad.test".into(),
        password: String::new(),
        ..input.clone()
    }
    .validate(OrgKind::Broker)
    .await
    .expect("valid input");
    assert!(invited.password.is_none());

    // Invalid input is refused before any hashing, all fields at once.
    let bad = UserInput {
        full_name: " ".into(),
        email: "не-почта".into(),
        password: "short".into(),
        ..input
    }
    .validate(OrgKind::Broker)
    .await;
    match bad {
        Err(domain::error::DomainError::Invalid(e)) => {
            assert_eq!(e.get("full_name"), Some("required"));
            assert_eq!(e.get("email"), Some("email.invalid"));
            assert_eq!(e.get("password"), Some("password.too_short"));
        }
        other => panic!("{other:?}"),
    }
}

/// An `Actor` is what a session (or, for the system, an account lookup)
/// shows: the person's user, organisation, side and roles — read-only — and
/// nothing once the account is disabled.
#[tokio::test]
async fn an_actor_comes_from_a_session_or_the_system_acting_for_someone() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let broker = domain::parties::orgs::ensure_broker(db)
        .await
        .expect("broker");
    let user = UserInput {
        full_name: "Анна Петрова".into(),
        email: "anna@podryad.test".into(),
        phone: String::new(),
        roles: vec!["manager".into(), "hunter".into()],
        password: PASSWORD.into(),
    }
    .validate(OrgKind::Broker)
    .await
    .expect("valid");
    let mut tx = db.begin().await.expect("tx");
    let id = accounts::insert_user(&mut tx, db.now(), broker, &user)
        .await
        .expect("inserted");
    tx.commit().await.expect("commit");

    let token = accounts::open_session(db, id, None, None)
        .await
        .expect("session");
    let actor = accounts::actor_for_session(db, &token)
        .await
        .expect("lookup")
        .expect("signed in");
    assert_eq!(actor.user_id(), id);
    assert_eq!(actor.org_id(), broker);
    assert_eq!(actor.org_kind(), OrgKind::Broker);
    assert_eq!(actor.full_name(), "Анна Петрова");
    assert_eq!(actor.roles(), &[Role::Hunter, Role::Manager]);
    assert!(actor.is_staff() && actor.is_front_office());

    let system = SystemActor::new();
    let acted = accounts::act_for(db, &system, "anna@podryad.test")
        .await
        .expect("lookup")
        .expect("active user");
    assert_eq!(
        (acted.user_id(), acted.roles()),
        (actor.user_id(), actor.roles())
    );
    assert!(
        accounts::act_for(db, &system, "nobody@podryad.test")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        accounts::actor_for_session(db, "not-a-session")
            .await
            .expect("lookup")
            .is_none()
    );

    let mut tx = db.begin().await.expect("tx");
    sqlx::query("UPDATE users SET status = 'disabled' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("disable");
    tx.commit().await.expect("commit");
    // Code that changes a user forgets its cached sessions after the commit
    // (`update_colleague` does); on PostgreSQL the database's trigger tells
    // every server as well, on SQLite nothing else would within a minute.
    accounts::session_cache::forget_user(db, id);
    assert!(
        accounts::actor_for_session(db, &token)
            .await
            .expect("lookup")
            .is_none(),
        "a disabled account's session acts for nobody"
    );
    assert!(
        accounts::act_for(db, &system, "anna@podryad.test")
            .await
            .expect("lookup")
            .is_none()
    );
}
