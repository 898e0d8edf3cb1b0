//! Workplaces and in-app notifications (issue 11 points 2 and 4): the bell
//! counts a person's notifications, follows them live over server-sent
//! events and falls when they are read; "Мои" in the task inbox counts the
//! tasks assigned to the person; completing a task leads to the next task
//! of the same request; a hunter's home shows only their own clients; the
//! analyst's charts show the figures of the data.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp, location};

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.db().pool())
        .await
        .expect("user")
}

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    let b = app.client();
    b.login(login, DEMO_PASSWORD).await;
    b
}

async fn unread(b: &Browser) -> i64 {
    let r = b.get("/notifications/count").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("JSON");
    v["unread"].as_i64().expect("a count")
}

/// A website request from a new company: it goes to the least loaded
/// manager (the demo's only one), whose first task is assigned to them.
async fn public_request(app: &TestApp, phone: &str) -> i64 {
    let wanted = (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%dT08:00")
        .to_string();
    let body = json!({
        "request_type": "machinery",
        "wanted_from": wanted,
        "duration": 2,
        "contact_name": "Олег Никитин",
        "contact_phone": phone,
        "contact_email": format!("oleg{}@example.test", &phone[phone.len() - 4..]),
        "company_name": format!("ООО «Котлован {}»", &phone[phone.len() - 4..]),
        "fields": {
            "category": "excavator",
            "work": "Выкопать траншею 40 м",
            "site_address": {"address": "Екатеринбург, ул. Малышева, 1", "lat": 56.83, "lon": 60.6, "timezone": "Asia/Yekaterinburg"},
            "bucket_m3": 0.8
        }
    });
    let r = app
        .client()
        .http
        .post(format!("{}/api/public/requests", app.base))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert!(r.status().is_success(), "{:?}", r.text().await);
    sqlx::query_scalar("SELECT id FROM requests ORDER BY id DESC LIMIT 1")
        .fetch_one(app.db().pool())
        .await
        .expect("the request")
}

/// The next `unread` event of a server-sent event stream, within 10 s.
async fn next_unread(stream: &mut reqwest::Response, buffer: &mut String) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: unread") {
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data");
                return data.trim().parse().expect("a count");
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream")
            .expect("the stream is open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_bell_counts_a_persons_notifications_live_and_falls_when_read() {
    let app = TestApp::spawn_demo().await;
    let manager = signed_in(&app, "manager@podryad.test").await;
    let me = user_id(&app, "manager@podryad.test").await;
    manager.post_form("/notifications/read", &[]).await;
    assert_eq!(unread(&manager).await, 0);

    // The page listens; the first event is the count as it is.
    let mut stream = manager.get("/notifications/stream").await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    assert_eq!(next_unread(&mut stream, &mut buffer).await, 0);

    // A new request for the manager: they are told (e-mail and in-app, in
    // the same transaction), and the open page hears of it.
    let request = public_request(&app, "+7 916 555-77-01").await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(me)
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert!(stored > 0, "the manager has in-app notifications");
    let emailed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND channel = 'email'",
    )
    .bind(me)
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert!(
        emailed >= stored,
        "every in-app message has its e-mail twin"
    );
    assert_eq!(unread(&manager).await, stored);
    assert_eq!(next_unread(&mut stream, &mut buffer).await, stored);

    // The header shows the count on every page.
    let (_, home) = manager.get_text("/home").await;
    assert!(
        home.contains(&format!(">{stored}</span></a>")) && home.contains("data-bell"),
        "{home}"
    );
    // The list shows them; someone else's bell stays as it was.
    let (status, list) = manager.get_text("/notifications").await;
    assert_eq!(status, StatusCode::OK);
    let number: String = sqlx::query_scalar("SELECT number FROM requests WHERE id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("number");
    assert!(list.contains(&number), "{list}");
    let admin = signed_in(&app, "admin@podryad.test").await;
    let admins_before = unread(&admin).await;

    // Opening one marks it read and leads to its page; another's is not found.
    let (first, link): (i64, Option<String>) = sqlx::query_as(
        "SELECT id, link FROM user_notifications WHERE user_id = $1 AND read_at IS NULL ORDER BY id LIMIT 1",
    )
    .bind(me)
    .fetch_one(app.db().pool())
    .await
    .expect("one");
    let r = admin
        .post_form(&format!("/notifications/{first}/open"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = manager
        .post_form(&format!("/notifications/{first}/open"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    if let Some(link) = link {
        assert!(link.ends_with(&location(&r)), "{link} → {}", location(&r));
    }
    assert_eq!(unread(&manager).await, stored - 1);
    assert_eq!(next_unread(&mut stream, &mut buffer).await, stored - 1);

    // Read all: the bell falls to nothing, live as well.
    let r = manager.post_form("/notifications/read", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(unread(&manager).await, 0);
    assert_eq!(next_unread(&mut stream, &mut buffer).await, 0);
    assert_eq!(unread(&admin).await, admins_before);
    drop(stream);
    app.stop().await;
}

#[tokio::test]
async fn mine_counts_the_tasks_assigned_to_the_person_and_the_next_task_follows() {
    let app = TestApp::spawn_demo().await;
    let manager = signed_in(&app, "manager@podryad.test").await;
    let me = user_id(&app, "manager@podryad.test").await;
    let request = public_request(&app, "+7 916 555-77-02").await;

    // Every open task meant for the manager — assigned to them as the
    // requests' owner, or claimed — is under "Мои".
    let mine: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_tasks WHERE status = 'open' AND (claimed_by = $1 OR (claimed_by IS NULL AND assignee_user_id = $1))",
    )
    .bind(me)
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert!(mine > 0, "the new request's task is assigned to its owner");
    let (_, inbox) = manager.get_text("/tasks").await;
    assert!(inbox.contains(&format!("Мои · {mine}")), "{inbox}");
    let (_, only_mine) = manager.get_text("/tasks?mine=1").await;
    assert_eq!(
        only_mine.matches("<tr class=").count() as i64,
        mine.min(200),
        "the filter lists what the chip counts"
    );

    // Qualifying the request leads to its next task (matching), not the inbox.
    let open_task = |app: &TestApp| {
        let pool = app.db().pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id \
                 WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.status = 'open' ORDER BY t.id DESC LIMIT 1",
            )
            .bind(request)
            .fetch_one(&pool)
            .await
            .expect("an open task")
        }
    };
    let qualify = open_task(&app).await;
    let r = manager
        .post_form(
            &format!("/tasks/{qualify}/complete"),
            &[("outcome", "ready")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let matching = open_task(&app).await;
    assert_ne!(matching, qualify);
    assert_eq!(location(&r), format!("/tasks/{matching}"));
    let (_, page) = manager.get_text(&location(&r)).await;
    assert!(page.contains("Следующая задача по этой заявке"), "{page}");

    // The last task of the request leads to the request's page.
    let r = manager
        .post_form(
            &format!("/tasks/{matching}/complete"),
            &[("outcome", "cancel"), ("reason", "Клиент передумал")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(location(&r), format!("/requests/{request}"));
    app.stop().await;
}

#[tokio::test]
async fn a_hunters_home_shows_only_their_own_clients() {
    let app = TestApp::spawn_demo().await;
    let hunter = user_id(&app, "hunter@podryad.test").await;
    let ours: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM organisations WHERE kind = 'client' AND (hunter_user_id = $1 \
         OR id IN (SELECT client_org_id FROM requests WHERE hunter_user_id = $1 OR owner_user_id = $1))",
    )
    .bind(hunter)
    .fetch_all(app.db().pool())
    .await
    .expect("clients");
    let others: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM organisations WHERE kind = 'client' AND (hunter_user_id IS NULL OR hunter_user_id <> $1) \
         AND id NOT IN (SELECT client_org_id FROM requests WHERE hunter_user_id = $1 OR owner_user_id = $1)",
    )
    .bind(hunter)
    .fetch_all(app.db().pool())
    .await
    .expect("clients");
    assert!(
        !ours.is_empty() && !others.is_empty(),
        "{ours:?} {others:?}"
    );

    let b = signed_in(&app, "hunter@podryad.test").await;
    let (status, home) = b.get_text("/home").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("id=\"desk-hunter\""), "{home}");
    for id in &ours {
        assert!(
            home.contains(&format!("data-client=\"{id}\"")),
            "{id}: {home}"
        );
    }
    for id in &others {
        assert!(
            !home.contains(&format!("data-client=\"{id}\"")),
            "{id}: {home}"
        );
    }
    // Their requests per stage: each client's total is its requests.
    for id in &ours {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests WHERE client_org_id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("count");
        if n > 0 {
            let section = &home[home
                .find(&format!("data-client=\"{id}\""))
                .expect("the client")..];
            let item = &section[..section.find("</li>").expect("its end")];
            let shown: i64 = item
                .split("status request-status-")
                .skip(1)
                .map(|s| {
                    let after = &s[s.find("</span>").expect("label") + 7..];
                    after
                        .trim_start()
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .unwrap_or("0")
                        .parse::<i64>()
                        .unwrap_or(0)
                })
                .sum();
            assert_eq!(shown, n, "{item}");
        }
    }
    // Nobody else's sections.
    assert!(!home.contains("id=\"desk-manager\"") && !home.contains("id=\"desk-admin\""));
    app.stop().await;
}

fn percent(bp: i64) -> String {
    format!("{},{} %", bp / 100, (bp % 100) / 10)
}

#[tokio::test]
async fn the_analysts_charts_show_the_figures_of_the_data() {
    let app = TestApp::spawn_demo().await;
    // Two more website requests, one of them turned into an order on paper.
    public_request(&app, "+7 916 555-77-03").await;
    let last = public_request(&app, "+7 916 555-77-04").await;
    {
        let mut conn = app.db().single_write().await.expect("writer");
        sqlx::query("UPDATE requests SET status = 'ordered' WHERE id = $1")
            .bind(last)
            .execute(&mut *conn)
            .await
            .expect("ordered");
    }

    let b = signed_in(&app, "analyst@podryad.test").await;
    let (status, home) = b.get_text("/home").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("id=\"desk-analyst\""));
    // The funnel, both conversions; time in state and breaches once there are any.
    assert!(home.matches("<svg class=\"chart\"").count() >= 3, "{home}");

    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert!(
        home.contains(&format!("Последние 90 дней: {total} заявок.")),
        "{home}"
    );
    assert!(
        home.contains(&format!(">{total} · 100,0 %</text>")),
        "{home}"
    );
    let by_channel: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT channel, COUNT(*), SUM(CASE WHEN status = 'ordered' THEN 1 ELSE 0 END) FROM requests GROUP BY channel",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("channels");
    assert!(by_channel.len() > 1, "{by_channel:?}");
    for (channel, n, ordered) in by_channel {
        let shown = format!(
            ">{} · {ordered} / {n}</text>",
            percent(ordered * 10_000 / n)
        );
        assert!(home.contains(&shown), "{channel}: {shown} in {home}");
    }
    // Only analysts see the charts.
    let manager = signed_in(&app, "manager@podryad.test").await;
    let (_, home) = manager.get_text("/home").await;
    assert!(!home.contains("<svg class=\"chart\""));
    assert!(home.contains("id=\"desk-manager\""));
    app.stop().await;
}
