use super::*;

/// The offer as typed by the manager.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OfferInput {
    /// The quote the offer is built on, or several (comma-separated) whose
    /// machines together cover what the request asks for.
    pub quote_id: String,
    /// `percent` or `amount`.
    pub markup_kind: String,
    pub markup: String,
    pub quantity: String,
    pub prepayment_percent: String,
    pub postpayment_days: String,
    pub payment_method: String,
    /// Site-local `YYYY-MM-DDTHH:MM`.
    pub valid_until: String,
    pub comment: String,
}

/// An offer as stored (staff view: with cost and margin).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Offer {
    pub id: i64,
    pub request_id: i64,
    pub client_org_id: i64,
    pub supplier_quote_id: i64,
    pub status: String,
    pub price_unit: String,
    pub quantity_centi: i64,
    pub vat_mode: String,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_gross: i64,
    pub total_vat: i64,
    pub unit_cost: i64,
    pub markup_bp: Option<i64>,
    pub markup_amount: Option<i64>,
    pub margin_total: i64,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
    pub arrival_at: i64,
    pub valid_until: i64,
    pub comment: Option<String>,
    pub decline_reason: Option<String>,
    pub sent_at: i64,
    pub decided_at: Option<i64>,
    /// Machines in the offer: `quantity_centi` is per machine, totals for all.
    pub machines: i64,
}

const OFFER_COLUMNS: &str = "f.id, f.request_id, f.client_org_id, f.supplier_quote_id, f.status, f.price_unit, f.quantity_centi, f.vat_mode, f.unit_net, f.unit_vat, f.unit_gross, f.total_gross, f.total_vat, f.unit_cost, f.markup_bp, f.markup_amount, f.margin_total, f.prepayment_percent, f.postpayment_days, f.payment_method, f.arrival_at, f.valid_until, f.comment, f.decline_reason, f.sent_at, f.decided_at, f.machines";

/// The quotes an offer is built on, the first first.
pub(crate) async fn quotes_of(
    conn: &mut sqlx::AnyConnection,
    offer_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT oq.supplier_quote_id FROM offer_quotes oq JOIN offers f ON f.id = oq.offer_id WHERE oq.offer_id = $1
         ORDER BY CASE WHEN oq.supplier_quote_id = f.supplier_quote_id THEN 0 ELSE 1 END, oq.supplier_quote_id",
    )
    .bind(offer_id)
    .fetch_all(conn)
    .await
}

/// What the client sees of an offer: our price and terms, the job, and
/// nothing of the supplier (no name, machine, plate, price or cost).
#[derive(Debug, Clone, Serialize)]
pub struct ClientOffer {
    pub id: i64,
    pub status: String,
    pub request_number: String,
    pub type_title: String,
    pub site_address: Option<String>,
    pub price_unit: String,
    pub quantity: String,
    /// How many machines (the quantity is per machine).
    pub machines: i64,
    pub vat_mode: String,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_gross: i64,
    pub total_vat: i64,
    pub category_title: String,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
    pub arrival_local: String,
    pub valid_until_local: String,
    pub comment: Option<String>,
    pub decline_reason: Option<String>,
    /// The client may still accept or decline.
    pub open: bool,
    /// Still open, but its machine was booked by another offer for a day of
    /// the job meanwhile: it can only be declined (the manager has a task
    /// to find another machine).
    pub machine_taken: bool,
}

/// An offer with what the client's view shows of its request and machine.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ClientOfferRow {
    #[sqlx(flatten)]
    offer: Offer,
    request_number: String,
    request_type: String,
    site_address: Option<String>,
    site_timezone: Option<String>,
    category: String,
    /// 1 when another offer has booked the quote's machine on a day of its job.
    machine_taken: i64,
}

/// Offers as the client sees them, in one query; `narrow` adds conditions
/// (and order) to `… WHERE 1 = 1`.
pub(super) async fn client_rows(
    s: &Services,
    narrow: impl FnOnce(&mut Sql),
) -> DomainResult<Vec<ClientOffer>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS).push(
        ", r.number AS request_number, r.request_type, r.site_address, r.site_timezone, m.category,
         CAST(CASE WHEN EXISTS (SELECT 1 FROM offer_quotes oq JOIN supplier_quotes tq ON tq.id = oq.supplier_quote_id
           JOIN supplier_quote_machines tm ON tm.quote_id = tq.id JOIN machine_bookings mb ON mb.machine_id = tm.machine_id
           AND mb.day BETWEEN tq.work_day AND tq.last_work_day AND mb.offer_id <> f.id WHERE oq.offer_id = f.id)
           THEN 1 ELSE 0 END AS BIGINT) AS machine_taken
         FROM offers f JOIN requests r ON r.id = f.request_id
         JOIN supplier_quotes sq ON sq.id = f.supplier_quote_id JOIN machines m ON m.id = sq.machine_id
         WHERE 1 = 1",
    );
    narrow(&mut sql);
    let rows: Vec<ClientOfferRow> = sql.query_as().fetch_all(s.db.pool()).await?;
    Ok(rows.iter().map(|x| client_view(s, x)).collect())
}

fn client_view(s: &Services, x: &ClientOfferRow) -> ClientOffer {
    let o = &x.offer;
    let tz = site_tz(x.site_timezone.as_deref());
    ClientOffer {
        id: o.id,
        status: o.status.clone(),
        request_number: x.request_number.clone(),
        type_title: s
            .request_types
            .get(&x.request_type)
            .map(|t| t.title.clone())
            .unwrap_or_else(|| x.request_type.clone()),
        site_address: x.site_address.clone(),
        price_unit: o.price_unit.clone(),
        quantity: quotes::centi_text(o.quantity_centi),
        machines: o.machines,
        vat_mode: o.vat_mode.clone(),
        unit_net: o.unit_net,
        unit_vat: o.unit_vat,
        unit_gross: o.unit_gross,
        total_gross: o.total_gross,
        total_vat: o.total_vat,
        category_title: s
            .equipment
            .category(&x.category)
            .map(|c| c.title.clone())
            .unwrap_or_default(),
        prepayment_percent: o.prepayment_percent,
        postpayment_days: o.postpayment_days,
        payment_method: o.payment_method.clone(),
        arrival_local: local_text(Some(o.arrival_at), tz),
        valid_until_local: local_text(Some(o.valid_until), tz),
        comment: o.comment.clone(),
        decline_reason: o.decline_reason.clone(),
        open: o.status == "sent" && to_db_time(s.db.now()) < o.valid_until,
        machine_taken: o.status == "sent" && x.machine_taken != 0,
    }
}

/// An offer the actor may see (its client; staff).
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Offer> {
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS)
        .push(" FROM offers f WHERE f.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Offer, "f");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

pub(super) async fn by_id(s: &Services, id: i64) -> DomainResult<Offer> {
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS)
        .push(" FROM offers f WHERE f.id = ")
        .bind(id);
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Offers of a request, for the staff (with margins).
pub async fn for_request(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<Vec<Offer>> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS)
        .push(" FROM offers f WHERE f.request_id = ")
        .bind(r.id)
        .push(" ORDER BY f.id DESC");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A quote the offer is built on, with its supplier (staff only).
#[derive(Debug, Clone, Serialize)]
pub struct DraftQuote {
    pub quote: quotes::Quote,
    pub supplier_name: String,
}

/// The offer form, prefilled from a quote (or several).
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub request: RequestRow,
    /// The first quote and its supplier.
    pub quote: quotes::Quote,
    pub supplier_name: String,
    /// Every quote of the offer, the first first.
    pub quotes: Vec<DraftQuote>,
    /// Machines the quotes give together, and what the request asks for.
    pub machines: i64,
    pub requested: i64,
    pub input: OfferInput,
    pub broker_vat: VatMode,
    pub pricing: Option<Pricing>,
    /// The margin below which sending asks for approval, basis points.
    pub min_margin_bp: i64,
    /// Sending this offer as priced asks for approval first.
    pub needs_approval: bool,
    /// The request's client waits for staff to confirm it (a public
    /// request that matched a client without proof): sending is refused.
    pub client_unconfirmed: bool,
}

pub(super) async fn quote_of_request(
    s: &Services,
    actor: &Actor,
    r: &RequestRow,
    quote_id: i64,
) -> DomainResult<quotes::Quote> {
    let q = quotes::get(s, actor, quote_id).await?;
    if q.request_id != r.id {
        return Err(DomainError::NotFound);
    }
    Ok(q)
}

/// The quote ids an offer input names (`quote_id`, comma-separated).
pub fn quote_ids(input: &OfferInput) -> Result<Vec<i64>, DomainError> {
    let mut ids = Vec::new();
    for part in input
        .quote_id
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let id = part
            .parse::<i64>()
            .map_err(|_| DomainError::field("quote_id", "required"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(DomainError::field("quote_id", "required"));
    }
    Ok(ids)
}

/// The quotes `ids` of the request (another request's are not found).
pub(super) async fn quotes_of_request(
    s: &Services,
    actor: &Actor,
    r: &RequestRow,
    ids: &[i64],
) -> DomainResult<Vec<quotes::Quote>> {
    let mut out = Vec::new();
    for id in ids.iter().take(quotes::MAX_QUOTE_MACHINES) {
        out.push(quote_of_request(s, actor, r, *id).await?);
    }
    Ok(out)
}

/// The offer form for a quote (or several quotes) of a request, with the
/// request type's default markup.
pub async fn draft(
    s: &Services,
    actor: &Actor,
    request_id: i64,
    input: Option<&OfferInput>,
    quote_ids: &[i64],
) -> DomainResult<Draft> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let r = matching::request_for(s, actor, request_id).await?;
    let qs = quotes_of_request(s, actor, &r, quote_ids).await?;
    let q = qs.first().cloned().ok_or(DomainError::NotFound)?;
    let t = s.request_types.get(&r.request_type);
    let terms = broker_terms(s).await?;
    let ours = terms.vat;
    let mut drafted = Vec::new();
    for x in &qs {
        let supplier_name: String =
            sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1")
                .bind(x.supplier_org_id)
                .fetch_one(s.db.pool())
                .await?;
        drafted.push(DraftQuote {
            quote: x.clone(),
            supplier_name,
        });
    }
    let ids = qs
        .iter()
        .map(|x| x.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let input = match input {
        Some(i) => OfferInput {
            quote_id: ids,
            ..i.clone()
        },
        None => {
            let bp = t.map(|t| t.markup_bp).unwrap_or(0);
            OfferInput {
                quote_id: ids,
                markup_kind: "percent".into(),
                markup: format!("{},{:02}", bp / 100, bp % 100),
                quantity: quotes::centi_text(q.quantity_centi),
                prepayment_percent: q.prepayment_percent.to_string(),
                postpayment_days: q.postpayment_days.to_string(),
                payment_method: q.payment_method.clone(),
                valid_until: local_input(
                    Some(
                        qs.iter()
                            .map(|x| x.valid_until)
                            .min()
                            .unwrap_or(q.valid_until)
                            .min(to_db_time(s.db.now() + Duration::hours(24))),
                    ),
                    r.tz(),
                ),
                comment: String::new(),
            }
        }
    };
    let pricing = checked(&input, &qs, terms, &r, s.db.now())
        .ok()
        .map(|v| v.pricing);
    let min_margin_bp = min_margin_bp(s, &r, terms);
    let client_unconfirmed = crate::intake::client_unconfirmed(s.db.pool(), r.id).await?;
    Ok(Draft {
        client_unconfirmed,
        machines: qs.iter().map(|x| x.machines).sum(),
        requested: quotes::requested_machines(&r) as i64,
        supplier_name: drafted[0].supplier_name.clone(),
        quotes: drafted,
        request: r,
        quote: q,
        input,
        broker_vat: ours,
        needs_approval: pricing.is_some_and(|p| needs_approval(&p, min_margin_bp)),
        pricing,
        min_margin_bp,
    })
}

/// The margin below which an offer for a request of this type needs
/// approval, basis points (for the staff's pages).
pub async fn min_margin_of(s: &Services, request_type: &str) -> DomainResult<i64> {
    let terms = broker_terms(s).await?;
    Ok(s.request_types
        .get(request_type)
        .and_then(|t| t.min_margin_bp)
        .unwrap_or(terms.min_margin_bp))
}

/// The margin below which an offer for this request needs approval: its
/// type's, else the company's.
pub(super) fn min_margin_bp(s: &Services, r: &RequestRow, terms: Terms) -> i64 {
    s.request_types
        .get(&r.request_type)
        .and_then(|t| t.min_margin_bp)
        .unwrap_or(terms.min_margin_bp)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ValidOffer {
    /// Our VAT mode when it was priced (`VatMode::as_str`).
    pub(super) vat_mode: String,
    /// The quotes it is made of, the first one first (the offer's
    /// `supplier_quote_id`).
    #[serde(default)]
    pub(super) quote_ids: Vec<i64>,
    pub(super) markup: Markup,
    pub(super) machines: i64,
    pub(super) quantity_centi: i64,
    pub(super) pricing: Pricing,
    pub(super) prepayment_percent: i64,
    pub(super) postpayment_days: i64,
    pub(super) payment_method: String,
    pub(super) valid_until: DateTime<Utc>,
    pub(super) comment: Option<String>,
}

/// Percent with up to two decimals, as basis points: `15` → 1500, `12,5` → 1250.
pub fn parse_percent_bp(input: &str) -> Option<i64> {
    let t = input.trim().trim_end_matches('%').trim();
    let negative = t.starts_with('-');
    let digits = t.trim_start_matches('-').trim();
    let v = if digits.chars().all(|c| c == '0' || c == ',' || c == '.') && !digits.is_empty() {
        0
    } else {
        parse_centi(digits)?
    };
    Some(if negative { -v } else { v })
}

pub(super) fn checked(
    input: &OfferInput,
    qs: &[quotes::Quote],
    terms: Terms,
    r: &RequestRow,
    now: DateTime<Utc>,
) -> Result<ValidOffer, FieldErrors> {
    let ours = terms.vat;
    let mut e = FieldErrors::new();
    let Some(q) = qs.first() else {
        e.add("quote_id", "required");
        return Err(e);
    };
    // Several quotes make one offer only in one unit, one per supplier,
    // and with enough machines together.
    if qs.iter().any(|x| x.price_unit != q.price_unit) {
        e.add("quote_id", "offer.units_differ");
    }
    let mut suppliers: Vec<i64> = qs.iter().map(|x| x.supplier_org_id).collect();
    suppliers.sort_unstable();
    suppliers.dedup();
    if suppliers.len() != qs.len() {
        e.add("quote_id", "offer.supplier_twice");
    }
    let machines: i64 = qs.iter().map(|x| x.machines).sum();
    if qs.len() > 1 && machines < quotes::requested_machines(r) as i64 {
        e.add("quote_id", "offer.machines_short");
    }
    let markup = match input.markup_kind.as_str() {
        "amount" => match Kopecks::parse(&input.markup) {
            Ok(k) => Some(Markup::Amount(k)),
            Err(_) => {
                e.add("markup", "quote.money_invalid");
                None
            }
        },
        _ => match parse_percent_bp(&input.markup) {
            Some(bp) if (-5000..=50_000).contains(&bp) => Some(Markup::Percent(bp)),
            _ if input.markup.trim().is_empty() => Some(Markup::Percent(0)),
            _ => {
                e.add("markup", "offer.markup_invalid");
                None
            }
        },
    };
    let quantity_centi = match input.quantity.trim() {
        "" => Some(q.quantity_centi),
        t => parse_centi(t).or_else(|| {
            e.add("quantity", "quote.quantity_invalid");
            None
        }),
    };
    let prepayment_percent =
        quotes::int_in(&mut e, "prepayment_percent", &input.prepayment_percent, 100);
    let postpayment_days = quotes::int_in(&mut e, "postpayment_days", &input.postpayment_days, 365);
    let payment_method = input.payment_method.trim().to_string();
    if !PAYMENT_METHODS.contains(&payment_method.as_str()) {
        e.add("payment_method", "quote.payment_method_invalid");
    }
    let valid_until = match local_to_utc(&input.valid_until, r.tz()) {
        Some(t) if t > now => Some(t),
        Some(_) => {
            e.add("valid_until", "quote.in_past");
            None
        }
        None if input.valid_until.trim().is_empty() => {
            e.add("valid_until", "required");
            None
        }
        None => {
            e.add("valid_until", "quote.datetime_invalid");
            None
        }
    };
    if input.comment.chars().count() > 2000 {
        e.add("comment", "text.too_long");
    }
    let lines: Vec<Line> = qs
        .iter()
        .map(|x| Line {
            unit_price: Kopecks(x.unit_price),
            vat: VatMode::parse(&x.vat_mode).unwrap_or(VatMode::None),
            machines: x.machines.max(1),
        })
        .collect();
    let pricing = match (markup, quantity_centi) {
        (Some(m), Some(c)) => match price_many(&lines, ours, m, c, terms.rounding) {
            Some(p) if p.unit_gross > 0 => Some(p),
            _ => {
                e.add("markup", "offer.markup_invalid");
                None
            }
        },
        _ => None,
    };
    match (markup, quantity_centi, pricing, valid_until) {
        (Some(markup), Some(quantity_centi), Some(pricing), Some(valid_until)) if e.is_empty() => {
            Ok(ValidOffer {
                vat_mode: ours.as_str().to_string(),
                quote_ids: qs.iter().map(|x| x.id).collect(),
                markup,
                machines,
                quantity_centi,
                pricing,
                prepayment_percent,
                postpayment_days,
                payment_method,
                valid_until,
                comment: Some(input.comment.trim().to_string()).filter(|c| !c.is_empty()),
            })
        }
        _ => Err(e),
    }
}

/// A request's money as its lines in staff lists show it: the client price
/// and our margin of its latest offer (or of the one waiting for
/// approval), and whether the margin is under the request type's minimum.
#[derive(Debug, Clone, Serialize)]
pub struct MarginLine {
    pub total_gross: i64,
    pub margin_total: i64,
    pub margin_bp: i64,
    pub min_margin_bp: i64,
    /// Under the minimum (or below cost): shown in red.
    pub low: bool,
}

/// The [`MarginLine`] of each of `request_ids` that has an offer (sent,
/// decided or waiting for approval; withdrawn ones are replaced), for the
/// broker's staff; others get none. Two queries for a whole page.
pub async fn margins(
    s: &Services,
    actor: &Actor,
    request_ids: &[i64],
) -> DomainResult<std::collections::BTreeMap<i64, MarginLine>> {
    let mut out = std::collections::BTreeMap::new();
    if !actor.is_staff() || request_ids.is_empty() {
        return Ok(out);
    }
    let terms = broker_terms(s).await?;
    let min_of = |request_type: &str| {
        s.request_types
            .get(request_type)
            .and_then(|t| t.min_margin_bp)
            .unwrap_or(terms.min_margin_bp)
    };
    let line = |total_gross: i64, margin_total: i64, margin_bp: i64, request_type: &str| {
        let min = min_of(request_type);
        MarginLine {
            total_gross,
            margin_total,
            margin_bp,
            min_margin_bp: min,
            low: margin_total < 0 || margin_bp < min,
        }
    };
    let mut sql = Sql::new(
        "SELECT a.request_id, r.request_type, a.total_gross, a.margin_total, a.margin_bp FROM offer_approvals a \
         JOIN requests r ON r.id = a.request_id WHERE a.status = 'pending' AND a.request_id IN (",
    );
    sql.bind_list(request_ids.iter().copied()).push(")");
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY a.id");
    let pending: Vec<(i64, String, i64, i64, i64)> = sql.query_as().fetch_all(s.db.pool()).await?;
    let waiting: std::collections::BTreeSet<i64> = pending.iter().map(|p| p.0).collect();
    for (id, rt, total, margin, bp) in pending {
        out.insert(id, line(total, margin, bp, &rt));
    }
    let mut sql = Sql::new(
        "SELECT f.request_id, r.request_type, f.total_gross, f.margin_total, f.unit_cost, f.quantity_centi FROM offers f \
         JOIN requests r ON r.id = f.request_id WHERE f.status <> 'withdrawn' AND f.request_id IN (",
    );
    sql.bind_list(request_ids.iter().copied()).push(")");
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY f.id");
    let offers: Vec<(i64, String, i64, i64, i64, i64)> =
        sql.query_as().fetch_all(s.db.pool()).await?;
    for (id, rt, total, margin, unit_cost, quantity_centi) in offers {
        if waiting.contains(&id) {
            // A pending approval is newer than any offer still standing.
            continue;
        }
        let cost = unit_cost * quantity_centi / 100;
        let bp = if cost > 0 { margin * 10_000 / cost } else { 0 };
        out.insert(id, line(total, margin, bp, &rt));
    }
    Ok(out)
}
