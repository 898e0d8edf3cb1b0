//! Runs the engine benchmark on a database URL until the CLI wires
//! `podryad bench engine`:
//!
//! ```text
//! cargo run --release -p engine --example bench -- sqlite:///tmp/bench.db [concurrency]
//! cargo run --release -p engine --example bench -- postgres://postgres@127.0.0.1:5432/bench [concurrency]
//! ```
//!
//! Use a scratch database: the benchmark fills it.

use engine::bench::{BenchOptions, run_with_pgbench};
use engine::{Db, DbOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "sqlite:///tmp/podryad-bench.db".into());
    let concurrency: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(8);
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let db = Db::connect(
        &url,
        &DbOptions {
            max_connections: (concurrency as u32 + 4).max(8),
            ..DbOptions::default()
        },
    )
    .await?;
    // The application's migrations (the engine embeds none).
    static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
    static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
    db.migrate(match db.dialect() {
        engine::Dialect::Sqlite => &SQLITE,
        engine::Dialect::Postgres => &POSTGRES,
    })
    .await?;
    let opts = if quick {
        BenchOptions {
            concurrency,
            instances: 200,
            transitions: 2_000,
            pending_timers: 1_000,
            timer_probes: 100,
            idle_seconds: 1,
        }
    } else {
        BenchOptions {
            concurrency,
            ..BenchOptions::default()
        }
    };
    let report = run_with_pgbench(&db, &url, &opts, 10).await?;
    println!("{report}");
    Ok(())
}
