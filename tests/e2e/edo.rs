//! Signing through EDO operators (issue 13, points 4–7) against the fake
//! Diadoc and the fake SBIS: an order's client leg goes through Diadoc (the
//! manager moves its envelope there) and its supplier leg through SBIS (the
//! supplier's default channel); each is posted once by the workflow's
//! external action, the counterparties sign at their operators, the
//! operators' feeds are read from stored cursors, our side is finished with
//! the operators' signed copies, and the order is «Оформлен». A feed that
//! repeats its events, or a late answer, changes nothing; a rejection at an
//! operator makes the manager's task, and the corrected version is posted
//! as a new document.

use std::time::Duration;

use connectors::{Connectors, ConnectorsConfig};
use fakes::{FakeDiadoc, FakeSbis};
use reqwest::StatusCode;

use crate::helpers::{TestApp, location};
use crate::quotes::{login, services};
use crate::signing::{
    MANAGER, move_envelope, open_task, order_ready_for_signing, order_status, status_of,
};

const DIADOC_CLIENT: &str = "podryad-app";
const DIADOC_SECRET: &str = "app-secret";
const OUR_DIADOC_BOX: &str = "podryad@diadoc.ru";
const SBIS_LOGIN: &str = "podryad";
const SBIS_PASSWORD: &str = "sbis-secret";
const OUR_INN: &str = "7707083893/773601001";
const CLIENT_BOX: &str = "sevbeton@diadoc.ru";
const SUPPLIER: &str = "ООО «ГрузАвто»";
const SUPPLIER_INN: &str = "7729876543";

struct Operators {
    diadoc: FakeDiadoc,
    sbis: FakeSbis,
}

/// The demo application with both operators configured against their
/// fakes (signing with the operators' test signature, in test mode), and
/// ГрузАвто signing through SBIS by default.
async fn app_with_operators() -> (TestApp, Operators) {
    let diadoc = FakeDiadoc::start(DIADOC_CLIENT, DIADOC_SECRET, OUR_DIADOC_BOX)
        .await
        .expect("fake Diadoc");
    let sbis = FakeSbis::start(SBIS_LOGIN, SBIS_PASSWORD)
        .await
        .expect("fake SBIS");
    let mut d = diadoc.config(DIADOC_CLIENT, DIADOC_SECRET);
    d.test_signature = true;
    d.timeout = Duration::from_secs(5);
    let mut b = sbis.config(SBIS_LOGIN, SBIS_PASSWORD, OUR_INN);
    b.test_signature = true;
    b.timeout = Duration::from_secs(5);
    let config = ConnectorsConfig {
        edo_test_mode: true,
        diadoc: Some(d),
        sbis: Some(b),
        ..Default::default()
    };
    let app =
        TestApp::spawn_demo_with_connectors(Connectors::from_config(&config).expect("connectors"))
            .await;
    let mut tx = app.db().begin().await.expect("tx");
    sqlx::query(
        "UPDATE organisations SET signing_channel = 'sbis', edo_box_id = $1 WHERE name = $2",
    )
    .bind(SUPPLIER_INN)
    .bind(SUPPLIER)
    .execute(&mut *tx)
    .await
    .expect("the supplier signs through SBIS");
    tx.commit().await.expect("commit");
    (app, Operators { diadoc, sbis })
}

/// `(client envelope, supplier envelope)` of an order, the open ones.
async fn legs(app: &TestApp, order: i64) -> (i64, i64) {
    let list: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, owner_part FROM envelopes WHERE owner_kind = 'order' AND owner_id = $1 \
         AND status <> 'superseded' ORDER BY id",
    )
    .bind(order)
    .fetch_all(app.db().pool())
    .await
    .expect("envelopes");
    let of = |part: &str| {
        list.iter()
            .find(|(_, p)| p.split(':').next() == Some(part))
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("no {part} envelope: {list:?}"))
    };
    (of("client"), of("supplier"))
}

/// The demo's order ready for signing, its supplier's leg posted to SBIS:
/// `(order, client envelope, supplier envelope, SBIS document id)`.
async fn posted_to_sbis(app: &TestApp) -> (i64, i64, i64, String) {
    let order = order_ready_for_signing(app).await;
    let (client_env, supplier_env) = legs(app, order).await;
    let sbis_id = message_id(app, supplier_env).await.expect("posted to SBIS");
    (order, client_env, supplier_env, sbis_id)
}

/// The operator's message id of an envelope, once posted.
async fn message_id(app: &TestApp, envelope: i64) -> Option<String> {
    sqlx::query_scalar("SELECT edo_message_id FROM envelopes WHERE id = $1")
        .bind(envelope)
        .fetch_one(app.db().pool())
        .await
        .expect("envelope")
}

/// Reads the operators' feeds once, then runs what the events started.
async fn poll(app: &TestApp) -> domain::signing::edo::Polled {
    let polled = domain::signing::edo::poll(services(app))
        .await
        .expect("the feeds are read");
    for _ in 0..3 {
        app.run_due().await;
    }
    polled
}

async fn count(app: &TestApp, sql: &'static str, order: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(order)
        .fetch_one(app.db().pool())
        .await
        .expect("count")
}

async fn inbound_events(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM edo_inbound_events")
        .fetch_one(app.db().pool())
        .await
        .expect("ingress")
}

const PARTY_SIGNED_HEARD: &str = "SELECT COUNT(*) FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id \
     WHERE i.object_kind = 'order' AND i.object_id = $1 AND h.trigger_name = 'envelope.party_signed'";

#[tokio::test]
async fn one_leg_through_diadoc_and_one_through_sbis_make_the_order_signed() {
    let (app, op) = app_with_operators().await;
    // The supplier's leg went to SBIS on entering "ready for signing".
    let (order, client_env, supplier_env, sbis_id) = posted_to_sbis(&app).await;
    let at_sbis = op.sbis.documents();
    assert_eq!(at_sbis.len(), 1, "one document at SBIS");
    assert!(at_sbis[0].sent);
    assert!(at_sbis[0].content.starts_with(b"%PDF"));
    // The client's leg is on the built-in signature until the manager moves
    // it to Diadoc; then the workflow posts it.
    assert_eq!(message_id(&app, client_env).await, None);
    let manager = login(&app, MANAGER).await;
    let r = move_envelope(&manager, client_env, "diadoc", CLIENT_BOX).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for _ in 0..3 {
        app.run_due().await;
    }
    let diadoc_id = message_id(&app, client_env)
        .await
        .expect("posted to Diadoc");
    let at_diadoc = op.diadoc.documents();
    assert_eq!(at_diadoc.len(), 1, "one document at Diadoc");
    assert_eq!(at_diadoc[0].message_id, diadoc_id);
    assert_eq!(at_diadoc[0].to_box, CLIENT_BOX);
    assert!(at_diadoc[0].needs_recipient_signature);
    assert!(at_diadoc[0].signed_with_test_signature);
    assert!(
        at_diadoc[0]
            .operation_id
            .starts_with(&format!("podryad-envelope-{client_env}-")),
        "the envelope's key is the operationId: {}",
        at_diadoc[0].operation_id
    );
    // Once at an operator, the channel stays.
    let r = move_envelope(&manager, client_env, "pep", "").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Nothing answered yet: the feeds hold only our own messages.
    let first = poll(&app).await;
    assert_eq!(first.applied, 0, "{first:?}");
    assert_eq!(status_of(&app, client_env).await, "sent");

    // Both counterparties sign at their operators; SBIS reports the
    // signature before the delivery.
    assert!(op.sbis.sign_as_recipient(&sbis_id));
    assert!(op.sbis.mark_delivered(&sbis_id));
    assert!(op.diadoc.mark_delivered(&diadoc_id));
    assert!(op.diadoc.sign_as_recipient(&diadoc_id));
    let answered = poll(&app).await;
    assert_eq!(answered.applied, 4, "{answered:?}");
    assert_eq!(status_of(&app, client_env).await, "countersigned");
    assert_eq!(status_of(&app, supplier_env).await, "countersigned");
    assert_eq!(order_status(&app, order).await, "signed", "«Оформлен»");
    assert_eq!(count(&app, PARTY_SIGNED_HEARD, order).await, 2);

    // Both signatures of each leg are kept with the operators' CMS files.
    let signatures: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT g.side, g.method, g.cms_storage_key FROM signatures g JOIN envelopes e ON e.id = g.envelope_id \
         WHERE e.owner_kind = 'order' AND e.owner_id = $1 ORDER BY g.envelope_id, g.side",
    )
    .bind(order)
    .fetch_all(app.db().pool())
    .await
    .expect("signatures");
    assert_eq!(signatures.len(), 4, "{signatures:?}");
    assert!(
        signatures.iter().all(|(_, method, key)| {
            method.contains("оператора ЭДО") && key.is_some()
        }),
        "{signatures:?}"
    );
    // Each party downloads its signed copy (the signature page names the
    // operator), and the verification page knows it.
    let client = login(&app, "client@sevbeton.test").await;
    let r = client
        .get(&format!("/signing/{client_env}/signed.pdf"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let pdf = r.bytes().await.expect("pdf");
    assert!(pdf.starts_with(b"%PDF"));
    let supplier = login(&app, "owner@gruzavto.test").await;
    let r = supplier
        .get(&format!("/signing/{supplier_env}/signed.pdf"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The other party's copy is not theirs to read.
    let r = supplier
        .get(&format!("/signing/{client_env}/signed.pdf"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The feeds deliver their last events again, and a late refusal comes
    // for a document already signed: nothing changes.
    let stored = inbound_events(&app).await;
    op.diadoc.repeat_next_events(3);
    op.sbis.repeat_next_events(3);
    assert!(op.diadoc.reject_as_recipient(&diadoc_id, "Передумали"));
    let again = poll(&app).await;
    assert!(again.read >= 4, "{again:?}");
    assert_eq!(again.applied, 1, "only the late refusal is new: {again:?}");
    assert_eq!(status_of(&app, client_env).await, "countersigned");
    assert_eq!(order_status(&app, order).await, "signed");
    assert_eq!(count(&app, PARTY_SIGNED_HEARD, order).await, 2);
    assert_eq!(inbound_events(&app).await, stored + 1);
    // The cursors are kept per operator and box, for the next start.
    let cursors: Vec<(String, String, String)> =
        sqlx::query_as("SELECT provider, box_id, cursor FROM edo_cursors ORDER BY provider")
            .fetch_all(app.db().pool())
            .await
            .expect("cursors");
    assert_eq!(cursors.len(), 2, "{cursors:?}");
    assert_eq!(cursors[0].0, "diadoc");
    assert_eq!(cursors[0].1, OUR_DIADOC_BOX);
    assert!(cursors.iter().all(|c| !c.2.is_empty()), "{cursors:?}");
    assert_eq!(op.diadoc.documents().len(), 1);
    assert_eq!(op.sbis.documents().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_rejection_at_the_operator_makes_a_task_and_the_corrected_version_is_posted() {
    let (app, op) = app_with_operators().await;
    let (order, _, supplier_env, sbis_id) = posted_to_sbis(&app).await;
    assert!(
        op.sbis
            .reject_as_recipient(&sbis_id, "Неверная стоимость часа")
    );
    let polled = poll(&app).await;
    assert_eq!(polled.applied, 1, "{polled:?}");
    assert_eq!(status_of(&app, supplier_env).await, "rejected");
    let reason: Option<String> =
        sqlx::query_scalar("SELECT reject_reason FROM envelopes WHERE id = $1")
            .bind(supplier_env)
            .fetch_one(app.db().pool())
            .await
            .expect("envelope");
    assert_eq!(reason.as_deref(), Some("Неверная стоимость часа"));
    let (_, title) = open_task(&app, order, "fix_rejected").await;
    assert!(title.contains(SUPPLIER), "{title}");

    // The manager issues the corrected version: a new envelope, posted to
    // SBIS as a new document once the order is back to signing.
    let manager = login(&app, MANAGER).await;
    let r = manager
        .post_form(&format!("/signing/{supplier_env}/reissue"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let new_env: i64 = location(&r)
        .trim_start_matches("/signing/")
        .parse()
        .expect("the new envelope's page");
    for _ in 0..3 {
        app.run_due().await;
    }
    assert_eq!(order_status(&app, order).await, "ready_for_signing");
    assert_eq!(status_of(&app, supplier_env).await, "superseded");
    let new_id = message_id(&app, new_env)
        .await
        .expect("the corrected version is posted");
    assert_ne!(new_id, sbis_id);
    let docs = op.sbis.documents();
    assert_eq!(docs.len(), 2, "the old document and the corrected one");
    assert_ne!(docs[0].content, docs[1].content);
    // Read again, the old refusal changes nothing on the new envelope.
    op.sbis.repeat_next_events(5);
    let again = poll(&app).await;
    assert_eq!(again.applied, 0, "{again:?}");
    assert_eq!(status_of(&app, new_env).await, "sent");
    app.stop().await;
}

#[tokio::test]
async fn an_operator_refusing_the_post_is_a_task_for_the_manager() {
    let (app, op) = app_with_operators().await;
    // Diadoc refuses everything (a box that does not exist, say).
    op.diadoc.set_fault(Some(fakes::HttpFault::Status(400)));
    let order = order_ready_for_signing(&app).await;
    let (client_env, _) = legs(&app, order).await;
    let manager = login(&app, MANAGER).await;
    let r = move_envelope(&manager, client_env, "diadoc", "no-such-box").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for _ in 0..3 {
        app.run_due().await;
    }
    assert_eq!(message_id(&app, client_env).await, None);
    let (_, title) = open_task(&app, order, "fix_edo").await;
    assert!(title.contains("ЭДО"), "{title}");
    // Fixed, the manager sends it again from the task.
    op.diadoc.set_fault(None);
    let (task, _) = open_task(&app, order, "fix_edo").await;
    let r = manager
        .post_form(&format!("/tasks/{task}/complete"), &[("outcome", "retry")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for _ in 0..3 {
        app.run_due().await;
    }
    assert_eq!(order_status(&app, order).await, "ready_for_signing");
    assert!(message_id(&app, client_env).await.is_some());
    assert_eq!(op.diadoc.documents().len(), 1);
    app.stop().await;
}
