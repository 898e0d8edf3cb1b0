//! Analysts without a programmer: moving running instances to another
//! version in the browser (preview, then confirm), re-reading the files
//! while the server runs (a broken one refused, the last good version
//! active), status labels from the YAML, the guide to `object.*` written
//! from the code, and the diagram with full labels.

use reqwest::StatusCode;

use crate::helpers::{DEMO_PASSWORD, TestApp};
use crate::quotes::{open_task, request_status, services};
use crate::workflows::{ONBOARDING, instance_of, register_and_confirm};

async fn analyst(app: &TestApp) -> crate::helpers::Browser {
    let b = app.client();
    b.login("analyst@podryad.test", DEMO_PASSWORD).await;
    b
}

/// Version 2 of the onboarding funnel calls its first state `review`
/// instead of `verification`: instances waiting in `verification` have no
/// state of that name to go to and need the analyst's map.
fn onboarding_with_review() -> String {
    assert!(ONBOARDING.contains("initial: verification"));
    ONBOARDING.replace("verification", "review")
}

/// The preview names each running instance with its state before and
/// after, asks where to put a state the new version lacks, moves nothing
/// until confirmed; the confirmed migration moves the instance and reopens
/// its task on the new version.
#[tokio::test]
async fn the_browser_previews_a_migration_and_moves_a_running_instance_on_confirm() {
    let app = TestApp::spawn_demo().await;
    let org = register_and_confirm(&app, "7712345671", "move@example.test").await;
    let (id, state, version) = instance_of(&app, org).await;
    assert_eq!((state.as_str(), version), ("verification", 1));

    let analyst = analyst(&app).await;
    let r = analyst
        .post_form(
            "/workflows/save",
            &[
                ("yaml", onboarding_with_review().as_str()),
                ("activate", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The definition page offers the move.
    let (status, page) = analyst.get_text("/workflows/supplier_onboarding").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("/workflows/supplier_onboarding/migrate?to=2"),
        "{page}"
    );

    // Without a map: the instance is listed with nowhere to go, a select
    // asks for the state, and there is no confirm button.
    let (status, page) = analyst
        .get_text("/workflows/supplier_onboarding/migrate?to=2")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("/instances/{id}")), "{page}");
    assert!(page.contains("name=\"map.verification\""), "{page}");
    assert!(
        page.contains("Проверка заявки"),
        "the state's title: {page}"
    );
    assert!(!page.contains("method=\"post\" action=\"/workflows/supplier_onboarding/migrate\""));
    assert!(
        page.contains("в версии 2 такого состояния нет"),
        "the reason in words: {page}"
    );

    // A forced confirm without the map is refused as a whole.
    let r = analyst
        .post_form(
            "/workflows/supplier_onboarding/migrate",
            &[("to", "2"), ("from", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(instance_of(&app, org).await, (id, "verification".into(), 1));

    // With the map: the preview says where it goes, and offers to confirm.
    let (status, page) = analyst
        .get_text("/workflows/supplier_onboarding/migrate?to=2&from=1&map.verification=review")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("v1 · Проверка заявки"), "{page}");
    assert!(page.contains("v2 · Проверка заявки"), "{page}");
    assert!(page.contains("на версию 2</button>"), "{page}");
    assert_eq!(
        instance_of(&app, org).await,
        (id, "verification".into(), 1),
        "a preview moves nothing"
    );

    let r = analyst
        .post_form(
            "/workflows/supplier_onboarding/migrate",
            &[("to", "2"), ("from", "1"), ("map.verification", "review")],
        )
        .await;
    let (status, page) = analyst.follow(r).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Процессы перенесены"), "{page}");
    assert_eq!(instance_of(&app, org).await, (id, "review".into(), 2));
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_tasks WHERE instance_id = $1 AND status = 'open' AND state = 'review'",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("tasks");
    assert_eq!(open, 1, "the task is reopened in the new state");

    // Bad input is the caller's mistake, and a manager may not migrate.
    let r = analyst
        .get("/workflows/supplier_onboarding/migrate?to=two")
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let r = manager
        .post_form(
            "/workflows/supplier_onboarding/migrate",
            &[("to", "1"), ("from", "2")],
        )
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(instance_of(&app, org).await, (id, "review".into(), 2));
    app.stop().await;
}

/// A copy of the shipped analysts' folder to change while the server runs.
fn workflows_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    crate::intake::copy_dir(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows")),
        dir.path(),
    );
    dir
}

async fn active_version(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar("SELECT version FROM wf_definitions WHERE key = $1 AND status = 'active'")
        .bind(key)
        .fetch_one(app.db().pool())
        .await
        .expect("active version")
}

/// "Перечитать файлы" on the workflows page: a broken file is refused with
/// its file, line and column, its workflow keeps the version that was
/// active and the server goes on; a good change becomes active at once.
#[tokio::test]
async fn a_broken_file_is_refused_on_reload_and_the_last_good_version_stays_active() {
    let dir = workflows_copy();
    let app = TestApp::spawn_demo_with_workflows(dir.path().to_path_buf()).await;
    let before = active_version(&app, "supplier_onboarding").await;
    let analyst = analyst(&app).await;

    let file = dir.path().join("supplier_onboarding.yaml");
    let good = std::fs::read_to_string(&file).expect("read");
    // A misspelt state in one outcome.
    std::fs::write(&file, good.replacen("to: approved", "to: aproved", 1)).expect("write");
    let r = analyst.post_form("/workflows/reload", &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("supplier_onboarding.yaml: строка")
            && page.contains("неизвестное состояние «aproved»")
            && page.contains("возможно, опечатка — есть «approved»"),
        "{page}"
    );
    assert_eq!(
        page.matches("«aproved»").count(),
        1,
        "one typo, one message"
    );
    assert_eq!(
        active_version(&app, "supplier_onboarding").await,
        before,
        "the last good version stays active"
    );
    // The server goes on: a new supplier still gets its funnel.
    let org = register_and_confirm(&app, "7712345671", "after@example.test").await;
    assert_eq!(instance_of(&app, org).await.2, before);

    // A good change is taken at once.
    std::fs::write(
        &file,
        good.replacen(
            "title: Проверка заявки",
            "title: Проверка заявки поставщика",
            1,
        ),
    )
    .expect("write");
    let r = analyst.post_form("/workflows/reload", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("Включены новые версии"), "{page}");
    assert_eq!(
        active_version(&app, "supplier_onboarding").await,
        before + 1
    );
    app.stop().await;
}

/// The request funnel with a new stage after qualification: a site survey
/// the catalogue has no text for.
fn request_with_site_survey() -> String {
    let yaml = include_str!("../../workflows/request.yaml");
    let ready = "          ready:\n            title: Заявка готова к подбору\n            to: ready_for_matching";
    assert!(yaml.contains(ready), "the shipped qualify outcome");
    yaml.replacen(
        ready,
        "          ready:\n            title: Заявка готова к подбору\n            to: site_survey",
        1,
    )
    .replacen(
        "  ready_for_matching:\n",
        "  site_survey:\n    title: Выезд на объект\n    on_enter:\n      - action: request.set_status\n        with: {status: \"'site_survey'\"}\n    tasks:\n      - id: survey\n        title: Осмотреть объект\n        roles: [manager]\n        outcomes:\n          done:\n            title: Осмотр проведён\n            to: ready_for_matching\n\n  ready_for_matching:\n",
        1,
    )
}

/// A state added in the YAML is labelled with its title on the request
/// page and in the lists — never with a raw catalogue key.
#[tokio::test]
async fn a_new_states_status_shows_its_title_from_the_yaml() {
    let app = TestApp::spawn_demo().await;
    let analyst = analyst(&app).await;
    let r = analyst
        .post_form(
            "/workflows/save",
            &[
                ("yaml", request_with_site_survey().as_str()),
                ("activate", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);

    let (request, _) = crate::quotes::ready_request(&app).await;
    assert_eq!(request_status(&app, request).await, "site_survey");
    let _ = open_task(&app, request, "survey").await;

    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, page) = manager.get_text(&format!("/requests/{request}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Выезд на объект"), "{page}");
    assert!(!page.contains(">request-status-"), "no raw key: {page}");
    // Shipped statuses keep the catalogue's words.
    let (_, list) = manager.get_text("/requests?scope=all").await;
    assert!(!list.contains(">request-status-"), "{list}");
    app.stop().await;
}

/// The guide lists every `object.*` field of every object kind from the
/// code's own list; the README's table is the same; each provider gives
/// exactly the fields it declares; and the checker refuses any other.
#[tokio::test]
async fn the_guide_lists_object_fields_from_the_code_and_the_checker_enforces_them() {
    let app = TestApp::spawn_demo().await;
    let s = services(&app);
    let fields = s.engine.vocabulary().object_fields.clone();
    for kind in ["request", "supplier", "order", "contract"] {
        assert!(fields.contains_key(kind), "{kind} declares its fields");
    }

    // Every field has its meaning in the catalogue, and the README's table
    // is what `podryad workflows fields` prints.
    let texts = web::i18n::Catalogue::russian().expect("catalogue");
    for id in web::guide::text_ids(&fields) {
        assert!(texts.has(&id), "{id} is explained");
    }
    let table = web::guide::markdown(&web::guide::object_fields(&fields, &texts));
    let readme = include_str!("../../workflows/README.md");
    let block = readme
        .split_once("<!-- object-fields:begin")
        .and_then(|(_, rest)| rest.split_once("-->\n"))
        .and_then(|(_, rest)| rest.split_once("<!-- object-fields:end -->"))
        .map(|(b, _)| b)
        .expect("the README's object-fields block");
    assert_eq!(
        block, table,
        "workflows/README.md: replace the object-fields block with `podryad workflows fields`"
    );

    // What each provider gives is what it declares (on the demo's objects).
    for (kind, declared) in &fields {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT MAX(object_id) FROM wf_instances WHERE object_kind = $1")
                .bind(kind)
                .fetch_one(app.db().pool())
                .await
                .expect("object");
        let Some(id) = id else { continue };
        let value = s.engine.object_context_of(kind, id).await.expect("context");
        let mut given: Vec<&String> = value.as_object().expect("an object").keys().collect();
        given.sort();
        let mut declared: Vec<&String> = declared.iter().collect();
        declared.sort();
        assert_eq!(given, declared, "object.* of {kind}");
    }

    // The page.
    let analyst = analyst(&app).await;
    let (status, page) = analyst.get_text("/workflows/guide").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("object.owner_user_id") && page.contains("ответственный менеджер заявки"),
        "{page}"
    );
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    assert!(
        manager
            .get("/workflows/guide")
            .await
            .status()
            .is_client_error()
    );

    // The checker refuses a field the object does not have.
    let yaml = include_str!("../../workflows/request.yaml").replacen(
        "assignee: object.owner_user_id",
        "assignee: object.manager_id",
        1,
    );
    let r = analyst
        .post_form("/workflows/check", &[("yaml", yaml.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("нет поля «manager_id»") && page.contains("owner_user_id"),
        "{page}"
    );
    app.stop().await;
}

/// The diagram draws full titles (no "…"), names conditions in words, and
/// comes with its zoom script, served from the binary.
#[tokio::test]
async fn the_diagram_has_full_labels_and_zoom() {
    let app = TestApp::spawn_demo().await;
    let analyst = analyst(&app).await;
    let (status, page) = analyst.get_text("/workflows/request").await;
    assert_eq!(status, StatusCode::OK);
    let svg = page
        .split_once("class=\"workflow-diagram\"")
        .and_then(|(_, rest)| rest.split_once("</svg>"))
        .map(|(svg, _)| svg)
        .expect("the diagram");
    assert!(!svg.contains('…'), "nothing is cut");
    assert!(!svg.contains("[if "), "no raw conditions in labels");
    assert!(svg.contains("(при условии)"), "conditions in words: {svg}");
    assert!(
        svg.contains("Заявка отменена"),
        "event transitions by title"
    );
    assert!(page.contains("/static/diagram.js") && page.contains("data-zoom=\"in\""));
    let r = analyst.get("/static/diagram.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}
