//! Signing (issue 13, points 1, 2, 3 and 7), through HTTP: both legs of an
//! order signed with the built-in simple e-signature (codes read from the
//! outbox), countersigned by a staff member with the authority, the order
//! «Оформлен», each party's signed PDF (signers and hash on its last page)
//! and the public verification page; wrong, expired and reused codes and
//! code requests past the rate limit refused next to the field; a
//! rejection and a corrected version in a new envelope; another party's
//! envelope not found; and an EDO operator's event applied once.

use chrono::Duration;
use domain::signing::edo::{Applied, InboundEvent, InboundKind, apply_event, record_posted};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::{Browser, TestApp, location};
use crate::quotes::{login, org_id, services};

const CLIENT: &str = "ООО «Северный бетон»";
const CLIENT_LOGIN: &str = "client@sevbeton.test";
const SUPPLIER_OWNER: &str = "owner@gruzavto.test";
pub(crate) const MANAGER: &str = "manager@podryad.test";

/// The demo's order waiting for signatures (both contracts in force).
pub(crate) async fn order_ready_for_signing(app: &TestApp) -> i64 {
    let s = services(app);
    podryad::demo::seed_deals(s).await.expect("deals");
    podryad::demo::seed_orders(s).await.expect("orders");
    for _ in 0..5 {
        app.run_due().await;
    }
    // Past the code rate limit of anyone the demo had sign.
    app.clock.advance(Duration::seconds(61));
    sqlx::query_scalar(
        "SELECT o.id FROM orders o JOIN organisations c ON c.id = o.client_org_id \
         WHERE o.status = 'ready_for_signing' AND c.name = $1 ORDER BY o.id LIMIT 1",
    )
    .bind(CLIENT)
    .fetch_one(app.db().pool())
    .await
    .expect("an order ready for signing")
}

/// `(envelope, part, party, status)` of an order's envelopes, client first.
async fn envelopes(app: &TestApp, order: i64) -> Vec<(i64, String, i64, String)> {
    sqlx::query_as(
        "SELECT id, owner_part, party_org_id, status FROM envelopes WHERE owner_kind = 'order' AND owner_id = $1 \
         ORDER BY CASE WHEN owner_part = 'client' THEN 0 ELSE 1 END, id",
    )
    .bind(order)
    .fetch_all(app.db().pool())
    .await
    .expect("envelopes")
}

/// The order's work orders, sent for signing by its workflow on entering
/// "ready for signing": one envelope per leg, to the leg's party.
async fn sent_for_signing(app: &TestApp, order: i64) -> (i64, i64) {
    let list = envelopes(app, order).await;
    assert_eq!(list.len(), 2, "one envelope per leg: {list:?}");
    assert!(list.iter().all(|e| e.3 == "sent"), "{list:?}");
    assert_eq!(list[0].1, "client");
    assert_eq!(list[0].2, org_id(app, CLIENT).await);
    // Sending again (the staff's button) sends nothing new.
    let manager = login(app, MANAGER).await;
    let r = manager
        .post_form(&format!("/orders/{order}/send-for-signing"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(envelopes(app, order).await.len(), 2);
    (list[0].0, list[1].0)
}

/// The last code sent to `recipient` (read from the outbox).
async fn last_code(app: &TestApp, recipient: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = $1 AND subject LIKE 'Код подписи%' ORDER BY id DESC LIMIT 1",
    )
    .bind(recipient)
    .fetch_one(app.db().pool())
    .await
    .expect("a code in the outbox");
    let re = regex::Regex::new(r": (\d{6})\.").expect("regex");
    re.captures(&body).expect("six digits")[1].to_string()
}

/// How many signing codes the client's signer has been sent.
async fn codes_sent(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND subject LIKE 'Код подписи%'",
    )
    .bind(CLIENT_LOGIN)
    .fetch_one(app.db().pool())
    .await
    .expect("outbox")
}

pub(crate) async fn status_of(app: &TestApp, envelope: i64) -> String {
    sqlx::query_scalar("SELECT status FROM envelopes WHERE id = $1")
        .bind(envelope)
        .fetch_one(app.db().pool())
        .await
        .expect("envelope")
}

pub(crate) async fn order_status(app: &TestApp, order: i64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(app.db().pool())
        .await
        .expect("order")
}

async fn sign_form(b: &Browser, envelope: i64, code: &str) -> reqwest::Response {
    b.post_form(
        &format!("/signing/{envelope}/sign"),
        &[
            ("code", code),
            ("position", "Генеральный директор"),
            ("basis", "power_of_attorney"),
            ("poa_number", "17"),
            ("poa_date", "2026-01-10"),
        ],
    )
    .await
}

/// A party accepts the agreement and signs its envelope with a code sent
/// to `email`, after a minute's wait for the rate limit.
pub(crate) async fn party_signs(app: &TestApp, b: &Browser, envelope: i64, email: &str) {
    let r = b
        .post_form(&format!("/signing/{envelope}/agreement"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.clock.advance(Duration::seconds(61));
    let r = b
        .post_form(&format!("/signing/{envelope}/code"), &[("via", "email")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let code = last_code(app, email).await;
    let r = sign_form(b, envelope, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(status_of(app, envelope).await, "signed_by_party");
}

/// Staff move an envelope to `channel` with the party's box (the envelope
/// page's form).
pub(crate) async fn move_envelope(
    b: &Browser,
    envelope: i64,
    channel: &str,
    edo_box: &str,
) -> reqwest::Response {
    b.post_form(
        &format!("/signing/{envelope}/channel"),
        &[("channel", channel), ("edo_box_id", edo_box)],
    )
    .await
}

/// The open task `key` of an order: `(id, title)`.
pub(crate) async fn open_task(app: &TestApp, order: i64, key: &str) -> (i64, String) {
    sqlx::query_as(
        "SELECT t.id, t.title FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id \
         WHERE i.object_kind = 'order' AND i.object_id = $1 AND t.task_key = $2 AND t.status = 'open'",
    )
    .bind(order)
    .bind(key)
    .fetch_one(app.db().pool())
    .await
    .expect("an open task for the manager")
}

/// The admin gives the demo manager the right to countersign.
pub(crate) async fn give_countersign_right(app: &TestApp) {
    let admin = login(app, "admin@podryad.test").await;
    let r = admin
        .post_form(
            "/signing/authority",
            &[
                ("user_id", &manager_id(app).await.to_string()),
                ("allowed", "1"),
                ("position", "Коммерческий директор"),
                ("basis", "Доверенность № 3 от 12.01.2026"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn manager_id(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(MANAGER)
        .fetch_one(app.db().pool())
        .await
        .expect("manager")
}

async fn post_file(b: &Browser, path: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let token = b.csrf().await;
    let form = Form::new().part(
        "file",
        Part::bytes(bytes)
            .file_name("document.pdf")
            .mime_str("application/pdf")
            .expect("mime"),
    );
    let r = b
        .http
        .post(b.url(&format!("{path}?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

/// The text of a PDF's last page, when pdftotext is installed.
fn last_page_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, pdf).ok()?;
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Some(
        text.rsplit('\u{c}')
            .find(|p| !p.trim().is_empty())?
            .to_string(),
    )
}

#[tokio::test]
async fn both_legs_signed_with_codes_then_countersigned_make_the_order_signed() {
    let app = TestApp::spawn_demo().await;
    let order = order_ready_for_signing(&app).await;
    let (client_env, supplier_env) = sent_for_signing(&app, order).await;
    // Each party's signers were told, with the link.
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND body LIKE $2",
    )
    .bind(CLIENT_LOGIN)
    .bind(format!("%/signing/{client_env}%"))
    .fetch_one(app.db().pool())
    .await
    .expect("outbox");
    assert_eq!(told, 1);

    // The client: its documents to sign, the PDF.
    let client = login(&app, CLIENT_LOGIN).await;
    let (status, page) = client.get_text("/signing").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("/signing/{client_env}")), "{page}");
    assert!(
        !page.contains(&format!("/signing/{supplier_env}")),
        "{page}"
    );
    let (status, _) = client.get_text(&format!("/signing/{client_env}")).await;
    assert_eq!(status, StatusCode::OK);
    let r = client
        .get(&format!("/signing/{client_env}/document.pdf"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.expect("pdf").starts_with(b"%PDF"));

    // Another party's envelope is not found, both ways.
    let supplier = login(&app, SUPPLIER_OWNER).await;
    for (who, env) in [(&client, supplier_env), (&supplier, client_env)] {
        for path in [
            format!("/signing/{env}"),
            format!("/signing/{env}/document.pdf"),
        ] {
            assert_eq!(
                who.get(&path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let r = who
            .post_form(&format!("/signing/{env}/agreement"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    // The supplier has not accepted the agreement: the page offers it
    // first, and no code is sent before it.
    let (_, page) = supplier.get_text(&format!("/signing/{supplier_env}")).await;
    assert!(page.contains("Принимаю соглашение"), "{page}");
    let r = supplier
        .post_form(
            &format!("/signing/{supplier_env}/code"),
            &[("via", "email")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Сначала примите соглашение")
    );

    // The client accepts it (once per counterparty; again changes nothing),
    // and who, which version, from where is kept.
    for _ in 0..2 {
        let r = client
            .post_form(&format!("/signing/{client_env}/agreement"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let kept: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT version, ip FROM esign_agreements WHERE org_id = $1")
            .bind(org_id(&app, CLIENT).await)
            .fetch_all(app.db().pool())
            .await
            .expect("agreement");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, domain::signing::pep::AGREEMENT_VERSION);

    // A code: the wrong one, then a second request within the minute.
    let r = client
        .post_form(&format!("/signing/{client_env}/code"), &[("via", "email")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("page").contains("Код отправлен"));
    let code = last_code(&app, CLIENT_LOGIN).await;
    let stored: String =
        sqlx::query_scalar("SELECT code_hash FROM signing_codes ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().pool())
            .await
            .expect("code row");
    assert!(!stored.contains(&code), "only a hash is stored");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = sign_form(&client, client_env, wrong).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("page");
    assert!(page.contains("Неверный код."), "{page}");
    // What was typed stays, the code does not.
    assert!(page.contains("value=\"17\""), "{page}");
    let r = client
        .post_form(&format!("/signing/{client_env}/code"), &[("via", "email")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("не чаще раза в минуту")
    );
    // The code expires after ten minutes.
    app.clock.advance(Duration::minutes(11));
    let r = sign_form(&client, client_env, &code).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Срок действия кода истёк")
    );
    // A fresh code signs; entering it again is refused as used.
    let r = client
        .post_form(&format!("/signing/{client_env}/code"), &[("via", "email")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let code = last_code(&app, CLIENT_LOGIN).await;
    let r = sign_form(&client, client_env, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(status_of(&app, client_env).await, "signed_by_party");
    let r = sign_form(&client, client_env, &code).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("page").contains("уже использован"));
    // The evidence kept with the signature.
    let (sha, doc_sha, basis, code_hash, ip): (String, String, String, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT g.document_sha256, d.sha256, g.basis, g.code_hash, g.ip FROM signatures g \
             JOIN envelopes e ON e.id = g.envelope_id JOIN rendered_documents d ON d.id = e.document_id \
             WHERE g.envelope_id = $1 AND g.side = 'party'",
        )
        .bind(client_env)
        .fetch_one(app.db().pool())
        .await
        .expect("signature");
    assert_eq!(sha, doc_sha);
    assert_eq!(basis, "Доверенность № 17 от 2026-01-10");
    assert!(code_hash.is_some_and(|h| !h.contains(&code)));
    assert!(ip.is_some());

    // The supplier's owner signs its own work order.
    party_signs(&app, &supplier, supplier_env, SUPPLIER_OWNER).await;
    assert_eq!(order_status(&app, order).await, "ready_for_signing");

    // Countersigning needs the authority an admin gives (the demo gave the
    // manager one; the admin takes it away first).
    let manager = login(&app, MANAGER).await;
    let manager_id = manager_id(&app).await;
    let admin = login(&app, "admin@podryad.test").await;
    let r = admin
        .post_form(
            "/signing/authority",
            &[
                ("user_id", &manager_id.to_string()),
                ("position", ""),
                ("basis", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = manager
        .post_form(&format!("/signing/{client_env}/countersign"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin
        .post_form(
            "/signing/authority",
            &[
                ("user_id", &manager_id.to_string()),
                ("allowed", "1"),
                ("position", "Коммерческий директор"),
                ("basis", ""),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "basis required"
    );
    give_countersign_right(&app).await;
    // The order page shows both envelopes to the staff, its own to each party.
    let (_, page) = manager.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/signing/{client_env}"))
            && page.contains(&format!("/signing/{supplier_env}"))
    );
    let (_, page) = client.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/signing/{client_env}"))
            && !page.contains(&format!("/signing/{supplier_env}"))
    );
    for env in [client_env, supplier_env] {
        let r = manager
            .post_form(&format!("/signing/{env}/countersign"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
        assert_eq!(status_of(&app, env).await, "countersigned");
    }
    for _ in 0..3 {
        app.run_due().await;
    }
    assert_eq!(order_status(&app, order).await, "signed");
    let (_, page) = manager.get_text(&format!("/orders/{order}")).await;
    assert!(page.contains("Оформлен"), "{page}");
    // Each party was sent the link to its signed copy.
    let done: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND subject LIKE '%подписан обеими сторонами%' \
         AND body LIKE $2",
    )
    .bind(CLIENT_LOGIN)
    .bind(format!("%/signing/{client_env}%"))
    .fetch_one(app.db().pool())
    .await
    .expect("outbox");
    assert_eq!(done, 1);

    // Each party downloads its signed copy; the other's is not found.
    assert_eq!(
        supplier
            .get(&format!("/signing/{client_env}/signed.pdf"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = client
        .get(&format!("/signing/{client_env}/signed.pdf"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let signed = r.bytes().await.expect("pdf").to_vec();
    assert!(signed.starts_with(b"%PDF"));
    let r = supplier
        .get(&format!("/signing/{supplier_env}/signed.pdf"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (signed_sha, original_sha): (String, String) = sqlx::query_as(
        "SELECT e.signed_sha256, d.sha256 FROM envelopes e JOIN rendered_documents d ON d.id = e.document_id WHERE e.id = $1",
    )
    .bind(client_env)
    .fetch_one(app.db().pool())
    .await
    .expect("hashes");
    {
        use sha2::Digest;
        assert_eq!(hex::encode(sha2::Sha256::digest(&signed)), signed_sha);
    }
    if let Some(text) = last_page_text(&signed) {
        let flat: String = text.split_whitespace().collect();
        assert!(text.contains("Лист подписания"), "{text}");
        assert!(flat.contains(&original_sha), "the original's hash: {text}");
        let client_user: String =
            sqlx::query_scalar("SELECT full_name FROM users WHERE email = $1")
                .bind(CLIENT_LOGIN)
                .fetch_one(app.db().pool())
                .await
                .expect("name");
        let manager_name: String = sqlx::query_scalar("SELECT full_name FROM users WHERE id = $1")
            .bind(manager_id)
            .fetch_one(app.db().pool())
            .await
            .expect("name");
        let flat_text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat_text.contains(&client_user), "{text}");
        assert!(flat_text.contains(&manager_name), "{text}");
        assert!(
            flat_text.contains("Доверенность № 3 от 12.01.2026"),
            "{text}"
        );
    }

    // The public verification page: the signed copy is confirmed, an
    // altered one is not found; the QR code's link (the original's hash)
    // answers too.
    let anyone = app.client();
    let (status, page) = post_file(&anyone, "/verify", signed.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Документ найден") && page.contains("Коммерческий директор"),
        "{page}"
    );
    let mut altered = signed.clone();
    altered.extend_from_slice(b"\n% changed\n");
    let (status, page) = post_file(&anyone, "/verify", altered).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Документ не найден или изменён"), "{page}");
    let (status, page) = anyone
        .get_text(&format!("/verify?sha256={original_sha}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("оригинал документа"), "{page}");
    let (status, _) = anyone.get_text("/verify?sha256=xyz").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_work_order_is_corrected_and_sent_again_in_a_new_envelope() {
    let app = TestApp::spawn_demo().await;
    let order = order_ready_for_signing(&app).await;
    let (client_env, _) = sent_for_signing(&app, order).await;
    let client = login(&app, CLIENT_LOGIN).await;
    let r = client
        .post_form(&format!("/signing/{client_env}/reject"), &[("reason", "")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = client
        .post_form(
            &format!("/signing/{client_env}/reject"),
            &[("reason", "Неверный адрес погрузки")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&app, client_env).await, "rejected");
    // The manager has a task with the reason.
    let (_, title) = open_task(&app, order, "fix_rejected").await;
    assert!(title.contains("отказался подписать"), "{title}");
    // A party cannot issue a corrected version; the manager does.
    let r = client
        .post_form(&format!("/signing/{client_env}/reissue"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let manager = login(&app, MANAGER).await;
    let r = manager
        .post_form(&format!("/signing/{client_env}/reissue"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let new_env: i64 = location(&r)
        .trim_start_matches("/signing/")
        .parse()
        .expect("the new envelope's page");
    assert_ne!(new_env, client_env);
    assert_eq!(status_of(&app, client_env).await, "superseded");
    assert_eq!(status_of(&app, new_env).await, "sent");
    let (old_version, new_version, old_sha, new_sha): (i64, i64, String, String) = sqlx::query_as(
        "SELECT a.version, b.version, a.sha256, b.sha256 FROM envelopes x JOIN rendered_documents a ON a.id = x.document_id, \
         envelopes y JOIN rendered_documents b ON b.id = y.document_id WHERE x.id = $1 AND y.id = $2",
    )
    .bind(client_env)
    .bind(new_env)
    .fetch_one(app.db().pool())
    .await
    .expect("versions");
    assert_eq!(new_version, old_version + 1);
    assert_ne!(new_sha, old_sha);
    for _ in 0..3 {
        app.run_due().await;
    }
    assert_eq!(order_status(&app, order).await, "ready_for_signing");
    // The client's list shows the new version, not the replaced one.
    let (_, page) = client.get_text("/signing").await;
    assert!(
        page.contains(&format!("/signing/{new_env}"))
            && !page.contains(&format!("/signing/{client_env}\"")),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn sending_codes_is_rate_limited_per_signer() {
    let app = TestApp::spawn_demo().await;
    let order = order_ready_for_signing(&app).await;
    let (client_env, _) = sent_for_signing(&app, order).await;
    let client = login(&app, CLIENT_LOGIN).await;
    let r = client
        .post_form(&format!("/signing/{client_env}/agreement"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // An hour after the demo's own signing.
    app.clock.advance(Duration::hours(1));
    let before = codes_sent(&app).await;
    // Five an hour, a minute apart; the sixth within the hour is refused.
    for i in 0..5 {
        let r = client
            .post_form(&format!("/signing/{client_env}/code"), &[("via", "email")])
            .await;
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
        app.clock.advance(Duration::seconds(61));
    }
    let r = client
        .post_form(&format!("/signing/{client_env}/code"), &[("via", "email")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // An earlier code is void once a newer one was sent.
    let codes: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, expires_at FROM signing_codes WHERE envelope_id = $1 ORDER BY id",
    )
    .bind(client_env)
    .fetch_all(app.db().pool())
    .await
    .expect("codes");
    assert_eq!(codes.len(), 5);
    assert_eq!(codes_sent(&app).await - before, 5);
    app.clock.advance(Duration::hours(1));
    let r = client
        .post_form(&format!("/signing/{client_env}/code"), &[("via", "email")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn an_edo_operators_event_is_applied_once() {
    let app = TestApp::spawn_demo().await;
    let order = order_ready_for_signing(&app).await;
    let (client_env, supplier_env) = sent_for_signing(&app, order).await;
    // Staff move the supplier's envelope to Diadoc (a box is required).
    let manager = login(&app, MANAGER).await;
    let r = move_envelope(&manager, supplier_env, "diadoc", "").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = manager
        .post_form(
            &format!("/signing/{supplier_env}/channel"),
            &[
                ("channel", "diadoc"),
                ("edo_box_id", "box-gruzavto@diadoc"),
                ("remember", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let s = services(&app);
    let out = domain::signing::edo::outgoing(s, supplier_env)
        .await
        .expect("to post");
    assert_eq!(out.to_box, "box-gruzavto@diadoc");
    assert!(
        out.idempotency_key
            .starts_with(&format!("podryad-envelope-{supplier_env}-")),
        "{}",
        out.idempotency_key
    );
    assert!(out.pdf.starts_with(b"%PDF"));
    assert!(domain::signing::edo::outgoing(s, client_env).await.is_err());
    record_posted(s, supplier_env, "msg-1", "doc-1")
        .await
        .expect("posted");
    let event = InboundEvent {
        provider: "diadoc".into(),
        event_id: "evt-1".into(),
        message_id: "msg-1".into(),
        document_id: Some("doc-1".into()),
        kind: InboundKind::RecipientSigned,
    };
    assert_eq!(
        apply_event(s, &event).await.expect("applied"),
        Applied::New(Some(supplier_env))
    );
    assert_eq!(
        apply_event(s, &event).await.expect("again"),
        Applied::Duplicate
    );
    assert_eq!(status_of(&app, supplier_env).await, "signed_by_party");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM edo_inbound_events")
        .fetch_one(app.db().pool())
        .await
        .expect("ingress");
    assert_eq!(stored, 1);
    let heard: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id \
         WHERE i.object_kind = 'order' AND i.object_id = $1 AND h.trigger_name = 'envelope.party_signed'",
    )
    .bind(order)
    .fetch_one(app.db().pool())
    .await
    .expect("history");
    assert_eq!(heard, 1, "the workflow heard the event once");
    // A later rejection of an envelope already signed changes nothing.
    let late = InboundEvent {
        event_id: "evt-2".into(),
        kind: InboundKind::RecipientRejected {
            reason: "поздно".into(),
        },
        ..event.clone()
    };
    assert_eq!(
        apply_event(s, &late).await.expect("applied"),
        Applied::New(Some(supplier_env))
    );
    assert_eq!(status_of(&app, supplier_env).await, "signed_by_party");
    // The counterparty's default is now Diadoc.
    let channel: String = sqlx::query_scalar(
        "SELECT signing_channel FROM organisations WHERE id = (SELECT party_org_id FROM envelopes WHERE id = $1)",
    )
    .bind(supplier_env)
    .fetch_one(app.db().pool())
    .await
    .expect("org");
    assert_eq!(channel, "diadoc");
    app.stop().await;
}

#[tokio::test]
async fn the_demo_has_an_order_signed_end_to_end_and_one_waiting_for_the_client() {
    let app = TestApp::spawn_demo().await;
    let waiting = order_ready_for_signing(&app).await;
    let signed: i64 = sqlx::query_scalar("SELECT id FROM orders WHERE status = 'signed'")
        .fetch_one(app.db().pool())
        .await
        .expect("a signed demo order");
    let both: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT e.id, e.status, e.channel FROM envelopes e WHERE e.owner_kind = 'order' AND e.owner_id = $1 ORDER BY e.id",
    )
    .bind(signed)
    .fetch_all(app.db().pool())
    .await
    .expect("envelopes");
    assert_eq!(both.len(), 2);
    assert!(
        both.iter()
            .all(|(_, st, ch)| st == "countersigned" && ch == "pep"),
        "{both:?}"
    );
    let signatures: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM signatures g JOIN envelopes e ON e.id = g.envelope_id WHERE e.owner_id = $1",
    )
    .bind(signed)
    .fetch_one(app.db().pool())
    .await
    .expect("signatures");
    assert_eq!(signatures, 4, "each party and we, on each leg");
    // The client downloads its signed copy from its cabinet.
    let client = login(&app, CLIENT_LOGIN).await;
    let (_, page) = client.get_text(&format!("/orders/{signed}")).await;
    assert!(
        page.contains("Оформлен") && page.contains("signed.pdf"),
        "{page}"
    );
    let mine = both
        .iter()
        .map(|b| b.0)
        .find(|id| page.contains(&format!("/signing/{id}/signed.pdf")))
        .expect("the client's envelope");
    let r = client.get(&format!("/signing/{mine}/signed.pdf")).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The other order waits for the client's signature.
    let (_, list) = client.get_text("/signing").await;
    let (client_env, _) = {
        let l = envelopes(&app, waiting).await;
        (l[0].0, l[1].0)
    };
    assert!(list.contains(&format!("/signing/{client_env}")), "{list}");
    assert_eq!(status_of(&app, client_env).await, "sent");
    app.stop().await;
}
