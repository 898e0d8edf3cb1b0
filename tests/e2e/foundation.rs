//! Foundation: migrations, accounts, sessions, CSRF, throttling, roles,
//! tenancy, demo data, operations endpoints.

use reqwest::StatusCode;

use crate::helpers::{DEMO_PASSWORD, TestApp, location};

#[tokio::test]
async fn migrations_apply_from_empty_and_the_app_is_ready() {
    let app = TestApp::spawn().await;
    let c = app.client();
    assert_eq!(c.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(c.get("/readyz").await.status(), StatusCode::OK);
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(app.db().pool())
            .await
            .expect("the migrations table");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations dir")
        .count() as i64;
    assert_eq!(applied, files, "every migration is applied");
    let brokers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE kind = 'broker'")
            .fetch_one(app.db().pool())
            .await
            .expect("count");
    assert_eq!(
        brokers, 1,
        "the broker's own organisation exists from the start"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let _ = c.get("/login").await;
    let (status, body) = c.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("http_requests_total"),
        "request counter present: {body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn sign_in_and_sign_out() {
    let app = TestApp::spawn_demo().await;
    let c = app.client();
    // Anonymous visitors are sent to sign in, and come back afterwards.
    let r = c.get("/admin/users").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Fadmin%2Fusers");

    let r = c
        .post_form(
            "/login",
            &[
                ("login", "ADMIN@podryad.test"),
                ("password", DEMO_PASSWORD),
                ("next", "/admin/users"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/users");
    let set_cookie: Vec<_> = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("podryad_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );

    let (status, body) = c.get_text("/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Алексей Смирнов"));

    let r = c.post_form("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        c.get("/admin/users").await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(sessions, 0, "the session is deleted on sign-out");
    app.stop().await;
}

#[tokio::test]
async fn sign_in_by_phone_in_any_format() {
    let app = TestApp::spawn_demo().await;
    let c = app.client();
    c.login("8 (916) 111-01-01", DEMO_PASSWORD).await;
    let (_, body) = c.get_text("/home").await;
    assert!(body.contains("Василий Орлов"), "the driver is signed in");
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_says_so_and_keeps_the_login() {
    let app = TestApp::spawn_demo().await;
    let c = app.client();
    let r = c
        .post_form(
            "/login",
            &[
                ("login", "manager@podryad.test"),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("Неверный логин или пароль"), "{body}");
    assert!(
        body.contains("value=\"manager@podryad.test\""),
        "the login is kept"
    );
    assert!(c.cookie("podryad_session").is_none());
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_login_with_a_clear_message() {
    let app = TestApp::spawn_demo().await;
    let c = app.client();
    for _ in 0..4 {
        let r = c
            .post_form(
                "/login",
                &[("login", "hunter@podryad.test"), ("password", "nope-nope")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // From the fifth failure on, each makes this address wait longer before
    // its next try (1 s, 2 s … up to 15 minutes): keep failing, waiting out
    // each delay, until the wait is the longest.
    for n in 0..10 {
        let r = c
            .post_form(
                "/login",
                &[("login", "hunter@podryad.test"), ("password", "nope-nope")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(chrono::Duration::seconds(1 << n));
    }
    let r = c
        .post_form(
            "/login",
            &[("login", "hunter@podryad.test"), ("password", "nope-nope")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = r.text().await.expect("body");
    assert!(body.contains("Слишком много неудачных попыток"), "{body}");
    assert!(body.contains("15 мин"), "says how long: {body}");

    // Even the right password is refused while locked…
    let r = c
        .post_form(
            "/login",
            &[
                ("login", "hunter@podryad.test"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …another account is not affected…
    c.login("manager@podryad.test", DEMO_PASSWORD).await;
    // …and the lock ends.
    app.clock.advance(chrono::Duration::minutes(16));
    let other = app.client();
    other.login("hunter@podryad.test", DEMO_PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn_demo().await;
    let c = app.client();
    let _ = c.csrf().await;
    let url = c.url("/login");
    let r = c
        .http
        .post(&url)
        .form(&[("login", "admin@podryad.test"), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token");
    let body = r.text().await.expect("body");
    assert!(body.contains("Страница устарела"), "{body}");

    let r = c
        .http
        .post(&url)
        .form(&[
            ("login", "admin@podryad.test"),
            ("password", DEMO_PASSWORD),
            ("_csrf", "x".repeat(43).as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "wrong token");

    // Signed in, a state-changing form still needs the token.
    c.login("admin@podryad.test", DEMO_PASSWORD).await;
    let r = c
        .http
        .post(c.url("/admin/users/new"))
        .form(&[
            ("full_name", "Пётр"),
            ("email", "p@podryad.test"),
            ("roles", "manager"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'p@podryad.test'")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(n, 0, "nothing was saved");
    app.stop().await;
}

#[tokio::test]
async fn role_gated_pages_answer_403_to_other_roles() {
    let app = TestApp::spawn_demo().await;
    for login in [
        "manager@podryad.test",
        "owner@stroytech.test",
        "client@sevbeton.test",
        "driver1@fedorov.test",
    ] {
        let c = app.client();
        c.login(login, DEMO_PASSWORD).await;
        let r = c.get("/admin/users").await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{login} must not see the admin's users page"
        );
        let body = r.text().await.expect("body");
        assert!(body.contains("Доступ запрещён"), "a readable page: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn another_organisations_object_answers_404() {
    let app = TestApp::spawn_demo().await;
    let id = |name: &'static str| {
        let pool = app.db().pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM organisations WHERE name = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .expect("org")
        }
    };
    let stroytech = id("ООО «СтройТехРесурс»").await;
    let gruzavto = id("ООО «ГрузАвто»").await;
    let client = id("ООО «Северный бетон»").await;

    let supplier = app.client();
    supplier.login("owner@stroytech.test", DEMO_PASSWORD).await;
    assert_eq!(
        supplier.get(&format!("/orgs/{stroytech}")).await.status(),
        StatusCode::OK
    );
    for other in [gruzavto, client, 999_999] {
        let r = supplier.get(&format!("/orgs/{other}")).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "org {other} is hidden from a supplier"
        );
    }
    let c = app.client();
    c.login("client@sevbeton.test", DEMO_PASSWORD).await;
    assert_eq!(
        c.get(&format!("/orgs/{stroytech}")).await.status(),
        StatusCode::NOT_FOUND
    );

    // The broker's staff see every organisation.
    let m = app.client();
    m.login("manager@podryad.test", DEMO_PASSWORD).await;
    assert_eq!(
        m.get(&format!("/orgs/{gruzavto}")).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn demo_seeding_is_idempotent() {
    let app = TestApp::spawn_demo().await;
    let count = |sql: &'static str| {
        let pool = app.db().pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    let users = count("SELECT COUNT(*) FROM users").await;
    let orgs = count("SELECT COUNT(*) FROM organisations").await;
    assert_eq!(
        users,
        6 + 3 * 4 + 2 + 1,
        "six staff, four people per supplier, two clients, the owner of a pending application"
    );
    assert_eq!(
        orgs,
        1 + 3 + 2 + 1 + 3,
        "…and three clients the demo requests brought (two website visitors, a hunter's client)"
    );
    let requests = count("SELECT COUNT(*) FROM requests").await;
    let created = podryad::demo::seed(app.db()).await.expect("seed again");
    assert_eq!(created, 0);
    let services = &app.app.as_ref().expect("running").services;
    podryad::demo::seed_live(services)
        .await
        .expect("seed the live part again");
    assert_eq!(count("SELECT COUNT(*) FROM users").await, users);
    assert_eq!(count("SELECT COUNT(*) FROM organisations").await, orgs);
    assert_eq!(count("SELECT COUNT(*) FROM requests").await, requests);
    app.stop().await;
}

#[tokio::test]
async fn demo_sign_in_page_lists_every_demo_account() {
    let app = TestApp::spawn_demo().await;
    let (status, body) = app.client().get_text("/login").await;
    assert_eq!(status, StatusCode::OK);
    for a in podryad::demo::accounts() {
        assert!(body.contains(a.email), "{} is offered", a.email);
    }
    app.stop().await;
}

#[tokio::test]
async fn admin_creates_a_colleague_who_sets_a_password_through_the_invitation() {
    let app = TestApp::spawn_demo().await;
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;

    // Bad input: errors next to the fields, values kept, nothing saved.
    let r = admin
        .post_form(
            "/admin/users/new",
            &[
                ("full_name", "Пётр Сидоров"),
                ("email", "not-an-email"),
                ("phone", "12345"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.expect("body");
    assert!(body.contains("Неверный адрес электронной почты"));
    assert!(body.contains("Неверный номер телефона"));
    assert!(body.contains("Выберите хотя бы одну роль"));
    assert!(body.contains("value=\"Пётр Сидоров\""), "typed name kept");
    assert!(body.contains("value=\"not-an-email\""), "typed e-mail kept");

    let r = admin
        .post_form(
            "/admin/users/new",
            &[
                ("full_name", "Пётр Сидоров"),
                ("email", "petr@podryad.test"),
                ("roles", "manager"),
                ("roles", "operator"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A taken e-mail is a field error too.
    let r = admin
        .post_form(
            "/admin/users/new",
            &[
                ("full_name", "Двойник"),
                ("email", "petr@podryad.test"),
                ("roles", "manager"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Эта почта уже используется")
    );

    let link = invitation_link(&app, "petr@podryad.test").await;
    let path = link.trim_start_matches(&app.base);
    let petr = app.client();
    let (status, _) = petr.get_text(path).await;
    assert_eq!(status, StatusCode::OK);
    let r = petr
        .post_form(path, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = petr
        .post_form(
            path,
            &[("password", "new-secret-1"), ("confirm", "new-secret-1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    petr.login("petr@podryad.test", "new-secret-1").await;
    let (_, body) = petr.get_text("/home").await;
    assert!(
        body.contains("Менеджер") && body.contains("Оператор контакт-центра"),
        "{body}"
    );
    // The link works once.
    let r = petr
        .post_form(
            path,
            &[("password", "other-secret"), ("confirm", "other-secret")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    app.stop().await;
}

async fn invitation_link(app: &TestApp, recipient: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(recipient)
    .fetch_one(app.db().pool())
    .await
    .expect("a message was queued");
    let re = regex::Regex::new(r"https?://\S+/password/set/\S+").expect("regex");
    re.find(&body)
        .expect("a link in the message")
        .as_str()
        .to_string()
}

#[tokio::test]
async fn password_reset_by_one_time_link_through_the_outbox() {
    let app = TestApp::spawn_demo().await;
    let c = app.client();
    let r = c
        .post_form("/password/forgot", &[("login", "accountant@podryad.test")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("ссылка уже отправлена")
    );
    // Unknown accounts get the same answer and no message.
    let r = c
        .post_form("/password/forgot", &[("login", "nobody@podryad.test")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = 'nobody@podryad.test'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(n, 0);

    // The admin reads the message in the outbox (no SMTP is configured).
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let (status, outbox) = admin.get_text("/admin/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        outbox.contains("accountant@podryad.test") && outbox.contains("Восстановление пароля"),
        "{outbox}"
    );

    let link = invitation_link(&app, "accountant@podryad.test").await;
    let path = link.trim_start_matches(&app.base);
    let r = c
        .post_form(
            path,
            &[("password", "fresh-pass-1"), ("confirm", "fresh-pass-1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c
        .post_form(
            "/login",
            &[
                ("login", "accountant@podryad.test"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the old password no longer works"
    );
    c.login("accountant@podryad.test", "fresh-pass-1").await;

    // An expired link is refused.
    let r = c
        .post_form("/password/forgot", &[("login", "analyst@podryad.test")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let link = invitation_link(&app, "analyst@podryad.test").await;
    app.clock.advance(chrono::Duration::hours(2));
    let path = link.trim_start_matches(&app.base);
    assert_eq!(c.get(path).await.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn the_outbox_does_not_show_admins_the_one_time_link() {
    // Mail goes to a fake relay: the real message must keep the link.
    let smtp = fakes::FakeSmtp::start().await.expect("fake SMTP");
    let config = connectors::ConnectorsConfig {
        smtp: Some(smtp.config("Подряд <noreply@podryad.test>")),
        ..Default::default()
    };
    let outside = connectors::Connectors::from_config(&config).expect("connectors");
    let transports = outside.transports.clone();
    let app = TestApp::spawn_demo_with_connectors(outside).await;
    let c = app.client();
    let r = c
        .post_form("/password/forgot", &[("login", "accountant@podryad.test")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The sender delivers (tests run without background workers).
    let sender = domain::notify::NotificationSender::new(app.db().clone(), transports);
    while sender.run_once().await.expect("the sender runs") > 0 {}
    // The message as the accountant receives it.
    let mail = smtp
        .messages()
        .into_iter()
        .find(|m| {
            m.to.iter().any(|t| t == "accountant@podryad.test")
                && m.text().contains("/password/set/")
        })
        .expect("the reset mail was sent");
    let text = mail.text();
    let token = regex::Regex::new(r"/password/set/([A-Za-z0-9_-]+)")
        .expect("regex")
        .captures(&text)
        .and_then(|c| c.get(1))
        .expect("a reset link in the mail")
        .as_str()
        .to_string();
    assert!(token.len() >= 32, "{token}");
    // The database keeps the real text, for the sender.
    assert_eq!(
        invitation_link(&app, "accountant@podryad.test")
            .await
            .rsplit('/')
            .next(),
        Some(token.as_str())
    );

    // The admin sees that a reset link was sent, not the link itself.
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let (status, outbox) = admin.get_text("/admin/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        outbox.contains("accountant@podryad.test") && outbox.contains("Восстановление пароля"),
        "{outbox}"
    );
    assert!(!outbox.contains(&token), "the live token is on the page");
    let body = outbox.replace("&#x2f;", "/");
    assert!(body.contains("/password/set/••••"), "{body}");
    let (_, filtered) = admin.get_text("/admin/outbox?recipient=accountant").await;
    assert!(!filtered.contains(&token));

    // The link still works for the person it was for.
    let r = c.get(&format!("/password/set/{token}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted() {
    let app = TestApp::spawn_demo().await;
    let admin = app.client();
    admin.login("admin@podryad.test", DEMO_PASSWORD).await;
    let me: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'admin@podryad.test'")
        .fetch_one(app.db().pool())
        .await
        .expect("id");
    let r = admin
        .post_form(
            &format!("/admin/users/{me}"),
            &[("roles", "manager"), ("status", "active")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("последнего администратора")
    );
    app.stop().await;
}

#[tokio::test]
async fn every_demo_role_reaches_its_home_page() {
    let app = TestApp::spawn_demo().await;
    for a in podryad::demo::accounts() {
        let c = app.client();
        c.login(a.email, DEMO_PASSWORD).await;
        let (status, body) = c.get_text("/home").await;
        assert_eq!(status, StatusCode::OK, "{}", a.email);
        assert!(body.contains(a.full_name), "{} sees their name", a.email);
    }
    app.stop().await;
}
