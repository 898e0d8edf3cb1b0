use super::*;

// ---------------------------------------------------------------------------
// Columns.

/// The machine's own columns, in template order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Category,
    Make,
    Model,
    Year,
    Plate,
    Vin,
    BaseAddress,
    BaseLat,
    BaseLon,
    Radius,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Category,
        Column::Make,
        Column::Model,
        Column::Year,
        Column::Plate,
        Column::Vin,
        Column::BaseAddress,
        Column::BaseLat,
        Column::BaseLon,
        Column::Radius,
    ];

    /// Columns a file must have.
    pub const REQUIRED: [Column; 3] = [Column::Category, Column::Make, Column::Model];

    /// The [`MachineInput`] field (and field-error key) of the column.
    pub fn field(self) -> &'static str {
        match self {
            Column::Category => "category",
            Column::Make => "make",
            Column::Model => "model",
            Column::Year => "year",
            Column::Plate => "plate",
            Column::Vin => "vin",
            Column::BaseAddress => "base_address",
            Column::BaseLat => "base_lat",
            Column::BaseLon => "base_lon",
            Column::Radius => "service_radius_km",
        }
    }

    /// The catalogue key of the column's title; its `.aliases` attribute
    /// lists other accepted titles, comma-separated.
    pub fn title_key(self) -> &'static str {
        match self {
            Column::Category => "import-column-category",
            Column::Make => "import-column-make",
            Column::Model => "import-column-model",
            Column::Year => "import-column-year",
            Column::Plate => "import-column-plate",
            Column::Vin => "import-column-vin",
            Column::BaseAddress => "import-column-base-address",
            Column::BaseLat => "import-column-base-lat",
            Column::BaseLon => "import-column-base-lon",
            Column::Radius => "import-column-radius",
        }
    }

    /// A sensible column width in a spreadsheet (characters).
    pub fn width(self) -> f64 {
        match self {
            Column::Category => 26.0,
            Column::Make | Column::Model => 18.0,
            Column::Year => 8.0,
            Column::Plate => 14.0,
            Column::Vin => 22.0,
            Column::BaseAddress => 40.0,
            Column::BaseLat | Column::BaseLon => 12.0,
            Column::Radius => 10.0,
        }
    }

    pub fn title(self, texts: &dyn Texts) -> String {
        texts.text(self.title_key(), &args![])
    }

    pub(super) fn set(self, input: &mut MachineInput, value: String) {
        let slot = match self {
            Column::Category => &mut input.category,
            Column::Make => &mut input.make,
            Column::Model => &mut input.model,
            Column::Year => &mut input.year,
            Column::Plate => &mut input.plate,
            Column::Vin => &mut input.vin,
            Column::BaseAddress => &mut input.base_address,
            Column::BaseLat => &mut input.base_lat,
            Column::BaseLon => &mut input.base_lon,
            Column::Radius => &mut input.service_radius_km,
        };
        *slot = value;
    }
}

/// Lowercase letters and digits only, `ё` read as `е` and `м³` as `м3`: a
/// header typed as "Объём кузова (м3)" matches "Объём кузова, м³".
pub(super) fn compact(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ё' => 'е',
            '³' => '3',
            '²' => '2',
            other => other,
        })
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// A specification's column title: "Грузоподъёмность, т".
pub fn spec_label(spec: &SpecDef) -> String {
    match spec.unit.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => format!("{}, {}", spec.title, u),
        _ => spec.title.clone(),
    }
}

/// A specification column of the template. Specifications of different
/// categories with the same title and unit share a column ("Грузоподъёмность,
/// т" is the payload of a tipper and the lifting capacity of a crane).
#[derive(Debug, Clone, Serialize)]
pub struct SpecColumn {
    pub label: String,
    /// Category code → specification code.
    pub specs: BTreeMap<String, String>,
}

/// The template's specification columns, in catalogue order.
pub fn spec_columns(catalogue: &EquipmentCatalogue) -> Vec<SpecColumn> {
    let mut out: Vec<SpecColumn> = Vec::new();
    for c in &catalogue.categories {
        for s in &c.specs {
            let mut label = spec_label(s);
            let key = compact(&label);
            let found = out
                .iter_mut()
                .find(|col| compact(&col.label) == key && !col.specs.contains_key(&c.code));
            match found {
                Some(col) => {
                    col.specs.insert(c.code.clone(), s.code.clone());
                }
                None => {
                    if out.iter().any(|col| compact(&col.label) == key) {
                        // Two specs of one category with the same title: tell them apart.
                        label = format!("{label} ({})", s.code);
                    }
                    out.push(SpecColumn {
                        label,
                        specs: BTreeMap::from([(c.code.clone(), s.code.clone())]),
                    });
                }
            }
        }
    }
    out
}

/// The template's header row: the machine's columns, then one per
/// specification column.
pub fn template_headers(texts: &dyn Texts, catalogue: &EquipmentCatalogue) -> Vec<(String, f64)> {
    let mut h: Vec<(String, f64)> = Column::ALL
        .iter()
        .map(|c| (c.title(texts), c.width()))
        .collect();
    for col in spec_columns(catalogue) {
        let width = (col.label.chars().count() as f64 + 2.0).clamp(10.0, 34.0);
        h.push((col.label, width));
    }
    h
}

/// What a column of a file feeds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Target {
    Field(Column),
    /// Category code → specification code.
    Spec(BTreeMap<String, String>),
    Ignored,
}

/// A file's header row, understood.
#[derive(Debug, Clone)]
pub struct Header {
    pub(super) titles: Vec<String>,
    pub(super) targets: Vec<Target>,
    /// Titles of columns that match nothing and are left out.
    pub ignored: Vec<String>,
}

/// Matches a header row to the machine's fields and specifications.
/// Titles or codes are accepted, in any case. Errors are catalogue codes:
/// a required column missing, or one field given by two columns.
pub fn map_header(
    cells: &[String],
    texts: &dyn Texts,
    catalogue: &EquipmentCatalogue,
) -> Result<Header, &'static str> {
    let names: Vec<(Column, HashSet<String>)> = Column::ALL
        .iter()
        .map(|c| {
            let mut set = HashSet::new();
            set.insert(compact(c.field()));
            set.insert(compact(&c.title(texts)));
            let aliases = texts.text(&format!("{}.aliases", c.title_key()), &args![]);
            for a in aliases.split(',') {
                set.insert(compact(a));
            }
            set.remove("");
            (*c, set)
        })
        .collect();
    let mut targets = Vec::with_capacity(cells.len());
    let mut ignored = Vec::new();
    let mut seen_fields = HashSet::new();
    let mut seen_specs: HashSet<(String, String)> = HashSet::new();
    for cell in cells {
        let key = compact(cell);
        if key.is_empty() {
            targets.push(Target::Ignored);
            continue;
        }
        if let Some((column, _)) = names.iter().find(|(_, set)| set.contains(&key)) {
            if !seen_fields.insert(*column) {
                return Err("import.duplicate_column");
            }
            targets.push(Target::Field(*column));
            continue;
        }
        let mut specs = BTreeMap::new();
        for c in &catalogue.categories {
            let found = c.specs.iter().find(|s| {
                compact(&s.code) == key
                    || compact(&spec_label(s)) == key
                    || compact(&s.title) == key
            });
            if let Some(s) = found {
                if !seen_specs.insert((c.code.clone(), s.code.clone())) {
                    return Err("import.duplicate_column");
                }
                specs.insert(c.code.clone(), s.code.clone());
            }
        }
        if specs.is_empty() {
            ignored.push(cell.trim().to_string());
            targets.push(Target::Ignored);
        } else {
            targets.push(Target::Spec(specs));
        }
    }
    if Column::REQUIRED.iter().any(|c| !seen_fields.contains(c)) {
        return Err("import.missing_columns");
    }
    Ok(Header {
        titles: cells.iter().map(|c| c.trim().to_string()).collect(),
        targets,
        ignored,
    })
}

/// A category typed as its code or its title, in any case.
pub fn resolve_category(catalogue: &EquipmentCatalogue, typed: &str) -> Option<String> {
    let key = compact(typed);
    if key.is_empty() {
        return None;
    }
    catalogue
        .categories
        .iter()
        .find(|c| compact(&c.code) == key || compact(&c.title) == key)
        .map(|c| c.code.clone())
}
