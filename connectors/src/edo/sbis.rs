//! SBIS (Saby, Тензор) EDO through its JSON-RPC 2.0 API.
//!
//! Every call is `POST` of `{"jsonrpc": "2.0", "method": "СБИС.…", "params":
//! {…}, "id": 0}` with `Content-Type: application/json-rpc; charset=utf-8`,
//! answered by `result` or `error {code, message, details}`.
//!
//! - **Authentication**: `СБИС.Аутентифицировать` at `{base}/auth/service/`
//!   with `{"Параметр": {"Логин", "Пароль"}}` returns a session id, sent as
//!   `X-SBISSessionID` on every call to `{base}/service/?srv=1`. The session
//!   is kept until SBIS says it is not authorised (HTTP 401, or an error
//!   about authorisation), then the adapter logs in again and repeats the
//!   call once.
//! - **Posting** (idempotent by the document id): our id of the document,
//!   `Идентификатор`, is a UUID derived from the idempotency key (the key
//!   itself when it is a UUID), so every attempt names the same document.
//!   `СБИС.ПрочитатьДокумент` first: a document that exists and no longer
//!   offers the `Отправка` stage was sent already, and its ids are returned.
//!   Otherwise `СБИС.ЗаписатьДокумент` (our organisation, the counterparty,
//!   type, number, date, the PDF as `Вложение[].Файл.ДвоичныеДанные`), then
//!   `СБИС.ПодготовитьДействие` (stage `Отправка`, action `Отправить`, our
//!   certificate's `Отпечаток`), which says per attachment whether SBIS
//!   modified the file (then the modified file, from `Файл.Ссылка`, is what
//!   gets signed), then `СБИС.ВыполнитьДействие` with our detached signature
//!   in `Этап.Вложение[].Подпись[].Файл.ДвоичныеДанные` (the shape public SBIS
//!   clients send).
//! - **Events**: `СБИС.СписокИзменений` with `Фильтр {ИдентификаторСобытия:
//!   <cursor>, НашаОрганизация, Навигация {РазмерСтраницы}}` returns
//!   documents with their `Событие[]`; the cursor is the last event's
//!   `Идентификатор`, `Навигация.ЕстьЕще = "Да"` means more. Events are
//!   recognised by name: `Утверждение…` is the recipient's signature,
//!   `Отклонение…` a refusal (its `Комментарий` is the reason), `Получение…`
//!   / `Доставка…` the delivery.
//! - **Signed copy**: `СБИС.ПрочитатьДокумент`; the attachment's file and its
//!   `Подпись[]`, ours told from theirs by the certificate's `ИНН`. Files come
//!   inline (`ДвоичныеДанные`) or by link (`Ссылка`, fetched with the
//!   session header).
//! - **Test signature**: SBIS has no documented equivalent of Diadoc's
//!   `SignWithTestSignature`. With [`Signature::OperatorTest`] the adapter
//!   performs the action without a `Подпись`, which on SBIS's test stand
//!   (`fix-online.sbis.ru`) leaves signing to the certificate SBIS holds for
//!   our account (cloud signature). This is **not verified**.
//!
//! Checked against SBIS's published help (sbis.ru/help/integration/api):
//! the JSON-RPC envelope, the two endpoints, `СБИС.Аутентифицировать` and
//! the session header, the method names above and `ПовторитьЭтап`'s document
//! shape (stages, attachments, signatures with certificates). **Not
//! verified** (see the README): the `Тип` of a plain outgoing document
//! (`ДокОтгрИсх` by default, configurable; public clients use it for
//! shipping documents), the event
//! names of the recipient's signature and refusal, the error text of an
//! expired session and of an unknown document (matched loosely), whether
//! business errors come with HTTP 200 or 500 (both are read).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::signer::{Signature, Signer};
use super::{
    EdoError, EdoEvent, EdoEventKind, EdoOperator, EventPage, OutgoingDocument, Posted, SignedCopy,
};
use crate::config::{ConfigError, SbisConfig};

/// Events per `СписокИзменений` page.
const EVENTS_PAGE: usize = 100;

/// The SBIS adapter.
pub struct Sbis {
    client: reqwest::Client,
    config: SbisConfig,
    signer: Arc<dyn Signer>,
    session: tokio::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for Sbis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sbis")
            .field("config", &self.config)
            .field("signer", &self.signer.name())
            .finish()
    }
}

/// How one JSON-RPC call ended.
enum Outcome {
    Ok(Value),
    /// SBIS does not know our session (any more).
    Unauthorised,
    Err(EdoError),
}

impl Sbis {
    pub fn new(config: SbisConfig, signer: Arc<dyn Signer>) -> Result<Sbis, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_SBIS_URL", e))?;
        Ok(Sbis {
            client,
            config,
            signer,
            session: tokio::sync::Mutex::new(None),
        })
    }

    async fn rpc(&self, url: &str, session: Option<&str>, method: &str, params: Value) -> Outcome {
        let mut request = self
            .client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json-rpc; charset=utf-8",
            )
            .body(
                json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 0 })
                    .to_string(),
            );
        if let Some(sid) = session {
            request = request.header("X-SBISSessionID", sid);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Err(EdoError::from_http(e)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Outcome::Err(EdoError::from_http(e)),
        };
        if status == 401 {
            return Outcome::Unauthorised;
        }
        if matches!(status, 429 | 502 | 503 | 504) {
            return Outcome::Err(super::error_for_status(status, &headers, &text));
        }
        let reply: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) if status != 200 => {
                return Outcome::Err(super::error_for_status(status, &headers, &text));
            }
            Err(e) => {
                return Outcome::Err(EdoError::retry(format!("SBIS answered with bad JSON: {e}")));
            }
        };
        if let Some(error) = reply.get("error").filter(|e| !e.is_null()) {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let details = error
                .get("details")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let text = format!("{message} {details}").to_lowercase();
            if text.contains("авториз") || text.contains("authoriz") || text.contains("сесси")
            {
                return Outcome::Unauthorised;
            }
            let code = match error.get("code") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) => s.clone(),
                _ => status.to_string(),
            };
            let reason = if details.is_empty() {
                message.to_string()
            } else {
                format!("{message}: {details}")
            };
            if text.contains("не найден") || text.contains("not found") {
                return Outcome::Err(EdoError::rejected("not_found", reason));
            }
            return Outcome::Err(EdoError::rejected(format!("sbis_{code}"), reason));
        }
        if status != 200 {
            return Outcome::Err(super::error_for_status(status, &headers, &text));
        }
        Outcome::Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    async fn login(&self) -> Result<String, EdoError> {
        let url = format!("{}/auth/service/", self.config.base_url);
        let params =
            json!({ "Параметр": { "Логин": self.config.login, "Пароль": self.config.password } });
        match self.rpc(&url, None, "СБИС.Аутентифицировать", params).await {
            Outcome::Ok(Value::String(sid)) if !sid.is_empty() => Ok(sid),
            Outcome::Ok(_) => Err(EdoError::retry("SBIS login answered without a session id")),
            Outcome::Unauthorised => Err(EdoError::Config(
                "SBIS refused the login and password".into(),
            )),
            Outcome::Err(EdoError::Rejected { reason, .. }) => Err(EdoError::Config(format!(
                "SBIS refused the login: {reason}"
            ))),
            Outcome::Err(e) => Err(e),
        }
    }

    /// The current session id, logging in when there is none.
    async fn session(&self, stale: Option<&str>) -> Result<String, EdoError> {
        let mut session = self.session.lock().await;
        if let Some(sid) = session.as_deref()
            && Some(sid) != stale
        {
            return Ok(sid.to_string());
        }
        let sid = self.login().await?;
        *session = Some(sid.clone());
        Ok(sid)
    }

    /// A service method, logging in again once if the session has expired.
    async fn call(&self, method: &str, params: Value) -> Result<Value, EdoError> {
        let url = format!("{}/service/?srv=1", self.config.base_url);
        let sid = self.session(None).await?;
        match self
            .rpc(&url, Some(sid.as_str()), method, params.clone())
            .await
        {
            Outcome::Ok(v) => Ok(v),
            Outcome::Err(e) => Err(e),
            Outcome::Unauthorised => {
                let sid = self.session(Some(sid.as_str())).await?;
                match self.rpc(&url, Some(sid.as_str()), method, params).await {
                    Outcome::Ok(v) => Ok(v),
                    Outcome::Err(e) => Err(e),
                    Outcome::Unauthorised => Err(EdoError::Config(format!(
                        "SBIS refuses {method} right after a fresh login"
                    ))),
                }
            }
        }
    }

    /// A file: inline, or fetched by its link with our session.
    async fn file(&self, file: &Value) -> Result<Vec<u8>, EdoError> {
        if let Some(data) = file
            .get("ДвоичныеДанные")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            return BASE64
                .decode(data)
                .map_err(|e| EdoError::retry(format!("SBIS file is not base64: {e}")));
        }
        let link = file
            .get("Ссылка")
            .and_then(Value::as_str)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| EdoError::retry("SBIS gave a file with neither content nor link"))?;
        let sid = self.session(None).await?;
        let response = self
            .client
            .get(link)
            .header("X-SBISSessionID", &sid)
            .send()
            .await
            .map_err(EdoError::from_http)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(EdoError::from_http)?;
        if status != 200 {
            return Err(super::error_for_status(
                status,
                &headers,
                &String::from_utf8_lossy(&bytes),
            ));
        }
        Ok(bytes.to_vec())
    }

    /// `ПрочитатьДокумент`, `None` for a document SBIS does not know.
    async fn read(&self, id: &str) -> Result<Option<Value>, EdoError> {
        match self
            .call(
                "СБИС.ПрочитатьДокумент",
                json!({ "Документ": { "Идентификатор": id } }),
            )
            .await
        {
            Ok(doc) if doc.is_null() => Ok(None),
            Ok(doc) => Ok(Some(doc)),
            Err(EdoError::Rejected { code, .. }) if code == "not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn action(&self) -> Value {
        let mut action = json!({ "Название": "Отправить" });
        if let Some(thumbprint) = &self.config.cert_thumbprint {
            action["Сертификат"] = json!({ "Отпечаток": thumbprint });
        }
        action
    }
}

/// Our document id at SBIS for an idempotency key: the key itself when it is
/// a UUID, else a UUID (version 8, "custom") made of the key's SHA-256 — the
/// same for every attempt, different for every key.
pub fn document_id_for(key: &str) -> String {
    let k = key.trim();
    let is_uuid = k.len() == 36
        && k.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if is_uuid {
        return k.to_ascii_lowercase();
    }
    let digest = Sha256::digest(k.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An organisation as SBIS names it, from `ИНН` or `ИНН/КПП`.
fn organisation(box_id: &str) -> Value {
    let mut parts = box_id.trim().splitn(2, '/');
    let inn = parts.next().unwrap_or_default().trim();
    let kpp = parts.next().map(str::trim).filter(|k| !k.is_empty());
    if inn.len() == 12 {
        json!({ "СвФЛ": { "ИНН": inn } })
    } else {
        match kpp {
            Some(kpp) => json!({ "СвЮЛ": { "ИНН": inn, "КПП": kpp } }),
            None => json!({ "СвЮЛ": { "ИНН": inn } }),
        }
    }
}

fn inn_of(box_id: &str) -> &str {
    box_id.split('/').next().unwrap_or_default().trim()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// SBIS's `ДД.ММ.ГГГГ ЧЧ.ММ.СС`, Moscow time (UTC+3, no DST), as UTC.
fn moscow_time(s: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(s.trim(), "%d.%m.%Y %H.%M.%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s.trim(), "%d.%m.%Y %H:%M:%S"))
        .ok()?;
    Some((local - chrono::Duration::hours(3)).and_utc())
}

/// What an SBIS event name means for us.
fn kind_of(event: &Value) -> EdoEventKind {
    let name = str_of(event, "Название");
    let lower = name.to_lowercase();
    if lower.starts_with("утвержд") || lower.starts_with("подписан") {
        EdoEventKind::RecipientSigned
    } else if lower.starts_with("отклон") {
        let reason = [str_of(event, "Комментарий"), str_of(event, "Примечание")]
            .into_iter()
            .find(|s| !s.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_string();
        EdoEventKind::RecipientRejected { reason }
    } else if lower.starts_with("получ") || lower.starts_with("достав") {
        EdoEventKind::Delivered
    } else {
        EdoEventKind::Other(name.to_string())
    }
}

#[async_trait]
impl EdoOperator for Sbis {
    fn provider(&self) -> &'static str {
        "sbis"
    }

    fn our_box(&self) -> &str {
        &self.config.box_id
    }

    async fn post(&self, doc: &OutgoingDocument) -> Result<Posted, EdoError> {
        if doc.idempotency_key.trim().is_empty() {
            return Err(EdoError::rejected(
                "no_key",
                "an idempotency key is required",
            ));
        }
        let id = document_id_for(&doc.idempotency_key);
        let attachment_id = document_id_for(&format!("{}#pdf", doc.idempotency_key));
        let posted = Posted {
            message_id: id.clone(),
            document_id: attachment_id.clone(),
        };
        if let Some(existing) = self.read(&id).await? {
            let still_to_send = list(&existing, "Этап")
                .iter()
                .any(|stage| str_of(stage, "Название") == "Отправка");
            if !still_to_send {
                return Ok(posted);
            }
        } else {
            self.call(
                "СБИС.ЗаписатьДокумент",
                json!({ "Документ": {
                    "Идентификатор": id,
                    "Тип": self.config.doc_type,
                    "Номер": doc.number,
                    "Дата": doc.date.format("%d.%m.%Y").to_string(),
                    "Примечание": doc.title,
                    "НашаОрганизация": organisation(&doc.from_box),
                    "Контрагент": organisation(&doc.to_box),
                    "Вложение": [{
                        "Идентификатор": attachment_id,
                        "Файл": { "Имя": doc.file_name, "ДвоичныеДанные": BASE64.encode(&doc.pdf) },
                    }],
                }}),
            )
            .await?;
        }
        let prepared = self
            .call(
                "СБИС.ПодготовитьДействие",
                json!({ "Документ": {
                    "Идентификатор": id,
                    "Этап": { "Название": "Отправка", "Действие": self.action() },
                }}),
            )
            .await?;
        let mut attachments = Vec::new();
        for attachment in list(&prepared, "Вложение") {
            let attachment_id = str_of(attachment, "Идентификатор").to_string();
            let file = attachment.get("Файл").cloned().unwrap_or(Value::Null);
            // SBIS may rewrite a file it prepares; then its version is what
            // the signature must cover.
            let content = if str_of(attachment, "Модифицирован") == "Да" {
                self.file(&file).await?
            } else {
                doc.pdf.clone()
            };
            match self.signer.sign(&doc.idempotency_key, &content).await? {
                Signature::Detached(cms) => attachments.push(json!({
                    "Идентификатор": attachment_id,
                    "Подпись": [{ "Файл": {
                        "Имя": format!("{}.sgn", str_of(&file, "Имя")),
                        "ДвоичныеДанные": BASE64.encode(cms),
                    }}],
                })),
                Signature::OperatorTest => {}
            }
        }
        let mut stage = json!({ "Название": "Отправка", "Действие": self.action() });
        if !attachments.is_empty() {
            stage["Вложение"] = Value::Array(attachments);
        }
        self.call(
            "СБИС.ВыполнитьДействие",
            json!({ "Документ": { "Идентификатор": id, "Этап": stage } }),
        )
        .await?;
        Ok(posted)
    }

    async fn events(&self, box_id: &str, after: Option<&str>) -> Result<EventPage, EdoError> {
        let mut filter = json!({
            "НашаОрганизация": organisation(box_id),
            "Навигация": { "РазмерСтраницы": EVENTS_PAGE.to_string() },
        });
        if let Some(after) = after {
            filter["ИдентификаторСобытия"] = json!(after);
        }
        let result = self
            .call("СБИС.СписокИзменений", json!({ "Фильтр": filter }))
            .await?;
        let mut events = Vec::new();
        let mut next_cursor = after.map(str::to_string);
        let mut seen = std::collections::HashSet::new();
        for document in list(&result, "Документ") {
            let message_id = str_of(document, "Идентификатор").to_string();
            let document_attachment = list(document, "Вложение")
                .first()
                .map(|a| str_of(a, "Идентификатор").to_string())
                .unwrap_or_default();
            for event in list(document, "Событие") {
                let event_id = str_of(event, "Идентификатор").to_string();
                if event_id.is_empty() {
                    continue;
                }
                next_cursor = Some(event_id.clone());
                if !seen.insert(event_id.clone()) {
                    continue;
                }
                let document_id = list(event, "Вложение")
                    .first()
                    .map(|a| str_of(a, "Идентификатор").to_string())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| document_attachment.clone());
                events.push(EdoEvent {
                    event_id,
                    message_id: message_id.clone(),
                    document_id,
                    kind: kind_of(event),
                    at: moscow_time(str_of(event, "ДатаВремя")).unwrap_or_else(Utc::now),
                });
            }
        }
        let has_more = result
            .pointer("/Навигация/ЕстьЕще")
            .and_then(Value::as_str)
            .is_some_and(|s| s == "Да");
        Ok(EventPage {
            events,
            next_cursor,
            has_more,
        })
    }

    async fn signed_copy(&self, box_id: &str, posted: &Posted) -> Result<SignedCopy, EdoError> {
        let document = self
            .read(&posted.message_id)
            .await?
            .ok_or_else(|| EdoError::rejected("not_found", "SBIS does not know the document"))?;
        let attachments = list(&document, "Вложение");
        let attachment = attachments
            .iter()
            .find(|a| str_of(a, "Идентификатор") == posted.document_id)
            .or_else(|| attachments.first())
            .ok_or_else(|| EdoError::rejected("not_found", "the document has no attachment"))?;
        let content = self
            .file(attachment.get("Файл").unwrap_or(&Value::Null))
            .await?;
        let our_inn = inn_of(box_id);
        let mut our_signature = None;
        let mut their_signature = None;
        for signature in list(attachment, "Подпись") {
            let inn = signature
                .pointer("/Сертификат/ИНН")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let bytes = self
                .file(signature.get("Файл").unwrap_or(&Value::Null))
                .await?;
            if inn == our_inn {
                our_signature.get_or_insert(bytes);
            } else {
                their_signature.get_or_insert(bytes);
            }
        }
        Ok(SignedCopy {
            content,
            our_signature: our_signature
                .ok_or_else(|| EdoError::retry("our signature is not on the document yet"))?,
            their_signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_are_stable_uuids() {
        let a = document_id_for("order:17:post_work_order:0");
        assert_eq!(a, document_id_for("order:17:post_work_order:0"));
        assert_ne!(a, document_id_for("order:18:post_work_order:0"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8");
        let uuid = "BA8E24E2-A08A-11E7-AE0F-005056B7582B";
        assert_eq!(document_id_for(uuid), uuid.to_ascii_lowercase());
    }

    #[test]
    fn organisations() {
        assert_eq!(
            organisation("7707083893/773601001"),
            json!({ "СвЮЛ": { "ИНН": "7707083893", "КПП": "773601001" } })
        );
        assert_eq!(
            organisation("500301234503"),
            json!({ "СвФЛ": { "ИНН": "500301234503" } })
        );
        assert_eq!(inn_of("7707083893/773601001"), "7707083893");
    }

    #[test]
    fn times_are_moscow() {
        assert_eq!(
            moscow_time("03.12.2026 12.30.00").unwrap().to_rfc3339(),
            "2026-12-03T09:30:00+00:00"
        );
        assert_eq!(moscow_time("nonsense"), None);
    }

    #[test]
    fn event_names() {
        assert_eq!(
            kind_of(&json!({"Название": "Утверждение"})),
            EdoEventKind::RecipientSigned
        );
        assert_eq!(
            kind_of(&json!({"Название": "Отклонение", "Комментарий": " Не та сумма "})),
            EdoEventKind::RecipientRejected {
                reason: "Не та сумма".into()
            }
        );
        assert_eq!(
            kind_of(&json!({"Название": "Получение"})),
            EdoEventKind::Delivered
        );
        assert_eq!(
            kind_of(&json!({"Название": "Отправка"})),
            EdoEventKind::Other("Отправка".into())
        );
    }
}
