//! Benchmarks of the engine on a given database (`podryad bench engine`).
//!
//! Run it on a scratch database: it creates definitions `bench_*`, many
//! instances and 100k timers. It measures instances started per second,
//! durable transitions per second at a concurrency N with step latency
//! percentiles, timer-firing lag with many pending timers, and the CPU the
//! process uses while the workers are idle. [`pgbench_tps`] runs PostgreSQL's
//! own `pgbench -N` at the same concurrency for comparison.
//!
//! A "transition" is one `emit` that moves an instance between two states:
//! a read of the instance row, then one transaction with the version-checked
//! UPDATE and the history INSERT.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::db::{Db, Dialect, to_db_time};
use crate::engine::{Engine, EngineConfig};
use crate::step::ObjectRef;

const PINGPONG: &str = r#"
id: bench_pingpong
title: Benchmark ping-pong
object: bench
events: [ping, pong]
initial: left
states:
  left:
    on:
      - event: ping
        to: right
  right:
    on:
      - event: pong
        to: left
"#;

const PROBE: &str = r#"
id: bench_timer
title: Benchmark timer
object: bench
initial: waiting
states:
  waiting:
    on:
      - after: 2s
        to: done
  done:
    terminal: true
"#;

/// What to measure.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOptions {
    /// Concurrent callers.
    pub concurrency: usize,
    /// Instances started (then used for transitions).
    pub instances: usize,
    /// Transitions in total, spread over the callers.
    pub transitions: usize,
    /// Far-future timers present while timer lag is measured.
    pub pending_timers: usize,
    /// Timers whose firing lag is measured.
    pub timer_probes: usize,
    /// Seconds the idle CPU is measured over.
    pub idle_seconds: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            concurrency: 8,
            instances: 2_000,
            transitions: 20_000,
            pending_timers: 100_000,
            timer_probes: 1_000,
            idle_seconds: 5,
        }
    }
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub dialect: String,
    pub options: BenchOptions,
    pub starts_per_sec: f64,
    pub transitions_per_sec: f64,
    pub step_p50_ms: f64,
    pub step_p99_ms: f64,
    pub timer_lag_p50_ms: f64,
    pub timer_lag_p99_ms: f64,
    pub timers_fired: usize,
    /// CPU time of this process while idle, in % of one core.
    pub idle_cpu_percent: Option<f64>,
    /// `pgbench -N` at the same concurrency, when run.
    pub pgbench_tps: Option<f64>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "engine benchmark on {} (concurrency {})",
            self.dialect, o.concurrency
        )?;
        writeln!(
            f,
            "  instances started      {:>10.0} /s   ({} instances)",
            self.starts_per_sec, o.instances
        )?;
        writeln!(
            f,
            "  durable transitions    {:>10.0} /s   ({} transitions)",
            self.transitions_per_sec, o.transitions
        )?;
        writeln!(
            f,
            "  step latency           p50 {:.2} ms, p99 {:.2} ms",
            self.step_p50_ms, self.step_p99_ms
        )?;
        writeln!(
            f,
            "  timer lag              p50 {:.0} ms, p99 {:.0} ms   ({} timers fired, {} pending)",
            self.timer_lag_p50_ms, self.timer_lag_p99_ms, self.timers_fired, o.pending_timers
        )?;
        match self.idle_cpu_percent {
            Some(c) => writeln!(
                f,
                "  idle CPU (this process) {c:.2} % of one core over {} s",
                o.idle_seconds
            )?,
            None => writeln!(f, "  idle CPU               not measured (no /proc)")?,
        }
        if let Some(tps) = self.pgbench_tps {
            let ratio = if tps > 0.0 {
                self.transitions_per_sec / tps * 100.0
            } else {
                0.0
            };
            writeln!(
                f,
                "  pgbench -N             {tps:>10.0} tps  → engine = {ratio:.0} % of pgbench"
            )?;
        }
        Ok(())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// CPU seconds (user + system) used by this process so far.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every mainstream kernel.
    Some((utime + stime) / 100.0)
}

/// Runs the benchmark on `db` (a scratch database, migrated).
pub async fn run(db: &Db, opts: &BenchOptions) -> anyhow::Result<BenchReport> {
    let engine = Engine::builder(db.clone())
        .object_kind("bench")
        .config(EngineConfig {
            poll_interval: Duration::from_millis(500),
            ..EngineConfig::default()
        })
        .build();
    for yaml in [PINGPONG, PROBE] {
        let v = engine.save_draft(yaml, None).await?;
        engine.activate(v.id, None).await?;
    }
    let conc = opts.concurrency.max(1);
    let run_id = to_db_time(db.now());

    // 1. Starts.
    let per = opts.instances.div_ceil(conc);
    let t = Instant::now();
    let mut handles = Vec::new();
    for w in 0..conc {
        let e = engine.clone();
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(per);
            for i in 0..per {
                let obj = ObjectRef {
                    kind: "bench".into(),
                    id: run_id + (w * per + i) as i64,
                };
                ids.push(
                    e.start("bench_pingpong", obj, Map::new(), None)
                        .await?
                        .instance_id,
                );
            }
            anyhow::Ok(ids)
        }));
    }
    let mut owned: Vec<Vec<i64>> = Vec::new();
    for h in handles {
        owned.push(h.await??);
    }
    let started: usize = owned.iter().map(Vec::len).sum();
    let starts_per_sec = started as f64 / t.elapsed().as_secs_f64();

    // 2. Transitions: each caller drives its own instances (no conflicts).
    let per_worker = opts.transitions.div_ceil(conc);
    let t = Instant::now();
    let mut handles = Vec::new();
    for ids in owned {
        let e = engine.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            let mut at_right = vec![false; ids.len()];
            for i in 0..per_worker {
                let k = i % ids.len().max(1);
                let ev = if at_right[k] { "pong" } else { "ping" };
                let s = Instant::now();
                e.emit(ids[k], ev, Value::Null, None).await?;
                lat.push(s.elapsed().as_secs_f64() * 1000.0);
                at_right[k] = !at_right[k];
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await??);
    }
    let transitions_per_sec = lat.len() as f64 / t.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);

    // 3. Timer lag with many pending timers.
    insert_pending_timers(db, opts.pending_timers, run_id).await?;
    let shutdown = CancellationToken::new();
    let workers = engine.spawn_workers(shutdown.clone());
    let probes = opts.timer_probes;
    let spread = Duration::from_millis(2000);
    let t = Instant::now();
    let mut probe_ids = Vec::with_capacity(probes);
    for i in 0..probes {
        let target = spread.mul_f64(i as f64 / probes.max(1) as f64);
        if let Some(wait) = target.checked_sub(t.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let obj = ObjectRef {
            kind: "bench".into(),
            id: run_id + 10_000_000 + i as i64,
        };
        probe_ids.push(
            engine
                .start("bench_timer", obj, Map::new(), None)
                .await?
                .instance_id,
        );
    }
    // Wait until every probe fired (2 s delay + lag), at most 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    let lags = loop {
        let lags = probe_lags(db, run_id).await?;
        if lags.len() >= probes || Instant::now() > deadline {
            break lags;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut lags = lags;
    lags.sort_by(f64::total_cmp);

    // 4. Idle CPU: workers running, nothing due.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_cpu_percent = match cpu_seconds() {
        Some(c0) => {
            tokio::time::sleep(Duration::from_secs(opts.idle_seconds.max(1))).await;
            cpu_seconds().map(|c1| (c1 - c0) / opts.idle_seconds.max(1) as f64 * 100.0)
        }
        None => None,
    };
    shutdown.cancel();
    for w in workers {
        let _ = w.await;
    }
    Ok(BenchReport {
        dialect: match db.dialect() {
            Dialect::Sqlite => "SQLite".into(),
            Dialect::Postgres => "PostgreSQL".into(),
        },
        options: opts.clone(),
        starts_per_sec,
        transitions_per_sec,
        step_p50_ms: percentile(&lat, 0.50),
        step_p99_ms: percentile(&lat, 0.99),
        timer_lag_p50_ms: percentile(&lags, 0.50),
        timer_lag_p99_ms: percentile(&lags, 0.99),
        timers_fired: lags.len(),
        idle_cpu_percent,
        pgbench_tps: None,
    })
}

/// Lag of each fired probe timer: when its step ran minus when it was due
/// (start + 2 s).
async fn probe_lags(db: &Db, run_id: i64) -> anyhow::Result<Vec<f64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT i.created_at, h.at FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id \
         WHERE i.definition_key = 'bench_timer' AND i.object_id >= $1 AND h.trigger_kind = 'timer'",
    )
    .bind(run_id + 10_000_000)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(c, at)| (at - (c + 2000)).max(0) as f64)
        .collect())
}

/// Inserts `n` instances of `bench_timer` with a timer a day away, in bulk
/// (starting them one by one would measure starts again, not timers).
async fn insert_pending_timers(db: &Db, n: usize, run_id: i64) -> anyhow::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let def_id: i64 = sqlx::query_scalar(
        "SELECT id FROM wf_definitions WHERE key = 'bench_timer' AND status = 'active'",
    )
    .fetch_one(db.pool())
    .await?;
    let now = to_db_time(db.now());
    let day = 86_400_000;
    const BATCH: usize = 500;
    let mut done = 0;
    while done < n {
        let m = BATCH.min(n - done);
        let mut tx = db.begin().await?;
        let mut sql = String::from(
            "INSERT INTO wf_instances (definition_id, definition_key, object_kind, object_id, state, data, version, created_at, updated_at) VALUES ",
        );
        for i in 0..m {
            if i > 0 {
                sql.push(',');
            }
            let obj = run_id + 20_000_000 + (done + i) as i64;
            sql.push_str(&format!(
                "({def_id}, 'bench_timer', 'bench', {obj}, 'waiting', '{{}}', 1, {now}, {now})"
            ));
        }
        sql.push_str(" RETURNING id");
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *tx)
            .await?;
        let mut sql = String::from(
            "INSERT INTO wf_timers (instance_id, kind, key, due_at, payload, created_at) VALUES ",
        );
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let due = now + day + (i as i64 % 1000) * 1000;
            sql.push_str(&format!(
                "({id}, 'after', 's:waiting:0', {due}, 'null', {now})"
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done += m;
    }
    Ok(())
}

/// Runs `pgbench -N` (simple-update, TPC-B-like without the contended
/// branch/teller updates) against `url` with `clients` clients for
/// `seconds`, after initialising its tables at scale 1 (`pgbench -i`, which
/// creates `pgbench_*` tables in that database). Returns transactions/s.
pub fn pgbench_tps(url: &str, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let init = std::process::Command::new("pgbench")
        .args(["-i", "-q", "-s", "1", url])
        .output()?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let c = clients.max(1).to_string();
    let t = seconds.max(1).to_string();
    let out = std::process::Command::new("pgbench")
        .args(["-N", "-n", "-c", &c, "-j", &c, "-T", &t, url])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output:\n{text}"))
}

/// A convenience for the CLI: the benchmark, plus pgbench on PostgreSQL.
pub async fn run_with_pgbench(
    db: &Db,
    url: &str,
    opts: &BenchOptions,
    pgbench_seconds: u64,
) -> anyhow::Result<BenchReport> {
    let mut report = run(db, opts).await?;
    if db.dialect() == Dialect::Postgres {
        let url = url.to_string();
        let clients = opts.concurrency;
        report.pgbench_tps =
            tokio::task::spawn_blocking(move || pgbench_tps(&url, clients, pgbench_seconds))
                .await?
                .map_err(|e| tracing::warn!(error = %e, "pgbench"))
                .ok();
    }
    Ok(report)
}
