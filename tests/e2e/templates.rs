//! Document templates through the web: an analyst checks a template (a
//! problem is shown with its line and column), previews it as a PDF with the
//! sample data, saves and activates a version without a restart; other
//! roles cannot reach the page.

use reqwest::StatusCode;

use crate::helpers::{DEMO_PASSWORD, TestApp, location};

const CLIENT_ORDER: &str = include_str!("../../documents/templates/work_order_client.typ");

#[tokio::test]
async fn an_analyst_checks_previews_and_activates_a_template_version() {
    let app = TestApp::spawn_demo().await;
    let analyst = app.client();
    analyst.login("analyst@podryad.test", DEMO_PASSWORD).await;

    let (status, page) = analyst.get_text("/templates").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Заявка-наряд клиента") && page.contains("/templates/work_order_client"));
    let (status, page) = analyst.get_text("/templates/work_order_client").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Действует встроенный шаблон"), "{page}");
    assert!(page.contains("work_order_client.sample.json"));

    // A mistake on a known line: the page names the file, line and column,
    // and nothing is stored.
    let lines: Vec<&str> = CLIENT_ORDER.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("#section(\"Отмена заявки\")"))
        .expect("the template has a cancellation section");
    let broken = CLIENT_ORDER.replacen(
        "#section(\"Отмена заявки\")",
        "#section(\"Отмена заявки\")\n#no_such_helper(d)",
        1,
    );
    let r = analyst
        .post_form(
            "/templates/work_order_client/check",
            &[("source", broken.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    let expected = format!("шаблон work_order_client.typ, строка {}, столбец 2", at + 2);
    assert!(body.contains(&expected), "{expected:?} not in {body}");
    assert!(body.contains("unknown variable: no_such_helper"), "{body}");
    let r = analyst
        .post_form(
            "/templates/work_order_client/save",
            &[("source", broken.as_str()), ("activate", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM document_templates")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(stored, 0);
    // The preview of a broken template is the editor with the problem, not a PDF.
    let r = analyst
        .post_form(
            "/templates/work_order_client/preview",
            &[("source", broken.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The fixed text checks clean, previews as a PDF, saves and activates.
    let edited = CLIENT_ORDER.replace("#section(\"Прочие условия\")", "#section(\"Иные условия\")");
    assert_ne!(edited, CLIENT_ORDER);
    let r = analyst
        .post_form(
            "/templates/work_order_client/check",
            &[("source", edited.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("body").contains("Ошибок нет"));
    let r = analyst
        .post_form(
            "/templates/work_order_client/preview",
            &[("source", edited.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap(),
        "application/pdf"
    );
    let pdf = r.bytes().await.expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));

    let r = analyst
        .post_form(
            "/templates/work_order_client/save",
            &[("source", edited.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let draft_page = location(&r);
    assert!(
        draft_page.starts_with("/templates/versions/"),
        "{draft_page}"
    );
    let id = draft_page.trim_start_matches("/templates/versions/");
    // Drafts are not used for documents.
    let active = domain::paperwork::templates::active(app.db(), "work_order_client")
        .await
        .expect("active");
    assert_eq!(active.version, 0);
    let r = analyst
        .post_form(&format!("/templates/versions/{id}/activate"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let active = domain::paperwork::templates::active(app.db(), "work_order_client")
        .await
        .expect("active");
    assert_eq!((active.version, active.source), (1, edited.clone()));
    let (status, page) = analyst.get_text(&format!("/templates/versions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Иные условия") && page.contains("активна"));

    // Back to the built-in one.
    let r = analyst
        .post_form("/templates/work_order_client/builtin", &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let active = domain::paperwork::templates::active(app.db(), "work_order_client")
        .await
        .expect("active");
    assert_eq!(active.version, 0);

    // Only analysts and admins reach the page; an unknown template is 404.
    let (status, _) = analyst.get_text("/templates/no_such_template").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (status, _) = manager.get_text("/templates").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = manager
        .post_form(
            "/templates/work_order_client/preview",
            &[("source", edited.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
