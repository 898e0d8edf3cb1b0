//! Linking a person's Telegram chat through the bot, so that notifications
//! reach them there ([`crate::notify::tell`]).
//!
//! The account page gives a one-time link `https://t.me/<bot>?start=<token>`
//! (valid for a day). Pressing "Start" in Telegram sends the bot
//! `/start <token>`; [`poll`] reads it, spends the token and stores the
//! chat for the person the token was issued to, then confirms in the chat.
//! Nobody types a chat id, and a chat cannot be attached to someone else:
//! the token is the proof.

use std::time::Duration;

use connectors::notify::telegram::TelegramInbox;
use serde_json::{Value, json};

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::notify::{self, NewNotification};
use crate::services::Services;
use crate::{access::audit, accounts::tokens, args};

/// The purpose of the linking tokens.
pub const TOKEN_PURPOSE: &str = "telegram_link";

/// A fresh link for the signed-in person to open in Telegram.
pub async fn link_url(s: &Services, actor: &Actor, bot: &str) -> DomainResult<String> {
    let mut tx = s.db.begin().await?;
    let token = tokens::issue(
        &mut tx,
        s.db.now(),
        TOKEN_PURPOSE,
        Some(actor.user_id()),
        &json!({"user_id": actor.user_id()}),
        chrono::Duration::days(1),
    )
    .await?;
    tx.commit().await?;
    Ok(format!("https://t.me/{bot}?start={token}"))
}

/// Handles one message to the bot: `/start <token>` links the chat to the
/// token's person. Returns that person, or `None` for anything else (an
/// unknown, spent or expired token is answered in the chat).
pub async fn handle(s: &Services, chat_id: i64, text: &str) -> DomainResult<Option<i64>> {
    let Some(token) = text
        .trim()
        .strip_prefix("/start")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let user = tokens::consume(&mut tx, now, TOKEN_PURPOSE, token)
        .await?
        .and_then(|(_, payload)| payload.get("user_id").and_then(Value::as_i64));
    let key = match user {
        Some(user_id) => {
            sqlx::query("UPDATE users SET telegram_chat_id = $1 WHERE id = $2")
                .bind(chat_id.to_string())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut tx,
                now,
                None,
                "user.telegram_linked",
                "user",
                Some(user_id),
                json!({"chat_id": chat_id}),
            )
            .await?;
            "mail-telegram-linked"
        }
        None => "mail-telegram-link-invalid",
    };
    let a = args![];
    notify::enqueue(
        &mut tx,
        now,
        NewNotification {
            channel: "telegram".into(),
            recipient: chat_id.to_string(),
            user_id: user,
            subject: s.texts.text(&format!("{key}-subject"), &a),
            body: s.texts.text(&format!("{key}-body"), &a),
        },
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(user)
}

/// Reads the bot's messages from `offset` on (waiting up to `wait` for the
/// first), handles each, and returns the offset to read from next.
pub async fn poll(
    s: &Services,
    inbox: &TelegramInbox,
    offset: i64,
    wait: Duration,
) -> DomainResult<i64> {
    let (updates, next) = inbox
        .updates(offset, wait)
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("telegram: {e}")))?;
    for u in updates {
        if let Err(e) = handle(s, u.chat_id, &u.text).await {
            tracing::warn!(error = %e, chat = u.chat_id, "a message to the bot was not handled");
        }
    }
    Ok(next)
}
