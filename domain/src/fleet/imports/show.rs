use super::*;

// ---------------------------------------------------------------------------
// Showing rows.

/// A row as the preview shows it: normalised values for a valid row, what
/// was typed for a row with errors; errors with the column's title.
#[derive(Debug, Clone, Serialize)]
pub struct RowView {
    pub row: u32,
    pub ok: bool,
    pub category: String,
    pub make: String,
    pub model: String,
    pub year: String,
    pub plate: String,
    pub vin: String,
    pub base_address: String,
    pub coordinates: String,
    pub radius: String,
    /// (column title, value)
    pub specs: Vec<(String, String)>,
    pub errors: Vec<ErrorView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    /// The column's title.
    pub column: String,
    /// A message-catalogue error code.
    pub code: String,
}

/// A decimal as the interface writes it: `25,5`.
pub fn decimal_text(v: f64) -> String {
    number_text(v).replace('.', ",")
}

fn value_text(v: &Value, texts: &dyn Texts) -> String {
    match v {
        Value::Bool(true) => texts.text("import-yes", &args![]),
        Value::Bool(false) => texts.text("import-no", &args![]),
        Value::Number(n) => n.as_f64().map(decimal_text).unwrap_or_default(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// The title of a field of an import row, for error lists.
pub fn field_title(
    texts: &dyn Texts,
    catalogue: &EquipmentCatalogue,
    category: &str,
    field: &str,
) -> String {
    if let Some(c) = Column::ALL.iter().find(|c| c.field() == field) {
        return c.title(texts);
    }
    if let Some(title) = field.strip_prefix("column:") {
        return title.to_string();
    }
    if let Some(code) = field.strip_prefix("spec_") {
        return catalogue
            .category(category)
            .and_then(|c| c.specs.iter().find(|s| s.code == code))
            .map(spec_label)
            .unwrap_or_else(|| code.to_string());
    }
    field.to_string()
}

pub fn view_row(texts: &dyn Texts, catalogue: &EquipmentCatalogue, r: &ImportRow) -> RowView {
    let category = catalogue.category(&r.input.category);
    let category_title = category
        .map(|c| c.title.clone())
        .unwrap_or_else(|| r.input.category.clone());
    let errors = r
        .errors
        .iter()
        .map(|e| ErrorView {
            column: field_title(texts, catalogue, &r.input.category, &e.field),
            code: e.code.clone(),
        })
        .collect();
    match (&r.machine, category) {
        (Some(m), Some(c)) => {
            let text = |k: &str| m.get(k).map(|v| value_text(v, texts)).unwrap_or_default();
            let coordinates = match (
                m.get("base_lat").and_then(Value::as_f64),
                m.get("base_lon").and_then(Value::as_f64),
            ) {
                (Some(a), Some(b)) => format!("{}; {}", decimal_text(a), decimal_text(b)),
                _ => String::new(),
            };
            let specs = c
                .specs
                .iter()
                .filter_map(|s| {
                    let v = m.get("specs")?.get(&s.code)?;
                    Some((spec_label(s), value_text(v, texts)))
                })
                .collect();
            RowView {
                row: r.row,
                ok: r.is_valid(),
                category: category_title,
                make: text("make"),
                model: text("model"),
                year: m
                    .get("year")
                    .and_then(Value::as_i64)
                    .map(|y| y.to_string())
                    .unwrap_or_default(),
                plate: text("plate"),
                vin: text("vin"),
                base_address: text("base_address"),
                coordinates,
                radius: m
                    .get("service_radius_km")
                    .and_then(Value::as_i64)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                specs,
                errors,
            }
        }
        _ => {
            let i = &r.input;
            let coordinates = if i.base_lat.is_empty() && i.base_lon.is_empty() {
                String::new()
            } else {
                format!("{}; {}", i.base_lat, i.base_lon)
            };
            // In the category's order when it is known.
            let rank = |code: &str| {
                category
                    .and_then(|c| c.specs.iter().position(|s| s.code == code))
                    .unwrap_or(usize::MAX)
            };
            let mut typed: Vec<(&String, &String)> = i.specs.iter().collect();
            typed.sort_by_key(|(code, _)| rank(code));
            let specs = typed
                .into_iter()
                .map(|(code, v)| {
                    (
                        field_title(texts, catalogue, &i.category, &format!("spec_{code}")),
                        v.clone(),
                    )
                })
                .collect();
            RowView {
                row: r.row,
                ok: r.is_valid(),
                category: category_title,
                make: i.make.clone(),
                model: i.model.clone(),
                year: i.year.clone(),
                plate: i.plate.clone(),
                vin: i.vin.clone(),
                base_address: i.base_address.clone(),
                coordinates,
                radius: i.service_radius_km.clone(),
                specs,
                errors,
            }
        }
    }
}

/// Codes of every error this module reports (the web checks each has a text).
pub const ERROR_CODES: &[&str] = &[
    "import.too_long",
    "import.spec_not_for_category",
    "import.plate_repeated",
    "import.missing_columns",
    "import.duplicate_column",
    "import.empty",
    "import.no_rows",
    "import.too_many_rows",
    "import.too_large_unpacked",
    "import.unreadable",
    "import.failed",
    "import.interrupted",
    "import.not_ready",
    "import.has_errors",
    "import.changed",
    "import.plate_taken",
    // From the garage's validation.
    "required",
    "text.too_long",
    "category.unknown",
    "year.invalid",
    "plate.invalid",
    "plate.taken",
    "vin.invalid",
    "coordinates.invalid",
    "radius.invalid",
    "number.integer",
    "number.invalid",
    "number.too_small",
    "number.too_large",
    "boolean.invalid",
    "choice.invalid",
    // From the file check.
    "file.empty",
    "file.too_large",
    "file.not_a_spreadsheet",
];

/// For the page explaining the columns: every category with its columns.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryHelp {
    pub code: String,
    pub title: String,
    pub road_vehicle: bool,
    /// (column title, required, allowed values as text)
    pub specs: Vec<SpecHelp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpecHelp {
    pub column: String,
    pub code: String,
    pub required: bool,
    pub kind: String,
    pub min: Option<String>,
    pub max: Option<String>,
    pub options: Vec<String>,
}

pub fn help(catalogue: &EquipmentCatalogue) -> Vec<CategoryHelp> {
    catalogue
        .categories
        .iter()
        .map(|c| CategoryHelp {
            code: c.code.clone(),
            title: c.title.clone(),
            road_vehicle: c.road_vehicle,
            specs: c
                .specs
                .iter()
                .map(|s| SpecHelp {
                    column: spec_label(s),
                    code: s.code.clone(),
                    required: s.required,
                    kind: serde_json::to_value(s.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    min: s.min.map(decimal_text),
                    max: s.max.map(decimal_text),
                    options: s.options.clone(),
                })
                .collect(),
        })
        .collect()
}

/// Category code → title, for lists.
pub fn category_titles(catalogue: &EquipmentCatalogue) -> HashMap<String, String> {
    catalogue
        .categories
        .iter()
        .map(|c| (c.code.clone(), c.title.clone()))
        .collect()
}
