//! A supplier's garage: machines with their category from the equipment
//! catalogue, typed specifications, base and service radius, photos,
//! documents with expiry dates and a calendar of busy days. A machine is
//! available for work only while every mandatory document of its category is
//! valid.
//!
//! # Availability
//!
//! The rule lives here, once: a machine is available on a calendar date when
//! it is active, its category is known, every document its category requires
//! has a record valid on that date (`valid_from` empty or not later,
//! `valid_until` not earlier), and the date is not one of its busy days.
//! [`evaluate`] applies it to loaded rows and says *why not*;
//! [`push_available`] writes the same rule as SQL for lists and matching
//! (a test checks that both agree). Dates are calendar dates of the site's
//! time zone (Moscow unless configured), stored as `YYYY-MM-DD` text, which
//! compares correctly as text.
//!
//! # Expiry warnings
//!
//! Each document with a "valid until" date runs the `machine_document`
//! workflow (`workflows/machine_document.yaml`), started in the same
//! transaction as the document row. Its timers call the
//! `machine_document.warn` action registered by [`register_engine`] 14 days
//! before expiry and once the document has expired. Only the newest document
//! of a kind on a machine is watched: a renewal (a new date on the same
//! record) re-plans the timers through the `document.renewed` event, a newer
//! record of the same kind closes the older record's watch. A warning about
//! one document, stage and date is sent at most once (`machine_document_alerts`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use engine::{
    ActionContext, ActionError, EngineBuilder, ObjectRef, Sql, Tx, action_fn, to_db_time,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::files::{Purpose, StoredFile};
use crate::fleet::catalogue::{DocumentKind, EquipmentCatalogue, SpecType};
use crate::notify;
use crate::services::Services;
use crate::services::ServicesCell;
use crate::{access::audit, args};

/// The workflow that watches a document's expiry, and its object kind.
pub const WORKFLOW: &str = "machine_document";
pub const OBJECT_KIND: &str = "machine_document";
/// How many days before expiry a document counts as "expiring" (the
/// workflow warns the owner at the same distance).
pub const WARN_DAYS: i64 = 14;
/// The longest range of busy days set or cleared at once.
pub const MAX_BUSY_RANGE_DAYS: i64 = 366;
/// Photos one machine may have.
pub const MAX_PHOTOS: i64 = 12;
/// The hour (site time) of the last valid day the workflow's times refer to.
const DEADLINE_HOUR: u32 = 9;
const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Machine {
    pub id: i64,
    pub org_id: i64,
    pub category: String,
    pub make: String,
    pub model: String,
    pub year: Option<i64>,
    pub plate: Option<String>,
    pub vin: Option<String>,
    /// Typed specifications as JSON text (see the catalogue).
    pub specs: String,
    pub base_address: Option<String>,
    pub base_lat: Option<f64>,
    pub base_lon: Option<f64>,
    pub service_radius_km: i64,
    pub status: String,
    pub photo_file_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const MACHINE_COLUMNS: &str = "m.id, m.org_id, m.category, m.make, m.model, m.year, m.plate, m.vin, m.specs, m.base_address, m.base_lat, m.base_lon, m.service_radius_km, m.status, m.photo_file_id, m.created_at, m.updated_at";

impl Machine {
    /// The typed specifications.
    pub fn spec_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.specs) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// Filters of a garage list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineFilter {
    pub category: Option<String>,
    pub q: Option<String>,
    pub include_archived: bool,
    /// Only machines available on this date (`YYYY-MM-DD` or `dd.mm.yyyy`;
    /// anything else is ignored).
    pub available_on: Option<String>,
}

/// The machines of `org_id` the actor may see (a supplier only its own).
pub async fn list(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    f: &MachineFilter,
) -> DomainResult<Vec<Machine>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(MACHINE_COLUMNS)
        .push(" FROM machines m WHERE m.org_id = ")
        .bind(org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "m");
    if !f.include_archived {
        sql.push(" AND m.status = 'active'");
    }
    if let Some(c) = f.category.as_deref().filter(|c| !c.is_empty()) {
        sql.push(" AND m.category = ").bind(c);
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(" AND m.search_text LIKE ")
            .bind(crate::search::pattern(q))
            .push(" ESCAPE '\\'");
    }
    if let Some(date) = f.available_on.as_deref().and_then(parse_date) {
        push_available(&mut sql, &s.equipment, "m", date);
    }
    sql.push(" ORDER BY m.category, m.make, m.model, m.id");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// One machine of a list, with what the list shows about it.
#[derive(Debug, Clone, Serialize)]
pub struct MachineCard {
    #[serde(flatten)]
    pub machine: Machine,
    pub category_title: String,
    pub availability: Availability,
}

/// A garage list with each machine's availability on `available_on` (today
/// when the filter names no date).
pub async fn overview(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    f: &MachineFilter,
) -> DomainResult<(NaiveDate, Vec<MachineCard>)> {
    let date = f
        .available_on
        .as_deref()
        .and_then(parse_date)
        .unwrap_or_else(|| today(s));
    let machines = list(s, actor, org_id, f).await?;
    let ids: Vec<i64> = machines.iter().map(|m| m.id).collect();
    let docs = documents_of(s, actor, &ids).await?;
    let busy = busy_between(s, &ids, date, date).await?;
    let cards = machines
        .into_iter()
        .map(|m| {
            let availability = evaluate(&s.equipment, &m, &docs, &busy, date);
            let category_title = category_title(&s.equipment, &m.category);
            MachineCard {
                machine: m,
                category_title,
                availability,
            }
        })
        .collect();
    Ok((date, cards))
}

fn category_title(catalogue: &EquipmentCatalogue, code: &str) -> String {
    catalogue
        .category(code)
        .map(|c| c.title.clone())
        .unwrap_or_else(|| code.to_string())
}

/// A machine the actor may see.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Machine> {
    let mut sql = Sql::new("SELECT ");
    sql.push(MACHINE_COLUMNS)
        .push(" FROM machines m WHERE m.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::OrgOwned, "m");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

fn require_office(actor: &Actor) -> DomainResult<()> {
    if actor.is_supplier_office() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// Whether the actor may change the machine: its own supplier's office.
/// The broker's staff see every garage but change none.
pub fn can_edit(actor: &Actor, m: &Machine) -> bool {
    require_office(actor).is_ok() && m.org_id == actor.org_id
}

/// A machine the actor may change.
async fn owned(s: &Services, actor: &Actor, id: i64) -> DomainResult<Machine> {
    require_office(actor)?;
    let m = get(s, actor, id).await?;
    if m.org_id != actor.org_id {
        return Err(DomainError::NotFound);
    }
    Ok(m)
}

/// An active machine the actor may change.
async fn owned_active(s: &Services, actor: &Actor, id: i64) -> DomainResult<Machine> {
    let m = owned(s, actor, id).await?;
    if m.status != "active" {
        return Err(DomainError::Conflict("machine.archived"));
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// Dates

/// Today's calendar date in the site's time zone.
pub fn today(s: &Services) -> NaiveDate {
    s.db.now()
        .with_timezone(&s.engine.vocabulary().timezone)
        .date_naive()
}

/// A calendar date as typed: `2026-11-01` (a date input) or `01.11.2026`.
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let t = input.trim();
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d.%m.%Y"))
        .ok()?;
    (1990..=2100).contains(&d.year()).then_some(d)
}

/// A date as stored: `YYYY-MM-DD`.
pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A stored date as people read it: `01.11.2026`.
fn dmy(stored: &str) -> String {
    parse_date(stored)
        .map(|d| d.format("%d.%m.%Y").to_string())
        .unwrap_or_else(|| stored.to_string())
}

/// The moment the workflow's timers refer to: 09:00 site time on `date`,
/// as RFC 3339 in UTC.
fn deadline_at(s: &Services, date: NaiveDate) -> String {
    let tz = s.engine.vocabulary().timezone;
    let local = date.and_hms_opt(DEADLINE_HOUR, 0, 0).unwrap_or_default();
    let at = tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local));
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------
// Machines: input, validation, storing

/// A machine as typed into a form or a spreadsheet row (all text, kept as
/// typed so a form with errors can be shown again).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MachineInput {
    pub category: String,
    pub make: String,
    pub model: String,
    pub year: String,
    pub plate: String,
    pub vin: String,
    pub base_address: String,
    pub base_lat: String,
    pub base_lon: String,
    pub service_radius_km: String,
    /// Specification code → value as typed.
    pub specs: std::collections::BTreeMap<String, String>,
}

/// A checked machine, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidMachine {
    pub category: String,
    pub make: String,
    pub model: String,
    pub year: Option<i64>,
    pub plate: Option<String>,
    pub vin: Option<String>,
    pub base_address: Option<String>,
    pub base_lat: Option<f64>,
    pub base_lon: Option<f64>,
    pub service_radius_km: i64,
    pub specs: serde_json::Map<String, serde_json::Value>,
}

/// The default radius a machine travels from its base, when not given.
pub const DEFAULT_RADIUS_KM: i64 = 50;

fn decimal(s: &str) -> Option<f64> {
    s.trim()
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// A stored specification value as a form shows it again (`25,5`, `on`).
fn spec_text(v: &Value) -> String {
    match v {
        Value::Bool(true) => "on".into(),
        Value::Bool(false) | Value::Null => String::new(),
        Value::Number(n) => number_text(n),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `25.5` → `25,5`, `25.0` → `25`.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}").replace('.', ","),
        None => n.to_string(),
    }
}

impl MachineInput {
    /// The form of a stored machine, for editing.
    pub fn from_machine(m: &Machine) -> MachineInput {
        MachineInput {
            category: m.category.clone(),
            make: m.make.clone(),
            model: m.model.clone(),
            year: m.year.map(|y| y.to_string()).unwrap_or_default(),
            plate: m.plate.clone().unwrap_or_default(),
            vin: m.vin.clone().unwrap_or_default(),
            base_address: m.base_address.clone().unwrap_or_default(),
            base_lat: m.base_lat.map(|v| v.to_string()).unwrap_or_default(),
            base_lon: m.base_lon.map(|v| v.to_string()).unwrap_or_default(),
            service_radius_km: m.service_radius_km.to_string(),
            specs: m
                .spec_map()
                .iter()
                .map(|(k, v)| (k.clone(), spec_text(v)))
                .collect(),
        }
    }

    /// Checks every field against the catalogue; errors are keyed by field
    /// (`spec_<code>` for specifications).
    pub fn validate(
        &self,
        catalogue: &crate::fleet::catalogue::EquipmentCatalogue,
        this_year: i32,
    ) -> Result<ValidMachine, crate::error::FieldErrors> {
        use crate::values::{StatePlate, Vin};
        let mut e = crate::error::FieldErrors::new();
        let category = catalogue.category(self.category.trim());
        if category.is_none() {
            e.add(
                "category",
                if self.category.trim().is_empty() {
                    "required"
                } else {
                    "category.unknown"
                },
            );
        }
        if self.make.trim().is_empty() {
            e.add("make", "required");
        } else if self.make.trim().chars().count() > MAX_TEXT {
            e.add("make", "text.too_long");
        }
        if self.model.trim().is_empty() {
            e.add("model", "required");
        } else if self.model.trim().chars().count() > MAX_TEXT {
            e.add("model", "text.too_long");
        }
        let year = match self.year.trim() {
            "" => None,
            y => match y.parse::<i64>() {
                Ok(y) if (1950..=i64::from(this_year) + 1).contains(&y) => Some(y),
                _ => {
                    e.add("year", "year.invalid");
                    None
                }
            },
        };
        let plate = match self.plate.trim() {
            "" => {
                if category.is_some_and(|c| c.road_vehicle) {
                    e.add("plate", "required");
                }
                None
            }
            p => match StatePlate::parse(p) {
                Ok(p) => Some(p.as_str().to_string()),
                Err(_) => {
                    e.add("plate", "plate.invalid");
                    None
                }
            },
        };
        let vin = e.optional("vin", &self.vin, "vin.invalid", Vin::parse);
        let (lat, lon) = match (self.base_lat.trim(), self.base_lon.trim()) {
            ("", "") => (None, None),
            (a, b) => match (decimal(a), decimal(b)) {
                (Some(la), Some(lo))
                    if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) =>
                {
                    (Some(la), Some(lo))
                }
                _ => {
                    e.add("base_lat", "coordinates.invalid");
                    (None, None)
                }
            },
        };
        if self.base_address.trim().chars().count() > 500 {
            e.add("base_address", "text.too_long");
        }
        let radius = match self.service_radius_km.trim() {
            "" => DEFAULT_RADIUS_KM,
            r => match r.parse::<i64>() {
                Ok(r) if (1..=3000).contains(&r) => r,
                _ => {
                    e.add("service_radius_km", "radius.invalid");
                    DEFAULT_RADIUS_KM
                }
            },
        };
        let specs = match category.map(|c| c.parse_specs(&self.specs)) {
            Some(Ok(s)) => s,
            Some(Err(errs)) => {
                e.0.extend(errs.0);
                serde_json::Map::new()
            }
            None => serde_json::Map::new(),
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ValidMachine {
            category: self.category.trim().to_string(),
            make: self.make.trim().to_string(),
            model: self.model.trim().to_string(),
            year,
            plate,
            vin,
            base_address: Some(self.base_address.trim().to_string()).filter(|s| !s.is_empty()),
            base_lat: lat,
            base_lon: lon,
            service_radius_km: radius,
            specs,
        })
    }
}

/// Whether another active machine (not `except`) carries `plate`.
async fn plate_taken(tx: &mut Tx, plate: &str, except: Option<i64>) -> Result<bool, sqlx::Error> {
    let taken: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM machines WHERE plate = $1 AND status = 'active' AND id <> $2",
    )
    .bind(plate)
    .bind(except.unwrap_or(0))
    .fetch_one(&mut **tx)
    .await?;
    Ok(taken > 0)
}

/// Stores a checked machine for `org_id` inside the caller's transaction.
/// A plate already used by another active machine is a field error.
pub async fn insert_machine(
    tx: &mut engine::Tx,
    now: chrono::DateTime<chrono::Utc>,
    org_id: i64,
    m: &ValidMachine,
) -> DomainResult<i64> {
    if let Some(plate) = &m.plate
        && plate_taken(tx, plate, None).await?
    {
        return Err(crate::error::DomainError::field("plate", "plate.taken"));
    }
    // Built with `Sql` so that missing coordinates are written as NULL
    // (see `Sql::bind` on sqlx's nullable floats).
    let mut sql = Sql::new(
        "INSERT INTO machines (org_id, category, make, model, year, plate, vin, specs, base_address, base_lat, base_lon,
                               service_radius_km, status, created_at, updated_at) VALUES (",
    );
    sql.bind(org_id)
        .push(", ")
        .bind(m.category.clone())
        .push(", ")
        .bind(m.make.clone())
        .push(", ")
        .bind(m.model.clone())
        .push(", ")
        .bind(m.year)
        .push(", ")
        .bind(m.plate.clone())
        .push(", ")
        .bind(m.vin.clone())
        .push(", ")
        .bind(serde_json::Value::Object(m.specs.clone()).to_string())
        .push(", ")
        .bind(m.base_address.clone())
        .push(", ")
        .bind(m.base_lat)
        .push(", ")
        .bind(m.base_lon)
        .push(", ")
        .bind(m.service_radius_km)
        .push(", 'active', ")
        .bind(engine::to_db_time(now))
        .push(", ")
        .bind(engine::to_db_time(now))
        .push(") RETURNING id");
    let id: i64 = sql.query_scalar().fetch_one(&mut **tx).await?;
    crate::search::index_machine(tx, id).await?;
    Ok(id)
}

/// An uploaded file as the web layer hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// Checks and stores an upload; its field errors join `errors`.
async fn accept_upload(
    s: &Services,
    field: &str,
    purpose: Purpose,
    upload: Option<Upload<'_>>,
    errors: &mut FieldErrors,
) -> DomainResult<Option<StoredFile>> {
    let Some(u) = upload else { return Ok(None) };
    match s.files.accept(field, purpose, u.name, u.bytes).await {
        Ok(f) => Ok(Some(f)),
        Err(DomainError::Invalid(e)) => {
            errors.0.extend(e.0);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Commits when `result` is good; otherwise rolls back. Either way a stored
/// file that did not end up recorded is removed again.
async fn finish<T>(
    s: &Services,
    tx: Tx,
    result: DomainResult<T>,
    stored: Option<&StoredFile>,
) -> DomainResult<T> {
    let outcome = match result {
        Ok(v) => tx.commit().await.map(|()| v).map_err(DomainError::from),
        Err(e) => {
            drop(tx);
            Err(e)
        }
    };
    match outcome {
        Ok(v) => {
            s.after_commit();
            Ok(v)
        }
        Err(e) => {
            if let Some(f) = stored {
                s.files.discard(f).await;
            }
            Err(e)
        }
    }
}

fn this_year(s: &Services) -> i32 {
    today(s).year()
}

/// Adds a machine (with an optional first photo) to the actor's own
/// supplier. Everything is stored in one transaction or nothing is.
pub async fn create(
    s: &Services,
    actor: &Actor,
    input: &MachineInput,
    photo: Option<Upload<'_>>,
) -> DomainResult<i64> {
    require_office(actor)?;
    let mut errors = FieldErrors::new();
    let valid = match input.validate(&s.equipment, this_year(s)) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.0.extend(e.0);
            None
        }
    };
    let stored = accept_upload(s, "photo", Purpose::Photo, photo, &mut errors).await?;
    let valid = match valid {
        Some(v) if errors.is_empty() => v,
        _ => {
            if let Some(f) = &stored {
                s.files.discard(f).await;
            }
            return Err(DomainError::Invalid(errors));
        }
    };
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let id = insert_machine(&mut tx, now, actor.org_id, &valid).await?;
        if let Some(f) = &stored {
            attach_photo(&mut tx, now, actor, id, f, true).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.created",
            "machine",
            Some(id),
            json!({"category": valid.category, "plate": valid.plate}),
        )
        .await?;
        Ok(id)
    }
    .await;
    finish(s, tx, result, stored.as_ref()).await
}

/// Saves a changed machine of the actor's supplier.
pub async fn update(
    s: &Services,
    actor: &Actor,
    id: i64,
    input: &MachineInput,
) -> DomainResult<()> {
    let current = owned_active(s, actor, id).await?;
    let v = input
        .validate(&s.equipment, this_year(s))
        .map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        if let Some(plate) = &v.plate
            && plate_taken(&mut tx, plate, Some(id)).await?
        {
            return Err(DomainError::field("plate", "plate.taken"));
        }
        let mut sql = Sql::new("UPDATE machines SET category = ");
        sql.bind(v.category.clone())
            .push(", make = ")
            .bind(v.make.clone())
            .push(", model = ")
            .bind(v.model.clone())
            .push(", year = ")
            .bind(v.year)
            .push(", plate = ")
            .bind(v.plate.clone())
            .push(", vin = ")
            .bind(v.vin.clone())
            .push(", specs = ")
            .bind(Value::Object(v.specs.clone()).to_string())
            .push(", base_address = ")
            .bind(v.base_address.clone())
            .push(", base_lat = ")
            .bind(v.base_lat)
            .push(", base_lon = ")
            .bind(v.base_lon)
            .push(", service_radius_km = ")
            .bind(v.service_radius_km)
            .push(", updated_at = ")
            .bind(to_db_time(now))
            .push(" WHERE id = ")
            .bind(id);
        sql.query().execute(&mut *tx).await?;
        crate::search::index_machine(&mut tx, id).await?;
        let mut changed = Vec::new();
        let before = MachineInput::from_machine(&current);
        for (field, old, new) in [
            ("category", &current.category, &v.category),
            ("make", &current.make, &v.make),
            ("model", &current.model, &v.model),
        ] {
            if old != new {
                changed.push(field);
            }
        }
        if before.plate != v.plate.clone().unwrap_or_default() {
            changed.push("plate");
        }
        if current.spec_map() != v.specs {
            changed.push("specs");
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.updated",
            "machine",
            Some(id),
            json!({"changed": changed}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

/// Takes a machine out of work: it is unavailable and its documents are no
/// longer watched.
pub async fn archive(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    owned_active(s, actor, id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        sqlx::query("UPDATE machines SET status = 'archived', updated_at = $1 WHERE id = $2")
            .bind(to_db_time(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let docs: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM machine_documents WHERE machine_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        for d in docs {
            unwatch(s, &mut tx, d, actor.user()).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.archived",
            "machine",
            Some(id),
            json!({}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

/// Brings an archived machine back; its documents are watched again.
pub async fn restore(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    let m = owned(s, actor, id).await?;
    if m.status == "active" {
        return Ok(());
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        if let Some(plate) = &m.plate
            && plate_taken(&mut tx, plate, Some(id)).await?
        {
            return Err(DomainError::Conflict("machine.plate_taken"));
        }
        sqlx::query("UPDATE machines SET status = 'active', updated_at = $1 WHERE id = $2")
            .bind(to_db_time(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT kind FROM machine_documents WHERE machine_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        for kind in kinds {
            rewatch_kind(s, &mut tx, id, &kind, None, actor.user()).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.restored",
            "machine",
            Some(id),
            json!({}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

// ---------------------------------------------------------------------------
// Photos

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MachinePhoto {
    pub file_id: i64,
    pub position: i64,
}

/// The photos of a machine the actor may see, the main one first.
pub async fn photos(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
) -> DomainResult<Vec<MachinePhoto>> {
    let m = get(s, actor, machine_id).await?;
    let mut rows: Vec<MachinePhoto> =
        sqlx::query_as("SELECT file_id, position FROM machine_photos WHERE machine_id = $1 ORDER BY position, file_id")
            .bind(machine_id)
            .fetch_all(s.db.pool())
            .await?;
    if let Some(main) = m.photo_file_id
        && let Some(i) = rows.iter().position(|p| p.file_id == main)
    {
        let p = rows.remove(i);
        rows.insert(0, p);
    }
    Ok(rows)
}

async fn attach_photo(
    tx: &mut Tx,
    now: chrono::DateTime<Utc>,
    actor: &Actor,
    machine_id: i64,
    f: &StoredFile,
    main: bool,
) -> DomainResult<i64> {
    let file_id = f.record(tx, now, actor.org_id, actor.user()).await?;
    let position: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM machine_photos WHERE machine_id = $1",
    )
    .bind(machine_id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO machine_photos (machine_id, file_id, position, created_at) VALUES ($1, $2, $3, $4)")
        .bind(machine_id)
        .bind(file_id)
        .bind(position)
        .bind(to_db_time(now))
        .execute(&mut **tx)
        .await?;
    let sql = if main {
        "UPDATE machines SET photo_file_id = $1, updated_at = $2 WHERE id = $3"
    } else {
        "UPDATE machines SET photo_file_id = COALESCE(photo_file_id, $1), updated_at = $2 WHERE id = $3"
    };
    sqlx::query(sql)
        .bind(file_id)
        .bind(to_db_time(now))
        .bind(machine_id)
        .execute(&mut **tx)
        .await?;
    Ok(file_id)
}

/// Adds a photo to a machine of the actor's supplier.
pub async fn add_photo(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    upload: Option<Upload<'_>>,
) -> DomainResult<i64> {
    owned(s, actor, machine_id).await?;
    if upload.is_none() {
        return Err(DomainError::field("photo", "required"));
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM machine_photos WHERE machine_id = $1")
            .bind(machine_id)
            .fetch_one(s.db.pool())
            .await?;
    if count >= MAX_PHOTOS {
        return Err(DomainError::field("photo", "photos.too_many"));
    }
    let mut errors = FieldErrors::new();
    let stored = accept_upload(s, "photo", Purpose::Photo, upload, &mut errors).await?;
    let Some(stored) = stored else {
        return Err(DomainError::Invalid(errors));
    };
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let id = attach_photo(&mut tx, now, actor, machine_id, &stored, false).await?;
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.photo_added",
            "machine",
            Some(machine_id),
            json!({"file_id": id}),
        )
        .await?;
        Ok(id)
    }
    .await;
    finish(s, tx, result, Some(&stored)).await
}

/// Removes a photo from a machine (the file itself stays on record).
pub async fn remove_photo(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    file_id: i64,
) -> DomainResult<()> {
    owned(s, actor, machine_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let removed = sqlx::query("DELETE FROM machine_photos WHERE machine_id = $1 AND file_id = $2")
            .bind(machine_id)
            .bind(file_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(DomainError::NotFound);
        }
        sqlx::query(
            "UPDATE machines SET photo_file_id = (SELECT p.file_id FROM machine_photos p WHERE p.machine_id = $1 ORDER BY p.position, p.file_id LIMIT 1),
                updated_at = $2 WHERE id = $1 AND photo_file_id = $3",
        )
        .bind(machine_id)
        .bind(to_db_time(now))
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, now, Some(actor), "machine.photo_removed", "machine", Some(machine_id), json!({"file_id": file_id})).await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

/// Makes one of a machine's photos the main one (shown in lists).
pub async fn set_main_photo(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    file_id: i64,
) -> DomainResult<()> {
    owned(s, actor, machine_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let updated = sqlx::query(
            "UPDATE machines SET photo_file_id = $1, updated_at = $2 WHERE id = $3
               AND EXISTS (SELECT 1 FROM machine_photos p WHERE p.machine_id = $3 AND p.file_id = $1)",
        )
        .bind(file_id)
        .bind(to_db_time(now))
        .bind(machine_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(DomainError::NotFound);
        }
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

// ---------------------------------------------------------------------------
// Documents

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MachineDocument {
    pub id: i64,
    pub machine_id: i64,
    pub org_id: i64,
    pub kind: String,
    pub number: Option<String>,
    /// `YYYY-MM-DD`.
    pub valid_from: Option<String>,
    /// `YYYY-MM-DD`; the last day the document is valid.
    pub valid_until: Option<String>,
    pub file_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const DOCUMENT_COLUMNS: &str = "d.id, d.machine_id, d.org_id, d.kind, d.number, d.valid_from, d.valid_until, d.file_id, d.created_at, d.updated_at";

impl MachineDocument {
    /// Whether the document is valid on `day` (`YYYY-MM-DD`).
    pub fn is_valid_on(&self, day: &str) -> bool {
        self.valid_until.as_deref().is_some_and(|u| u >= day)
            && self.valid_from.as_deref().is_none_or(|f| f <= day)
    }
}

/// A document as a machine's page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    #[serde(flatten)]
    pub document: MachineDocument,
    pub title: String,
    /// Required by the machine's category.
    pub mandatory: bool,
    /// `valid`, `expiring` (within [`WARN_DAYS`]), `expired`,
    /// `not_yet_valid`, or `replaced` (expired, but a newer one is valid).
    pub state: &'static str,
    /// Days until the end of validity (0 on the last valid day).
    pub days_left: Option<i64>,
}

fn document_state(
    d: &MachineDocument,
    all: &[MachineDocument],
    today: NaiveDate,
) -> (&'static str, Option<i64>) {
    let day = ymd(today);
    let days_left = d
        .valid_until
        .as_deref()
        .and_then(parse_date)
        .map(|u| (u - today).num_days());
    let state = match days_left {
        Some(n) if n >= 0 => {
            if d.valid_from.as_deref().is_some_and(|f| f > day.as_str()) {
                "not_yet_valid"
            } else if n < WARN_DAYS {
                "expiring"
            } else {
                "valid"
            }
        }
        _ if all
            .iter()
            .any(|o| o.id != d.id && o.kind == d.kind && o.is_valid_on(&day)) =>
        {
            "replaced"
        }
        _ => "expired",
    };
    (state, days_left)
}

/// The documents of a machine the actor may see, newest first per kind,
/// mandatory kinds first.
pub async fn documents(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
) -> DomainResult<Vec<DocumentView>> {
    let m = get(s, actor, machine_id).await?;
    let docs = documents_of(s, actor, &[m.id]).await?;
    let mandatory: Vec<String> = s
        .equipment
        .category(&m.category)
        .map(|c| c.documents.clone())
        .unwrap_or_default();
    let today = today(s);
    let mut views: Vec<DocumentView> = docs
        .iter()
        .map(|d| {
            let (state, days_left) = document_state(d, &docs, today);
            DocumentView {
                document: d.clone(),
                title: s
                    .equipment
                    .document(&d.kind)
                    .map(|k| k.title.clone())
                    .unwrap_or_else(|| d.kind.clone()),
                mandatory: mandatory.contains(&d.kind),
                state,
                days_left,
            }
        })
        .collect();
    let order = |k: &str| mandatory.iter().position(|m| m == k).unwrap_or(usize::MAX);
    views.sort_by(|a, b| {
        order(&a.document.kind)
            .cmp(&order(&b.document.kind))
            .then_with(|| a.document.kind.cmp(&b.document.kind))
            .then_with(|| b.document.valid_until.cmp(&a.document.valid_until))
            .then_with(|| b.document.id.cmp(&a.document.id))
    });
    Ok(views)
}

/// The documents of several machines, scoped to what the actor may see.
pub(crate) async fn documents_of(
    s: &Services,
    actor: &Actor,
    machine_ids: &[i64],
) -> DomainResult<Vec<MachineDocument>> {
    if machine_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT ");
    sql.push(DOCUMENT_COLUMNS)
        .push(" FROM machine_documents d WHERE d.machine_id IN (")
        .bind_list(machine_ids.iter().copied())
        .push(")");
    scope(&mut sql, actor, Resource::OrgOwned, "d");
    sql.push(" ORDER BY d.machine_id, d.kind, d.valid_until DESC, d.id DESC");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// One document of a machine the actor may see.
pub async fn document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    document_id: i64,
) -> DomainResult<MachineDocument> {
    let d = document_by_id(s, actor, document_id).await?;
    if d.machine_id != machine_id {
        return Err(DomainError::NotFound);
    }
    Ok(d)
}

/// A document the actor may see, by its id alone (links from workflows).
pub async fn document_by_id(
    s: &Services,
    actor: &Actor,
    document_id: i64,
) -> DomainResult<MachineDocument> {
    let mut sql = Sql::new("SELECT ");
    sql.push(DOCUMENT_COLUMNS)
        .push(" FROM machine_documents d WHERE d.id = ")
        .bind(document_id);
    scope(&mut sql, actor, Resource::OrgOwned, "d");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// A document as typed into the form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentInput {
    pub kind: String,
    pub number: String,
    pub valid_from: String,
    pub valid_until: String,
}

/// A checked document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDocument {
    pub kind: String,
    pub number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: NaiveDate,
}

impl DocumentInput {
    pub fn from_document(d: &MachineDocument) -> DocumentInput {
        DocumentInput {
            kind: d.kind.clone(),
            number: d.number.clone().unwrap_or_default(),
            valid_from: d.valid_from.clone().unwrap_or_default(),
            valid_until: d.valid_until.clone().unwrap_or_default(),
        }
    }

    /// Checks the document against the catalogue's document kinds.
    pub fn validate(&self, catalogue: &EquipmentCatalogue) -> Result<ValidDocument, FieldErrors> {
        let mut e = FieldErrors::new();
        let kind = self.kind.trim();
        if kind.is_empty() {
            e.add("kind", "required");
        } else if catalogue.document(kind).is_none() {
            e.add("kind", "document.unknown");
        }
        let number = self.number.trim();
        if number.chars().count() > 100 {
            e.add("number", "text.too_long");
        }
        let valid_from = match self.valid_from.trim() {
            "" => None,
            t => match parse_date(t) {
                Some(d) => Some(d),
                None => {
                    e.add("valid_from", "date.invalid");
                    None
                }
            },
        };
        let valid_until = match self.valid_until.trim() {
            "" => {
                e.add("valid_until", "required");
                None
            }
            t => match parse_date(t) {
                Some(d) => Some(d),
                None => {
                    e.add("valid_until", "date.invalid");
                    None
                }
            },
        };
        if let (Some(f), Some(u)) = (valid_from, valid_until)
            && f > u
        {
            e.add("valid_until", "document.ends_before_start");
        }
        match valid_until {
            Some(valid_until) if e.is_empty() => Ok(ValidDocument {
                kind: kind.to_string(),
                number: Some(number.to_string()).filter(|n| !n.is_empty()),
                valid_from,
                valid_until,
            }),
            _ => Err(e),
        }
    }
}

/// Stores a checked document inside the caller's transaction (no watch).
pub async fn insert_document(
    tx: &mut Tx,
    now: chrono::DateTime<Utc>,
    machine_id: i64,
    org_id: i64,
    d: &ValidDocument,
    file_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO machine_documents (machine_id, org_id, kind, number, valid_from, valid_until, file_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(machine_id)
    .bind(org_id)
    .bind(&d.kind)
    .bind(d.number.clone())
    .bind(d.valid_from.map(ymd))
    .bind(ymd(d.valid_until))
    .bind(file_id)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await
}

async fn checked_document(
    s: &Services,
    input: &DocumentInput,
    scan: Option<Upload<'_>>,
) -> DomainResult<(ValidDocument, Option<StoredFile>)> {
    let mut errors = FieldErrors::new();
    let valid = match input.validate(&s.equipment) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.0.extend(e.0);
            None
        }
    };
    let stored = accept_upload(s, "scan", Purpose::Document, scan, &mut errors).await?;
    match valid {
        Some(v) if errors.is_empty() => Ok((v, stored)),
        _ => {
            if let Some(f) = &stored {
                s.files.discard(f).await;
            }
            Err(DomainError::Invalid(errors))
        }
    }
}

/// Adds a document (with an optional scan) to a machine of the actor's
/// supplier and starts watching its expiry, in one transaction.
pub async fn add_document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    input: &DocumentInput,
    scan: Option<Upload<'_>>,
) -> DomainResult<i64> {
    let m = owned_active(s, actor, machine_id).await?;
    let (v, stored) = checked_document(s, input, scan).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let file_id = match &stored {
            Some(f) => Some(f.record(&mut tx, now, m.org_id, actor.user()).await?),
            None => None,
        };
        let id = insert_document(&mut tx, now, m.id, m.org_id, &v, file_id).await?;
        rewatch_kind(s, &mut tx, m.id, &v.kind, Some(id), actor.user()).await?;
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine_document.added",
            "machine",
            Some(m.id),
            json!({"document_id": id, "kind": v.kind, "valid_until": ymd(v.valid_until)}),
        )
        .await?;
        Ok(id)
    }
    .await;
    finish(s, tx, result, stored.as_ref()).await
}

/// Saves a changed document; a new "valid until" moves its expiry warning.
pub async fn update_document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    document_id: i64,
    input: &DocumentInput,
    scan: Option<Upload<'_>>,
) -> DomainResult<()> {
    let m = owned_active(s, actor, machine_id).await?;
    let current = document(s, actor, machine_id, document_id).await?;
    let (v, stored) = checked_document(s, input, scan).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let file_id = match &stored {
            Some(f) => Some(f.record(&mut tx, now, m.org_id, actor.user()).await?),
            None => current.file_id,
        };
        sqlx::query(
            "UPDATE machine_documents SET kind = $1, number = $2, valid_from = $3, valid_until = $4, file_id = $5, updated_at = $6
             WHERE id = $7",
        )
        .bind(&v.kind)
        .bind(v.number.clone())
        .bind(v.valid_from.map(ymd))
        .bind(ymd(v.valid_until))
        .bind(file_id)
        .bind(to_db_time(now))
        .bind(document_id)
        .execute(&mut *tx)
        .await?;
        let new_until = ymd(v.valid_until);
        let moved = current.valid_until.as_deref() != Some(new_until.as_str());
        if current.kind != v.kind {
            // It now counts for another kind: the old kind's newest record
            // takes over the watch there.
            unwatch(s, &mut tx, document_id, actor.user()).await?;
            rewatch_kind(s, &mut tx, m.id, &current.kind, None, actor.user()).await?;
            rewatch_kind(s, &mut tx, m.id, &v.kind, None, actor.user()).await?;
        } else {
            rewatch_kind(s, &mut tx, m.id, &v.kind, moved.then_some(document_id), actor.user()).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine_document.updated",
            "machine",
            Some(m.id),
            json!({"document_id": document_id, "kind": v.kind, "valid_until": new_until, "was": current.valid_until}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, stored.as_ref()).await
}

/// Deletes a document; its watch ends, an older record of the kind takes over.
pub async fn delete_document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    document_id: i64,
) -> DomainResult<()> {
    let m = owned(s, actor, machine_id).await?;
    let current = document(s, actor, machine_id, document_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        unwatch(s, &mut tx, document_id, actor.user()).await?;
        sqlx::query("DELETE FROM machine_documents WHERE id = $1").bind(document_id).execute(&mut *tx).await?;
        if m.status == "active" {
            rewatch_kind(s, &mut tx, m.id, &current.kind, None, actor.user()).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine_document.deleted",
            "machine",
            Some(m.id),
            json!({"document_id": document_id, "kind": current.kind, "valid_until": current.valid_until}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}

// ---------------------------------------------------------------------------
// Watching expiry with the workflow engine

fn engine_error(e: engine::EngineError) -> DomainError {
    DomainError::Other(anyhow::anyhow!("{e}"))
}

async fn is_watched(tx: &mut Tx, document_id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_instances WHERE object_kind = $1 AND object_id = $2 AND finished_at IS NULL",
    )
    .bind(OBJECT_KIND)
    .bind(document_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// Ends the watch of a document (if it has one).
async fn unwatch(
    s: &Services,
    tx: &mut Tx,
    document_id: i64,
    user: Option<i64>,
) -> DomainResult<()> {
    s.engine
        .emit_to_object_in_tx(
            tx,
            OBJECT_KIND,
            document_id,
            "document.removed",
            json!({}),
            user,
        )
        .await
        .map_err(engine_error)?;
    Ok(())
}

/// Makes sure exactly the newest record of `kind` on a machine is watched.
/// `changed` names a record whose date has just changed: its running watch
/// is told, so that the workflow re-plans its timers.
async fn rewatch_kind(
    s: &Services,
    tx: &mut Tx,
    machine_id: i64,
    kind: &str,
    changed: Option<i64>,
    user: Option<i64>,
) -> DomainResult<()> {
    let docs: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, org_id, valid_until FROM machine_documents WHERE machine_id = $1 AND kind = $2 AND valid_until IS NOT NULL
         ORDER BY valid_until DESC, id DESC",
    )
    .bind(machine_id)
    .bind(kind)
    .fetch_all(&mut **tx)
    .await?;
    let Some(((latest, org_id, until), older)) =
        docs.split_first().map(|(f, r)| (f.clone(), r.to_vec()))
    else {
        return Ok(());
    };
    for (id, _, _) in older {
        unwatch(s, tx, id, user).await?;
    }
    let Some(until) = until.as_deref().and_then(parse_date) else {
        return Ok(());
    };
    let payload = json!({"valid_until": ymd(until), "valid_until_at": deadline_at(s, until)});
    if !is_watched(tx, latest).await? {
        let mut data = Map::new();
        data.insert("machine_id".into(), json!(machine_id));
        data.insert("org_id".into(), json!(org_id));
        data.insert("kind".into(), json!(kind));
        data.insert("valid_until".into(), payload["valid_until"].clone());
        data.insert("valid_until_at".into(), payload["valid_until_at"].clone());
        s.engine
            .start_in_tx(
                tx,
                WORKFLOW,
                ObjectRef {
                    kind: OBJECT_KIND.into(),
                    id: latest,
                },
                data,
                user,
            )
            .await
            .map_err(engine_error)?;
    } else if changed == Some(latest) {
        s.engine
            .emit_to_object_in_tx(tx, OBJECT_KIND, latest, "document.renewed", payload, user)
            .await
            .map_err(engine_error)?;
    }
    Ok(())
}

/// Starts watches missing for the newest document of each kind on active
/// machines (documents created without the engine: demo data, imports,
/// data from before the workflow existed). Returns how many kinds were
/// looked at. Safe to call at every start.
pub async fn ensure_document_watches(s: &Services) -> DomainResult<usize> {
    let pairs: Vec<(i64, String)> = sqlx::query_as(
        "SELECT DISTINCT d.machine_id, d.kind FROM machine_documents d JOIN machines m ON m.id = d.machine_id
         WHERE m.status = 'active' AND d.valid_until IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM wf_instances i WHERE i.object_kind = $1 AND i.object_id = d.id AND i.finished_at IS NULL)",
    )
    .bind(OBJECT_KIND)
    .fetch_all(s.db.pool())
    .await?;
    if pairs.is_empty() {
        return Ok(0);
    }
    let mut tx = s.db.begin().await?;
    for (machine_id, kind) in &pairs {
        rewatch_kind(s, &mut tx, *machine_id, kind, None, None).await?;
    }
    tx.commit().await?;
    s.after_commit();
    Ok(pairs.len())
}

/// Registers the `machine_document.warn` action with the engine.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    b.action(
        "machine_document.warn",
        Some(&["stage", "valid_until"]),
        action_fn(move |ctx: ActionContext| {
            let cell = cell.clone();
            async move {
                let s = crate::services::ready(&cell)?;
                let stage = ctx
                    .params
                    .get("stage")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let until = ctx
                    .params
                    .get("valid_until")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match warn_about_document(s, ctx.object.id, &stage, until.as_deref()).await {
                    Ok(sent) => Ok(json!({"notified": sent})),
                    Err(DomainError::Invalid(_)) => {
                        Err(ActionError::Fail(format!("unknown stage {stage:?}")))
                    }
                    Err(e) => Err(ActionError::Retry(e.to_string())),
                }
            }
        }),
    )
}

/// Tells the supplier's owners that a document expires soon (`expiring`) or
/// has expired (`expired`). Nothing is sent when the warning is stale (the
/// document was renewed, replaced by a newer one, deleted, or its machine
/// archived) or was sent already. Returns how many messages were queued.
pub async fn warn_about_document(
    s: &Services,
    document_id: i64,
    stage: &str,
    valid_until: Option<&str>,
) -> DomainResult<usize> {
    if !matches!(stage, "expiring" | "expired") {
        return Err(DomainError::field("stage", "stage.invalid"));
    }
    type Row = (
        String,
        Option<String>,
        i64,
        String,
        String,
        Option<String>,
        String,
        i64,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT d.kind, d.valid_until, m.id, m.make, m.model, m.plate, m.status, m.org_id
         FROM machine_documents d JOIN machines m ON m.id = d.machine_id WHERE d.id = $1",
    )
    .bind(document_id)
    .fetch_optional(s.db.pool())
    .await?;
    let Some((kind, Some(until), machine_id, make, model, plate, status, org_id)) = row else {
        return Ok(0);
    };
    let today = ymd(today(s));
    let stale = status != "active"
        || valid_until.is_some_and(|v| v != until)
        || (stage == "expiring" && until < today)
        || (stage == "expired" && until >= today);
    if stale {
        return Ok(0);
    }
    let newer: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM machine_documents WHERE machine_id = $1 AND kind = $2 AND id <> $3 AND valid_until > $4",
    )
    .bind(machine_id)
    .bind(&kind)
    .bind(document_id)
    .bind(&until)
    .fetch_one(s.db.pool())
    .await?;
    if newer > 0 {
        return Ok(0);
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let first: Option<i64> = sqlx::query_scalar(
        "INSERT INTO machine_document_alerts (document_id, stage, valid_until, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (document_id, stage, valid_until) DO NOTHING RETURNING id",
    )
    .bind(document_id)
    .bind(stage)
    .bind(&until)
    .bind(to_db_time(now))
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        return Ok(0);
    }
    let mut sql = Sql::new("SELECT DISTINCT ");
    sql.push(notify::RECIPIENT_COLUMNS)
        .push(" FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.org_id = ")
        .bind(org_id)
        .push(" AND r.role = 'owner' AND u.status = 'active' ORDER BY u.id");
    let owners: Vec<notify::Recipient> = sql.query_as().fetch_all(&mut *tx).await?;
    let title = s
        .equipment
        .document(&kind)
        .map(|d| d.title.clone())
        .unwrap_or_else(|| kind.clone());
    let machine = match &plate {
        Some(p) => format!("{make} {model}, {p}"),
        None => format!("{make} {model}"),
    };
    let mut sent = 0;
    for owner in &owners {
        let a = args![
            "name" => owner.full_name,
            "document" => title,
            "machine" => machine,
            "date" => dmy(&until),
            "link" => format!("{}/garage/{machine_id}", s.base_url)
        ];
        let key = format!("mail-machine-document-{stage}");
        if notify::tell(s, &mut tx, owner, &key, &a).await? {
            sent += 1;
        }
    }
    audit::record(
        &mut tx,
        now,
        None,
        &format!("machine_document.{stage}"),
        "machine",
        Some(machine_id),
        json!({"document_id": document_id, "kind": kind, "valid_until": until, "notified": sent}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(sent)
}

// ---------------------------------------------------------------------------
// Busy days

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BusyDay {
    pub machine_id: i64,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub note: Option<String>,
}

/// A day or a range of days as typed (`until` empty: one day).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BusyInput {
    pub from: String,
    pub until: String,
    pub note: String,
}

impl BusyInput {
    /// The checked range and note.
    pub fn validate(&self) -> Result<(NaiveDate, NaiveDate, Option<String>), FieldErrors> {
        let mut e = FieldErrors::new();
        let from = match self.from.trim() {
            "" => {
                e.add("from", "required");
                None
            }
            t => parse_date(t).or_else(|| {
                e.add("from", "date.invalid");
                None
            }),
        };
        let until = match self.until.trim() {
            "" => from,
            t => parse_date(t).or_else(|| {
                e.add("until", "date.invalid");
                None
            }),
        };
        if let (Some(f), Some(u)) = (from, until) {
            if u < f {
                e.add("until", "busy.range_reversed");
            } else if (u - f).num_days() >= MAX_BUSY_RANGE_DAYS {
                e.add("until", "busy.range_too_long");
            }
        }
        if self.note.trim().chars().count() > MAX_TEXT {
            e.add("note", "text.too_long");
        }
        match (from, until) {
            (Some(f), Some(u)) if e.is_empty() => Ok((
                f,
                u,
                Some(self.note.trim().to_string()).filter(|n| !n.is_empty()),
            )),
            _ => Err(e),
        }
    }
}

fn days(from: NaiveDate, until: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let n = (until - from).num_days().max(-1);
    (0..=n).map(move |i| from + Duration::days(i))
}

/// Marks days of a machine of the actor's supplier busy. Returns how many.
pub async fn mark_busy(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    input: &BusyInput,
) -> DomainResult<usize> {
    let m = owned_active(s, actor, machine_id).await?;
    let (from, until, note) = input.validate().map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let mut n = 0;
        for day in days(from, until) {
            sqlx::query(
                "INSERT INTO machine_busy_days (machine_id, day, note) VALUES ($1, $2, $3)
                 ON CONFLICT (machine_id, day) DO UPDATE SET note = COALESCE(excluded.note, machine_busy_days.note)",
            )
            .bind(m.id)
            .bind(ymd(day))
            .bind(note.clone())
            .execute(&mut *tx)
            .await?;
            n += 1;
        }
        audit::record(&mut tx, now, Some(actor), "machine.busy_set", "machine", Some(m.id), json!({"from": ymd(from), "until": ymd(until), "note": note}))
            .await?;
        Ok(n)
    }
    .await;
    finish(s, tx, result, None).await
}

/// Frees days of a machine of the actor's supplier. Returns how many were busy.
pub async fn clear_busy(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    input: &BusyInput,
) -> DomainResult<usize> {
    let m = owned(s, actor, machine_id).await?;
    let (from, until, _) = input.validate().map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let n = sqlx::query(
            "DELETE FROM machine_busy_days WHERE machine_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(m.id)
        .bind(ymd(from))
        .bind(ymd(until))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.busy_cleared",
            "machine",
            Some(m.id),
            json!({"from": ymd(from), "until": ymd(until)}),
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
    .await;
    finish(s, tx, result, None).await
}

/// Busy days of machines (already scoped by the caller) between two dates.
pub(crate) async fn busy_between(
    s: &Services,
    machine_ids: &[i64],
    from: NaiveDate,
    until: NaiveDate,
) -> DomainResult<Vec<BusyDay>> {
    if machine_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT b.machine_id, b.day, b.note FROM machine_busy_days b WHERE b.machine_id IN (",
    );
    sql.bind_list(machine_ids.iter().copied())
        .push(") AND b.day >= ")
        .bind(ymd(from))
        .push(" AND b.day <= ")
        .bind(ymd(until))
        .push(" ORDER BY b.machine_id, b.day");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// Busy days of a machine the actor may see, between two dates.
pub async fn busy_days(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    from: NaiveDate,
    until: NaiveDate,
) -> DomainResult<Vec<BusyDay>> {
    let m = get(s, actor, machine_id).await?;
    busy_between(s, &[m.id], from, until).await
}

// ---------------------------------------------------------------------------
// Availability

/// Why a machine is not available on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `archived`, `category_unknown`, `document_missing`,
    /// `document_expired`, `document_not_yet_valid` or `busy`.
    pub code: &'static str,
    /// The document kind concerned.
    pub document: Option<String>,
    /// Its title from the catalogue.
    pub document_title: Option<String>,
    /// `YYYY-MM-DD`: the last valid day of an expired document, the first
    /// of one not yet valid.
    pub date: Option<String>,
    /// The note of a busy day.
    pub note: Option<String>,
}

impl Reason {
    fn new(code: &'static str) -> Reason {
        Reason {
            code,
            document: None,
            document_title: None,
            date: None,
            note: None,
        }
    }

    fn document(code: &'static str, kind: &DocumentKind, date: Option<String>) -> Reason {
        Reason {
            code,
            document: Some(kind.code.clone()),
            document_title: Some(kind.title.clone()),
            date,
            note: None,
        }
    }
}

/// Whether a machine can work on a date, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub available: bool,
    pub reasons: Vec<Reason>,
}

/// The availability rule (see the module docs), applied to loaded rows.
/// `documents` and `busy` may hold rows of other machines; they are ignored.
pub fn evaluate(
    catalogue: &EquipmentCatalogue,
    machine: &Machine,
    documents: &[MachineDocument],
    busy: &[BusyDay],
    date: NaiveDate,
) -> Availability {
    let day = ymd(date);
    let mut reasons = Vec::new();
    if machine.status != "active" {
        reasons.push(Reason::new("archived"));
    }
    match catalogue.category(&machine.category) {
        None => reasons.push(Reason::new("category_unknown")),
        Some(category) => {
            for code in &category.documents {
                let fallback = DocumentKind {
                    code: code.clone(),
                    title: code.clone(),
                };
                let kind = catalogue.document(code).unwrap_or(&fallback);
                let mine: Vec<&MachineDocument> = documents
                    .iter()
                    .filter(|d| d.machine_id == machine.id && d.kind == *code)
                    .collect();
                if mine.iter().any(|d| d.is_valid_on(&day)) {
                    continue;
                }
                let upcoming = mine
                    .iter()
                    .filter(|d| d.valid_until.as_deref().is_some_and(|u| u >= day.as_str()))
                    .filter_map(|d| d.valid_from.clone())
                    .filter(|f| f.as_str() > day.as_str())
                    .min();
                let last = mine.iter().filter_map(|d| d.valid_until.clone()).max();
                reasons.push(match (upcoming, last) {
                    (Some(from), _) => Reason::document("document_not_yet_valid", kind, Some(from)),
                    (None, Some(until)) => Reason::document("document_expired", kind, Some(until)),
                    (None, None) => Reason::document("document_missing", kind, None),
                });
            }
        }
    }
    if let Some(b) = busy
        .iter()
        .find(|b| b.machine_id == machine.id && b.day == day)
    {
        reasons.push(Reason {
            note: b.note.clone(),
            ..Reason::new("busy")
        });
    }
    Availability {
        date: day,
        available: reasons.is_empty(),
        reasons,
    }
}

/// Appends ` AND (<machine `alias` is available on `date`>)`: the rule of
/// [`evaluate`] as SQL, for lists and matching.
pub fn push_available(sql: &mut Sql, catalogue: &EquipmentCatalogue, alias: &str, date: NaiveDate) {
    let day = ymd(date);
    sql.push(" AND (")
        .push(alias)
        .push(".status = 'active' AND NOT EXISTS (SELECT 1 FROM machine_busy_days avl_b WHERE avl_b.machine_id = ")
        .push(alias)
        .push(".id AND avl_b.day = ")
        .bind(day.clone())
        .push(") AND (");
    // Categories with the same mandatory documents share one condition.
    let mut groups: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for c in &catalogue.categories {
        groups
            .entry(c.documents.clone())
            .or_default()
            .insert(c.code.clone());
    }
    if groups.is_empty() {
        sql.push("1 = 0");
    }
    for (i, (docs, categories)) in groups.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(")
            .push(alias)
            .push(".category IN (")
            .bind_list(categories.iter().cloned())
            .push(")");
        for kind in docs {
            sql.push(
                " AND EXISTS (SELECT 1 FROM machine_documents avl_d WHERE avl_d.machine_id = ",
            )
            .push(alias)
            .push(".id AND avl_d.kind = ")
            .bind(kind.clone())
            .push(" AND avl_d.valid_until >= ")
            .bind(day.clone())
            .push(" AND (avl_d.valid_from IS NULL OR avl_d.valid_from <= ")
            .bind(day.clone())
            .push("))");
        }
        sql.push(")");
    }
    sql.push("))");
}

/// Whether a machine the actor may see is available on `date`, and why not.
/// The one function every part of Podryad asks.
pub async fn availability(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    date: NaiveDate,
) -> DomainResult<Availability> {
    let m = get(s, actor, machine_id).await?;
    let docs = documents_of(s, actor, &[m.id]).await?;
    let busy = busy_between(s, &[m.id], date, date).await?;
    Ok(evaluate(&s.equipment, &m, &docs, &busy, date))
}

/// One day of a machine's calendar.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub day: u32,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    pub today: bool,
    pub busy: bool,
    pub note: Option<String>,
    pub available: bool,
    pub reasons: Vec<Reason>,
}

/// The days of one month shown in a calendar.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarMonth {
    pub year: i32,
    pub month: u32,
    /// Empty cells before the first shown day in a Monday-first week grid.
    pub blanks: u32,
    pub days: Vec<CalendarDay>,
}

/// A machine's availability for `count` days from `from`, by month.
pub async fn calendar(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    from: NaiveDate,
    count: i64,
) -> DomainResult<Vec<CalendarMonth>> {
    let m = get(s, actor, machine_id).await?;
    let count = count.clamp(1, 400);
    let until = from + Duration::days(count - 1);
    let docs = documents_of(s, actor, &[m.id]).await?;
    let busy = busy_between(s, &[m.id], from, until).await?;
    let today = today(s);
    let mut months: Vec<CalendarMonth> = Vec::new();
    for date in days(from, until) {
        let a = evaluate(&s.equipment, &m, &docs, &busy, date);
        let b = busy.iter().find(|b| b.day == a.date);
        let cell = CalendarDay {
            date: a.date.clone(),
            day: date.day(),
            weekday: date.weekday().number_from_monday(),
            today: date == today,
            busy: b.is_some(),
            note: b.and_then(|b| b.note.clone()),
            available: a.available,
            reasons: a.reasons,
        };
        match months.last_mut() {
            Some(mo) if mo.year == date.year() && mo.month == date.month() => mo.days.push(cell),
            _ => months.push(CalendarMonth {
                year: date.year(),
                month: date.month(),
                blanks: date.weekday().num_days_from_monday(),
                days: vec![cell],
            }),
        }
    }
    Ok(months)
}

// ---------------------------------------------------------------------------
// A machine's page

/// A specification with its value, as a machine's page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SpecValue {
    pub code: String,
    pub title: String,
    pub unit: Option<String>,
    #[serde(rename = "type")]
    pub kind: SpecType,
    pub value: Value,
    /// Numbers and choices as text (`25,5`); booleans are left to the page.
    pub text: String,
}

/// Everything a machine's page shows.
#[derive(Debug, Clone, Serialize)]
pub struct MachineCardFull {
    pub machine: Machine,
    pub category_title: String,
    pub specs: Vec<SpecValue>,
    pub photos: Vec<MachinePhoto>,
    pub documents: Vec<DocumentView>,
    /// Mandatory document kinds with no record at all.
    pub missing: Vec<DocumentKind>,
    pub availability: Availability,
    /// Busy days from today on (the next `days_ahead` days).
    pub busy_ahead: Vec<BusyDay>,
    pub can_edit: bool,
}

/// The page of a machine the actor may see.
pub async fn card(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    days_ahead: i64,
) -> DomainResult<MachineCardFull> {
    let m = get(s, actor, machine_id).await?;
    let today = today(s);
    let photos = photos(s, actor, machine_id).await?;
    let documents = documents(s, actor, machine_id).await?;
    let category = s.equipment.category(&m.category);
    let values = m.spec_map();
    let specs = category
        .map(|c| {
            c.specs
                .iter()
                .filter_map(|d| {
                    let v = values.get(&d.code)?.clone();
                    let text = match &v {
                        Value::Number(n) => number_text(n),
                        Value::String(t) => t.clone(),
                        _ => String::new(),
                    };
                    Some(SpecValue {
                        code: d.code.clone(),
                        title: d.title.clone(),
                        unit: d.unit.clone(),
                        kind: d.kind,
                        value: v,
                        text,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let missing = category
        .map(|c| {
            c.documents
                .iter()
                .filter(|k| !documents.iter().any(|d| &d.document.kind == *k))
                .filter_map(|k| s.equipment.document(k).cloned())
                .collect()
        })
        .unwrap_or_default();
    let docs: Vec<MachineDocument> = documents.iter().map(|d| d.document.clone()).collect();
    let busy_ahead = busy_between(
        s,
        &[m.id],
        today,
        today + Duration::days(days_ahead.clamp(1, 400) - 1),
    )
    .await?;
    let availability = evaluate(&s.equipment, &m, &docs, &busy_ahead, today);
    Ok(MachineCardFull {
        category_title: category_title(&s.equipment, &m.category),
        can_edit: can_edit(actor, &m),
        machine: m,
        specs,
        photos,
        documents,
        missing,
        availability,
        busy_ahead,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> EquipmentCatalogue {
        EquipmentCatalogue::builtin().expect("catalogue")
    }

    fn machine(category: &str) -> Machine {
        Machine {
            id: 1,
            org_id: 2,
            category: category.into(),
            make: "КАМАЗ".into(),
            model: "65115".into(),
            year: Some(2020),
            plate: Some("А123ВС 77".into()),
            vin: None,
            specs: "{}".into(),
            base_address: None,
            base_lat: None,
            base_lon: None,
            service_radius_km: 50,
            status: "active".into(),
            photo_file_id: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn doc(id: i64, kind: &str, from: Option<&str>, until: &str) -> MachineDocument {
        MachineDocument {
            id,
            machine_id: 1,
            org_id: 2,
            kind: kind.into(),
            number: None,
            valid_from: from.map(Into::into),
            valid_until: Some(until.into()),
            file_id: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn d(s: &str) -> NaiveDate {
        parse_date(s).expect("date")
    }

    #[test]
    fn dates_are_read_in_both_spellings() {
        assert_eq!(parse_date("2026-11-01"), parse_date("01.11.2026"));
        assert_eq!(parse_date("31.02.2026"), None);
        assert_eq!(parse_date("1.1.1900"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(dmy("2026-11-01"), "01.11.2026");
    }

    #[test]
    fn a_machine_needs_every_mandatory_document_valid_on_the_day() {
        let c = catalogue();
        let m = machine("tipper");
        let none = evaluate(&c, &m, &[], &[], d("2026-06-01"));
        assert!(!none.available);
        let codes: Vec<_> = none
            .reasons
            .iter()
            .map(|r| (r.code, r.document.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("document_missing", "osago".to_string()),
                ("document_missing", "diagnostic_card".to_string())
            ]
        );

        let docs = vec![
            doc(1, "osago", Some("2025-06-01"), "2026-05-31"),
            doc(2, "diagnostic_card", None, "2027-01-01"),
        ];
        let expired = evaluate(&c, &m, &docs, &[], d("2026-06-01"));
        assert_eq!(expired.reasons.len(), 1);
        assert_eq!(expired.reasons[0].code, "document_expired");
        assert_eq!(expired.reasons[0].date.as_deref(), Some("2026-05-31"));
        // The last valid day still counts.
        assert!(evaluate(&c, &m, &docs, &[], d("2026-05-31")).available);
        // Before its start, a policy is not valid yet.
        let early = evaluate(&c, &m, &docs, &[], d("2025-05-31"));
        assert_eq!(early.reasons[0].code, "document_not_yet_valid");
        assert_eq!(early.reasons[0].date.as_deref(), Some("2025-06-01"));
        let mut renewed = docs.clone();
        renewed.push(doc(3, "osago", Some("2026-06-05"), "2027-06-04"));
        let gap = evaluate(&c, &m, &renewed, &[], d("2026-06-01"));
        assert_eq!(gap.reasons[0].code, "document_not_yet_valid");
        assert_eq!(gap.reasons[0].date.as_deref(), Some("2026-06-05"));
        assert!(evaluate(&c, &m, &renewed, &[], d("2026-06-05")).available);

        let busy = vec![BusyDay {
            machine_id: 1,
            day: "2026-06-05".into(),
            note: Some("ремонт".into()),
        }];
        let b = evaluate(&c, &m, &renewed, &busy, d("2026-06-05"));
        assert!(!b.available);
        assert_eq!(b.reasons[0].code, "busy");
        assert_eq!(b.reasons[0].note.as_deref(), Some("ремонт"));

        let archived = Machine {
            status: "archived".into(),
            ..m.clone()
        };
        assert_eq!(
            evaluate(&c, &archived, &renewed, &[], d("2026-06-05")).reasons[0].code,
            "archived"
        );
        let unknown = Machine {
            category: "spaceship".into(),
            ..m
        };
        assert_eq!(
            evaluate(&c, &unknown, &renewed, &[], d("2026-06-05")).reasons[0].code,
            "category_unknown"
        );
    }

    #[test]
    fn the_sql_form_binds_dates_and_groups_categories() {
        let c = catalogue();
        let mut sql = Sql::new("SELECT m.id FROM machines m WHERE 1 = 1");
        push_available(&mut sql, &c, "m", d("2026-06-01"));
        let text = sql.text();
        assert!(text.contains("m.status = 'active'"), "{text}");
        assert!(text.contains("avl_d.valid_until >= $"), "{text}");
        assert!(
            !text.contains("2026-06-01"),
            "dates are bound, not spliced: {text}"
        );
        let groups = c
            .categories
            .iter()
            .map(|c| c.documents.clone())
            .collect::<BTreeSet<_>>()
            .len();
        assert_eq!(text.matches(".category IN (").count(), groups);
    }

    #[test]
    fn documents_need_a_known_kind_and_a_sane_period() {
        let c = catalogue();
        let ok = DocumentInput {
            kind: "osago".into(),
            number: " ХХХ 0123456789 ".into(),
            valid_from: "01.06.2026".into(),
            valid_until: "2027-05-31".into(),
        };
        let v = ok.validate(&c).expect("valid");
        assert_eq!(v.number.as_deref(), Some("ХХХ 0123456789"));
        assert_eq!(v.valid_until, d("2027-05-31"));
        let bad = DocumentInput {
            kind: "kasko".into(),
            valid_from: "2027-06-01".into(),
            ..ok.clone()
        };
        let e = bad.validate(&c).expect_err("invalid");
        assert_eq!(e.get("kind"), Some("document.unknown"));
        assert_eq!(e.get("valid_until"), Some("document.ends_before_start"));
        let missing = DocumentInput {
            valid_until: String::new(),
            ..ok.clone()
        };
        assert_eq!(
            missing
                .validate(&c)
                .expect_err("invalid")
                .get("valid_until"),
            Some("required")
        );
        let typo = DocumentInput {
            valid_until: "31.13.2026".into(),
            ..ok
        };
        assert_eq!(
            typo.validate(&c).expect_err("invalid").get("valid_until"),
            Some("date.invalid")
        );
    }

    #[test]
    fn busy_ranges_are_checked() {
        let one = BusyInput {
            from: "2026-06-01".into(),
            ..Default::default()
        };
        let (f, u, note) = one.validate().expect("one day");
        assert_eq!((f, u, note), (d("2026-06-01"), d("2026-06-01"), None));
        assert_eq!(days(f, u).count(), 1);
        let reversed = BusyInput {
            from: "2026-06-05".into(),
            until: "2026-06-01".into(),
            ..Default::default()
        };
        assert_eq!(
            reversed.validate().expect_err("bad").get("until"),
            Some("busy.range_reversed")
        );
        let long = BusyInput {
            from: "2026-01-01".into(),
            until: "2027-06-01".into(),
            ..Default::default()
        };
        assert_eq!(
            long.validate().expect_err("bad").get("until"),
            Some("busy.range_too_long")
        );
        assert_eq!(
            BusyInput::default()
                .validate()
                .expect_err("bad")
                .get("from"),
            Some("required")
        );
    }

    #[test]
    fn stored_specs_come_back_as_typed() {
        let mut m = machine("tipper");
        m.specs =
            r#"{"payload_t": 25.5, "body_volume_m3": 20.0, "axles": "6x4", "tail_lift": true}"#
                .into();
        let i = MachineInput::from_machine(&m);
        assert_eq!(i.specs["payload_t"], "25,5");
        assert_eq!(i.specs["body_volume_m3"], "20");
        assert_eq!(i.specs["tail_lift"], "on");
        let c = catalogue();
        let v = i.validate(&c, 2026).expect("round trip");
        assert_eq!(v.specs["payload_t"], json!(25.5));
    }

    #[test]
    fn document_states_follow_the_dates() {
        let today = d("2026-06-01");
        let docs = vec![
            doc(1, "osago", None, "2026-06-10"),
            doc(2, "osago", None, "2026-05-01"),
        ];
        assert_eq!(
            document_state(&docs[0], &docs, today),
            ("expiring", Some(9))
        );
        assert_eq!(document_state(&docs[1], &docs, today).0, "replaced");
        let alone = vec![docs[1].clone()];
        assert_eq!(document_state(&alone[0], &alone, today).0, "expired");
        let later = vec![doc(3, "osago", Some("2026-07-01"), "2027-06-30")];
        assert_eq!(document_state(&later[0], &later, today).0, "not_yet_valid");
    }
}
