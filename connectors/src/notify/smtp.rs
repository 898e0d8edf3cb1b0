//! E-mail over SMTP (lettre on tokio with rustls).
//!
//! One connection per message: mail volume is low (account links, status
//! changes), and a fresh connection never trips over a relay that silently
//! dropped an idle pooled one.

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
        let domain = self.from.email.domain();
        let message_id = format!("<podryad.{}.{}@{domain}>", message.id, message.created_at);
        let email = Message::builder()
            .message_id(Some(message_id))
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
