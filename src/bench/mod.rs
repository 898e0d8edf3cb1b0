//! Benchmarks run from the command line (`podryad bench …`), outside the
//! domain's production code.

pub mod bank;
pub mod documents;
pub mod funnel;
pub mod matching;
pub mod pages;
pub mod sql_count;

/// A small deterministic generator (xorshift64*), so runs are comparable.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Removes a scratch database.
pub type Cleanup = Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>;

/// A scratch database: its URL and how to remove it (a PostgreSQL
/// database created on the server of the `postgres` admin URL, else a SQLite
/// file in a temporary folder).
pub async fn scratch_database(postgres: Option<&str>) -> anyhow::Result<(String, Cleanup)> {
    let suffix = format!("{}_{}", std::process::id(), chrono::Utc::now().timestamp());
    Ok(match postgres {
        Some(admin) => {
            let name = format!("podryad_bench_{suffix}");
            engine::db::create_postgres_database(admin, &name).await?;
            let admin = admin.to_string();
            let n = name.clone();
            (
                engine::testing::replace_db_name(&admin, &name),
                Box::new(move || {
                    Box::pin(async move {
                        let _ = engine::db::drop_postgres_database(&admin, &n).await;
                    })
                }),
            )
        }
        None => {
            let dir = std::env::temp_dir().join(format!("podryad-bench-{suffix}"));
            std::fs::create_dir_all(&dir)?;
            let d = dir.clone();
            (
                format!("sqlite://{}/bench.db", dir.display()),
                Box::new(move || {
                    Box::pin(async move {
                        let _ = std::fs::remove_dir_all(d);
                    })
                }),
            )
        }
    })
}

/// Runs `run` on a scratch database (see [`scratch_database`]) and a
/// scratch folder named after `name`, and removes both afterwards.
pub async fn on_scratch<T, F, Fut>(postgres: Option<&str>, name: &str, run: F) -> anyhow::Result<T>
where
    F: FnOnce(String, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let (url, cleanup) = scratch_database(postgres).await?;
    let scratch = std::env::temp_dir().join(format!(
        "podryad-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    let result = run(url, scratch.clone()).await;
    let _ = std::fs::remove_dir_all(&scratch);
    cleanup().await;
    result
}
