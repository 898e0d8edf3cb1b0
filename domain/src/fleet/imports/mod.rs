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

mod columns;
mod rows;
mod show;
mod store;
mod table;

pub use columns::*;
pub use rows::*;
pub use show::*;
pub use store::*;
pub use table::*;

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
