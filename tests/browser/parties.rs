//! A supplier registers through the real page, fixing a typo the server
//! points out, and sees its application waiting for confirmation.

use fantoccini::Locator;

use crate::driver::{DemoApp, Driver, browser_available, click, fill, submit, text_of};

#[tokio::test]
async fn a_supplier_registers_through_the_form() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(1280, 1000).await;
    b.goto(&app.url("/register/supplier")).await.expect("open");
    let fields = [
        ("#f-inn", "7712345672"), // one digit off: the checksum fails
        (
            "#f-name",
            "Общество с ограниченной ответственностью «Кран-Сервис»",
        ),
        ("#f-kpp", "771201001"),
        ("#f-ogrn", "1197712345676"),
        ("#f-legal_address", "г. Москва, ул. Строителей, д. 1"),
        ("#f-bik", "044525225"),
        ("#f-bank_name", "ПАО Сбербанк"),
        ("#f-settlement_account", "40702810200000012345"),
        ("#f-corr_account", "30101810400000000225"),
        ("#f-phone", "+7 903 111-22-33"),
        ("#f-email", "kran@example.test"),
        ("#f-person_name", "Пётр Краснов"),
        ("#f-password", "kran-servis-1"),
        ("#f-confirm", "kran-servis-1"),
    ];
    for (css, value) in fields {
        fill(&b, css, value).await;
    }
    b.find(Locator::Css("#f-vat_mode"))
        .await
        .expect("vat")
        .select_by_value("vat22")
        .await
        .expect("select");
    click(&b, "input[name=consent]").await;
    submit(&b, "form button.primary").await;
    let error = text_of(&b, "#e-inn").await;
    assert!(error.contains("контрольная сумма"), "{error}");
    // What was typed is still there; only the INN needs fixing.
    let kept = b
        .find(Locator::Css("#f-name"))
        .await
        .expect("name")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(
        kept.as_deref(),
        Some("Общество с ограниченной ответственностью «Кран-Сервис»")
    );
    fill(&b, "#f-inn", "7712345671").await;
    fill(&b, "#f-password", "kran-servis-1").await;
    fill(&b, "#f-confirm", "kran-servis-1").await;
    submit(&b, "form button.primary").await;
    let heading = text_of(&b, "main h1").await;
    assert!(heading.contains("Почти готово"), "{heading}");
    b.close().await.ok();
    app.stop().await;
}
