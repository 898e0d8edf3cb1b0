//! In-app notifications: the bell in the header with the unread count, the
//! `/notifications` page, and the live updates behind the bell.
//!
//! A message to a person with a login is written here by [`super::tell`] in
//! the same transaction as its e-mail, SMS and Telegram rows of the outbox:
//! it exists exactly when the change that caused it was committed. The texts
//! are stored masked ([`mask_secrets`]): the outbox already holds the one
//! live copy of a one-time link, and a second copy in a table every page
//! reads would be one more place to leak it.
//!
//! Every function takes the signed-in person's own user id: nobody reads or
//! marks another's notifications (a row of someone else is "not found").
//!
//! **Live updates** ([`Bell`]): pages subscribe to a broadcast of the user
//! ids that got a new notification. One watcher per process feeds it by
//! polling the table's newest id (an indexed `MAX`, a handful of
//! microseconds) once a second while anyone listens, and right away when
//! woken after a commit ([`Bell::wake`]). So an open page holds no database
//! connection: it borrows one only to read its count after an update. The
//! watcher stops when the last page closes and starts with the next one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use engine::{Db, to_db_time};
use serde::Serialize;
use sqlx::AnyConnection;
use tokio::sync::{Notify, broadcast};

use super::mask::mask_secrets;

/// Notifications a list shows at most.
const LIST_LIMIT: i64 = 100;

/// One in-app notification, as the list shows it (UTC milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InAppNotification {
    pub id: i64,
    pub subject: String,
    pub body: String,
    /// The page it is about (a path or a full address), if any.
    pub link: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// Writes an in-app notification for `user_id` on `tx` (a connection inside
/// the caller's transaction). Texts and link are masked; a link that held a
/// one-time token is dropped rather than kept useless.
pub async fn add(
    tx: &mut AnyConnection,
    now: DateTime<Utc>,
    user_id: i64,
    subject: &str,
    body: &str,
    link: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let link = link
        .map(str::trim)
        .filter(|l| !l.is_empty() && mask_secrets(l) == *l);
    sqlx::query_scalar(
        "INSERT INTO user_notifications (user_id, subject, body, link, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(mask_secrets(subject))
    .bind(mask_secrets(body))
    .bind(link)
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await
}

/// How many of `me`'s notifications are unread.
pub async fn unread_count(db: &Db, me: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(me)
    .fetch_one(db.pool())
    .await
}

/// `me`'s latest notifications, newest first.
pub async fn list(db: &Db, me: i64) -> Result<Vec<InAppNotification>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, subject, body, link, created_at, read_at FROM user_notifications \
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(me)
    .bind(LIST_LIMIT)
    .fetch_all(db.pool())
    .await
}

/// Marks one of `me`'s notifications read and returns it; `None` when it
/// is not theirs (or does not exist).
pub async fn mark_read(
    db: &Db,
    me: i64,
    id: i64,
) -> Result<Option<InAppNotification>, sqlx::Error> {
    let mut conn = db.single_write().await?;
    sqlx::query_as(
        "UPDATE user_notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3 \
         RETURNING id, subject, body, link, created_at, read_at",
    )
    .bind(to_db_time(db.now()))
    .bind(id)
    .bind(me)
    .fetch_optional(&mut *conn)
    .await
}

/// Marks all of `me`'s notifications read; returns how many were unread.
pub async fn mark_all_read(db: &Db, me: i64) -> Result<u64, sqlx::Error> {
    let mut conn = db.single_write().await?;
    let done = sqlx::query(
        "UPDATE user_notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
    )
    .bind(to_db_time(db.now()))
    .bind(me)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// The live side of the bell (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Bell(Arc<BellInner>);

struct BellInner {
    db: Db,
    /// User ids with a new notification; a marker `0` after a read, for
    /// the reader's own other pages (see [`Bell::read_by`]).
    tx: broadcast::Sender<i64>,
    wake: Notify,
    running: AtomicBool,
    poll: Duration,
    /// The newest notification the watcher has looked at.
    last: std::sync::atomic::AtomicI64,
}

/// Broadcast when the bell closes.
const CLOSED: i64 = i64::MIN;

/// A page's subscription: [`BellUpdates::next`] answers when the count of
/// its person may have changed.
pub struct BellUpdates {
    rx: broadcast::Receiver<i64>,
    me: i64,
}

impl BellUpdates {
    /// Waits until something may have changed `me`'s count: a new
    /// notification for them, their own read on another page, or missed
    /// updates (the page lagged behind a burst). `None` when the bell is
    /// closed (the server is shutting down: open streams end, so a graceful
    /// shutdown does not wait for pages that never close).
    pub async fn next(&mut self) -> Option<()> {
        loop {
            match self.rx.recv().await {
                Ok(CLOSED) => return None,
                Ok(user) if user == self.me || user == -self.me => return Some(()),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return Some(()),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Bell {
    /// A bell over `db` whose watcher polls every `poll` while pages listen.
    pub fn new(db: Db, poll: Duration) -> Bell {
        let (tx, _) = broadcast::channel(1024);
        Bell(Arc::new(BellInner {
            db,
            tx,
            wake: Notify::new(),
            running: AtomicBool::new(false),
            poll,
            last: std::sync::atomic::AtomicI64::new(0),
        }))
    }

    /// Subscribes a page of `me`, starting the watcher if it is not running.
    ///
    /// A watcher it starts looks for notifications newer than the newest
    /// one now, read before this returns: the page counts its unread ones
    /// after that, so a notification committed in between is either in that
    /// count or newer than the watcher's start — none falls between (the
    /// watcher reading the newest itself, later, could skip one).
    pub async fn subscribe(&self, me: i64) -> BellUpdates {
        let rx = self.0.tx.subscribe();
        if !self.0.running.swap(true, Ordering::AcqRel) {
            match sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM user_notifications")
                .fetch_one(self.0.db.pool())
                .await
            {
                Ok(n) => self.0.last.store(n.unwrap_or_default(), Ordering::Release),
                Err(e) => {
                    tracing::warn!(error = %e, "notification bell: cannot read the newest notification")
                }
            }
            let inner = self.0.clone();
            tokio::spawn(async move { watch(inner).await });
        }
        BellUpdates { rx, me }
    }

    /// Asks the watcher to look now (after a commit that may have written
    /// notifications), instead of at its next poll.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Ends every open subscription (at shutdown).
    pub fn close(&self) {
        let _ = self.0.tx.send(CLOSED);
    }

    /// `me` read notifications: their other open pages update their count.
    pub fn read_by(&self, me: i64) {
        let _ = self.0.tx.send(-me);
    }
}

/// Polls for new rows while anyone listens; broadcasts their user ids.
async fn watch(inner: Arc<BellInner>) {
    let mut last = inner.last.load(Ordering::Acquire);
    loop {
        if inner.tx.receiver_count() == 0 {
            inner.running.store(false, Ordering::Release);
            // A page may have subscribed between the count and the store:
            // it found the flag set and started nothing, so go on for it.
            if inner.tx.receiver_count() == 0 || inner.running.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(inner.poll) => {}
        }
        let rows: Result<Vec<(i64, i64)>, _> = sqlx::query_as(
            "SELECT id, user_id FROM user_notifications WHERE id > $1 ORDER BY id LIMIT 1000",
        )
        .bind(last)
        .fetch_all(inner.db.pool())
        .await;
        match rows {
            Ok(rows) => {
                let mut told = Vec::new();
                for (id, user) in rows {
                    last = last.max(id);
                    inner.last.store(last, Ordering::Release);
                    if !told.contains(&user) {
                        told.push(user);
                        let _ = inner.tx.send(user);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "notification bell: database error"),
        }
    }
}
