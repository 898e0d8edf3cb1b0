//! Counting the database work of a counted [`engine::Db`]
//! ([`engine::Db::connect_counted`]): its write transactions come from the
//! `Db` itself, its statements from sqlx's statement log, which a counted
//! database writes at `TRACE` under the target `sqlx::query` and this
//! tracing layer counts.
//!
//! Off by default twice over: only a counted database logs at `TRACE` (an
//! ordinary one logs at sqlx's `DEBUG`, which this layer never looks at), and
//! the layer counts only while [`set_active`] is on — when it is off, sqlx
//! does not even format the log line. Statements are counted per round trip
//! (a multi-statement query counts once); transaction control (`BEGIN`,
//! `COMMIT`, `SAVEPOINT`…) is not a statement here — transactions are
//! counted on their own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static READS: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Starts or stops counting statements.
pub fn set_active(on: bool) {
    ACTIVE.store(on, Ordering::Relaxed);
}

fn counted_callsite(meta: &Metadata<'_>) -> bool {
    meta.target() == "sqlx::query" && *meta.level() == Level::TRACE
}

/// The counting layer, filtered to the statement log of counted databases.
/// Add it next to the log output's own layer (whose filter must be a
/// per-layer one, so that it does not hide these events from this layer).
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = DynFilterFn::new(|meta: &Metadata<'_>, _cx: &Context<'_, S>| {
        counted_callsite(meta) && ACTIVE.load(Ordering::Relaxed)
    })
    .with_callsite_filter(|meta| {
        if counted_callsite(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    });
    StatementCounter.with_filter(filter)
}

/// Counts the statements sqlx logs (see the module docs).
pub struct StatementCounter;

impl<S: Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut v = Summary(None);
        event.record(&mut v);
        let first = v.0.unwrap_or_default();
        match first.as_str() {
            "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "END" => {}
            // A pool opening a connection sets it up (SQLite's pragmas,
            // PostgreSQL's session settings): not the request's work, and
            // when it happens depends on the pool, so it is not counted.
            "PRAGMA" | "SET" => {}
            "SELECT" | "WITH" => {
                READS.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                WRITES.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The first word of sqlx's `summary` field, upper-cased.
struct Summary(Option<String>);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value
                .split_whitespace()
                .next()
                .map(|w| w.trim_start_matches('(').to_ascii_uppercase());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" && self.0.is_none() {
            let text = format!("{value:?}");
            self.record_str(field, text.trim_matches('"'));
        }
    }
}

/// A reading of the counters; subtract two readings for what happened
/// between them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Write transactions ([`engine::Db::begin`]).
    pub write_tx: u64,
    /// Statements that read (`SELECT`, `WITH`).
    pub reads: u64,
    /// Other statements (`INSERT`, `UPDATE`, `DELETE`, multi-statement writes).
    pub writes: u64,
}

impl Counts {
    /// The counters now, for `db` (which must be counted for `write_tx`).
    pub fn now(db: &engine::Db) -> Counts {
        Counts {
            write_tx: db.counter().map(|c| c.write_transactions()).unwrap_or(0),
            reads: READS.load(Ordering::Relaxed),
            writes: WRITES.load(Ordering::Relaxed),
        }
    }

    pub fn statements(&self) -> u64 {
        self.reads + self.writes
    }

    /// What happened since `earlier`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            write_tx: self.write_tx.saturating_sub(earlier.write_tx),
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.write_tx += other.write_tx;
        self.reads += other.reads;
        self.writes += other.writes;
    }
}
