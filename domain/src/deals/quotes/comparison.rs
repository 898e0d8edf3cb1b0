use super::*;

// ---------------------------------------------------------------------------
// The staff's comparison

/// Weights of the suggested best (see the module docs).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Weights {
    pub price: i64,
    pub arrival: i64,
    pub distance: i64,
    pub supplier: i64,
    pub payment: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            price: 50,
            arrival: 20,
            distance: 10,
            supplier: 15,
            payment: 5,
        }
    }
}

impl Weights {
    /// From the request workflow's data (`score_weight_*`), defaults for
    /// what is missing or negative.
    pub fn from_data(data: &serde_json::Map<String, Value>) -> Weights {
        let d = Weights::default();
        let w = |k: &str, def: i64| {
            data.get(&format!("score_weight_{k}"))
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .unwrap_or(def)
        };
        Weights {
            price: w("price", d.price),
            arrival: w("arrival", d.arrival),
            distance: w("distance", d.distance),
            supplier: w("supplier", d.supplier),
            payment: w("payment", d.payment),
        }
    }

    fn total(&self) -> i64 {
        (self.price + self.arrival + self.distance + self.supplier + self.payment).max(1)
    }
}

/// One quote in the comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub quote: Quote,
    pub supplier_name: String,
    pub supplier_score: i64,
    pub machine: String,
    pub plate: Option<String>,
    pub category: String,
    pub employee: Option<String>,
    pub distance_km: Option<f64>,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub total_net: i64,
    pub total_vat: i64,
    /// Minutes after the wanted time (negative: earlier).
    pub late_minutes: Option<i64>,
    /// 0–100 (active quotes only).
    pub suggestion: Option<i64>,
    /// Strengths: `cheapest`, `on_time`, `nearest`, `best_rated`, `best_terms`.
    pub why: Vec<&'static str>,
    pub best: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub weights: Weights,
    pub quotes: Vec<Compared>,
    pub best_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CompareRow {
    #[sqlx(flatten)]
    quote: Quote,
    supplier_name: String,
    make: String,
    model: String,
    plate: Option<String>,
    category: String,
    employee: Option<String>,
    distance_km: Option<f64>,
    #[sqlx(flatten)]
    stats: scoring::JoinedStats,
}

/// Every quote of a request, compared, with the suggested best.
pub async fn compare(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<Comparison> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    let weights = match s
        .engine
        .instances_for_object("request", r.id)
        .await?
        .into_iter()
        .last()
    {
        Some(i) => Weights::from_data(&i.data),
        None => Weights::default(),
    };
    // One query for every quote with its supplier, machine, driver,
    // distance and the supplier's figures.
    let mut sql = Sql::new("SELECT ");
    sql.push(QUOTE_COLUMNS)
        .push(
            ", o.name AS supplier_name, m.make, m.model, m.plate, m.category, e.full_name AS employee, q.distance_km, ",
        )
        .push(scoring::JOINED_STATS)
        .push(
            " FROM supplier_quotes sq JOIN organisations o ON o.id = sq.supplier_org_id JOIN machines m ON m.id = sq.machine_id
             JOIN rfqs q ON q.id = sq.rfq_id LEFT JOIN employees e ON e.id = sq.employee_id
             LEFT JOIN supplier_stats st ON st.org_id = sq.supplier_org_id
             WHERE sq.request_id = ",
        )
        .bind(r.id)
        .push(" ORDER BY sq.total_price, sq.id");
    let rows: Vec<CompareRow> = sql.query_as().fetch_all(s.db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let q = row.quote;
        let score = row.stats.score(q.supplier_org_id);
        let vat = VatMode::parse(&q.vat_mode).unwrap_or(VatMode::None);
        let unit_vat = vat.vat_included_in(Kopecks(q.unit_price)).as_i64();
        let total_vat = vat.vat_included_in(Kopecks(q.total_price)).as_i64();
        out.push(Compared {
            unit_net: q.unit_price - unit_vat,
            unit_vat,
            total_net: q.total_price - total_vat,
            total_vat,
            late_minutes: r.wanted_from.map(|w| (q.arrival_at - w) / 60_000),
            supplier_score: score.value,
            supplier_name: row.supplier_name,
            machine: format!("{} {}", row.make, row.model),
            plate: row.plate,
            category: row.category,
            employee: row.employee,
            distance_km: row.distance_km,
            suggestion: None,
            why: Vec::new(),
            best: false,
            quote: q,
        });
    }
    let best_id = suggest(&mut out, &weights);
    Ok(Comparison {
        weights,
        quotes: out,
        best_id,
    })
}

/// Scores the active quotes and marks the best (see the module docs).
pub fn suggest(quotes: &mut [Compared], w: &Weights) -> Option<i64> {
    let live = |c: &Compared| matches!(c.quote.status.as_str(), "active" | "selected");
    let cheapest = quotes
        .iter()
        .filter(|c| live(c))
        .map(|c| c.quote.total_price)
        .min()?;
    let nearest = quotes
        .iter()
        .filter(|c| live(c))
        .filter_map(|c| c.distance_km)
        .fold(f64::MAX, f64::min);
    let top_score = quotes
        .iter()
        .filter(|c| live(c))
        .map(|c| c.supplier_score)
        .max()
        .unwrap_or(0);
    let terms = |c: &Compared| {
        0.5 * (1.0 - c.quote.prepayment_percent as f64 / 100.0)
            + 0.5 * (c.quote.postpayment_days.min(30) as f64 / 30.0)
    };
    let best_terms = quotes
        .iter()
        .filter(|c| live(c))
        .map(terms)
        .fold(0.0, f64::max);
    let mut best: Option<(i64, i64)> = None;
    for c in quotes.iter_mut().filter(|c| live(c)) {
        let price = cheapest as f64 / c.quote.total_price.max(1) as f64;
        let arrival = match c.late_minutes {
            Some(m) if m > 0 => (1.0 - m as f64 / 240.0).max(0.0),
            _ => 1.0,
        };
        let distance = c
            .distance_km
            .map(|d| (1.0 - d / 300.0).max(0.0))
            .unwrap_or(0.5);
        let value = (w.price as f64 * price
            + w.arrival as f64 * arrival
            + w.distance as f64 * distance
            + w.supplier as f64 * c.supplier_score as f64 / 100.0
            + w.payment as f64 * terms(c))
            / w.total() as f64
            * 100.0;
        let value = value.round() as i64;
        c.suggestion = Some(value);
        if c.quote.total_price == cheapest {
            c.why.push("cheapest");
        }
        if c.late_minutes.is_none_or(|m| m <= 0) {
            c.why.push("on_time");
        }
        if c.distance_km.is_some_and(|d| d <= nearest) {
            c.why.push("nearest");
        }
        if c.supplier_score == top_score {
            c.why.push("best_rated");
        }
        if (terms(c) - best_terms).abs() < 1e-9 {
            c.why.push("best_terms");
        }
        if best.is_none_or(|(_, v)| value > v) {
            best = Some((c.quote.id, value));
        }
    }
    let id = best.map(|(id, _)| id);
    for c in quotes.iter_mut() {
        c.best = Some(c.quote.id) == id;
    }
    id
}
