//! SMS through an HTTP gateway in the style of SMS.ru.
//!
//! The request is `POST {base}/sms/send` with a form body `api_id`, `to`
//! (digits only, `79161234567`), `msg`, `json=1` and optionally `from` (an
//! approved sender name). The answer is JSON:
//!
//! ```json
//! {"status": "OK", "status_code": 100,
//!  "sms": {"79161234567": {"status": "OK", "status_code": 100, "sms_id": "000-1"}}}
//! ```
//!
//! A top-level `"status": "ERROR"` (wrong `api_id`, no money, service
//! trouble) is retried — it is about our account, not the message. A
//! per-number error is permanent when the number itself is the problem
//! (codes 202 invalid number, 207 no route, 209 number on the stop list) or
//! the text is (203 empty, 205 too long), and retried otherwise (daily
//! limits, temporary unavailability). Any gateway that speaks this shape
//! works; for another shape, write another [`Transport`].
//!
//! **No idempotency.** `sms/send` takes no idempotency key and does not
//! deduplicate: the message's [`idempotency_key`](OutgoingMessage::idempotency_key)
//! has nowhere to go. If the gateway accepted an SMS but its answer was
//! lost (a timeout after sending), the retry sends a second SMS. We accept
//! that: our texts are short notices, and a duplicate costs one SMS, while
//! not retrying would lose messages. (SMS.ru's own `sms_id` comes back only
//! in the answer that was lost, so it cannot be used to check either.)

use std::collections::HashMap;

use async_trait::async_trait;
use serde::Deserialize;

use super::{DeliveryError, OutgoingMessage, Transport};
use crate::config::{ConfigError, SmsConfig};

/// Per-number status codes after which retrying cannot help.
const PERMANENT_CODES: [i64; 5] = [202, 203, 205, 207, 209];

/// The SMS gateway adapter.
pub struct SmsGatewayTransport {
    client: reqwest::Client,
    config: SmsConfig,
}

#[derive(Debug, Deserialize)]
struct Reply {
    status: String,
    #[serde(default)]
    status_code: Option<i64>,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    sms: HashMap<String, NumberReply>,
}

#[derive(Debug, Deserialize)]
struct NumberReply {
    status: String,
    #[serde(default)]
    status_code: Option<i64>,
    #[serde(default)]
    status_text: Option<String>,
}

impl SmsGatewayTransport {
    pub fn new(config: &SmsConfig) -> Result<SmsGatewayTransport, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_SMS_URL", e))?;
        Ok(SmsGatewayTransport {
            client,
            config: config.clone(),
        })
    }
}

#[async_trait]
impl Transport for SmsGatewayTransport {
    fn name(&self) -> &'static str {
        "sms"
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<(), DeliveryError> {
        let to: String = message
            .recipient
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if to.len() < 10 {
            return Err(DeliveryError::permanent(format!(
                "bad phone number {:?}",
                message.recipient
            )));
        }
        let text = if message.body.trim().is_empty() {
            &message.subject
        } else {
            &message.body
        };
        let mut form = vec![
            ("api_id", self.config.api_id.as_str()),
            ("to", to.as_str()),
            ("msg", text.as_str()),
            ("json", "1"),
        ];
        if let Some(sender) = &self.config.sender {
            form.push(("from", sender.as_str()));
        }
        let response = self
            .client
            .post(format!("{}/sms/send", self.config.base_url))
            .form(&form)
            .send()
            .await
            .map_err(|e| DeliveryError::from_http(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(DeliveryError::temporary(format!(
                "sms gateway: HTTP {status}"
            )));
        }
        let reply: Reply = response.json().await.map_err(|e| {
            DeliveryError::temporary(format!("sms gateway: unreadable answer: {e}"))
        })?;
        if reply.status != "OK" {
            return Err(DeliveryError::temporary(format!(
                "sms gateway: {} {}",
                reply.status_code.unwrap_or_default(),
                reply.status_text.unwrap_or_default()
            )));
        }
        match reply.sms.get(&to) {
            Some(n) if n.status == "OK" => Ok(()),
            Some(n) => {
                let code = n.status_code.unwrap_or_default();
                let reason = format!(
                    "sms gateway: {code} {}",
                    n.status_text.clone().unwrap_or_default()
                );
                if PERMANENT_CODES.contains(&code) {
                    Err(DeliveryError::permanent(reason))
                } else {
                    Err(DeliveryError::temporary(reason))
                }
            }
            // Accepted overall without a per-number entry: treat as sent.
            None => Ok(()),
        }
    }
}
