//! A fake CryptoPro DSS-style signing service: its STS token endpoint
//! (`/STS/oauth/token`, password grant) and SignServer's "sign a document"
//! call (`/SignServer/rest/api/documents`), as `connectors::edo::signer::
//! DssSigner` speaks them.
//!
//! The "signature" it returns is a fixed marker plus a checksum of the
//! content and the certificate id — recognisable in tests, and not a CMS:
//! the fake exists only in this test-only crate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::{HttpFault, ServerTask, Shared, fault_controls, fault_reply, serve};
use connectors::config::DssConfig;

/// One signing request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignRequest {
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The document's `Name` (the adapter puts the key there too).
    pub name: String,
    pub certificate_id: String,
    pub detached: bool,
    pub content: Vec<u8>,
}

struct State_ {
    client_id: String,
    login: String,
    password: String,
    tokens: Vec<String>,
    token_requests: usize,
    requests: Vec<SignRequest>,
}

/// The fake signing service.
pub struct FakeDss {
    addr: SocketAddr,
    shared: Arc<Shared<State_>>,
    _task: ServerTask,
}
fault_controls!(FakeDss);

impl FakeDss {
    pub async fn start(client_id: &str, login: &str, password: &str) -> std::io::Result<FakeDss> {
        let shared = Shared::new(State_ {
            client_id: client_id.to_string(),
            login: login.to_string(),
            password: password.to_string(),
            tokens: Vec::new(),
            token_requests: 0,
            requests: Vec::new(),
        });
        let router = Router::new()
            .route("/STS/oauth/token", post(token))
            .route("/SignServer/rest/api/documents", post(sign))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeDss {
            addr,
            shared,
            _task: task,
        })
    }

    /// A configuration pointing at this fake.
    pub fn config(&self, client_id: &str, login: &str, password: &str) -> DssConfig {
        DssConfig::new(
            &format!("http://{}/SignServer/rest", self.addr),
            &format!("http://{}/STS/oauth/token", self.addr),
            client_id,
            login,
            password,
        )
    }

    /// The signing requests received, in order.
    pub fn requests(&self) -> Vec<SignRequest> {
        self.shared.state().requests.clone()
    }

    pub fn token_requests(&self) -> usize {
        self.shared.state().token_requests
    }

    /// The signature this fake makes over `content` with certificate `id`.
    pub fn signature_for(content: &[u8], certificate_id: &str) -> Vec<u8> {
        // FNV-1a: a checksum that ties the marker to the bytes.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in content {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("FAKE-DSS-CMS cert={certificate_id} fnv={hash:016x}").into_bytes()
    }
}

async fn token(
    State(shared): State<Arc<Shared<State_>>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = shared.state();
    state.token_requests += 1;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "password"
        || field("client_id") != state.client_id
        || field("username") != state.login
        || field("password") != state.password
        || field("resource").is_empty()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    let access = format!("dss-token-{}", state.token_requests);
    state.tokens.push(access.clone());
    Json(json!({ "access_token": access, "token_type": "Bearer", "expires_in": 3600 }))
        .into_response()
}

async fn sign(
    State(shared): State<Arc<Shared<State_>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    if !shared.state().tokens.contains(&given) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_token" })),
        )
            .into_response();
    }
    let delay = match shared.next_fault() {
        Some(HttpFault::Delay(d)) => Some(d),
        Some(fault) => {
            return fault_reply(
                &fault,
                |code, _| json!({ "error": format!("fake fault {code}") }),
            )
            .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        None => None,
    };
    let Some(content) = body
        .get("Content")
        .and_then(Value::as_str)
        .and_then(|c| BASE64.decode(c).ok())
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_request", "error_description": "Content" })),
        )
            .into_response();
    };
    let signature = body.get("Signature").cloned().unwrap_or(Value::Null);
    if signature.get("Type").and_then(Value::as_str) != Some("CMS") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_signature_params" })),
        )
            .into_response();
    }
    let certificate_id = match signature.get("CertificateId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    };
    let detached = signature
        .pointer("/Parameters/IsDetached")
        .and_then(Value::as_str)
        == Some("True");
    let request = SignRequest {
        idempotency_key: headers
            .get("Idempotency-Key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        name: body
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        certificate_id: certificate_id.clone(),
        detached,
        content: content.clone(),
    };
    shared.state().requests.push(request);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    Json(json!(
        BASE64.encode(FakeDss::signature_for(&content, &certificate_id))
    ))
    .into_response()
}
