//! A fake Telegram Bot API: `POST /bot<token>/sendMessage` with JSON
//! `{"chat_id", "text"}`. A wrong token gets 401; a chat marked missing gets
//! 400 "chat not found"; a chat marked blocked gets 403. `getUpdates`
//! answers at once with the messages [`FakeTelegram::push_message`] queued
//! from its `offset` on.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ServerTask, Shared, fault_controls, serve};
use connectors::config::TelegramConfig;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedTelegram {
    pub chat_id: String,
    pub text: String,
}

struct State_ {
    token: String,
    sent: Vec<ReceivedTelegram>,
    /// `(update_id, chat_id, text)` written to the bot.
    inbox: Vec<(i64, i64, String)>,
    missing: HashSet<String>,
    blocked: HashSet<String>,
}

/// The fake Bot API.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared<State_>>,
    _task: ServerTask,
}
fault_controls!(FakeTelegram);

impl FakeTelegram {
    pub async fn start(token: &str) -> std::io::Result<FakeTelegram> {
        let shared = Shared::new(State_ {
            token: token.to_string(),
            sent: Vec::new(),
            inbox: Vec::new(),
            missing: HashSet::new(),
            blocked: HashSet::new(),
        });
        let router = Router::new()
            .route("/{bot}/sendMessage", post(send_message))
            .route("/{bot}/getUpdates", post(get_updates))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeTelegram {
            addr,
            shared,
            _task: task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A configuration pointing at this fake with `token`.
    pub fn config(&self, token: &str) -> TelegramConfig {
        TelegramConfig::new(&self.base_url(), token)
    }

    /// Someone in chat `chat_id` writes `text` to the bot.
    pub fn push_message(&self, chat_id: i64, text: &str) {
        let mut state = self.shared.state();
        let id = state.inbox.last().map_or(1000, |m| m.0 + 1);
        state.inbox.push((id, chat_id, text.to_string()));
    }

    pub fn messages(&self) -> Vec<ReceivedTelegram> {
        self.shared.state().sent.clone()
    }

    /// Answers 400 "chat not found" for `chat_id`.
    pub fn mark_chat_missing(&self, chat_id: &str) {
        self.shared.state().missing.insert(chat_id.to_string());
    }

    /// Answers 403 "bot was blocked by the user" for `chat_id`.
    pub fn mark_chat_blocked(&self, chat_id: &str) {
        self.shared.state().blocked.insert(chat_id.to_string());
    }
}

fn error(code: u16, description: &str, retry_after: Option<u64>) -> Value {
    let mut v = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(r) = retry_after {
        v["parameters"] = json!({ "retry_after": r });
    }
    v
}

fn fault_body(code: u16, retry_after: Option<u64>) -> Value {
    match retry_after {
        Some(r) => error(
            code,
            &format!("Too Many Requests: retry after {r}"),
            Some(r),
        ),
        None => error(code, "Internal Server Error", None),
    }
}

async fn get_updates(
    State(shared): State<Arc<Shared<State_>>>,
    Path(bot): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if bot != format!("bot{}", shared.state().token) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(error(401, "Unauthorized", None)),
        )
            .into_response();
    }
    let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let result: Vec<Value> = shared
        .state()
        .inbox
        .iter()
        .filter(|(id, _, _)| *id >= offset)
        .map(|(id, chat, text)| {
            json!({"update_id": id, "message": {"message_id": id, "date": 0,
                   "chat": {"id": chat, "type": "private"}, "text": text}})
        })
        .collect();
    Json(json!({"ok": true, "result": result})).into_response()
}

async fn send_message(
    State(shared): State<Arc<Shared<State_>>>,
    Path(bot): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if bot != format!("bot{}", shared.state().token) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(error(401, "Unauthorized", None)),
        )
            .into_response();
    }
    if let Some(r) = shared.fault_response(fault_body).await {
        return r;
    }
    let chat_id = match body.get("chat_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    let mut state = shared.state();
    if chat_id.is_empty() || state.missing.contains(&chat_id) {
        return (
            StatusCode::BAD_REQUEST,
            Json(error(400, "Bad Request: chat not found", None)),
        )
            .into_response();
    }
    if state.blocked.contains(&chat_id) {
        return (
            StatusCode::FORBIDDEN,
            Json(error(403, "Forbidden: bot was blocked by the user", None)),
        )
            .into_response();
    }
    if text.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(error(400, "Bad Request: message text is empty", None)),
        )
            .into_response();
    }
    state.sent.push(ReceivedTelegram {
        chat_id: chat_id.clone(),
        text: text.to_string(),
    });
    let id = state.sent.len();
    Json(json!({
        "ok": true,
        "result": { "message_id": id, "chat": { "id": chat_id }, "text": text }
    }))
    .into_response()
}
