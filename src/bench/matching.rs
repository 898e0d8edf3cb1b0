//! `podryad bench matching`: fills a scratch database with suppliers and
//! machines spread over Russia's cities (documents, busy days, scores) and
//! times [`domain::deals::matching::run`] per request.

use std::fmt;
use std::time::Instant;

use chrono::Duration;
use engine::{Sql, to_db_time};
use serde_json::{Map, Value, json};

use domain::deals::matching::{self, RequestRow};
use domain::error::DomainResult;
use domain::fleet::catalogue::SpecType;
use domain::fleet::garage;
use domain::services::Services;

use super::Rng;

/// Cities the generated bases and sites gather around (lat, lon).
const CITIES: [(f64, f64); 24] = [
    (55.75, 37.62),
    (59.94, 30.31),
    (55.03, 82.92),
    (56.84, 60.61),
    (55.79, 49.11),
    (56.33, 44.00),
    (55.16, 61.40),
    (53.20, 50.15),
    (54.99, 73.37),
    (47.23, 39.72),
    (54.73, 55.96),
    (56.01, 92.87),
    (51.67, 39.18),
    (58.01, 56.25),
    (48.71, 44.51),
    (45.04, 38.98),
    (51.53, 46.03),
    (57.15, 65.53),
    (53.35, 83.78),
    (52.29, 104.28),
    (43.12, 131.89),
    (48.48, 135.07),
    (54.71, 20.51),
    (61.25, 73.40),
];

/// What to generate and measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub suppliers: usize,
    pub machines: usize,
    pub requests: usize,
    /// Towns the bases are spread over (0: around the 24 centres only).
    pub towns: usize,
}

/// The figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub dialect: String,
    pub towns: usize,
    pub suppliers: usize,
    pub machines: usize,
    pub documents: usize,
    pub fill_secs: f64,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_considered: f64,
    pub mean_fitting_suppliers: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "matching benchmark on {}", self.dialect)?;
        writeln!(
            f,
            "  data: {} suppliers, {} machines in {} towns, {} documents (filled in {:.1} s)",
            self.suppliers, self.machines, self.towns, self.documents, self.fill_secs
        )?;
        writeln!(
            f,
            "  {} requests: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms per request",
            self.requests, self.p50_ms, self.p99_ms, self.max_ms
        )?;
        write!(
            f,
            "  per request: {:.0} machines considered, {:.1} suppliers fitting",
            self.mean_considered, self.mean_fitting_suppliers
        )
    }
}

async fn insert_rows(
    s: &Services,
    head: &str,
    columns: usize,
    rows: &[Vec<engine::Param>],
) -> DomainResult<()> {
    let mut tx = s.db.begin().await?;
    for chunk in rows.chunks(500) {
        let mut sql = Sql::new(head);
        for (i, row) in chunk.iter().enumerate() {
            sql.push(if i == 0 { " (" } else { ", (" });
            for (j, p) in row.iter().take(columns).enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(p.clone());
            }
            sql.push(")");
        }
        sql.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn specs_for(rng: &mut Rng, category: &domain::fleet::catalogue::Category) -> Map<String, Value> {
    let mut m = Map::new();
    for spec in &category.specs {
        let v = match spec.kind {
            SpecType::Integer => json!(
                rng.range(spec.min.unwrap_or(1.0), spec.max.unwrap_or(100.0))
                    .round() as i64
            ),
            SpecType::Decimal => {
                json!(
                    (rng.range(spec.min.unwrap_or(1.0), spec.max.unwrap_or(50.0)) * 10.0).round()
                        / 10.0
                )
            }
            SpecType::Boolean => json!(rng.unit() < 0.5),
            SpecType::Choice => match spec.options.get(rng.below(spec.options.len())) {
                Some(o) => json!(o),
                None => continue,
            },
        };
        m.insert(spec.code.clone(), v);
    }
    m
}

/// Fills the database and measures. The database must be empty (migrated).
pub async fn run(s: &Services, o: &BenchOptions) -> DomainResult<BenchReport> {
    let started = Instant::now();
    let now = s.db.now();
    let now_ms = to_db_time(now);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let base: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM organisations")
            .fetch_one(s.db.pool())
            .await?;
    // Suppliers: 95 % approved, the rest suspended or pending.
    let orgs: Vec<Vec<engine::Param>> = (0..o.suppliers)
        .map(|i| {
            let status = match rng.below(100) {
                0..=94 => "approved",
                95..=97 => "suspended",
                _ => "pending",
            };
            vec![
                "supplier".into(),
                "ooo".into(),
                format!("ООО «Поставщик {i}»").into(),
                status.into(),
                "vat22".into(),
                now_ms.into(),
                now_ms.into(),
            ]
        })
        .collect();
    insert_rows(
        s,
        "INSERT INTO organisations (kind, legal_form, name, status, vat_mode, created_at, updated_at) VALUES",
        7,
        &orgs,
    )
    .await?;
    let org_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM organisations WHERE kind = 'supplier' AND id > $1 ORDER BY id",
    )
    .bind(base)
    .fetch_all(s.db.pool())
    .await?;
    let mut stats: Vec<Vec<engine::Param>> = Vec::new();
    for id in &org_ids {
        if rng.unit() < 0.5 {
            continue;
        }
        stats.push({
            let rfqs = rng.below(40) as i64 + 1;
            let answered = rng.below(rfqs as usize + 1) as i64;
            let quoted = rng.below(answered as usize + 1) as i64;
            let won = rng.below(quoted as usize + 1) as i64;
            vec![
                (*id).into(),
                rfqs.into(),
                answered.into(),
                quoted.into(),
                won.into(),
                (answered * rng.below(120 * 60_000) as i64).into(),
                now_ms.into(),
            ]
        });
    }
    insert_rows(
        s,
        "INSERT INTO supplier_stats (org_id, rfqs, answered, quoted, won, answer_ms_total, updated_at) VALUES",
        7,
        &stats,
    )
    .await?;
    // Machines in towns around the regional centres (ten towns each, within
    // ~300 km), as a country's fleet is spread; `towns: 0` puts every base
    // near a centre instead (the densest case).
    let towns: Vec<(f64, f64)> = if o.towns == 0 {
        CITIES.to_vec()
    } else {
        (0..o.towns)
            .map(|i| {
                let (lat, lon) = CITIES[i % CITIES.len()];
                (lat + rng.range(-2.5, 2.5), lon + rng.range(-4.0, 4.0))
            })
            .collect()
    };
    let spread = if o.towns == 0 {
        (0.8, 1.2)
    } else {
        (0.3, 0.45)
    };
    let categories = &s.equipment.categories;
    let mut machines = Vec::with_capacity(o.machines);
    for _ in 0..o.machines {
        let c = &categories[rng.below(categories.len())];
        let (lat, lon) = towns[rng.below(towns.len())];
        let org = org_ids[rng.below(org_ids.len())];
        machines.push(vec![
            org.into(),
            c.code.clone().into(),
            "Марка".into(),
            "Модель".into(),
            Value::Object(specs_for(&mut rng, c)).to_string().into(),
            (lat + rng.range(-spread.0, spread.0)).into(),
            (lon + rng.range(-spread.1, spread.1)).into(),
            (rng.range(20.0, 200.0).round() as i64).into(),
            "active".into(),
            now_ms.into(),
            now_ms.into(),
        ]);
    }
    insert_rows(
        s,
        "INSERT INTO machines (org_id, category, make, model, specs, base_lat, base_lon, service_radius_km, status, created_at, updated_at) VALUES",
        11,
        &machines,
    )
    .await?;
    drop(machines);
    let rows: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, org_id, category FROM machines WHERE org_id > $1 ORDER BY id")
            .bind(base)
            .fetch_all(s.db.pool())
            .await?;
    // Mandatory documents (5 % expired), busy days (5 % of machines, one day
    // in the next ten).
    let today = garage::today(s);
    let mut docs = Vec::new();
    let mut busy = Vec::new();
    for (id, org, category) in &rows {
        if let Some(c) = s.equipment.category(category) {
            for kind in &c.documents {
                let expired = rng.unit() < 0.05;
                let until = if expired {
                    today - Duration::days(3)
                } else {
                    today + Duration::days(200)
                };
                docs.push(vec![
                    (*id).into(),
                    (*org).into(),
                    kind.clone().into(),
                    garage::ymd(today - Duration::days(200)).into(),
                    garage::ymd(until).into(),
                    now_ms.into(),
                    now_ms.into(),
                ]);
            }
        }
        if rng.unit() < 0.05 {
            busy.push(vec![
                (*id).into(),
                garage::ymd(today + Duration::days(rng.below(10) as i64)).into(),
            ]);
        }
    }
    insert_rows(
        s,
        "INSERT INTO machine_documents (machine_id, org_id, kind, valid_from, valid_until, created_at, updated_at) VALUES",
        7,
        &docs,
    )
    .await?;
    insert_rows(
        s,
        "INSERT INTO machine_busy_days (machine_id, day) VALUES",
        2,
        &busy,
    )
    .await?;
    // Fresh statistics, as a running database has them.
    let mut tx = s.db.begin().await?;
    sqlx::query("ANALYZE").execute(&mut *tx).await?;
    tx.commit().await?;
    let fill_secs = started.elapsed().as_secs_f64();
    // Requests of every type, at cities, in the next week.
    let types = &s.request_types.0;
    let mut times = Vec::with_capacity(o.requests);
    let mut considered = 0usize;
    let mut fitting = 0usize;
    for i in 0..o.requests {
        let t = &types[i % types.len()];
        let (lat, lon) = towns[rng.below(towns.len())];
        let mut fields = Map::new();
        for f in &t.fields {
            let v = match f.kind {
                domain::intake::request_types::FieldKind::Decimal
                | domain::intake::request_types::FieldKind::Integer => match (f.min, f.max) {
                    (Some(a), Some(b)) if f.required => {
                        json!((rng.range(a, (a + b) / 10.0) * 10.0).round() / 10.0)
                    }
                    _ => continue,
                },
                domain::intake::request_types::FieldKind::Category => {
                    match t.categories.get(rng.below(t.categories.len())) {
                        Some(c) => json!(c),
                        None => continue,
                    }
                }
                domain::intake::request_types::FieldKind::Choice if f.required => {
                    json!(f.options[rng.below(f.options.len())])
                }
                _ => continue,
            };
            fields.insert(f.id.clone(), v);
        }
        let r = RequestRow {
            id: 0,
            number: format!("B-{i}"),
            request_type: t.code.clone(),
            client_org_id: 0,
            owner_user_id: None,
            status: "ready_for_matching".into(),
            site_address: Some("г. Москва".into()),
            site_lat: Some(lat + rng.range(-0.3, 0.3)),
            site_lon: Some(lon + rng.range(-0.4, 0.4)),
            site_timezone: Some("Europe/Moscow".into()),
            wanted_from: Some(to_db_time(now + Duration::days(1 + rng.below(7) as i64))),
            wanted_to: None,
            duration: Some(4.0),
            fields: Value::Object(fields).to_string(),
        };
        let t0 = Instant::now();
        let m = matching::run(s, &r).await?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        considered += m.machines_considered;
        fitting += m.fitting().count();
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let n = o.requests.max(1) as f64;
    Ok(BenchReport {
        dialect: format!("{:?}", s.db.dialect()),
        towns: towns.len(),
        suppliers: org_ids.len(),
        machines: rows.len(),
        documents: docs.len(),
        fill_secs,
        requests: o.requests,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: times.last().copied().unwrap_or(0.0),
        mean_considered: considered as f64 / n,
        mean_fitting_suppliers: fitting as f64 / n,
    })
}
