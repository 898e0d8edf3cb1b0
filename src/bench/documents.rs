//! `podryad bench documents`: render time per built-in template, cold (the
//! memoisation cache emptied before each render; fonts stay parsed, as in
//! a running server) and warm (the template rendered again with different
//! data — another document number — as a server does all day).

use std::fmt;
use std::time::{Duration, Instant};

pub struct Options {
    pub cold_runs: usize,
    pub warm_runs: usize,
}

pub struct Row {
    pub key: &'static str,
    pub pages: usize,
    pub cold: (Duration, Duration),
    pub warm: (Duration, Duration),
}

pub struct Report {
    pub first: Duration,
    pub rows: Vec<Row>,
    pub options: (usize, usize),
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (percentile(&v, 50.0), percentile(&v, 99.0))
}

pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let all = documents::builtin::ALL;
    // The very first render of the process also parses the fonts.
    let first_b = all.first().ok_or_else(|| anyhow::anyhow!("no templates"))?;
    let start = Instant::now();
    documents::render(&first_b.template(), &first_b.sample_data()?)?;
    let first = start.elapsed();
    let mut rows = Vec::new();
    for b in all {
        let template = b.template();
        let mut data = b.sample_data()?;
        let mut cold = Vec::with_capacity(opts.cold_runs);
        let mut pages = 0;
        for _ in 0..opts.cold_runs {
            documents::clear_cache();
            let t = Instant::now();
            let r = documents::render(&template, &data)?;
            cold.push(t.elapsed());
            pages = r.pages;
        }
        let mut warm = Vec::with_capacity(opts.warm_runs);
        documents::render(&template, &data)?;
        for i in 0..opts.warm_runs {
            let number = format!("BENCH-{i:06}");
            if let Some(doc) = data.get_mut("document") {
                doc["number"] = serde_json::json!(number);
            } else if let Some(c) = data.get_mut("contract") {
                c["number"] = serde_json::json!(number);
            }
            let t = Instant::now();
            documents::render(&template, &data)?;
            warm.push(t.elapsed());
        }
        rows.push(Row {
            key: b.key,
            pages,
            cold: p50_p99(cold),
            warm: p50_p99(warm),
        });
    }
    Ok(Report {
        first,
        rows,
        options: (opts.cold_runs, opts.warm_runs),
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Document rendering (Typst → PDF), {} cold and {} warm renders per template",
            self.options.0, self.options.1
        )?;
        writeln!(
            f,
            "first render of the process (fonts parsed): {} ms",
            ms(self.first)
        )?;
        writeln!(
            f,
            "{:<22} {:>5} {:>12} {:>12} {:>12} {:>12}",
            "template", "pages", "cold p50 ms", "cold p99 ms", "warm p50 ms", "warm p99 ms"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<22} {:>5} {:>12} {:>12} {:>12} {:>12}",
                r.key,
                r.pages,
                ms(r.cold.0),
                ms(r.cold.1),
                ms(r.warm.0),
                ms(r.warm.1)
            )?;
        }
        let worst = self.rows.iter().map(|r| r.warm.1).max().unwrap_or_default();
        write!(
            f,
            "worst warm p99: {} ms (target < 150 ms: {})",
            ms(worst),
            if worst < Duration::from_millis(150) {
                "met"
            } else {
                "NOT met"
            }
        )
    }
}
