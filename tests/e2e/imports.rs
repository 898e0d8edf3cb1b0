//! Bulk import of a supplier's fleet from CSV and XLSX (preview, per-row
//! errors, all-or-nothing confirmation, progress of large files) and lists
//! exported to XLSX.

use std::io::Cursor;
use std::time::{Duration, Instant};

use domain::export::calamine::{self, Data, Reader};
use domain::export::rust_xlsxwriter::Workbook;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, DEMO_PASSWORD, TestApp, location};

const STROYTECH: &str = "ООО «СтройТехРесурс»";

/// Encodes text as windows-1251 (what Excel on a Russian Windows saves).
fn cp1251(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            c if c.is_ascii() => c as u8,
            'А'..='я' => (0xC0 + (c as u32 - 'А' as u32)) as u8,
            'Ё' => 0xA8,
            'ё' => 0xB8,
            '№' => 0xB9,
            '«' => 0xAB,
            '»' => 0xBB,
            other => panic!("{other:?} is not in windows-1251"),
        })
        .collect()
}

/// An XLSX file with one sheet; cells that look like numbers are written
/// as numbers, as a spreadsheet program would store them.
fn xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            if cell.is_empty() {
                continue;
            }
            match cell.parse::<f64>() {
                Ok(n) if r > 0 => ws.write_number(r, c, n).map(|_| ()),
                _ => ws.write_string(r, c, cell.as_str()).map(|_| ()),
            }
            .expect("cell");
        }
    }
    book.save_to_buffer().expect("xlsx")
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// The sheets of an XLSX file as text cells.
fn read_xlsx(bytes: &[u8]) -> Vec<(String, Vec<Vec<String>>)> {
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(Cursor::new(bytes.to_vec())).expect("an XLSX file");
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).expect("sheet");
            let rows = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::String(s) => s.clone(),
                            Data::Float(f) => format!("{f}"),
                            Data::Int(i) => i.to_string(),
                            Data::DateTime(d) => format!("date:{}", d.as_f64()),
                            Data::Empty => String::new(),
                            other => format!("{other:?}"),
                        })
                        .collect()
                })
                .collect();
            (name, rows)
        })
        .collect()
}

/// A plate unique for each `i` (up to 11 988).
fn plate(i: usize) -> String {
    let letters: Vec<char> = "АВЕКМНОРСТУХ".chars().collect();
    format!("{}{:03}ВС 77", letters[i % 12], i / 12 % 999 + 1)
}

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The interface text of an error code, as the import page chooses it.
fn error_text(code: &str) -> String {
    let cat = web::i18n::Catalogue::russian().expect("catalogue");
    let key = web::i18n::error_key(code);
    if cat.has(&key) {
        cat.get(&key, &[])
    } else {
        cat.get(&format!("import-{key}"), &[])
    }
}

async fn upload(b: &Browser, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let token = b.csrf().await;
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    b.http
        .post(b.url(&format!("/garage/import?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

/// Uploads a file and returns the import's id (the upload redirects to it).
async fn upload_ok(b: &Browser, name: &str, bytes: Vec<u8>) -> i64 {
    let r = upload(b, name, bytes).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let to = location(&r);
    to.strip_prefix("/garage/import/")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("redirect to an import: {to}"))
}

async fn progress(b: &Browser, id: i64) -> Value {
    let r = b.get(&format!("/garage/import/{id}/progress")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("JSON")
}

/// Polls the progress endpoint until the check ends; returns every answer.
async fn wait_checked(b: &Browser, id: i64) -> Vec<Value> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let p = progress(b, id).await;
        let running = p["running"].as_bool().expect("running");
        seen.push(p);
        if !running {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the check finishes: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn machines_of(app: &TestApp, org: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM machines m JOIN organisations o ON o.id = m.org_id WHERE o.name = $1 AND m.status = 'active'")
        .bind(org)
        .fetch_one(app.db().pool())
        .await
        .expect("count")
}

async fn stored_rows(app: &TestApp, id: i64) -> Vec<Value> {
    let text: String = sqlx::query_scalar("SELECT rows FROM imports WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("import");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["rows"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_windows_1251_csv_and_an_xlsx_import_and_the_garage_exports_back() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@stroytech.test", DEMO_PASSWORD).await;
    let before = machines_of(&app, STROYTECH).await;

    let (status, page) = owner.get_text("/garage/import").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Загрузка техники из файла"), "{page}");
    assert!(
        page.contains("Грузоподъёмность, т"),
        "spec columns are explained"
    );

    // The template: one header row in Russian, and a reference sheet.
    let r = owner.get("/garage/import/template.xlsx").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"garage-template-"),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''%D0%A8%D0%B0%D0%B1%D0%BB%D0%BE%D0%BD"),
        "{disposition}"
    );
    let sheets = read_xlsx(&r.bytes().await.expect("bytes"));
    assert_eq!(sheets.len(), 2);
    let header = &sheets[0].1[0];
    assert_eq!(
        &header[..5],
        ["Вид техники", "Марка", "Модель", "Год", "Госномер"]
    );
    assert!(
        header.contains(&"Грузоподъёмность, т".to_string()),
        "{header:?}"
    );
    assert_eq!(sheets[0].1.len(), 1, "only the header row");

    // A CSV saved by Excel on Windows: windows-1251, `;`, decimal commas,
    // "м3" typed without the superscript, a category in lower case.
    let csv = "Вид техники;Марка;Модель;Год;Госномер;VIN;Адрес базы;Широта;Долгота;Радиус;Грузоподъёмность, т;Объём кузова, м3;Колёсная формула;Длина стрелы, м\r\n\
               Самосвал;КАМАЗ;65115;2019;а123вс77;XTC65115KK1234567;г. Подольск, ул. Заводская, д. 5;55,4311;37,5447;80;25,5;20;6x4;\r\n\
               автокран;Ивановец;КС-45717;2015;В456ОР 750;;;;;;25;;;31\r\n";
    let id = upload_ok(&owner, "Парк.csv", cp1251(csv)).await;
    let (status, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Импортировать 2 машины"), "{page}");
    assert!(page.contains("А123ВС 77"), "the plate is shown normalised");
    assert!(page.contains("Автокран"));
    assert_eq!(
        machines_of(&app, STROYTECH).await,
        before,
        "nothing is saved before confirmation"
    );
    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(machines_of(&app, STROYTECH).await, before + 2);
    let (_, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert!(page.contains("В гараж добавлено машин: 2"), "{page}");
    let (payload, radius): (String, i64) =
        sqlx::query_as("SELECT specs, service_radius_km FROM machines WHERE plate = 'А123ВС 77'")
            .fetch_one(app.db().pool())
            .await
            .expect("the tipper");
    let specs: Value = serde_json::from_str(&payload).expect("specs");
    assert_eq!(specs["payload_t"], serde_json::json!(25.5));
    assert_eq!(specs["axles"], "6x4");
    assert_eq!(radius, 80);
    // Confirming twice adds nothing.
    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(machines_of(&app, STROYTECH).await, before + 2);

    // An XLSX file in UTF-8 with numbers stored as numbers and codes as titles.
    let rows = strings(&[
        &[
            "category",
            "Марка",
            "Модель",
            "Год выпуска",
            "Госномер",
            "Пассажирских мест, мест",
            "Класс",
            "bucket_m3",
            "Ходовая часть",
        ],
        &[
            "bus",
            "ПАЗ",
            "4234",
            "2020",
            "АВ123 77",
            "30",
            "Городской",
            "",
            "",
        ],
        &[
            "Экскаватор",
            "JCB",
            "JS220",
            "2018",
            "",
            "",
            "",
            "1.2",
            "гусеничный",
        ],
    ]);
    let id = upload_ok(&owner, "fleet.xlsx", xlsx(&rows)).await;
    let (_, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert!(page.contains("Импортировать 2 машины"), "{page}");
    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(machines_of(&app, STROYTECH).await, before + 4);
    let class: String = sqlx::query_scalar("SELECT specs FROM machines WHERE plate = 'АВ123 77'")
        .fetch_one(app.db().pool())
        .await
        .expect("the bus");
    assert!(
        class.contains("\"городской\""),
        "a choice is stored as the catalogue writes it: {class}"
    );

    // The recent imports are listed with their status.
    let (_, page) = owner.get_text("/garage/import").await;
    assert!(
        page.contains("fleet.xlsx") && page.contains("Парк.csv"),
        "{page}"
    );
    assert!(page.contains("Загружено"));

    // The garage export has the template's columns, so it can be imported again.
    let r = owner.get("/garage/export.xlsx").await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.expect("bytes").to_vec();
    let sheets = read_xlsx(&bytes);
    let rows = &sheets[0].1;
    assert_eq!(&rows[0], header, "the same header as the template");
    assert_eq!(rows.len() as i64, 1 + before + 4);
    let tipper = rows
        .iter()
        .find(|r| r[4] == "А123ВС 77")
        .expect("the tipper's row");
    assert_eq!(tipper[0], "Самосвал");
    assert_eq!(tipper[3], "2019", "the year is a number");
    let payload_col = header
        .iter()
        .position(|h| h == "Грузоподъёмность, т")
        .expect("column");
    assert_eq!(tipper[payload_col], "25.5");
    let id = upload_ok(&owner, "garage.xlsx", bytes).await;
    wait_checked(&owner, id).await;
    let stored = stored_rows(&app, id).await;
    assert_eq!(stored.len() as i64, before + 4);
    for row in &stored {
        let errors = row["errors"].as_array().expect("errors");
        if row["input"]["plate"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
        {
            // Machines already in the garage: only their plates are refused.
            assert_eq!(
                errors,
                &vec![serde_json::json!({"field": "plate", "code": "plate.taken"})],
                "{row}"
            );
        } else {
            // The excavator has no plate: it reads back clean.
            assert!(errors.is_empty(), "{row}");
        }
    }
    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a file with errors cannot be confirmed"
    );
    let r = owner
        .post_form(&format!("/garage/import/{id}/cancel"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(machines_of(&app, STROYTECH).await, before + 4);
    app.stop().await;
}

#[tokio::test]
async fn an_import_with_bad_rows_reports_each_and_saves_none() {
    let app = TestApp::spawn_demo().await;
    // A machine of another supplier already has this plate.
    let mut tx = app.db().begin().await.expect("a transaction");
    sqlx::query(
        "INSERT INTO machines (org_id, category, make, model, plate, specs, service_radius_km, status, created_at, updated_at)
         SELECT id, 'tipper', 'МАЗ', '6501', 'Е777КХ 99', '{}', 50, 'active', 0, 0 FROM organisations WHERE name = 'ООО «ГрузАвто»'",
    )
    .execute(&mut *tx)
    .await
    .expect("a machine");
    tx.commit().await.expect("commit");
    let owner = app.client();
    owner
        .login("dispatcher@stroytech.test", DEMO_PASSWORD)
        .await;
    let before = machines_of(&app, STROYTECH).await;
    // UTF-8 with a BOM, comma-separated, quoted decimals.
    let csv = "\u{feff}Вид техники,Марка,Модель,Год,Госномер,\"Грузоподъёмность, т\",\"Объём кузова, м³\"\n\
               Самосвал,КАМАЗ,6520,2021,А111АА 77,20,16\n\
               Самосвал,КАМАЗ,6520,2021,ZZZ,20,16\n\
               Вертолёт,Ми,8,1990,,,\n\
               Самосвал,КАМАЗ,6520,2021,В222ВВ 77,\"99,5\",16\n\
               Самосвал,КАМАЗ,6520,2021,а111аа77,20,16\n\
               Самосвал,МАЗ,6501,2020,Е777КХ 99,20,16\n";
    let id = upload_ok(&owner, "bad.csv", csv.as_bytes().to_vec()).await;
    let (status, html) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let page = unescape(&html);
    assert!(page.contains("ничего не сохранено"), "{page}");
    assert!(
        !page.contains("Импортировать"),
        "no confirmation is offered"
    );
    // Each error is named with its row number, column and message.
    let expected: &[(u32, &str, &str)] = &[
        (3, "plate", "plate.invalid"),
        (4, "category", "category.unknown"),
        (5, "spec_payload_t", "number.too_large"),
        (6, "plate", "import.plate_repeated"),
        (7, "plate", "plate.taken"),
    ];
    let stored = stored_rows(&app, id).await;
    assert_eq!(stored.len(), 6);
    assert!(
        stored[0]["errors"].as_array().expect("errors").is_empty(),
        "row 2 is fine: {}",
        stored[0]
    );
    for (row, field, code) in expected {
        let r = stored
            .iter()
            .find(|r| r["row"] == *row)
            .unwrap_or_else(|| panic!("row {row}"));
        assert_eq!(
            r["errors"],
            serde_json::json!([{"field": field, "code": code}]),
            "row {row}"
        );
        assert!(
            page.contains(&format!("id=\"row-{row}\"")),
            "row {row} is listed"
        );
        assert!(
            page.contains(&error_text(code)),
            "the text of {code} is shown"
        );
    }
    assert!(
        page.contains("<strong>Грузоподъёмность, т</strong>"),
        "the spec error names its column"
    );
    assert!(page.contains("<strong>Госномер</strong>"));
    let p = progress(&owner, id).await;
    assert_eq!(
        (
            p["total_rows"].as_i64(),
            p["error_rows"].as_i64(),
            p["status"].as_str()
        ),
        (Some(6), Some(5), Some("preview"))
    );
    // Only rows with errors, on request.
    let (_, only) = owner
        .get_text(&format!("/garage/import/{id}?errors=1"))
        .await;
    assert!(!only.contains("id=\"row-2\"") && only.contains("id=\"row-7\""));

    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        machines_of(&app, STROYTECH).await,
        before,
        "none of the rows is saved"
    );

    // Whole-file problems are told plainly and nothing is kept.
    let r = upload(&owner, "notes.txt", b"hello".to_vec()).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("Нужна таблица в формате XLSX или CSV")
    );
    let id = upload_ok(
        &owner,
        "columns.csv",
        "Марка;Модель\nКАМАЗ;65115\n".as_bytes().to_vec(),
    )
    .await;
    let (_, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert!(
        unescape(&page).contains(&error_text("import.missing_columns")),
        "{page}"
    );
    let id = upload_ok(
        &owner,
        "broken.xlsx",
        b"PK\x03\x04 not really a workbook".to_vec(),
    )
    .await;
    let (_, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert!(
        unescape(&page).contains(&error_text("import.unreadable")),
        "{page}"
    );
    let id = upload_ok(
        &owner,
        "empty.csv",
        "Вид техники;Марка;Модель\n".as_bytes().to_vec(),
    )
    .await;
    let (_, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert!(
        unescape(&page).contains(&error_text("import.no_rows")),
        "{page}"
    );
    assert_eq!(machines_of(&app, STROYTECH).await, before);
    app.stop().await;
}

#[tokio::test]
async fn imports_belong_to_their_supplier() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@stroytech.test", DEMO_PASSWORD).await;
    let before = machines_of(&app, STROYTECH).await;
    let id = upload_ok(
        &owner,
        "one.csv",
        "Вид техники;Марка;Модель;Объём ковша, м³\nЭкскаватор;Hitachi;ZX200;1,1\n"
            .as_bytes()
            .to_vec(),
    )
    .await;

    let other = app.client();
    other.login("owner@gruzavto.test", DEMO_PASSWORD).await;
    assert_eq!(
        other.get(&format!("/garage/import/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .get(&format!("/garage/import/{id}/progress"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post_form(&format!("/garage/import/{id}/confirm"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post_form(&format!("/garage/import/{id}/cancel"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (_, list) = other.get_text("/garage/import").await;
    assert!(
        !list.contains("one.csv"),
        "another supplier's imports are not listed"
    );

    let driver = app.client();
    driver.login("driver1@stroytech.test", DEMO_PASSWORD).await;
    assert_eq!(
        driver.get("/garage/import").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        driver.get(&format!("/garage/import/{id}")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        driver.get("/garage/export.xlsx").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        upload(&driver, "x.csv", b"a;b\n1;2\n".to_vec())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let client = app.client();
    client.login("client@sevbeton.test", DEMO_PASSWORD).await;
    assert_eq!(
        client.get("/garage/import").await.status(),
        StatusCode::FORBIDDEN
    );
    // Suppliers do not get the staff's directories.
    assert_eq!(
        owner.get("/suppliers/export.xlsx").await.status(),
        StatusCode::FORBIDDEN
    );

    // The owner's own import is intact and can be confirmed.
    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(machines_of(&app, STROYTECH).await, before + 1);
    app.stop().await;
}

#[tokio::test]
async fn a_large_file_is_checked_in_the_background_with_progress() {
    let app = TestApp::spawn_demo().await;
    let owner = app.client();
    owner.login("owner@stroytech.test", DEMO_PASSWORD).await;
    let before = machines_of(&app, STROYTECH).await;
    const N: usize = 3_000;
    let mut rows = vec![
        [
            "Вид техники",
            "Марка",
            "Модель",
            "Год",
            "Госномер",
            "Грузоподъёмность, т",
            "Объём кузова, м³",
            "Адрес базы",
            "Широта",
            "Долгота",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for i in 0..N {
        rows.push(vec![
            "Самосвал".into(),
            "КАМАЗ".into(),
            "65115".into(),
            (2000 + i % 25).to_string(),
            plate(i),
            format!("{}", 10 + i % 20),
            "16.5".into(),
            format!("г. Москва, ул. Складская, д. {}", i % 90 + 1),
            "55.75".into(),
            "37.61".into(),
        ]);
    }
    let id = upload_ok(&owner, "big.xlsx", xlsx(&rows)).await;
    // The upload answers as soon as the rows are counted: the count is known
    // at once and the page shows progress while the check runs.
    let first = progress(&owner, id).await;
    assert_eq!(first["total_rows"], N as i64, "{first}");
    let (status, page) = owner.get_text(&format!("/garage/import/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    if page.contains("data-import-progress") {
        assert!(page.contains("<progress"), "a progress bar");
        assert!(page.contains("/static/import.js"), "enhanced by a script");
        assert!(
            page.contains("http-equiv=\"refresh\""),
            "and refreshing itself without one"
        );
    }
    let seen = wait_checked(&owner, id).await;
    for p in &seen {
        let (done, total) = (
            p["processed_rows"].as_i64().expect("n"),
            p["total_rows"].as_i64().expect("n"),
        );
        assert!(done <= total && total == N as i64, "{p}");
    }
    let last = seen.last().expect("progress");
    assert_eq!(last["status"], "preview", "{last}");
    assert_eq!(last["processed_rows"], N as i64);
    assert_eq!(last["error_rows"], 0);
    assert_eq!(last["percent"], 100);
    assert!(owner.get("/static/import.js").await.status().is_success());

    // The preview pages through the rows.
    let (_, page) = owner
        .get_text(&format!("/garage/import/{id}?page=15"))
        .await;
    assert!(page.contains("Импортировать 3000 машин"), "{page}");
    assert!(
        page.contains("id=\"row-3001\""),
        "the last row is on the last page"
    );

    let r = owner
        .post_form(&format!("/garage/import/{id}/confirm"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(machines_of(&app, STROYTECH).await, before + N as i64);
    app.stop().await;
}

#[tokio::test]
async fn staff_export_directories_with_their_filters() {
    let app = TestApp::spawn_demo().await;
    let m = app.client();
    m.login("manager@podryad.test", DEMO_PASSWORD).await;

    let r = m
        .get("/suppliers/export.xlsx?q=gruzavto&status=&region=&category=")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"suppliers-"),
        "{disposition}"
    );
    // "Поставщики" in UTF-8, per RFC 5987.
    assert!(
        disposition.contains(
            "filename*=UTF-8''%D0%9F%D0%BE%D1%81%D1%82%D0%B0%D0%B2%D1%89%D0%B8%D0%BA%D0%B8%20"
        ),
        "{disposition}"
    );
    let sheets = read_xlsx(&r.bytes().await.expect("bytes"));
    assert_eq!(sheets[0].0, "Поставщики");
    let rows = &sheets[0].1;
    assert_eq!(rows.len(), 2, "the filter applies: {rows:?}");
    assert_eq!(rows[0][0], "Полное наименование");
    assert_eq!(rows[1][0], "ООО «ГрузАвто»");
    assert_eq!(rows[1][2], "7729876543", "an INN stays text");
    assert_eq!(rows[1][6], "Одобрен");
    assert!(
        rows[1][8].starts_with("date:"),
        "the registration date is a date: {:?}",
        rows[1]
    );

    let r = m.get("/suppliers/export.xlsx?status=approved").await;
    let all = read_xlsx(&r.bytes().await.expect("bytes"));
    assert_eq!(all[0].1.len(), 4, "three approved suppliers");

    let r = m.get("/clients/export.xlsx").await;
    assert_eq!(r.status(), StatusCode::OK);
    let sheets = read_xlsx(&r.bytes().await.expect("bytes"));
    assert_eq!(sheets[0].0, "Клиенты");
    assert!(sheets[0].1.iter().any(|r| r[0] == "ООО «Северный бетон»"));
    assert!(
        !sheets[0].1[0].contains(&"Техники".to_string()),
        "clients have no machines column"
    );

    // The directory page links to the export with the same filters.
    let (_, page) = m.get_text("/suppliers?q=x").await;
    assert!(page.contains("/suppliers/export.xlsx?q=x"), "{page}");
    app.stop().await;
}
