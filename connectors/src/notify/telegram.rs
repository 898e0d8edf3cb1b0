//! Telegram through the Bot API: `POST {api}/bot{token}/sendMessage` with
//! `{"chat_id", "text"}`, answered by `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`.
//!
//! The text is sent without `parse_mode`, so nothing in it is markup. 400
//! (chat not found, text rejected) and 403 (the user blocked the bot) are
//! permanent; 429 is retried no sooner than `retry_after`; anything else —
//! 5xx, timeouts, a wrong token (401/404) — is retried.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{DeliveryError, OutgoingMessage, Transport};
use crate::config::{ConfigError, TelegramConfig};

/// Telegram's limit on a message's length, in characters.
const MAX_CHARS: usize = 4096;

/// The Telegram bot adapter.
pub struct TelegramTransport {
    client: reqwest::Client,
    config: TelegramConfig,
}

#[derive(Debug, Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

impl TelegramTransport {
    pub fn new(config: &TelegramConfig) -> Result<TelegramTransport, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_TELEGRAM_API", e))?;
        Ok(TelegramTransport {
            client,
            config: config.clone(),
        })
    }
}

/// Subject and body as one text, cut to Telegram's limit.
fn text_of(message: &OutgoingMessage) -> String {
    let text = match (message.subject.trim(), message.body.trim()) {
        ("", body) => body.to_string(),
        (subject, "") => subject.to_string(),
        (subject, body) => format!("{subject}\n\n{body}"),
    };
    if text.chars().count() <= MAX_CHARS {
        text
    } else {
        let mut cut: String = text.chars().take(MAX_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

#[async_trait]
impl Transport for TelegramTransport {
    fn name(&self) -> &'static str {
        "telegram"
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<(), DeliveryError> {
        let chat_id = message.recipient.trim();
        if chat_id.is_empty() {
            return Err(DeliveryError::permanent("empty chat id"));
        }
        let url = format!(
            "{}/bot{}/sendMessage",
            self.config.api_url, self.config.token
        );
        let response = self
            .client
            .post(url)
            .json(&json!({ "chat_id": chat_id, "text": text_of(message) }))
            .send()
            .await
            // The URL holds the token: never log reqwest's error with it.
            .map_err(|e| DeliveryError::from_http(&e.without_url()))?;
        let status = response.status();
        let reply: Option<Reply> = response.json().await.ok();
        if status.is_success() && reply.as_ref().is_some_and(|r| r.ok) {
            return Ok(());
        }
        let (code, description, retry_after) = match reply {
            Some(r) => (
                r.error_code.unwrap_or(status.as_u16()),
                r.description.unwrap_or_default(),
                r.parameters.and_then(|p| p.retry_after),
            ),
            None => (status.as_u16(), String::new(), None),
        };
        let reason = format!("telegram {code}: {description}");
        match code {
            400 | 403 => Err(DeliveryError::permanent(reason)),
            _ => Err(DeliveryError::Temporary {
                reason,
                retry_after: retry_after.map(Duration::from_secs),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Channel;

    fn msg(subject: &str, body: &str) -> OutgoingMessage {
        OutgoingMessage {
            id: 1,
            created_at: 0,
            channel: Channel::Telegram,
            recipient: "1".into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    #[test]
    fn text_joins_subject_and_body_and_respects_the_limit() {
        assert_eq!(text_of(&msg("Тема", "Текст")), "Тема\n\nТекст");
        assert_eq!(text_of(&msg("", "Текст")), "Текст");
        assert_eq!(text_of(&msg("Тема", " ")), "Тема");
        let long = text_of(&msg("", &"я".repeat(5000)));
        assert_eq!(long.chars().count(), MAX_CHARS);
        assert!(long.ends_with('…'));
    }
}
