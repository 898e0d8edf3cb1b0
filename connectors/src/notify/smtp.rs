//! E-mail over SMTP (lettre on tokio with rustls).
//!
//! One connection per message: mail volume is low (account links, status
//! changes), and a fresh connection never trips over a relay that silently
//! dropped an idle pooled one.
//!
//! **Idempotency.** SMTP has no request key, but every message has a
//! `Message-ID`, and it is the one thing mail systems deduplicate by. We set
//! it from the message's idempotency key: `<notification-42-1767225600000@
//! podryad.example>` (key, then the domain of our `From` address). So when a
//! relay accepted a message but its reply was lost and the sender tries
//! again, the second copy carries the same Message-ID, and the receiving
//! side (Gmail, Exchange, most mailbox stores and list servers) can drop it.
//! The key already holds the time the message was queued, so two databases
//! (a reset demo, a staging copy sending from the same domain) do not
//! produce the same Message-ID for different messages; no per-install
//! secret is needed.

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{DeliveryError, OutgoingMessage, Transport};
use crate::config::{ConfigError, SmtpConfig, SmtpSecurity};

/// Sends e-mail through an SMTP relay.
pub struct SmtpTransport {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: std::time::Duration,
}

impl SmtpTransport {
    pub fn new(config: &SmtpConfig) -> Result<SmtpTransport, ConfigError> {
        const VAR: &str = "PODRYAD_SMTP_URL";
        let builder = match config.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| ConfigError::invalid(VAR, e))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| ConfigError::invalid(VAR, e))?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some(user) = &config.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| ConfigError::invalid("PODRYAD_SMTP_FROM", e))?;
        Ok(SmtpTransport {
            mailer: builder.build(),
            from,
            timeout: config.timeout,
        })
    }
}

/// The `Message-ID` of the message with `key`, from `domain` (RFC 5322
/// `msg-id`: the key becomes a dot-atom, anything outside `A-Z a-z 0-9 - _ .`
/// turning into `-`, so that a key cannot break the header).
pub fn message_id(key: &str, domain: &str) -> String {
    let mut local: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    // A dot-atom neither starts nor ends with a dot, nor has two in a row.
    while local.contains("..") {
        local = local.replace("..", ".");
    }
    let local = local.trim_matches('.');
    let local = if local.is_empty() { "podryad" } else { local };
    format!("<{local}@{domain}>")
}

/// SMTP reply codes that mean *our* side is wrong (authentication), not the
/// message: worth retrying while an admin fixes the credentials.
const CONFIG_CODES: [u16; 3] = [530, 534, 535];

#[async_trait]
impl Transport for SmtpTransport {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<(), DeliveryError> {
        let to = message
            .recipient
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| DeliveryError::permanent(format!("bad recipient address: {e}")))?;
        // Stable across retries of the same notification, so a receiver can
        // drop a duplicate if a retry follows a delivery whose reply was lost.
        let email = Message::builder()
            .message_id(Some(message_id(
                &message.idempotency_key,
                self.from.email.domain(),
            )))
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| DeliveryError::permanent(format!("cannot build message: {e}")))?;
        // lettre's own timeout covers connecting; a relay that accepts the
        // connection and then says nothing is cut off here.
        let sent = tokio::time::timeout(self.timeout, self.mailer.send(email))
            .await
            .map_err(|_| DeliveryError::temporary("timeout"))?;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.status().map(u16::from);
                let reason = match code {
                    Some(code) => format!("smtp {code}: {e}"),
                    None => format!("smtp: {e}"),
                };
                if e.is_permanent() && !code.is_some_and(|c| CONFIG_CODES.contains(&c)) {
                    Err(DeliveryError::permanent(reason))
                } else {
                    Err(DeliveryError::temporary(reason))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message_id;

    #[test]
    fn message_ids_are_the_key_at_our_domain() {
        assert_eq!(
            message_id("notification-42-1767225600000", "podryad.test"),
            "<notification-42-1767225600000@podryad.test>"
        );
        assert_eq!(message_id("a b>c@d", "x.ru"), "<a-b-c-d@x.ru>");
        assert_eq!(message_id("..a..b.", "x.ru"), "<a.b@x.ru>");
        assert_eq!(message_id("", "x.ru"), "<podryad@x.ru>");
    }
}
