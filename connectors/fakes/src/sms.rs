//! A fake SMS.ru-style gateway: `POST /sms/send` (form) or `GET /sms/send`
//! (query) with `api_id`, `to`, `msg`, `json=1`; see
//! [`connectors::notify::sms`] for the answer's shape. A wrong `api_id` gets a
//! top-level error (code 200); a number that is not 11 digits starting with 7
//! gets a per-number error 202.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use crate::{ServerTask, Shared, fault_controls, serve};
use connectors::config::SmsConfig;

/// One accepted SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    pub to: String,
    pub text: String,
    pub from: Option<String>,
}

struct State_ {
    api_id: String,
    sent: Vec<ReceivedSms>,
    counter: u64,
}

/// The fake SMS gateway.
pub struct FakeSmsGateway {
    addr: SocketAddr,
    shared: Arc<Shared<State_>>,
    _task: ServerTask,
}
fault_controls!(FakeSmsGateway);

impl FakeSmsGateway {
    pub async fn start(api_id: &str) -> std::io::Result<FakeSmsGateway> {
        let shared = Shared::new(State_ {
            api_id: api_id.to_string(),
            sent: Vec::new(),
            counter: 0,
        });
        let router = Router::new()
            .route("/sms/send", get(send_get).post(send_post))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeSmsGateway {
            addr,
            shared,
            _task: task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A configuration pointing at this fake with `api_id`.
    pub fn config(&self, api_id: &str) -> SmsConfig {
        SmsConfig::new(&self.base_url(), api_id)
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<ReceivedSms> {
        self.shared.state().sent.clone()
    }
}

fn error_body(code: u16, _retry_after: Option<u64>) -> Value {
    json!({ "status": "ERROR", "status_code": 220, "status_text": format!("fake fault {code}") })
}

async fn send_get(
    State(shared): State<Arc<Shared<State_>>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    send(shared, params).await
}

async fn send_post(
    State(shared): State<Arc<Shared<State_>>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    send(shared, params).await
}

async fn send(shared: Arc<Shared<State_>>, params: HashMap<String, String>) -> Response {
    if let Some(r) = shared.fault_response(error_body).await {
        return r;
    }
    let mut state = shared.state();
    if params.get("api_id") != Some(&state.api_id) {
        return Json(
            json!({ "status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id" }),
        )
        .into_response();
    }
    let to = params.get("to").cloned().unwrap_or_default();
    let text = params.get("msg").cloned().unwrap_or_default();
    let valid = to.len() == 11 && to.starts_with('7') && to.bytes().all(|b| b.is_ascii_digit());
    let entry = if !valid {
        json!({ "status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер телефона получателя" })
    } else if text.is_empty() {
        json!({ "status": "ERROR", "status_code": 203, "status_text": "Нет текста сообщения" })
    } else {
        state.counter += 1;
        let id = format!("000000-{}", state.counter);
        state.sent.push(ReceivedSms {
            to: to.clone(),
            text,
            from: params.get("from").cloned(),
        });
        json!({ "status": "OK", "status_code": 100, "sms_id": id })
    };
    Json(json!({ "status": "OK", "status_code": 100, "sms": { to: entry }, "balance": 100.0 }))
        .into_response()
}
