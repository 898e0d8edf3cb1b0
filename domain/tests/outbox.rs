//! The notification outbox and its sender, on the suite's database (SQLite,
//! or PostgreSQL with `PODRYAD_TEST_DATABASE=postgres://…`), delivering
//! through the real adapters of `connectors` to the fake providers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use connectors::notify::sms::SmsGatewayTransport;
use connectors::notify::smtp::SmtpTransport;
use connectors::notify::telegram::TelegramTransport;
use connectors::notify::{Channel, DeliveryError, OutgoingMessage, Transport, Transports};
use domain::notify::{
    self, NewNotification, NotificationRow, NotificationSender, OutboxFilter, SenderConfig,
};
use engine::testing::TestDb;
use engine::{CancellationToken, Db, DbOptions, ManualClock, Migrations, async_trait, to_db_time};
use fakes::{FakeSmsGateway, FakeSmtp, FakeTelegram, HttpFault};

// The application's migrations (the engine embeds none).
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ))
}

fn note(channel: &str, recipient: &str, subject: &str) -> NewNotification {
    NewNotification {
        channel: channel.into(),
        recipient: recipient.into(),
        user_id: None,
        subject: subject.into(),
        body: format!("Текст: {subject}"),
    }
}

async fn enqueue(db: &Db, n: NewNotification) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = notify::enqueue(&mut tx, db.now(), n).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn row(db: &Db, id: i64) -> NotificationRow {
    notify::get(db, id).await.unwrap().expect("row exists")
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap()
}

#[tokio::test]
async fn enqueue_list_filter_and_page() {
    let clock = clock();
    let t = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    let db = &t.db;
    let mut ids = Vec::new();
    for (i, (channel, recipient)) in [
        ("email", "Ivan@Example.ru"),
        ("sms", "+79161234567"),
        ("email", "anna@example.ru"),
        ("telegram", "4242"),
        ("email", "100%_sure@example.ru"),
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(enqueue(db, note(channel, recipient, &format!("Тема {i}"))).await);
        clock.advance(chrono::Duration::seconds(1));
    }
    let first = row(db, ids[0]).await;
    assert_eq!(first.status, "queued");
    assert_eq!(first.attempts, 0);
    assert_eq!(first.created_at, first.next_attempt_at);
    assert_eq!(first.subject, "Тема 0");
    assert_eq!(first.body, "Текст: Тема 0");

    // Newest first, paged.
    let all = notify::list(db, None, 50, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let page2 = notify::list(db, None, 2, 2).await.unwrap();
    assert_eq!(
        page2.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    assert!(notify::list(db, None, 2, 10).await.unwrap().is_empty());

    // The recipient filter is a case-insensitive substring, with wildcards taken literally.
    let ivan = notify::list(db, Some("ivan@"), 50, 0).await.unwrap();
    assert_eq!(ivan.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[0]]);
    let example = notify::list(db, Some("EXAMPLE.RU"), 50, 0).await.unwrap();
    assert_eq!(example.len(), 3);
    let percent = notify::list(db, Some("%"), 50, 0).await.unwrap();
    assert_eq!(
        percent.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[4]]
    );
    let underscore = notify::list(db, Some("0%_"), 50, 0).await.unwrap();
    assert_eq!(underscore.len(), 1);
    assert!(notify::list(db, Some("_"), 50, 0).await.unwrap().len() == 1);
    assert_eq!(notify::list(db, Some("  "), 50, 0).await.unwrap().len(), 5);

    let filter = OutboxFilter {
        channel: Some("email".into()),
        ..OutboxFilter::default()
    };
    assert_eq!(notify::count(db, &filter).await.unwrap(), 3);
    let filter = OutboxFilter {
        recipient: Some("example".into()),
        status: Some("queued".into()),
        channel: Some("email".into()),
        user_id: None,
    };
    assert_eq!(
        notify::list_filtered(db, &filter, 1, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(notify::count(db, &filter).await.unwrap(), 3);
    assert_eq!(
        notify::count(db, &OutboxFilter::default()).await.unwrap(),
        5
    );
    assert!(notify::get(db, 999_999).await.unwrap().is_none());
}

#[tokio::test]
async fn enqueue_belongs_to_the_callers_transaction() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let mut tx = db.begin().await.unwrap();
    notify::enqueue(&mut tx, db.now(), note("email", "a@b.ru", "x"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        notify::list(db, None, 10, 0).await.unwrap().is_empty(),
        "rolled back with the cause"
    );

    let mut tx = db.begin().await.unwrap();
    let err = notify::enqueue(&mut tx, db.now(), note("pigeon", "a@b.ru", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::InvalidArgument(_)), "{err:?}");
    tx.rollback().await.unwrap();
}

/// Captures log lines written while `f` runs on this thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn without_a_transport_messages_are_undeliverable_and_logged() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let id = enqueue(db, note("email", "accountant@podryad.test", "Сброс пароля")).await;
    let sender = NotificationSender::new(db.clone(), Transports::none());
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, id).await;
    assert_eq!(r.status, "undeliverable");
    assert_eq!(r.last_error.as_deref(), Some("no transport configured"));
    assert_eq!(r.attempts, 0, "no delivery was attempted");
    assert_eq!(r.sent_at, None);
    // Not picked again.
    assert_eq!(sender.run_once().await.unwrap(), 0);

    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("INFO"), "{log}");
    assert!(log.contains("accountant@podryad.test"), "{log}");
    assert!(log.contains("Сброс пароля"), "{log}");
    assert!(log.contains("Текст: Сброс пароля"), "{log}");

    // An admin can send it again once a transport exists.
    let mut tx = db.begin().await.unwrap();
    assert!(notify::requeue(&mut tx, db.now(), id).await.unwrap());
    tx.commit().await.unwrap();
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, Arc::new(smtp)),
    );
    assert_eq!(sender.run_once().await.unwrap(), 1);
    assert_eq!(row(db, id).await.status, "sent");
    assert_eq!(server.messages().len(), 1);
    let mut tx = db.begin().await.unwrap();
    assert!(
        !notify::requeue(&mut tx, db.now(), id).await.unwrap(),
        "a sent message stays sent"
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_outbox_and_the_log_mask_one_time_links_but_the_recipient_gets_them() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let token = "q7Xv0Zk3N1pR8sLm2Wc5Yb9Hd4Jt6Fg0Ae_Ku-Ri3Qo";
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let id = enqueue(
        db,
        NewNotification {
            body: format!("Ссылка: https://podryad.test/password/set/{token}"),
            ..note("email", "ivan@example.ru", "Сброс пароля")
        },
    )
    .await;
    let masked = "Ссылка: https://podryad.test/password/set/••••";
    assert_eq!(row(db, id).await.body, masked);
    let listed = notify::list(db, None, 10, 0).await.unwrap();
    assert_eq!(listed[0].body, masked);
    let filtered = notify::list_filtered(db, &OutboxFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(filtered[0].body, masked);

    // No transport: logged, masked.
    let sender = NotificationSender::new(db.clone(), Transports::none());
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("/password/set/••••"), "{log}");
    assert!(!log.contains(token), "{log}");

    // Once mail is configured, the recipient gets the real link.
    let mut tx = db.begin().await.unwrap();
    assert!(notify::requeue(&mut tx, db.now(), id).await.unwrap());
    tx.commit().await.unwrap();
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, Arc::new(smtp)),
    );
    assert_eq!(sender.run_once().await.unwrap(), 1);
    assert_eq!(
        server.messages()[0].text().trim_end(),
        format!("Ссылка: https://podryad.test/password/set/{token}")
    );
    assert_eq!(row(db, id).await.status, "sent");
}

#[tokio::test]
async fn smtp_4xx_is_retried_with_exponential_backoff() {
    let clock = clock();
    let t = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    let db = &t.db;
    let server = FakeSmtp::start().await.unwrap();
    server.fail_next(2);
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, Arc::new(smtp)),
    );
    let config = SenderConfig::default();
    let id = enqueue(db, note("email", "ivan@example.ru", "Заявка принята")).await;

    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("queued", 1));
    assert_eq!(
        r.next_attempt_at,
        to_db_time(db.now()) + ms(config.backoff(1))
    );
    assert!(
        r.last_error.as_deref().unwrap().contains("451"),
        "{:?}",
        r.last_error
    );
    assert_eq!(sender.run_once().await.unwrap(), 0, "not due yet");

    clock.advance(chrono::Duration::seconds(30));
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("queued", 2));
    assert_eq!(
        r.next_attempt_at,
        to_db_time(db.now()) + ms(config.backoff(2))
    );
    clock.advance(chrono::Duration::seconds(59));
    assert_eq!(sender.run_once().await.unwrap(), 0);

    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 3));
    assert_eq!(r.sent_at, Some(to_db_time(db.now())));
    assert_eq!(r.last_error, None);
    let mails = server.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].text(), "Текст: Заявка принята");
}

#[tokio::test]
async fn a_retried_delivery_carries_the_same_message_id() {
    let clock = clock();
    let t = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    let db = &t.db;
    let server = FakeSmtp::start().await.unwrap();
    // The relay takes the message and hangs up before confirming it.
    server.lose_reply_after_data(1);
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, Arc::new(smtp)),
    );
    let id = enqueue(db, note("email", "ivan@example.ru", "Заявка принята")).await;
    let created_at = row(db, id).await.created_at;

    assert_eq!(sender.run_once().await.unwrap(), 1);
    assert_eq!(row(db, id).await.status, "queued", "for us, not delivered");
    clock.advance(chrono::Duration::seconds(30));
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 2));

    let mails = server.messages();
    assert_eq!(mails.len(), 2, "the relay got it twice");
    let expected = format!("<notification-{id}-{created_at}@podryad.test>");
    assert_eq!(mails[0].message_id(), Some(expected.clone()));
    assert_eq!(
        mails[1].message_id(),
        Some(expected),
        "the same on the retry"
    );
    assert_eq!(
        notify::idempotency_key(id, created_at),
        format!("notification-{id}-{created_at}")
    );

    // Another message gets another one.
    let other = enqueue(db, note("email", "ivan@example.ru", "Ещё")).await;
    assert_eq!(sender.run_once().await.unwrap(), 1);
    assert_eq!(row(db, other).await.status, "sent");
    let third = server.messages()[2].message_id().unwrap();
    assert!(
        third.starts_with(&format!("<notification-{other}-")),
        "{third}"
    );
}

#[tokio::test]
async fn permanent_errors_fail_at_once() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let server = FakeSmtp::start().await.unwrap();
    server.reject_recipients(true);
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let tg_server = FakeTelegram::start("1:t").await.unwrap();
    tg_server.mark_chat_blocked("77");
    let tg = TelegramTransport::new(&tg_server.config("1:t")).unwrap();
    let transports = Transports::none()
        .with(Channel::Email, Arc::new(smtp))
        .with(Channel::Telegram, Arc::new(tg));
    let sender = NotificationSender::new(db.clone(), transports);
    let a = enqueue(db, note("email", "nobody@example.ru", "x")).await;
    let b = enqueue(db, note("telegram", "77", "x")).await;
    assert_eq!(sender.run_once().await.unwrap(), 2);
    for id in [a, b] {
        let r = row(db, id).await;
        assert_eq!((r.status.as_str(), r.attempts), ("failed", 1), "{r:?}");
    }
    assert!(row(db, a).await.last_error.unwrap().contains("550"));
    assert!(row(db, b).await.last_error.unwrap().contains("403"));
}

#[tokio::test]
async fn temporary_errors_give_up_after_max_attempts() {
    let clock = clock();
    let t = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    let db = &t.db;
    let server = FakeTelegram::start("1:t").await.unwrap();
    server.set_fault(Some(HttpFault::Status(500)));
    let tg = TelegramTransport::new(&server.config("1:t")).unwrap();
    let config = SenderConfig {
        max_attempts: 3,
        ..SenderConfig::default()
    };
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Telegram, Arc::new(tg)),
    )
    .with_config(config);
    let id = enqueue(db, note("telegram", "4242", "x")).await;
    for attempt in 1..=3 {
        assert_eq!(sender.run_once().await.unwrap(), 1, "attempt {attempt}");
        clock.advance(chrono::Duration::hours(1));
    }
    let r = row(db, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("failed", 3));
    assert!(
        r.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{r:?}"
    );
    assert_eq!(sender.run_once().await.unwrap(), 0);
}

#[tokio::test]
async fn provider_retry_after_and_timeouts_are_respected() {
    let clock = clock();
    let t = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    let db = &t.db;
    let server = FakeTelegram::start("1:t").await.unwrap();
    let mut config = server.config("1:t");
    config.timeout = Duration::from_millis(300);
    let tg = TelegramTransport::new(&config).unwrap();
    let sms_server = FakeSmsGateway::start("k").await.unwrap();
    let mut sms_config = sms_server.config("k");
    sms_config.timeout = Duration::from_millis(300);
    let sms = SmsGatewayTransport::new(&sms_config).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none()
            .with(Channel::Telegram, Arc::new(tg))
            .with(Channel::Sms, Arc::new(sms)),
    );

    server.push_fault(HttpFault::TooManyRequests { retry_after: 600 });
    let a = enqueue(db, note("telegram", "4242", "a")).await;
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, a).await;
    assert_eq!(r.status, "queued");
    assert_eq!(
        r.next_attempt_at,
        to_db_time(db.now()) + 600_000,
        "retry_after beats the 30 s backoff"
    );

    sms_server.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    let b = enqueue(db, note("sms", "+79161234567", "b")).await;
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, b).await;
    assert_eq!((r.status.as_str(), r.attempts), ("queued", 1));
    assert_eq!(r.last_error.as_deref(), Some("timeout"));

    clock.advance(chrono::Duration::minutes(10));
    assert_eq!(sender.run_once().await.unwrap(), 2);
    assert_eq!(row(db, a).await.status, "sent");
    assert_eq!(row(db, b).await.status, "sent");
    assert_eq!(server.messages().len(), 1);
    assert_eq!(sms_server.messages().len(), 1);
    assert_eq!(sms_server.messages()[0].text, "Текст: b");
}

#[tokio::test]
async fn a_leased_message_waits_for_its_lease_to_expire() {
    let clock = clock();
    let t = TestDb::with_clock(&MIGRATIONS, clock.clone()).await;
    let db = &t.db;
    let id = enqueue(db, note("email", "ivan@example.ru", "x")).await;
    // Another sender claimed it and died mid-delivery.
    let lease = SenderConfig::default().lease;
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE notifications SET attempts = 1, next_attempt_at = $1 WHERE id = $2")
        .bind(to_db_time(db.now()) + ms(lease))
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, Arc::new(smtp)),
    );
    assert_eq!(sender.run_once().await.unwrap(), 0, "still leased");
    clock.advance(chrono::Duration::seconds(
        i64::try_from(lease.as_secs()).unwrap(),
    ));
    assert_eq!(sender.run_once().await.unwrap(), 1);
    let r = row(db, id).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 2));
    assert_eq!(server.messages().len(), 1);
}

/// Records deliveries, slowly, so that concurrent senders overlap.
#[derive(Default)]
struct Recorder(Mutex<HashMap<i64, usize>>);

#[async_trait]
impl Transport for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<(), DeliveryError> {
        tokio::time::sleep(Duration::from_millis(3)).await;
        *self.0.lock().unwrap().entry(message.id).or_default() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_never_send_the_same_message_twice() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = &t.db;
    let mut ids = Vec::new();
    let mut tx = db.begin().await.unwrap();
    for i in 0..60 {
        ids.push(
            notify::enqueue(
                &mut tx,
                db.now(),
                note("email", &format!("u{i}@example.ru"), "x"),
            )
            .await
            .unwrap(),
        );
    }
    tx.commit().await.unwrap();

    // A second process: its own connections to the same database.
    let other = Db::connect(
        &t.url,
        &DbOptions {
            max_connections: 4,
            ..DbOptions::default()
        },
    )
    .await
    .unwrap();
    let recorder = Arc::new(Recorder::default());
    let config = SenderConfig {
        batch_size: 5,
        ..SenderConfig::default()
    };
    let a = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, recorder.clone()),
    )
    .with_config(config.clone());
    let b = NotificationSender::new(
        other.clone(),
        Transports::none().with(Channel::Email, recorder.clone()),
    )
    .with_config(config);
    let drain = |s: NotificationSender| async move {
        let mut handled = 0;
        loop {
            let n = s.run_once().await.unwrap();
            if n == 0 {
                return handled;
            }
            handled += n;
        }
    };
    let (ha, hb) = tokio::join!(tokio::spawn(drain(a)), tokio::spawn(drain(b)));
    let (ha, hb) = (ha.unwrap(), hb.unwrap());
    assert_eq!(ha + hb, 60, "a: {ha}, b: {hb}");
    let delivered = recorder.0.lock().unwrap().clone();
    assert_eq!(delivered.len(), 60);
    assert!(delivered.values().all(|n| *n == 1), "{delivered:?}");
    let filter = OutboxFilter {
        status: Some("sent".into()),
        ..OutboxFilter::default()
    };
    assert_eq!(notify::count(db, &filter).await.unwrap(), 60);
    other.close().await;
}

#[tokio::test]
async fn the_running_sender_wakes_on_demand_and_stops_on_shutdown() {
    let t = TestDb::new(&MIGRATIONS).await;
    let db = t.db.clone();
    let server = FakeSmtp::start().await.unwrap();
    let smtp = SmtpTransport::new(&server.config("noreply@podryad.test")).unwrap();
    let sender = NotificationSender::new(
        db.clone(),
        Transports::none().with(Channel::Email, Arc::new(smtp)),
    )
    .with_config(SenderConfig {
        poll_interval: Duration::from_secs(3600),
        ..SenderConfig::default()
    });
    let waker = sender.waker();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(sender.run(shutdown.clone()));

    // Let it go idle, then queue a message and wake it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = enqueue(&db, note("email", "ivan@example.ru", "x")).await;
    waker.wake();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while row(&db, id).await.status != "sent" {
        assert!(
            std::time::Instant::now() < deadline,
            "not sent after a wake"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.messages().len(), 1);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly")
        .unwrap();
}
