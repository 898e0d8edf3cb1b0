use super::*;

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
pub(super) fn number_text(f: f64) -> String {
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
