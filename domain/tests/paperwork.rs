//! Paperwork and tax settings on the suite's database (SQLite, or
//! PostgreSQL with `PODRYAD_TEST_DATABASE=postgres://…`): VAT rates as data,
//! the legal model with a client override, template versions with fallback
//! to the built-in ones, and immutable rendered documents.

use chrono::NaiveDate;
use domain::access::Actor;
use domain::access::roles::{OrgKind, Role};
use domain::error::DomainError;
use domain::files::Files;
use domain::paperwork::issued::{self, IssueError, NewDocument, Owner};
use domain::paperwork::templates::{self, SaveError};
use domain::parties::orgs::{self, NewOrganisation};
use domain::tax;
use domain::values::{Kopecks, LegalModel, VatMode};
use engine::testing::TestDb;
use engine::{Db, Migrations};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn org(db: &Db, kind: OrgKind, name: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = orgs::insert(
        &mut tx,
        db.now(),
        &NewOrganisation {
            kind,
            legal_form: "ooo".into(),
            name: name.into(),
            short_name: None,
            inn: None,
            kpp: None,
            ogrn: None,
            phone: None,
            email: None,
            status: "active".into(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A signed-in person of the organisation with that role: a real user,
/// obtained the way the system acts for someone (`accounts::act_for`).
async fn actor(db: &Db, org_id: i64, kind: OrgKind, role: Role) -> Actor {
    let email = format!("{}-{org_id}@paperwork.test", role.as_str());
    let user = domain::accounts::UserInput {
        full_name: "Тест Тестов".into(),
        email: email.clone(),
        phone: String::new(),
        roles: vec![role.as_str().into()],
        password: "long enough password 1".into(),
    }
    .validate(kind)
    .await
    .expect("valid user");
    let mut tx = db.begin().await.unwrap();
    domain::accounts::insert_user(&mut tx, db.now(), org_id, &user)
        .await
        .expect("user");
    tx.commit().await.unwrap();
    domain::accounts::act_for(db, &domain::access::SystemActor::new(), &email)
        .await
        .expect("lookup")
        .expect("active user")
}

#[tokio::test]
async fn vat_rates_are_data_keyed_by_date() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let r = tax::rate_on(db, "general", date("2026-01-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.rate_bp, Some(2200));
    let r = tax::rate_on(db, "general", date("2025-12-31"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.rate_bp, Some(2000));
    let r = tax::rate_for(db, VatMode::Vat5, date("2026-06-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.rate_bp, Some(500));
    let r = tax::rate_for(db, VatMode::Vat7, date("2026-06-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.included_in(Kopecks(10_700)), Kopecks(700));
    let none = tax::rate_for(db, VatMode::None, date("2026-06-01"))
        .await
        .unwrap()
        .unwrap();
    assert!(none.is_none());
    assert_eq!(
        tax::rate_on(db, "vat18", date("2026-06-01")).await.unwrap(),
        None
    );

    // A new law is a new row, not a new release.
    let mut tx = db.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO vat_rates (code, valid_from, rate_bp) VALUES ('general', '2030-01-01', 2500)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = tax::rate_on(db, "general", date("2030-02-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.rate_bp, Some(2500));
    let r = tax::rate_on(db, "general", date("2029-12-31"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.rate_bp, Some(2200));
}

#[tokio::test]
async fn the_legal_model_is_a_company_setting_with_a_client_override() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    orgs::ensure_broker(db).await.unwrap();
    let client = org(db, OrgKind::Client, "АО «Тест»").await;
    let other = org(db, OrgKind::Client, "ООО «Другой»").await;
    let supplier = org(db, OrgKind::Supplier, "ИП Поставщик").await;
    assert_eq!(
        tax::company_legal_model(db).await.unwrap(),
        LegalModel::Resale
    );
    assert_eq!(
        tax::legal_model_for_client(db, client).await.unwrap(),
        LegalModel::Resale
    );

    let mut tx = db.begin().await.unwrap();
    tax::set_company_legal_model(&mut tx, LegalModel::Agency)
        .await
        .unwrap();
    tax::set_client_legal_model(&mut tx, client, Some(LegalModel::Resale))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        tax::legal_model_for_client(db, client).await.unwrap(),
        LegalModel::Resale
    );
    assert_eq!(
        tax::legal_model_for_client(db, other).await.unwrap(),
        LegalModel::Agency
    );

    let mut tx = db.begin().await.unwrap();
    tax::set_client_legal_model(&mut tx, client, None)
        .await
        .unwrap();
    // Only clients have an override.
    assert!(matches!(
        tax::set_client_legal_model(&mut tx, supplier, Some(LegalModel::Agency)).await,
        Err(DomainError::NotFound)
    ));
    tx.commit().await.unwrap();
    assert_eq!(
        tax::legal_model_for_client(db, client).await.unwrap(),
        LegalModel::Agency
    );
    assert!(matches!(
        tax::legal_model_for_client(db, 999_999).await,
        Err(DomainError::NotFound)
    ));
}

#[tokio::test]
async fn template_versions_fall_back_to_the_builtin_one() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let builtin = documents::builtin::get("work_order_client").unwrap();

    let active = templates::active(db, "work_order_client").await.unwrap();
    assert_eq!(active.version, 0);
    assert_eq!(active.source, builtin.source);
    assert!(matches!(
        templates::active(db, "no_such_template").await,
        Err(DomainError::NotFound)
    ));

    // A broken draft is refused with its position and nothing is stored.
    let broken = builtin.source.replacen(
        "#section(\"Отмена заявки\")",
        "#section(\"Отмена заявки\"",
        1,
    );
    assert_ne!(broken, builtin.source);
    match templates::save_draft(db, "work_order_client", &broken, None).await {
        Err(SaveError::Invalid(d)) => {
            assert!(!d.is_empty());
            assert_eq!(d[0].file, "work_order_client.typ");
            assert!(d[0].line > 1, "{}", d[0]);
        }
        other => panic!("expected diagnostics, got {other:?}"),
    }
    assert!(
        templates::versions(db, "work_order_client")
            .await
            .unwrap()
            .is_empty()
    );

    // A good draft is stored but not used until activated.
    let edited = builtin.source.replace("Прочие условия", "Иные условия");
    let v1 = templates::save_draft(db, "work_order_client", &edited, None)
        .await
        .unwrap();
    assert_eq!((v1.version, v1.status.as_str()), (1, "draft"));
    assert_eq!(
        templates::active(db, "work_order_client")
            .await
            .unwrap()
            .version,
        0
    );
    // Saving the same text again is the same version.
    let again = templates::save_draft(db, "work_order_client", &edited, None)
        .await
        .unwrap();
    assert_eq!(again.id, v1.id);

    let v1 = templates::activate(db, v1.id, None).await.unwrap();
    assert_eq!(v1.status, "active");
    let active = templates::active(db, "work_order_client").await.unwrap();
    assert_eq!(
        (active.version, active.source.as_str()),
        (1, edited.as_str())
    );

    let edited2 = edited.replace("Иные условия", "Прочие условия");
    let v2 = templates::save_draft(db, "work_order_client", &edited2, None)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    templates::activate(db, v2.id, None).await.unwrap();
    let versions = templates::versions(db, "work_order_client").await.unwrap();
    let statuses: Vec<(i64, &str)> = versions
        .iter()
        .map(|v| (v.version, v.status.as_str()))
        .collect();
    assert_eq!(statuses, [(2, "active"), (1, "inactive")]);

    let list = templates::list(db).await.unwrap();
    let row = list.iter().find(|s| s.key == "work_order_client").unwrap();
    assert_eq!((row.active_version, row.versions), (Some(2), 2));
    assert_eq!(list.len(), documents::builtin::ALL.len());

    templates::use_builtin(db, "work_order_client")
        .await
        .unwrap();
    assert_eq!(
        templates::active(db, "work_order_client")
            .await
            .unwrap()
            .version,
        0
    );
}

#[tokio::test]
async fn rendered_documents_are_immutable_versions_for_their_party() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let dir = tempfile::tempdir().unwrap();
    let files = Files::local(dir.path());
    let broker = orgs::ensure_broker(db).await.unwrap();
    let client = org(db, OrgKind::Client, "АО «СтройМонолит»").await;
    let supplier = org(db, OrgKind::Supplier, "ИП Гусейнов").await;
    let sample = documents::builtin::get("work_order_client")
        .unwrap()
        .sample_data()
        .unwrap();

    let new = |number: &str| NewDocument {
        template_key: "work_order_client".into(),
        number: number.into(),
        owner: Owner::new("order", 17, "client"),
        party_org_id: Some(client),
        data: sample.clone(),
        created_by: None,
    };
    let first = issued::issue(db, &files, new("2026-000123-К1"))
        .await
        .unwrap();
    assert_eq!((first.version, first.template_version), (1, 0));
    assert_eq!(first.sha256.len(), 64);
    let mut changed = new("2026-000123-К1");
    changed.data["price"]["words"] = "Двадцать семь тысяч рублей 00 копеек".into();
    let second = issued::issue(db, &files, changed).await.unwrap();
    assert_eq!(second.version, 2);
    assert_ne!(second.sha256, first.sha256);

    // The first version is still there, byte for byte.
    let staff = actor(db, broker, OrgKind::Broker, Role::Manager).await;
    let (doc, bytes) = issued::pdf(db, &files, &staff, first.id).await.unwrap();
    assert_eq!(doc.version, 1);
    assert!(bytes.starts_with(b"%PDF-"));
    let data = issued::data(db, &staff, first.id).await.unwrap();
    assert_eq!(data, sample);

    // The client reads its own; the supplier gets "not found".
    let client_user = actor(db, client, OrgKind::Client, Role::Client).await;
    let supplier_user = actor(db, supplier, OrgKind::Supplier, Role::Owner).await;
    assert!(
        issued::pdf(db, &files, &client_user, second.id)
            .await
            .is_ok()
    );
    assert!(matches!(
        issued::pdf(db, &files, &supplier_user, second.id).await,
        Err(DomainError::NotFound)
    ));
    assert_eq!(
        issued::list_for_owner(db, &staff, "order", 17)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        issued::list_for_owner(db, &client_user, "order", 17)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        issued::list_for_owner(db, &supplier_user, "order", 17)
            .await
            .unwrap()
            .is_empty()
    );

    // A document is issued with the active version of its template.
    let builtin = documents::builtin::get("work_order_client").unwrap();
    let v = templates::save_draft(
        db,
        "work_order_client",
        &builtin.source.replace("Прочие условия", "Иные условия"),
        None,
    )
    .await
    .unwrap();
    templates::activate(db, v.id, None).await.unwrap();
    let third = issued::issue(db, &files, new("2026-000123-К1"))
        .await
        .unwrap();
    assert_eq!((third.version, third.template_version), (3, 1));

    // Data the template cannot use is refused with the position, and no version is taken.
    let mut bad = new("2026-000123-К1");
    bad.data.as_object_mut().unwrap().remove("price");
    match issued::issue(db, &files, bad).await {
        Err(IssueError::Template {
            key,
            version,
            problems,
        }) => {
            assert_eq!((key.as_str(), version), ("work_order_client", 1));
            assert!(problems[0].line > 0);
        }
        other => panic!("expected a template error, got {other:?}"),
    }
    assert_eq!(
        issued::list_for_owner(db, &staff, "order", 17)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn issuing_the_same_data_again_gives_the_same_document() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let dir = tempfile::tempdir().unwrap();
    let files = Files::local(dir.path());
    orgs::ensure_broker(db).await.unwrap();
    let client = org(db, OrgKind::Client, "АО «СтройМонолит»").await;
    let sample = documents::builtin::get("work_order_client")
        .unwrap()
        .sample_data()
        .unwrap();
    let new = |data: serde_json::Value| NewDocument {
        template_key: "work_order_client".into(),
        number: "2026-000123-К".into(),
        owner: Owner::new("order", 5, "client"),
        party_org_id: Some(client),
        data,
        created_by: None,
    };
    // An action that issues documents may run twice (a crash before its
    // step commits): the repeat returns the document already issued.
    let first = issued::issue_once(db, &files, new(sample.clone()))
        .await
        .unwrap();
    let again = issued::issue_once(db, &files, new(sample.clone()))
        .await
        .unwrap();
    assert_eq!((again.id, again.version), (first.id, 1));
    // Changed data is a new version, and so is a new template version.
    let mut changed = sample.clone();
    changed["notes"] = "Пропуск на въезд заказан".into();
    let second = issued::issue_once(db, &files, new(changed.clone()))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    let builtin = documents::builtin::get("work_order_client").unwrap();
    let v = templates::save_draft(
        db,
        "work_order_client",
        &builtin.source.replace("Прочие условия", "Иные условия"),
        None,
    )
    .await
    .unwrap();
    templates::activate(db, v.id, None).await.unwrap();
    let third = issued::issue_once(db, &files, new(changed)).await.unwrap();
    assert_eq!((third.version, third.template_version), (3, 1));
    let latest = issued::latest_for_part(db, "order", 5, "client")
        .await
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].id, third.id);
}
