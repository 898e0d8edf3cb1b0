//! Kontur.Diadoc's HTTP API, in JSON (`Content-Type`/`Accept:
//! application/json`; `bytes` fields are base64, times are .NET ticks).
//!
//! - **Authentication**: OpenID Connect. A token from `token_url`
//!   (`identity.kontur.ru/connect/token`, form-encoded) by the refresh token
//!   when one is configured or was handed out, else the password grant (a
//!   Diadoc user) or the client credentials grant; every call sends
//!   `Authorization: Bearer <access_token>`. The token is cached, renewed
//!   before it expires, and renewed once more when the API answers 401.
//!   The legacy `DiadocAuth ddauth_api_client_id=…, ddauth_token=…` scheme
//!   is deprecated and not implemented.
//! - **Posting**: `POST /V3/PostMessage?operationId=<idempotency key>` with a
//!   `MessageToPost` of one `DocumentAttachment` (`TypeNamedId:
//!   "Nonformalized"`, metadata `FileName`, `DocumentNumber`,
//!   `DocumentDate` dd.MM.yyyy, `NeedRecipientSignature`, `CustomDocumentId`
//!   = the key). Diadoc deduplicates by `operationId`: the same key returns
//!   the same `Message`. 204 with `Retry-After` means "still processing,
//!   ask again with the same operationId" and is a [`EdoError::Retry`].
//!   Documents above [`DiadocConfig::shelf_threshold`] are put on the shelf
//!   first (`POST /V2/ShelfUpload` up to [`SHELF_PART`], else
//!   `/ShelfUploadPartInit` + `/ShelfUploadPart` in [`SHELF_PART`] chunks)
//!   and posted as `SignedContent.NameOnShelf`. A 409 is looked into by
//!   `GET /V3/GetDocumentsByCustomId?boxId&customDocumentId=<the key>`: a
//!   document of this key in our box means an earlier post succeeded (its
//!   ids are returned); none, and the 409 is a refusal.
//! - **Events**: `GET /V8/GetNewEvents?boxId&afterIndexKey` → `BoxEventList
//!   {Events[{EventId, IndexKey, Message | Patch}], TotalCount}`; the cursor
//!   is the last event's `IndexKey`. A recipient's answer is a child of our
//!   document (`ParentEntityId` = its `EntityId`): a `Signature` entity by
//!   another box is their signature; an attachment `SignatureRequestRejection`
//!   (8) or `XmlSignatureRejection` (28) is a refusal, whose text is read by
//!   `GET /V4/GetEntityContent` when the event does not carry it. A patch with
//!   `MessageIsDelivered` is the delivery.
//! - **Signed copy**: `GET /V6/GetMessage?boxId&messageId&entityId
//!   &originalSignature=true&injectEntityContent=true`; the document's
//!   `Content.Data` plus the `Signature` children split by `SignerBoxId`.
//!
//! Checked against Kontur's published documentation (developer.kontur.ru /
//! the `diadocapi-docs` repository): the paths and parameters above, the
//! `Entity` fields, `Content_v3`/`SignedContent` with `NameOnShelf` and
//! `SignWithTestSignature`, the shelf methods and their part sizes, the 204
//! semantics, `BoxEvent {EventId, Message | Patch, IndexKey}` and
//! `BoxEventList.TotalCount` (all new events after the cursor; without it a
//! full page of 100 is taken as "more"). Not verified: whether JSON enums
//! come as names or numbers (both are accepted), the layout of an XML
//! rejection's reason
//! (`ТекстУведУточ` is read when present, else the text as is), and whether
//! `Nonformalized` needs `Function`/`Version` (none are sent).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::oauth::TokenSource;
use super::signer::{Signature, Signer};
use super::{
    EdoError, EdoEvent, EdoEventKind, EdoOperator, EventPage, OutgoingDocument, Posted, SignedCopy,
};
use crate::config::{ConfigError, DiadocConfig, DiadocGrant};

/// The shelf's part size: Kontur documents 512 KB (older pages) and 3 MB
/// (newer ones) as the most per part; 512 KB suits both.
pub const SHELF_PART: usize = 512 * 1024;

/// `GetNewEvents` returns at most this many events per call.
const EVENTS_PAGE: usize = 100;

/// Diadoc's `EntityType`.
const ENTITY_ATTACHMENT: (i64, &str) = (1, "Attachment");
const ENTITY_SIGNATURE: (i64, &str) = (2, "Signature");
/// Diadoc's `AttachmentType` of a refusal to sign.
const SIGNATURE_REQUEST_REJECTION: (i64, &str) = (8, "SignatureRequestRejection");
const XML_SIGNATURE_REJECTION: (i64, &str) = (28, "XmlSignatureRejection");

/// The Diadoc adapter.
pub struct Diadoc {
    client: reqwest::Client,
    config: DiadocConfig,
    token: TokenSource,
    signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for Diadoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diadoc")
            .field("config", &self.config)
            .field("signer", &self.signer.name())
            .finish()
    }
}

/// A request to the API, rebuilt for a second try after a 401.
enum Body<'a> {
    None,
    Json(&'a Value),
    Bytes(&'a [u8]),
}

impl Diadoc {
    pub fn new(config: DiadocConfig, signer: Arc<dyn Signer>) -> Result<Diadoc, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_DIADOC_URL", e))?;
        let client_fields = vec![
            ("client_id", config.client_id.clone()),
            ("client_secret", config.client_secret.clone()),
        ];
        let mut grant = match &config.grant {
            DiadocGrant::ClientCredentials => {
                vec![("grant_type", "client_credentials".to_string())]
            }
            DiadocGrant::Password { login, password } => vec![
                ("grant_type", "password".to_string()),
                ("username", login.clone()),
                ("password", password.clone()),
            ],
        };
        grant.extend(client_fields.iter().cloned());
        grant.push(("scope", config.scope.clone()));
        let token = TokenSource::new(
            client.clone(),
            config.token_url.clone(),
            grant,
            client_fields,
            config.refresh_token.clone(),
        );
        Ok(Diadoc {
            client,
            config,
            token,
            signer,
        })
    }

    /// One API call with the bearer token; a 401 renews the token and tries
    /// once more. Returns the status, headers and body of the answer.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), EdoError> {
        // Query values (an `IndexKey`, a shelf name) are percent-encoded.
        let url = url::Url::parse_with_params(&format!("{}{path}", self.config.base_url), query)
            .map_err(|e| EdoError::Config(format!("PODRYAD_DIADOC_URL is unusable: {e}")))?;
        let mut token = self.token.token().await?;
        for attempt in 0..2 {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .bearer_auth(&token)
                .header(reqwest::header::ACCEPT, "application/json");
            request = match &body {
                Body::None => request,
                Body::Json(v) => request.json(v),
                Body::Bytes(b) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(b.to_vec()),
            };
            let response = request.send().await.map_err(EdoError::from_http)?;
            let status = response.status().as_u16();
            if status == 401 && attempt == 0 {
                token = self.token.renew_after_rejection(&token).await?;
                continue;
            }
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(EdoError::from_http)?;
            return Ok((status, headers, bytes.to_vec()));
        }
        unreachable!("the loop returns on its second pass")
    }

    /// A call whose success is 200 with a JSON body.
    async fn call_json(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Value, EdoError> {
        let (status, headers, bytes) = self.call(method, path, query, body).await?;
        if status != 200 {
            return Err(error_for(status, &headers, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| EdoError::retry(format!("Diadoc answered with bad JSON: {e}")))
    }

    /// Puts `content` on the shelf and returns its name there.
    async fn shelve(&self, content: &[u8]) -> Result<String, EdoError> {
        let name_of = |status: u16, headers: &reqwest::header::HeaderMap, bytes: &[u8]| {
            if status != 200 {
                return Err(error_for(status, headers, bytes));
            }
            // A plain string, or the same as a JSON string.
            let text = String::from_utf8_lossy(bytes);
            let name = text.trim().trim_matches('"').to_string();
            if name.is_empty() {
                return Err(EdoError::retry("ShelfUpload returned no name"));
            }
            Ok(name)
        };
        let ext = [("fileExtension", ".pdf")];
        if content.len() <= SHELF_PART {
            let (status, headers, bytes) = self
                .call(
                    reqwest::Method::POST,
                    "/V2/ShelfUpload",
                    &ext,
                    Body::Bytes(content),
                )
                .await?;
            return name_of(status, &headers, &bytes);
        }
        let parts: Vec<&[u8]> = content.chunks(SHELF_PART).collect();
        let (status, headers, bytes) = self
            .call(
                reqwest::Method::POST,
                "/ShelfUploadPartInit",
                &[("fileExtension", ".pdf"), ("isLastPart", "false")],
                Body::Bytes(parts[0]),
            )
            .await?;
        let name = name_of(status, &headers, &bytes)?;
        for (index, part) in parts.iter().enumerate().skip(1) {
            let last = if index + 1 == parts.len() {
                "true"
            } else {
                "false"
            };
            let index = index.to_string();
            let (status, headers, bytes) = self
                .call(
                    reqwest::Method::POST,
                    "/ShelfUploadPart",
                    &[
                        ("fileName", name.as_str()),
                        ("partIndex", index.as_str()),
                        ("isLastPart", last),
                    ],
                    Body::Bytes(part),
                )
                .await?;
            if status != 200 {
                return Err(error_for(status, &headers, &bytes));
            }
        }
        Ok(name)
    }

    /// The ids of the document we posted with `key` (our `CustomDocumentId`),
    /// for a post Diadoc refused as a duplicate (409): when the document is
    /// there, the post succeeded earlier.
    async fn posted_by_key(&self, box_id: &str, key: &str) -> Result<Option<Posted>, EdoError> {
        let list = self
            .call_json(
                reqwest::Method::GET,
                "/V3/GetDocumentsByCustomId",
                &[("boxId", box_id), ("customDocumentId", key)],
                Body::None,
            )
            .await?;
        Ok(list
            .get("Documents")
            .and_then(Value::as_array)
            .and_then(|docs| docs.first())
            .map(|d| Posted {
                message_id: str_of(d, "MessageId").to_string(),
                document_id: str_of(d, "EntityId").to_string(),
            })
            .filter(|p| !p.message_id.is_empty() && !p.document_id.is_empty()))
    }

    /// The text of a refusal entity: from the event, else fetched.
    async fn rejection_reason(&self, box_id: &str, message_id: &str, entity: &Value) -> String {
        let inline = entity
            .pointer("/Content/Data")
            .and_then(Value::as_str)
            .and_then(|d| BASE64.decode(d).ok());
        let bytes = match inline {
            Some(b) => Some(b),
            None => {
                let entity_id = str_of(entity, "EntityId");
                match self
                    .call(
                        reqwest::Method::GET,
                        "/V4/GetEntityContent",
                        &[
                            ("boxId", box_id),
                            ("messageId", message_id),
                            ("entityId", entity_id),
                        ],
                        Body::None,
                    )
                    .await
                {
                    Ok((200, _, bytes)) => Some(bytes.to_vec()),
                    // The reason is a courtesy: a refusal without its text
                    // is still a refusal.
                    _ => None,
                }
            }
        };
        bytes.map(|b| reason_text(&b)).unwrap_or_default()
    }
}

/// The error for a non-200 answer.
fn error_for(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> EdoError {
    let text = String::from_utf8_lossy(body);
    match status {
        // "Still processing this operationId": ask again, same key.
        204 => EdoError::Retry {
            reason: "Diadoc is still processing the request (204)".into(),
            after: super::retry_after(headers),
        },
        // The API subscription of the box has run out.
        402 => EdoError::Config(format!("Diadoc API subscription expired (402): {text}")),
        _ => super::error_for_status(status, headers, &text),
    }
}

/// Whether a JSON enum value (a number or a name) is `expected`.
fn is(value: Option<&Value>, expected: (i64, &str)) -> bool {
    match value {
        Some(Value::Number(n)) => n.as_i64() == Some(expected.0),
        Some(Value::String(s)) => {
            s.eq_ignore_ascii_case(expected.1) || s == &expected.0.to_string()
        }
        _ => false,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// .NET ticks (100 ns since 0001-01-01 UTC) as UTC; ticks may come as a
/// number or, from a 64-bit field in JSON, a string.
fn from_ticks(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let ticks = match v? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
    let micros = (ticks - UNIX_EPOCH_TICKS) / 10;
    DateTime::from_timestamp_micros(micros)
}

/// The reason typed by whoever refused: the text of `ТекстУведУточ` in an
/// XML rejection (DP_UVUTOCH), else the content as text.
fn reason_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if let Some(start) = text.find("<ТекстУведУточ>") {
        let rest = &text[start + "<ТекстУведУточ>".len()..];
        if let Some(end) = rest.find("</ТекстУведУточ>") {
            return rest[..end].trim().to_string();
        }
    }
    text.trim().to_string()
}

fn decode(v: Option<&Value>) -> Option<Vec<u8>> {
    v.and_then(Value::as_str)
        .and_then(|s| BASE64.decode(s).ok())
}

#[async_trait]
impl EdoOperator for Diadoc {
    fn provider(&self) -> &'static str {
        "diadoc"
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
        let mut signed = json!({});
        if doc.pdf.len() > self.config.shelf_threshold {
            signed["NameOnShelf"] = json!(self.shelve(&doc.pdf).await?);
        } else {
            signed["Content"] = json!(BASE64.encode(&doc.pdf));
        }
        match self.signer.sign(&doc.idempotency_key, &doc.pdf).await? {
            Signature::Detached(cms) => signed["Signature"] = json!(BASE64.encode(cms)),
            Signature::OperatorTest => signed["SignWithTestSignature"] = json!(true),
        }
        let message = json!({
            "FromBoxId": doc.from_box,
            "ToBoxId": doc.to_box,
            "DocumentAttachments": [{
                "SignedContent": signed,
                "TypeNamedId": "Nonformalized",
                "Comment": doc.title,
                "NeedRecipientSignature": doc.needs_recipient_signature,
                "CustomDocumentId": doc.idempotency_key,
                "Metadata": [
                    { "Key": "FileName", "Value": doc.file_name },
                    { "Key": "DocumentNumber", "Value": doc.number },
                    { "Key": "DocumentDate", "Value": doc.date.format("%d.%m.%Y").to_string() },
                ],
            }],
        });
        let (status, headers, bytes) = self
            .call(
                reqwest::Method::POST,
                "/V3/PostMessage",
                &[("operationId", doc.idempotency_key.as_str())],
                Body::Json(&message),
            )
            .await?;
        // A duplicate: the document of this key is already in our box. A 409
        // with no such document is a refusal like any other.
        if status == 409
            && let Some(posted) = self
                .posted_by_key(&doc.from_box, &doc.idempotency_key)
                .await?
        {
            return Ok(posted);
        }
        if status != 200 {
            return Err(error_for(status, &headers, &bytes));
        }
        let reply: Value = serde_json::from_slice(&bytes)
            .map_err(|e| EdoError::retry(format!("Diadoc answered with bad JSON: {e}")))?;
        let message_id = str_of(&reply, "MessageId").to_string();
        let document_id = reply
            .get("Entities")
            .and_then(Value::as_array)
            .and_then(|entities| {
                entities
                    .iter()
                    .find(|e| is(e.get("EntityType"), ENTITY_ATTACHMENT))
            })
            .map(|e| str_of(e, "EntityId").to_string())
            .unwrap_or_default();
        if message_id.is_empty() || document_id.is_empty() {
            return Err(EdoError::retry(
                "PostMessage answered without the message's ids",
            ));
        }
        Ok(Posted {
            message_id,
            document_id,
        })
    }

    async fn events(&self, box_id: &str, after: Option<&str>) -> Result<EventPage, EdoError> {
        let mut query = vec![("boxId", box_id)];
        if let Some(after) = after {
            query.push(("afterIndexKey", after));
        }
        let list = self
            .call_json(reqwest::Method::GET, "/V8/GetNewEvents", &query, Body::None)
            .await?;
        let raw = list
            .get("Events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut events = Vec::with_capacity(raw.len());
        let mut next_cursor = after.map(str::to_string);
        let mut seen = std::collections::HashSet::new();
        for event in &raw {
            let index_key = str_of(event, "IndexKey");
            if !index_key.is_empty() {
                next_cursor = Some(index_key.to_string());
            }
            let event_id = str_of(event, "EventId").to_string();
            // The same event twice on one page is dropped here; across pages
            // the caller's (provider, event id) key drops it.
            if event_id.is_empty() || !seen.insert(event_id.clone()) {
                continue;
            }
            let (body, is_patch) = match (event.get("Patch"), event.get("Message")) {
                (Some(p), _) if !p.is_null() => (p, true),
                (_, Some(m)) if !m.is_null() => (m, false),
                _ => continue,
            };
            let message_id = str_of(body, "MessageId").to_string();
            let entities = body
                .get("Entities")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let at = from_ticks(body.get("TimestampTicks"))
                .or_else(|| {
                    entities
                        .iter()
                        .find_map(|e| from_ticks(e.get("RawCreationDate")))
                })
                .unwrap_or_else(Utc::now);
            // The most telling thing in the event: a refusal, a signature by
            // someone else, a delivery; else our own message or noise.
            let rejection = entities.iter().find(|e| {
                is(e.get("EntityType"), ENTITY_ATTACHMENT)
                    && (is(e.get("AttachmentType"), SIGNATURE_REQUEST_REJECTION)
                        || is(e.get("AttachmentType"), XML_SIGNATURE_REJECTION))
            });
            let their_signature = entities.iter().find(|e| {
                is(e.get("EntityType"), ENTITY_SIGNATURE)
                    && !str_of(e, "ParentEntityId").is_empty()
                    && !str_of(e, "SignerBoxId").is_empty()
                    && str_of(e, "SignerBoxId") != box_id
            });
            let (kind, document_id) = if let Some(rejection) = rejection {
                let reason = self.rejection_reason(box_id, &message_id, rejection).await;
                (
                    EdoEventKind::RecipientRejected { reason },
                    str_of(rejection, "ParentEntityId").to_string(),
                )
            } else if let Some(signature) = their_signature {
                // A signature on a refusal belongs to the refusal above; this
                // one is under the document itself.
                (
                    EdoEventKind::RecipientSigned,
                    str_of(signature, "ParentEntityId").to_string(),
                )
            } else if is_patch
                && body.get("MessageIsDelivered").and_then(Value::as_bool) == Some(true)
            {
                (EdoEventKind::Delivered, String::new())
            } else if is_patch {
                (EdoEventKind::Other("patch".into()), String::new())
            } else {
                let document_id = entities
                    .iter()
                    .find(|e| is(e.get("EntityType"), ENTITY_ATTACHMENT))
                    .map(|e| str_of(e, "EntityId").to_string())
                    .unwrap_or_default();
                (EdoEventKind::Other("message".into()), document_id)
            };
            events.push(EdoEvent {
                event_id,
                message_id,
                document_id,
                kind,
                at,
            });
        }
        let total = list.get("TotalCount").and_then(Value::as_i64);
        let has_more = match total {
            Some(total) if total >= 0 => (raw.len() as i64) < total,
            _ => raw.len() >= EVENTS_PAGE,
        };
        Ok(EventPage {
            events,
            next_cursor,
            has_more,
        })
    }

    async fn signed_copy(&self, box_id: &str, posted: &Posted) -> Result<SignedCopy, EdoError> {
        let message = self
            .call_json(
                reqwest::Method::GET,
                "/V6/GetMessage",
                &[
                    ("boxId", box_id),
                    ("messageId", posted.message_id.as_str()),
                    ("entityId", posted.document_id.as_str()),
                    ("originalSignature", "true"),
                    ("injectEntityContent", "true"),
                ],
                Body::None,
            )
            .await?;
        let entities = message
            .get("Entities")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let document = entities
            .iter()
            .find(|e| str_of(e, "EntityId") == posted.document_id)
            .ok_or_else(|| EdoError::rejected("not_found", "the document is not in the message"))?;
        let content = decode(document.pointer("/Content/Data")).ok_or_else(|| {
            EdoError::retry("GetMessage returned the document without its content")
        })?;
        let from_box = str_of(&message, "FromBoxId");
        let ours_box = if from_box.is_empty() {
            box_id
        } else {
            from_box
        };
        let signatures: Vec<&Value> = entities
            .iter()
            .filter(|e| {
                is(e.get("EntityType"), ENTITY_SIGNATURE)
                    && str_of(e, "ParentEntityId") == posted.document_id
            })
            .collect();
        let our_signature = signatures
            .iter()
            .find(|e| str_of(e, "SignerBoxId") == ours_box)
            .and_then(|e| decode(e.pointer("/Content/Data")))
            .ok_or_else(|| EdoError::retry("our signature is not in the message yet"))?;
        let their_signature = signatures
            .iter()
            .find(|e| {
                let signer = str_of(e, "SignerBoxId");
                !signer.is_empty() && signer != ours_box
            })
            .and_then(|e| decode(e.pointer("/Content/Data")));
        Ok(SignedCopy {
            content,
            our_signature,
            their_signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_utc() {
        // 2026-12-03 00:00:00 UTC.
        let ticks = 621_355_968_000_000_000i64 + 1_796_256_000i64 * 10_000_000;
        let at = from_ticks(Some(&json!(ticks))).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-03T00:00:00+00:00");
        assert_eq!(from_ticks(Some(&json!(ticks.to_string()))), Some(at));
        assert_eq!(from_ticks(None), None);
    }

    #[test]
    fn enums_by_number_or_name() {
        assert!(is(Some(&json!(2)), ENTITY_SIGNATURE));
        assert!(is(Some(&json!("Signature")), ENTITY_SIGNATURE));
        assert!(!is(Some(&json!("Attachment")), ENTITY_SIGNATURE));
        assert!(!is(None, ENTITY_SIGNATURE));
    }

    #[test]
    fn rejection_reasons() {
        assert_eq!(reason_text("Неверная сумма".as_bytes()), "Неверная сумма");
        let xml = "<Файл><Документ><СвУведУточ><ТекстУведУточ>Не та дата</ТекстУведУточ></СвУведУточ></Документ></Файл>";
        assert_eq!(reason_text(xml.as_bytes()), "Не та дата");
    }
}
