//! The server is killed (SIGKILL) while a work order is being posted to a
//! slow Diadoc: the fake has made the document and is still answering.
//! After a restart the posting action runs again with the same key, and
//! Diadoc holds exactly one document; the rest of the way (the
//! counterparty's signature read from the feed, our side finished with the
//! signed copy) goes on in the restarted server.

use std::time::{Duration, Instant};

use fakes::{FakeDiadoc, HttpFault};

use crate::{Browser, Server, Setup};

const CLIENT_ID: &str = "podryad-crash";
const SECRET: &str = "crash-secret";
const OUR_BOX: &str = "podryad@diadoc.ru";
const CLIENT_BOX: &str = "sevbeton@diadoc.ru";
const DEMO_PASSWORD: &str = "demo12345";

/// Waits until `sql` (one integer or text) answers something, or panics
/// with the server's log after `secs`.
async fn wait_for<T>(db: &engine::Db, sql: &'static str, secs: u64, log: &std::path::Path) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(Some(v)) = sqlx::query_scalar::<_, T>(sql)
            .fetch_optional(db.pool())
            .await
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "waited {secs} s for: {sql}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_server_killed_while_posting_leaves_one_document_at_the_operator() {
    let diadoc = FakeDiadoc::start(CLIENT_ID, SECRET, OUR_BOX)
        .await
        .expect("fake Diadoc");
    let mut setup = Setup::new("edo", "http://127.0.0.1:9").await;
    setup.lease_secs = Some(2);
    setup.env = [
        ("PODRYAD_EDO_TEST_MODE", "1".to_string()),
        ("PODRYAD_DIADOC_URL", diadoc.base_url()),
        ("PODRYAD_DIADOC_TOKEN_URL", diadoc.token_url()),
        ("PODRYAD_DIADOC_CLIENT_ID", CLIENT_ID.to_string()),
        ("PODRYAD_DIADOC_CLIENT_SECRET", SECRET.to_string()),
        ("PODRYAD_DIADOC_BOX_ID", OUR_BOX.to_string()),
        ("PODRYAD_DIADOC_TEST_SIGNATURE", "1".to_string()),
        ("PODRYAD_EDO_POLL_SECS", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    // The demo: the cargo order of Северный бетон waits for signatures.
    let server = Server::start_command(&setup, "edo-demo", "demo", None).await;
    let db = setup.connect().await;
    let envelope: i64 = wait_for(
        &db,
        "SELECT e.id FROM envelopes e JOIN orders o ON o.id = e.owner_id JOIN organisations c ON c.id = o.client_org_id \
         WHERE e.owner_kind = 'order' AND e.owner_part = 'client' AND e.status = 'sent' \
         AND o.status = 'ready_for_signing' AND c.name = 'ООО «Северный бетон»' ORDER BY e.id LIMIT 1",
        300,
        &server.log,
    )
    .await;

    // Diadoc is slow: it makes the document, then answers 3 s later.
    diadoc.set_fault(Some(HttpFault::Delay(Duration::from_secs(3))));
    let manager = Browser::new();
    assert!(
        manager
            .login_with(&server.base, "manager@podryad.test", DEMO_PASSWORD)
            .await
    );
    let r = manager
        .post_form(
            &server.base,
            &format!("/signing/{envelope}/channel"),
            &[("channel", "diadoc"), ("edo_box_id", CLIENT_BOX)],
        )
        .await
        .expect("the channel form");
    assert_eq!(r.status().as_u16(), 303);
    // Killed while the post is on the wire: Diadoc has it, we never hear.
    let deadline = Instant::now() + Duration::from_secs(60);
    while diadoc.documents().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the post never reached Diadoc:\n{}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await;
    let posted: Option<String> =
        sqlx::query_scalar("SELECT edo_message_id FROM envelopes WHERE id = $1")
            .bind(envelope)
            .fetch_one(db.pool())
            .await
            .expect("envelope");
    assert_eq!(posted, None, "the kill landed before the reply");

    // Restarted (Diadoc fast again): the action runs again with its key.
    diadoc.set_fault(None);
    let server = Server::start(&setup, "edo-after", None).await;
    let message: String = wait_for(
        &db,
        "SELECT edo_message_id FROM envelopes WHERE owner_kind = 'order' AND owner_part = 'client' \
         AND edo_message_id IS NOT NULL ORDER BY id LIMIT 1",
        120,
        &server.log,
    )
    .await;
    let docs = diadoc.documents();
    assert_eq!(docs.len(), 1, "exactly one document at Diadoc");
    assert_eq!(docs[0].message_id, message);
    let keys = diadoc.operation_ids();
    assert!(keys.len() >= 2, "posted again after the kill: {keys:?}");
    assert!(
        keys.iter().all(|k| k == &docs[0].operation_id),
        "every attempt carried the same key: {keys:?}"
    );

    // The client signs at Diadoc; the restarted server reads it from the
    // feed and finishes our side.
    assert!(diadoc.sign_as_recipient(&message));
    let status: String = wait_for(
        &db,
        "SELECT status FROM envelopes WHERE owner_kind = 'order' AND owner_part = 'client' \
         AND edo_message_id IS NOT NULL AND status = 'countersigned' ORDER BY id LIMIT 1",
        120,
        &server.log,
    )
    .await;
    assert_eq!(status, "countersigned");
    assert_eq!(diadoc.documents().len(), 1);
    eprintln!(
        "edo crash: killed mid-post; {} posts of one key, one document at Diadoc; countersigned after the restart",
        keys.len()
    );
    server.kill().await;
    db.close().await;
    setup.cleanup().await;
}
