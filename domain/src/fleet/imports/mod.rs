//! Bulk import of a supplier's fleet from a spreadsheet (CSV or XLSX).
//!
//! The flow is upload → preview → confirm:
//!
//! 1. [`start`] stores the file (through [`crate::files`]) and an `imports`
//!    row in status `parsing`, and checks the rows in a background task:
//!    the file is read into a table of text cells ([`read_table`]), the
//!    header row is matched to the machine's fields and the catalogue's
//!    specifications ([`map_header`]), and every row goes through the same
//!    [`MachineInput::validate`] a form uses. The task writes its progress
//!    (`processed_rows` of `total_rows`) in small transactions, so a page can
//!    show a progress bar while thousands of rows are checked and other
//!    writers are not held up (SQLite has one writer).
//! 2. The checked rows wait in the `imports` row (JSON) with their
//!    normalised values and their errors; the supplier sees them all.
//!    Duplicated plates (within the file or against machines already in the
//!    system) are row errors found here.
//! 3. [`confirm`] is allowed only when no row has an error, and inserts all
//!    machines in one transaction: all or nothing. A file with errors is
//!    fixed and uploaded again; nothing of it is ever saved.
//!
//! Texts that appear in the spreadsheet (column titles) come from the
//! message catalogue through [`Texts`]; specification columns are named by
//! the equipment catalogue (title and unit, or the code).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;

use chrono::Datelike;
use engine::{Sql, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult};
use crate::files::{FileKind, Purpose, StoredFile};
use crate::fleet::catalogue::{EquipmentCatalogue, SpecDef};
use crate::fleet::garage::MachineInput;
use crate::services::Services;
use crate::texts::Texts;
use crate::{access::audit, args};

/// The `imports.kind` of a fleet import.
pub const KIND_FLEET: &str = "fleet";
/// Data rows one file may have.
pub const MAX_ROWS: usize = 10_000;
/// Columns read from a file; cells further right are ignored.
pub const MAX_COLUMNS: usize = 200;
/// Characters a cell may have; longer cells are a row error.
pub const MAX_CELL_CHARS: usize = 1_000;
/// Files with at most this many rows are checked before the upload answers,
/// so the supplier lands on the preview; larger ones show progress.
pub const INLINE_ROWS: usize = 300;
/// Rows checked between two progress updates.
const PROGRESS_STEP: usize = 200;
/// An XLSX file whose parts unpack to more than this is refused (a "zip
/// bomb" would otherwise exhaust memory).
const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;
/// A check that has not finished after this long was interrupted (the
/// process stopped): it is shown as failed.
const STALE_AFTER_MS: i64 = 15 * 60 * 1000;
/// Plates looked up in one query.
const PLATE_BATCH: usize = 500;

// ---------------------------------------------------------------------------
// Reading a file into a table.

/// A non-empty row of a spreadsheet: its number as the spreadsheet shows it
/// (1-based) and its cells as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub number: u32,
    pub cells: Vec<String>,
}

/// Reads the first sheet of an XLSX file or a CSV file (UTF-8 with or
/// without BOM, or windows-1251; `;`, `,` or tab separated) into its
/// non-empty rows. Errors are message-catalogue codes. Never panics on
/// malformed input.
pub fn read_table(name: &str, bytes: &[u8]) -> Result<Vec<TableRow>, &'static str> {
    if bytes.is_empty() {
        return Err("file.empty");
    }
    match FileKind::sniff(name, bytes) {
        Some(FileKind::Xlsx) => read_xlsx(bytes),
        Some(FileKind::Csv) => read_csv(bytes),
        _ => Err("file.not_a_spreadsheet"),
    }
}

/// Keeps at most one character more than allowed, so an over-long cell is
/// still recognised as such without carrying megabytes around.
fn clip(s: &str) -> String {
    s.chars().take(MAX_CELL_CHARS + 1).collect()
}

/// A number as a person would type it: `2019`, not `2019.0`.
fn number_text(f: f64) -> String {
    if !f.is_finite() {
        String::new()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn cell_text(v: &calamine::DataRef<'_>) -> String {
    use calamine::DataRef as D;
    match v {
        D::Int(i) => i.to_string(),
        D::Float(f) => number_text(*f),
        D::String(s) => clip(s),
        D::SharedString(s) => clip(s),
        D::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        D::DateTime(d) => number_text(d.as_f64()),
        D::DateTimeIso(s) | D::DurationIso(s) => clip(s),
        // `#DIV/0!` and the like: kept, so the field reports a wrong value.
        D::Error(e) => e.to_string(),
        D::Empty => String::new(),
    }
}

/// Refuses archives whose parts claim to unpack to more than
/// [`MAX_UNPACKED_BYTES`].
fn check_unpacked_size(bytes: &[u8]) -> Result<(), &'static str> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| "import.unreadable")?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let file = zip.by_index_raw(i).map_err(|_| "import.unreadable")?;
        total = total.saturating_add(file.size());
        if total > MAX_UNPACKED_BYTES {
            return Err("import.too_large_unpacked");
        }
    }
    Ok(())
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<TableRow>, &'static str> {
    use calamine::Reader;
    check_unpacked_size(bytes)?;
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(Cursor::new(bytes)).map_err(|_| "import.unreadable")?;
    let first = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or("import.unreadable")?;
    let mut reader = book
        .worksheet_cells_reader(&first)
        .map_err(|_| "import.unreadable")?;
    let mut rows: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    while let Some(cell) = reader.next_cell().map_err(|_| "import.unreadable")? {
        let (r, c) = cell.get_position();
        let c = c as usize;
        if c >= MAX_COLUMNS {
            continue;
        }
        let text = cell_text(cell.get_value());
        if text.trim().is_empty() {
            continue;
        }
        if !rows.contains_key(&r) && rows.len() > MAX_ROWS {
            return Err("import.too_many_rows");
        }
        let row = rows.entry(r).or_default();
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text;
    }
    Ok(rows
        .into_iter()
        .map(|(r, cells)| TableRow {
            number: r.saturating_add(1),
            cells,
        })
        .collect())
}

/// Text of a CSV file: UTF-8 (a BOM is dropped) or, failing that,
/// windows-1251 (what Excel on a Russian Windows saves).
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1251
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// The separator of a CSV file, judged by its first non-empty line:
/// whichever of `;`, `,` and tab occurs most outside quotes (`;` on a tie,
/// as Excel writes it with Russian regional settings).
pub fn detect_delimiter(text: &str) -> u8 {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let (mut semicolons, mut commas, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ';' if !quoted => semicolons += 1,
            ',' if !quoted => commas += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if tabs > semicolons && tabs > commas {
        b'\t'
    } else if commas > semicolons {
        b','
    } else {
        b';'
    }
}

/// Line numbers of increasing byte offsets, counted incrementally.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line of `offset` (offsets must not decrease).
    fn advance(&mut self, bytes: &[u8], offset: usize) -> u32 {
        let end = offset.min(bytes.len());
        if end > self.offset {
            self.newlines += bytes[self.offset..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.offset = end;
        }
        u32::try_from(self.newlines + 1).unwrap_or(u32::MAX)
    }
}

fn read_csv(bytes: &[u8]) -> Result<Vec<TableRow>, &'static str> {
    let text = decode_text(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(detect_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut counter: u32 = 0;
    let bytes = text.as_bytes();
    let mut lines = LineCounter::default();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return Err("import.unreadable"),
        }
        counter = counter.saturating_add(1);
        let cells: Vec<String> = record.iter().take(MAX_COLUMNS).map(clip).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() > MAX_ROWS {
            return Err("import.too_many_rows");
        }
        // The line a record starts on is the row a spreadsheet shows. The
        // csv crate's own line count is off with CRLF, so count here: its
        // byte position may point at the previous line's terminator.
        let number = match record
            .position()
            .and_then(|p| usize::try_from(p.byte()).ok())
        {
            Some(mut at) => {
                while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
                    at += 1;
                }
                lines.advance(bytes, at)
            }
            None => counter,
        };
        rows.push(TableRow { number, cells });
    }
    Ok(rows)
}

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

    fn set(self, input: &mut MachineInput, value: String) {
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
fn compact(s: &str) -> String {
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
enum Target {
    Field(Column),
    /// Category code → specification code.
    Spec(BTreeMap<String, String>),
    Ignored,
}

/// A file's header row, understood.
#[derive(Debug, Clone)]
pub struct Header {
    titles: Vec<String>,
    targets: Vec<Target>,
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
async fn mark_taken_plates(s: &Services, rows: &mut [ImportRow]) -> Result<(), sqlx::Error> {
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
struct Stored {
    #[serde(default)]
    ignored_columns: Vec<String>,
    #[serde(default)]
    rows: Vec<ImportRow>,
}

fn parse_stored(text: &str) -> Stored {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(_)) => Stored::default(),
        Ok(v) => serde_json::from_value(v).unwrap_or_default(),
        Err(_) => Stored::default(),
    }
}

// ---------------------------------------------------------------------------
// Imports in the database.

/// An import, without its rows.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Import {
    pub id: i64,
    pub org_id: i64,
    pub user_id: Option<i64>,
    pub kind: String,
    pub file_name: String,
    pub file_id: Option<i64>,
    pub status: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub error_rows: i64,
    pub message: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl Import {
    pub fn valid_rows(&self) -> i64 {
        (self.total_rows - self.error_rows).max(0)
    }

    /// Still being checked.
    pub fn is_running(&self) -> bool {
        self.status == "parsing"
    }

    /// Everything is checked and nothing is wrong: it can be confirmed.
    pub fn can_confirm(&self) -> bool {
        self.status == "preview" && self.error_rows == 0 && self.total_rows > 0
    }
}

const COLUMNS: &str = "i.id, i.org_id, i.user_id, i.kind, i.file_name, i.file_id, i.status, i.total_rows, i.processed_rows, i.error_rows, i.message, i.created_at, i.finished_at";

/// Progress of a check, for a progress bar.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub status: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub error_rows: i64,
    /// Whole percent done.
    pub percent: i64,
    pub running: bool,
}

impl From<&Import> for Progress {
    fn from(i: &Import) -> Progress {
        let percent = if i.total_rows > 0 {
            (i.processed_rows * 100 / i.total_rows).clamp(0, 100)
        } else {
            0
        };
        Progress {
            status: i.status.clone(),
            total_rows: i.total_rows,
            processed_rows: i.processed_rows,
            error_rows: i.error_rows,
            percent,
            running: i.is_running(),
        }
    }
}

fn require_office(actor: &Actor) -> DomainResult<()> {
    if actor.is_supplier_office() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// An import of the actor's organisation (another organisation's is "not
/// found"). A check interrupted by a restart is reported as failed.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Import> {
    require_office(actor)?;
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM imports i WHERE i.id = ")
        .bind(id)
        .push(" AND i.org_id = ")
        .bind(actor.org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "i");
    let mut imp: Import = sql
        .query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    let now = to_db_time(s.db.now());
    if imp.is_running() && now - imp.created_at > STALE_AFTER_MS {
        fail(s, id, "import.interrupted").await;
        imp.status = "failed".into();
        imp.message = Some("import.interrupted".into());
    }
    Ok(imp)
}

/// The checked rows of an import and the titles of columns left out.
pub async fn rows(
    s: &Services,
    actor: &Actor,
    id: i64,
) -> DomainResult<(Vec<ImportRow>, Vec<String>)> {
    let imp = get(s, actor, id).await?;
    let text: String = sqlx::query_scalar("SELECT rows FROM imports WHERE id = $1")
        .bind(imp.id)
        .fetch_one(s.db.pool())
        .await?;
    let stored = parse_stored(&text);
    Ok((stored.rows, stored.ignored_columns))
}

/// The organisation's latest imports.
pub async fn list(s: &Services, actor: &Actor, limit: i64) -> DomainResult<Vec<Import>> {
    require_office(actor)?;
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM imports i WHERE i.org_id = ")
        .bind(actor.org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "i");
    sql.push(" ORDER BY i.created_at DESC, i.id DESC LIMIT ")
        .bind(limit.clamp(1, 100));
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// Stores an uploaded spreadsheet and starts checking it in the
/// background. Small files are checked before this returns; for large ones
/// the caller shows progress. Returns the import's id. A file that is not
/// a spreadsheet at all is a field error on `file`.
pub async fn start(
    s: &Services,
    actor: &Actor,
    file_name: &str,
    bytes: Vec<u8>,
) -> DomainResult<i64> {
    require_office(actor)?;
    let stored = s
        .files
        .accept("file", Purpose::Import, file_name, &bytes)
        .await?;
    let id = match insert(s, actor, &stored).await {
        Ok(id) => id,
        Err(e) => {
            s.files.discard(&stored).await;
            return Err(e);
        }
    };
    let (counted, rows_known) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(run(s.clone(), id, stored.name.clone(), bytes, counted));
    match rows_known.await {
        Ok(n) if n > INLINE_ROWS => {}
        // Small, or finished early (a file-level error): wait for the result.
        _ => {
            if let Err(e) = task.await {
                tracing::error!(import = id, error = %e, "the import check stopped");
            }
        }
    }
    Ok(id)
}

async fn insert(s: &Services, actor: &Actor, stored: &StoredFile) -> DomainResult<i64> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let file_id = stored
        .record(&mut tx, now, actor.org_id, actor.user())
        .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO imports (org_id, user_id, kind, file_name, file_id, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'parsing', $6) RETURNING id",
    )
    .bind(actor.org_id)
    .bind(actor.user())
    .bind(KIND_FLEET)
    .bind(&stored.name)
    .bind(file_id)
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "import.uploaded",
        "import",
        Some(id),
        json!({"file_id": file_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Why a check stopped.
enum Stop {
    /// The file as a whole is wrong (a catalogue code).
    File(&'static str),
    /// Someone cancelled the import meanwhile.
    Cancelled,
    Other(anyhow::Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Stop {
        Stop::Other(e.into())
    }
}

/// The background check of one import.
async fn run(
    s: Services,
    id: i64,
    name: String,
    bytes: Vec<u8>,
    counted: tokio::sync::oneshot::Sender<usize>,
) {
    match check(&s, id, name, bytes, counted).await {
        Ok(()) | Err(Stop::Cancelled) => {}
        Err(Stop::File(code)) => fail(&s, id, code).await,
        Err(Stop::Other(e)) => {
            tracing::error!(import = id, error = ?e, "the import check failed");
            fail(&s, id, "import.failed").await;
        }
    }
}

async fn check(
    s: &Services,
    id: i64,
    name: String,
    bytes: Vec<u8>,
    counted: tokio::sync::oneshot::Sender<usize>,
) -> Result<(), Stop> {
    // Unpacking and parsing are CPU work; a panic in a parser is a bad file, not a crash.
    let table = tokio::task::spawn_blocking(move || read_table(&name, &bytes))
        .await
        .map_err(|_| Stop::File("import.unreadable"))?
        .map_err(Stop::File)?;
    let (head, data) = table.split_first().ok_or(Stop::File("import.empty"))?;
    let header = map_header(&head.cells, s.texts.as_ref(), &s.equipment).map_err(Stop::File)?;
    if data.is_empty() {
        return Err(Stop::File("import.no_rows"));
    }
    let total = data.len();
    progress(s, id, total, 0).await?;
    let _ = counted.send(total);
    let this_year = s.db.now().year();
    let mut rows = Vec::with_capacity(total);
    for chunk in data.chunks(PROGRESS_STEP) {
        rows.extend(
            chunk
                .iter()
                .map(|r| check_row(&header, r, &s.equipment, this_year)),
        );
        if rows.len() < total {
            progress(s, id, total, rows.len()).await?;
            tokio::task::yield_now().await;
        }
    }
    mark_repeated_plates(&mut rows);
    mark_taken_plates(s, &mut rows).await?;
    let error_rows = rows.iter().filter(|r| !r.is_valid()).count();
    let stored = Stored {
        ignored_columns: header.ignored.clone(),
        rows,
    };
    let text = serde_json::to_string(&stored).map_err(|e| Stop::Other(e.into()))?;
    let mut tx = s.db.begin().await?;
    let done = sqlx::query(
        "UPDATE imports SET status = 'preview', rows = $1, total_rows = $2, processed_rows = $2, error_rows = $3
         WHERE id = $4 AND status = 'parsing'",
    )
    .bind(text)
    .bind(total as i64)
    .bind(error_rows as i64)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Stop::Cancelled);
    }
    Ok(())
}

/// Writes progress in its own short transaction.
async fn progress(s: &Services, id: i64, total: usize, processed: usize) -> Result<(), Stop> {
    let mut tx = s.db.begin().await?;
    let r = sqlx::query("UPDATE imports SET total_rows = $1, processed_rows = $2 WHERE id = $3 AND status = 'parsing'")
        .bind(total as i64)
        .bind(processed as i64)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if r.rows_affected() == 0 {
        return Err(Stop::Cancelled);
    }
    Ok(())
}

async fn fail(s: &Services, id: i64, code: &str) {
    let now = to_db_time(s.db.now());
    let result = async {
        let mut tx = s.db.begin().await?;
        sqlx::query(
            "UPDATE imports SET status = 'failed', message = $1, finished_at = $2, rows = '[]' WHERE id = $3 AND status = 'parsing'",
        )
        .bind(code)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(import = id, error = %e, "could not record a failed import");
    }
}

/// Inserts every machine of a checked import, all in one transaction.
/// Refused while any row has an error. Returns how many machines were added.
pub async fn confirm(s: &Services, actor: &Actor, id: i64) -> DomainResult<usize> {
    let imp = get(s, actor, id).await?;
    if imp.status != "preview" {
        return Err(DomainError::Conflict("import.not_ready"));
    }
    if !imp.can_confirm() {
        return Err(DomainError::Conflict("import.has_errors"));
    }
    let (rows, _) = rows(s, actor, id).await?;
    let this_year = s.db.now().year();
    // Checked again: the catalogue may have changed since the preview.
    let mut machines = Vec::with_capacity(rows.len());
    for r in &rows {
        if !r.is_valid() {
            return Err(DomainError::Conflict("import.has_errors"));
        }
        machines.push(
            r.input
                .validate(&s.equipment, this_year)
                .map_err(|_| DomainError::Conflict("import.changed"))?,
        );
    }
    if machines.is_empty() {
        return Err(DomainError::Conflict("import.has_errors"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let claimed = sqlx::query(
        "UPDATE imports SET status = 'done', finished_at = $1, rows = '[]' WHERE id = $2 AND status = 'preview' AND error_rows = 0",
    )
    .bind(to_db_time(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(DomainError::Conflict("import.not_ready"));
    }
    for m in &machines {
        match crate::fleet::garage::insert_machine(&mut tx, now, imp.org_id, m).await {
            Ok(_) => {}
            // A plate taken since the preview: nothing is saved.
            Err(DomainError::Invalid(_)) => {
                return Err(DomainError::Conflict("import.plate_taken"));
            }
            Err(DomainError::Database(e)) if is_unique_violation(&e) => {
                return Err(DomainError::Conflict("import.plate_taken"));
            }
            Err(e) => return Err(e),
        }
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "import.confirmed",
        "import",
        Some(id),
        json!({"machines": machines.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(machines.len())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Cancels an import that is being checked or waits for confirmation.
pub async fn cancel(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    let imp = get(s, actor, id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let r = sqlx::query(
        "UPDATE imports SET status = 'cancelled', finished_at = $1, rows = '[]' WHERE id = $2 AND status IN ('parsing', 'preview')",
    )
    .bind(to_db_time(now))
    .bind(imp.id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(DomainError::Conflict("import.not_ready"));
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "import.cancelled",
        "import",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texts::KeyTexts;

    fn catalogue() -> EquipmentCatalogue {
        EquipmentCatalogue::builtin().expect("catalogue")
    }

    fn row(number: u32, cells: &[&str]) -> TableRow {
        TableRow {
            number,
            cells: cells.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn csv_in_windows_1251_with_semicolons_is_read() {
        let text =
            "Вид техники;Марка;Модель\r\nСамосвал;КАМАЗ;65115\r\n\r\n;;\r\nЭкскаватор;JCB;3CX\r\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let rows = read_table("парк.csv", &bytes).expect("read");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].cells, vec!["Вид техники", "Марка", "Модель"]);
        assert_eq!(rows[1].number, 2);
        assert_eq!(
            rows[2].number, 5,
            "row numbers count empty lines like a spreadsheet"
        );
        assert_eq!(rows[2].cells[1], "JCB");
    }

    #[test]
    fn csv_in_utf8_with_bom_and_commas_is_read() {
        let bytes =
            "\u{feff}category,make,model,\"Грузоподъёмность, т\"\nsamosval,\"A, B\",C,\"25,5\"\n"
                .as_bytes();
        let rows = read_table("a.CSV", bytes).expect("read");
        assert_eq!(rows[0].cells[0], "category", "the BOM is dropped");
        assert_eq!(rows[0].cells[3], "Грузоподъёмность, т");
        assert_eq!(rows[1].cells[1], "A, B");
        assert_eq!(rows[1].cells[3], "25,5");
    }

    #[test]
    fn delimiter_is_detected_outside_quotes() {
        assert_eq!(detect_delimiter("a;b;\"c, d\""), b';');
        assert_eq!(detect_delimiter("a,b,\"c; d\""), b',');
        assert_eq!(detect_delimiter("a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(""), b';');
        assert_eq!(
            detect_delimiter("Вид техники;Марка;Модель;Грузоподъёмность, т;Объём кузова, м³"),
            b';'
        );
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        assert_eq!(read_table("a.xlsx", b""), Err("file.empty"));
        assert_eq!(
            read_table("a.xlsx", b"PK\x03\x04garbage"),
            Err("import.unreadable")
        );
        assert_eq!(
            read_table("a.pdf", b"%PDF-1.4"),
            Err("file.not_a_spreadsheet")
        );
        let mut truncated = crate::export::tests::small_xlsx();
        truncated.truncate(truncated.len() / 2);
        assert_eq!(read_table("a.xlsx", &truncated), Err("import.unreadable"));
        // Random bytes after a zip signature.
        let mut noise = b"PK\x03\x04".to_vec();
        noise.extend((0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
        assert!(read_table("a.xlsx", &noise).is_err());
        // A huge cell is clipped, not kept whole.
        let big = format!("a;b;c\n{};x;y\n", "я".repeat(100_000));
        let rows = read_table("a.csv", big.as_bytes()).expect("read");
        assert_eq!(rows[1].cells[0].chars().count(), MAX_CELL_CHARS + 1);
    }

    #[test]
    fn xlsx_cells_are_text_as_typed() {
        let rows = read_table("a.xlsx", &crate::export::tests::small_xlsx()).expect("read");
        assert_eq!(rows[0].cells[0], "Вид техники");
        assert_eq!(rows[1].cells[3], "2019", "a whole number has no decimals");
        assert_eq!(rows[1].cells[4], "25.5");
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut text = String::from("a;b;c\n");
        for i in 0..=MAX_ROWS {
            text.push_str(&format!("{i};x;y\n"));
        }
        assert_eq!(
            read_table("a.csv", text.as_bytes()),
            Err("import.too_many_rows")
        );
    }

    #[test]
    fn headers_match_titles_codes_and_units_loosely() {
        let c = catalogue();
        let h = map_header(
            &[
                "category".into(),
                "MAKE".into(),
                "model".into(),
                "Грузоподъемность (т)".into(),
                "body_volume_m3".into(),
                "Примечание".into(),
            ],
            &KeyTexts,
            &c,
        )
        .expect("header");
        assert_eq!(h.ignored, vec!["Примечание"]);
        let r = check_row(
            &h,
            &row(
                2,
                &["Самосвал", "КАМАЗ", "65115", "25,5", "20", "что угодно"],
            ),
            &c,
            2025,
        );
        assert_eq!(
            r.input.category, "tipper",
            "a title is resolved to the code"
        );
        assert_eq!(r.input.plate, "");
        // A tipper is a road vehicle: the plate is required.
        assert_eq!(
            r.errors,
            vec![RowError {
                field: "plate".into(),
                code: "required".into()
            }]
        );
        assert_eq!(
            map_header(&["make".into(), "model".into()], &KeyTexts, &c).err(),
            Some("import.missing_columns")
        );
        assert_eq!(
            map_header(
                &[
                    "category".into(),
                    "make".into(),
                    "model".into(),
                    "Make".into()
                ],
                &KeyTexts,
                &c
            )
            .err(),
            Some("import.duplicate_column")
        );
    }

    #[test]
    fn rows_are_checked_with_the_garage_rules() {
        let c = catalogue();
        let headers: Vec<String> = [
            "category",
            "make",
            "model",
            "year",
            "plate",
            "Грузоподъёмность, т",
            "Объём кузова, м³",
            "Длина стрелы, м",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let h = map_header(&headers, &KeyTexts, &c).expect("header");
        let good = check_row(
            &h,
            &row(
                2,
                &[
                    "tipper",
                    "КАМАЗ",
                    "65115",
                    "2019",
                    "а123вс77",
                    "25,5",
                    "20",
                    "",
                ],
            ),
            &c,
            2025,
        );
        assert!(good.is_valid(), "{:?}", good.errors);
        let m = good.machine.as_ref().expect("machine");
        assert_eq!(m["plate"], "А123ВС 77");
        assert_eq!(m["specs"]["payload_t"], json!(25.5));
        let crane = check_row(
            &h,
            &row(
                3,
                &[
                    "Автокран",
                    "Ивановец",
                    "КС-45717",
                    "",
                    "В456ОР 750",
                    "25",
                    "",
                    "31",
                ],
            ),
            &c,
            2025,
        );
        assert!(
            crane.is_valid(),
            "the shared column feeds the crane's own spec: {:?}",
            crane.errors
        );
        assert_eq!(
            crane.machine.as_ref().expect("m")["specs"]["lift_capacity_t"],
            json!(25.0)
        );
        let bad = check_row(
            &h,
            &row(
                4,
                &["tipper", "КАМАЗ", "65115", "1800", "XYZ", "99", "20", "31"],
            ),
            &c,
            2025,
        );
        let fields: Vec<(&str, &str)> = bad
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert!(fields.contains(&("year", "year.invalid")), "{fields:?}");
        assert!(fields.contains(&("plate", "plate.invalid")), "{fields:?}");
        assert!(
            fields.contains(&("spec_payload_t", "number.too_large")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("column:Длина стрелы, м", "import.spec_not_for_category")),
            "{fields:?}"
        );
        let unknown = check_row(
            &h,
            &row(5, &["вертолёт", "Ми", "8", "", "", "", "", ""]),
            &c,
            2025,
        );
        assert_eq!(
            unknown.errors,
            vec![RowError {
                field: "category".into(),
                code: "category.unknown".into()
            }]
        );
        let mut rows = vec![good.clone(), good];
        mark_repeated_plates(&mut rows);
        assert!(rows[0].is_valid());
        assert_eq!(rows[1].errors[0].code, "import.plate_repeated");
    }

    #[test]
    fn the_template_has_one_column_per_distinct_spec() {
        let c = catalogue();
        let cols = spec_columns(&c);
        let payload = cols
            .iter()
            .find(|col| col.label == "Грузоподъёмность, т")
            .expect("column");
        assert_eq!(
            payload.specs.get("tipper").map(String::as_str),
            Some("payload_t")
        );
        assert_eq!(
            payload.specs.get("truck_crane").map(String::as_str),
            Some("lift_capacity_t")
        );
        let labels: HashSet<String> = cols.iter().map(|c| compact(&c.label)).collect();
        assert_eq!(labels.len(), cols.len(), "labels are unique");
        // Every category's specs are reachable through the template's titles.
        let headers: Vec<String> = template_headers(&KeyTexts, &c)
            .into_iter()
            .map(|h| h.0)
            .collect();
        let mut with_fields = headers.clone();
        with_fields[0] = "category".into();
        with_fields[1] = "make".into();
        with_fields[2] = "model".into();
        let h = map_header(&with_fields, &KeyTexts, &c)
            .expect("the template's own header is understood");
        for cat in &c.categories {
            for s in &cat.specs {
                assert!(
                    h.targets
                        .iter()
                        .any(|t| matches!(t, Target::Spec(m) if m.get(&cat.code) == Some(&s.code))),
                    "{}.{} has a column",
                    cat.code,
                    s.code
                );
            }
        }
    }
}
