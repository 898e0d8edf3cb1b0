use serde_json::{Value, json};

use super::*;

/// The text of a PDF as poppler's `pdftotext` reads it, with every run of
/// whitespace made one space; `None` (and a note) when poppler-utils is not
/// installed — CI installs it.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = match std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: text checks skipped: pdftotext (poppler-utils) cannot be run: {e}");
            return None;
        }
    };
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8 text");
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn sample(key: &str, variant: Option<&str>) -> Value {
    let b = builtin::get(key).expect("built-in template");
    let name = match variant {
        Some(v) => format!("{key}.{v}.sample.json"),
        None => format!("{key}.sample.json"),
    };
    b.samples()
        .into_iter()
        .find(|(file, _)| *file == name)
        .unwrap_or_else(|| panic!("no sample {name}"))
        .1
        .expect("sample parses")
}

fn render_builtin(key: &str, variant: Option<&str>) -> Rendered {
    let b = builtin::get(key).expect("built-in template");
    render(&b.template(), &sample(key, variant))
        .unwrap_or_else(|e| panic!("{key} {variant:?} does not render:\n{e}"))
}

#[test]
fn keys_are_checked() {
    for good in ["work_order_client", "a", "contract_2"] {
        assert!(valid_key(good), "{good}");
    }
    for bad in [
        "", "Work", "2x", "a-b", "common", "data", "a/b", "../x", "ключ",
    ] {
        assert!(!valid_key(bad), "{bad}");
    }
    let t = Template::new("../etc", 1, "hello");
    assert!(matches!(
        render(&t, &json!({})),
        Err(RenderError::BadKey(_))
    ));
}

#[test]
fn every_builtin_template_renders_with_every_sample() {
    assert_eq!(builtin::ALL.len(), 8);
    for b in builtin::ALL {
        for (file, data) in b.samples() {
            let data = data.unwrap_or_else(|e| panic!("{file}: {e}"));
            let problems = check(&b.template(), &data);
            assert!(
                problems.is_empty(),
                "{} with {file}:\n{}",
                b.key,
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            let r = render(&b.template(), &data).expect("renders");
            assert!(r.pdf.starts_with(b"%PDF-"), "{file}");
            assert!(r.pages >= 1);
            assert_eq!(r.sha256.len(), 64);
        }
    }
}

#[test]
fn the_same_data_gives_the_same_bytes() {
    let a = render_builtin("work_order_client", None);
    let b = render_builtin("work_order_client", None);
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.pdf, b.pdf);
    let mut other = sample("work_order_client", None);
    other["document"]["number"] = json!("2026-000124-К1");
    let c = render(
        &builtin::get("work_order_client").unwrap().template(),
        &other,
    )
    .unwrap();
    assert_ne!(a.sha256, c.sha256);
}

#[test]
fn client_work_order_names_no_supplier_and_spells_the_total() {
    let client_sample = sample("work_order_client", None);
    let supplier_sample = sample("work_order_supplier", None);
    let Some(text) = pdf_text(&render_builtin("work_order_client", None).pdf) else {
        return;
    };
    for expected in [
        "ЗАЯВКА-НАРЯД № 2026-000123-К1",
        "к договору транспортной экспедиции № ТЭ-2026/014 от 15.01.2026",
        "АО «СтройМонолит»",
        "ООО «Подряд»",
        "«Экспедитор»",
        "Арматура А500С",
        "А123ВС 777",
        "Алексей",
        "26 000,00 ₽ (Двадцать шесть тысяч рублей 00 копеек)",
        "в том числе НДС 22 %: 4 688,52",
        "Порядок оплаты: 100 % в течение 5 (пяти) банковских дней",
        "Клиент вправе отменить заявку без оплаты",
        "Страница 1 из",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    // Neither the supplier's identity nor its price reaches the client.
    let supplier = &supplier_sample["supplier"];
    for secret in [
        supplier["name"].as_str().unwrap(),
        supplier["short_name"].as_str().unwrap(),
        "Гусейнов",
        supplier["inn"].as_str().unwrap(),
        supplier["phone"].as_str().unwrap(),
        supplier_sample["price"]["total_number"].as_str().unwrap(),
        // The driver's surname, which only the supplier's order carries.
        "Морозов",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked to the client");
    }
    assert!(client_sample["client"]["name"].is_string());
}

#[test]
fn supplier_work_order_names_no_client_and_no_client_price() {
    let client_sample = sample("work_order_client", None);
    let Some(text) = pdf_text(&render_builtin("work_order_supplier", None).pdf) else {
        return;
    };
    for expected in [
        "ЗАКАЗ-НАРЯД № 2026-000123-П1",
        "ИП Гусейнов Т. А.",
        "«Перевозчик»",
        "Марина (диспетчер ООО «Подряд»)",
        "г. Москва, ул. Подольских Курсантов, д. 17",
        "21 000,00 ₽ (Двадцать одна тысяча рублей 00 копеек)",
        "НДС не облагается",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    let client = &client_sample["client"];
    for secret in [
        client["name"].as_str().unwrap(),
        "СтройМонолит",
        client["inn"].as_str().unwrap(),
        client["phone"].as_str().unwrap(),
        client_sample["price"]["total_number"].as_str().unwrap(),
        client_sample["price"]["words"].as_str().unwrap(),
        // The client's people at the loading points.
        "Игорь Петрович",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked to the supplier");
    }
}

#[test]
fn the_broker_is_never_the_carrier_on_the_drivers_passenger_order() {
    let Some(text) = pdf_text(&render_builtin("work_order_supplier", Some("passengers")).pdf)
    else {
        return;
    };
    assert!(text.contains("ООО «Подряд», именуемое в дальнейшем «Фрахтователь»"));
    assert!(text.contains("ИП Гусейнов Т. А., именуемое(-ый) в дальнейшем «Фрахтовщик»"));
    assert!(text.contains("38"), "passenger count");
    assert!(text.contains("ВО456Р 750"));
    assert!(!text.contains("«Перевозчик»"));
}

#[test]
fn each_kind_carries_its_own_content() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "passengers",
            &[
                "«Фрахтователь»",
                "м. «Молодёжная»",
                "38",
                "ВО456Р 750",
                "Николай",
            ],
        ),
        (
            "materials",
            &[
                "Щебень гранитный",
                "120 т",
                "Карьер «Гранит-Н»",
                "6 рейсов по 20 т",
                "Е321КХ 750",
                "Двести девятнадцать тысяч шестьсот рублей 00 копеек",
            ],
        ),
        (
            "machinery",
            &[
                "Экскаватор гусеничный",
                "Объём ковша: 1,2 м³",
                "котлован корпуса 8",
                "2 смены по 11 часов",
                "Виктор",
                "к договору оказания услуг спецтехникой",
            ],
        ),
        (
            "agency",
            &[
                "«Принципал»",
                "«Агент»",
                "к агентскому договору",
                "Вознаграждение Агента составляет 3 660,00 ₽",
            ],
        ),
    ];
    for (variant, expected) in cases {
        let Some(text) = pdf_text(&render_builtin("work_order_client", Some(variant)).pdf) else {
            return;
        };
        for e in expected {
            assert!(text.contains(e), "{variant}: {e:?} missing in:\n{text}");
        }
    }
}

#[test]
fn contracts_read_like_contracts() {
    let Some(text) = pdf_text(&render_builtin("contract_cargo", None).pdf) else {
        return;
    };
    for expected in [
        "ДОГОВОР ТРАНСПОРТНОЙ ЭКСПЕДИЦИИ № ТЭ-2026/014",
        "1. ПРЕДМЕТ ДОГОВОРА",
        "1.1.",
        "от своего имени",
        "от имени которого на основании устава действует генеральный директор Соколов Андрей Викторович",
        "на основании доверенности № 17 от 09.01.2026 действует начальник отдела снабжения",
        "АДРЕСА, РЕКВИЗИТЫ И ПОДПИСИ СТОРОН",
        "БИК 044525225",
        "/ А. В. Соколов /",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    let Some(agency) = pdf_text(&render_builtin("contract_cargo", Some("agency")).pdf) else {
        return;
    };
    assert!(agency.contains("от имени Клиента"));
    assert!(agency.contains("ВОЗНАГРАЖДЕНИЕ И ПОРЯДОК РАСЧЁТОВ"));
    let Some(passengers) = pdf_text(&render_builtin("contract_passengers", None).pdf) else {
        return;
    };
    assert!(passengers.contains("Исполнитель не является перевозчиком или фрахтовщиком"));
    let Some(supplier) = pdf_text(&render_builtin("contract_supplier", None).pdf) else {
        return;
    };
    // An entrepreneur's name already says what it is.
    assert!(!supplier.contains("предприниматель Индивидуальный предприниматель"));
    assert!(supplier.contains("Индивидуальный предприниматель Гусейнов Тимур Асланович (ОГРНИП"));
    assert!(supplier.contains("именуемый в дальнейшем «Исполнитель»"));
    assert!(supplier.contains("перевозку грузов автомобильным транспортом"));
    assert!(!supplier.contains("заказные перевозки пассажиров"));
}

#[test]
fn data_is_text_not_markup() {
    let mut data = sample("work_order_client", None);
    data["client"]["short_name"] = json!("*Жирный* #emph[x] $y$ \\ ООО «Кавычки»");
    let r = render(
        &builtin::get("work_order_client").unwrap().template(),
        &data,
    )
    .expect("markup characters in data do not break the template");
    if let Some(text) = pdf_text(&r.pdf) {
        assert!(
            text.contains("*Жирный* #emph[x] $y$ \\ ООО «Кавычки»"),
            "{text}"
        );
    }
}

#[test]
fn a_broken_template_is_reported_with_its_position() {
    let source = "#let d = json(\"data.json\")\n= Заголовок\n\nКлиент: #d.client.name\nОшибка: #unknown_function(1)\n";
    let t = Template::new("broken", 3, source);
    let problems = check(&t, &json!({ "client": { "name": "АО «Тест»" } }));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.file, "broken.typ");
    assert_eq!(p.template, "broken");
    assert_eq!((p.line, p.column), (5, 10), "{p}");
    assert_eq!(p.severity, Severity::Error);
    assert!(p.message.contains("unknown variable"), "{}", p.message);
    assert!(p.to_string().starts_with("broken.typ:5:10: "), "{p}");

    // A syntax error.
    let t = Template::new("broken", 4, "Текст\n#let x = (1, 2\nещё");
    let problems = check(&t, &json!({}));
    assert!(!problems.is_empty());
    assert_eq!(problems[0].line, 2, "{}", problems[0]);

    // Data without a field the template needs: the template's line.
    let t = Template::new(
        "broken",
        5,
        "#let d = json(\"data.json\")\n\n#d.client.name",
    );
    let problems = check(&t, &json!({ "client": {} }));
    assert_eq!(problems.len(), 1);
    // The column of the missing field's name.
    assert_eq!(
        (problems[0].line, problems[0].column),
        (3, 11),
        "{}",
        problems[0]
    );
    assert!(problems[0].message.contains("name"), "{}", problems[0]);
}

#[test]
fn a_broken_template_does_not_stop_the_others() {
    let broken = Template::new("work_order_client", 9, "#let x = \n#oops");
    assert!(!check(&broken, &sample("work_order_client", None)).is_empty());
    // The shared caches are fine afterwards: the good version still renders.
    render_builtin("work_order_client", None);
    render_builtin("work_order_supplier", None);
}

#[test]
fn templates_reach_no_files() {
    for path in [
        "/etc/passwd",
        "../Cargo.toml",
        "fonts/PTSerif-Regular.ttf",
        "lib.rs",
    ] {
        let t = Template::new("probe", 1, format!("#read(\"{path}\")"));
        let problems = check(&t, &json!({}));
        assert_eq!(problems.len(), 1, "{path}: {problems:?}");
        assert!(
            ["not found", "access", "escape"]
                .iter()
                .any(|m| problems[0].message.contains(m)),
            "{path}: {}",
            problems[0]
        );
    }
    // Packages are not downloaded.
    let t = Template::new("probe", 1, "#import \"@preview/tablex:0.0.8\": *");
    assert!(!check(&t, &json!({})).is_empty());
    // The shared module and the data are reachable.
    let t = Template::new(
        "probe",
        1,
        "#import \"common.typ\": opt\n#opt(json(\"data.json\"), \"a\")",
    );
    assert!(check(&t, &json!({ "a": "b" })).is_empty());
}

#[test]
fn a_problem_in_common_names_the_template_line_too() {
    // `amount` needs `total` and `words`; the error is inside common.typ.
    let t = Template::new(
        "probe",
        1,
        "#import \"common.typ\": *\n\n#amount((total: \"1 ₽\"))",
    );
    let problems = check(&t, &json!({}));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, COMMON_FILE);
    assert!(
        problems[0].hints.iter().any(|h| h.contains("probe.typ:3:")),
        "{:?}",
        problems[0]
    );
}

#[test]
fn warm_renders_are_fast() {
    // A loose bound that still catches a cache that never warms (a cold
    // render takes several times longer); `podryad bench documents`
    // measures properly.
    render_builtin("work_order_client", None);
    let start = std::time::Instant::now();
    for _ in 0..5 {
        render_builtin("work_order_client", None);
    }
    let each = start.elapsed() / 5;
    assert!(each < std::time::Duration::from_secs(2), "{each:?}");
}

#[test]
fn a_signed_copy_keeps_the_original_pages_and_adds_the_signature_page() {
    let original = render_builtin("work_order_supplier", None);
    let mut data = sample("signature_page", None);
    data["original_pages"] = json!(original.pages);
    data["document"]["sha256"] = json!(original.sha256);
    data["qr_svg"] = json!(crate::qr_svg("https://podryad.example/verify?sha256=0").expect("qr"));
    let page = builtin::get("signature_page").expect("built-in").template();
    let signed = crate::render_with(
        &page,
        &data,
        vec![("/original.pdf".into(), original.pdf.clone())],
    )
    .expect("renders");
    assert_eq!(signed.pages, original.pages + 1);
    assert_ne!(signed.sha256, original.sha256);
    // Without the original handed in, the template cannot read one.
    assert!(render(&page, &data).is_err());
    if let Some(text) = pdf_text(&signed.pdf) {
        assert!(text.contains("Заказ-наряд"), "{text}");
        assert!(text.contains("Лист подписания"), "{text}");
        assert!(text.contains("Громов Сергей Петрович"), "{text}");
    }
}

#[test]
fn a_qr_code_is_an_svg_image() {
    let svg = crate::qr_svg("https://podryad.example/verify?sha256=abc").expect("qr");
    assert!(svg.contains("<svg"), "{svg}");
}
