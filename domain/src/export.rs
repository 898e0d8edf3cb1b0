//! Lists as XLSX spreadsheets: the staff's supplier and client
//! directories (with the directory's filters), a supplier's garage in the
//! import template's layout (so an export can be edited and imported
//! again), and the import template itself.
//!
//! Every sheet has a bold, frozen header row with a filter, sensible column
//! widths, identifiers kept as text (an INN must not turn into 7.7E+09) and
//! dates as real dates shown `dd.mm.yyyy`. Titles come from the message
//! catalogue through [`Texts`].

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook};
use serde_json::Value;

use crate::access::Actor;
use crate::access::roles::OrgKind;
use crate::args;
use crate::error::{DomainError, DomainResult};
use crate::fleet::garage::{self, MachineFilter};
use crate::fleet::imports::{self, Column};
use crate::parties::{self, DirectoryFilter};
use crate::services::Services;
use crate::texts::Texts;

/// Re-exported so tests and tools read and write spreadsheets with the same
/// crate versions as the product.
pub use {calamine, rust_xlsxwriter};

/// The Content-Type of an XLSX file.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Excel's limit on the characters of one cell.
const MAX_CELL: usize = 32_767;

/// One cell of a sheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Number(f64),
    Date(NaiveDate),
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Cell {
        v.filter(|s| !s.is_empty())
            .map(Cell::Text)
            .unwrap_or(Cell::Empty)
    }
}

/// A sheet: a title, columns (title and width in characters) and rows.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub name: String,
    pub columns: Vec<(String, f64)>,
    pub rows: Vec<Vec<Cell>>,
}

/// Excel refuses some characters in sheet names and more than 31 of them.
fn sheet_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    let clean = clean.trim().trim_matches('\'').to_string();
    if clean.is_empty() {
        "Sheet".into()
    } else {
        clean
    }
}

/// Writes sheets into an XLSX file.
pub fn workbook(sheets: &[Sheet]) -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border_bottom(FormatBorder::Thin);
    let date = Format::new().set_num_format("dd.mm.yyyy");
    for sheet in sheets {
        let ws = book.add_worksheet();
        ws.set_name(sheet_name(&sheet.name))?;
        for (c, (title, width)) in sheet.columns.iter().enumerate() {
            let c = u16::try_from(c)?;
            ws.write_string_with_format(0, c, title.as_str(), &header)?;
            ws.set_column_width(c, *width)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = u32::try_from(r + 1)?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c)?;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(s) => {
                        let s: String = s.chars().take(MAX_CELL).collect();
                        ws.write_string(r, c, s)?;
                    }
                    Cell::Int(n) => {
                        ws.write_number(r, c, *n as f64)?;
                    }
                    Cell::Number(n) if n.is_finite() => {
                        ws.write_number(r, c, *n)?;
                    }
                    Cell::Number(_) => {}
                    Cell::Date(d) => {
                        let (Ok(y), Ok(m), Ok(day)) = (
                            u16::try_from(d.year()),
                            u8::try_from(d.month()),
                            u8::try_from(d.day()),
                        ) else {
                            continue;
                        };
                        if let Ok(dt) = ExcelDateTime::from_ymd(y, m, day) {
                            ws.write_datetime_with_format(r, c, &dt, &date)?;
                        }
                    }
                }
            }
        }
        if !sheet.columns.is_empty() {
            ws.set_freeze_panes(1, 0)?;
            let last_row = u32::try_from(sheet.rows.len())?;
            let last_col = u16::try_from(sheet.columns.len() - 1)?;
            ws.autofilter(0, 0, last_row, last_col)?;
        }
    }
    Ok(book.save_to_buffer()?)
}

/// Builds a workbook off the async runtime (it is CPU work).
async fn build(sheets: Vec<Sheet>) -> DomainResult<Vec<u8>> {
    tokio::task::spawn_blocking(move || workbook(&sheets))
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("building a spreadsheet: {e}")))?
        .map_err(DomainError::Other)
}

fn t(texts: &dyn Texts, key: &str) -> String {
    texts.text(key, &args![])
}

/// The local date of a stored time.
fn local_date(ms: i64, tz: Tz) -> Option<NaiveDate> {
    tz.timestamp_millis_opt(ms).single().map(|t| t.date_naive())
}

/// The staff's directory of suppliers or clients, with the same filters
/// as the page.
pub async fn directory(
    s: &Services,
    actor: &Actor,
    kind: OrgKind,
    f: &DirectoryFilter,
    tz: Tz,
) -> DomainResult<Vec<u8>> {
    let rows = parties::directory(s, actor, kind, f).await?;
    let texts = s.texts.as_ref();
    let suppliers = kind == OrgKind::Supplier;
    let mut columns = vec![
        (t(texts, "company-name"), 44.0),
        (t(texts, "export-column-legal-form"), 16.0),
        (t(texts, "field-inn"), 14.0),
        (t(texts, "company-region"), 22.0),
        (t(texts, "field-phone"), 16.0),
        (t(texts, "field-email"), 28.0),
        (t(texts, "users-status"), 22.0),
    ];
    if suppliers {
        columns.push((t(texts, "directory-machines"), 10.0));
    }
    columns.push((t(texts, "export-column-registered"), 14.0));
    let rows = rows
        .into_iter()
        .map(|r| {
            let mut row = vec![
                Cell::Text(r.name),
                Cell::Text(t(texts, &format!("legal-form-{}", r.legal_form))),
                Cell::from(r.inn),
                Cell::from(r.region),
                Cell::from(r.phone),
                Cell::from(r.email),
                Cell::Text(t(texts, &format!("org-status-{}", r.status))),
            ];
            if suppliers {
                row.push(Cell::Int(r.machines));
            }
            row.push(
                local_date(r.created_at, tz)
                    .map(Cell::Date)
                    .unwrap_or(Cell::Empty),
            );
            row
        })
        .collect();
    let sheet = Sheet {
        name: t(texts, &format!("directory-title-{}", kind.as_str())),
        columns,
        rows,
    };
    build(vec![sheet]).await
}

fn spec_cell(v: &Value, texts: &dyn Texts) -> Cell {
    match v {
        Value::Bool(b) => Cell::Text(t(texts, if *b { "import-yes" } else { "import-no" })),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => n.as_f64().map(Cell::Number).unwrap_or(Cell::Empty),
        },
        Value::String(s) => Cell::Text(s.clone()),
        _ => Cell::Empty,
    }
}

/// A supplier's own garage, in the import template's columns.
pub async fn garage(s: &Services, actor: &Actor) -> DomainResult<Vec<u8>> {
    if !actor.is_supplier_office() {
        return Err(DomainError::Forbidden);
    }
    let machines = garage::list(s, actor, actor.org_id(), &MachineFilter::default()).await?;
    let texts = s.texts.as_ref();
    let catalogue = &s.equipment;
    let spec_columns = imports::spec_columns(catalogue);
    let rows = machines
        .into_iter()
        .map(|m| {
            let specs: Value = serde_json::from_str(&m.specs).unwrap_or(Value::Null);
            let title = catalogue
                .category(&m.category)
                .map(|c| c.title.clone())
                .unwrap_or_else(|| m.category.clone());
            let mut row = Vec::with_capacity(Column::ALL.len() + spec_columns.len());
            for c in Column::ALL {
                row.push(match c {
                    Column::Category => Cell::Text(title.clone()),
                    Column::Make => Cell::Text(m.make.clone()),
                    Column::Model => Cell::Text(m.model.clone()),
                    Column::Year => m.year.map(Cell::Int).unwrap_or(Cell::Empty),
                    Column::Plate => Cell::from(m.plate.clone()),
                    Column::Vin => Cell::from(m.vin.clone()),
                    Column::BaseAddress => Cell::from(m.base_address.clone()),
                    Column::BaseLat => m.base_lat.map(Cell::Number).unwrap_or(Cell::Empty),
                    Column::BaseLon => m.base_lon.map(Cell::Number).unwrap_or(Cell::Empty),
                    Column::Radius => Cell::Int(m.service_radius_km),
                });
            }
            for col in &spec_columns {
                let cell = col
                    .specs
                    .get(&m.category)
                    .and_then(|code| specs.get(code))
                    .map(|v| spec_cell(v, texts))
                    .unwrap_or(Cell::Empty);
                row.push(cell);
            }
            row
        })
        .collect();
    let sheet = Sheet {
        name: t(texts, "export-sheet-garage"),
        columns: imports::template_headers(texts, catalogue),
        rows,
    };
    build(vec![sheet]).await
}

/// The import template: the header row, and a reference sheet listing each
/// category with its columns and allowed values.
pub async fn template(s: &Services) -> DomainResult<Vec<u8>> {
    let texts = s.texts.as_ref();
    let catalogue = &s.equipment;
    let main = Sheet {
        name: t(texts, "export-sheet-garage"),
        columns: imports::template_headers(texts, catalogue),
        rows: Vec::new(),
    };
    let mut rows = Vec::new();
    for c in imports::help(catalogue) {
        for spec in &c.specs {
            let values = if !spec.options.is_empty() {
                spec.options.join(", ")
            } else if spec.kind == "boolean" {
                format!("{} / {}", t(texts, "import-yes"), t(texts, "import-no"))
            } else {
                match (&spec.min, &spec.max) {
                    (Some(a), Some(b)) => {
                        texts.text("export-reference-range", &args!["min" => a, "max" => b])
                    }
                    _ => String::new(),
                }
            };
            rows.push(vec![
                Cell::Text(c.title.clone()),
                Cell::Text(c.code.clone()),
                Cell::Text(spec.column.clone()),
                Cell::Text(spec.code.clone()),
                Cell::Text(t(
                    texts,
                    if spec.required {
                        "import-yes"
                    } else {
                        "import-no"
                    },
                )),
                Cell::from(Some(values)),
            ]);
        }
    }
    let reference = Sheet {
        name: t(texts, "export-sheet-reference"),
        columns: vec![
            (t(texts, "import-column-category"), 30.0),
            (t(texts, "export-reference-category-code"), 18.0),
            (t(texts, "export-reference-column"), 34.0),
            (t(texts, "export-reference-spec-code"), 20.0),
            (t(texts, "export-reference-required"), 14.0),
            (t(texts, "export-reference-values"), 44.0),
        ],
        rows,
    };
    build(vec![main, reference]).await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use calamine::{Data, Reader};

    /// A small XLSX file for reading tests.
    pub(crate) fn small_xlsx() -> Vec<u8> {
        workbook(&[Sheet {
            name: "Парк".into(),
            columns: vec![
                ("Вид техники".into(), 20.0),
                ("Марка".into(), 10.0),
                ("Модель".into(), 10.0),
                ("Год".into(), 8.0),
                ("Грузоподъёмность, т".into(), 8.0),
            ],
            rows: vec![vec![
                Cell::Text("Самосвал".into()),
                Cell::Text("КАМАЗ".into()),
                Cell::Text("65115".into()),
                Cell::Int(2019),
                Cell::Number(25.5),
            ]],
        }])
        .expect("xlsx")
    }

    #[test]
    fn a_workbook_reads_back() {
        let bytes = workbook(&[Sheet {
            name: "Поставщики: [все]".into(),
            columns: vec![("ИНН".into(), 14.0), ("Дата".into(), 12.0)],
            rows: vec![vec![
                Cell::Text("7707083893".into()),
                Cell::Date(NaiveDate::from_ymd_opt(2025, 3, 8).expect("date")),
            ]],
        }])
        .expect("xlsx");
        let mut book: calamine::Xlsx<_> =
            calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("open");
        assert_eq!(book.sheet_names(), vec!["Поставщики все".to_string()]);
        let range = book.worksheet_range_at(0).expect("sheet").expect("range");
        assert_eq!(
            range.get_value((1, 0)),
            Some(&Data::String("7707083893".into())),
            "an INN stays text"
        );
        let styles = book.worksheet_style("Поставщики все").expect("styles");
        let bold = |pos| {
            styles
                .get(pos)
                .and_then(|s| s.font.as_ref())
                .is_some_and(|f| f.is_bold())
        };
        assert!(bold((0, 0)) && bold((0, 1)), "the header row is bold");
        assert!(!bold((1, 0)));
        let date_format = styles
            .get((1, 1))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.clone());
        assert_eq!(date_format.as_deref(), Some("dd.mm.yyyy"));
        match range.get_value((1, 1)) {
            Some(Data::DateTime(d)) => assert_eq!(d.as_f64(), 45724.0),
            other => panic!("a date cell, got {other:?}"),
        }
    }
}
