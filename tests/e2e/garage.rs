//! The garage: machines with typed specifications, documents with expiry,
//! availability, busy days, tenancy, and the expiry warning on the workflow
//! engine.

use chrono::{Duration, NaiveDate};
use domain::access::Actor;
use domain::fleet::garage::{self, MachineFilter};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp, location};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-really-an-image";
const PDF: &[u8] = b"%PDF-1.4\n% a scan\n";

fn services(app: &TestApp) -> &domain::services::Services {
    &app.app.as_ref().expect("running").services
}

fn today(app: &TestApp) -> NaiveDate {
    garage::today(services(app))
}

fn day(app: &TestApp, offset: i64) -> String {
    garage::ymd(today(app) + Duration::days(offset))
}

/// The broker's view (an administrator sees every garage).
async fn broker_view(app: &TestApp) -> Actor {
    app.actor("admin@podryad.test").await
}

/// Posts a multipart form the way the pages do (CSRF token in the query).
async fn post_multipart(b: &Browser, path: &str, form: Form) -> reqwest::Response {
    let token = b.csrf().await;
    let sep = if path.contains('?') { '&' } else { '?' };
    b.http
        .post(b.url(&format!("{path}{sep}_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .expect("POST")
}

fn form_of(fields: &[(&str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |f, (k, v)| {
        f.text(k.to_string(), v.to_string())
    })
}

fn file(name: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_string())
}

fn id_from(location: &str) -> i64 {
    location
        .trim_start_matches("/garage/")
        .split(['/', '#', '?'])
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an id in {location}"))
}

/// Adds a machine through the form and returns its id.
async fn add_machine(b: &Browser, fields: &[(&str, &str)]) -> i64 {
    let r = post_multipart(b, "/garage/new", form_of(fields)).await;
    let status = r.status();
    let loc = location(&r);
    assert_eq!(status, StatusCode::SEE_OTHER, "{:?}", r.text().await);
    id_from(&loc)
}

/// Adds a document through the form and returns its id.
async fn add_document(
    app: &TestApp,
    b: &Browser,
    machine: i64,
    kind: &str,
    from: &str,
    until: &str,
) -> i64 {
    let r = post_multipart(
        b,
        &format!("/garage/{machine}/documents/new"),
        form_of(&[
            ("kind", kind),
            ("number", "ХХХ 0123456789"),
            ("valid_from", from),
            ("valid_until", until),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    sqlx::query_scalar("SELECT MAX(id) FROM machine_documents WHERE machine_id = $1 AND kind = $2")
        .bind(machine)
        .bind(kind)
        .fetch_one(app.db().pool())
        .await
        .expect("document id")
}

async fn machine_id_by_plate(app: &TestApp, plate: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM machines WHERE plate = $1")
        .bind(plate)
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("machine {plate}: {e}"))
}

#[tokio::test]
async fn a_supplier_adds_a_machine_with_typed_specs_fixing_mistakes() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@stroytech.test", DEMO_PASSWORD).await;

    // The demo garage is there.
    let (status, page) = owner.get_text("/garage").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Ивановец") && page.contains("Е341КХ 750"),
        "{page}"
    );
    let (status, page) = owner.get_text("/garage/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Автокран") && page.contains("spec.truck_crane.boom_length_m"),
        "the specs of every category"
    );

    let mut fields = vec![
        ("category", "truck_crane"),
        ("make", "Клинцы"),
        ("model", "КС-55713-1К"),
        ("year", "2020"),
        ("plate", "о777ор 50"),
        ("vin", "X89557131L0AB7777"),
        (
            "base_address",
            "Московская обл., г. Подольск, ул. Лобачёва, 7",
        ),
        ("base_lat", "55,42"),
        ("base_lon", "37,55"),
        ("service_radius_km", "90"),
        ("spec.truck_crane.lift_capacity_t", "двадцать пять"),
        ("spec.truck_crane.boom_length_m", "150"),
        // Another category's fields are ignored.
        ("spec.tipper.payload_t", "абв"),
    ];
    let r = post_multipart(&owner, "/garage/new", form_of(&fields)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("Нужно число."), "{body}");
    assert!(body.contains("Значение больше допустимого."), "{body}");
    assert!(
        body.contains("value=\"двадцать пять\"") && body.contains("value=\"Клинцы\""),
        "typed values are kept"
    );
    assert!(
        body.contains("id=\"f-category-truck_crane\" checked"),
        "the category stays chosen"
    );
    let saved: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines WHERE make = 'Клинцы'")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(saved, 0, "nothing half-saved");

    // A wrong plate and a photo that is not an image: also refused, nothing stored.
    fields.retain(|(k, _)| !k.starts_with("spec.truck_crane"));
    fields.push(("spec.truck_crane.lift_capacity_t", "25"));
    fields.push(("spec.truck_crane.boom_length_m", "31,5"));
    let mut bad_plate = fields.clone();
    bad_plate.retain(|(k, _)| *k != "plate");
    bad_plate.push(("plate", "Б777ОР 50"));
    let r = post_multipart(
        &owner,
        "/garage/new",
        form_of(&bad_plate).part("photo", file("x.png", b"<script>")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("Неверный госномер"), "{body}");
    assert!(body.contains("Нужна фотография"), "{body}");

    // Corrected, with a photo.
    let r = post_multipart(
        &owner,
        "/garage/new",
        form_of(&fields).part("photo", file("crane.png", PNG)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let id = id_from(&location(&r));
    let (status, page) = owner.get_text(&format!("/garage/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("О777ОР 50"),
        "the plate is normalised: {page}"
    );
    assert!(
        page.contains("31,5 м") && page.contains("25 т"),
        "specs with units: {page}"
    );
    assert!(
        page.contains("Нет документа «Полис ОСАГО»"),
        "a new machine lacks its documents: {page}"
    );
    assert!(page.contains("Недоступна"));
    let photo: i64 = sqlx::query_scalar("SELECT photo_file_id FROM machines WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("photo");
    assert!(page.contains(&format!("/files/{photo}")));
    assert_eq!(
        owner.get(&format!("/files/{photo}")).await.status(),
        StatusCode::OK
    );

    // More photos; the main one can change, and removing it picks another.
    let r = post_multipart(
        &owner,
        &format!("/garage/{id}/photos"),
        Form::new().part("photo", file("side.png", PNG)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second: i64 =
        sqlx::query_scalar("SELECT MAX(file_id) FROM machine_photos WHERE machine_id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("second photo");
    assert_ne!(second, photo);
    let r = owner
        .post_form(&format!("/garage/{id}/photos/{second}/main"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let main = |app: &TestApp| {
        let pool = app.db().pool().clone();
        async move {
            sqlx::query_scalar::<_, Option<i64>>("SELECT photo_file_id FROM machines WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("main photo")
        }
    };
    assert_eq!(main(&app).await, Some(second));
    let r = owner
        .post_form(&format!("/garage/{id}/photos/{second}/delete"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(main(&app).await, Some(photo));
    let r = post_multipart(
        &owner,
        &format!("/garage/{id}/photos"),
        Form::new().part("photo", file("", b"")),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a photo is needed"
    );

    // The same plate cannot be added twice.
    let r = post_multipart(&owner, "/garage/new", form_of(&fields)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("уже есть"));

    // Editing keeps the specs and validates them again.
    let (status, page) = owner.get_text(&format!("/garage/{id}/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"31,5\""), "{page}");
    let mut edited = fields.clone();
    edited.retain(|(k, _)| *k != "spec.truck_crane.boom_length_m");
    edited.push(("spec.truck_crane.boom_length_m", "5"));
    let r = post_multipart(&owner, &format!("/garage/{id}/edit"), form_of(&edited)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Значение меньше допустимого.")
    );
    edited.retain(|(k, _)| *k != "spec.truck_crane.boom_length_m");
    edited.push(("spec.truck_crane.boom_length_m", "34"));
    let r = post_multipart(&owner, &format!("/garage/{id}/edit"), form_of(&edited)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let specs: String = sqlx::query_scalar("SELECT specs FROM machines WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("specs");
    let specs: serde_json::Value = serde_json::from_str(&specs).expect("json");
    assert_eq!(specs["boom_length_m"], serde_json::json!(34.0));

    // The list filters by category and text.
    let (_, list) = owner.get_text("/garage?category=truck_crane").await;
    assert!(
        list.contains("Клинцы") && list.contains("Ивановец") && !list.contains("Komatsu"),
        "{list}"
    );
    let (_, list) = owner.get_text("/garage?q=клинцы").await;
    assert!(list.contains("Клинцы") && !list.contains("Ивановец"));

    // Archived machines leave the list.
    let r = owner.post_form(&format!("/garage/{id}/archive"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, list) = owner.get_text("/garage").await;
    assert!(!list.contains("Клинцы"));
    let (_, list) = owner.get_text("/garage?archived=1").await;
    assert!(list.contains("Клинцы"));
    let r = owner.post_form(&format!("/garage/{id}/restore"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn a_supplier_cannot_see_or_change_another_suppliers_garage() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@stroytech.test", DEMO_PASSWORD).await;
    let id = machine_id_by_plate(&app, "Е341КХ 750").await;
    let r = post_multipart(
        &owner,
        &format!("/garage/{id}/photos"),
        Form::new().part("photo", file("crane.png", PNG)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let photo: i64 = sqlx::query_scalar("SELECT photo_file_id FROM machines WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("photo");
    let r = post_multipart(
        &owner,
        &format!("/garage/{id}/documents/new"),
        form_of(&[("kind", "osago"), ("valid_until", &day(&app, 200))])
            .part("scan", file("osago.pdf", PDF)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (doc, scan): (i64, i64) = sqlx::query_as(
        "SELECT id, file_id FROM machine_documents WHERE machine_id = $1 AND file_id IS NOT NULL",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("document with a scan");
    assert_eq!(
        owner.get(&format!("/files/{scan}")).await.status(),
        StatusCode::OK
    );
    let r = owner
        .post_form(
            &format!("/garage/{id}/calendar"),
            &[("from", &day(&app, 20)), ("note", "ремонт")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let other = app.client();
    other.login("owner@gruzavto.test", DEMO_PASSWORD).await;
    let (status, own) = other.get_text("/garage").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        own.contains("К808ХМ 799") && !own.contains("Е341КХ 750"),
        "only its own machines"
    );
    for path in [
        format!("/garage/{id}"),
        format!("/garage/{id}/edit"),
        format!("/garage/{id}/calendar"),
        format!("/garage/{id}/documents/new"),
        format!("/garage/{id}/documents/{doc}"),
        format!("/garage/documents/{doc}"),
        format!("/files/{photo}"),
        format!("/files/{scan}"),
    ] {
        assert_eq!(
            other.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
    }
    for path in [
        format!("/garage/{id}/archive"),
        format!("/garage/{id}/calendar"),
        format!("/garage/{id}/calendar/free"),
        format!("/garage/{id}/documents/{doc}/delete"),
        format!("/garage/{id}/photos/{photo}/delete"),
        format!("/garage/{id}/photos/{photo}/main"),
    ] {
        let r = other.post_form(&path, &[("from", &day(&app, 20))]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    for path in [
        format!("/garage/{id}/edit"),
        format!("/garage/{id}/photos"),
        format!("/garage/{id}/documents/new"),
        format!("/garage/{id}/documents/{doc}"),
    ] {
        let form = form_of(&[
            ("category", "tipper"),
            ("make", "X"),
            ("model", "Y"),
            ("kind", "osago"),
            ("valid_until", "2030-01-01"),
        ])
        .part("photo", file("p.png", PNG));
        assert_eq!(
            post_multipart(&other, &path, form).await.status(),
            StatusCode::NOT_FOUND,
            "POST {path}"
        );
    }
    // Nothing changed.
    let (status, count): (String, i64) = sqlx::query_as(
        "SELECT m.status, (SELECT COUNT(*) FROM machine_documents d WHERE d.machine_id = m.id) FROM machines m WHERE m.id = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("machine");
    assert_eq!((status.as_str(), count), ("active", 4));
    let busy: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM machine_busy_days WHERE machine_id = $1 AND day = $2",
    )
    .bind(id)
    .bind(day(&app, 20))
    .fetch_one(app.db().pool())
    .await
    .expect("busy");
    assert_eq!(busy, 1);

    // The broker's staff see any garage read-only.
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, page) = manager.get_text(&format!("/garage/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Е341КХ 750") && !page.contains(&format!("/garage/{id}/edit")),
        "read-only: {page}"
    );
    let org: i64 = sqlx::query_scalar("SELECT org_id FROM machines WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("org");
    let (status, list) = manager.get_text(&format!("/garage?org={org}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Е341КХ 750"));
    assert_eq!(
        manager.get(&format!("/garage/{id}/edit")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        manager
            .post_form(&format!("/garage/{id}/archive"), &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        manager.get(&format!("/files/{scan}")).await.status(),
        StatusCode::OK
    );

    // A driver has no garage pages at all.
    let driver = app.client();
    driver.login("driver1@stroytech.test", DEMO_PASSWORD).await;
    for path in [
        "/garage".to_string(),
        "/garage/new".to_string(),
        format!("/garage/{id}"),
        format!("/garage/{id}/edit"),
        format!("/garage/{id}/calendar"),
        format!("/garage/{id}/documents/new"),
    ] {
        assert_eq!(
            driver.get(&path).await.status(),
            StatusCode::FORBIDDEN,
            "GET {path}"
        );
    }
    assert_eq!(
        driver
            .post_form(&format!("/garage/{id}/archive"), &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn an_expired_mandatory_document_makes_a_machine_unavailable_until_renewed() {
    let app = TestApp::spawn_demo().await;
    let s = services(&app);
    let system = broker_view(&app).await;
    let owner = app.client();
    owner.login("owner@fedorov.test", DEMO_PASSWORD).await;
    // The demo Shacman's ОСАГО expired ten days ago.
    let shacman = machine_id_by_plate(&app, "Н117ТУ 750").await;
    let kamaz = machine_id_by_plate(&app, "Т455НА 50").await;
    let a = garage::availability(s, &system, shacman, today(&app))
        .await
        .expect("availability");
    assert!(!a.available);
    assert_eq!(a.reasons.len(), 1);
    assert_eq!(
        (a.reasons[0].code, a.reasons[0].document.as_deref()),
        ("document_expired", Some("osago"))
    );
    assert_eq!(a.reasons[0].date, Some(day(&app, -10)));
    let (_, page) = owner.get_text(&format!("/garage/{shacman}")).await;
    let expired_on = (today(&app) - Duration::days(10))
        .format("%d.%m.%Y")
        .to_string();
    assert!(
        page.contains(&format!("«Полис ОСАГО» — срок истёк {expired_on}")),
        "{page}"
    );
    let (_, list) = owner
        .get_text(&format!("/garage?available_on={}", day(&app, 0)))
        .await;
    assert!(
        list.contains("Т455НА 50") && !list.contains("Н117ТУ 750"),
        "{list}"
    );

    // Busy days make a machine unavailable too.
    let (from, until) = (day(&app, 1), day(&app, 4));
    assert!(
        !garage::availability(s, &system, kamaz, today(&app) + Duration::days(2))
            .await
            .expect("a")
            .available,
        "demo busy days"
    );
    let (_, cal) = owner.get_text(&format!("/garage/{kamaz}/calendar")).await;
    assert!(cal.contains("Вывоз грунта"), "{cal}");
    let r = owner
        .post_form(
            &format!("/garage/{kamaz}/calendar/free"),
            &[("from", &from), ("until", &until)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        garage::availability(s, &system, kamaz, today(&app) + Duration::days(2))
            .await
            .expect("a")
            .available
    );
    let r = owner
        .post_form(
            &format!("/garage/{kamaz}/calendar"),
            &[("from", &until), ("until", &from)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Последний день раньше первого")
    );
    let r = owner
        .post_form(
            &format!("/garage/{kamaz}/calendar"),
            &[("from", &day(&app, 3)), ("note", "Заказ в Балашихе")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let a = garage::availability(s, &system, kamaz, today(&app) + Duration::days(3))
        .await
        .expect("a");
    assert_eq!(
        a.reasons
            .iter()
            .map(|r| (r.code, r.note.clone()))
            .collect::<Vec<_>>(),
        vec![("busy", Some("Заказ в Балашихе".to_string()))]
    );

    // A document that does not check out is refused with reasons.
    let r = post_multipart(
        &owner,
        &format!("/garage/{shacman}/documents/new"),
        form_of(&[
            ("kind", "osago"),
            ("valid_from", &day(&app, 10)),
            ("valid_until", &day(&app, 5)),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Дата окончания раньше даты начала")
    );

    // A renewed policy makes it available.
    let renewed = add_document(
        &app,
        &owner,
        shacman,
        "osago",
        &day(&app, -1),
        &day(&app, 364),
    )
    .await;
    assert!(
        garage::availability(s, &system, shacman, today(&app))
            .await
            .expect("a")
            .available
    );
    let (_, page) = owner.get_text(&format!("/garage/{shacman}")).await;
    assert!(
        page.contains("Доступна") && page.contains("Заменён новым"),
        "{page}"
    );
    let (_, list) = owner
        .get_text(&format!("/garage?available_on={}", day(&app, 0)))
        .await;
    assert!(list.contains("Н117ТУ 750"));
    // …but not beyond its end.
    let a = garage::availability(s, &system, shacman, today(&app) + Duration::days(365))
        .await
        .expect("a");
    assert_eq!(a.reasons[0].code, "document_expired");

    // Corrected to a date in the past, it is unavailable again; deleted, the document is missing.
    let r = post_multipart(
        &owner,
        &format!("/garage/{shacman}/documents/{renewed}"),
        form_of(&[
            ("kind", "osago"),
            ("valid_from", &day(&app, -30)),
            ("valid_until", &day(&app, -2)),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !garage::availability(s, &system, shacman, today(&app))
            .await
            .expect("a")
            .available
    );
    let docs: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM machine_documents WHERE machine_id = $1 AND kind = 'osago'",
    )
    .bind(shacman)
    .fetch_all(app.db().pool())
    .await
    .expect("docs");
    for d in docs {
        let r = owner
            .post_form(&format!("/garage/{shacman}/documents/{d}/delete"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let a = garage::availability(s, &system, shacman, today(&app))
        .await
        .expect("a");
    assert_eq!(a.reasons[0].code, "document_missing");
    app.stop().await;
}

#[tokio::test]
async fn the_sql_availability_agrees_with_the_domain_rule() {
    let app = TestApp::spawn_demo().await;
    let s = services(&app);
    let system = broker_view(&app).await;
    let orgs: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT org_id FROM machines")
        .fetch_all(app.db().pool())
        .await
        .expect("orgs");
    assert_eq!(orgs.len(), 3);
    for offset in [
        -400, -11, -10, 0, 2, 3, 10, 11, 120, 121, 170, 171, 400, 1100,
    ] {
        let date = today(&app) + Duration::days(offset);
        for org in &orgs {
            let f = MachineFilter {
                available_on: Some(garage::ymd(date)),
                ..Default::default()
            };
            let by_sql: Vec<i64> = garage::list(s, &system, *org, &f)
                .await
                .expect("list")
                .iter()
                .map(|m| m.id)
                .collect();
            let all = garage::list(s, &system, *org, &MachineFilter::default())
                .await
                .expect("list");
            let mut by_rule = Vec::new();
            for m in &all {
                if garage::availability(s, &system, m.id, date)
                    .await
                    .expect("a")
                    .available
                {
                    by_rule.push(m.id);
                }
            }
            assert_eq!(by_sql, by_rule, "org {org}, day {offset}");
        }
    }
    app.stop().await;
}

async fn warnings(app: &TestApp, plate: &str, subject: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = 'owner@gruzavto.test' AND subject LIKE $1 AND subject LIKE $2",
    )
    .bind(format!("%{plate}%"))
    .bind(format!("{subject}%"))
    .fetch_one(app.db().pool())
    .await
    .expect("count")
}

async fn instance_state(app: &TestApp, document: i64) -> Vec<(String, Option<i64>)> {
    sqlx::query_as("SELECT state, finished_at FROM wf_instances WHERE object_kind = 'machine_document' AND object_id = $1 ORDER BY id")
        .bind(document)
        .fetch_all(app.db().pool())
        .await
        .expect("instances")
}

#[tokio::test]
async fn the_owner_is_warned_once_before_expiry_and_a_renewal_moves_the_warning() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@gruzavto.test", DEMO_PASSWORD).await;
    let plate = "С321ТМ 799";
    let id = add_machine(
        &owner,
        &[
            ("category", "box_truck"),
            ("make", "Isuzu"),
            ("model", "ELF 9.5"),
            ("plate", plate),
            ("spec.box_truck.payload_t", "5,5"),
            ("spec.box_truck.body_volume_m3", "40"),
            ("spec.box_truck.body_type", "фургон"),
            ("spec.box_truck.tail_lift", "on"),
        ],
    )
    .await;
    let osago = add_document(&app, &owner, id, "osago", &day(&app, -335), &day(&app, 30)).await;
    let card = add_document(
        &app,
        &owner,
        id,
        "diagnostic_card",
        &day(&app, -345),
        &day(&app, 20),
    )
    .await;
    assert_eq!(
        instance_state(&app, osago).await,
        vec![("valid".to_string(), None)]
    );
    let (_, page) = owner.get_text(&format!("/garage/{id}")).await;
    assert!(page.contains("Гидроборт") && page.contains("да"), "{page}");
    app.run_due().await;
    assert_eq!(warnings(&app, plate, "Истекает").await, 0);

    // Day 3: the diagnostic card is renewed before its warning (due on day 6).
    app.clock.advance(Duration::days(3));
    let r = post_multipart(
        &owner,
        &format!("/garage/{id}/documents/{card}"),
        form_of(&[
            ("kind", "diagnostic_card"),
            ("number", "071230032409999"),
            ("valid_from", &day(&app, -3)),
            ("valid_until", &day(&app, 97)),
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;

    // Day 10: the old date of the card has passed without a warning.
    app.clock.advance(Duration::days(7));
    app.run_due().await;
    assert_eq!(warnings(&app, plate, "Истекает").await, 0);

    // Day 17: ОСАГО ends in 13 days — one warning, however often the timers run.
    app.clock.advance(Duration::days(7));
    app.run_due().await;
    app.run_due().await;
    assert_eq!(
        warnings(&app, plate, "Истекает срок документа: Полис ОСАГО").await,
        1
    );
    assert_eq!(warnings(&app, plate, "Истекает").await, 1);
    assert_eq!(
        instance_state(&app, osago).await,
        vec![("expiring".to_string(), None)]
    );
    let body: String = sqlx::query_scalar("SELECT body FROM notifications WHERE recipient = 'owner@gruzavto.test' AND subject LIKE 'Истекает%' AND subject LIKE $1")
        .bind(format!("%{plate}%"))
        .fetch_one(app.db().pool())
        .await
        .expect("body");
    let until = (today(&app) + Duration::days(13))
        .format("%d.%m.%Y")
        .to_string();
    assert!(
        body.contains(&until) && body.contains(&format!("/garage/{id}")),
        "{body}"
    );
    app.clock.advance(Duration::days(1));
    app.run_due().await;
    assert_eq!(warnings(&app, plate, "Истекает").await, 1);

    // Day 32: ОСАГО has expired — the owner is told, the machine is unavailable.
    app.clock.advance(Duration::days(14));
    app.run_due().await;
    assert_eq!(
        warnings(&app, plate, "Истёк срок документа: Полис ОСАГО").await,
        1
    );
    assert_eq!(
        instance_state(&app, osago).await,
        vec![("expired".to_string(), None)]
    );
    let system = broker_view(&app).await;
    let a = garage::availability(services(&app), &system, id, today(&app))
        .await
        .expect("a");
    assert_eq!(
        a.reasons.iter().map(|r| r.code).collect::<Vec<_>>(),
        vec!["document_expired"]
    );

    // Day 87: the renewed card warns at its new date.
    app.clock.advance(Duration::days(55));
    app.run_due().await;
    assert_eq!(
        warnings(
            &app,
            plate,
            "Истекает срок документа: Диагностическая карта"
        )
        .await,
        1
    );
    assert_eq!(
        instance_state(&app, card).await,
        vec![("expiring".to_string(), None)]
    );

    // A newer ОСАГО takes over the watch; the expired one's ends.
    let owner = app.client();
    owner.login("owner@gruzavto.test", DEMO_PASSWORD).await;
    let newer = add_document(&app, &owner, id, "osago", &day(&app, 0), &day(&app, 364)).await;
    let old = instance_state(&app, osago).await;
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].0, "closed");
    assert!(old[0].1.is_some());
    assert_eq!(
        instance_state(&app, newer).await,
        vec![("valid".to_string(), None)]
    );
    // Archiving the machine ends every watch.
    let r = owner.post_form(&format!("/garage/{id}/archive"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let running: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_instances WHERE object_kind = 'machine_document' AND object_id IN ($1, $2, $3) AND finished_at IS NULL",
    )
    .bind(osago)
    .bind(card)
    .bind(newer)
    .fetch_one(app.db().pool())
    .await
    .expect("running");
    assert_eq!(running, 0);
    app.stop().await;
}

#[tokio::test]
async fn demo_suppliers_have_machines_and_employees() {
    let app = TestApp::spawn_demo().await;
    let machines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(machines, 8);
    let linked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM employees WHERE user_id IS NOT NULL")
            .fetch_one(app.db().pool())
            .await
            .expect("count");
    assert_eq!(
        linked,
        12 + 1,
        "four people of each of three approved suppliers, and the owner of the pending application"
    );
    let drivers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM employees WHERE role = 'driver' AND licence_categories IS NOT NULL",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(drivers, 6);
    // Seeding again adds nothing.
    podryad::demo::seed(app.db()).await.expect("seed again");
    let again: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(again, machines);
    let docs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machine_documents")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(docs, 19);
    // Watches for documents seeded without the engine are started once
    // (the application may already have done it at start).
    garage::ensure_document_watches(services(&app))
        .await
        .expect("watches");
    let watched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_instances WHERE object_kind = 'machine_document' AND finished_at IS NULL",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(watched, 19, "every demo document is the newest of its kind");
    assert_eq!(
        garage::ensure_document_watches(services(&app))
            .await
            .expect("watches"),
        0
    );
    app.run_due().await;
    // The expired demo ОСАГО of the Shacman is reported once, to Фёдоров.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE recipient = 'owner@fedorov.test' AND subject LIKE 'Истёк%'")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(n, 1);
    app.stop().await;
}
