use super::*;

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
pub(super) fn number_text(n: &serde_json::Number) -> String {
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
pub(super) async fn accept_upload(
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
pub(super) async fn finish<T>(
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
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
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
        let id = insert_machine(&mut tx, now, actor.org_id(), &valid).await?;
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
