//! A fake payment-like provider on loopback: `POST /effects` with an
//! `Idempotency-Key` header applies its effect once per key and answers a
//! repeated key with the stored result, as real providers do. It records
//! every call, so the test can tell how often the engine *called* (at least
//! once) from how often an effect was *applied* (must be once), and what a
//! provider that ignores keys would have done.
//!
//! To make repeated calls certain (not only when a kill lands mid-call), it
//! can "lose" the answer to every n-th new key: the effect is applied and
//! kept, but the caller gets a 503, as after a timeout on the way back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What one call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A new key: the effect was applied and its result returned.
    Applied,
    /// A new key: applied, but the answer was "lost" (503).
    AppliedAnswerLost,
    /// A known key with the same body: the stored result, nothing applied.
    Repeated,
    /// A known key with another body: refused (422), nothing applied.
    KeyReused,
    /// No `Idempotency-Key` header: refused (400), nothing applied.
    NoKey,
}

#[derive(Debug, Clone)]
pub struct Call {
    /// Order of arrival.
    pub seq: u64,
    pub key: Option<String>,
    pub instance_id: i64,
    pub op: String,
    pub answer: Answer,
}

#[derive(Debug, Clone)]
pub struct Effect {
    /// `seq` of the call that applied it.
    pub seq: u64,
    pub instance_id: i64,
    pub op: String,
    pub body: Value,
    pub result: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub calls: Vec<Call>,
    /// Applied effects by idempotency key (one each, by construction).
    pub effects: HashMap<String, Effect>,
}

struct Inner {
    ledger: Mutex<Ledger>,
    lose_every: Option<u64>,
    delay_ms: u64,
}

pub struct FakeProvider {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    /// Listens on a free loopback port. `lose_every`: lose the answer to
    /// every n-th new key; `delay_ms`: answer after up to this long.
    pub async fn start(lose_every: Option<u64>, delay_ms: u64) -> FakeProvider {
        let inner = Arc::new(Inner {
            ledger: Mutex::new(Ledger::default()),
            lose_every,
            delay_ms,
        });
        let app = axum::Router::new()
            .route("/effects", post(effect))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("provider port");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider { url, inner, task }
    }

    /// What the provider saw so far.
    pub fn ledger(&self) -> Ledger {
        self.inner.ledger.lock().expect("ledger").clone()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

async fn effect(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    let Json(body) = body;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let instance_id = body["instance_id"].as_i64().unwrap_or(-1);
    let op = body["op"].as_str().unwrap_or_default().to_string();
    let (status, reply, seq) = {
        let mut l = inner.ledger.lock().expect("ledger");
        let seq = l.calls.len() as u64 + 1;
        let (answer, status, reply) = match &key {
            None => (
                Answer::NoKey,
                StatusCode::BAD_REQUEST,
                json!({"error": "idempotency_key.missing"}),
            ),
            Some(k) => match l.effects.get(k) {
                Some(e) if e.body == body => (Answer::Repeated, StatusCode::OK, e.result.clone()),
                Some(_) => (
                    Answer::KeyReused,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"error": "idempotency_key.reused"}),
                ),
                None => {
                    let n = l.effects.len() as u64 + 1;
                    let result = json!({
                        "effect_id": format!("eff-{n}"),
                        "op": op,
                        "instance_id": instance_id,
                        "amount": body["amount"],
                    });
                    l.effects.insert(
                        k.clone(),
                        Effect {
                            seq,
                            instance_id,
                            op: op.clone(),
                            body: body.clone(),
                            result: result.clone(),
                        },
                    );
                    if inner
                        .lose_every
                        .is_some_and(|every| n.is_multiple_of(every))
                    {
                        (
                            Answer::AppliedAnswerLost,
                            StatusCode::SERVICE_UNAVAILABLE,
                            json!({"error": "answer.lost"}),
                        )
                    } else {
                        (Answer::Applied, StatusCode::OK, result)
                    }
                }
            },
        };
        l.calls.push(Call {
            seq,
            key: key.clone(),
            instance_id,
            op: op.clone(),
            answer,
        });
        (status, reply, seq)
    };
    // Some latency, so that a kill can land while a call is on the wire.
    if inner.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(seq * 7919 % (inner.delay_ms + 1))).await;
    }
    (status, Json(reply)).into_response()
}
