//! Signing in as every demo role, on a desktop and on a phone.

use crate::driver::{DemoApp, Driver, browser_available, click, fill, submit, text_of, wait_path};

#[tokio::test]
async fn every_demo_role_signs_in_with_one_click_and_sees_its_home() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(1280, 900).await;
    for account in podryad::demo::accounts() {
        b.goto(&app.url("/login"))
            .await
            .expect("open the sign-in page");
        let button = format!(
            "form:has(input[value=\"{}\"]) button.demo-account",
            account.email
        );
        click(&b, &button).await;
        wait_path(&b, "/home").await;
        let heading = text_of(&b, "main h1").await;
        assert!(
            heading.contains(account.full_name),
            "{}: {heading}",
            account.email
        );
        let who = text_of(&b, ".who-name").await;
        assert_eq!(who, account.full_name);
        submit(&b, ".who button[type=submit]").await;
        wait_path(&b, "/login").await;
    }
    b.close().await.ok();
    app.stop().await;
}

#[tokio::test]
async fn sign_in_by_typing_on_a_phone_and_use_the_menu() {
    if !browser_available() {
        return;
    }
    let app = DemoApp::start().await;
    let driver = Driver::start().await;
    let b = driver.browser(390, 844).await;
    b.goto(&app.url("/login")).await.expect("open");
    fill(&b, "#f-login", "admin@podryad.test").await;
    fill(&b, "#f-password", "wrong-password").await;
    submit(&b, "form[action='/login'] button.primary").await;
    let alert = text_of(&b, ".alert").await;
    assert!(alert.contains("Неверный логин или пароль"), "{alert}");
    // The login stays typed in.
    let kept = b
        .find(fantoccini::Locator::Css("#f-login"))
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("admin@podryad.test"));
    fill(&b, "#f-password", podryad::demo::DEMO_PASSWORD).await;
    submit(&b, "form[action='/login'] button.primary").await;
    wait_path(&b, "/home").await;

    // On a phone the navigation hides behind the menu button.
    let nav = b
        .find(fantoccini::Locator::Css("#sidenav"))
        .await
        .expect("nav");
    assert!(
        !nav.is_displayed().await.expect("visible?"),
        "menu starts closed"
    );
    click(&b, "[data-toggle-nav]").await;
    assert!(nav.is_displayed().await.expect("visible?"), "menu opens");
    submit(&b, "#sidenav a[href='/admin/users']").await;
    wait_path(&b, "/admin/users").await;
    assert!(text_of(&b, "main h1").await.contains("Сотрудники"));
    b.close().await.ok();
    app.stop().await;
}
