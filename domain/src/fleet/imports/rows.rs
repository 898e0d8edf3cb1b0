use super::*;

// ---------------------------------------------------------------------------
// Checking rows.

/// One problem in one row. `field` is a machine field (`plate`), a
/// specification (`spec_payload_t`) or, for a cell in a column the row's
/// category does not have, `column:<title>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub field: String,
    pub code: String,
}

/// A checked row, as kept between the preview and the confirmation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportRow {
    /// The row number as the spreadsheet shows it.
    pub row: u32,
    /// What the row says (the category resolved to its code when known).
    pub input: MachineInput,
    #[serde(default)]
    pub errors: Vec<RowError>,
    /// The normalised machine (a [`crate::fleet::garage::ValidMachine`] as JSON)
    /// when the row has no errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<Value>,
}

impl ImportRow {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn plate(&self) -> Option<&str> {
        self.machine.as_ref()?.get("plate")?.as_str()
    }

    /// Marks a checked row wrong; its normalised values stay for display
    /// (a repeated plate is easier to spot written the same way).
    fn reject(&mut self, field: &str, code: &str) {
        self.errors.push(RowError {
            field: field.into(),
            code: code.into(),
        });
    }
}

/// Turns one data row into a machine and checks it with the garage's own
/// validation.
pub fn check_row(
    header: &Header,
    row: &TableRow,
    catalogue: &EquipmentCatalogue,
    this_year: i32,
) -> ImportRow {
    let mut input = MachineInput::default();
    let mut errors: Vec<RowError> = Vec::new();
    let mut spec_cells: Vec<(usize, &BTreeMap<String, String>, String)> = Vec::new();
    for (i, target) in header.targets.iter().enumerate() {
        let raw = row.cells.get(i).map(String::as_str).unwrap_or("");
        let value = raw.replace('\u{a0}', " ").trim().to_string();
        match target {
            Target::Ignored => continue,
            Target::Field(c) => {
                if value.chars().count() > MAX_CELL_CHARS {
                    errors.push(RowError {
                        field: c.field().into(),
                        code: "import.too_long".into(),
                    });
                    continue;
                }
                c.set(&mut input, value);
            }
            Target::Spec(map) => {
                if !value.is_empty() {
                    spec_cells.push((i, map, value));
                }
            }
        }
    }
    if let Some(code) = resolve_category(catalogue, &input.category) {
        input.category = code;
    }
    if let Some(category) = catalogue.category(&input.category) {
        for (i, map, value) in spec_cells {
            match map.get(&category.code) {
                Some(spec) if value.chars().count() > MAX_CELL_CHARS => errors.push(RowError {
                    field: format!("spec_{spec}"),
                    code: "import.too_long".into(),
                }),
                Some(spec) => {
                    input.specs.insert(spec.clone(), value);
                }
                None => errors.push(RowError {
                    field: format!(
                        "column:{}",
                        header.titles.get(i).map(String::as_str).unwrap_or("")
                    ),
                    code: "import.spec_not_for_category".into(),
                }),
            }
        }
    }
    let machine = match input.validate(catalogue, this_year) {
        Ok(m) => serde_json::to_value(&m).ok(),
        Err(e) => {
            for fe in e.0 {
                if !errors.iter().any(|x| x.field == fe.field) {
                    errors.push(RowError {
                        field: fe.field,
                        code: fe.code,
                    });
                }
            }
            None
        }
    };
    ImportRow {
        row: row.number,
        input,
        machine: if errors.is_empty() { machine } else { None },
        errors,
    }
}

/// A plate met earlier in the same file makes the later row wrong.
pub fn mark_repeated_plates(rows: &mut [ImportRow]) {
    let mut seen = HashSet::new();
    for r in rows.iter_mut() {
        if r.is_valid()
            && let Some(p) = r.plate().map(str::to_string)
            && !seen.insert(p)
        {
            r.reject("plate", "import.plate_repeated");
        }
    }
}

/// Plates already on an active machine (of any supplier: a plate is unique
/// in the system) make their rows wrong.
pub(super) async fn mark_taken_plates(
    s: &Services,
    rows: &mut [ImportRow],
) -> Result<(), sqlx::Error> {
    let plates: Vec<String> = rows
        .iter()
        .filter(|r| r.is_valid())
        .filter_map(|r| r.plate().map(str::to_string))
        .collect();
    let mut taken = HashSet::new();
    for chunk in plates.chunks(PLATE_BATCH) {
        let mut sql = Sql::new("SELECT plate FROM machines WHERE status = 'active' AND plate IN (");
        sql.bind_list(chunk.iter().cloned()).push(")");
        let found: Vec<String> = sql.query_scalar().fetch_all(s.db.pool()).await?;
        taken.extend(found);
    }
    for r in rows.iter_mut() {
        if r.is_valid() && r.plate().is_some_and(|p| taken.contains(p)) {
            r.reject("plate", "plate.taken");
        }
    }
    Ok(())
}

/// What the `rows` column keeps.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Stored {
    #[serde(default)]
    pub(super) ignored_columns: Vec<String>,
    #[serde(default)]
    pub(super) rows: Vec<ImportRow>,
}

pub(super) fn parse_stored(text: &str) -> Stored {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(_)) => Stored::default(),
        Ok(v) => serde_json::from_value(v).unwrap_or_default(),
        Err(_) => Stored::default(),
    }
}
