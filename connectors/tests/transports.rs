//! The real delivery adapters against their fake providers on loopback.

use std::time::Duration;

use connectors::notify::sms::SmsGatewayTransport;
use connectors::notify::smtp::SmtpTransport;
use connectors::notify::telegram::TelegramTransport;
use connectors::notify::{Channel, DeliveryError, OutgoingMessage, Transport};
use fakes::{FakeSmsGateway, FakeSmtp, FakeTelegram, HttpFault};

fn message(channel: Channel, recipient: &str) -> OutgoingMessage {
    OutgoingMessage {
        id: 1,
        idempotency_key: "notification-1-1767225600000".into(),
        channel,
        recipient: recipient.into(),
        subject: "Сброс пароля".into(),
        body: "Ссылка: https://podryad.test/password/set/abc\n.точка в начале строки".into(),
    }
}

fn is_temporary(r: &Result<(), DeliveryError>) -> bool {
    matches!(r, Err(DeliveryError::Temporary { .. }))
}

fn is_permanent(r: &Result<(), DeliveryError>) -> bool {
    matches!(r, Err(DeliveryError::Permanent { .. }))
}

#[tokio::test]
async fn smtp_delivers_a_message() {
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("Подряд <noreply@podryad.test>")).unwrap();
    smtp.send(&message(Channel::Email, "ivan@example.ru"))
        .await
        .unwrap();
    let mails = server.messages();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "noreply@podryad.test");
    assert_eq!(mail.to, vec!["ivan@example.ru".to_string()]);
    assert!(mail.header("To").unwrap().contains("ivan@example.ru"));
    // Non-ASCII subjects are encoded (RFC 2047), not sent raw.
    let subject = mail.header("Subject").unwrap();
    assert!(subject.starts_with("=?utf-8?"), "{subject}");
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some("<notification-1-1767225600000@podryad.test>")
    );
    assert_eq!(
        mail.text(),
        "Ссылка: https://podryad.test/password/set/abc\n.точка в начале строки"
    );
}

#[tokio::test]
async fn smtp_4xx_is_temporary_and_5xx_recipient_is_permanent() {
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    server.fail_next(1);
    let r = smtp.send(&message(Channel::Email, "ivan@example.ru")).await;
    assert!(is_temporary(&r), "{r:?}");
    assert!(format!("{r:?}").contains("451"));
    // The next attempt goes through.
    smtp.send(&message(Channel::Email, "ivan@example.ru"))
        .await
        .unwrap();
    assert_eq!(server.messages().len(), 1);

    server.reject_recipients(true);
    let r = smtp
        .send(&message(Channel::Email, "nobody@example.ru"))
        .await;
    assert!(is_permanent(&r), "{r:?}");
    assert!(format!("{r:?}").contains("550"));
}

#[tokio::test]
async fn smtp_bad_address_is_permanent_and_down_server_is_temporary() {
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let r = smtp.send(&message(Channel::Email, "not an address")).await;
    assert!(is_permanent(&r), "{r:?}");
    assert_eq!(
        server.connections(),
        0,
        "nothing was sent for a bad address"
    );

    let mut config = server.config("noreply@podryad.test");
    drop(server);
    config.timeout = Duration::from_secs(2);
    let smtp = SmtpTransport::new(&config).unwrap();
    let r = smtp.send(&message(Channel::Email, "ivan@example.ru")).await;
    assert!(is_temporary(&r), "{r:?}");
}

#[tokio::test]
async fn smtp_retry_after_a_lost_reply_carries_the_same_message_id() {
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    server.lose_reply_after_data(1);
    let first = message(Channel::Email, "ivan@example.ru");
    // The relay took the message but hung up before saying so: for us it
    // is a temporary failure, and we send again.
    let r = smtp.send(&first).await;
    assert!(is_temporary(&r), "{r:?}");
    smtp.send(&first).await.unwrap();
    let mails = server.messages();
    assert_eq!(mails.len(), 2, "the relay got it twice");
    assert_eq!(
        mails[0].message_id().as_deref(),
        Some("<notification-1-1767225600000@podryad.test>")
    );
    assert_eq!(
        mails[0].message_id(),
        mails[1].message_id(),
        "so the receiver can drop the duplicate"
    );

    // Another message has another Message-ID.
    let other = OutgoingMessage {
        id: 2,
        idempotency_key: "notification-2-1767225600001".into(),
        ..first
    };
    smtp.send(&other).await.unwrap();
    assert_eq!(
        server.messages()[2].message_id().as_deref(),
        Some("<notification-2-1767225600001@podryad.test>")
    );
}

#[tokio::test]
async fn smtp_timeout_is_temporary() {
    let server = FakeSmtp::start().await.unwrap();
    server.stall(true);
    let mut config = server.config("noreply@podryad.test");
    config.timeout = Duration::from_millis(300);
    let smtp = SmtpTransport::new(&config).unwrap();
    let started = std::time::Instant::now();
    let r = smtp.send(&message(Channel::Email, "ivan@example.ru")).await;
    assert!(is_temporary(&r), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn telegram_delivers_and_classifies_failures() {
    let server = FakeTelegram::start("123:secret").await.unwrap();
    let mut config = server.config("123:secret");
    config.timeout = Duration::from_millis(300);
    let tg = TelegramTransport::new(&config).unwrap();

    tg.send(&message(Channel::Telegram, "4242")).await.unwrap();
    let sent = server.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, "4242");
    assert!(sent[0].text.starts_with("Сброс пароля\n\nСсылка:"));

    server.push_fault(HttpFault::Status(502));
    assert!(is_temporary(
        &tg.send(&message(Channel::Telegram, "4242")).await
    ));

    server.push_fault(HttpFault::TooManyRequests { retry_after: 7 });
    let r = tg.send(&message(Channel::Telegram, "4242")).await;
    assert_eq!(
        r.as_ref().err().and_then(|e| match e {
            DeliveryError::Temporary { retry_after, .. } => *retry_after,
            _ => None,
        }),
        Some(Duration::from_secs(7)),
        "{r:?}"
    );

    server.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    let r = tg.send(&message(Channel::Telegram, "4242")).await;
    assert!(is_temporary(&r), "{r:?}");
    assert!(format!("{r:?}").contains("timeout"));

    server.mark_chat_missing("1");
    assert!(is_permanent(
        &tg.send(&message(Channel::Telegram, "1")).await
    ));
    server.mark_chat_blocked("2");
    assert!(is_permanent(
        &tg.send(&message(Channel::Telegram, "2")).await
    ));
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn telegram_wrong_token_is_temporary_and_not_logged() {
    let server = FakeTelegram::start("123:secret").await.unwrap();
    let tg = TelegramTransport::new(&server.config("999:wrong")).unwrap();
    let r = tg.send(&message(Channel::Telegram, "4242")).await;
    assert!(is_temporary(&r), "{r:?}");
    assert!(!format!("{r:?}").contains("999:wrong"));

    // A connection error does not leak the token (it is in the URL).
    let mut config = server.config("123:secret");
    drop(server);
    config.timeout = Duration::from_secs(2);
    let r = TelegramTransport::new(&config)
        .unwrap()
        .send(&message(Channel::Telegram, "4242"))
        .await;
    assert!(is_temporary(&r), "{r:?}");
    assert!(!format!("{r:?}").contains("secret"), "{r:?}");
}

#[tokio::test]
async fn sms_delivers_and_classifies_failures() {
    let server = FakeSmsGateway::start("api-key").await.unwrap();
    let mut config = server.config("api-key");
    config.sender = Some("Podryad".into());
    config.timeout = Duration::from_millis(300);
    let sms = SmsGatewayTransport::new(&config).unwrap();

    sms.send(&message(Channel::Sms, "+79161234567"))
        .await
        .unwrap();
    let sent = server.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "79161234567");
    assert!(sent[0].text.starts_with("Ссылка:"), "SMS carries the body");
    assert_eq!(sent[0].from.as_deref(), Some("Podryad"));

    // The number is the problem: permanent.
    let r = sms.send(&message(Channel::Sms, "+1 234 567 89 01")).await;
    assert!(is_permanent(&r), "{r:?}");
    let r = sms.send(&message(Channel::Sms, "12")).await;
    assert!(is_permanent(&r), "{r:?}");

    server.push_fault(HttpFault::Status(503));
    assert!(is_temporary(
        &sms.send(&message(Channel::Sms, "+79161234567")).await
    ));
    server.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    let r = sms.send(&message(Channel::Sms, "+79161234567")).await;
    assert!(is_temporary(&r), "{r:?}");

    // Our account is the problem: temporary (an admin can fix it).
    let wrong = SmsGatewayTransport::new(&server.config("wrong")).unwrap();
    let r = wrong.send(&message(Channel::Sms, "+79161234567")).await;
    assert!(is_temporary(&r), "{r:?}");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn the_telegram_inbox_reads_what_people_write_to_the_bot() {
    use connectors::notify::telegram::{TelegramInbox, TelegramUpdate};
    let server = FakeTelegram::start("123:secret").await.unwrap();
    let inbox = TelegramInbox::new(&server.config("123:secret")).unwrap();
    let (none, offset) = inbox.updates(0, Duration::ZERO).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(offset, 0, "nothing read, nothing skipped");
    server.push_message(4242, "/start abc");
    server.push_message(77, "привет");
    let (updates, offset) = inbox.updates(offset, Duration::ZERO).await.unwrap();
    assert_eq!(
        updates,
        [
            TelegramUpdate {
                update_id: 1000,
                chat_id: 4242,
                text: "/start abc".into()
            },
            TelegramUpdate {
                update_id: 1001,
                chat_id: 77,
                text: "привет".into()
            },
        ]
    );
    assert_eq!(offset, 1002);
    // Past the offset, read updates are not delivered again.
    let (again, _) = inbox.updates(offset, Duration::ZERO).await.unwrap();
    assert!(again.is_empty());
    // A wrong token is an error, not an empty inbox.
    let wrong = TelegramInbox::new(&server.config("123:wrong")).unwrap();
    assert!(wrong.updates(0, Duration::ZERO).await.is_err());
}
