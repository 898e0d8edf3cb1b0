//! Fixed-window rate limits shared by every app server: the counters are
//! rows of `rate_limits` (key, window start, hits), so two servers behind a
//! load balancer count the same visitor together. Used by the public request
//! form (per client address); any other "N per period per key" limit can use
//! it too.
//!
//! A window starts at the first hit after the previous one ended and lasts
//! `window`; within it at most `limit` hits pass. Every attempt counts,
//! refused ones included, so a flood keeps being refused until it stops.

use chrono::Duration;
use engine::{Db, to_db_time};

use crate::error::{DomainError, DomainResult};

/// A limit: at most `limit` hits per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub limit: u32,
    pub window: Duration,
}

impl Limit {
    /// Parses `10/10m`, `100/1h`, `5/30s` (hits per window).
    pub fn parse(text: &str) -> Option<Limit> {
        let (n, w) = text.trim().split_once('/')?;
        let limit: u32 = n.trim().parse().ok()?;
        let w = w.trim();
        let (digits, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit())?);
        let amount: i64 = digits.parse().ok()?;
        let window = match unit {
            "s" => Duration::seconds(amount),
            "m" => Duration::minutes(amount),
            "h" => Duration::hours(amount),
            "d" => Duration::days(amount),
            _ => return None,
        };
        (limit > 0 && amount > 0).then_some(Limit { limit, window })
    }
}

/// Counts one hit of `key`; refuses it (with the seconds until the window
/// ends) when the window already had `limit` hits.
pub async fn hit(db: &Db, key: &str, limit: Limit) -> DomainResult<()> {
    let now = db.now();
    let now_ms = to_db_time(now);
    let expired_before = to_db_time(now - limit.window);
    let mut tx = db.begin().await?;
    // One statement on both databases: a new key starts a window; a key
    // whose window ended starts a new one; otherwise the hit is counted.
    let (start, hits): (i64, i64) = sqlx::query_as(
        "INSERT INTO rate_limits (key, window_start_at, hits) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET
           window_start_at = CASE WHEN rate_limits.window_start_at <= $3 THEN $2 ELSE rate_limits.window_start_at END,
           hits = CASE WHEN rate_limits.window_start_at <= $3 THEN 1 ELSE rate_limits.hits + 1 END
         RETURNING window_start_at, hits",
    )
    .bind(key)
    .bind(now_ms)
    .bind(expired_before)
    .fetch_one(&mut *tx)
    .await?;
    if hits == 1 {
        // A new window: forget counters that ended long ago, so the table
        // stays as small as the set of recent visitors.
        sqlx::query("DELETE FROM rate_limits WHERE window_start_at < $1")
            .bind(to_db_time(now - Duration::days(1) - limit.window))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if hits > i64::from(limit.limit) {
        let ends = start + limit.window.num_milliseconds();
        let retry_after_secs = ((ends - now_ms) + 999) / 1000;
        return Err(DomainError::Throttled {
            retry_after_secs: retry_after_secs.max(1),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        assert_eq!(
            Limit::parse("10/10m"),
            Some(Limit {
                limit: 10,
                window: Duration::minutes(10)
            })
        );
        assert_eq!(
            Limit::parse("5/30s").map(|l| l.window.num_seconds()),
            Some(30)
        );
        assert_eq!(Limit::parse("0/10m"), None);
        assert_eq!(Limit::parse("10/10"), None);
        assert_eq!(Limit::parse("ten/10m"), None);
    }
}
