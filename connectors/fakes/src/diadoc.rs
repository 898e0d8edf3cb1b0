//! A fake Kontur.Diadoc: its OpenID Connect token endpoint and the JSON
//! API calls the adapter makes (see `connectors::edo::diadoc`).
//!
//! It keeps state like the real service: messages by `operationId` (the same
//! key returns the same message and creates nothing), the shelf, and the
//! box's event feed with `IndexKey`s (opaque strings that need URL-encoding,
//! as Kontur warns). A test drives the counterparty's side —
//! [`FakeDiadoc::sign_as_recipient`], [`FakeDiadoc::reject_as_recipient`],
//! [`FakeDiadoc::mark_delivered`], in any order (a signature may come before
//! the delivery) — and the service's quirks: "still processing" 204s, token
//! expiry, a feed that repeats events, small pages, and the common
//! [`HttpFault`](crate::HttpFault)s (a delayed answer is given *after* the
//! work is done: a lost reply).

// Handlers return the HTTP answer to give as the `Err` of their checks; a
// test server builds one per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::{HttpFault, ServerTask, Shared, fault_controls, fault_reply, serve};
use connectors::config::DiadocConfig;

/// A document as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDiadocDocument {
    pub message_id: String,
    pub entity_id: String,
    pub operation_id: String,
    pub from_box: String,
    pub to_box: String,
    pub file_name: String,
    pub number: String,
    pub date: String,
    pub comment: String,
    pub needs_recipient_signature: bool,
    pub content: Vec<u8>,
    /// Posted by shelf name rather than inline.
    pub from_shelf: bool,
    pub our_signature: Vec<u8>,
    pub signed_with_test_signature: bool,
    pub their_signature: Option<Vec<u8>>,
    pub rejection: Option<String>,
    rejection_entity: Option<String>,
    created_ticks: i64,
}

struct Event {
    event_id: String,
    index_key: String,
    body: Value,
}

struct State_ {
    our_box: String,
    client_id: String,
    client_secret: String,
    token_lifetime: u64,
    tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    grants: Vec<String>,
    counter: u64,
    documents: Vec<FakeDiadocDocument>,
    operation_ids: Vec<String>,
    processing_first: bool,
    conflict_on_repeat: bool,
    shelf: HashMap<String, (Vec<u8>, bool)>,
    shelf_calls: Vec<String>,
    events: Vec<Event>,
    page_size: usize,
    repeat_next: usize,
    entity_content_calls: usize,
}

impl State_ {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn id(&mut self, prefix: &str) -> String {
        let n = self.next();
        format!("{prefix}-{n:04}-0000-4000-8000-{n:012}")
    }

    fn push_event(&mut self, body_key: &str, body: Value) {
        let n = self.events.len() + 1;
        let event_id = self.id("e0000000");
        self.events.push(Event {
            event_id,
            // Opaque, and unsafe in a URL unless encoded.
            index_key: format!("{n:08}/ik+{n}="),
            body: json!({ body_key: body }),
        });
    }

    fn document(&self, message_id: &str) -> Option<usize> {
        self.documents
            .iter()
            .position(|d| d.message_id == message_id)
    }
}

/// The fake Diadoc server.
pub struct FakeDiadoc {
    addr: SocketAddr,
    shared: Arc<Shared<State_>>,
    _task: ServerTask,
}
fault_controls!(FakeDiadoc);

fn now_ticks() -> i64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    621_355_968_000_000_000 + micros * 10
}

impl FakeDiadoc {
    /// Starts a fake whose API client is `client_id`/`client_secret` and
    /// whose own box (the sender's) is `our_box`.
    pub async fn start(
        client_id: &str,
        client_secret: &str,
        our_box: &str,
    ) -> std::io::Result<FakeDiadoc> {
        let shared = Shared::new(State_ {
            our_box: our_box.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            token_lifetime: 86_400,
            tokens: HashSet::new(),
            refresh_tokens: HashSet::new(),
            grants: Vec::new(),
            counter: 0,
            documents: Vec::new(),
            operation_ids: Vec::new(),
            processing_first: false,
            conflict_on_repeat: false,
            shelf: HashMap::new(),
            shelf_calls: Vec::new(),
            events: Vec::new(),
            page_size: 100,
            repeat_next: 0,
            entity_content_calls: 0,
        });
        let router = Router::new()
            .route("/connect/token", post(token))
            .route("/V3/PostMessage", post(post_message))
            .route("/V2/ShelfUpload", post(shelf_upload))
            .route("/ShelfUploadPartInit", post(shelf_init))
            .route("/ShelfUploadPart", post(shelf_part))
            .route("/V8/GetNewEvents", get(new_events))
            .route("/V6/GetMessage", get(get_message))
            .route("/V4/GetEntityContent", get(entity_content))
            .route("/V3/GetDocumentsByCustomId", get(documents_by_custom_id))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeDiadoc {
            addr,
            shared,
            _task: task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/connect/token", self.addr)
    }

    /// A client-credentials configuration pointing at this fake.
    pub fn config(&self, client_id: &str, client_secret: &str) -> DiadocConfig {
        let our_box = self.shared.state().our_box.clone();
        DiadocConfig::new(
            &self.base_url(),
            &self.token_url(),
            client_id,
            client_secret,
            &our_box,
        )
    }

    /// Tokens live this many seconds (default a day).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.shared.state().token_lifetime = secs;
    }

    /// Forgets every access token handed out, as if they had expired: the
    /// next API call gets 401.
    pub fn expire_tokens(&self) {
        self.shared.state().tokens.clear();
    }

    /// The `grant_type` of every token request, in order.
    pub fn grants(&self) -> Vec<String> {
        self.shared.state().grants.clone()
    }

    /// Answer 204 + `Retry-After: 1` ("still processing") to the first
    /// `PostMessage` of every new `operationId`, as Kontur may.
    pub fn set_processing_first(&self, on: bool) {
        self.shared.state().processing_first = on;
    }

    /// Answer 409 Conflict to a `PostMessage` whose `operationId` made a
    /// message already (instead of that message), as for a duplicate; the
    /// adapter then finds the message by its `CustomDocumentId`.
    pub fn set_conflict_on_repeat(&self, on: bool) {
        self.shared.state().conflict_on_repeat = on;
    }

    /// Every `operationId` received by `PostMessage`, in order.
    pub fn operation_ids(&self) -> Vec<String> {
        self.shared.state().operation_ids.clone()
    }

    pub fn documents(&self) -> Vec<FakeDiadocDocument> {
        self.shared.state().documents.clone()
    }

    /// Shelf calls: `upload`, `init`, `part:<index>[:last]`.
    pub fn shelf_calls(&self) -> Vec<String> {
        self.shared.state().shelf_calls.clone()
    }

    /// How many times the adapter fetched an entity's content.
    pub fn entity_content_calls(&self) -> usize {
        self.shared.state().entity_content_calls
    }

    /// At most this many events per `GetNewEvents` page.
    pub fn set_page_size(&self, n: usize) {
        self.shared.state().page_size = n.max(1);
    }

    /// The next `GetNewEvents` page repeats the `n` events before the
    /// cursor (a feed that delivers twice).
    pub fn repeat_next_events(&self, n: usize) {
        self.shared.state().repeat_next = n;
    }

    /// How many events the box's feed holds.
    pub fn event_count(&self) -> usize {
        self.shared.state().events.len()
    }

    /// The counterparty signs the document of `message_id`; returns whether
    /// there was one to sign.
    pub fn sign_as_recipient(&self, message_id: &str) -> bool {
        let mut state = self.shared.state();
        let Some(i) = state.document(message_id) else {
            return false;
        };
        let signature_id = state.id("s0000000");
        let doc = &mut state.documents[i];
        let signature = format!("THEIR-CMS for {}", doc.entity_id).into_bytes();
        doc.their_signature = Some(signature);
        let body = json!({
            "MessageId": doc.message_id,
            "PatchId": signature_id,
            "TimestampTicks": now_ticks(),
            "Entities": [{
                "EntityType": 2,
                "EntityId": signature_id,
                "ParentEntityId": doc.entity_id,
                "AttachmentType": 0,
                "SignerBoxId": doc.to_box,
            }],
        });
        state.push_event("Patch", body);
        true
    }

    /// The counterparty refuses to sign, with `reason`.
    pub fn reject_as_recipient(&self, message_id: &str, reason: &str) -> bool {
        let mut state = self.shared.state();
        let Some(i) = state.document(message_id) else {
            return false;
        };
        let rejection_id = state.id("r0000000");
        let signature_id = state.id("s0000000");
        let doc = &mut state.documents[i];
        doc.rejection = Some(reason.to_string());
        doc.rejection_entity = Some(rejection_id.clone());
        // Events carry no content: the adapter has to fetch the reason.
        let body = json!({
            "MessageId": doc.message_id,
            "PatchId": rejection_id,
            "TimestampTicks": now_ticks(),
            "Entities": [
                {
                    "EntityType": "Attachment",
                    "EntityId": rejection_id,
                    "ParentEntityId": doc.entity_id,
                    "AttachmentType": "SignatureRequestRejection",
                },
                {
                    "EntityType": "Signature",
                    "EntityId": signature_id,
                    "ParentEntityId": rejection_id,
                    "AttachmentType": "Nonformalized",
                    "SignerBoxId": doc.to_box,
                },
            ],
        });
        state.push_event("Patch", body);
        true
    }

    /// The message reached the counterparty's box.
    pub fn mark_delivered(&self, message_id: &str) -> bool {
        let mut state = self.shared.state();
        if state.document(message_id).is_none() {
            return false;
        }
        let patch_id = state.id("p0000000");
        let body = json!({
            "MessageId": message_id,
            "PatchId": patch_id,
            "TimestampTicks": now_ticks(),
            "MessageIsDelivered": true,
            "Entities": [],
        });
        state.push_event("Patch", body);
        true
    }
}

fn error_body(code: u16, _retry_after: Option<u64>) -> Value {
    json!({ "error": format!("fake fault {code}") })
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_string()).into_response()
}

/// Checks the bearer token; `Err` is the 401 to answer.
fn authorised(shared: &Shared<State_>, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if shared.state().tokens.contains(given) {
        Ok(())
    } else {
        Err(plain(StatusCode::UNAUTHORIZED, "invalid or expired token"))
    }
}

/// Auth, then any fault: `Err` is the answer to give instead; `Ok(delay)` a
/// delay to apply after the work is done.
fn admit(
    shared: &Shared<State_>,
    headers: &HeaderMap,
) -> Result<Option<std::time::Duration>, Response> {
    authorised(shared, headers)?;
    match shared.next_fault() {
        Some(HttpFault::Delay(d)) => Ok(Some(d)),
        Some(fault) => Err(fault_reply(&fault, error_body)
            .unwrap_or_else(|| plain(StatusCode::INTERNAL_SERVER_ERROR, "fault"))),
        None => Ok(None),
    }
}

async fn after(delay: Option<std::time::Duration>, response: Response) -> Response {
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

async fn token(
    State(shared): State<Arc<Shared<State_>>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = shared.state();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    state.grants.push(grant.clone());
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("client_id") != state.client_id || field("client_secret") != state.client_secret {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let ok = match grant.as_str() {
        "client_credentials" => true,
        "password" => !field("username").is_empty() && !field("password").is_empty(),
        "refresh_token" => state.refresh_tokens.remove(field("refresh_token")),
        _ => false,
    };
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    let n = state.next();
    let access = format!("access-{n}");
    let refresh = format!("refresh-{n}");
    state.tokens.insert(access.clone());
    state.refresh_tokens.insert(refresh.clone());
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.token_lifetime,
        "refresh_token": refresh,
    }))
    .into_response()
}

/// The `Message` JSON of a document; with contents when asked.
fn message_json(doc: &FakeDiadocDocument, with_content: bool) -> Value {
    let content = |bytes: &[u8]| {
        if with_content {
            json!({ "Size": bytes.len(), "Data": BASE64.encode(bytes) })
        } else {
            json!({ "Size": bytes.len() })
        }
    };
    let mut entities = vec![
        json!({
            "EntityType": "Attachment",
            "EntityId": doc.entity_id,
            "AttachmentType": "Nonformalized",
            "FileName": doc.file_name,
            "NeedRecipientSignature": doc.needs_recipient_signature,
            "RawCreationDate": doc.created_ticks,
            "Content": content(&doc.content),
        }),
        json!({
            "EntityType": "Signature",
            "EntityId": format!("{}-sig", doc.entity_id),
            "ParentEntityId": doc.entity_id,
            "AttachmentType": "Nonformalized",
            "SignerBoxId": doc.from_box,
            "Content": content(&doc.our_signature),
        }),
    ];
    if let Some(theirs) = &doc.their_signature {
        entities.push(json!({
            "EntityType": 2,
            "EntityId": format!("{}-their", doc.entity_id),
            "ParentEntityId": doc.entity_id,
            "AttachmentType": 0,
            "SignerBoxId": doc.to_box,
            "Content": content(theirs),
        }));
    }
    json!({
        "MessageId": doc.message_id,
        "TimestampTicks": doc.created_ticks,
        "FromBoxId": doc.from_box,
        "ToBoxId": doc.to_box,
        "IsTest": doc.signed_with_test_signature,
        "Entities": entities,
    })
}

async fn post_message(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let delay = match admit(&shared, &headers) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(op) = query.get("operationId").cloned() else {
        // Kontur would hash the body; Podryad always sends a key.
        return plain(
            StatusCode::BAD_REQUEST,
            "operationId is required by this fake",
        );
    };
    let response = {
        let mut state = shared.state();
        state.operation_ids.push(op.clone());
        match state.documents.iter().find(|d| d.operation_id == op) {
            Some(_) if state.conflict_on_repeat => plain(
                StatusCode::CONFLICT,
                "a message with this operationId exists",
            ),
            // The same key again: the same message, nothing new.
            Some(existing) => Json(message_json(existing, false)).into_response(),
            None => match create(&mut state, &op, &body) {
                // Created, but "still processing": the client asks again.
                Ok(_) if state.processing_first => (
                    StatusCode::NO_CONTENT,
                    [(axum::http::header::RETRY_AFTER, "1")],
                )
                    .into_response(),
                Ok(i) => Json(message_json(&state.documents[i], false)).into_response(),
                Err(r) => r,
            },
        }
    };
    after(delay, response).await
}

/// Creates the message of a valid `MessageToPost`.
fn create(state: &mut State_, op: &str, body: &Value) -> Result<usize, Response> {
    let bad = |why: &str| plain(StatusCode::BAD_REQUEST, why);
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let from_box = s(body, "FromBoxId");
    if from_box != state.our_box {
        return Err(plain(StatusCode::FORBIDDEN, "not your box"));
    }
    let to_box = s(body, "ToBoxId");
    if to_box.is_empty() {
        return Err(bad("ToBoxId is required"));
    }
    let attachment = body
        .pointer("/DocumentAttachments/0")
        .ok_or_else(|| bad("no DocumentAttachments"))?;
    if !s(attachment, "TypeNamedId").eq_ignore_ascii_case("nonformalized") {
        return Err(bad("this fake knows Nonformalized documents only"));
    }
    let signed = attachment
        .get("SignedContent")
        .ok_or_else(|| bad("no SignedContent"))?;
    let (content, from_shelf) = match (signed.get("Content"), signed.get("NameOnShelf")) {
        (Some(Value::String(c)), _) => (
            BASE64.decode(c).map_err(|_| bad("Content is not base64"))?,
            false,
        ),
        (_, Some(Value::String(name))) => match state.shelf.get(name) {
            Some((bytes, true)) => (bytes.clone(), true),
            Some((_, false)) => return Err(bad("the shelf file is incomplete")),
            None => return Err(bad("no such file on the shelf")),
        },
        _ => return Err(bad("neither Content nor NameOnShelf")),
    };
    let test = signed.get("SignWithTestSignature").and_then(Value::as_bool) == Some(true);
    let our_signature = match signed.get("Signature") {
        Some(Value::String(sig)) => BASE64
            .decode(sig)
            .map_err(|_| bad("Signature is not base64"))?,
        _ if test => format!("DIADOC-TEST-CMS over {} bytes", content.len()).into_bytes(),
        _ => return Err(bad("the document is not signed")),
    };
    let metadata = |key: &str| {
        attachment
            .get("Metadata")
            .and_then(Value::as_array)
            .and_then(|m| {
                m.iter()
                    .find(|i| i.get("Key").and_then(Value::as_str) == Some(key))
            })
            .map(|i| s(i, "Value"))
            .unwrap_or_default()
    };
    let message_id = state.id("m0000000");
    let entity_id = state.id("d0000000");
    let doc = FakeDiadocDocument {
        message_id,
        entity_id,
        operation_id: op.to_string(),
        from_box,
        to_box,
        file_name: metadata("FileName"),
        number: metadata("DocumentNumber"),
        date: metadata("DocumentDate"),
        comment: s(attachment, "Comment"),
        needs_recipient_signature: attachment
            .get("NeedRecipientSignature")
            .and_then(Value::as_bool)
            == Some(true),
        content,
        from_shelf,
        our_signature,
        signed_with_test_signature: test,
        their_signature: None,
        rejection: None,
        rejection_entity: None,
        created_ticks: now_ticks(),
    };
    let event = message_json(&doc, false);
    state.documents.push(doc);
    state.push_event("Message", event);
    Ok(state.documents.len() - 1)
}

async fn shelf_upload(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&shared, &headers) {
        return r;
    }
    if body.len() > 3 * 1024 * 1024 {
        return plain(StatusCode::BAD_REQUEST, "too large for one upload");
    }
    let mut state = shared.state();
    let n = state.next();
    let name = format!(
        "shelf-{n}{}",
        query
            .get("fileExtension")
            .map(String::as_str)
            .unwrap_or_default()
    );
    state.shelf.insert(name.clone(), (body.to_vec(), true));
    state.shelf_calls.push("upload".into());
    plain(StatusCode::OK, &name)
}

async fn shelf_init(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&shared, &headers) {
        return r;
    }
    if body.len() > 512 * 1024 {
        return plain(StatusCode::BAD_REQUEST, "a part is at most 512 KB");
    }
    let last = query.get("isLastPart").map(String::as_str) == Some("true");
    let mut state = shared.state();
    let n = state.next();
    let name = format!(
        "shelf-{n}{}",
        query
            .get("fileExtension")
            .map(String::as_str)
            .unwrap_or_default()
    );
    state.shelf.insert(name.clone(), (body.to_vec(), last));
    state.shelf_calls.push("init".into());
    plain(StatusCode::OK, &name)
}

async fn shelf_part(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&shared, &headers) {
        return r;
    }
    if body.len() > 512 * 1024 {
        return plain(StatusCode::BAD_REQUEST, "a part is at most 512 KB");
    }
    let name = query.get("fileName").cloned().unwrap_or_default();
    let index = query.get("partIndex").cloned().unwrap_or_default();
    let last = query.get("isLastPart").map(String::as_str) == Some("true");
    let mut state = shared.state();
    let Some((bytes, complete)) = state.shelf.get_mut(&name) else {
        return plain(StatusCode::BAD_REQUEST, "unknown fileName");
    };
    if *complete {
        return plain(StatusCode::BAD_REQUEST, "the file is already complete");
    }
    bytes.extend_from_slice(&body);
    *complete = last;
    state
        .shelf_calls
        .push(format!("part:{index}{}", if last { ":last" } else { "" }));
    plain(StatusCode::OK, "")
}

/// `GetDocumentsByCustomId`: our documents whose `CustomDocumentId` (the
/// adapter sends the idempotency key, as the `operationId`) is the given one.
async fn documents_by_custom_id(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorised(&shared, &headers) {
        return r;
    }
    let key = query.get("customDocumentId").cloned().unwrap_or_default();
    let state = shared.state();
    if query.get("boxId") != Some(&state.our_box) {
        return plain(StatusCode::FORBIDDEN, "not your box");
    }
    let documents: Vec<Value> = state
        .documents
        .iter()
        .filter(|d| d.operation_id == key)
        .map(|d| {
            json!({
                "MessageId": d.message_id,
                "EntityId": d.entity_id,
                "CustomDocumentId": d.operation_id,
            })
        })
        .collect();
    Json(json!({ "TotalCount": documents.len(), "Documents": documents })).into_response()
}

async fn new_events(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let delay = match admit(&shared, &headers) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let response = {
        let mut state = shared.state();
        if query.get("boxId") != Some(&state.our_box) {
            return plain(StatusCode::FORBIDDEN, "not your box");
        }
        let start = match query.get("afterIndexKey") {
            None => 0,
            Some(key) => match state.events.iter().position(|e| &e.index_key == key) {
                Some(i) => i + 1,
                None => return plain(StatusCode::BAD_REQUEST, "unknown afterIndexKey"),
            },
        };
        let start_with_repeats = start.saturating_sub(std::mem::take(&mut state.repeat_next));
        let end = (start + state.page_size).min(state.events.len());
        let events: Vec<Value> = state.events[start_with_repeats..end]
            .iter()
            .map(|e| {
                let mut v = e.body.clone();
                v["EventId"] = json!(e.event_id);
                v["IndexKey"] = json!(e.index_key);
                v
            })
            .collect();
        Json(json!({ "Events": events, "TotalCount": state.events.len() - start })).into_response()
    };
    after(delay, response).await
}

async fn get_message(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&shared, &headers) {
        return r;
    }
    let state = shared.state();
    let message_id = query.get("messageId").cloned().unwrap_or_default();
    let Some(doc) = state.documents.iter().find(|d| d.message_id == message_id) else {
        return plain(StatusCode::NOT_FOUND, "no such message");
    };
    let inject = query.get("injectEntityContent").map(String::as_str) == Some("true");
    Json(message_json(doc, inject)).into_response()
}

async fn entity_content(
    State(shared): State<Arc<Shared<State_>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&shared, &headers) {
        return r;
    }
    let mut state = shared.state();
    state.entity_content_calls += 1;
    let message_id = query.get("messageId").cloned().unwrap_or_default();
    let entity_id = query.get("entityId").cloned().unwrap_or_default();
    let Some(doc) = state.documents.iter().find(|d| d.message_id == message_id) else {
        return plain(StatusCode::NOT_FOUND, "no such message");
    };
    let bytes = if entity_id == doc.entity_id {
        doc.content.clone()
    } else if doc.rejection_entity.as_deref() == Some(entity_id.as_str()) {
        doc.rejection.clone().unwrap_or_default().into_bytes()
    } else {
        return plain(StatusCode::NOT_FOUND, "no such entity");
    };
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response()
}
