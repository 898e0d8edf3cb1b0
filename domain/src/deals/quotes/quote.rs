use super::*;

/// Whether an employee may drive or operate a machine of `category`:
/// a bus needs licence D (or D1, DE, D1E); any other road vehicle C (or
/// C1, CE, C1E); machinery that is not a road vehicle, and lifting machines
/// (whose category requires Rostekhnadzor registration), an operator's
/// licence (машинист) as well.
pub fn licence_fits(catalogue: &EquipmentCatalogue, category: &str, e: &Employee) -> bool {
    let Some(c) = catalogue.category(category) else {
        return false;
    };
    let held: Vec<String> = e
        .licence_categories
        .as_deref()
        .unwrap_or_default()
        .split([',', ' '])
        .map(|x| x.trim().to_uppercase())
        .filter(|x| !x.is_empty())
        .collect();
    let has = |family: &[&str]| held.iter().any(|h| family.contains(&h.as_str()));
    let operator = e
        .operator_licence
        .as_deref()
        .is_some_and(|o| !o.trim().is_empty());
    let lifting = c.documents.iter().any(|d| d == "rtn_registration");
    if !c.road_vehicle {
        return operator;
    }
    let driving = if c.code == "bus" {
        has(&["D", "D1", "DE", "D1E"])
    } else {
        has(&["C", "C1", "CE", "C1E"])
    };
    driving && (!lifting || operator)
}

/// A supplier's quote as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Quote {
    pub id: i64,
    pub rfq_id: i64,
    pub request_id: i64,
    pub supplier_org_id: i64,
    pub machine_id: i64,
    pub employee_id: Option<i64>,
    pub price_unit: String,
    pub unit_price: i64,
    pub quantity_centi: i64,
    pub total_price: i64,
    pub vat_mode: String,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
    pub arrival_at: i64,
    /// The first and last site-local days of the job (`YYYY-MM-DD`).
    pub work_day: String,
    pub last_work_day: String,
    pub valid_until: i64,
    pub comment: Option<String>,
    pub status: String,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// How many machines it offers (`machine_id` is the first); the price
    /// is per unit and machine, `quantity_centi` per machine, and
    /// `total_price` = unit × quantity × machines.
    pub machines: i64,
}

pub(super) const QUOTE_COLUMNS: &str = "sq.id, sq.rfq_id, sq.request_id, sq.supplier_org_id, sq.machine_id, sq.employee_id, sq.price_unit, sq.unit_price, sq.quantity_centi, sq.total_price, sq.vat_mode, sq.prepayment_percent, sq.postpayment_days, sq.payment_method, sq.arrival_at, sq.work_day, sq.last_work_day, sq.valid_until, sq.comment, sq.status, sq.revision, sq.created_at, sq.updated_at, sq.machines";

/// The most machines one quote may offer.
pub const MAX_QUOTE_MACHINES: usize = 50;

/// One machine of a quote as typed: the machine and its driver (ids as text).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MachineChoice {
    pub machine_id: String,
    pub employee_id: String,
}

/// `(machine, driver)` of each machine of a quote, in its order.
pub(crate) async fn machines_of(
    conn: &mut sqlx::AnyConnection,
    quote_id: i64,
) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT machine_id, employee_id FROM supplier_quote_machines WHERE quote_id = $1 ORDER BY position, machine_id",
    )
    .bind(quote_id)
    .fetch_all(conn)
    .await
}

/// How a quote ended, as its supplier sees it: `won` (the client accepted
/// our offer made of it), `lost` (another was chosen, or the request ended
/// without it), `expired` (its validity ran out with no decision),
/// `withdrawn`, or `active` while it is still being considered. Before,
/// a quote nobody chose stayed "under consideration" forever.
pub fn fate(status: &str, valid_until: i64, request_status: &str, now: i64) -> &'static str {
    match status {
        "won" => "won",
        "lost" => "lost",
        "withdrawn" => "withdrawn",
        _ if matches!(request_status, "accepted" | "ordered" | "cancelled") => "lost",
        _ if valid_until <= now => "expired",
        _ => "active",
    }
}

/// A quote the actor may see (its supplier; staff).
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Quote> {
    let mut sql = Sql::new("SELECT ");
    sql.push(QUOTE_COLUMNS)
        .push(" FROM supplier_quotes sq WHERE sq.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::SupplierQuote, "sq");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

async fn of_rfq(s: &Services, rfq_id: i64) -> DomainResult<Option<Quote>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(QUOTE_COLUMNS)
        .push(" FROM supplier_quotes sq WHERE sq.rfq_id = ")
        .bind(rfq_id);
    Ok(sql.query_as().fetch_optional(s.db.pool()).await?)
}

/// A quote as typed into the form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QuoteInput {
    pub machine_id: String,
    pub employee_id: String,
    pub price_unit: String,
    pub unit_price: String,
    pub quantity: String,
    pub vat_mode: String,
    pub prepayment_percent: String,
    pub postpayment_days: String,
    pub payment_method: String,
    /// Site-local `YYYY-MM-DDTHH:MM`.
    pub arrival_at: String,
    pub valid_until: String,
    pub comment: String,
    /// Every machine offered, the first included; when empty, the one in
    /// `machine_id` / `employee_id`.
    pub machines: Vec<MachineChoice>,
}

impl QuoteInput {
    /// A submitted form whose rows repeat `machine_id` and `employee_id`
    /// (one pair per machine, in order; a select is always submitted, so
    /// the pairs line up).
    pub fn from_pairs(pairs: &[(String, String)]) -> QuoteInput {
        let mut input = QuoteInput::default();
        let (mut machines, mut drivers) = (Vec::new(), Vec::new());
        for (k, v) in pairs {
            let v = v.clone();
            match k.as_str() {
                "machine_id" => machines.push(v),
                "employee_id" => drivers.push(v),
                "price_unit" => input.price_unit = v,
                "unit_price" => input.unit_price = v,
                "quantity" => input.quantity = v,
                "vat_mode" => input.vat_mode = v,
                "prepayment_percent" => input.prepayment_percent = v,
                "postpayment_days" => input.postpayment_days = v,
                "payment_method" => input.payment_method = v,
                "arrival_at" => input.arrival_at = v,
                "valid_until" => input.valid_until = v,
                "comment" => input.comment = v,
                _ => {}
            }
        }
        input.machines = machines
            .into_iter()
            .take(MAX_QUOTE_MACHINES + 1)
            .enumerate()
            .map(|(i, machine_id)| MachineChoice {
                machine_id,
                employee_id: drivers.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        if let Some(first) = input.machines.first() {
            input.machine_id = first.machine_id.clone();
            input.employee_id = first.employee_id.clone();
        }
        input
    }

    /// The machines offered: the rows with a machine chosen (the first row
    /// always, so that a missing machine is reported).
    pub fn rows(&self) -> Vec<MachineChoice> {
        if self.machines.is_empty() {
            return vec![MachineChoice {
                machine_id: self.machine_id.clone(),
                employee_id: self.employee_id.clone(),
            }];
        }
        self.machines
            .iter()
            .enumerate()
            .filter(|(i, m)| *i == 0 || !m.machine_id.trim().is_empty())
            .map(|(_, m)| m.clone())
            .collect()
    }

    pub fn from_quote(q: &Quote, tz: chrono_tz::Tz) -> QuoteInput {
        QuoteInput {
            machine_id: q.machine_id.to_string(),
            employee_id: q.employee_id.map(|e| e.to_string()).unwrap_or_default(),
            price_unit: q.price_unit.clone(),
            unit_price: Kopecks(q.unit_price).format_number(),
            quantity: centi_text(q.quantity_centi),
            vat_mode: q.vat_mode.clone(),
            prepayment_percent: q.prepayment_percent.to_string(),
            postpayment_days: q.postpayment_days.to_string(),
            payment_method: q.payment_method.clone(),
            arrival_at: local_input(Some(q.arrival_at), tz),
            valid_until: local_input(Some(q.valid_until), tz),
            comment: q.comment.clone().unwrap_or_default(),
            machines: Vec::new(),
        }
    }
}

/// Hundredths as people type them: `2`, `1,5`.
pub fn centi_text(c: i64) -> String {
    if c % 100 == 0 {
        (c / 100).to_string()
    } else {
        format!("{},{:02}", c / 100, c % 100)
            .trim_end_matches('0')
            .to_string()
    }
}

/// A positive quantity with at most two decimals, in hundredths.
pub fn parse_centi(input: &str) -> Option<i64> {
    let t = input.trim().replace([' ', '\u{a0}'], "").replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 {
        return None;
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    let v = w.checked_mul(100)?.checked_add(f)?;
    (v > 0 && v <= 1_000_000).then_some(v)
}

/// `amount × hundredths / 100`, rounded half away from zero.
pub fn times_centi(amount: Kopecks, centi: i64) -> Option<Kopecks> {
    amount.percent_bp(centi.checked_mul(100)?)
}

/// A checked quote.
#[derive(Debug, Clone)]
pub(super) struct ValidQuote {
    /// Every machine offered with its driver, the first first.
    pub(super) machines: Vec<(MachineMatch, Option<i64>)>,
    pub(super) price_unit: String,
    pub(super) unit_price: Kopecks,
    pub(super) quantity_centi: i64,
    pub(super) total: Kopecks,
    pub(super) vat_mode: VatMode,
    pub(super) prepayment_percent: i64,
    pub(super) postpayment_days: i64,
    pub(super) payment_method: String,
    pub(super) arrival_at: DateTime<Utc>,
    /// The site-local days of the job, from the arrival's.
    pub(super) job: JobDays,
    pub(super) valid_until: DateTime<Utc>,
    pub(super) comment: Option<String>,
}

/// A whole number from 0 to `max`, empty meaning 0 (terms in days or percent).
pub(crate) fn int_in(e: &mut FieldErrors, field: &str, input: &str, max: i64) -> i64 {
    match input.trim() {
        "" => 0,
        t => match t.parse::<i64>() {
            Ok(v) if (0..=max).contains(&v) => v,
            _ => {
                e.add(field, "quote.number_out_of_range");
                0
            }
        },
    }
}

/// How many machines a request asks for: its `vehicles` field (the cargo
/// form's «Количество машин»), else one.
pub fn requested_machines(r: &RequestRow) -> usize {
    r.field_map()
        .get("vehicles")
        .and_then(Value::as_i64)
        .map(|v| v.clamp(1, MAX_QUOTE_MACHINES as i64) as usize)
        .unwrap_or(1)
}

/// Estimated units of a request, for the form's default quantity.
pub fn estimated_quantity(r: &RequestRow, unit: &str) -> i64 {
    let f = r.field_map();
    let num = |k: &str| f.get(k).and_then(Value::as_f64);
    let centi = |v: f64| ((v * 100.0).round() as i64).max(100);
    match unit {
        "hour" => r.duration.map(centi).unwrap_or(100),
        "shift" | "day" => r.duration.map(|d| centi(d.ceil())).unwrap_or(100),
        "tonne" => num("weight_t")
            .or_else(|| num("quantity"))
            .map(centi)
            .unwrap_or(100),
        "m3" => num("volume_m3")
            .or_else(|| num("quantity"))
            .map(centi)
            .unwrap_or(100),
        // Per machine: the count of machines is the quote's own.
        _ => 100,
    }
}

/// What the quote form offers: the RFQ with its job, the supplier's
/// machines that suit it (each with its availability), its drivers and
/// operators (each marked whether their licence fits), and the choices.
#[derive(Debug, Clone, Serialize)]
pub struct QuoteForm {
    pub view: RfqView,
    pub quote: Option<Quote>,
    /// How many machine rows the form shows: what the request asks for
    /// (its `vehicles`), or what the quote offers, at least one.
    pub rows: usize,
    pub machines: Vec<MachineMatch>,
    pub employees: Vec<EmployeeOption>,
    pub vat_modes: Vec<&'static str>,
    pub input: QuoteInput,
    /// The quote's [`fate`], when there is one.
    pub fate: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmployeeOption {
    pub id: i64,
    pub full_name: String,
    pub licence_categories: Option<String>,
    pub operator_licence: bool,
    /// Categories of the offered machines this person may drive or operate.
    pub fits: Vec<String>,
}

/// The quote form of an RFQ of the actor's supplier.
pub async fn form(s: &Services, actor: &Actor, rfq_id: i64) -> DomainResult<QuoteForm> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let view = rfq::view(s, actor, rfq_id).await?;
    let r = matching::request_by_id(s, view.rfq.request_id).await?;
    let quote = of_rfq(s, rfq_id).await?;
    let machines: Vec<MachineMatch> = matching::machines_of_supplier(s, &r, actor.org_id())
        .await?
        .into_iter()
        .filter(|m| m.suits)
        .collect();
    let people = crate::parties::employees::list(s, actor, actor.org_id(), false).await?;
    let employees = people
        .into_iter()
        .filter(|e| e.role == "driver")
        .map(|e| EmployeeOption {
            fits: machines
                .iter()
                .filter(|m| licence_fits(&s.equipment, &m.category, &e))
                .map(|m| m.category.clone())
                .collect(),
            id: e.id,
            full_name: e.full_name.clone(),
            licence_categories: e.licence_categories.clone(),
            operator_licence: e.operator_licence.is_some(),
        })
        .collect();
    let mut input = match &quote {
        Some(q) => {
            let mut input = QuoteInput::from_quote(q, r.tz());
            let mut conn = s.db.pool().acquire().await?;
            input.machines = machines_of(&mut conn, q.id)
                .await?
                .into_iter()
                .map(|(m, e)| MachineChoice {
                    machine_id: m.to_string(),
                    employee_id: e.map(|e| e.to_string()).unwrap_or_default(),
                })
                .collect();
            input
        }
        None => {
            let unit = view.job.price_units.first().cloned().unwrap_or_default();
            let own_vat: Option<String> =
                sqlx::query_scalar("SELECT vat_mode FROM organisations WHERE id = $1")
                    .bind(actor.org_id())
                    .fetch_optional(s.db.pool())
                    .await?
                    .flatten();
            let arrival = local_input(r.wanted_from, r.tz());
            QuoteInput {
                machine_id: machines
                    .iter()
                    .find(|m| m.fits)
                    .map(|m| m.machine_id.to_string())
                    .unwrap_or_default(),
                quantity: centi_text(estimated_quantity(&r, &unit)),
                price_unit: unit,
                vat_mode: own_vat.unwrap_or_else(|| "none".into()),
                prepayment_percent: "0".into(),
                postpayment_days: "0".into(),
                payment_method: "bank".into(),
                arrival_at: arrival,
                ..Default::default()
            }
        }
    };
    let asked = requested_machines(&r);
    let rows = asked.max(input.machines.len()).max(1);
    if input.machines.is_empty() {
        input.machines.push(MachineChoice {
            machine_id: input.machine_id.clone(),
            employee_id: input.employee_id.clone(),
        });
    }
    input.machines.resize(rows, MachineChoice::default());
    let now = to_db_time(s.db.now());
    let fate = quote
        .as_ref()
        .map(|q| fate(&q.status, q.valid_until, &r.status, now));
    Ok(QuoteForm {
        fate,
        view,
        quote,
        rows,
        machines,
        employees,
        vat_modes: VatMode::CURRENT.iter().map(|m| m.as_str()).collect(),
        input,
    })
}
