//! The EDO adapters (Diadoc, SBIS) and the signers against their fakes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use connectors::config::{DiadocGrant, SbisConfig};
use connectors::edo::diadoc::Diadoc;
use connectors::edo::sbis::{Sbis, document_id_for};
use connectors::edo::{
    DssSigner, EdoError, EdoEvent, EdoEventKind, EdoOperator, OutgoingDocument, Signature, Signer,
    TestSignature,
};
use connectors::{ConfigError, Connectors, ConnectorsConfig};
use fakes::{FakeDiadoc, FakeDss, FakeSbis, HttpFault};

const CLIENT: &str = "podryad-app";
const SECRET: &str = "app-secret";
const OUR_BOX: &str = "a1b2c3d4e5f6@diadoc.ru";
const THEIR_BOX: &str = "f6e5d4c3b2a1@diadoc.ru";
const OUR_INN: &str = "7707083893/773601001";
const THEIR_INN: &str = "7736207543";

fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len.saturating_sub(9)).map(|i| (i % 251) as u8));
    bytes
}

fn document(key: &str, from: &str, to: &str, content: Vec<u8>) -> OutgoingDocument {
    OutgoingDocument {
        idempotency_key: key.to_string(),
        from_box: from.to_string(),
        to_box: to.to_string(),
        file_name: "Заказ-наряд З-2026-00017.pdf".to_string(),
        title: "Заказ-наряд З-2026-00017".to_string(),
        number: "З-2026-00017".to_string(),
        date: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
        pdf: content,
        needs_recipient_signature: true,
    }
}

fn test_signer() -> Arc<dyn Signer> {
    Arc::new(TestSignature::new(true).unwrap())
}

async fn diadoc_with(signer: Arc<dyn Signer>) -> (FakeDiadoc, Diadoc) {
    let fake = FakeDiadoc::start(CLIENT, SECRET, OUR_BOX).await.unwrap();
    let mut config = fake.config(CLIENT, SECRET);
    config.test_signature = true;
    config.timeout = Duration::from_millis(500);
    let diadoc = Diadoc::new(config, signer).unwrap();
    (fake, diadoc)
}

/// Reads the feed from `cursor` until it has no more, with a fresh adapter
/// for every page (a restart between pages); returns the events and the
/// cursor to keep.
async fn drain(
    make: impl Fn() -> Box<dyn EdoOperator>,
    box_id: &str,
    mut cursor: Option<String>,
) -> (Vec<EdoEvent>, Option<String>) {
    let mut all = Vec::new();
    loop {
        let operator = make();
        let page = operator.events(box_id, cursor.as_deref()).await.unwrap();
        all.extend(page.events);
        cursor = page.next_cursor;
        if !page.has_more {
            return (all, cursor);
        }
    }
}

#[tokio::test]
async fn diadoc_posts_once_per_key() {
    let (fake, diadoc) = diadoc_with(test_signer()).await;
    assert_eq!(diadoc.provider(), "diadoc");
    let doc = document("order-17-post-0", OUR_BOX, THEIR_BOX, pdf(2000));
    let first = diadoc.post(&doc).await.unwrap();
    let again = diadoc.post(&doc).await.unwrap();
    assert_eq!(first, again, "the same key gives the same message");
    assert_eq!(
        fake.operation_ids(),
        vec!["order-17-post-0"; 2],
        "the key is the operationId"
    );

    let docs = fake.documents();
    assert_eq!(docs.len(), 1, "nothing new the second time");
    let d = &docs[0];
    assert_eq!(d.message_id, first.message_id);
    assert_eq!(d.entity_id, first.document_id);
    assert_eq!(d.to_box, THEIR_BOX);
    assert_eq!(d.file_name, "Заказ-наряд З-2026-00017.pdf");
    assert_eq!(d.number, "З-2026-00017");
    assert_eq!(d.date, "03.12.2026");
    assert_eq!(d.comment, "Заказ-наряд З-2026-00017");
    assert!(d.needs_recipient_signature);
    assert_eq!(d.content, doc.pdf);
    assert!(!d.from_shelf, "a small file goes inline");
    assert!(d.signed_with_test_signature);

    // Another key is another document.
    let other = diadoc
        .post(&document("order-18-post-0", OUR_BOX, THEIR_BOX, pdf(100)))
        .await
        .unwrap();
    assert_ne!(other.message_id, first.message_id);
    assert_eq!(fake.documents().len(), 2);
}

#[tokio::test]
async fn diadoc_token_is_cached_refreshed_and_renewed_after_401() {
    let (fake, diadoc) = diadoc_with(test_signer()).await;
    fake.set_token_lifetime(2);
    diadoc.events(OUR_BOX, None).await.unwrap();
    diadoc.events(OUR_BOX, None).await.unwrap();
    assert_eq!(
        fake.grants(),
        vec!["client_credentials"],
        "the token is cached"
    );

    // Renewed before it runs out, with the refresh token.
    tokio::time::sleep(Duration::from_millis(1900)).await;
    diadoc.events(OUR_BOX, None).await.unwrap();
    assert_eq!(fake.grants(), vec!["client_credentials", "refresh_token"]);

    // The server forgets the token: a 401 renews it and the call succeeds.
    fake.expire_tokens();
    let page = diadoc.events(OUR_BOX, None).await.unwrap();
    assert!(page.events.is_empty());
    assert_eq!(fake.grants().len(), 3);

    // Acting as a Diadoc user: the password grant.
    let mut config = fake.config(CLIENT, SECRET);
    config.grant = DiadocGrant::Password {
        login: "signer@podryad.test".into(),
        password: "pw".into(),
    };
    let as_user = Diadoc::new(config, test_signer()).unwrap();
    as_user.events(OUR_BOX, None).await.unwrap();
    assert_eq!(fake.grants().last().unwrap(), "password");

    // Wrong credentials are an admin's problem, not a retry.
    let wrong = Diadoc::new(fake.config(CLIENT, "wrong"), test_signer()).unwrap();
    assert!(matches!(
        wrong.events(OUR_BOX, None).await,
        Err(EdoError::Config(_))
    ));
}

#[tokio::test]
async fn diadoc_failures_are_retried_without_duplicates() {
    let (fake, diadoc) = diadoc_with(test_signer()).await;
    let doc = document("order-20-post-0", OUR_BOX, THEIR_BOX, pdf(500));

    // 204 "still processing": retry with the same key.
    fake.set_processing_first(true);
    match diadoc.post(&doc).await {
        Err(EdoError::Retry { after, .. }) => assert_eq!(after, Some(Duration::from_secs(1))),
        other => panic!("expected a retry, got {other:?}"),
    }
    let posted = diadoc.post(&doc).await.unwrap();
    assert_eq!(fake.documents().len(), 1);
    fake.set_processing_first(false);

    // 429 with Retry-After, then 5xx.
    let next = document("order-21-post-0", OUR_BOX, THEIR_BOX, pdf(500));
    fake.push_fault(HttpFault::TooManyRequests { retry_after: 3 });
    match diadoc.post(&next).await {
        Err(EdoError::Retry { after, .. }) => assert_eq!(after, Some(Duration::from_secs(3))),
        other => panic!("expected a retry, got {other:?}"),
    }
    fake.push_fault(HttpFault::Status(503));
    assert!(diadoc.post(&next).await.unwrap_err().is_retryable());
    assert_eq!(
        fake.documents().len(),
        1,
        "nothing posted by a refused call"
    );

    // A lost reply: Diadoc posts, the answer never arrives in time.
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    match diadoc.post(&next).await {
        Err(EdoError::Retry { reason, .. }) => assert_eq!(reason, "timeout"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(fake.documents().len(), 2, "the operator did post it");
    let retried = diadoc.post(&next).await.unwrap();
    assert_eq!(fake.documents().len(), 2, "the retry created nothing");
    assert_eq!(retried.message_id, fake.documents()[1].message_id);
    assert_ne!(retried, posted);

    // 409 with no document of this key in our box: refused (a recipient
    // who does not accept documents).
    fake.push_fault(HttpFault::Status(409));
    match diadoc
        .post(&document("order-22-post-0", OUR_BOX, THEIR_BOX, pdf(10)))
        .await
    {
        Err(EdoError::Rejected { code, .. }) => assert_eq!(code, "http_409"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Without a key nothing is sent at all.
    let mut keyless = document("", OUR_BOX, THEIR_BOX, pdf(10));
    keyless.idempotency_key = " ".into();
    assert!(matches!(
        diadoc.post(&keyless).await,
        Err(EdoError::Rejected { .. })
    ));
    assert!(fake.operation_ids().iter().all(|k| !k.trim().is_empty()));
}

#[tokio::test]
async fn diadoc_a_duplicate_409_is_the_earlier_post() {
    let (fake, diadoc) = diadoc_with(test_signer()).await;
    fake.set_conflict_on_repeat(true);
    let doc = document("order-17-dup", OUR_BOX, THEIR_BOX, pdf(900));
    // The first reply is lost on the way back (the worker died, a proxy
    // timed out): the message exists, the caller does not know its ids.
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    let lost = diadoc.post(&doc).await.unwrap_err();
    assert!(lost.is_retryable(), "{lost:?}");
    // Posting again is refused as a duplicate; the adapter finds the
    // message by its CustomDocumentId and reports the earlier success.
    let again = diadoc.post(&doc).await.unwrap();
    let docs = fake.documents();
    assert_eq!(docs.len(), 1, "one document at the operator");
    assert_eq!(again.message_id, docs[0].message_id);
    assert_eq!(again.document_id, docs[0].entity_id);
    // Another key is not mistaken for it.
    let other = diadoc
        .post(&document("order-17-other", OUR_BOX, THEIR_BOX, pdf(900)))
        .await
        .unwrap();
    assert_ne!(other.message_id, again.message_id);
    assert_eq!(fake.documents().len(), 2);
}

#[tokio::test]
async fn diadoc_large_documents_go_through_the_shelf() {
    let fake = FakeDiadoc::start(CLIENT, SECRET, OUR_BOX).await.unwrap();
    let mut config = fake.config(CLIENT, SECRET);
    config.test_signature = true;
    config.shelf_threshold = 1024;
    let diadoc = Diadoc::new(config, test_signer()).unwrap();

    let big = pdf(1_200_000);
    let posted = diadoc
        .post(&document("big-1", OUR_BOX, THEIR_BOX, big.clone()))
        .await
        .unwrap();
    assert_eq!(fake.shelf_calls(), vec!["init", "part:1", "part:2:last"]);
    let medium = pdf(4096);
    diadoc
        .post(&document("medium-1", OUR_BOX, THEIR_BOX, medium.clone()))
        .await
        .unwrap();
    assert_eq!(fake.shelf_calls().last().unwrap(), "upload");

    let docs = fake.documents();
    assert!(docs[0].from_shelf && docs[1].from_shelf);
    assert_eq!(docs[0].content, big, "the parts were put together in order");
    assert_eq!(docs[1].content, medium);
    let copy = diadoc.signed_copy(OUR_BOX, &posted).await.unwrap();
    assert_eq!(copy.content, big);
}

#[tokio::test]
async fn diadoc_events_resume_from_the_cursor_and_recognise_answers() {
    let (fake, diadoc) = diadoc_with(test_signer()).await;
    fake.set_page_size(2);
    let mut posted = Vec::new();
    for key in ["ev-1", "ev-2", "ev-3"] {
        posted.push(
            diadoc
                .post(&document(key, OUR_BOX, THEIR_BOX, pdf(300)))
                .await
                .unwrap(),
        );
    }
    let make = || -> Box<dyn EdoOperator> {
        let mut config = fake.config(CLIENT, SECRET);
        config.test_signature = true;
        Box::new(Diadoc::new(config, test_signer()).unwrap())
    };

    // Page by page, a fresh adapter (a restart) each time.
    let (first, cursor) = drain(make, OUR_BOX, None).await;
    assert_eq!(first.len(), 3, "our three messages");
    assert!(
        first
            .iter()
            .all(|e| e.kind == EdoEventKind::Other("message".into()))
    );
    let messages: Vec<&str> = first.iter().map(|e| e.message_id.as_str()).collect();
    let expected: Vec<&str> = posted.iter().map(|p| p.message_id.as_str()).collect();
    assert_eq!(messages, expected);
    assert_eq!(first[0].document_id, posted[0].document_id);

    // Nothing new: the cursor stays.
    let empty = diadoc.events(OUR_BOX, cursor.as_deref()).await.unwrap();
    assert!(empty.events.is_empty() && !empty.has_more);
    assert_eq!(empty.next_cursor, cursor);

    // The counterparty answers; the third is signed before it is reported
    // delivered (the feed's order is not the order of things).
    assert!(fake.sign_as_recipient(&posted[0].message_id));
    assert!(fake.reject_as_recipient(&posted[1].message_id, "Неверная сумма в п. 3"));
    assert!(fake.sign_as_recipient(&posted[2].message_id));
    assert!(fake.mark_delivered(&posted[2].message_id));
    let (answers, cursor) = drain(make, OUR_BOX, cursor).await;
    let kinds: Vec<(String, EdoEventKind)> = answers
        .iter()
        .map(|e| (e.message_id.clone(), e.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (posted[0].message_id.clone(), EdoEventKind::RecipientSigned),
            (
                posted[1].message_id.clone(),
                EdoEventKind::RecipientRejected {
                    reason: "Неверная сумма в п. 3".into()
                }
            ),
            (posted[2].message_id.clone(), EdoEventKind::RecipientSigned),
            (posted[2].message_id.clone(), EdoEventKind::Delivered),
        ]
    );
    assert_eq!(answers[0].document_id, posted[0].document_id);
    assert_eq!(answers[1].document_id, posted[1].document_id);
    assert_eq!(
        fake.entity_content_calls(),
        1,
        "the refusal's text was fetched"
    );
    let age = chrono::Utc::now() - answers[0].at;
    assert!(
        age.num_seconds().abs() < 60,
        "event times are read: {}",
        answers[0].at
    );

    // Nothing lost, nothing twice.
    let ids: HashSet<String> = first
        .iter()
        .chain(&answers)
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(ids.len(), fake.event_count());
    assert_eq!(first.len() + answers.len(), fake.event_count());

    // A feed that repeats itself: the repeated events keep their ids (the
    // caller's ingress key drops them) and the cursor does not go back.
    fake.mark_delivered(&posted[0].message_id);
    fake.repeat_next_events(2);
    let page = diadoc.events(OUR_BOX, cursor.as_deref()).await.unwrap();
    assert_eq!(page.events.len(), 3);
    let new: Vec<&EdoEvent> = page
        .events
        .iter()
        .filter(|e| !ids.contains(&e.event_id))
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].kind, EdoEventKind::Delivered);
    assert_ne!(page.next_cursor, cursor);
    let after = diadoc
        .events(OUR_BOX, page.next_cursor.as_deref())
        .await
        .unwrap();
    assert!(after.events.is_empty());
}

#[tokio::test]
async fn diadoc_signed_copy_has_both_signatures() {
    let (fake, diadoc) = diadoc_with(test_signer()).await;
    let doc = document("copy-1", OUR_BOX, THEIR_BOX, pdf(5000));
    let posted = diadoc.post(&doc).await.unwrap();
    let unsigned = diadoc.signed_copy(OUR_BOX, &posted).await.unwrap();
    assert_eq!(unsigned.content, doc.pdf);
    assert!(unsigned.our_signature.starts_with(b"DIADOC-TEST-CMS"));
    assert_eq!(unsigned.their_signature, None);

    fake.sign_as_recipient(&posted.message_id);
    let signed = diadoc.signed_copy(OUR_BOX, &posted).await.unwrap();
    assert_eq!(signed.content, doc.pdf);
    assert_eq!(
        signed.their_signature.as_deref(),
        Some(format!("THEIR-CMS for {}", posted.document_id).as_bytes())
    );
}

#[tokio::test]
async fn diadoc_with_the_signing_service() {
    let dss_fake = FakeDss::start("dss-client", "signer", "pin-pw")
        .await
        .unwrap();
    let signer: Arc<dyn Signer> =
        Arc::new(DssSigner::new(dss_fake.config("dss-client", "signer", "pin-pw")).unwrap());
    let fake = FakeDiadoc::start(CLIENT, SECRET, OUR_BOX).await.unwrap();
    let diadoc = Diadoc::new(fake.config(CLIENT, SECRET), signer).unwrap();
    let doc = document("order-30-post-0", OUR_BOX, THEIR_BOX, pdf(800));
    diadoc.post(&doc).await.unwrap();

    let requests = dss_fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].idempotency_key.as_deref(),
        Some("order-30-post-0")
    );
    assert_eq!(requests[0].name, "order-30-post-0");
    assert!(requests[0].detached);
    assert_eq!(requests[0].content, doc.pdf);
    let posted = &fake.documents()[0];
    assert!(!posted.signed_with_test_signature);
    assert_eq!(posted.our_signature, FakeDss::signature_for(&doc.pdf, "0"));
}

#[tokio::test]
async fn dss_signer_signs_with_a_cached_token() {
    let fake = FakeDss::start("dss-client", "signer", "pw").await.unwrap();
    let mut config = fake.config("dss-client", "signer", "pw");
    config.certificate_id = "42".into();
    config.timeout = Duration::from_millis(500);
    let dss = DssSigner::new(config).unwrap();
    assert_eq!(dss.name(), "dss");
    let content = b"%PDF-1.7 work order".to_vec();
    assert_eq!(
        dss.sign("key-1", &content).await.unwrap(),
        Signature::Detached(FakeDss::signature_for(&content, "42"))
    );
    dss.sign("key-2", b"another").await.unwrap();
    assert_eq!(fake.token_requests(), 1, "one token for both");
    let keys: Vec<Option<String>> = fake
        .requests()
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys, vec![Some("key-1".into()), Some("key-2".into())]);
    assert!(fake.requests().iter().all(|r| r.certificate_id == "42"));

    fake.push_fault(HttpFault::Status(503));
    assert!(dss.sign("key-3", b"x").await.unwrap_err().is_retryable());
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    assert!(dss.sign("key-3", b"x").await.unwrap_err().is_retryable());

    let wrong = DssSigner::new(fake.config("dss-client", "signer", "wrong")).unwrap();
    assert!(matches!(
        wrong.sign("k", b"x").await,
        Err(EdoError::Config(_))
    ));
}

#[tokio::test]
async fn test_signature_only_in_test_mode() {
    assert!(matches!(
        TestSignature::new(false),
        Err(EdoError::Config(_))
    ));
    assert_eq!(
        TestSignature::new(true)
            .unwrap()
            .sign("k", b"x")
            .await
            .unwrap(),
        Signature::OperatorTest
    );

    let diadoc = [
        ("PODRYAD_DIADOC_URL", "https://diadoc-api-staging.kontur.ru"),
        ("PODRYAD_DIADOC_CLIENT_ID", "id"),
        ("PODRYAD_DIADOC_CLIENT_SECRET", "secret"),
        ("PODRYAD_DIADOC_BOX_ID", "box"),
    ];
    let build = |extra: &[(&'static str, &'static str)]| {
        let vars: Vec<(&str, &str)> = diadoc.iter().chain(extra).copied().collect();
        ConnectorsConfig::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
        .and_then(|c| Connectors::from_config(&c))
    };
    assert_eq!(
        build(&[("PODRYAD_DIADOC_TEST_SIGNATURE", "1")]).unwrap_err(),
        ConfigError::Missing {
            var: "PODRYAD_EDO_TEST_MODE",
            because: "PODRYAD_DIADOC_TEST_SIGNATURE"
        }
    );
    assert_eq!(
        build(&[]).unwrap_err(),
        ConfigError::Missing {
            var: "PODRYAD_DSS_URL",
            because: "PODRYAD_DIADOC_URL"
        },
        "no signer, no Diadoc"
    );
    let staging = build(&[
        ("PODRYAD_DIADOC_TEST_SIGNATURE", "1"),
        ("PODRYAD_EDO_TEST_MODE", "1"),
    ])
    .unwrap();
    assert_eq!(staging.edo.providers(), vec!["diadoc"]);
    assert_eq!(staging.edo.get("diadoc").unwrap().our_box(), "box");
    let production = build(&[
        ("PODRYAD_DSS_URL", "https://dss.example.ru/SignServer/rest"),
        (
            "PODRYAD_DSS_TOKEN_URL",
            "https://dss.example.ru/STS/oauth/token",
        ),
        ("PODRYAD_DSS_CLIENT_ID", "c"),
        ("PODRYAD_DSS_LOGIN", "l"),
        ("PODRYAD_DSS_PASSWORD", "p"),
    ])
    .unwrap();
    assert!(production.edo.get("diadoc").is_some());
    assert!(production.edo.get("sbis").is_none());
    assert!(Connectors::offline().edo.is_empty());
    assert!(
        Connectors::from_config(&ConnectorsConfig::default())
            .unwrap()
            .edo
            .is_empty()
    );
}

async fn sbis_with(signer: Arc<dyn Signer>) -> (FakeSbis, Sbis) {
    let fake = FakeSbis::start("podryad", "secret").await.unwrap();
    let sbis = Sbis::new(sbis_config(&fake), signer).unwrap();
    (fake, sbis)
}

fn sbis_config(fake: &FakeSbis) -> SbisConfig {
    let mut config = fake.config("podryad", "secret", OUR_INN);
    config.test_signature = true;
    config.cert_thumbprint = Some("A1B2C3".into());
    config.timeout = Duration::from_millis(500);
    config
}

#[tokio::test]
async fn sbis_posts_once_per_key() {
    let (fake, sbis) = sbis_with(test_signer()).await;
    assert_eq!(sbis.provider(), "sbis");
    let doc = document("order-17-post-0", OUR_INN, THEIR_INN, pdf(3000));
    let posted = sbis.post(&doc).await.unwrap();
    assert_eq!(posted.message_id, document_id_for("order-17-post-0"));
    assert_eq!(
        fake.methods(),
        vec![
            "СБИС.ПрочитатьДокумент",
            "СБИС.ЗаписатьДокумент",
            "СБИС.ПодготовитьДействие",
            "СБИС.ВыполнитьДействие"
        ]
    );
    let again = sbis.post(&doc).await.unwrap();
    assert_eq!(again, posted);
    assert_eq!(
        fake.methods().len(),
        5,
        "the second time only reads: already sent"
    );

    let docs = fake.documents();
    assert_eq!(docs.len(), 1);
    let d = &docs[0];
    assert_eq!(d.id, posted.message_id);
    assert_eq!(d.attachment_id, posted.document_id);
    assert_eq!(d.writes, 1);
    assert!(d.sent && d.signed_by_operator);
    assert_eq!(d.doc_type, "ДокОтгрИсх");
    assert_eq!(
        (d.number.as_str(), d.date.as_str()),
        ("З-2026-00017", "03.12.2026")
    );
    assert_eq!(d.our_inn, "7707083893");
    assert_eq!(d.counterparty_inn, THEIR_INN);
    assert_eq!(d.content, doc.pdf);
    assert_eq!(fake.logins(), 1, "one session for all calls");
}

#[tokio::test]
async fn sbis_with_the_signing_service() {
    let dss_fake = FakeDss::start("dss-client", "signer", "pw").await.unwrap();
    let signer: Arc<dyn Signer> =
        Arc::new(DssSigner::new(dss_fake.config("dss-client", "signer", "pw")).unwrap());
    let (fake, sbis) = sbis_with(signer).await;
    let doc = document("order-40-post-0", OUR_INN, THEIR_INN, pdf(1000));
    sbis.post(&doc).await.unwrap();
    let d = &fake.documents()[0];
    assert!(!d.signed_by_operator);
    assert_eq!(
        d.our_signature.as_deref(),
        Some(FakeDss::signature_for(&doc.pdf, "0").as_slice())
    );
    assert_eq!(
        dss_fake.requests()[0].idempotency_key.as_deref(),
        Some("order-40-post-0")
    );
}

#[tokio::test]
async fn sbis_failures_lost_replies_and_expired_sessions() {
    let (fake, sbis) = sbis_with(test_signer()).await;
    let doc = document("order-50-post-0", OUR_INN, THEIR_INN, pdf(1000));

    // The send is performed but its answer is lost (read, write and prepare
    // answer at once; the action's answer is late).
    for _ in 0..3 {
        fake.push_fault(HttpFault::Delay(Duration::ZERO));
    }
    fake.push_fault(HttpFault::Delay(Duration::from_secs(2)));
    match sbis.post(&doc).await {
        Err(EdoError::Retry { reason, .. }) => assert_eq!(reason, "timeout"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(fake.documents()[0].sent);
    let posted = sbis.post(&doc).await.unwrap();
    assert_eq!(posted.message_id, fake.documents()[0].id);
    assert_eq!(fake.documents().len(), 1);
    assert_eq!(fake.documents()[0].writes, 1, "not written or sent again");

    // 503 and 429 are retries.
    let next = document("order-51-post-0", OUR_INN, THEIR_INN, pdf(10));
    fake.push_fault(HttpFault::Status(503));
    assert!(sbis.post(&next).await.unwrap_err().is_retryable());
    fake.push_fault(HttpFault::TooManyRequests { retry_after: 5 });
    match sbis.post(&next).await {
        Err(EdoError::Retry { after, .. }) => assert_eq!(after, Some(Duration::from_secs(5))),
        other => panic!("expected a retry, got {other:?}"),
    }

    // The session expires: log in again and carry on.
    fake.expire_sessions();
    sbis.post(&next).await.unwrap();
    assert_eq!(fake.logins(), 2);
    assert_eq!(fake.documents().len(), 2);

    // A business error is a refusal.
    let nobody = document("order-52-post-0", OUR_INN, "", pdf(10));
    assert!(matches!(
        sbis.post(&nobody).await,
        Err(EdoError::Rejected { .. })
    ));

    // Wrong password: configuration.
    let mut config = sbis_config(&fake);
    config.password = "wrong".into();
    let wrong = Sbis::new(config, test_signer()).unwrap();
    assert!(matches!(wrong.post(&next).await, Err(EdoError::Config(_))));
}

#[tokio::test]
async fn sbis_events_resume_from_the_cursor_and_recognise_answers() {
    let (fake, sbis) = sbis_with(test_signer()).await;
    fake.set_page_size(2);
    let one = sbis
        .post(&document("s-1", OUR_INN, THEIR_INN, pdf(100)))
        .await
        .unwrap();
    let two = sbis
        .post(&document("s-2", OUR_INN, THEIR_INN, pdf(100)))
        .await
        .unwrap();
    let make = || -> Box<dyn EdoOperator> {
        Box::new(Sbis::new(sbis_config(&fake), test_signer()).unwrap())
    };
    let (sent, cursor) = drain(make, OUR_INN, None).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter()
            .all(|e| e.kind == EdoEventKind::Other("Отправка".into()))
    );

    assert!(fake.sign_as_recipient(&one.message_id));
    assert!(fake.reject_as_recipient(&two.message_id, "Не тот объект"));
    assert!(fake.mark_delivered(&two.message_id));
    let (answers, cursor) = drain(make, OUR_INN, cursor).await;
    let kinds: Vec<(String, EdoEventKind)> = answers
        .iter()
        .map(|e| (e.message_id.clone(), e.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (one.message_id.clone(), EdoEventKind::RecipientSigned),
            (
                two.message_id.clone(),
                EdoEventKind::RecipientRejected {
                    reason: "Не тот объект".into()
                }
            ),
            (two.message_id.clone(), EdoEventKind::Delivered),
        ]
    );
    assert_eq!(answers[0].document_id, one.document_id);
    let age = chrono::Utc::now() - answers[0].at;
    assert!(
        age.num_seconds().abs() < 60,
        "Moscow time read as UTC: {}",
        answers[0].at
    );

    let ids: HashSet<String> = sent
        .iter()
        .chain(&answers)
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(ids.len(), 5, "nothing lost, nothing twice");

    fake.repeat_next_events(1);
    let page = sbis.events(OUR_INN, cursor.as_deref()).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert!(
        ids.contains(&page.events[0].event_id),
        "a repeat keeps its id"
    );
    assert_eq!(page.next_cursor, cursor);
}

#[tokio::test]
async fn sbis_signed_copy_has_both_signatures() {
    let (fake, sbis) = sbis_with(test_signer()).await;
    let doc = document("copy-1", OUR_INN, THEIR_INN, pdf(7000));
    let posted = sbis.post(&doc).await.unwrap();
    let unsigned = sbis.signed_copy(OUR_INN, &posted).await.unwrap();
    assert_eq!(unsigned.content, doc.pdf, "fetched by its link");
    assert!(unsigned.our_signature.starts_with(b"SBIS-STAND-CMS"));
    assert_eq!(unsigned.their_signature, None);
    fake.sign_as_recipient(&posted.message_id);
    let signed = sbis.signed_copy(OUR_INN, &posted).await.unwrap();
    assert_eq!(
        signed.their_signature.as_deref(),
        Some(format!("THEIR-SBIS-CMS for {}", posted.message_id).as_bytes())
    );
}
