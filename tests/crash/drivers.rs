//! The clients of a burst. Each goes on until its server dies (a request
//! fails) or its share is done, and returns what the server acknowledged —
//! what must survive any crash.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Browser, MANAGER_EMAIL};

fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// What the engine workflow's driver was told had happened (committed for sure).
#[derive(Default)]
pub struct Acknowledged {
    pub started: BTreeSet<i64>,
    pub go: BTreeSet<i64>,
}

impl Acknowledged {
    pub fn extend(&mut self, other: Acknowledged) {
        self.started.extend(other.started);
        self.go.extend(other.go);
    }
}

/// Starts `crash_test` instances on `base` and sends `go` to each a little
/// later through `events` (the same server, or another one).
pub async fn engine_workflow(
    base: String,
    events: String,
    token: String,
    next_object: Arc<AtomicI64>,
    burst: usize,
) -> Acknowledged {
    let http = api_client();
    let mut ack = Acknowledged::default();
    let mut pending_go: Vec<i64> = Vec::new();
    for _ in 0..burst {
        let object = next_object.fetch_add(1, Ordering::SeqCst);
        let r = http
            .post(format!("{base}/api/v1/workflows/crash_test/start"))
            .bearer_auth(&token)
            .json(&json!({"object_id": object}))
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                if let Some(id) = v.get("instance_id").and_then(Value::as_i64) {
                    ack.started.insert(id);
                    pending_go.push(id);
                }
            }
            Ok(_) | Err(_) => return ack,
        }
        if pending_go.len() >= 3 {
            let id = pending_go.remove(0);
            if !send_go(&http, &events, &token, id).await {
                return ack;
            }
            ack.go.insert(id);
        }
    }
    for id in pending_go {
        if !send_go(&http, &events, &token, id).await {
            return ack;
        }
        ack.go.insert(id);
    }
    ack
}

pub async fn send_go(http: &reqwest::Client, base: &str, token: &str, id: i64) -> bool {
    matches!(
        http.post(format!("{base}/api/v1/instances/{id}/events"))
            .bearer_auth(token)
            .json(&json!({"name": "go"}))
            .send()
            .await,
        Ok(r) if r.status().is_success()
    )
}

/// Starts `crash_provider` instances (two external provider calls each).
pub async fn provider_workflow(
    base: String,
    token: String,
    next_object: Arc<AtomicI64>,
    burst: usize,
) -> BTreeSet<i64> {
    let http = api_client();
    let mut started = BTreeSet::new();
    for _ in 0..burst {
        let object = next_object.fetch_add(1, Ordering::SeqCst);
        match http
            .post(format!("{base}/api/v1/workflows/crash_provider/start"))
            .bearer_auth(&token)
            .json(&json!({"object_id": object}))
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                if let Some(id) = v.get("instance_id").and_then(Value::as_i64) {
                    started.insert(id);
                }
            }
            Ok(_) | Err(_) => return started,
        }
    }
    started
}

/// Files requests the way a website integration does: `POST
/// /api/public/requests` with a `requests:create` token, one new visitor
/// (phone, e-mail) each. Returns the numbers the server answered.
pub async fn requests(
    base: String,
    token: String,
    next_visitor: Arc<AtomicI64>,
    burst: usize,
) -> Vec<String> {
    let http = api_client();
    let mut numbers = Vec::new();
    let wanted = (chrono::Utc::now() + chrono::Duration::days(3))
        .with_timezone(&chrono_tz::Asia::Yekaterinburg)
        .format("%Y-%m-%dT10:00")
        .to_string();
    for _ in 0..burst {
        let n = next_visitor.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "request_type": "machinery",
            "wanted_from": wanted,
            "duration": 2,
            "contact_name": format!("Олег Никитин {n}"),
            "contact_phone": format!("+7 916 {:07}", n),
            "contact_email": format!("client{n}@crash.test"),
            "fields": {
                "category": "excavator",
                "work": "Выкопать траншею 40 м",
                "site_address": {"address": "Екатеринбург, ул. Малышева, 1", "lat": 56.83, "lon": 60.6, "timezone": "Asia/Yekaterinburg"},
                "bucket_m3": 0.8
            }
        });
        match http
            .post(format!("{base}/api/public/requests"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                match v.get("number").and_then(Value::as_str) {
                    Some(number) => numbers.push(number.to_string()),
                    None => return numbers,
                }
            }
            Ok(r) if r.status().is_client_error() => {
                let status = r.status();
                panic!(
                    "the request was refused ({status}): {}",
                    r.text().await.unwrap_or_default()
                );
            }
            Ok(_) | Err(_) => return numbers,
        }
    }
    numbers
}

/// What the manager did.
#[derive(Default, Debug)]
pub struct ManagerReport {
    pub completed: usize,
    /// Answers other than the redirect after a completion (a task completed
    /// just before a kill and tried again, a server shutting down).
    pub other: usize,
}

/// The manager works the request tasks through the task pages as a person
/// does: qualifies each new request ("ready"), then closes it at matching
/// ("cancel" with a reason). Takes the open tasks whose id is `lane` modulo
/// `lanes`, until `stop` or until the server is gone.
pub async fn manager(
    base: String,
    db: engine::Db,
    stop: Arc<AtomicBool>,
    lane: i64,
    lanes: i64,
) -> ManagerReport {
    let mut report = ManagerReport::default();
    let browser = Browser::new();
    if !browser.login(&base, MANAGER_EMAIL).await {
        return report;
    }
    while !stop.load(Ordering::SeqCst) {
        let tasks: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, task_key FROM wf_tasks WHERE definition_key = 'request' AND status = 'open'
             AND id % $1 = $2 ORDER BY id LIMIT 16",
        )
        .bind(lanes)
        .bind(lane)
        .fetch_all(db.pool())
        .await
        .expect("open tasks");
        if tasks.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        for (id, key) in tasks {
            let fields: &[(&str, &str)] = match key.as_str() {
                "qualify" => &[("outcome", "ready")],
                "match" => &[
                    ("outcome", "cancel"),
                    ("reason", "Клиент нашёл технику сам"),
                ],
                other => panic!("task {id}: the test does not know task `{other}`"),
            };
            match browser
                .post_form(&base, &format!("/tasks/{id}/complete"), fields)
                .await
            {
                Ok(r) if r.status().as_u16() == 303 && location(&r).starts_with("/login") => {
                    // Signed out (a session written just before a kill).
                    if !browser.login(&base, MANAGER_EMAIL).await {
                        return report;
                    }
                }
                Ok(r) if r.status().as_u16() == 303 => report.completed += 1,
                Ok(_) => report.other += 1,
                Err(_) => return report,
            }
        }
    }
    report
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
