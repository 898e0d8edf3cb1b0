//! Telegram through the Bot API: `POST {api}/bot{token}/sendMessage` with
//! `{"chat_id", "text"}`, answered by `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`.
//!
//! The text is sent without `parse_mode`, so nothing in it is markup. 400
//! (chat not found, text rejected) and 403 (the user blocked the bot) are
//! permanent; 429 is retried no sooner than `retry_after`; anything else —
//! 5xx, timeouts, a wrong token (401/404) — is retried.
//!
//! **No idempotency.** `sendMessage` has no idempotency key and Telegram
//! does not deduplicate: the message's
//! [`idempotency_key`](OutgoingMessage::idempotency_key) has nowhere to go.
//! If Telegram delivered a message but its answer was lost (a timeout), the
//! retry posts it again and the person sees it twice. We accept that rather
//! than lose messages.
//!
//! [`TelegramInbox`] reads what people write to the bot (`getUpdates`, long
//! polling): how a person links their chat by `/start <token>`.

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

/// A text message someone wrote to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramUpdate {
    pub update_id: i64,
    pub chat_id: i64,
    pub text: String,
}

#[derive(Debug, Deserialize)]
struct UpdatesReply {
    ok: bool,
    #[serde(default)]
    result: Vec<RawUpdate>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawUpdate {
    update_id: i64,
    #[serde(default)]
    message: Option<RawMessage>,
}

#[derive(Debug, Deserialize)]
struct RawMessage {
    chat: RawChat,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawChat {
    id: i64,
}

/// Reads the bot's incoming messages with `getUpdates`. Telegram keeps an
/// update until a later call passes an `offset` past it, so a restart
/// re-reads at most the last batch.
pub struct TelegramInbox {
    client: reqwest::Client,
    config: TelegramConfig,
}

impl TelegramInbox {
    pub fn new(config: &TelegramConfig) -> Result<TelegramInbox, ConfigError> {
        // Long polling holds the request open for up to `wait`.
        let client = reqwest::Client::builder()
            .timeout(config.timeout + Duration::from_secs(60))
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_TELEGRAM_API", e))?;
        Ok(TelegramInbox {
            client,
            config: config.clone(),
        })
    }

    /// Updates from `offset` on, waiting up to `wait` for the first one.
    /// Non-text updates are skipped (but still counted by `update_id`).
    pub async fn updates(
        &self,
        offset: i64,
        wait: Duration,
    ) -> Result<(Vec<TelegramUpdate>, i64), String> {
        let url = format!(
            "{}/bot{}/getUpdates",
            self.config.api_url, self.config.token
        );
        let response = self
            .client
            .post(url)
            .json(&json!({ "offset": offset, "timeout": wait.as_secs(), "allowed_updates": ["message"] }))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        let reply: UpdatesReply = response
            .json()
            .await
            .map_err(|e| format!("telegram {status}: {}", e.without_url()))?;
        if !reply.ok {
            return Err(format!(
                "telegram {status}: {}",
                reply.description.unwrap_or_default()
            ));
        }
        let next = reply
            .result
            .iter()
            .map(|u| u.update_id + 1)
            .max()
            .unwrap_or(offset);
        let updates = reply
            .result
            .into_iter()
            .filter_map(|u| {
                let m = u.message?;
                Some(TelegramUpdate {
                    update_id: u.update_id,
                    chat_id: m.chat.id,
                    text: m.text?,
                })
            })
            .collect();
        Ok((updates, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Channel;

    fn msg(subject: &str, body: &str) -> OutgoingMessage {
        OutgoingMessage {
            id: 1,
            idempotency_key: "notification-1-0".into(),
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
