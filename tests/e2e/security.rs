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
