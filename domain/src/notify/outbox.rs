//! The notification outbox: every message to a person (e-mail, SMS,
//! Telegram) is a row of the `notifications` table.
//!
//! Whoever causes a message writes it with [`enqueue`] inside its own
//! transaction, so the message exists exactly when the change that caused it
//! was committed — no e-mail about a reset link that was rolled back, no
//! lost e-mail when the mail server is down. The background
//! [`NotificationSender`](super::NotificationSender) then delivers queued
//! rows through the configured [`Transports`](connectors::Transports),
//! retrying with exponential backoff. A channel with no transport marks its
//! messages `undeliverable` and logs them, and an admin reads them in the
//! web outbox ([`list`]): a fresh install without any account still lets
//! people reset passwords.
//!
//! Statuses: `queued` (waiting or between retries) → `sent`, `failed` (a
//! permanent error or attempts exhausted) or `undeliverable` (no transport).
//!
//! Reading the outbox ([`list`], [`list_filtered`], [`get`]) masks one-time
//! tokens in the texts ([`super::mask`]): the links are for their recipient,
//! not for the admin who looks through the outbox.
//!
//! The queue is our own database, so it lives here in the domain; the
//! `connectors` crate only knows how to hand one message to a provider.

use chrono::{DateTime, Utc};
use connectors::notify::Channel;
use engine::{Db, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;

use super::mask::mask_secrets;

/// A message to queue. The texts are final (already rendered from the
/// message catalogue in the recipient's language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// A [`Channel`] code: `email`, `sms` or `telegram`.
    pub channel: String,
    pub recipient: String,
    /// The user it is for, when known (the outbox links to them).
    pub user_id: Option<i64>,
    /// E-mail subject; prefixed to the text in Telegram, unused by SMS.
    pub subject: String,
    pub body: String,
}

/// Queues a message inside the caller's transaction and returns its id. It
/// is delivered after the transaction commits, by the sender (immediately if
/// the caller wakes it with [`SenderWaker::wake`](super::SenderWaker::wake), else at its next poll).
/// An unknown channel is [`sqlx::Error::InvalidArgument`].
///
/// `tx` is any connection inside the caller's transaction: a `&mut Tx`
/// coerces to it, and a workflow's local action passes the step's own
/// connection, so the message is queued exactly once with the step.
pub async fn enqueue(
    tx: &mut AnyConnection,
    now: DateTime<Utc>,
    notification: NewNotification,
) -> Result<i64, sqlx::Error> {
    let channel = Channel::parse(&notification.channel).ok_or_else(|| {
        sqlx::Error::InvalidArgument(format!(
            "unknown notification channel {:?}",
            notification.channel
        ))
    })?;
    let now = to_db_time(now);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO notifications (channel, recipient, user_id, subject, body, status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6) RETURNING id",
    )
    .bind(channel.as_str())
    .bind(notification.recipient)
    .bind(notification.user_id)
    .bind(notification.subject)
    .bind(notification.body)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok(id)
}

/// A stored message, as the outbox page shows it: one-time tokens in its
/// subject, body and error are masked ([`mask_secrets`]), so reading the
/// outbox never hands anyone a live reset, invitation or offer link. Only
/// the sender reads the real text, to deliver it. Times are UTC
/// milliseconds, as in the database (templates format them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationRow {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub user_id: Option<i64>,
    pub subject: String,
    pub body: String,
    /// `queued`, `sent`, `failed` or `undeliverable`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str = "id, channel, recipient, user_id, subject, body, status, attempts, next_attempt_at, last_error, created_at, sent_at";

/// A row as it may be read: masked (every reading function goes through here).
fn row_to_notification(row: &sqlx::any::AnyRow) -> Result<NotificationRow, sqlx::Error> {
    let subject: String = row.try_get("subject")?;
    let body: String = row.try_get("body")?;
    let last_error: Option<String> = row.try_get("last_error")?;
    Ok(NotificationRow {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        recipient: row.try_get("recipient")?,
        user_id: row.try_get("user_id")?,
        subject: mask_secrets(&subject),
        body: mask_secrets(&body),
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: last_error.as_deref().map(mask_secrets),
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// Which messages the outbox shows. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OutboxFilter {
    /// Part of the recipient, any case (`ivan@`, `916123`).
    pub recipient: Option<String>,
    /// A status code.
    pub status: Option<String>,
    /// A channel code.
    pub channel: Option<String>,
    pub user_id: Option<i64>,
}

impl OutboxFilter {
    /// The WHERE clause and its text arguments, numbered from `$1`.
    fn clause(&self) -> (String, Vec<String>, Option<i64>) {
        let mut conditions = Vec::new();
        let mut args = Vec::new();
        if let Some(r) = self
            .recipient
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let escaped = r
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%"));
            conditions.push(format!("LOWER(recipient) LIKE ${} ESCAPE '\\'", args.len()));
        }
        if let Some(s) = self.status.as_deref().filter(|s| !s.is_empty()) {
            args.push(s.to_string());
            conditions.push(format!("status = ${}", args.len()));
        }
        if let Some(c) = self.channel.as_deref().filter(|c| !c.is_empty()) {
            args.push(c.to_string());
            conditions.push(format!("channel = ${}", args.len()));
        }
        if self.user_id.is_some() {
            conditions.push(format!("user_id = ${}", args.len() + 1));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        (clause, args, self.user_id)
    }
}

/// Messages newest first, optionally only those whose recipient contains
/// `recipient`; `limit` rows after skipping `offset`.
pub async fn list(
    db: &Db,
    recipient: Option<&str>,
    limit: i64,
    offset: i64,
) -> anyhow::Result<Vec<NotificationRow>> {
    let filter = OutboxFilter {
        recipient: recipient.map(str::to_string),
        ..OutboxFilter::default()
    };
    list_filtered(db, &filter, limit, offset).await
}

/// Messages matching `filter`, newest first, one page.
pub async fn list_filtered(
    db: &Db,
    filter: &OutboxFilter,
    limit: i64,
    offset: i64,
) -> anyhow::Result<Vec<NotificationRow>> {
    let (clause, args, user_id) = filter.clause();
    let n = args.len() + usize::from(user_id.is_some());
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications{clause} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in args {
        query = query.bind(a);
    }
    if let Some(u) = user_id {
        query = query.bind(u);
    }
    let rows = query
        .bind(limit.clamp(0, 1000))
        .bind(offset.max(0))
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .iter()
        .map(row_to_notification)
        .collect::<Result<_, _>>()?)
}

/// How many messages match `filter` (for a pager).
pub async fn count(db: &Db, filter: &OutboxFilter) -> anyhow::Result<i64> {
    let (clause, args, user_id) = filter.clause();
    let sql = format!("SELECT COUNT(*) FROM notifications{clause}");
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for a in args {
        query = query.bind(a);
    }
    if let Some(u) = user_id {
        query = query.bind(u);
    }
    Ok(query.fetch_one(db.pool()).await?)
}

/// One message.
pub async fn get(db: &Db, id: i64) -> anyhow::Result<Option<NotificationRow>> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.as_ref().map(row_to_notification).transpose()?)
}

/// Puts a `failed` or `undeliverable` message back in the queue with fresh
/// attempts (an admin's "send again" after fixing the configuration).
/// Returns false when there was no such message in those states.
pub async fn requeue(tx: &mut Tx, now: DateTime<Utc>, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE notifications SET status = 'queued', attempts = 0, next_attempt_at = $1, last_error = NULL \
         WHERE id = $2 AND status IN ('failed', 'undeliverable')",
    )
    .bind(to_db_time(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
