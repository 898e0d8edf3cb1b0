//! Security (the issue "found from outside as an attacker would"): each
//! hole is tried from outside, through HTTP, the way an attacker would, and
//! must be closed — on SQLite and on PostgreSQL alike.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp, location};

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn signed_in(app: &TestApp, email: &str) -> Browser {
    let b = app.client();
    b.login(email, DEMO_PASSWORD).await;
    b
}

async fn token(app: &TestApp, scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    domain::accounts::api_tokens::create(app.db(), None, "test", &scopes)
        .await
        .expect("token")
        .1
}

// ---- A2: API tokens have scopes; only external events come from outside.

#[tokio::test]
async fn an_api_token_can_do_only_what_its_scopes_name() {
    let app = TestApp::spawn_demo().await;
    let request_instance = scalar(
        &app,
        "SELECT MIN(id) FROM wf_instances WHERE definition_key = 'request'",
    )
    .await;
    let http = reqwest::Client::new();
    let emit = |token: String, name: &'static str| {
        let http = http.clone();
        let url = format!("{}/api/v1/instances/{request_instance}/events", app.base);
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"name": name, "payload": {"offer_id": 1}}))
                .send()
                .await
                .expect("POST")
        }
    };
    // A token without scopes (as every token made before scopes) is no admin.
    let none = token(&app, &[]).await;
    let r = emit(none.clone(), "offer.accepted").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "token.scope");
    let r = http
        .post(format!("{}/api/v1/workflows/request/start", app.base))
        .bearer_auth(&none)
        .json(&json!({"object_id": 1}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .get(format!("{}/api/v1/instances/{request_instance}", app.base))
        .bearer_auth(&none)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // With `events:emit`, still only the events the workflow lists as external.
    let emitter = token(&app, &["events:emit", "instances:read"]).await;
    let before = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM wf_history WHERE instance_id = {request_instance}"),
    )
    .await;
    for name in ["offer.accepted", "order.started"] {
        let r = emit(emitter.clone(), name).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "event.not_external", "{name}");
    }
    let after = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM wf_history WHERE instance_id = {request_instance}"),
    )
    .await;
    assert_eq!(before, after, "nothing happened to the instance");
    let r = http
        .get(format!("{}/api/v1/instances/{request_instance}", app.base))
        .bearer_auth(&emitter)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

// ---- B5: no open redirect after sign-in.

#[tokio::test]
async fn a_forged_next_after_sign_in_goes_home() {
    let app = TestApp::spawn_demo().await;
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
    ] {
        let b = app.client();
        let r = b
            .post_form(
                "/login",
                &[
                    ("login", "admin@podryad.test"),
                    ("password", DEMO_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&r), "/home", "{next:?}");
        // Signed in, the sign-in page with the same `next` also goes home.
        let q: String = next.bytes().map(|c| format!("%{c:02X}")).collect();
        let r = b.get(&format!("/login?next={q}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&r), "/home", "{next:?}");
    }
    // The raw attack link of the issue.
    let b = signed_in(&app, "admin@podryad.test").await;
    let r = b.get("/login?next=%2F%09%2Fevil.example").await;
    assert_eq!(location(&r), "/home");
    let r = b.get("/login?next=%2F%0A%2Fevil.example").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "a newline is no 500");
    assert_eq!(location(&r), "/home");
    app.stop().await;
}

// ---- B11: the CSRF token is bound to the session.

#[tokio::test]
async fn a_csrf_token_of_another_session_is_refused() {
    let app = TestApp::spawn_demo().await;
    let victim = signed_in(&app, "admin@podryad.test").await;
    let attacker = signed_in(&app, "hunter@podryad.test").await;
    let attackers_token = attacker.csrf().await;
    assert_ne!(attackers_token, victim.csrf().await);
    // The victim's browser sends its own session cookie, but the attacker
    // planted their own token in the cookie and the form.
    let session = victim.cookie("podryad_session").expect("session");
    let r = victim
        .http
        .post(victim.url("/logout"))
        .header(
            "cookie",
            format!("podryad_session={session}; podryad_csrf={attackers_token}"),
        )
        .form(&[("_csrf", attackers_token.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A token read before sign-in stops working after it.
    let b = app.client();
    let before = b.csrf().await;
    b.login("manager@podryad.test", DEMO_PASSWORD).await;
    let after = b.csrf().await;
    assert_ne!(before, after);
    let session = b.cookie("podryad_session").expect("session");
    let r = b
        .http
        .post(b.url("/account/telegram"))
        .header(
            "cookie",
            format!("podryad_session={session}; podryad_csrf={before}"),
        )
        .form(&[("_csrf", before.as_str()), ("telegram_chat_id", "")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // And the session's token stops working after sign-out.
    let r = b.post_form("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = b
        .http
        .post(b.url("/login"))
        .header("cookie", format!("podryad_csrf={after}"))
        .form(&[
            ("_csrf", after.as_str()),
            ("login", "manager@podryad.test"),
            ("password", DEMO_PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    // Anonymous forms still work with the double-submit cookie...
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // ...but the old session's token is no session's any more.
    let fresh = b.csrf().await;
    assert_ne!(fresh, after);
    app.stop().await;
}

// ---- B14: /metrics only for the allowed addresses or a `metrics` token.

#[tokio::test]
async fn metrics_are_refused_outside_the_allow_list() {
    let app = TestApp::spawn_demo_configured(|c| {
        c.metrics_allow = vec!["10.9.8.7".parse().expect("ip")];
    })
    .await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let wrong = token(&app, &["events:emit"]).await;
    let r = http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(wrong)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let right = token(&app, &["metrics"]).await;
    let r = http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(right)
        .send()
        .await
        .expect("GET");
    assert_ne!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

// ---- B15: nothing of a signed-in session is cached.

#[tokio::test]
async fn signed_in_pages_are_not_stored_by_caches() {
    let app = TestApp::spawn_demo().await;
    let b = signed_in(&app, "manager@podryad.test").await;
    for path in ["/home", "/requests", "/tasks", "/no-such-page"] {
        let r = b.get(path).await;
        let cc = r
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(cc.contains("no-store"), "{path}: {cc:?}");
    }
    // One-time links too, signed in or not.
    let anon = app.client();
    let r = anon.get("/password/set/whatever").await;
    assert!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-store"))
    );
    // Static assets stay cacheable.
    let r = b.get("/static/app.css").await;
    assert!(
        !r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .contains("no-store")
    );
    app.stop().await;
}

// ---- B10: a NUL byte in any text is bad input, not a 500.

#[tokio::test]
async fn a_nul_byte_in_text_is_refused_as_bad_input() {
    let app = TestApp::spawn_demo().await;
    // A form of a signed-in page.
    let b = signed_in(&app, "admin@podryad.test").await;
    let before = scalar(&app, "SELECT COUNT(*) FROM users").await;
    let r = b
        .post_form(
            "/admin/users/new",
            &[
                ("full_name", "Иван\0Петров"),
                ("email", "nul@podryad.test"),
                ("roles", "manager"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(page.contains("управляющие символы"), "{page}");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM users").await, before);
    // An anonymous form (the public request form).
    let anon = app.client();
    let r = anon
        .post_form(
            "/request/machinery",
            &[
                ("contact_name", "Олег\0"),
                ("contact_phone", "+79161234567"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // JSON, with the field named.
    let requests = scalar(&app, "SELECT COUNT(*) FROM requests").await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/public/requests", app.base))
        .json(&json!({
            "request_type": "machinery",
            "contact_name": "Олег\u{0}",
            "contact_phone": "+7 916 123-45-67",
        }))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "text.control_chars");
    assert_eq!(body["fields"][0]["field"], "contact_name");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM requests").await,
        requests
    );
    app.stop().await;
}

// ---- B12: registration does not tell which addresses have an account.

#[tokio::test]
async fn registration_answers_the_same_for_new_and_taken_addresses() {
    let app = TestApp::spawn_demo().await;
    let v = app.client();
    let form = |email: &'static str| {
        vec![
            ("legal_form", "person"),
            ("person_name", "Анна Лебедева"),
            ("phone", "8 916 555 44 33"),
            ("email", email),
            ("password", "anna-pass-1"),
            ("confirm", "anna-pass-1"),
            ("consent", "1"),
        ]
    };
    let users = scalar(&app, "SELECT COUNT(*) FROM users").await;
    let new = v
        .post_form("/register/client", &form("anna@example.test"))
        .await;
    let new_status = new.status();
    let new_page = new
        .text()
        .await
        .expect("body")
        .replace("anna@example.test", "ADDRESS");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM users").await, users + 1);
    // The same again with a taken address (a demo client's), and another
    // new phone so that only the e-mail is taken.
    let mut taken_form = form("client@sevbeton.test");
    taken_form[2] = ("phone", "8 916 555 44 34");
    let taken = v.post_form("/register/client", &taken_form).await;
    assert_eq!(taken.status(), new_status);
    let taken_page = taken
        .text()
        .await
        .expect("body")
        .replace("client@sevbeton.test", "ADDRESS");
    assert_eq!(taken_page, new_page, "the answers are identical");
    assert!(!taken_page.contains("уже используется"));
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM users").await,
        users + 1,
        "nothing created for the taken address"
    );
    // The address's owner hears about the attempt.
    let told = scalar(
        &app,
        "SELECT COUNT(*) FROM notifications WHERE recipient = 'client@sevbeton.test' AND subject LIKE '%Попытка регистрации%'",
    )
    .await;
    assert_eq!(told, 1);
    app.stop().await;
}

// ---- B8: password reset is rate-limited; a reset kills every other link.

async fn forgot(b: &Browser, login: &str) -> StatusCode {
    b.post_form("/password/forgot", &[("login", login)])
        .await
        .status()
}

async fn reset_links(app: &TestApp, recipient: &str) -> Vec<String> {
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = $1 AND body LIKE '%/password/set/%' ORDER BY id",
    )
    .bind(recipient)
    .fetch_all(app.db().pool())
    .await
    .expect("notifications");
    bodies
        .iter()
        .map(|b| {
            let at = b.find("/password/set/").expect("link");
            b[at..]
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_password_reset_flood_is_refused_and_old_links_die() {
    let app = TestApp::spawn_demo().await;
    let b = app.client();
    for _ in 0..3 {
        assert_eq!(forgot(&b, "manager@podryad.test").await, StatusCode::OK);
    }
    assert_eq!(
        forgot(&b, "manager@podryad.test").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let links = reset_links(&app, "manager@podryad.test").await;
    assert_eq!(links.len(), 3, "no fourth message");
    // Unknown logins count the same (the limit tells nothing).
    assert_eq!(forgot(&b, "nobody@example.test").await, StatusCode::OK);

    // Setting the password through one link kills the others.
    let (first, last) = (&links[0], &links[2]);
    let r = b
        .post_form(
            last,
            &[("password", "new-pass-123"), ("confirm", "new-pass-123")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, _) = b.get_text(first).await;
    assert_eq!(status, StatusCode::GONE);
    let r = b
        .post_form(
            first,
            &[("password", "evil-pass-123"), ("confirm", "evil-pass-123")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    b.login("manager@podryad.test", "new-pass-123").await;

    // Per address: many accounts from one address are refused too.
    let other = app.client();
    let mut refused = false;
    for who in [
        "admin@podryad.test",
        "hunter@podryad.test",
        "operator@podryad.test",
        "accountant@podryad.test",
        "analyst@podryad.test",
        "a1@example.test",
        "a2@example.test",
        "a3@example.test",
        "a4@example.test",
        "a5@example.test",
        "a6@example.test",
    ] {
        if forgot(&other, who).await == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
        }
    }
    assert!(refused, "the address's limit holds");
    app.stop().await;
}

// ---- B9: a login is throttled per (account, address), not locked for all.

async fn login_from(b: &Browser, ip: &str, login: &str, password: &str) -> reqwest::Response {
    let token = b.csrf().await;
    b.http
        .post(b.url("/login"))
        .header("x-forwarded-for", ip)
        .form(&[("login", login), ("password", password), ("_csrf", &token)])
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn failures_from_one_address_do_not_lock_the_owner_out_elsewhere() {
    let app = TestApp::spawn_demo_configured(|c| c.trust_forwarded_for = true).await;
    let attacker = app.client();
    let mut throttled = 0;
    for _ in 0..8 {
        let r = login_from(&attacker, "10.0.0.66", "hunter@podryad.test", "wrong-pass").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
            assert!(r.headers().get("retry-after").is_some());
            let page = r.text().await.expect("body");
            assert!(page.contains("login.throttled"), "{page}");
        }
    }
    assert!(throttled >= 3, "the attacker's address waits");
    // Even the right password waits from the attacker's address…
    let r = login_from(&attacker, "10.0.0.66", "hunter@podryad.test", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …but the owner at their own address signs in at once.
    let owner = app.client();
    let r = login_from(&owner, "10.0.0.1", "hunter@podryad.test", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Spraying many logins from one address hits the per-address cap.
    let sprayer = app.client();
    for i in 0..50 {
        let _ = login_from(
            &sprayer,
            "10.0.0.77",
            &format!("u{i}@example.test"),
            "x-x-x-x-x",
        )
        .await;
    }
    let r = login_from(&sprayer, "10.0.0.77", "manager@podryad.test", DEMO_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

// ---- B16: the public API refuses wrong JSON types and overlong text.

#[tokio::test]
async fn the_public_api_refuses_wrong_types_and_overlong_names() {
    let app = TestApp::spawn_demo().await;
    let from = {
        use engine::Clock;
        (app.clock.now() + chrono::Duration::days(3))
            .with_timezone(&chrono_tz::Europe::Moscow)
            .format("%Y-%m-%dT09:00")
            .to_string()
    };
    let base = json!({
        "request_type": "cargo",
        "wanted_from": from,
        "contact_name": "Олег",
        "contact_phone": "+7 916 123-45-67",
        "fields": {
            "cargo": "Плитка",
            "weight_t": 2,
            "loading_address": {"address": "Москва, ул. Тверская, 1"},
            "unloading_address": {"address": "Москва, ул. Арбат, 2"},
            "vehicles": 2
        }
    });
    let requests = scalar(&app, "SELECT COUNT(*) FROM requests").await;
    let post = |body: Value| {
        let url = format!("{}/api/public/requests", app.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("POST")
        }
    };
    let mut wrong = base.clone();
    wrong["fields"]["vehicles"] = json!("2");
    wrong["duration"] = json!("3");
    let r = post(wrong).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.expect("json");
    let fields: Vec<(String, String)> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap_or_default().to_string(),
                f["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        fields.contains(&("f.vehicles".into(), "json.type".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("duration".into(), "json.type".into())),
        "{fields:?}"
    );

    let mut long = base.clone();
    long["contact_name"] = json!("я".repeat(20_001));
    let r = post(long).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["fields"][0]["field"], "contact_name");
    assert_eq!(body["fields"][0]["code"], "text.too_long");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM requests").await,
        requests,
        "nothing stored"
    );
    // The right types pass.
    let r = post(base).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    app.stop().await;
}

// ---- A1: tasks and instance histories go through their object's scope.

#[tokio::test]
async fn a_hunter_gets_404_for_a_task_of_a_request_outside_their_book() {
    let app = TestApp::spawn_demo().await;
    let hunter_id = scalar(
        &app,
        "SELECT id FROM users WHERE email = 'hunter@podryad.test'",
    )
    .await;
    let book = format!(
        "(COALESCE(r.hunter_user_id, 0) = {hunter_id} OR COALESCE(r.owner_user_id, 0) = {hunter_id}
          OR r.client_org_id IN (SELECT o.id FROM organisations o WHERE o.hunter_user_id = {hunter_id}))"
    );
    let foreign_task = scalar(
        &app,
        &format!(
            "SELECT MIN(t.id) FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
             JOIN requests r ON r.id = i.object_id
             WHERE i.object_kind = 'request' AND NOT {book}"
        ),
    )
    .await;
    let foreign_instance = scalar(
        &app,
        &format!(
            "SELECT MIN(i.id) FROM wf_instances i JOIN requests r ON r.id = i.object_id
             WHERE i.object_kind = 'request' AND NOT {book}"
        ),
    )
    .await;
    let hunter = signed_in(&app, "hunter@podryad.test").await;
    let (status, _) = hunter.get_text(&format!("/tasks/{foreign_task}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = hunter
        .post_form(&format!("/tasks/{foreign_task}/claim"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The technical page is for analysts and administrators only.
    let (status, _) = hunter
        .get_text(&format!("/instances/{foreign_instance}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, inbox) = hunter.get_text("/tasks").await;
    assert!(
        !inbox.contains(&format!("/tasks/{foreign_task}\"")),
        "the inbox does not list it"
    );
    // A manager (not limited to a book) still opens it.
    let manager = signed_in(&app, "manager@podryad.test").await;
    let (status, _) = manager.get_text(&format!("/tasks/{foreign_task}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = manager
        .get_text(&format!("/instances/{foreign_instance}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "for analysts and admins");
    let admin = signed_in(&app, "admin@podryad.test").await;
    let (status, _) = admin
        .get_text(&format!("/instances/{foreign_instance}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

// ---- A4: colleagues are changed by owners/admins; a hunter's directory is their book.

#[tokio::test]
async fn a_dispatcher_cannot_change_a_colleague_with_a_login() {
    let app = TestApp::spawn_demo().await;
    let driver = scalar(
        &app,
        "SELECT e.id FROM employees e JOIN users u ON u.id = e.user_id WHERE u.email = 'driver1@stroytech.test'",
    )
    .await;
    let form = || {
        reqwest::multipart::Form::new()
            .text("role", "dispatcher")
            .text("full_name", "Василий Орлов")
            .text("phone", "+7 916 111-01-01")
    };
    let dispatcher = signed_in(&app, "dispatcher@stroytech.test").await;
    let token = dispatcher.csrf().await;
    let r = dispatcher
        .http
        .post(dispatcher.url(&format!("/supplier/employees/{driver}?_csrf={token}")))
        .multipart(form())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = dispatcher
        .post_form(&format!("/supplier/employees/{driver}/archive"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let role = sqlx::query_scalar::<_, String>(
        "SELECT r.role FROM user_roles r JOIN users u ON u.id = r.user_id WHERE u.email = 'driver1@stroytech.test'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("role");
    assert_eq!(role, "driver", "no promotion");
    // The owner may.
    let owner = signed_in(&app, "owner@stroytech.test").await;
    let token = owner.csrf().await;
    let r = owner
        .http
        .post(owner.url(&format!("/supplier/employees/{driver}?_csrf={token}")))
        .multipart(form())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn a_hunter_sees_only_their_own_clients_in_the_directory() {
    let app = TestApp::spawn_demo().await;
    let hunter_id = scalar(
        &app,
        "SELECT id FROM users WHERE email = 'hunter@podryad.test'",
    )
    .await;
    let foreign: (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.id, o.name FROM organisations o WHERE o.kind = 'client'
           AND (o.hunter_user_id IS NULL OR o.hunter_user_id <> {hunter_id})
           AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.client_org_id = o.id
                           AND (r.hunter_user_id = {hunter_id} OR r.owner_user_id = {hunter_id}))
         ORDER BY o.id LIMIT 1"
    )))
    .fetch_one(app.db().pool())
    .await
    .expect("a client outside the hunter's book");
    let hunter = signed_in(&app, "hunter@podryad.test").await;
    let (status, page) = hunter.get_text("/clients").await;
    assert_eq!(status, StatusCode::OK);
    let escaped = foreign.1.replace('«', "&laquo;").replace('»', "&raquo;");
    assert!(
        !page.contains(&foreign.1) && !page.contains(&escaped),
        "{} listed",
        foreign.1
    );
    for path in [
        format!("/parties/{}", foreign.0),
        format!("/intake/clients/{}", foreign.0),
    ] {
        let (status, _) = hunter.get_text(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = hunter.get("/clients/export.xlsx").await;
    if r.status() == StatusCode::OK {
        let bytes = r.bytes().await.expect("xlsx");
        let text = String::from_utf8_lossy(&bytes).to_string();
        assert!(!text.contains(&foreign.1));
    }
    // A manager sees the whole directory.
    let manager = signed_in(&app, "manager@podryad.test").await;
    let (_, page) = manager.get_text("/clients").await;
    assert!(page.contains(&foreign.1) || page.contains(&escaped));
    app.stop().await;
}

// ---- B13: a driver downloads only their own and their jobs' files.

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
];

async fn machine_photo(app: &TestApp, machine: i64) -> i64 {
    let running = app.app.as_ref().expect("running");
    let stored = running
        .services
        .files
        .accept("photo", domain::files::Purpose::Photo, "photo.png", PNG)
        .await
        .expect("accept");
    let org: i64 = sqlx::query_scalar("SELECT org_id FROM machines WHERE id = $1")
        .bind(machine)
        .fetch_one(app.db().pool())
        .await
        .expect("machine");
    let mut tx = app.db().begin().await.expect("tx");
    let id = stored
        .record(&mut tx, app.db().now(), org, None)
        .await
        .expect("record");
    sqlx::query("INSERT INTO machine_photos (machine_id, file_id, position, created_at) VALUES ($1, $2, 1, $3)")
        .bind(machine)
        .bind(id)
        .bind(engine::to_db_time(app.db().now()))
        .execute(&mut *tx)
        .await
        .expect("photo");
    tx.commit().await.expect("commit");
    id
}

#[tokio::test]
async fn a_driver_gets_404_for_a_file_of_another_machine() {
    let app = TestApp::spawn_demo().await;
    // The demo's deals: quotes naming a machine and its driver.
    podryad::demo::seed_deals(&app.app.as_ref().expect("running").services)
        .await
        .expect("deals");
    let (driver_email, assigned): (String, i64) = sqlx::query_as(
        "SELECT u.email, q.machine_id FROM supplier_quotes q JOIN employees e ON e.id = q.employee_id
         JOIN users u ON u.id = e.user_id ORDER BY q.id LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("a quote naming a driver");
    let other: i64 = sqlx::query_scalar(
        "SELECT m.id FROM machines m JOIN users u ON u.org_id = m.org_id WHERE u.email = $1
           AND m.id NOT IN (SELECT q.machine_id FROM supplier_quotes q JOIN employees e ON e.id = q.employee_id
                            WHERE e.user_id = u.id) ORDER BY m.id LIMIT 1",
    )
    .bind(&driver_email)
    .fetch_one(app.db().pool())
    .await
    .expect("another machine of the company");
    let mine = machine_photo(&app, assigned).await;
    let theirs = machine_photo(&app, other).await;
    let driver = signed_in(&app, &driver_email).await;
    let (status, _) = driver.get_text(&format!("/files/{theirs}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = driver.get_text(&format!("/files/{mine}")).await;
    assert_eq!(status, StatusCode::OK);
    // The company's office keeps company-wide access.
    let office: String = sqlx::query_scalar(
        "SELECT u.email FROM users u JOIN user_roles r ON r.user_id = u.id
         WHERE r.role = 'dispatcher' AND u.org_id = (SELECT org_id FROM users WHERE email = $1) LIMIT 1",
    )
    .bind(&driver_email)
    .fetch_one(app.db().pool())
    .await
    .expect("dispatcher");
    let dispatcher = signed_in(&app, &office).await;
    let (status, _) = dispatcher.get_text(&format!("/files/{theirs}")).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

// ---- B7: no contact of the client reaches a supplier in any written form.

#[tokio::test]
async fn a_suppliers_rfq_page_shows_no_contact_in_any_form() {
    let app = TestApp::spawn_demo().await;
    podryad::demo::seed_deals(&app.app.as_ref().expect("running").services)
        .await
        .expect("deals");
    let (rfq, request): (i64, i64) = sqlx::query_as(
        "SELECT f.id, f.request_id FROM rfqs f JOIN organisations o ON o.id = f.supplier_org_id
         WHERE o.name = 'ООО «СтройТехРесурс»' ORDER BY f.id LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("an RFQ to StroyTech");
    let secrets = [
        "9161234567",
        "7 916 123 45 67",
        "@ivan_prorab",
        "t.me/ivan_prorab",
        "vk.com/id12345",
        "ivan(at)mail.ru",
        "ivan [at] mail [dot] ru",
        "petr@example.ru",
    ];
    let text = format!("Плитка. Звоните {}", secrets.join(", "));
    let mut tx = app.db().begin().await.expect("write");
    sqlx::query("UPDATE requests SET fields = REPLACE(fields, 'Паллеты с плиткой', $1), site_address = $2 WHERE id = $3")
        .bind(&text)
        .bind("Москва, Тверская, Пушкинская площадь")
        .bind(request)
        .execute(&mut *tx)
        .await
        .expect("client's text");
    tx.commit().await.expect("commit");
    let supplier = signed_in(&app, "dispatcher@stroytech.test").await;
    let (status, page) = supplier.get_text(&format!("/supplier/rfqs/{rfq}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Плитка"), "the job itself is shown");
    for secret in secrets {
        assert!(!page.contains(secret), "{secret} on the supplier's page");
    }
    for part in [
        "ivan_prorab",
        "id12345",
        "123 45 67",
        "Пушкинская",
        "Тверская",
    ] {
        assert!(!page.contains(part), "{part} on the supplier's page");
    }
    app.stop().await;
}
