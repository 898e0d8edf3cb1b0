//! A supplier's score from how it works with us: how often it answers our
//! requests for quotes, how fast, and how often its quotes win.
//!
//! The figures live in `supplier_stats`, updated in the transaction of every
//! answer, expiry and win (so matching reads them in one batch, without
//! aggregating the history of 10 000 suppliers per request).
//!
//! # The formula (0–100)
//!
//! `100 × (0.5 × answer rate + 0.2 × speed + 0.3 × win rate)`, where
//! - answer rate = (answered + 1) / (closed RFQs + 2): answered ones (a quote
//!   or a decline) of those whose outcome is known (answered or expired);
//! - speed = 1 for an average answer within 15 minutes, falling linearly to
//!   0 at 4 hours (0.5 before the first answer);
//! - win rate = (won + 1) / (quoted + 2): quotes the client accepted.
//!
//! The +1/+2 (Laplace smoothing) gives a new supplier a neutral 50 and keeps
//! one unlucky round from sinking anyone. Later: lateness and complaints.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use engine::{Sql, to_db_time};
use serde::Serialize;

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::services::Services;

/// The raw figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Stats {
    pub org_id: i64,
    pub rfqs: i64,
    pub answered: i64,
    pub quoted: i64,
    pub won: i64,
    pub answer_ms_total: i64,
}

/// A supplier's figures read along with other rows: the query joins
/// `supplier_stats st` and selects [`JOINED_STATS`] (zeros before the first
/// RFQ).
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub(crate) struct JoinedStats {
    st_rfqs: i64,
    st_answered: i64,
    st_quoted: i64,
    st_won: i64,
    st_answer_ms: i64,
}

pub(crate) const JOINED_STATS: &str = "CAST(COALESCE(st.rfqs, 0) AS BIGINT) AS st_rfqs, CAST(COALESCE(st.answered, 0) AS BIGINT) AS st_answered,
     CAST(COALESCE(st.quoted, 0) AS BIGINT) AS st_quoted, CAST(COALESCE(st.won, 0) AS BIGINT) AS st_won,
     CAST(COALESCE(st.answer_ms_total, 0) AS BIGINT) AS st_answer_ms";

impl JoinedStats {
    pub(crate) fn score(&self, org_id: i64) -> Score {
        compute(&Stats {
            org_id,
            rfqs: self.st_rfqs,
            answered: self.st_answered,
            quoted: self.st_quoted,
            won: self.st_won,
            answer_ms_total: self.st_answer_ms,
        })
    }
}

/// The score and the figures behind it, as the supplier card shows them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// 0–100.
    pub value: i64,
    pub rfqs: i64,
    pub answered: i64,
    pub quoted: i64,
    pub won: i64,
    /// Percent of closed RFQs answered; `None` before the first.
    pub answer_rate_pct: Option<i64>,
    /// Average minutes to answer; `None` before the first answer.
    pub avg_answer_minutes: Option<i64>,
    /// Percent of quotes won; `None` before the first quote.
    pub win_rate_pct: Option<i64>,
}

const FAST_MINUTES: f64 = 15.0;
const SLOW_MINUTES: f64 = 240.0;

/// The score of a supplier's figures (see the module docs).
pub fn compute(s: &Stats) -> Score {
    let answer = (s.answered as f64 + 1.0) / (s.rfqs.max(s.answered) as f64 + 2.0);
    let avg_minutes =
        (s.answered > 0).then(|| s.answer_ms_total as f64 / s.answered as f64 / 60_000.0);
    let speed = match avg_minutes {
        None => 0.5,
        Some(m) => (1.0 - (m - FAST_MINUTES) / (SLOW_MINUTES - FAST_MINUTES)).clamp(0.0, 1.0),
    };
    let win = (s.won as f64 + 1.0) / (s.quoted.max(s.won) as f64 + 2.0);
    let value = (100.0 * (0.5 * answer + 0.2 * speed + 0.3 * win)).round() as i64;
    let pct = |n: i64, d: i64| (d > 0).then(|| (n * 100 + d / 2) / d);
    Score {
        value: value.clamp(0, 100),
        rfqs: s.rfqs,
        answered: s.answered,
        quoted: s.quoted,
        won: s.won,
        answer_rate_pct: pct(s.answered, s.rfqs.max(s.answered)),
        avg_answer_minutes: avg_minutes.map(|m| m.round() as i64),
        win_rate_pct: pct(s.won, s.quoted.max(s.won)),
    }
}

/// Scores of several suppliers in one query (suppliers without history
/// get the neutral score).
pub async fn load(s: &Services, org_ids: &[i64]) -> DomainResult<HashMap<i64, Score>> {
    let mut out = HashMap::with_capacity(org_ids.len());
    for chunk in org_ids.chunks(500) {
        let mut sql = Sql::new(
            "SELECT org_id, rfqs, answered, quoted, won, answer_ms_total FROM supplier_stats WHERE org_id IN (",
        );
        sql.bind_list(chunk.iter().copied()).push(")");
        let rows: Vec<Stats> = sql.query_as().fetch_all(s.db.pool()).await?;
        for r in rows {
            out.insert(r.org_id, compute(&r));
        }
    }
    for id in org_ids {
        out.entry(*id).or_insert_with(|| {
            compute(&Stats {
                org_id: *id,
                ..Stats::default()
            })
        });
    }
    Ok(out)
}

/// A supplier's score, for the broker's staff (the supplier card).
pub async fn for_supplier(s: &Services, actor: &Actor, org_id: i64) -> DomainResult<Score> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    Ok(load(s, &[org_id])
        .await?
        .remove(&org_id)
        .unwrap_or_else(|| compute(&Stats::default())))
}

/// What happened to one RFQ or quote, for the figures.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    /// The supplier answered (first answer only): quoted or declined, after
    /// `answer_ms` since the RFQ was sent.
    Answered { quoted: bool, answer_ms: i64 },
    /// The round closed without an answer.
    Expired,
    /// An answer turned from a decline into a quote (or the first quote
    /// after a withdrawal): one more quote.
    Quoted,
    /// The client accepted an offer built on the supplier's quote.
    Won,
}

/// Updates a supplier's figures inside the caller's transaction.
pub(crate) async fn record(
    tx: &mut sqlx::AnyConnection,
    now: DateTime<Utc>,
    org_id: i64,
    event: Event,
) -> Result<(), sqlx::Error> {
    let (rfqs, answered, quoted, won, ms) = match event {
        Event::Answered { quoted, answer_ms } => (1, 1, i64::from(quoted), 0, answer_ms.max(0)),
        Event::Expired => (1, 0, 0, 0, 0),
        Event::Quoted => (0, 0, 1, 0, 0),
        Event::Won => (0, 0, 0, 1, 0),
    };
    sqlx::query(
        "INSERT INTO supplier_stats (org_id, rfqs, answered, quoted, won, answer_ms_total, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (org_id) DO UPDATE SET rfqs = supplier_stats.rfqs + excluded.rfqs,
           answered = supplier_stats.answered + excluded.answered,
           quoted = supplier_stats.quoted + excluded.quoted,
           won = supplier_stats.won + excluded.won,
           answer_ms_total = supplier_stats.answer_ms_total + excluded.answer_ms_total,
           updated_at = excluded.updated_at",
    )
    .bind(org_id)
    .bind(rfqs)
    .bind(answered)
    .bind(quoted)
    .bind(won)
    .bind(ms)
    .bind(to_db_time(now))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_supplier_is_neutral() {
        let s = compute(&Stats::default());
        assert_eq!(s.value, 50);
        assert_eq!(s.answer_rate_pct, None);
        assert_eq!(s.win_rate_pct, None);
    }

    #[test]
    fn answering_fast_and_winning_raises_the_score() {
        let good = compute(&Stats {
            org_id: 1,
            rfqs: 10,
            answered: 10,
            quoted: 8,
            won: 4,
            answer_ms_total: 10 * 10 * 60_000,
        });
        let silent = compute(&Stats {
            org_id: 2,
            rfqs: 10,
            answered: 1,
            quoted: 1,
            won: 0,
            answer_ms_total: 300 * 60_000,
        });
        assert!(good.value > 75, "{good:?}");
        assert!(silent.value < 30, "{silent:?}");
        assert_eq!(good.answer_rate_pct, Some(100));
        assert_eq!(good.avg_answer_minutes, Some(10));
        assert_eq!(good.win_rate_pct, Some(50));
    }
}
