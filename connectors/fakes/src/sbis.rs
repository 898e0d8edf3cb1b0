//! A fake SBIS (Saby) JSON-RPC API: `/auth/service/` for
//! `СБИС.Аутентифицировать` and `/service/` for the document methods the
//! adapter calls (see `connectors::edo::sbis`), one route each, dispatched
//! on `method`.
//!
//! It requires `X-SBISSessionID` on `/service/` and answers an unknown or
//! expired session with the JSON-RPC error "Not authorized." (HTTP 200);
//! keeps documents by our `Идентификатор` (writing one again updates it; a
//! sent document can no longer be written); and keeps the event log that
//! `СБИС.СписокИзменений` pages through. A test drives the counterparty —
//! [`FakeSbis::sign_as_recipient`], [`FakeSbis::reject_as_recipient`],
//! [`FakeSbis::mark_delivered`] — expires sessions, and injects
//! [`HttpFault`](crate::HttpFault)s (a delay is applied after the work: a
//! lost reply).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::{HttpFault, ServerTask, Shared, fault_controls, fault_reply, serve};
use connectors::config::SbisConfig;

/// A document as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSbisDocument {
    pub id: String,
    pub attachment_id: String,
    pub doc_type: String,
    pub number: String,
    pub date: String,
    pub note: String,
    pub our_inn: String,
    pub counterparty_inn: String,
    pub file_name: String,
    pub content: Vec<u8>,
    /// How many times `ЗаписатьДокумент` wrote it.
    pub writes: usize,
    pub sent: bool,
    pub our_signature: Option<Vec<u8>>,
    /// Sent without a signature from us: SBIS signed with the stand's
    /// certificate.
    pub signed_by_operator: bool,
    pub their_signature: Option<Vec<u8>>,
    pub rejection: Option<String>,
}

struct Event {
    id: String,
    document: String,
    name: String,
    comment: String,
    at: String,
}

struct State_ {
    login: String,
    password: String,
    sessions: HashSet<String>,
    logins: usize,
    counter: u64,
    documents: Vec<FakeSbisDocument>,
    events: Vec<Event>,
    methods: Vec<String>,
    page_size: usize,
    repeat_next: usize,
    base_url: String,
}

impl State_ {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn document(&mut self, id: &str) -> Option<&mut FakeSbisDocument> {
        self.documents.iter_mut().find(|d| d.id == id)
    }

    fn push_event(&mut self, document: &str, name: &str, comment: &str) {
        let n = self.next();
        self.events.push(Event {
            id: format!("{n:08x}-5b15-4e00-8000-{n:012x}"),
            document: document.to_string(),
            name: name.to_string(),
            comment: comment.to_string(),
            // Moscow time, as SBIS writes it.
            at: now_in_moscow(),
        });
    }
}

/// `ДД.ММ.ГГГГ ЧЧ.ММ.СС` of now in Moscow (UTC+3).
fn now_in_moscow() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
        + 3 * 3600;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{d:02}.{m:02}.{y:04} {:02}.{:02}.{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The fake SBIS server.
pub struct FakeSbis {
    addr: SocketAddr,
    shared: Arc<Shared<State_>>,
    _task: ServerTask,
}
fault_controls!(FakeSbis);

impl FakeSbis {
    /// Starts a fake that accepts `login` / `password`.
    pub async fn start(login: &str, password: &str) -> std::io::Result<FakeSbis> {
        let shared = Shared::new(State_ {
            login: login.to_string(),
            password: password.to_string(),
            sessions: HashSet::new(),
            logins: 0,
            counter: 0,
            documents: Vec::new(),
            events: Vec::new(),
            methods: Vec::new(),
            page_size: 100,
            repeat_next: 0,
            base_url: String::new(),
        });
        let router = Router::new()
            .route("/auth/service/", post(auth))
            .route("/service/", post(service))
            .route("/file/{id}", get(file))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        shared.state().base_url = format!("http://{addr}");
        Ok(FakeSbis {
            addr,
            shared,
            _task: task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A configuration pointing at this fake, our organisation `box_id`.
    pub fn config(&self, login: &str, password: &str, box_id: &str) -> SbisConfig {
        SbisConfig::new(&self.base_url(), login, password, box_id)
    }

    /// Forgets every session, as SBIS does after a day idle.
    pub fn expire_sessions(&self) {
        self.shared.state().sessions.clear();
    }

    /// How many times someone logged in.
    pub fn logins(&self) -> usize {
        self.shared.state().logins
    }

    /// Every method called on `/service/`, in order.
    pub fn methods(&self) -> Vec<String> {
        self.shared.state().methods.clone()
    }

    pub fn documents(&self) -> Vec<FakeSbisDocument> {
        self.shared.state().documents.clone()
    }

    pub fn set_page_size(&self, n: usize) {
        self.shared.state().page_size = n.max(1);
    }

    /// The next `СписокИзменений` repeats the `n` events before the cursor.
    pub fn repeat_next_events(&self, n: usize) {
        self.shared.state().repeat_next = n;
    }

    /// The counterparty approves (signs) the sent document `id`.
    pub fn sign_as_recipient(&self, id: &str) -> bool {
        let mut state = self.shared.state();
        let Some(doc) = state.document(id).filter(|d| d.sent) else {
            return false;
        };
        doc.their_signature = Some(format!("THEIR-SBIS-CMS for {id}").into_bytes());
        state.push_event(id, "Утверждение", "");
        true
    }

    /// The counterparty refuses the document, with `reason`.
    pub fn reject_as_recipient(&self, id: &str, reason: &str) -> bool {
        let mut state = self.shared.state();
        let Some(doc) = state.document(id).filter(|d| d.sent) else {
            return false;
        };
        doc.rejection = Some(reason.to_string());
        state.push_event(id, "Отклонение", reason);
        true
    }

    /// The document reached the counterparty.
    pub fn mark_delivered(&self, id: &str) -> bool {
        let mut state = self.shared.state();
        if state.document(id).filter(|d| d.sent).is_none() {
            return false;
        }
        state.push_event(id, "Получение", "");
        true
    }
}

fn rpc_result(result: Value) -> Response {
    Json(json!({ "jsonrpc": "2.0", "result": result, "id": 0 })).into_response()
}

fn rpc_error(message: &str, details: &str) -> Response {
    Json(json!({
        "jsonrpc": "2.0",
        "error": { "code": -32000, "message": message, "details": details },
        "id": 0,
    }))
    .into_response()
}

async fn auth(State(shared): State<Arc<Shared<State_>>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if body.get("method").and_then(Value::as_str) != Some("СБИС.Аутентифицировать")
    {
        return rpc_error("Метод не найден", "");
    }
    let mut state = shared.state();
    let login = body
        .pointer("/params/Параметр/Логин")
        .and_then(Value::as_str);
    let password = body
        .pointer("/params/Параметр/Пароль")
        .and_then(Value::as_str);
    if login != Some(state.login.as_str()) || password != Some(state.password.as_str()) {
        return rpc_error("Неверный логин или пароль", "");
    }
    state.logins += 1;
    let n = state.next();
    let sid = format!("{n:08}-sid");
    state.sessions.insert(sid.clone());
    rpc_result(json!(sid))
}

fn session_ok(state: &State_, headers: &HeaderMap) -> bool {
    headers
        .get("X-SBISSessionID")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sid| state.sessions.contains(sid))
}

async fn file(
    State(shared): State<Arc<Shared<State_>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = shared.state();
    if !session_ok(&state, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match state.documents.iter().find(|d| d.attachment_id == id) {
        Some(doc) => (StatusCode::OK, doc.content.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn service(
    State(shared): State<Arc<Shared<State_>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // JSON-RPC comes as `application/json-rpc`, which axum's `Json` refuses.
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = body
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    {
        let mut state = shared.state();
        state.methods.push(method.clone());
        if !session_ok(&state, &headers) {
            return rpc_error("Not authorized.", "Сессия не найдена или истекла");
        }
    }
    let delay = match shared.next_fault() {
        Some(HttpFault::Delay(d)) => Some(d),
        Some(fault) => {
            return fault_reply(&fault, |code, _| {
                json!({ "jsonrpc": "2.0", "error": { "code": code, "message": "fake fault", "details": "" }, "id": 0 })
            })
            .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        None => None,
    };
    let params = body.get("params").cloned().unwrap_or(Value::Null);
    let response = {
        let mut state = shared.state();
        match method.as_str() {
            "СБИС.ПрочитатьДокумент" => read(&state, &params),
            "СБИС.ЗаписатьДокумент" => write(&mut state, &params),
            "СБИС.ПодготовитьДействие" => prepare(&mut state, &params),
            "СБИС.ВыполнитьДействие" => execute(&mut state, &params),
            "СБИС.СписокИзменений" => changes(&mut state, &params),
            _ => rpc_error("Метод не найден", &method),
        }
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn inn_of(org: &Value) -> String {
    org.pointer("/СвЮЛ/ИНН")
        .or_else(|| org.pointer("/СвФЛ/ИНН"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn document_json(state: &State_, doc: &FakeSbisDocument) -> Value {
    let mut signatures = Vec::new();
    if let Some(ours) = &doc.our_signature {
        signatures.push(json!({
            "Файл": { "Имя": format!("{}.sgn", doc.file_name), "ДвоичныеДанные": BASE64.encode(ours) },
            "Сертификат": { "ИНН": doc.our_inn },
        }));
    }
    if let Some(theirs) = &doc.their_signature {
        signatures.push(json!({
            "Файл": { "Имя": format!("{}.their.sgn", doc.file_name), "ДвоичныеДанные": BASE64.encode(theirs) },
            "Сертификат": { "ИНН": doc.counterparty_inn },
        }));
    }
    let stages = if doc.sent {
        json!([])
    } else {
        json!([{ "Название": "Отправка", "Действие": [{ "Название": "Отправить" }] }])
    };
    json!({
        "Идентификатор": doc.id,
        "Тип": doc.doc_type,
        "Номер": doc.number,
        "Дата": doc.date,
        "Примечание": doc.note,
        "Этап": stages,
        "Вложение": [{
            "Идентификатор": doc.attachment_id,
            "Файл": { "Имя": doc.file_name, "Ссылка": format!("{}/file/{}", state.base_url, doc.attachment_id) },
            "Подпись": signatures,
        }],
    })
}

fn read(state: &State_, params: &Value) -> Response {
    let id = s(params, "/Документ/Идентификатор");
    match state.documents.iter().find(|d| d.id == id) {
        Some(doc) => rpc_result(document_json(state, doc)),
        None => rpc_error("Документ не найден", id),
    }
}

fn write(state: &mut State_, params: &Value) -> Response {
    let d = params.get("Документ").cloned().unwrap_or(Value::Null);
    let id = s(&d, "/Идентификатор").to_string();
    if id.is_empty() {
        return rpc_error("Не указан идентификатор документа", "");
    }
    let content = match BASE64.decode(s(&d, "/Вложение/0/Файл/ДвоичныеДанные"))
    {
        Ok(c) if !c.is_empty() => c,
        _ => return rpc_error("Неверное вложение", "ДвоичныеДанные"),
    };
    let mut doc = FakeSbisDocument {
        id: id.clone(),
        attachment_id: s(&d, "/Вложение/0/Идентификатор").to_string(),
        doc_type: s(&d, "/Тип").to_string(),
        number: s(&d, "/Номер").to_string(),
        date: s(&d, "/Дата").to_string(),
        note: s(&d, "/Примечание").to_string(),
        our_inn: inn_of(d.get("НашаОрганизация").unwrap_or(&Value::Null)),
        counterparty_inn: inn_of(d.get("Контрагент").unwrap_or(&Value::Null)),
        file_name: s(&d, "/Вложение/0/Файл/Имя").to_string(),
        content,
        writes: 1,
        sent: false,
        our_signature: None,
        signed_by_operator: false,
        their_signature: None,
        rejection: None,
    };
    if doc.attachment_id.is_empty() {
        doc.attachment_id = format!("{id}-1");
    }
    if doc.our_inn.is_empty() || doc.counterparty_inn.is_empty() {
        return rpc_error("Не указана организация или контрагент", "");
    }
    match state.document(&id) {
        Some(existing) if existing.sent => {
            rpc_error("Документ уже отправлен, изменение запрещено", &id)
        }
        Some(existing) => {
            doc.writes = existing.writes + 1;
            *existing = doc.clone();
            rpc_result(document_json(state, &doc))
        }
        None => {
            state.documents.push(doc.clone());
            rpc_result(document_json(state, &doc))
        }
    }
}

fn prepare(state: &mut State_, params: &Value) -> Response {
    let id = s(params, "/Документ/Идентификатор").to_string();
    if s(params, "/Документ/Этап/Название") != "Отправка" {
        return rpc_error("Этап недоступен", "");
    }
    let base = state.base_url.clone();
    match state.document(&id) {
        None => rpc_error("Документ не найден", &id),
        Some(doc) if doc.sent => rpc_error("Действие недоступно: документ уже отправлен", &id),
        Some(doc) => rpc_result(json!({
            "Идентификатор": doc.id,
            "Вложение": [{
                "Идентификатор": doc.attachment_id,
                "Модифицирован": "Нет",
                "Файл": {
                    "Имя": doc.file_name,
                    "Хеш": format!("{:x}", doc.content.len()),
                    "Ссылка": format!("{base}/file/{}", doc.attachment_id),
                },
            }],
        })),
    }
}

fn execute(state: &mut State_, params: &Value) -> Response {
    let id = s(params, "/Документ/Идентификатор").to_string();
    let stage = params
        .pointer("/Документ/Этап")
        .cloned()
        .unwrap_or(Value::Null);
    if s(&stage, "/Название") != "Отправка" || s(&stage, "/Действие/Название") != "Отправить"
    {
        return rpc_error("Действие недоступно", "");
    }
    let signature = stage
        .pointer("/Вложение/0/Подпись/0/Файл/ДвоичныеДанные")
        .and_then(Value::as_str)
        .and_then(|d| BASE64.decode(d).ok());
    match state.document(&id) {
        None => return rpc_error("Документ не найден", &id),
        Some(doc) if doc.sent => {
            return rpc_error("Действие недоступно: документ уже отправлен", &id);
        }
        Some(doc) => {
            match signature {
                Some(sig) => doc.our_signature = Some(sig),
                None => {
                    doc.our_signature = Some(
                        format!("SBIS-STAND-CMS over {} bytes", doc.content.len()).into_bytes(),
                    );
                    doc.signed_by_operator = true;
                }
            }
            doc.sent = true;
        }
    }
    state.push_event(&id, "Отправка", "");
    let doc = state
        .documents
        .iter()
        .find(|d| d.id == id)
        .cloned()
        .expect("just sent");
    rpc_result(document_json(state, &doc))
}

fn changes(state: &mut State_, params: &Value) -> Response {
    let filter = params.get("Фильтр").cloned().unwrap_or(Value::Null);
    let start = match filter.get("ИдентификаторСобытия").and_then(Value::as_str)
    {
        None | Some("") => 0,
        Some(after) => match state.events.iter().position(|e| e.id == after) {
            Some(i) => i + 1,
            None => return rpc_error("Событие не найдено", after),
        },
    };
    let asked: usize = s(&filter, "/Навигация/РазмерСтраницы")
        .parse()
        .unwrap_or(100);
    let size = asked.min(state.page_size).max(1);
    let from = start.saturating_sub(std::mem::take(&mut state.repeat_next));
    let end = (start + size).min(state.events.len());
    // Consecutive events of one document come as one `Документ`.
    let mut documents: Vec<Value> = Vec::new();
    let mut attachments: HashMap<String, String> = HashMap::new();
    for d in &state.documents {
        attachments.insert(d.id.clone(), d.attachment_id.clone());
    }
    for event in &state.events[from..end] {
        let entry = json!({
            "Идентификатор": event.id,
            "Название": event.name,
            "ДатаВремя": event.at,
            "Комментарий": event.comment,
        });
        match documents.last_mut() {
            Some(last) if last["Идентификатор"] == json!(event.document) => {
                if let Some(list) = last["Событие"].as_array_mut() {
                    list.push(entry);
                }
            }
            _ => documents.push(json!({
                "Идентификатор": event.document,
                "Вложение": [{ "Идентификатор": attachments.get(&event.document).cloned().unwrap_or_default() }],
                "Событие": [entry],
            })),
        }
    }
    let more = if end < state.events.len() {
        "Да"
    } else {
        "Нет"
    };
    rpc_result(
        json!({ "Документ": documents, "Навигация": { "ЕстьЕще": more, "РазмерСтраницы": size.to_string() } }),
    )
}
