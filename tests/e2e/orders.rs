//! Orders and framework contracts (issue 12, points 1, 2 and 6), through
//! HTTP: accepting an offer makes the numbered order with both legs and the
//! machine's bookings; a new client gives its contract details (by the
//! e-mailed link), the supplier accepts its contract, staff mark the
//! client's contract and then the work orders signed on paper, and the
//! order goes into work (the request follows); a client with a contract in
//! force skips the step; and every page each side gets shows its own leg
//! and nothing of the other's.

use std::collections::BTreeMap;

use domain::intake::requests::RequestInput;
use domain::values::Kopecks;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::{Browser, TestApp};
use crate::quotes::{
    employee, local_day, login, machine, notifications_to, org_id, place_qualified, quote,
    request_status, rfq_of, send_rfq, services,
};

pub(crate) const CLIENT: &str = "ООО «Северный бетон»";
pub(crate) const CLIENT_INN: &str = "5030123457";
pub(crate) const GRUZAVTO: &str = "ООО «ГрузАвто»";
const GRUZAVTO_INN: &str = "7729876543";
const TRUCK: &str = "Р530ЕК 777";
/// The site contact the client typed on its request.
const FOREMAN: &str = "Прораб Сидоров";
const FOREMAN_PHONE: &str = "+79167770042";
const PDF: &[u8] = b"%PDF-1.4\n% a scan of signed paper\n";

/// A qualified cargo request of `client` (4 t, loading in the centre of
/// Moscow) for `days` from now at 10:00.
async fn ready_request(app: &TestApp, client: &str, days: i64) -> i64 {
    let mut fields = BTreeMap::new();
    for (k, v) in [
        (
            "f.cargo",
            "Паллеты с плиткой, прораб на месте: +7 916 777-00-42",
        ),
        ("f.weight_t", "4"),
        ("f.loading_address", "г. Москва, ул. Тверская, д. 7"),
        ("f.loading_address.lat", "55.7578"),
        ("f.loading_address.lon", "37.6117"),
        ("f.unloading_address", "г. Тверь, ул. Складская, д. 3"),
    ] {
        fields.insert(k.to_string(), v.to_string());
    }
    let input = RequestInput {
        request_type: "cargo".into(),
        wanted_from: local_day(app, days, 10),
        duration: "4".into(),
        contact_name: FOREMAN.into(),
        contact_phone: FOREMAN_PHONE.into(),
        fields,
        ..Default::default()
    };
    place_qualified(app, client, &input).await.id
}

/// Through matching and quotes to our offer: GruzAvto quotes `plate` with
/// `driver` (3 660 ₽ an hour with VAT, 4 hours), we add 10 %. Returns
/// `(request, offer)`.
async fn offered(app: &TestApp, client: &str, days: i64, plate: &str, driver: &str) -> (i64, i64) {
    let manager = login(app, "manager@podryad.test").await;
    let request = ready_request(app, client, days).await;
    send_rfq(app, &manager, request, &[GRUZAVTO]).await;
    let gruz = login(app, "dispatcher@gruzavto.test").await;
    let r = quote(
        &gruz,
        rfq_of(app, request, GRUZAVTO).await,
        machine(app, plate).await,
        employee(app, driver).await,
        "3 660",
        &local_day(app, days, 9),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let q: i64 = sqlx::query_scalar("SELECT MAX(id) FROM supplier_quotes WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("quote");
    let r = manager
        .post_form(
            &format!("/requests/{request}/offer"),
            &[
                ("quote_id", &q.to_string()),
                ("markup_kind", "percent"),
                ("markup", "10"),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &local_day(app, 2, 18)),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let offer: i64 = sqlx::query_scalar("SELECT MAX(id) FROM offers WHERE request_id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("offer");
    (request, offer)
}

async fn order_of(app: &TestApp, offer: i64) -> i64 {
    sqlx::query_scalar("SELECT id FROM orders WHERE offer_id = $1")
        .bind(offer)
        .fetch_one(app.db().pool())
        .await
        .expect("the accept made an order")
}

/// An offer of GruzAvto's truck the client accepts in its cabinet.
/// Returns `(request, offer, order)`.
pub(crate) async fn accepted_order(
    app: &TestApp,
    client: &str,
    login_as: &str,
    days: i64,
) -> (i64, i64, i64) {
    let (request, offer) = offered(app, client, days, TRUCK, "driver1@gruzavto.test").await;
    let client = login(app, login_as).await;
    let r = client
        .post_form(&format!("/offers/{offer}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    (request, offer, order_of(app, offer).await)
}

async fn order_status(app: &TestApp, order: i64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(app.db().pool())
        .await
        .expect("order")
}

/// Runs due work until the order reaches `status` (an action's result
/// starts the next action; a few rounds at most).
async fn until_status(app: &TestApp, order: i64, status: &str) {
    for _ in 0..5 {
        if order_status(app, order).await == status {
            return;
        }
        app.run_due().await;
    }
    assert_eq!(order_status(app, order).await, status);
}

/// `(id, kind, status)` of a party's contracts.
async fn contracts_of(app: &TestApp, party: &str) -> Vec<(i64, String, String)> {
    sqlx::query_as("SELECT id, kind, status FROM contracts WHERE party_org_id = $1 ORDER BY id")
        .bind(org_id(app, party).await)
        .fetch_all(app.db().pool())
        .await
        .expect("contracts")
}

/// `(leg id, side)` of an order's legs, client first.
async fn legs(app: &TestApp, order: i64) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT id, side FROM order_legs WHERE order_id = $1 ORDER BY CASE WHEN side = 'client' THEN 0 ELSE 1 END, id",
    )
    .bind(order)
    .fetch_all(app.db().pool())
    .await
    .expect("legs")
}

/// Posts a multipart form with one file, the way the pages do.
async fn post_scan(b: &Browser, path: &str) -> reqwest::Response {
    let token = b.csrf().await;
    let form = Form::new().part(
        "scan",
        Part::bytes(PDF.to_vec())
            .file_name("scan.pdf")
            .mime_str("application/pdf")
            .expect("mime"),
    );
    b.http
        .post(b.url(&format!("{path}?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .expect("POST")
}

fn money(k: i64) -> String {
    Kopecks(k).format_number()
}

#[tokio::test]
async fn accepting_an_offer_makes_the_numbered_order_with_both_legs_and_the_bookings() {
    let app = TestApp::spawn_demo().await;
    // The company numbers its orders its own way; a format without a
    // running number is refused with the reason.
    let admin = login(&app, "admin@podryad.test").await;
    let r = admin
        .post_form(
            "/orders/settings",
            &[("order_format", "З-{year}"), ("contract_format", "Д-{seq}")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(page.contains("нет порядкового номера"), "{page}");
    let r = admin
        .post_form(
            "/orders/settings",
            &[
                ("order_format", "ЗАКАЗ/{yy}/{seq:03}"),
                ("contract_format", "РД-{year}-{seq:04}"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);

    let (request, offer, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let yy = local_day(&app, 0, 0)[2..4].to_string();
    let year = &local_day(&app, 0, 0)[..4];
    #[derive(sqlx::FromRow, Debug)]
    struct O {
        number: String,
        request_id: i64,
        client_org_id: i64,
        request_type: String,
        status: String,
        first_day: String,
        last_day: String,
        contact_name: Option<String>,
    }
    let o: O = sqlx::query_as(
        "SELECT number, request_id, client_org_id, request_type, status, first_day, last_day, contact_name FROM orders WHERE id = $1",
    )
    .bind(order)
    .fetch_one(app.db().pool())
    .await
    .expect("order");
    assert_eq!(o.number, format!("ЗАКАЗ/{yy}/001"));
    assert_eq!(o.request_id, request);
    assert_eq!(o.client_org_id, org_id(&app, CLIENT).await);
    assert_eq!(o.request_type, "cargo");
    assert_eq!(o.contact_name.as_deref(), Some(FOREMAN));
    let day = local_day(&app, 7, 0)[..10].to_string();
    assert_eq!(
        (o.first_day.as_str(), o.last_day.as_str()),
        (day.as_str(), day.as_str())
    );
    // A new client has no contract: the order waits for it.
    assert_eq!(o.status, "awaiting_contracts");
    assert_eq!(request_status(&app, request).await, "accepted");

    // The client leg carries our price as offered; the supplier's its own
    // price for the same 4 hours, with its VAT split out.
    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct Leg {
        side: String,
        party_org_id: i64,
        quantity_centi: i64,
        vat_mode: String,
        unit_gross: i64,
        total_net: i64,
        total_vat: i64,
        total_gross: i64,
        contract_id: Option<i64>,
    }
    let legs: Vec<Leg> = sqlx::query_as(
        "SELECT side, party_org_id, quantity_centi, vat_mode, unit_gross, total_net, total_vat, total_gross, contract_id
         FROM order_legs WHERE order_id = $1 ORDER BY id",
    )
    .bind(order)
    .fetch_all(app.db().pool())
    .await
    .expect("legs");
    let (total, vat): (i64, i64) =
        sqlx::query_as("SELECT total_gross, total_vat FROM offers WHERE id = $1")
            .bind(offer)
            .fetch_one(app.db().pool())
            .await
            .expect("offer");
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert_eq!(legs[0].side, "client");
    assert_eq!((legs[0].total_gross, legs[0].total_vat), (total, vat));
    assert_eq!(legs[0].total_net, total - vat);
    assert_eq!(legs[1].side, "supplier");
    assert_eq!(legs[1].party_org_id, org_id(&app, GRUZAVTO).await);
    assert_eq!(
        (
            legs[1].unit_gross,
            legs[1].quantity_centi,
            legs[1].total_gross,
            legs[1].total_vat,
            legs[1].total_net
        ),
        (366_000, 400, 1_464_000, 264_000, 1_200_000)
    );
    assert_eq!(legs[1].vat_mode, "vat22");
    // One assignment: the quoted truck and driver, for the booked day.
    let a: (i64, Option<i64>, Option<String>, String) = sqlx::query_as(
        "SELECT machine_id, employee_id, plate, first_day FROM order_assignments WHERE order_id = $1",
    )
    .bind(order)
    .fetch_one(app.db().pool())
    .await
    .expect("assignment");
    assert_eq!(
        a,
        (
            machine(&app, TRUCK).await,
            Some(employee(&app, "driver1@gruzavto.test").await),
            Some(TRUCK.to_string()),
            day.clone()
        )
    );
    let booked: Vec<(i64, String)> =
        sqlx::query_as("SELECT machine_id, day FROM machine_bookings WHERE offer_id = $1")
            .bind(offer)
            .fetch_all(app.db().pool())
            .await
            .expect("bookings");
    assert_eq!(booked, [(machine(&app, TRUCK).await, day)]);

    // Each party got its framework contract, numbered the company's way: the
    // client a forwarding contract waiting for its details, the supplier its
    // contract waiting for its consent; the legs run under them.
    let client_contracts = contracts_of(&app, CLIENT).await;
    let supplier_contracts = contracts_of(&app, GRUZAVTO).await;
    assert_eq!(client_contracts.len(), 1);
    assert_eq!(
        (
            client_contracts[0].1.as_str(),
            client_contracts[0].2.as_str()
        ),
        ("forwarding", "draft")
    );
    assert_eq!(
        (
            supplier_contracts[0].1.as_str(),
            supplier_contracts[0].2.as_str()
        ),
        ("supply", "sent")
    );
    assert_eq!(legs[0].contract_id, Some(client_contracts[0].0));
    assert_eq!(legs[1].contract_id, Some(supplier_contracts[0].0));
    let numbers: Vec<String> = sqlx::query_scalar("SELECT number FROM contracts ORDER BY id")
        .fetch_all(app.db().pool())
        .await
        .expect("numbers");
    assert_eq!(
        numbers,
        [format!("РД-{year}-0001"), format!("РД-{year}-0002")]
    );
    // The client is asked for its details by mail, with a link.
    let mails = notifications_to(&app, "zakaz@sevbeton.test").await;
    let mails: Vec<_> = mails
        .iter()
        .chain(notifications_to(&app, "client@sevbeton.test").await.iter())
        .filter(|(_, body)| body.contains("/contracts/t/"))
        .cloned()
        .collect();
    assert!(!mails.is_empty(), "the client is asked for its details");
    // The manager sees the order in the list, with the client.
    let manager = login(&app, "manager@podryad.test").await;
    let (status, page) = manager.get_text("/orders").await;
    assert_eq!(status, StatusCode::OK);
    // (The page escapes the slashes of the number.)
    assert!(
        page.contains(&format!("ЗАКАЗ&#x2f;{yy}&#x2f;001")) && page.contains(CLIENT),
        "{page}"
    );
    app.stop().await;
}

/// The token of the last contract-details link mailed to the client.
async fn details_link(app: &TestApp) -> String {
    let mut all = notifications_to(app, "client@sevbeton.test").await;
    all.extend(notifications_to(app, "zakaz@sevbeton.test").await);
    all.iter()
        .rev()
        .find_map(|(_, body)| {
            body.split("/contracts/t/")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .map(str::to_string)
        })
        .expect("a details link")
}

/// What the client types into the contract form.
fn details(inn: &str) -> Vec<(&'static str, String)> {
    [
        ("legal_form", "ooo"),
        ("name", CLIENT),
        ("inn", inn),
        ("kpp", "503001001"),
        ("ogrn", "1165030123455"),
        (
            "legal_address",
            "Московская обл., г. Мытищи, ул. Бетонная, д. 1",
        ),
        ("bank_name", "ПАО Сбербанк"),
        ("bik", "044525225"),
        ("settlement_account", "40702810200000012345"),
        ("corr_account", "30101810400000000225"),
        ("phone", "+74953332211"),
        ("email", "zakaz@sevbeton.test"),
        ("signatory_name", "Громов Павел Сергеевич"),
        ("signatory_position", "Генеральный директор"),
        ("authority", "charter"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

async fn post_fields(
    b: &Browser,
    path: &str,
    fields: &[(&'static str, String)],
) -> reqwest::Response {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post_form(path, &f).await
}

#[tokio::test]
async fn a_new_client_gives_its_details_the_contracts_come_into_force_and_the_order_goes_into_work()
{
    let app = TestApp::spawn_demo().await;
    let (request, _, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let client_contract = contracts_of(&app, CLIENT).await[0].0;
    let supplier_contract = contracts_of(&app, GRUZAVTO).await[0].0;

    // The client opens the mailed link: the form, filled with what we know.
    let token = details_link(&app).await;
    let anon = app.client();
    let (status, page) = anon.get_text(&format!("/contracts/t/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(CLIENT_INN) && page.contains("name=\"signatory_name\""),
        "{page}"
    );
    // The client's cabinet shows the order waiting for the contract.
    let client = login(&app, "client@sevbeton.test").await;
    let (_, page) = client.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/contracts/{client_contract}")),
        "{page}"
    );
    // Details are checked like registration: a wrong INN is refused and the
    // link stays valid.
    let r = post_fields(
        &anon,
        &format!("/contracts/t/{token}"),
        &details("5030123458"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("aria-invalid=\"true\" aria-describedby=\"e-inn\""),
        "{page}"
    );
    let r = post_fields(
        &anon,
        &format!("/contracts/t/{token}"),
        &details(CLIENT_INN),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    // The link is spent; the contract is out for signature.
    let (status, _) = anon.get_text(&format!("/contracts/t/{token}")).await;
    assert_eq!(status, StatusCode::GONE);
    app.run_due().await;
    assert_eq!(contracts_of(&app, CLIENT).await[0].2, "sent");
    let data: String = sqlx::query_scalar("SELECT data FROM contracts WHERE id = $1")
        .bind(client_contract)
        .fetch_one(app.db().pool())
        .await
        .expect("data");
    assert!(
        data.contains("Громов Павел Сергеевич") && data.contains("charter"),
        "{data}"
    );
    assert_eq!(order_status(&app, order).await, "awaiting_contracts");

    // The supplier's owner accepts its contract (a dispatcher may not).
    let dispatcher = login(&app, "dispatcher@gruzavto.test").await;
    let r = dispatcher
        .post_form(&format!("/contracts/{supplier_contract}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let owner = login(&app, "owner@gruzavto.test").await;
    let (status, page) = owner
        .get_text(&format!("/contracts/{supplier_contract}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/accept"), "{page}");
    let r = owner
        .post_form(&format!("/contracts/{supplier_contract}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(contracts_of(&app, GRUZAVTO).await[0].2, "in_force");
    // One contract in force is not enough: the client's is still unsigned.
    assert_eq!(order_status(&app, order).await, "awaiting_contracts");

    // Staff mark the client's contract signed on paper, with the scan.
    let manager = login(&app, "manager@podryad.test").await;
    let r = post_scan(&manager, &format!("/contracts/{client_contract}/signed")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let (how, date, scan): (Option<String>, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT signed_how, signed_on, scan_file_id FROM contracts WHERE id = $1")
            .bind(client_contract)
            .fetch_one(app.db().pool())
            .await
            .expect("contract");
    assert_eq!(how.as_deref(), Some("paper"));
    assert_eq!(date.as_deref(), Some(&local_day(&app, 0, 0)[..10]));
    assert!(scan.is_some());
    // The order goes on by itself: documents, then ready for signing.
    until_status(&app, order, "ready_for_signing").await;
    let (_, page) = manager.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/orders/{order}/signed")),
        "the signing form: {page}"
    );
    // Only staff attach the signed work orders.
    let r = post_scan(&client, &format!("/orders/{order}/signed")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_scan(&manager, &format!("/orders/{order}/signed")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(order_status(&app, order).await, "in_work");
    let (signed, scan): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT signed_at, signed_scan_file_id FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(app.db().pool())
            .await
            .expect("order");
    assert!(signed.is_some() && scan.is_some());
    // In work: the request follows, the client's first order is recorded and
    // its responsible manager takes the order.
    app.run_due().await;
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "ordered");
    let (first_order, manager_of): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT first_order_at, manager_user_id FROM organisations WHERE name = $1")
            .bind(CLIENT)
            .fetch_one(app.db().pool())
            .await
            .expect("client");
    assert!(first_order.is_some());
    let order_manager: Option<i64> =
        sqlx::query_scalar("SELECT manager_user_id FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(app.db().pool())
            .await
            .expect("order");
    assert_eq!(order_manager, manager_of);
    // The staff page tells the story.
    let (_, page) = manager.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains("Готов к подписанию") && page.contains("В работе"),
        "history: {page}"
    );

    // A client with its contract in force skips the step: its next order
    // goes straight to the documents and waits for signatures.
    let (_, _, second) = accepted_order(&app, CLIENT, "client@sevbeton.test", 12).await;
    until_status(&app, second, "ready_for_signing").await;
    assert_eq!(contracts_of(&app, CLIENT).await.len(), 1);
    assert_eq!(contracts_of(&app, GRUZAVTO).await.len(), 1);
    let mails = details_link_count(&app).await;
    assert_eq!(mails, 1, "nobody asks for the details again");
    app.stop().await;
}

#[tokio::test]
async fn a_clients_contract_is_signed_in_an_envelope_and_countersigned_into_force() {
    let app = TestApp::spawn_demo().await;
    let (_, _, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let client_contract = contracts_of(&app, CLIENT).await[0].0;
    let supplier_contract = contracts_of(&app, GRUZAVTO).await[0].0;
    let token = details_link(&app).await;
    let r = post_fields(
        &app.client(),
        &format!("/contracts/t/{token}"),
        &details(CLIENT_INN),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    for _ in 0..3 {
        app.run_due().await;
    }
    // The contract's PDF went to the client in an envelope, on its page.
    let (envelope, status): (i64, String) = sqlx::query_as(
        "SELECT id, status FROM envelopes WHERE owner_kind = 'contract' AND owner_id = $1",
    )
    .bind(client_contract)
    .fetch_one(app.db().pool())
    .await
    .expect("the contract's envelope");
    assert_eq!(status, "sent");
    let client = login(&app, "client@sevbeton.test").await;
    let (_, page) = client
        .get_text(&format!("/contracts/{client_contract}"))
        .await;
    assert!(page.contains(&format!("/signing/{envelope}")), "{page}");
    crate::signing::party_signs(&app, &client, envelope, "client@sevbeton.test").await;
    let owner = login(&app, "owner@gruzavto.test").await;
    let r = owner
        .post_form(&format!("/contracts/{supplier_contract}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_due().await;
    // Signed by the client only: not yet in force.
    assert_eq!(contracts_of(&app, CLIENT).await[0].2, "sent");
    assert_eq!(order_status(&app, order).await, "awaiting_contracts");

    // A manager with the right countersigns: in force, and the order goes on.
    crate::signing::give_countersign_right(&app).await;
    let manager = login(&app, "manager@podryad.test").await;
    let r = manager
        .post_form(&format!("/signing/{envelope}/countersign"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let (status, how): (String, Option<String>) =
        sqlx::query_as("SELECT status, signed_how FROM contracts WHERE id = $1")
            .bind(client_contract)
            .fetch_one(app.db().pool())
            .await
            .expect("contract");
    assert_eq!(status, "in_force");
    assert_eq!(how.as_deref(), Some("envelopes"));
    until_status(&app, order, "ready_for_signing").await;
    // The client downloads the signed contract.
    let r = client.get(&format!("/signing/{envelope}/signed.pdf")).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

async fn details_link_count(app: &TestApp) -> usize {
    let mut all = notifications_to(app, "client@sevbeton.test").await;
    all.extend(notifications_to(app, "zakaz@sevbeton.test").await);
    all.iter()
        .filter(|(_, body)| body.contains("/contracts/t/"))
        .count()
}

#[tokio::test]
async fn each_side_sees_only_its_own_leg_and_another_partys_order_is_not_found() {
    let app = TestApp::spawn_demo().await;
    let (request, offer, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let number: String = sqlx::query_scalar("SELECT number FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(app.db().pool())
        .await
        .expect("number");
    let request_number: String = sqlx::query_scalar("SELECT number FROM requests WHERE id = $1")
        .bind(request)
        .fetch_one(app.db().pool())
        .await
        .expect("request");
    let (our_unit, our_total): (i64, i64) =
        sqlx::query_as("SELECT unit_gross, total_gross FROM offers WHERE id = $1")
            .bind(offer)
            .fetch_one(app.db().pool())
            .await
            .expect("offer");
    let legs = legs(&app, order).await;
    let (client_leg, supplier_leg) = (legs[0].0, legs[1].0);
    let client_contract = contracts_of(&app, CLIENT).await[0].0;
    let supplier_contract = contracts_of(&app, GRUZAVTO).await[0].0;

    // What the client must never read: the supplier, its people and price.
    let supplier_secrets = [
        GRUZAVTO.to_string(),
        "ГрузАвто".to_string(),
        GRUZAVTO_INN.to_string(),
        money(366_000),
        money(1_464_000),
        "Козлов".to_string(),
        "+79161110301".to_string(),
        "Медведев".to_string(),
    ];
    // What a supplier must never read: the client, its people, our price.
    let client_secrets = [
        CLIENT.to_string(),
        "Северный бетон".to_string(),
        CLIENT_INN.to_string(),
        FOREMAN.to_string(),
        FOREMAN_PHONE.to_string(),
        "777-00-42".to_string(),
        "Громов".to_string(),
        request_number.clone(),
        money(our_unit),
        money(our_total),
    ];
    let check = |who: &str, path: &str, page: &str, secrets: &[String]| {
        for s in secrets {
            assert!(
                !page.contains(s.as_str()),
                "{who} must not see {s:?} on {path}: {page}"
            );
        }
    };

    // The client: its list, its order, its leg's data, its contract.
    let client = login(&app, "client@sevbeton.test").await;
    for path in [
        "/orders".to_string(),
        format!("/orders/{order}"),
        format!("/orders/legs/{client_leg}/work-order"),
        "/contracts".to_string(),
        format!("/contracts/{client_contract}"),
    ] {
        let (status, page) = client.get_text(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        check("the client", &path, &page, &supplier_secrets);
    }
    let (_, page) = client.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&number)
            && page.contains(TRUCK)
            && page.contains("Артём")
            && page.contains(&money(our_total)),
        "the client sees the machine, the driver's first name and our price: {page}"
    );

    // The supplier's office: its list, its order, its leg, its contract.
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    for path in [
        "/orders".to_string(),
        format!("/orders/{order}"),
        format!("/orders/legs/{supplier_leg}/work-order"),
        "/contracts".to_string(),
        format!("/contracts/{supplier_contract}"),
    ] {
        let (status, page) = gruz.get_text(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        check("the supplier", &path, &page, &client_secrets);
    }
    let our_person: String = sqlx::query_scalar(
        "SELECT u.full_name FROM orders o JOIN users u ON u.id = o.manager_user_id WHERE o.id = $1",
    )
    .bind(order)
    .fetch_one(app.db().pool())
    .await
    .expect("the order has our person");
    let (_, page) = gruz.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains("г. Москва, ул. Тверская, д. 7")
            && page.contains(&money(1_464_000))
            && page.contains(&our_person)
            && page.contains("***"),
        "the supplier sees the site, its price, our contact and the work with contacts masked: {page}"
    );

    // Another party's order, leg or contract is not found.
    for (who, path) in [
        (
            "client@sevbeton.test",
            format!("/orders/legs/{supplier_leg}/work-order"),
        ),
        (
            "client@sevbeton.test",
            format!("/contracts/{supplier_contract}"),
        ),
        (
            "dispatcher@gruzavto.test",
            format!("/orders/legs/{client_leg}/work-order"),
        ),
        (
            "dispatcher@gruzavto.test",
            format!("/contracts/{client_contract}"),
        ),
        ("dispatcher@stroytech.test", format!("/orders/{order}")),
        (
            "dispatcher@stroytech.test",
            format!("/orders/legs/{supplier_leg}/work-order"),
        ),
        ("client@belova.test", format!("/orders/{order}")),
        (
            "client@belova.test",
            format!("/orders/legs/{client_leg}/work-order"),
        ),
        ("driver1@gruzavto.test", format!("/orders/{order}")),
    ] {
        let b = login(&app, who).await;
        let (status, _) = b.get_text(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who} {path}");
    }
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let (_, page) = stroy.get_text("/orders").await;
    assert!(!page.contains(&number), "{page}");

    // The documents seam itself: each leg's data is cut for its party.
    let s = services(&app);
    let mine = serde_json::to_string(
        &domain::orders::paper::work_order(s, client_leg)
            .await
            .expect("client leg"),
    )
    .expect("json");
    for secret in [GRUZAVTO, GRUZAVTO_INN, "Козлов", "+79161110301"] {
        assert!(
            !mine.contains(secret),
            "client work order has {secret:?}: {mine}"
        );
    }
    assert!(
        mine.contains("\"driver\":\"Артём\"") && mine.contains(&our_total.to_string()),
        "{mine}"
    );
    let theirs = serde_json::to_string(
        &domain::orders::paper::work_order(s, supplier_leg)
            .await
            .expect("supplier leg"),
    )
    .expect("json");
    for secret in [
        CLIENT,
        CLIENT_INN,
        FOREMAN,
        FOREMAN_PHONE,
        "+7 916 777-00-42",
        &our_total.to_string(),
        &our_unit.to_string(),
    ] {
        assert!(
            !theirs.contains(secret),
            "supplier work order has {secret:?}: {theirs}"
        );
    }
    assert!(
        theirs.contains("\"our_role\":\"customer\"") && theirs.contains("1464000"),
        "{theirs}"
    );

    // The staff see both legs, both parties and the margin.
    let manager = login(&app, "manager@podryad.test").await;
    let (status, page) = manager.get_text(&format!("/orders/{order}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(CLIENT)
            && page.contains(GRUZAVTO)
            && page.contains(&money(our_total))
            && page.contains(&money(1_464_000)),
        "{page}"
    );
    for leg in [client_leg, supplier_leg] {
        let (status, _) = manager
            .get_text(&format!("/orders/legs/{leg}/work-order"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    // Staff cancel the order: the truck's day is free again and the request
    // is cancelled with it.
    let r = manager
        .post_form(&format!("/orders/{order}/cancel"), &[("reason", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = manager
        .post_form(
            &format!("/orders/{order}/cancel"),
            &[("reason", "Клиент перенёс стройку")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(order_status(&app, order).await, "cancelled");
    assert_eq!(request_status(&app, request).await, "cancelled");
    let booked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM machine_bookings WHERE offer_id = $1")
            .bind(offer)
            .fetch_one(app.db().pool())
            .await
            .expect("bookings");
    assert_eq!(booked, 0);
    app.stop().await;
}

const STROYTECH: &str = "ООО «СтройТехРесурс»";
const SEMI: &str = "К808ХМ 799";
const MANIPULATOR: &str = "М702ОР 190";

/// A supplier's quote form with one row per machine (`(plate, driver)`).
async fn quote_machines(
    app: &TestApp,
    b: &Browser,
    rfq: i64,
    rows: &[(&str, &str)],
    price: &str,
    arrival: &str,
) -> reqwest::Response {
    let mut ids = Vec::new();
    for (plate, driver) in rows {
        let m = if plate.is_empty() {
            String::new()
        } else {
            machine(app, plate).await.to_string()
        };
        let e = if driver.is_empty() {
            String::new()
        } else {
            employee(app, driver).await.to_string()
        };
        ids.push((m, e));
    }
    let mut form: Vec<(&str, &str)> = Vec::new();
    for (m, e) in &ids {
        form.push(("machine_id", m));
        form.push(("employee_id", e));
    }
    form.extend([
        ("price_unit", "hour"),
        ("unit_price", price),
        ("quantity", "4"),
        ("vat_mode", "vat22"),
        ("prepayment_percent", "0"),
        ("postpayment_days", "10"),
        ("payment_method", "bank"),
        ("arrival_at", arrival),
        ("valid_until", ""),
        ("comment", ""),
    ]);
    b.post_form(&format!("/supplier/rfqs/{rfq}/quote"), &form)
        .await
}

#[tokio::test]
async fn quotes_of_several_suppliers_make_one_offer_and_one_order_with_a_leg_each() {
    let app = TestApp::spawn_demo().await;
    // After the semi-trailer's trip to Kazan (days 5 to 9 in the demo) and
    // before the manipulator's diagnostic card runs out (day 11).
    let days = 10;
    // The client needs three trucks.
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("f.cargo", "Кирпич на поддонах"),
        ("f.weight_t", "4"),
        ("f.vehicles", "3"),
        ("f.loading_address", "г. Москва, ул. Тверская, д. 7"),
        ("f.loading_address.lat", "55.7578"),
        ("f.loading_address.lon", "37.6117"),
        ("f.unloading_address", "г. Тверь, ул. Складская, д. 3"),
    ] {
        fields.insert(k.to_string(), v.to_string());
    }
    let input = RequestInput {
        request_type: "cargo".into(),
        wanted_from: local_day(&app, days, 10),
        duration: "4".into(),
        contact_name: FOREMAN.into(),
        contact_phone: FOREMAN_PHONE.into(),
        fields,
        ..Default::default()
    };
    let request = place_qualified(&app, CLIENT, &input).await.id;
    let manager = login(&app, "manager@podryad.test").await;
    send_rfq(&app, &manager, request, &[GRUZAVTO, STROYTECH]).await;

    // GruzAvto offers two of its trucks, each with its driver; its form asks
    // for the three machines the client needs.
    let gruz = login(&app, "dispatcher@gruzavto.test").await;
    let rfq_g = rfq_of(&app, request, GRUZAVTO).await;
    let (_, page) = gruz.get_text(&format!("/supplier/rfqs/{rfq_g}")).await;
    assert_eq!(page.matches("name=\"machine_id\"").count(), 3, "{page}");
    let arrival = local_day(&app, days, 9);
    // The same truck twice is refused.
    let r = quote_machines(
        &app,
        &gruz,
        rfq_g,
        &[
            (TRUCK, "driver1@gruzavto.test"),
            (TRUCK, "driver2@gruzavto.test"),
        ],
        "3 660",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("уже указана"));
    let r = quote_machines(
        &app,
        &gruz,
        rfq_g,
        &[
            (TRUCK, "driver1@gruzavto.test"),
            (SEMI, "driver2@gruzavto.test"),
            ("", ""),
        ],
        "3 660",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let (q_g, machines, total): (i64, i64, i64) =
        sqlx::query_as("SELECT id, machines, total_price FROM supplier_quotes WHERE rfq_id = $1")
            .bind(rfq_g)
            .fetch_one(app.db().pool())
            .await
            .expect("quote");
    assert_eq!((machines, total), (2, 366_000 * 4 * 2));
    // StroyTech offers its manipulator.
    let stroy = login(&app, "dispatcher@stroytech.test").await;
    let rfq_s = rfq_of(&app, request, STROYTECH).await;
    let r = quote_machines(
        &app,
        &stroy,
        rfq_s,
        &[(MANIPULATOR, "driver1@stroytech.test")],
        "4 880",
        &arrival,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    assert_eq!(request_status(&app, request).await, "quote_review");
    let q_s: i64 = sqlx::query_scalar("SELECT id FROM supplier_quotes WHERE rfq_id = $1")
        .bind(rfq_s)
        .fetch_one(app.db().pool())
        .await
        .expect("quote");

    // The manager offers both quotes together: three machines of three.
    let (status, page) = manager
        .get_text(&format!(
            "/requests/{request}/offer?quote={q_g}&quote={q_s}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("3 из 3"), "{page}");
    let r = manager
        .post_form(
            &format!("/requests/{request}/offer"),
            &[
                ("quote_id", &format!("{q_g},{q_s}")),
                ("markup_kind", "percent"),
                ("markup", "10"),
                ("quantity", "4"),
                ("prepayment_percent", "0"),
                ("postpayment_days", "5"),
                ("payment_method", "bank"),
                ("valid_until", &local_day(&app, 2, 18)),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    #[derive(sqlx::FromRow, Debug)]
    struct Offer {
        id: i64,
        machines: i64,
        unit_gross: i64,
        quantity_centi: i64,
        total_gross: i64,
        total_vat: i64,
        margin_total: i64,
    }
    let offer: Offer = sqlx::query_as(
        "SELECT id, machines, unit_gross, quantity_centi, total_gross, total_vat, margin_total FROM offers WHERE request_id = $1",
    )
    .bind(request)
    .fetch_one(app.db().pool())
    .await
    .expect("offer");
    assert_eq!((offer.machines, offer.quantity_centi), (3, 400));
    assert_eq!(offer.total_gross, offer.unit_gross * 4 * 3);
    // The margin is against what each supplier really costs without its
    // VAT: 3 000 ₽ × 4 h × 2 and 4 000 ₽ × 4 h.
    assert_eq!(
        offer.margin_total,
        offer.total_gross - offer.total_vat - (300_000 * 4 * 2 + 400_000 * 4)
    );
    let client = login(&app, "client@sevbeton.test").await;
    let (_, page) = client.get_text(&format!("/offers/{}", offer.id)).await;
    assert!(page.contains("машин: 3"), "{page}");
    for secret in [GRUZAVTO, STROYTECH, TRUCK, SEMI, MANIPULATOR] {
        assert!(!page.contains(secret), "the client must not see {secret:?}");
    }

    // Accepting books all three machines and makes one order with a leg per
    // supplier and an assignment per machine.
    let r = client
        .post_form(&format!("/offers/{}/accept", offer.id), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    app.run_due().await;
    let order: i64 = sqlx::query_scalar("SELECT id FROM orders WHERE offer_id = $1")
        .bind(offer.id)
        .fetch_one(app.db().pool())
        .await
        .expect("order");
    let day = local_day(&app, days, 0)[..10].to_string();
    let mut booked: Vec<(i64, String)> =
        sqlx::query_as("SELECT machine_id, day FROM machine_bookings WHERE offer_id = $1")
            .bind(offer.id)
            .fetch_all(app.db().pool())
            .await
            .expect("bookings");
    booked.sort();
    let mut want = vec![
        (machine(&app, TRUCK).await, day.clone()),
        (machine(&app, SEMI).await, day.clone()),
        (machine(&app, MANIPULATOR).await, day.clone()),
    ];
    want.sort();
    assert_eq!(booked, want);
    let legs: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT side, party_org_id, quantity_centi, total_gross FROM order_legs WHERE order_id = $1 ORDER BY id",
    )
    .bind(order)
    .fetch_all(app.db().pool())
    .await
    .expect("legs");
    assert_eq!(
        legs,
        [
            (
                "client".to_string(),
                org_id(&app, CLIENT).await,
                1200,
                offer.total_gross
            ),
            (
                "supplier".to_string(),
                org_id(&app, GRUZAVTO).await,
                800,
                366_000 * 8
            ),
            (
                "supplier".to_string(),
                org_id(&app, STROYTECH).await,
                400,
                488_000 * 4
            ),
        ]
    );
    let assigned: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM order_assignments WHERE order_id = $1")
            .bind(order)
            .fetch_one(app.db().pool())
            .await
            .expect("assignments");
    assert_eq!(assigned, 3);
    let won: Vec<String> =
        sqlx::query_scalar("SELECT status FROM supplier_quotes WHERE request_id = $1 ORDER BY id")
            .bind(request)
            .fetch_all(app.db().pool())
            .await
            .expect("quotes");
    assert_eq!(won, ["won", "won"]);
    // Each supplier has its own contract to accept.
    assert_eq!(contracts_of(&app, GRUZAVTO).await.len(), 1);
    assert_eq!(contracts_of(&app, STROYTECH).await.len(), 1);

    // Each supplier reads its own machines and price, not the other's; the
    // client every machine, no supplier.
    let (_, page) = gruz.get_text(&format!("/orders/{order}")).await;
    assert!(page.contains(TRUCK) && page.contains(SEMI), "{page}");
    for secret in [MANIPULATOR, STROYTECH, CLIENT, &money(488_000 * 4)] {
        assert!(
            !page.contains(secret),
            "GruzAvto must not see {secret:?}: {page}"
        );
    }
    let (_, page) = stroy.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(MANIPULATOR) && page.contains(&money(488_000 * 4)),
        "{page}"
    );
    for secret in [TRUCK, SEMI, GRUZAVTO, CLIENT, &money(366_000 * 8)] {
        assert!(
            !page.contains(secret),
            "StroyTech must not see {secret:?}: {page}"
        );
    }
    let (_, page) = client.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(TRUCK) && page.contains(SEMI) && page.contains(MANIPULATOR),
        "{page}"
    );
    for secret in [
        GRUZAVTO,
        STROYTECH,
        &money(366_000 * 8),
        &money(488_000 * 4),
    ] {
        assert!(
            !page.contains(secret),
            "the client must not see {secret:?}: {page}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_demo_shows_orders_in_every_state() {
    let app = TestApp::spawn_demo().await;
    let s = services(&app);
    podryad::demo::seed_deals(s).await.expect("deals");
    podryad::demo::seed_orders(s).await.expect("orders");
    let states: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.name, o.status FROM orders o JOIN organisations c ON c.id = o.client_org_id ORDER BY o.id",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("orders");
    let states: Vec<(&str, &str)> = states
        .iter()
        .map(|(c, st)| (c.as_str(), st.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (CLIENT, "ready_for_signing"),
            (CLIENT, "signed"),
            (CLIENT, "awaiting_contracts"),
            ("Белова Ирина Сергеевна", "awaiting_contracts"),
        ]
    );
    // Fedorov's contract waits for its owner, Белова's for her details.
    let fedorov: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.kind, c.status FROM contracts c JOIN organisations o ON o.id = c.party_org_id WHERE o.name = 'ИП Фёдоров Андрей Викторович'",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("contracts");
    assert_eq!(fedorov, [("supply".to_string(), "sent".to_string())]);
    let belova: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.kind, c.status FROM contracts c JOIN organisations o ON o.id = c.party_org_id WHERE o.name = 'Белова Ирина Сергеевна'",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("contracts");
    assert_eq!(belova, [("forwarding".to_string(), "draft".to_string())]);
    // Every cabinet shows its orders.
    for (who, count) in [
        ("manager@podryad.test", 4),
        ("client@sevbeton.test", 3),
        ("client@belova.test", 1),
        ("dispatcher@gruzavto.test", 2),
        ("dispatcher@fedorov.test", 1),
    ] {
        let b = login(&app, who).await;
        let (status, page) = b.get_text("/orders").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            page.matches("href=\"/orders/").count(),
            count,
            "{who}: {page}"
        );
    }
    // The Fedorov owner's inbox has the contract to accept.
    let owner = login(&app, "owner@fedorov.test").await;
    let (_, inbox) = owner.get_text("/tasks").await;
    assert!(inbox.contains("Принять рамочный договор"), "{inbox}");
    // Seeding again adds nothing.
    podryad::demo::seed_orders(s).await.expect("again");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(n, 4);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_first_orders_accepted_at_once_share_one_contract_per_party() {
    let app = TestApp::spawn_demo().await;
    // Two offers to a new client, GruzAvto's two trucks, accepted at once.
    let (_, a) = offered(&app, CLIENT, 7, TRUCK, "driver1@gruzavto.test").await;
    let (_, b) = offered(&app, CLIENT, 10, SEMI, "driver2@gruzavto.test").await;
    let client = login(&app, "client@sevbeton.test").await;
    let (pa, pb) = (format!("/offers/{a}/accept"), format!("/offers/{b}/accept"));
    let (ra, rb) = tokio::join!(client.post_form(&pa, &[]), client.post_form(&pb, &[]));
    assert_eq!(ra.status(), StatusCode::SEE_OTHER, "{:?}", ra.text().await);
    assert_eq!(rb.status(), StatusCode::SEE_OTHER, "{:?}", rb.text().await);
    app.run_due().await;
    let (oa, ob) = (order_of(&app, a).await, order_of(&app, b).await);
    // One contract per party and kind, and both orders' legs run under it.
    let client_contracts = contracts_of(&app, CLIENT).await;
    let supplier_contracts = contracts_of(&app, GRUZAVTO).await;
    assert_eq!(client_contracts.len(), 1, "{client_contracts:?}");
    assert_eq!(supplier_contracts.len(), 1, "{supplier_contracts:?}");
    let under: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT contract_id FROM order_legs WHERE order_id IN ($1, $2) ORDER BY side, order_id",
    )
    .bind(oa)
    .bind(ob)
    .fetch_all(app.db().pool())
    .await
    .expect("legs");
    let (c, sup) = (Some(client_contracts[0].0), Some(supplier_contracts[0].0));
    assert_eq!(under, [c, c, sup, sup]);
    // Both orders go on when the contracts come into force.
    let owner = login(&app, "owner@gruzavto.test").await;
    let r = owner
        .post_form(
            &format!("/contracts/{}/accept", supplier_contracts[0].0),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let token = details_link(&app).await;
    let anon = app.client();
    let r = post_fields(
        &anon,
        &format!("/contracts/t/{token}"),
        &details(CLIENT_INN),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let manager = login(&app, "manager@podryad.test").await;
    let r = post_scan(
        &manager,
        &format!("/contracts/{}/signed", client_contracts[0].0),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    until_status(&app, oa, "ready_for_signing").await;
    until_status(&app, ob, "ready_for_signing").await;
    app.stop().await;
}

/// The text of a PDF as poppler's `pdftotext` reads it, whitespace runs
/// made one space; `None` (with a note) without poppler-utils, which
/// scripts/test installs.
pub(crate) fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = match std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: PDF text checks skipped: pdftotext cannot be run: {e}");
            return None;
        }
    };
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `(id, template, part, party org)` of the documents issued for an owner.
async fn issued(app: &TestApp, kind: &str, id: i64) -> Vec<(i64, String, String, Option<i64>)> {
    sqlx::query_as(
        "SELECT id, template_key, owner_part, party_org_id FROM rendered_documents \
         WHERE owner_kind = $1 AND owner_id = $2 ORDER BY id",
    )
    .bind(kind)
    .bind(id)
    .fetch_all(app.db().pool())
    .await
    .expect("documents")
}

/// Downloads a document: its status and, when 200, its text.
async fn download(b: &Browser, doc: i64) -> (StatusCode, Option<String>) {
    let r = b.get(&format!("/documents/{doc}")).await;
    let status = r.status();
    if status != StatusCode::OK {
        return (status, None);
    }
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let bytes = r.bytes().await.expect("pdf");
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    (status, Some(pdf_text(&bytes).unwrap_or_default()))
}

/// One space for every run of whitespace (amounts print with NBSP).
fn spaced(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_contracts_and_both_work_orders_are_pdfs_each_party_reads_only_its_own() {
    let app = TestApp::spawn_demo().await;
    let (_, offer, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let client_contract = contracts_of(&app, CLIENT).await[0].0;
    let supplier_contract = contracts_of(&app, GRUZAVTO).await[0].0;
    let number: String = sqlx::query_scalar("SELECT number FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(app.db().pool())
        .await
        .expect("number");
    let our_total: i64 = sqlx::query_scalar("SELECT total_gross FROM offers WHERE id = $1")
        .bind(offer)
        .fetch_one(app.db().pool())
        .await
        .expect("offer");

    // No work orders while the contracts are not in force.
    assert!(issued(&app, "order", order).await.is_empty());
    // The client gives its details: its contract is issued as a PDF for it.
    let token = details_link(&app).await;
    let anon = app.client();
    let r = post_fields(
        &anon,
        &format!("/contracts/t/{token}"),
        &details(CLIENT_INN),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    app.run_due().await;
    app.run_due().await;
    let client_contract_docs = issued(&app, "contract", client_contract).await;
    assert_eq!(client_contract_docs.len(), 1, "{client_contract_docs:?}");
    assert_eq!(client_contract_docs[0].1, "contract_cargo");
    let supplier_contract_docs = issued(&app, "contract", supplier_contract).await;
    assert_eq!(
        supplier_contract_docs.len(),
        1,
        "{supplier_contract_docs:?}"
    );
    assert_eq!(supplier_contract_docs[0].1, "contract_supplier");

    let client = login(&app, "client@sevbeton.test").await;
    let owner = login(&app, "owner@gruzavto.test").await;
    let (status, text) = download(&client, client_contract_docs[0].0).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.expect("text");
    if !text.is_empty() {
        assert!(
            text.contains("Договор транспортной экспедиции")
                && text.contains(CLIENT_INN)
                && text.contains("Громов Павел Сергеевич"),
            "the client's contract, with the details it gave: {text}"
        );
    }
    let (status, _) = download(&owner, client_contract_docs[0].0).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a supplier reading the client's contract"
    );
    let (status, _) = download(&client, supplier_contract_docs[0].0).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the client reading the supplier's contract"
    );
    let (_, page) = client
        .get_text(&format!("/contracts/{client_contract}"))
        .await;
    assert!(
        page.contains(&format!("/documents/{}", client_contract_docs[0].0)),
        "{page}"
    );

    // The supplier accepts, staff sign the client's contract: the order
    // issues its work orders and waits for the signatures.
    let r = owner
        .post_form(&format!("/contracts/{supplier_contract}/accept"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let manager = login(&app, "manager@podryad.test").await;
    let r = post_scan(&manager, &format!("/contracts/{client_contract}/signed")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    until_status(&app, order, "ready_for_signing").await;
    let docs = issued(&app, "order", order).await;
    assert_eq!(docs.len(), 2, "one work order per leg: {docs:?}");
    let legs = legs(&app, order).await;
    let (client_doc, supplier_doc) = (docs[0].0, docs[1].0);
    assert_eq!(
        (docs[0].1.as_str(), docs[0].2.as_str(), docs[0].3),
        (
            "work_order_client",
            "client",
            Some(org_id(&app, CLIENT).await)
        )
    );
    assert_eq!(
        (docs[1].1.as_str(), docs[1].2.clone(), docs[1].3),
        (
            "work_order_supplier",
            format!("supplier:{}", legs[1].0),
            Some(org_id(&app, GRUZAVTO).await)
        )
    );

    // The client's work order: ours, with our price, the truck and the
    // driver's first name — nothing of the supplier.
    let (status, text) = download(&client, client_doc).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.expect("text");
    if !text.is_empty() {
        for want in [
            "Заявка-наряд".to_string(),
            format!("{number}-К"),
            CLIENT.to_string(),
            TRUCK.to_string(),
            "Артём".to_string(),
            spaced(&money(our_total)),
            "Экспедитор".to_string(),
        ] {
            assert!(
                text.contains(&want),
                "the client's work order lacks {want:?}: {text}"
            );
        }
        for secret in [
            GRUZAVTO,
            GRUZAVTO_INN,
            "Козлов",
            &spaced(&money(1_464_000)),
            &spaced(&money(366_000)),
        ] {
            assert!(
                !text.contains(secret),
                "the client's work order shows {secret:?}: {text}"
            );
        }
    }
    // The supplier's: we are the customer; its price, the site and our
    // person — nothing of the client, nor our price.
    let (status, text) = download(&owner, supplier_doc).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.expect("text");
    if !text.is_empty() {
        for want in [
            format!("{number}-П1"),
            GRUZAVTO.to_string(),
            "Заказчик".to_string(),
            "Перевозчик".to_string(),
            spaced(&money(1_464_000)),
            "г. Москва, ул. Тверская, д. 7".to_string(),
            TRUCK.to_string(),
        ] {
            assert!(
                text.contains(&want),
                "the supplier's work order lacks {want:?}: {text}"
            );
        }
        for secret in [
            CLIENT,
            "Северный бетон",
            CLIENT_INN,
            FOREMAN,
            "777-00-42",
            "Громов",
            &spaced(&money(our_total)),
        ] {
            assert!(
                !text.contains(secret),
                "the supplier's work order shows {secret:?}: {text}"
            );
        }
    }
    // Another party's document is not found — to the other side, another
    // supplier, another client and the supplier's driver.
    for (who, doc) in [
        ("client@sevbeton.test", supplier_doc),
        ("owner@gruzavto.test", client_doc),
        ("dispatcher@gruzavto.test", client_doc),
        ("dispatcher@stroytech.test", supplier_doc),
        ("dispatcher@stroytech.test", client_doc),
        ("client@belova.test", client_doc),
    ] {
        let b = login(&app, who).await;
        let (status, _) = download(&b, doc).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{who} reading document {doc}"
        );
    }
    // Each order page lists only the reader's own documents; staff all.
    let (_, page) = client.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/documents/{client_doc}"))
            && !page.contains(&format!("/documents/{supplier_doc}")),
        "{page}"
    );
    let (_, page) = owner.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/documents/{supplier_doc}"))
            && !page.contains(&format!("/documents/{client_doc}")),
        "{page}"
    );
    let (_, page) = manager.get_text(&format!("/orders/{order}")).await;
    assert!(
        page.contains(&format!("/documents/{client_doc}"))
            && page.contains(&format!("/documents/{supplier_doc}")),
        "{page}"
    );
    // Staff download both; a stored PDF changed behind our back is never
    // served.
    for doc in [client_doc, supplier_doc] {
        let (status, _) = download(&manager, doc).await;
        assert_eq!(status, StatusCode::OK);
    }
    let hash: String = sqlx::query_scalar("SELECT sha256 FROM rendered_documents WHERE id = $1")
        .bind(client_doc)
        .fetch_one(app.db().pool())
        .await
        .expect("hash");
    assert_eq!(hash.len(), 64);
    app.stop().await;
}

#[tokio::test]
async fn the_contract_form_fills_company_details_from_the_registry_by_inn() {
    let (app, _dadata) = TestApp::spawn_with_fake_registry(true).await;
    accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let token = details_link(&app).await;
    let anon = app.client();
    let r = anon
        .post_form(
            &format!("/contracts/t/{token}"),
            &[
                ("legal_form", "ooo"),
                ("inn", "7736207543"),
                ("bik", "044525225"),
                ("signatory_name", "Громов Павел Сергеевич"),
                ("lookup", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("Данные из реестра подставлены"), "{page}");
    assert!(page.contains("value=\"770401001\""), "KPP filled: {page}");
    assert!(page.contains("ЯНДЕКС"), "name filled: {page}");
    assert!(
        page.contains("value=\"Громов Павел Сергеевич\""),
        "what was typed stays: {page}"
    );
    // A lookup saves nothing: the contract still waits, the link still works.
    assert_eq!(contracts_of(&app, CLIENT).await[0].2, "draft");
    let (status, _) = anon.get_text(&format!("/contracts/t/{token}")).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
