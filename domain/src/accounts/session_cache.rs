//! Who is behind a session cookie, remembered between requests.
//!
//! Every request of a signed-in person asks [`super::actor_for_session`]
//! who they are; reading the session, the user and their roles each time was
//! two statements of every page. The answer is kept per session (by the
//! token's hash) for at most [`MAX_AGE`], and forgotten as soon as anything
//! it depends on changes:
//!
//! - in this process, by the code that changes it, after its commit
//!   ([`forget_session`] on sign-out, [`forget_user`] when a password is set,
//!   roles or status change, an employee is archived);
//! - on PostgreSQL, for every app server, by the database itself: triggers on
//!   `users`, `user_roles` and `sessions` (migration 0020) send the user's id
//!   on the channel [`CHANNEL`], which [`listen`] hears. The cache is used
//!   only while that listener is connected; when it loses the connection the
//!   cache is emptied (it may have missed something) and stays unused until
//!   the listener is back. A change made by code that forgot to call
//!   `forget_*` is therefore seen at once on PostgreSQL, and within
//!   [`MAX_AGE`] on SQLite (one app server per file).
//!
//! A lookup that raced a change is not cached: each forgetting bumps a
//! generation, and an answer read before the bump is dropped instead of
//! stored.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use engine::{CancellationToken, Db, Dialect};

use crate::access::Actor;

/// The PostgreSQL notification channel of changed users.
pub const CHANNEL: &str = "podryad_auth";

/// The longest an answer is kept (a safety net under the forgetting).
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Sessions kept at most; the cache is emptied when it is full.
const CAPACITY: usize = 50_000;

/// A remembered answer.
#[derive(Clone)]
pub(super) struct Cached {
    pub actor: Actor,
    /// The session's expiry and last use (UTC ms), as stored.
    pub expires_at: i64,
    pub last_seen_at: i64,
    stored: Instant,
}

/// The cache of one database (kept with it: [`Db::shared`]).
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, Cached>>,
    generation: AtomicU64,
    /// PostgreSQL only: the listener is connected.
    listening: AtomicBool,
}

impl SessionCache {
    pub(super) fn of(db: &Db) -> std::sync::Arc<SessionCache> {
        db.shared::<SessionCache>()
    }

    /// Whether answers may be kept and used (see the module docs).
    pub(super) fn usable(&self, db: &Db) -> bool {
        match db.dialect() {
            Dialect::Sqlite => true,
            Dialect::Postgres => self.listening.load(Ordering::Acquire),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered answer for a token hash, if still fresh.
    pub(super) fn get(&self, hash: &str) -> Option<Cached> {
        let mut entries = self.lock();
        match entries.get(hash) {
            Some(c) if c.stored.elapsed() < MAX_AGE => Some(c.clone()),
            Some(_) => {
                entries.remove(hash);
                None
            }
            None => None,
        }
    }

    /// The generation to pass to [`SessionCache::put`], read before the lookup.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers an answer read since `generation` — unless something was
    /// forgotten meanwhile (the answer may predate that change).
    pub(super) fn put(
        &self,
        hash: String,
        actor: Actor,
        expires_at: i64,
        last_seen_at: i64,
        generation: u64,
    ) {
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            hash,
            Cached {
                actor,
                expires_at,
                last_seen_at,
                stored: Instant::now(),
            },
        );
    }

    fn forget_where(&self, mut gone: impl FnMut(&str, &Cached) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|h, c| !gone(h, c));
    }

    fn clear(&self) {
        self.forget_where(|_, _| true);
    }
}

/// Whether sessions of `db` are being cached now (on PostgreSQL: whether
/// the listener is connected).
pub fn in_use(db: &Db) -> bool {
    SessionCache::of(db).usable(db)
}

/// Forgets one session (signed out). Call after the commit.
pub fn forget_session(db: &Db, token_hash: &str) {
    SessionCache::of(db).forget_where(|h, _| h == token_hash);
}

/// Forgets every session of a user whose password, roles, status or
/// sessions changed. Call after the commit.
pub fn forget_user(db: &Db, user_id: i64) {
    SessionCache::of(db).forget_where(|_, c| c.actor.user_id() == user_id);
}

/// Hears, on PostgreSQL, which users changed on any app server (see the
/// module docs), until `shutdown`. Reconnects after losing the connection;
/// meanwhile the cache is unused. Does nothing on SQLite.
pub async fn listen(db: Db, url: String, shutdown: CancellationToken) {
    if db.dialect() != Dialect::Postgres {
        return;
    }
    let cache = SessionCache::of(&db);
    while !shutdown.is_cancelled() {
        let mut listener = match connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "session cache: cannot listen for changes; sessions are read from the database");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        // Anything changed before the listener was up may be cached: start
        // afresh.
        cache.clear();
        cache.listening.store(true, Ordering::Release);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                next = listener.try_recv() => match next {
                    Ok(Some(n)) => match n.payload().parse::<i64>() {
                        Ok(user_id) => forget_user(&db, user_id),
                        Err(_) => cache.clear(),
                    },
                    // The connection dropped: notifications may be lost.
                    Ok(None) | Err(_) => break,
                },
            }
        }
        cache.listening.store(false, Ordering::Release);
        cache.clear();
    }
    cache.listening.store(false, Ordering::Release);
}

async fn connect(url: &str) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
