//! Suppliers and clients: registration, e-mail confirmation, moderation on
//! the onboarding workflow, profile edits, employees, tenancy.

use reqwest::StatusCode;

use crate::helpers::{DEMO_PASSWORD, TestApp, location};

/// A real-format supplier application (the INN, OGRN, account key and
/// correspondent account all check out).
pub fn supplier_form<'a>(inn: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("legal_form", "ooo"),
        ("inn", inn),
        (
            "name",
            "Общество с ограниченной ответственностью «Кран-Сервис»",
        ),
        ("short_name", "ООО «Кран-Сервис»"),
        ("kpp", "771201001"),
        ("ogrn", "1197712345676"),
        ("legal_address", "г. Москва, ул. Строителей, д. 1"),
        ("region", "Москва"),
        ("bik", "044525225"),
        ("bank_name", "ПАО Сбербанк"),
        ("settlement_account", "40702810200000012345"),
        ("corr_account", "30101810400000000225"),
        ("vat_mode", "vat22"),
        ("contact_name", "Пётр Краснов"),
        ("phone", "+7 (903) 111-22-33"),
        ("email", email),
        ("person_name", "Пётр Краснов"),
        ("password", "kran-servis-1"),
        ("confirm", "kran-servis-1"),
        ("consent", "1"),
    ]
}

async fn last_link(app: &TestApp, recipient: &str, path: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = $1 AND body LIKE $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(recipient)
    .bind(format!("%{path}%"))
    .fetch_one(app.db().pool())
    .await
    .expect("a message with the link");
    let re = regex::Regex::new(&format!(r"https?://\S+{path}\S+")).expect("regex");
    let link = re.find(&body).expect("link").as_str().to_string();
    link.trim_start_matches(&app.base).to_string()
}

async fn org_status(app: &TestApp, inn: &str) -> (i64, String) {
    sqlx::query_as("SELECT id, status FROM organisations WHERE inn = $1 AND kind = 'supplier'")
        .bind(inn)
        .fetch_one(app.db().pool())
        .await
        .expect("org")
}

#[tokio::test]
async fn supplier_registers_confirms_and_is_approved_by_a_manager() {
    let app = TestApp::spawn_demo().await;
    let visitor = app.client();
    let (status, page) = visitor.get_text("/register/supplier").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Регистрация поставщика"));
    assert!(
        page.contains("value=\"vat22\"") && page.contains("value=\"none\""),
        "VAT modes are offered"
    );

    // Mistakes are named next to their fields and what was typed stays.
    let mut bad = supplier_form("7712345672", "kran@example.test");
    bad.retain(|(k, _)| *k != "consent");
    let r = visitor.post_form("/register/supplier", &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("Неверный ИНН: не сходится контрольная сумма"),
        "{body}"
    );
    assert!(body.contains("Нужно согласие на обработку персональных данных"));
    assert!(body.contains("value=\"7712345672\""), "typed INN kept");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE inn = '7712345672'")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(n, 0, "nothing saved");

    let r = visitor
        .post_form(
            "/register/supplier",
            &supplier_form("7712345671", "kran@example.test"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (org_id, status) = org_status(&app, "7712345671").await;
    assert_eq!(status, "unconfirmed");

    // The same company cannot apply twice.
    let r = visitor
        .post_form(
            "/register/supplier",
            &supplier_form("7712345671", "other@example.test"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("уже зарегистрирована")
    );

    // The owner can sign in and sees the status.
    let owner = app.client();
    owner.login("kran@example.test", "kran-servis-1").await;
    let (_, profile) = owner.get_text("/profile").await;
    assert!(profile.contains("Почта не подтверждена"), "{profile}");

    let confirm = last_link(&app, "kran@example.test", "/confirm/").await;
    let (status, _) = owner.get_text(&confirm).await;
    assert_eq!(status, StatusCode::OK);
    app.run_due().await;
    assert_eq!(org_status(&app, "7712345671").await.1, "pending");
    let (_, profile) = owner.get_text("/profile").await;
    assert!(
        profile.contains("Менеджер проверяет реквизиты"),
        "{profile}"
    );

    // Not approved yet: the owner cannot be in the suppliers' directory as approved.
    // The manager finds the verification task in the inbox…
    let manager = app.client();
    manager.login("manager@podryad.test", DEMO_PASSWORD).await;
    let (_, inbox) = manager.get_text("/tasks").await;
    assert!(inbox.contains("Кран-Сервис"), "{inbox}");
    let task_id: i64 = sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'supplier' AND i.object_id = $1 AND t.status = 'open'",
    )
    .bind(org_id)
    .fetch_one(app.db().pool())
    .await
    .expect("verification task");
    // …asks for changes without saying what: refused, the comment is required.
    let r = manager
        .post_form(
            &format!("/tasks/{task_id}/complete"),
            &[("outcome", "ask_changes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = manager
        .post_form(
            &format!("/tasks/{task_id}/complete"),
            &[
                ("outcome", "ask_changes"),
                ("comment", "Приложите верный почтовый адрес"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    assert_eq!(org_status(&app, "7712345671").await.1, "changes_requested");
    let (_, profile) = owner.get_text("/profile").await;
    assert!(
        profile.contains("Приложите верный почтовый адрес"),
        "the reason is shown: {profile}"
    );

    // The supplier fixes the application and sends it back.
    let mut fixed = supplier_form("7712345671", "kran@example.test");
    fixed.retain(|(k, _)| !["person_name", "password", "confirm", "consent"].contains(k));
    fixed.push(("postal_address", "123100, г. Москва, а/я 5"));
    let r = owner.post_form("/profile/edit", &fixed).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let r = owner.post_form("/profile/resubmit", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    assert_eq!(org_status(&app, "7712345671").await.1, "pending");

    let task_id: i64 = sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'supplier' AND i.object_id = $1 AND t.status = 'open'",
    )
    .bind(org_id)
    .fetch_one(app.db().pool())
    .await
    .expect("a new verification task");
    let r = manager
        .post_form(
            &format!("/tasks/{task_id}/complete"),
            &[("outcome", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    assert_eq!(org_status(&app, "7712345671").await.1, "approved");
    let (_, profile) = owner.get_text("/profile").await;
    assert!(profile.contains("Вы подключены"), "{profile}");
    let approved_mail: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = 'kran@example.test' AND subject LIKE '%подключена%'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(approved_mail, 1, "the owner is told once");

    // The history shows what changed.
    assert!(
        profile.contains("Почтовый адрес"),
        "history lists the field: {profile}"
    );

    // Changing bank details sends an approved supplier back to moderation.
    let mut moved = fixed.clone();
    for f in moved.iter_mut() {
        if f.0 == "settlement_account" {
            f.1 = "40702810100000054321";
        }
        if f.0 == "bik" {
            f.1 = "044525974";
        }
        if f.0 == "corr_account" {
            f.1 = "30101810145250000974";
        }
        if f.0 == "bank_name" {
            f.1 = "АО «ТБанк»";
        }
    }
    let r = owner.post_form("/profile/edit", &moved).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(org_status(&app, "7712345671").await.1, "pending");
    app.stop().await;
}

#[tokio::test]
async fn a_private_client_registers_with_a_name_phone_and_email() {
    let app = TestApp::spawn().await;
    let v = app.client();
    let r = v
        .post_form(
            "/register/client",
            &[
                ("legal_form", "person"),
                ("person_name", "Анна Лебедева"),
                ("phone", "8 916 555 44 33"),
                ("email", "anna@example.test"),
                ("password", "anna-pass-1"),
                ("confirm", "anna-pass-1"),
                ("consent", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let c = app.client();
    c.login("+79165554433", "anna-pass-1").await;
    let (status, profile) = c.get_text("/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile.contains("Анна Лебедева"));
    // Contact people.
    let r = c
        .post_form(
            "/profile/contacts",
            &[("full_name", "Олег Прорабов"), ("position", "прораб")],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a phone or e-mail is needed"
    );
    let r = c
        .post_form(
            "/profile/contacts",
            &[
                ("full_name", "Олег Прорабов"),
                ("position", "прораб"),
                ("phone", "+79031234567"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = c.get_text("/profile/contacts").await;
    assert!(page.contains("Олег Прорабов"));
    app.stop().await;
}

#[tokio::test]
async fn employees_are_invited_and_join_with_their_role_and_stay_private() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@stroytech.test", DEMO_PASSWORD).await;
    let form = reqwest::multipart::Form::new()
        .text("role", "driver")
        .text("full_name", "Семён Крановщиков")
        .text("phone", "+7 916 777-88-99")
        .text("licence_categories", "C, CE")
        .text("operator_licence", "77 АВ 123456");
    let token = owner.csrf().await;
    let r = owner
        .http
        .post(owner.url(&format!("/supplier/employees/new?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let path = location(&r);
    let id: i64 = path
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("id");

    let r = owner
        .post_form(&format!("/supplier/employees/{id}/invite"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let body: String = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = '+79167778899' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("an SMS invitation");
    let link = regex::Regex::new(r"https?://\S+/join/\S+")
        .expect("re")
        .find(&body)
        .expect("link")
        .as_str()
        .to_string();
    let join = link.trim_start_matches(&app.base).to_string();
    let semyon = app.client();
    let (status, page) = semyon.get_text(&join).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("СтройТехРесурс"));
    let r = semyon
        .post_form(
            &join,
            &[("password", "semyon-pass"), ("confirm", "semyon-pass")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    semyon.login("+79167778899", "semyon-pass").await;
    let (_, home) = semyon.get_text("/home").await;
    assert!(home.contains("Семён Крановщиков"));
    // A driver sees what a driver may: not the garage's office pages.
    assert_eq!(
        semyon.get("/supplier/employees").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        semyon.get("/profile/edit").await.status(),
        StatusCode::FORBIDDEN
    );

    // Another supplier cannot see or change this employee.
    let other = app.client();
    other.login("owner@gruzavto.test", DEMO_PASSWORD).await;
    assert_eq!(
        other
            .get(&format!("/supplier/employees/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = other
        .post_form(&format!("/supplier/employees/{id}/archive"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn staff_directories_filter_suppliers() {
    let app = TestApp::spawn_demo().await;
    let m = app.client();
    m.login("manager@podryad.test", DEMO_PASSWORD).await;
    // Case does not matter, in Russian too.
    let (status, page) = m.get_text("/suppliers?q=грузавто").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(">ООО «ГрузАвто»</a>"), "{page}");
    assert!(!page.contains("СтройТехРесурс"));
    let (_, page) = m.get_text("/suppliers?status=rejected").await;
    assert!(!page.contains("ГрузАвто"));
    let (_, page) = m.get_text("/clients").await;
    assert!(page.contains("Северный бетон"));
    // Suppliers and clients have no access to directories.
    let s = app.client();
    s.login("owner@stroytech.test", DEMO_PASSWORD).await;
    assert_eq!(s.get("/suppliers").await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn the_registration_form_fills_company_details_from_the_registry_by_inn() {
    let (app, _dadata) = TestApp::spawn_with_fake_registry(false).await;
    let v = app.client();
    let r = v
        .post_form(
            "/register/supplier",
            &[
                ("legal_form", "ooo"),
                ("inn", "7736207543"),
                ("bik", "044525225"),
                ("lookup", "1"),
                ("email", "me@example.test"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("Данные из реестра подставлены"), "{page}");
    assert!(page.contains("value=\"770401001\""), "KPP filled: {page}");
    assert!(page.contains("ЯНДЕКС"), "name filled");
    assert!(
        page.contains("value=\"30101810400000000225\""),
        "correspondent account from the BIK"
    );
    assert!(
        page.contains("value=\"me@example.test\""),
        "what was typed stays"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE inn = '7736207543'")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(n, 0, "a lookup saves nothing");
    // An unknown INN leaves the form manual.
    let r = v
        .post_form(
            "/register/supplier",
            &[
                ("legal_form", "ooo"),
                ("inn", "7703123457"),
                ("lookup", "1"),
            ],
        )
        .await;
    assert!(r.text().await.expect("body").contains("не найдена"));
    app.stop().await;
}

/// Phones need the numeric keypad: the field attributes reach the page as
/// markup, not as escaped text, and the fields a company must fill are marked.
#[tokio::test]
async fn the_registration_form_asks_for_a_numeric_keypad_and_marks_required_details() {
    let app = TestApp::spawn().await;
    let page = app
        .client()
        .get("/register/supplier")
        .await
        .text()
        .await
        .expect("body");
    let inn = page
        .split("<input id=\"f-inn\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("INN input");
    assert!(inn.contains("inputmode=\"numeric\""), "{inn}");
    assert!(
        !page.contains("&quot;numeric&quot;"),
        "attributes escaped twice"
    );
    for field in ["f-ogrn", "f-kpp", "f-inn"] {
        let label = page
            .split(&format!("<label for=\"{field}\">"))
            .nth(1)
            .and_then(|rest| rest.split("</label>").next())
            .expect("label");
        assert!(label.contains("class=\"req\""), "{field}: {label}");
    }
    app.stop().await;
}
