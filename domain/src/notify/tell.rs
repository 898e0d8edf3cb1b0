//! Messages to people go through the notification outbox
//! ([`super::outbox`]), which the [`NotificationSender`](super::NotificationSender)
//! delivers through the transports of `connectors`.
//!
//! [`tell`] is the one rule of how a person is reached: by e-mail, or by SMS
//! when they have no e-mail; and in Telegram as well when they linked a chat
//! on their account page (dispatchers answer requests for quotes faster
//! there). With a channel not configured the message waits in the outbox,
//! which admins read. A person with a login also finds every message under
//! the bell in the application ([`super::in_app`]), written in the same
//! transaction.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::outbox::{NewNotification, enqueue};

use crate::services::Services;

/// A person to tell something, as [`RECIPIENT_COLUMNS`] read them from
/// `users u` (`id` is empty for a contact without a login).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Recipient {
    pub id: Option<i64>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub full_name: String,
    pub telegram_chat_id: Option<String>,
}

/// The columns of [`Recipient`] from `users u`.
pub const RECIPIENT_COLUMNS: &str = "u.id, u.email, u.phone, u.full_name, u.telegram_chat_id";

/// Queues the message `key` (texts `<key>-subject` and `<key>-body` with
/// `args`) for `person` (see the module docs), on `tx`: a connection inside
/// the caller's transaction (a `&mut Tx` coerces to it; a local workflow
/// action passes the step's). Returns whether any outside channel (e-mail,
/// SMS, Telegram) reaches them; a person with a login gets the in-app
/// notification as well, whatever the answer (`args["link"]`, when given,
/// is the page it links to).
pub async fn tell(
    s: &Services,
    tx: &mut AnyConnection,
    person: &Recipient,
    key: &str,
    args: &HashMap<&str, String>,
) -> Result<bool, sqlx::Error> {
    let subject = s.texts.text(&format!("{key}-subject"), args);
    let body = s.texts.text(&format!("{key}-body"), args);
    let mut channels: Vec<(&str, String)> = Vec::new();
    match (&person.email, &person.phone) {
        (Some(e), _) => channels.push(("email", e.clone())),
        (None, Some(p)) => channels.push(("sms", p.clone())),
        _ => {}
    }
    if let Some(chat) = &person.telegram_chat_id {
        channels.push(("telegram", chat.clone()));
    }
    if let Some(user_id) = person.id {
        let link = args.get("link").map(String::as_str);
        super::in_app::add(&mut *tx, s.db.now(), user_id, &subject, &body, link).await?;
    }
    for (channel, recipient) in &channels {
        enqueue(
            tx,
            s.db.now(),
            NewNotification {
                channel: (*channel).into(),
                recipient: recipient.clone(),
                user_id: person.id,
                subject: subject.clone(),
                body: body.clone(),
            },
        )
        .await?;
    }
    Ok(!channels.is_empty())
}

/// A Telegram chat id as the Bot API gives it: digits, negative for groups.
pub fn valid_telegram_chat_id(id: &str) -> bool {
    let digits = id.strip_prefix('-').unwrap_or(id);
    (5..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_chat_ids_are_digits() {
        assert!(valid_telegram_chat_id("123456789"));
        assert!(valid_telegram_chat_id("-1001234567890"));
        assert!(!valid_telegram_chat_id("@dispatcher"));
        assert!(!valid_telegram_chat_id("12 34"));
        assert!(!valid_telegram_chat_id("-"));
        assert!(!valid_telegram_chat_id("1234"));
    }
}
