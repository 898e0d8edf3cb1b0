//! Matching: which suppliers and machines can do a request, ranked, with the
//! reason for every match and non-match.
//!
//! A machine fits a request when
//! 1. its category serves the request type (and is the request's `category`
//!    field when the type asks for one);
//! 2. its specifications satisfy the type's rules (`payload_t` at least
//!    `weight_t`…; a rule whose request field is empty does not apply; a
//!    machine without the spec a rule needs does not fit);
//! 3. its base is within its service radius of the site (great-circle
//!    distance);
//! 4. it is available on every day of the job (the garage's one rule:
//!    active, mandatory documents valid, not a busy day — [`garage::evaluate`];
//!    the first 14 days of a longer job) and not booked by an accepted offer
//!    on any day of it ([`crate::deals::bookings`], which also says what the
//!    days of a job are);
//! 5. its supplier is approved (not pending, rejected or suspended).
//!
//! Suppliers are ranked by their best fitting machine: fitting first, then
//! `0.7 × score + 30 × proximity` (score 0–100 from [`crate::deals::scoring`],
//! proximity 1 at the base and 0 at the edge of the radius), then distance.
//!
//! # Speed
//!
//! The candidates are read with one query: the serving categories and a
//! bounding box around the site as large as the largest service radius of
//! those categories (indexes `machines_match_geo` and `machines_match_radius`),
//! minus rows whose own radius cannot reach the site; the exact great-circle
//! check is done here. Documents, busy days, bookings and scores of the
//! candidates are each loaded in one batch. `podryad bench matching` measures it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use chrono_tz::Tz;
use engine::Sql;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::access::{Actor, Resource, SystemActor, scope};
use crate::deals::bookings::{self, JobDays};
use crate::deals::scoring::{self, Score};
use crate::error::{DomainError, DomainResult};
use crate::fleet::garage::{self, BusyDay, Machine, MachineDocument};
use crate::intake::request_types::RequestType;
use crate::services::Services;

/// Mean Earth radius, km.
const EARTH_KM: f64 = 6371.0088;
/// Days of one job checked for availability, at most.
const MAX_DAYS: i64 = 14;
/// Machines read when the site has no coordinates (no distance to prune by).
const NO_SITE_LIMIT: i64 = 2000;

/// Great-circle (haversine) distance in kilometres.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_KM * a.sqrt().min(1.0).asin()
}

/// The request as matching and the RFQ pages read it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub number: String,
    pub request_type: String,
    pub client_org_id: i64,
    pub owner_user_id: Option<i64>,
    pub status: String,
    pub site_address: Option<String>,
    pub site_lat: Option<f64>,
    pub site_lon: Option<f64>,
    pub site_timezone: Option<String>,
    pub wanted_from: Option<i64>,
    pub wanted_to: Option<i64>,
    pub duration: Option<f64>,
    pub fields: String,
}

const REQUEST_COLUMNS: &str = "r.id, r.number, r.request_type, r.client_org_id, r.owner_user_id, r.status, r.site_address, r.site_lat, r.site_lon, r.site_timezone, r.wanted_from, r.wanted_to, r.duration, r.fields";

impl RequestRow {
    pub fn field_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.fields) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    pub fn tz(&self) -> Tz {
        crate::intake::requests::site_tz(self.site_timezone.as_deref())
    }
}

/// The days of a job whose availability in the garage is checked: the
/// first `MAX_DAYS` (14) of them, to keep the candidate query small.
/// Bookings are checked over the whole job.
pub fn checked_days(job: &JobDays) -> Vec<NaiveDate> {
    job.days().take(MAX_DAYS as usize).collect()
}

/// A request the actor may see (staff; a hunter only their book).
pub(crate) async fn request_for(s: &Services, actor: &Actor, id: i64) -> DomainResult<RequestRow> {
    let mut sql = Sql::new("SELECT ");
    sql.push(REQUEST_COLUMNS)
        .push(" FROM requests r WHERE r.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Request, "r");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// A request by id on a connection of the caller's transaction (local
/// workflow actions read through the step's connection).
pub(crate) async fn request_on(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> DomainResult<RequestRow> {
    let mut sql = Sql::new("SELECT ");
    sql.push(REQUEST_COLUMNS)
        .push(" FROM requests r WHERE r.id = ")
        .bind(id);
    sql.query_as()
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound)
}

/// A request by id, for the system's own work (actions, RFQ views built
/// for suppliers, which never show it whole).
pub(crate) async fn request_by_id(s: &Services, id: i64) -> DomainResult<RequestRow> {
    let mut sql = Sql::new("SELECT ");
    sql.push(REQUEST_COLUMNS)
        .push(" FROM requests r WHERE r.id = ")
        .bind(id);
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Why a machine fits or does not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// `spec_missing`, `spec_too_small`, `spec_mismatch`, `too_far`,
    /// `no_base`, `booked`, `supplier_<status>` (not approved), or one of
    /// the garage's availability codes (`busy`, `document_expired`…).
    pub code: String,
    /// The spec or document concerned.
    pub subject: Option<String>,
    /// What the request needs and what the machine has.
    pub need: Option<String>,
    pub have: Option<String>,
    /// The day concerned (`YYYY-MM-DD`) or a note.
    pub detail: Option<String>,
}

impl Reason {
    fn code(code: impl Into<String>) -> Reason {
        Reason {
            code: code.into(),
            subject: None,
            need: None,
            have: None,
            detail: None,
        }
    }
}

/// One machine, judged against the request.
#[derive(Debug, Clone, Serialize)]
pub struct MachineMatch {
    pub machine_id: i64,
    pub org_id: i64,
    pub category: String,
    pub category_title: String,
    pub make: String,
    pub model: String,
    pub plate: Option<String>,
    pub distance_km: Option<f64>,
    pub radius_km: i64,
    /// Category, specs and distance fit (availability aside).
    pub suits: bool,
    /// Suits and is available on every day of the job.
    pub fits: bool,
    pub reasons: Vec<Reason>,
}

/// One supplier with its machines, ranked.
#[derive(Debug, Clone, Serialize)]
pub struct SupplierMatch {
    pub org_id: i64,
    pub name: String,
    pub status: String,
    pub score: Score,
    pub rank: f64,
    pub fits: bool,
    /// The best fitting machine, or the closest to fitting.
    pub best: Option<MachineMatch>,
    pub machines: Vec<MachineMatch>,
}

/// The result of matching one request.
#[derive(Debug, Clone, Serialize)]
pub struct MatchResult {
    pub request_id: i64,
    /// The days checked, `YYYY-MM-DD`.
    pub days: Vec<String>,
    pub categories: Vec<String>,
    /// The site has coordinates (else distances are not checked).
    pub has_site: bool,
    pub machines_considered: usize,
    pub suppliers: Vec<SupplierMatch>,
}

impl MatchResult {
    pub fn fitting(&self) -> impl Iterator<Item = &SupplierMatch> {
        self.suppliers.iter().filter(|s| s.fits)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct CandidateRow {
    id: i64,
    org_id: i64,
    category: String,
    make: Option<String>,
    model: Option<String>,
    plate: Option<String>,
    specs: String,
    base_lat: Option<f64>,
    base_lon: Option<f64>,
    service_radius_km: i64,
    // The supplier and its figures, joined in rather than loaded per
    // supplier afterwards: a request may reach a thousand machines of
    // hundreds of suppliers.
    org_name: String,
    org_status: String,
    #[sqlx(flatten)]
    stats: scoring::JoinedStats,
    /// 1 when available on every day of the job (the garage's rule, in SQL).
    available: i64,
    /// 1 when an accepted offer books it on one of the job's days.
    booked: i64,
}

/// What the candidate columns are read from: `m` a machine, `o` its
/// supplier, `st` the supplier's figures.
const CANDIDATE_FROM: &str = " FROM machines m JOIN organisations o ON o.id = m.org_id LEFT JOIN supplier_stats st ON st.org_id = m.org_id";

/// The candidate columns with the availability and booking flags for the
/// days of `job`.
fn push_candidate_columns(sql: &mut Sql, s: &Services, job: &JobDays) {
    sql.push(
        "m.id, m.org_id, m.category, m.make, m.model, m.plate, m.specs, m.base_lat, m.base_lon, m.service_radius_km,
         o.name AS org_name, o.status AS org_status, ",
    );
    sql.push(scoring::JOINED_STATS)
        .push(", CAST(CASE WHEN 1 = 1");
    for d in checked_days(job) {
        garage::push_available(sql, &s.equipment, "m", d);
    }
    sql.push(" THEN 1 ELSE 0 END AS BIGINT) AS available, CAST(CASE WHEN EXISTS (SELECT 1 FROM machine_bookings mb WHERE mb.machine_id = m.id");
    bookings::push_within(sql, "mb.day", job);
    sql.push(") THEN 1 ELSE 0 END AS BIGINT) AS booked");
}

/// The categories that may serve a request: the type's, narrowed to the
/// request's `category` field when it has one.
pub fn categories_for(t: &RequestType, fields: &Map<String, Value>) -> Vec<String> {
    let wanted = t
        .fields
        .iter()
        .find(|f| f.kind == crate::intake::request_types::FieldKind::Category)
        .and_then(|f| fields.get(&f.id))
        .and_then(Value::as_str);
    t.categories
        .iter()
        .filter(|c| wanted.is_none_or(|w| w == c.as_str()))
        .cloned()
        .collect()
}

fn request_type<'a>(s: &'a Services, r: &RequestRow) -> DomainResult<&'a RequestType> {
    s.request_types
        .get(&r.request_type)
        .ok_or(DomainError::Conflict("quote.request_type_unknown"))
}

/// Matches a request against every supplier's garage.
pub async fn run(s: &Services, r: &RequestRow) -> DomainResult<MatchResult> {
    let t = request_type(s, r)?;
    let fields = r.field_map();
    let categories = categories_for(t, &fields);
    let site = r.site_lat.zip(r.site_lon);
    let job = bookings::requested_days(s, r);
    let rows = if categories.is_empty() {
        Vec::new()
    } else {
        match site {
            Some((lat, lon)) => candidates_near(s, &job, &categories, lat, lon).await?,
            None => {
                let mut sql = Sql::new("SELECT ");
                push_candidate_columns(&mut sql, s, &job);
                sql.push(CANDIDATE_FROM)
                    .push(" WHERE o.kind = 'supplier' AND m.status = 'active' AND m.category IN (")
                    .bind_list(categories.iter().cloned())
                    .push(") ORDER BY m.id LIMIT ")
                    .push(&NO_SITE_LIMIT.to_string());
                sql.query_as().fetch_all(s.db.pool()).await?
            }
        }
    };
    let orgs: HashMap<i64, OrgInfo> = rows
        .iter()
        .map(|row| {
            let info = OrgInfo {
                name: row.org_name.clone(),
                status: row.org_status.clone(),
                score: row.stats.score(row.org_id),
            };
            (row.org_id, info)
        })
        .collect();
    let machines = judge(s, r, t, &fields, &job, rows).await?;
    let considered = machines.len();
    let suppliers = rank(machines, orgs);
    Ok(MatchResult {
        request_id: r.id,
        days: checked_days(&job).into_iter().map(garage::ymd).collect(),
        categories,
        has_site: site.is_some(),
        machines_considered: considered,
        suppliers,
    })
}

/// A request staff may see, without matching it.
pub async fn staff_request(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<RequestRow> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    request_for(s, actor, request_id).await
}

/// The staff's matching of a request they may see.
pub async fn for_request(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<(RequestRow, MatchResult)> {
    let r = staff_request(s, actor, request_id).await?;
    let m = run(s, &r).await?;
    Ok((r, m))
}

/// Active machines of the serving categories whose service area can reach
/// the site: a bounding box as large as the largest radius, in SQL, then
/// each row's own radius.
async fn candidates_near(
    s: &Services,
    job: &JobDays,
    categories: &[String],
    lat: f64,
    lon: f64,
) -> DomainResult<Vec<CandidateRow>> {
    // The largest radius among the categories: one index probe each.
    let mut sql = Sql::new("SELECT MAX(r) FROM (");
    for (i, c) in categories.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push("SELECT MAX(service_radius_km) AS r FROM machines WHERE category = ")
            .bind(c.as_str());
    }
    sql.push(") radii");
    let max_radius: Option<i64> = sql.query_scalar().fetch_one(s.db.pool()).await?;
    let Some(max_radius) = max_radius else {
        return Ok(Vec::new());
    };
    // A degree of latitude is ~111.2 km; of longitude, that times cos(lat)
    // at the box's widest (poleward) edge. A little slack for rounding.
    let reach = max_radius as f64 + 1.0;
    let dlat = reach / 111.19;
    let widest = (lat.abs() + dlat).min(89.0).to_radians().cos().max(0.01);
    let dlon = reach / (111.32 * widest);
    let mut sql = Sql::new("SELECT ");
    push_candidate_columns(&mut sql, s, job);
    sql.push(CANDIDATE_FROM)
        .push(" WHERE o.kind = 'supplier' AND m.category IN (")
        .bind_list(categories.iter().cloned())
        .push(") AND m.status = 'active' AND m.base_lat BETWEEN ")
        .bind(lat - dlat)
        .push(" AND ")
        .bind(lat + dlat);
    if dlon < 180.0 && lon - dlon > -180.0 && lon + dlon < 180.0 {
        sql.push(" AND m.base_lon BETWEEN ")
            .bind(lon - dlon)
            .push(" AND ")
            .bind(lon + dlon);
    }
    // The row's own radius, on a flat map that never overstates the
    // distance (the shortest degrees of the box), so no machine the great
    // circle would accept is dropped here; the exact check follows.
    if dlon < 180.0 {
        sql.push(" AND (m.base_lat - ")
            .bind(lat)
            .push(") * (m.base_lat - ")
            .bind(lat)
            .push(") * ")
            .bind(LAT_KM_MIN * LAT_KM_MIN)
            .push(" + (m.base_lon - ")
            .bind(lon)
            .push(") * (m.base_lon - ")
            .bind(lon)
            .push(") * ")
            .bind((111.32 * widest) * (111.32 * widest))
            .push(" <= (m.service_radius_km + 1) * (m.service_radius_km + 1)");
    } else {
        sql.push(" AND ABS(m.base_lat - ")
            .bind(lat)
            .push(") * ")
            .bind(LAT_KM_MIN)
            .push(" <= m.service_radius_km + 1");
    }
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// The machines of one supplier that could serve the request (any
/// distance), judged on the days the request asks for: what the quote form
/// offers.
pub async fn machines_of_supplier(
    s: &Services,
    r: &RequestRow,
    org_id: i64,
) -> DomainResult<Vec<MachineMatch>> {
    let job = bookings::requested_days(s, r);
    machines_of_supplier_on(s, r, org_id, &job).await
}

/// The same, judged on the days of `job` (a quote's own days: from its
/// arrival).
pub async fn machines_of_supplier_on(
    s: &Services,
    r: &RequestRow,
    org_id: i64,
    job: &JobDays,
) -> DomainResult<Vec<MachineMatch>> {
    let t = request_type(s, r)?;
    let fields = r.field_map();
    let categories = categories_for(t, &fields);
    if categories.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT ");
    push_candidate_columns(&mut sql, s, job);
    sql.push(CANDIDATE_FROM)
        .push(" WHERE m.org_id = ")
        .bind(org_id)
        .push(" AND m.status = 'active' AND m.category IN (")
        .bind_list(categories.iter().cloned())
        .push(") ORDER BY m.category, m.make, m.model, m.id");
    let rows = sql.query_as().fetch_all(s.db.pool()).await?;
    judge(s, r, t, &fields, job, rows).await
}

/// The shortest degree of latitude, km (at the equator).
const LAT_KM_MIN: f64 = 110.57;

/// Applies every criterion to the candidate rows, loading what
/// availability needs in batches.
async fn judge(
    s: &Services,
    r: &RequestRow,
    t: &RequestType,
    fields: &Map<String, Value>,
    job: &JobDays,
    rows: Vec<CandidateRow>,
) -> DomainResult<Vec<MachineMatch>> {
    let days = checked_days(job);
    let site = r.site_lat.zip(r.site_lon);
    let mut out = Vec::with_capacity(rows.len());
    let mut explain = Vec::new();
    for row in rows {
        let distance = match (site, row.base_lat.zip(row.base_lon)) {
            (Some((la, lo)), Some((bla, blo))) => Some(distance_km(la, lo, bla, blo)),
            _ => None,
        };
        let specs: Map<String, Value> = match serde_json::from_str(&row.specs) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut reasons = spec_reasons(t, fields, &specs);
        name_specs(s, &row.category, &mut reasons);
        match (site, distance) {
            (Some(_), Some(d)) if d > row.service_radius_km as f64 => reasons.push(Reason {
                need: Some(format!("{:.0}", d)),
                have: Some(row.service_radius_km.to_string()),
                ..Reason::code("too_far")
            }),
            (Some(_), None) => reasons.push(Reason::code("no_base")),
            _ => {}
        }
        let suits = reasons.is_empty();
        if row.available == 0 && suits {
            // Why not: the garage's reasons, loaded below for these few.
            explain.push(out.len());
        }
        if row.booked != 0 {
            reasons.push(Reason::code("booked"));
        }
        if row.org_status != "approved" {
            reasons.push(Reason::code(format!("supplier_{}", row.org_status)));
        }
        let fits = reasons.is_empty() && row.available != 0;
        out.push(MachineMatch {
            machine_id: row.id,
            org_id: row.org_id,
            category_title: s
                .equipment
                .category(&row.category)
                .map(|c| c.title.clone())
                .unwrap_or_else(|| row.category.clone()),
            category: row.category,
            make: row.make.unwrap_or_default(),
            model: row.model.unwrap_or_default(),
            plate: row.plate,
            distance_km: distance.map(|d| (d * 10.0).round() / 10.0),
            radius_km: row.service_radius_km,
            suits,
            fits,
            reasons,
        });
    }
    explain_unavailable(s, &days, &mut out, &explain).await?;
    Ok(out)
}

/// Adds the garage's reasons to the machines that suit but are not
/// available ([`garage::evaluate`] on their documents and busy days).
async fn explain_unavailable(
    s: &Services,
    days: &[NaiveDate],
    out: &mut [MachineMatch],
    which: &[usize],
) -> DomainResult<()> {
    if which.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = which.iter().map(|i| out[*i].machine_id).collect();
    // The garage's own loader, in the system's view: matching looks at
    // every supplier's machines, whoever asked for the match.
    let system = SystemActor::new();
    let mut docs_of: HashMap<i64, Vec<MachineDocument>> = HashMap::new();
    for d in garage::documents_of(s, &system, &ids).await? {
        docs_of.entry(d.machine_id).or_default().push(d);
    }
    let mut busy_of: HashMap<i64, Vec<BusyDay>> = HashMap::new();
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        for b in garage::busy_between(s, &ids, *first, *last).await? {
            busy_of.entry(b.machine_id).or_default().push(b);
        }
    }
    for i in which {
        let m = &mut out[*i];
        let machine = Machine {
            id: m.machine_id,
            org_id: m.org_id,
            category: m.category.clone(),
            make: String::new(),
            model: String::new(),
            year: None,
            plate: None,
            vin: None,
            specs: String::new(),
            base_address: None,
            base_lat: None,
            base_lon: None,
            service_radius_km: m.radius_km,
            // Every candidate query reads active machines only.
            status: "active".into(),
            photo_file_id: None,
            created_at: 0,
            updated_at: 0,
        };
        for day in days {
            let a = garage::evaluate(
                &s.equipment,
                &machine,
                docs_of
                    .get(&m.machine_id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                busy_of
                    .get(&m.machine_id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                *day,
            );
            for reason in a.reasons {
                let code = reason.code.to_string();
                if m.reasons
                    .iter()
                    .any(|x| x.code == code && x.subject == reason.document_title)
                {
                    continue;
                }
                m.reasons.push(Reason {
                    code,
                    subject: reason.document_title.or(reason.document),
                    need: None,
                    have: reason.date,
                    detail: reason.note.or_else(|| Some(garage::ymd(*day))),
                });
            }
        }
        m.fits = false;
    }
    Ok(())
}

/// Puts the spec's title and unit ("Грузоподъёмность, т") in place of its
/// code in the reasons people read. A spec the machine's category does not have (a crane asked for a body
/// volume) is named as the catalogue names it elsewhere.
fn name_specs(s: &Services, category: &str, reasons: &mut [Reason]) {
    let own = s.equipment.category(category);
    let others = s.equipment.categories.iter();
    for r in reasons {
        let spec = r.subject.as_ref().and_then(|code| {
            own.into_iter()
                .chain(others.clone())
                .flat_map(|c| c.specs.iter())
                .find(|d| &d.code == code)
        });
        if let Some(spec) = spec {
            r.subject = Some(match &spec.unit {
                Some(unit) => format!("{}, {unit}", spec.title),
                None => spec.title.clone(),
            });
        }
    }
}

/// The type's rules applied to a machine's specs.
pub fn spec_reasons(
    t: &RequestType,
    fields: &Map<String, Value>,
    specs: &Map<String, Value>,
) -> Vec<Reason> {
    let mut out = Vec::new();
    for rule in &t.rules {
        if let Some((f, v)) = &rule.when
            && fields
                .get(f)
                .and_then(Value::as_str)
                .is_none_or(|x| x.to_lowercase() != v.to_lowercase())
        {
            continue;
        }
        if let Some(field) = &rule.at_least {
            let Some(need) = fields.get(field).and_then(Value::as_f64) else {
                continue;
            };
            match specs.get(&rule.spec).and_then(Value::as_f64) {
                Some(have) if have + 1e-9 >= need => {}
                Some(have) => out.push(Reason {
                    subject: Some(rule.spec.clone()),
                    need: Some(crate::intake::requests::number_text(need)),
                    have: Some(crate::intake::requests::number_text(have)),
                    ..Reason::code("spec_too_small")
                }),
                None => out.push(Reason {
                    subject: Some(rule.spec.clone()),
                    need: Some(crate::intake::requests::number_text(need)),
                    ..Reason::code("spec_missing")
                }),
            }
        }
        if let Some(field) = &rule.equals {
            let Some(need) = fields.get(field).and_then(Value::as_str) else {
                continue;
            };
            match specs.get(&rule.spec).and_then(Value::as_str) {
                Some(have) if have.to_lowercase() == need.to_lowercase() => {}
                Some(have) => out.push(Reason {
                    subject: Some(rule.spec.clone()),
                    need: Some(need.to_string()),
                    have: Some(have.to_string()),
                    ..Reason::code("spec_mismatch")
                }),
                None => out.push(Reason {
                    subject: Some(rule.spec.clone()),
                    need: Some(need.to_string()),
                    ..Reason::code("spec_missing")
                }),
            }
        }
    }
    out
}

/// Groups machines by supplier and ranks the suppliers (see the module docs).
fn rank(machines: Vec<MachineMatch>, mut orgs: HashMap<i64, OrgInfo>) -> Vec<SupplierMatch> {
    let mut by_org: BTreeMap<i64, Vec<MachineMatch>> = BTreeMap::new();
    for m in machines {
        by_org.entry(m.org_id).or_default().push(m);
    }
    let mut out = Vec::with_capacity(by_org.len());
    for (org_id, mut list) in by_org {
        list.sort_by(|a, b| {
            b.fits
                .cmp(&a.fits)
                .then(b.suits.cmp(&a.suits))
                .then(a.reasons.len().cmp(&b.reasons.len()))
                .then(
                    a.distance_km
                        .unwrap_or(f64::MAX)
                        .total_cmp(&b.distance_km.unwrap_or(f64::MAX)),
                )
        });
        let OrgInfo {
            name,
            status,
            score,
        } = orgs.remove(&org_id).unwrap_or_else(|| OrgInfo {
            name: String::new(),
            status: String::new(),
            score: scoring::compute(&scoring::Stats::default()),
        });
        let best = list.first().cloned();
        let proximity = best
            .as_ref()
            .and_then(|b| {
                b.distance_km
                    .map(|d| 1.0 - (d / b.radius_km.max(1) as f64).min(1.0))
            })
            .unwrap_or(0.5);
        out.push(SupplierMatch {
            org_id,
            name,
            status,
            score,
            rank: ((0.7 * score.value as f64 + 30.0 * proximity) * 10.0).round() / 10.0,
            fits: best.as_ref().is_some_and(|b| b.fits),
            best,
            machines: list,
        });
    }
    out.sort_by(|a, b| {
        b.fits
            .cmp(&a.fits)
            .then(b.rank.total_cmp(&a.rank))
            .then(
                a.best
                    .as_ref()
                    .and_then(|m| m.distance_km)
                    .unwrap_or(f64::MAX)
                    .total_cmp(
                        &b.best
                            .as_ref()
                            .and_then(|m| m.distance_km)
                            .unwrap_or(f64::MAX),
                    ),
            )
            .then(a.org_id.cmp(&b.org_id))
    });
    out
}

/// A candidate's supplier, as read with its machines.
struct OrgInfo {
    name: String,
    status: String,
    score: scoring::Score,
}

/// Request statuses of the matching-to-offer funnel (set by the request
/// workflow's `request.set_status`).
pub const BOARD_STATUSES: [&str; 10] = [
    "ready_for_matching",
    "rfq",
    "no_quotes",
    "quote_review",
    "offer_approval",
    "offer_sent",
    "machine_booked",
    "offer_declined",
    "offer_expired",
    "accepted",
];

/// A line of the staff's board of requests in matching and quoting.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BoardRow {
    pub id: i64,
    pub number: String,
    pub request_type: String,
    pub status: String,
    pub wanted_from: Option<i64>,
    pub client_name: String,
    pub owner_user_id: Option<i64>,
    pub rfqs: i64,
    pub quotes: i64,
}

/// Requests the actor may see that are in matching, RFQ, review or offer.
pub async fn board(s: &Services, actor: &Actor) -> DomainResult<Vec<BoardRow>> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let mut sql = Sql::new(
        "SELECT r.id, r.number, r.request_type, r.status, r.wanted_from, o.name AS client_name, r.owner_user_id,
                CAST((SELECT COUNT(*) FROM rfqs q WHERE q.request_id = r.id) AS BIGINT) AS rfqs,
                CAST((SELECT COUNT(*) FROM supplier_quotes sq WHERE sq.request_id = r.id AND sq.status IN ('active', 'selected', 'won')) AS BIGINT) AS quotes
         FROM requests r JOIN organisations o ON o.id = r.client_org_id WHERE r.status IN (",
    );
    sql.bind_list(BOARD_STATUSES.iter().map(|x| x.to_string()))
        .push(")");
    scope(&mut sql, actor, Resource::Request, "r");
    sql.push(" ORDER BY r.wanted_from, r.id LIMIT 500");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn great_circle_distances() {
        // Moscow (Kremlin) to Saint Petersburg (Palace Square): ~634 km.
        let d = distance_km(55.7520, 37.6175, 59.9390, 30.3158);
        assert!((d - 634.0).abs() < 5.0, "{d}");
        assert!(distance_km(55.0, 37.0, 55.0, 37.0) < 1e-9);
    }

    #[test]
    fn rules_compare_specs_with_fields() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workflows/request_types"
        ));
        let cat = crate::fleet::catalogue::EquipmentCatalogue::builtin().expect("catalogue");
        let types = crate::intake::request_types::RequestTypes::load_dir(dir, &cat).expect("types");
        let cargo = types.get("cargo").expect("cargo");
        let fields: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"weight_t": 12.5, "body_type": "тент"}))
                .expect("map");
        let ok: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"payload_t": 20, "body_type": "Тент"}))
                .expect("map");
        assert!(spec_reasons(cargo, &fields, &ok).is_empty());
        let small: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"payload_t": 10})).expect("map");
        let reasons = spec_reasons(cargo, &fields, &small);
        let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["spec_too_small", "spec_missing"]);
        assert_eq!(reasons[0].need.as_deref(), Some("12,5"));
        // The rule of a field left empty does not apply.
        let no_body: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"weight_t": 5})).expect("map");
        assert!(spec_reasons(cargo, &no_body, &small).is_empty());
    }
}
