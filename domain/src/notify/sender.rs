//! The background sender of the notification outbox.
//!
//! Several app servers may share one database, so messages are first
//! *claimed*, a batch at a time, by one `UPDATE … RETURNING` (a statement is
//! atomic on its own: no `BEGIN`/`COMMIT` around it): their `attempts` goes
//! up and their `next_attempt_at` moves to the end of a lease. Other senders
//! only pick rows whose `next_attempt_at` has passed, so they skip them; on
//! PostgreSQL the claim's `FOR UPDATE SKIP LOCKED` also keeps two concurrent
//! claims apart, and on SQLite the single writer does. If a sender dies
//! mid-delivery, the lease runs out and another one retries the message. The
//! outcomes are written afterwards — no transaction is held open while
//! talking to a provider — one statement for all the messages sent, one per
//! message otherwise, each only if the lease is still ours.
//!
//! Woken after a commit that queued messages, the sender waits a moment
//! ([`SenderConfig::gather`]) so that messages queued by steps a few
//! milliseconds apart go out in one batch: one claim and one record for
//! many messages instead of two write transactions each.
//!
//! Delivery is therefore *at least once*: if the outcome of a successful
//! send cannot be recorded (the database went away at that moment), the
//! message is sent again when its lease runs out; and a provider whose
//! reply was lost is asked again. Each message therefore goes out with an
//! idempotency key derived from its row ([`idempotency_key`]), the same on
//! every attempt and after an admin's requeue; the transports pass it to the
//! provider where it can drop a duplicate (e-mail: the `Message-ID`).
//!
//! When idle, the sender sleeps until the next retry is due or the poll
//! interval passes, whichever is sooner, and wakes early when told
//! ([`SenderWaker`]): near zero CPU with no traffic.

use std::sync::Arc;
use std::time::Duration;

use connectors::notify::{Channel, DeliveryError, OutgoingMessage, Transports};
use engine::{CancellationToken, Db, Dialect, to_db_time};
use sqlx::Row;
use tokio::sync::Notify;

use super::mask::mask_secrets;

/// The error recorded for a channel without a transport.
pub const NO_TRANSPORT: &str = "no transport configured";

/// The idempotency key of the notification row `id` queued at
/// `created_at` (UTC milliseconds): `notification-<id>-<created_at>`. It is
/// the same on every attempt to deliver the row, and the queueing time keeps
/// it from repeating in another database (a reset demo, a staging copy)
/// where the ids start again from 1.
pub fn idempotency_key(id: i64, created_at: i64) -> String {
    format!("notification-{id}-{created_at}")
}

/// How the sender paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// Longest sleep when idle (new messages also wake it early).
    pub poll_interval: Duration,
    /// Messages claimed per round.
    pub batch_size: i64,
    /// Delivery attempts before a message is `failed`.
    pub max_attempts: i64,
    /// Wait after the first failed attempt; doubles with each further one.
    pub base_backoff: Duration,
    /// Upper bound of the wait between attempts.
    pub max_backoff: Duration,
    /// How long a claimed message is reserved for one delivery. Longer than
    /// any transport's timeout, so a slow delivery is not duplicated.
    pub lease: Duration,
    /// How long the sender lets messages gather after it was idle, before
    /// it claims them as one batch.
    pub gather: Duration,
}

impl Default for SenderConfig {
    /// Ten attempts 30 s, 1, 2, 4 … 60 min apart: about four hours of trying
    /// before a message is given up.
    fn default() -> Self {
        SenderConfig {
            poll_interval: Duration::from_secs(10),
            batch_size: 20,
            max_attempts: 10,
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            gather: Duration::from_millis(20),
        }
    }
}

impl SenderConfig {
    /// The wait after the `attempt`-th failed attempt (1-based).
    pub fn backoff(&self, attempt: i64) -> Duration {
        let shift = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.base_backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff)
    }
}

/// Wakes a sleeping sender, e.g. right after committing a transaction that
/// queued a message. Cheap to clone; a wake with nobody sleeping is kept for
/// the next sleep.
#[derive(Debug, Clone)]
pub struct SenderWaker(Arc<Notify>);

impl SenderWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Delivers queued notifications. Run one per app server with
/// [`NotificationSender::run`].
pub struct NotificationSender {
    db: Db,
    transports: Transports,
    config: SenderConfig,
    wake: Arc<Notify>,
}

/// A message claimed for one delivery.
struct Claimed {
    message: Option<OutgoingMessage>,
    id: i64,
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    /// Attempts including this one.
    attempts: i64,
    /// Our lease: the row's `next_attempt_at` while we hold it.
    lease_until: i64,
}

enum Outcome {
    Sent,
    Undeliverable,
    Failed(String),
    Retry(String, Duration),
}

impl NotificationSender {
    pub fn new(db: Db, transports: Transports) -> NotificationSender {
        NotificationSender {
            db,
            transports,
            config: SenderConfig::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn with_config(mut self, config: SenderConfig) -> NotificationSender {
        self.config = config;
        self
    }

    pub fn waker(&self) -> SenderWaker {
        SenderWaker(self.wake.clone())
    }

    pub fn transports(&self) -> &Transports {
        &self.transports
    }

    /// Delivers until `shutdown` is cancelled. A delivery in progress is
    /// finished first; database errors are logged and retried at the next poll.
    /// Idle, it reads when the next message is due and claims (a write) only
    /// when one is.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(transports = ?self.transports, "notification sender started");
        let mut caught_up = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let sleep = match self.next_due().await {
                Ok(Some(at)) if at <= to_db_time(self.db.now()) => {
                    if caught_up {
                        // Let the messages of a burst gather into one batch.
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(self.config.gather) => {}
                        }
                    }
                    match self.run_once().await {
                        Ok(n) => {
                            caught_up = (n as i64) < self.config.batch_size.max(1);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "notification sender: database error");
                            self.config.poll_interval
                        }
                    }
                }
                Ok(next) => {
                    caught_up = true;
                    self.wait_until(next)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notification sender: database error");
                    self.config.poll_interval
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("notification sender stopped");
    }

    /// Claims one batch of due messages and delivers it; returns how many
    /// messages were handled (sent, retried, failed or undeliverable).
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let claimed = self.claim().await?;
        let n = claimed.len();
        let mut done = Vec::with_capacity(n);
        for c in claimed {
            let outcome = self.deliver(&c).await;
            done.push((c, outcome));
        }
        self.record(done).await?;
        Ok(n)
    }

    /// When the next queued message is due (UTC ms), if any.
    async fn next_due(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM notifications WHERE status = 'queued'")
            .fetch_one(self.db.pool())
            .await
    }

    /// How long to sleep until `next` (UTC ms), at most the poll interval.
    fn wait_until(&self, next: Option<i64>) -> Duration {
        let poll = self.config.poll_interval;
        match next {
            Some(at) => {
                let wait = at.saturating_sub(to_db_time(self.db.now())).max(10);
                Duration::from_millis(u64::try_from(wait).unwrap_or(u64::MAX)).min(poll)
            }
            None => poll,
        }
    }

    /// Claims up to a batch of due messages with one statement.
    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        let now = to_db_time(self.db.now());
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX / 2);
        let lease_until = now.saturating_add(lease_ms.max(1));
        let lock = match self.db.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let rows = {
            let mut conn = self.db.single_write().await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE id IN (SELECT id FROM notifications WHERE status = 'queued' AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, id LIMIT $3{lock}) \
                 RETURNING id, channel, recipient, subject, body, attempts, created_at"
            )))
            .bind(lease_until)
            .bind(now)
            .bind(self.config.batch_size.max(1))
            .fetch_all(&mut *conn)
            .await?
        };
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let channel: String = row.try_get("channel")?;
            let recipient: String = row.try_get("recipient")?;
            let subject: String = row.try_get("subject")?;
            let body: String = row.try_get("body")?;
            let created_at: i64 = row.try_get("created_at")?;
            let message = Channel::parse(&channel).map(|channel| OutgoingMessage {
                id,
                idempotency_key: idempotency_key(id, created_at),
                channel,
                recipient: recipient.clone(),
                subject: subject.clone(),
                body: body.clone(),
            });
            claimed.push(Claimed {
                message,
                id,
                channel,
                recipient,
                subject,
                body,
                // Already counting this attempt (the claim added it).
                attempts: row.try_get("attempts")?,
                lease_until,
            });
        }
        // RETURNING keeps no order: oldest first, as claimed.
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn deliver(&self, c: &Claimed) -> Outcome {
        let transport = c
            .message
            .as_ref()
            .and_then(|m| self.transports.get(m.channel).map(|t| (m, t)));
        match transport {
            None => Outcome::Undeliverable,
            Some((message, transport)) => {
                // A safety net under the transports' own timeouts: never
                // outlive the lease.
                let limit = self.config.lease / 2;
                let result = match tokio::time::timeout(limit, transport.send(message)).await {
                    Ok(r) => r,
                    Err(_) => Err(DeliveryError::temporary("timed out")),
                };
                match result {
                    Ok(()) => Outcome::Sent,
                    Err(DeliveryError::Permanent { reason }) => Outcome::Failed(reason),
                    Err(DeliveryError::Temporary { reason, .. })
                        if c.attempts >= self.config.max_attempts =>
                    {
                        Outcome::Failed(format!("gave up after {} attempts: {reason}", c.attempts))
                    }
                    Err(DeliveryError::Temporary {
                        reason,
                        retry_after,
                    }) => {
                        let wait = self
                            .config
                            .backoff(c.attempts)
                            .max(retry_after.unwrap_or_default());
                        Outcome::Retry(reason, wait)
                    }
                }
            }
        }
    }

    /// Writes the outcomes of a batch: one statement for every message
    /// sent, one for each other outcome; each guarded by our lease, so a
    /// sender that took a message over after the lease ran out is not
    /// overwritten.
    async fn record(&self, done: Vec<(Claimed, Outcome)>) -> Result<(), sqlx::Error> {
        if done.is_empty() {
            return Ok(());
        }
        let now = to_db_time(self.db.now());
        let (sent, other): (Vec<_>, Vec<_>) = done
            .into_iter()
            .partition(|(_, o)| matches!(o, Outcome::Sent));
        if !sent.is_empty() {
            // One batch, one lease: every row of it carries the same
            // `next_attempt_at` while it is ours.
            let lease = sent[0].0.lease_until;
            let mut sql = engine::Sql::new("UPDATE notifications SET status = 'sent', sent_at = ");
            sql.bind(now)
                .push(", last_error = NULL WHERE status = 'queued' AND next_attempt_at = ")
                .bind(lease)
                .push(" AND id IN (")
                .bind_list(sent.iter().map(|(c, _)| c.id))
                .push(") RETURNING id");
            let recorded: Vec<i64> = {
                let mut conn = self.db.single_write().await?;
                sql.query_scalar().fetch_all(&mut *conn).await?
            };
            for (c, outcome) in &sent {
                self.report(c, outcome, recorded.contains(&c.id));
            }
        }
        for (c, outcome) in other {
            let guard = "WHERE id = $1 AND status = 'queued' AND next_attempt_at = $2";
            let query = match &outcome {
                Outcome::Sent => continue,
                Outcome::Undeliverable => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE notifications SET status = 'undeliverable', attempts = attempts - 1, last_error = $3 {guard}"
                )))
                .bind(c.id)
                .bind(c.lease_until)
                .bind(NO_TRANSPORT),
                Outcome::Failed(reason) => sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE notifications SET status = 'failed', last_error = $3 {guard}"
                )))
                .bind(c.id)
                .bind(c.lease_until)
                .bind(truncate(reason)),
                Outcome::Retry(reason, wait) => {
                    let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE notifications SET next_attempt_at = $3, last_error = $4 {guard}"
                    )))
                    .bind(c.id)
                    .bind(c.lease_until)
                    .bind(now.saturating_add(wait_ms))
                    .bind(truncate(reason))
                }
            };
            let result = {
                let mut conn = self.db.single_write().await?;
                query.execute(&mut *conn).await?
            };
            self.report(&c, &outcome, result.rows_affected() > 0);
        }
        Ok(())
    }

    /// Metrics and logs of one recorded outcome (`recorded`: the lease was
    /// still ours).
    fn report(&self, c: &Claimed, outcome: &Outcome, recorded: bool) {
        if !recorded {
            tracing::warn!(
                notification_id = c.id,
                "notification lease lost before its outcome was recorded (delivery took longer than the lease?)"
            );
            return;
        }
        let label = match outcome {
            Outcome::Sent => "sent",
            Outcome::Undeliverable => "undeliverable",
            Outcome::Failed(_) => "failed",
            Outcome::Retry(..) => "retry",
        };
        metrics::counter!("podryad_notifications_total", "channel" => c.channel.clone(), "outcome" => label)
            .increment(1);
        match outcome {
            Outcome::Sent => tracing::debug!(
                notification_id = c.id,
                channel = %c.channel,
                recipient = %c.recipient,
                attempts = c.attempts,
                "notification sent"
            ),
            // An admin reads these in the outbox; the log has them too (a
            // developer running the demo sees what would have been sent),
            // with one-time tokens masked like in the outbox: a log is read
            // by more people than the message was for.
            Outcome::Undeliverable => tracing::info!(
                notification_id = c.id,
                channel = %c.channel,
                recipient = %c.recipient,
                subject = %mask_secrets(&c.subject),
                body = %mask_secrets(&c.body),
                "notification not delivered: {NO_TRANSPORT}; kept in the outbox"
            ),
            Outcome::Failed(reason) => tracing::warn!(
                notification_id = c.id,
                channel = %c.channel,
                recipient = %c.recipient,
                attempts = c.attempts,
                error = %mask_secrets(reason),
                "notification failed"
            ),
            Outcome::Retry(reason, wait) => tracing::warn!(
                notification_id = c.id,
                channel = %c.channel,
                recipient = %c.recipient,
                attempts = c.attempts,
                retry_in_s = wait.as_secs(),
                error = %mask_secrets(reason),
                "notification delivery failed; will retry"
            ),
        }
    }
}

/// Keeps stored errors short (providers sometimes answer with a whole page).
fn truncate(s: &str) -> String {
    const MAX: usize = 1000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotency_key_names_the_row_and_its_time() {
        assert_eq!(
            idempotency_key(42, 1_767_225_600_000),
            "notification-42-1767225600000"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = SenderConfig::default();
        assert_eq!(c.backoff(1), Duration::from_secs(30));
        assert_eq!(c.backoff(2), Duration::from_secs(60));
        assert_eq!(c.backoff(3), Duration::from_secs(120));
        assert_eq!(c.backoff(8), Duration::from_secs(3600));
        assert_eq!(c.backoff(1000), Duration::from_secs(3600));
        assert_eq!(c.backoff(0), Duration::from_secs(30));
        assert_eq!(c.backoff(-5), Duration::from_secs(30));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let s = "я".repeat(600);
        let t = truncate(&s);
        assert!(t.len() <= 1000 + "…".len());
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
