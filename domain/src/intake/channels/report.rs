use super::*;

/// One line of the intake report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportLine {
    /// The channel code or the hunter's user id.
    pub key: String,
    /// The hunter's name.
    pub name: Option<String>,
    pub requests: i64,
    /// Distinct clients with a request in the period.
    pub clients: i64,
    /// Of those clients, the ones whose first order went into work in the period.
    pub first_orders: i64,
    /// first_orders ÷ clients, in per cent (one decimal).
    pub conversion: Option<f64>,
}

impl ReportLine {
    fn from_counts(
        key: String,
        name: Option<String>,
        requests: i64,
        clients: i64,
        first: i64,
    ) -> ReportLine {
        ReportLine {
            key,
            name,
            requests,
            clients,
            first_orders: first,
            conversion: (clients > 0)
                .then(|| (first as f64 * 1000.0 / clients as f64).round() / 10.0),
        }
    }
}

/// Requests, first orders and conversion per channel and per hunter.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeReport {
    pub by_channel: Vec<ReportLine>,
    pub by_hunter: Vec<ReportLine>,
    pub total: ReportLine,
}

/// The intake report over `[from, to)` (UTC milliseconds): per channel of
/// the requests, per hunter of the requests, and in total. A client counts
/// as converted when its first order went into work within the period.
/// Admins and managers only.
pub async fn report(s: &Services, actor: &Actor, from: i64, to: i64) -> DomainResult<IntakeReport> {
    if !actor.is_staff() || !actor.has_any(&[Role::Admin, Role::Manager]) {
        return Err(DomainError::Forbidden);
    }
    let counts = "COUNT(*), COUNT(DISTINCT r.client_org_id),
        COUNT(DISTINCT CASE WHEN o.first_order_at >= $1 AND o.first_order_at < $2 THEN r.client_org_id END)";
    let from_where = " FROM requests r JOIN organisations o ON o.id = r.client_org_id
        WHERE r.created_at >= $1 AND r.created_at < $2";
    let by_channel: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.channel, {counts}{from_where} GROUP BY r.channel"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(s.db.pool())
    .await?;
    let by_hunter: Vec<(i64, String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.hunter_user_id, MAX(u.full_name), {counts}
         FROM requests r JOIN organisations o ON o.id = r.client_org_id LEFT JOIN users u ON u.id = r.hunter_user_id
         WHERE r.created_at >= $1 AND r.created_at < $2 AND r.hunter_user_id IS NOT NULL
         GROUP BY r.hunter_user_id"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(s.db.pool())
    .await?
    .into_iter()
    .map(|(id, name, a, b, c): (i64, Option<String>, i64, i64, i64)| (id, name.unwrap_or_default(), a, b, c))
    .collect();
    let total: (i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {counts}{from_where}")))
            .bind(from)
            .bind(to)
            .fetch_one(s.db.pool())
            .await?;
    // Every channel appears, in the usual order, even with nothing in it.
    let channel_lines = Channel::ALL
        .iter()
        .map(|c| {
            let (r, cl, f) = by_channel
                .iter()
                .find(|x| x.0 == c.as_str())
                .map(|x| (x.1, x.2, x.3))
                .unwrap_or_default();
            ReportLine::from_counts(c.as_str().to_string(), None, r, cl, f)
        })
        .collect();
    let mut hunter_lines: Vec<ReportLine> = by_hunter
        .into_iter()
        .map(|(id, name, r, cl, f)| ReportLine::from_counts(id.to_string(), Some(name), r, cl, f))
        .collect();
    hunter_lines.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(IntakeReport {
        by_channel: channel_lines,
        by_hunter: hunter_lines,
        total: ReportLine::from_counts("total".into(), None, total.0, total.1, total.2),
    })
}
