//! Demo orders, one in each state worth showing, made the way people make
//! them (requests, quotes, our offer, the client's accept, contracts,
//! signatures) through the domain's own functions:
//!
//! - Северный бетон's cargo order with ГрузАвто: contracts in force, the
//!   work orders sent for signing, waiting for the client's signature;
//! - its machinery order with СтройТехРесурс: both work orders signed with
//!   the built-in e-signature (codes from the outbox) and countersigned by
//!   the manager — «Оформлен» (signed on paper when no work orders were
//!   issued);
//! - its materials order with ИП Фёдоров: waiting for the supplier to
//!   accept its framework contract;
//! - Ирина Белова's cargo order with ГрузАвто: waiting for her details for
//!   the contract (her mailed link, or her cabinet).
//!
//! Skipped once any order exists.

use chrono::Duration;

use domain::error::{DomainError, DomainResult};
use domain::services::Services;

use super::{demo_actor, demo_request};

/// What a demo scan of a signed paper is (a tiny PDF).
const SCAN: &[u8] = b"%PDF-1.4\n% Podryad demo: a scan of a document signed on paper\n%%EOF\n";

struct DemoOrder {
    client: &'static str,
    client_login: &'static str,
    supplier: &'static str,
    dispatcher: &'static str,
    plate: &'static str,
    driver: &'static str,
    request_type: &'static str,
    fields: &'static [(&'static str, &'static str)],
    days: i64,
    duration: &'static str,
    price_unit: &'static str,
    price: &'static str,
    quantity: &'static str,
}

fn other(e: impl std::fmt::Display) -> DomainError {
    DomainError::Other(anyhow::anyhow!("{e}"))
}

async fn step(s: &Services) -> DomainResult<()> {
    for _ in 0..3 {
        s.engine.run_due_now().await.map_err(other)?;
    }
    Ok(())
}

async fn id_of(s: &Services, sql: &'static str, key: &str) -> DomainResult<i64> {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(key)
        .fetch_optional(s.db.pool())
        .await?
        .ok_or_else(|| other(format!("demo data lacks {key}")))
}

/// Request → quote → offer → accept; returns the order.
async fn order(s: &Services, d: &DemoOrder) -> DomainResult<i64> {
    use domain::deals::offers::{self, Decision, OfferInput};
    use domain::deals::quotes::{self, QuoteInput};
    use domain::intake::requests::Channel;
    use domain::intake::{self, ClientChoice, IntakeRequest};
    let operator = demo_actor(&s.db, "operator@podryad.test").await?;
    let manager = demo_actor(&s.db, "manager@podryad.test").await?;
    let client = id_of(s, "SELECT id FROM organisations WHERE name = $1", d.client).await?;
    let supplier = id_of(
        s,
        "SELECT id FROM organisations WHERE name = $1",
        d.supplier,
    )
    .await?;
    let mut input = demo_request(s, d.request_type, d.fields, d.days, 9, d.duration, "");
    input.contact_name = "Прораб Сидоров".into();
    input.contact_phone = "+79167770042".into();
    let created = intake::place(
        s,
        &operator,
        IntakeRequest {
            channel: Channel::Operator,
            client: ClientChoice::Existing(client),
            input,
            attachments: Vec::new(),
        },
    )
    .await?;
    step(s).await?;
    let task: i64 = sqlx::query_scalar(
        "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
         WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = 'qualify' AND t.status = 'open'",
    )
    .bind(created.id)
    .fetch_one(s.db.pool())
    .await?;
    s.engine
        .complete_task(task, "ready", Default::default(), &engine::Actor::System)
        .await
        .map_err(other)?;
    step(s).await?;
    domain::deals::rfq::send(s, &manager, created.id, &[supplier]).await?;
    step(s).await?;
    let rfq: i64 =
        sqlx::query_scalar("SELECT id FROM rfqs WHERE request_id = $1 AND supplier_org_id = $2")
            .bind(created.id)
            .bind(supplier)
            .fetch_one(s.db.pool())
            .await?;
    let day =
        s.db.now()
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive()
            + Duration::days(d.days);
    let dispatcher = demo_actor(&s.db, d.dispatcher).await?;
    let quote = quotes::submit(
        s,
        &dispatcher,
        rfq,
        &QuoteInput {
            machine_id: id_of(s, "SELECT id FROM machines WHERE plate = $1", d.plate)
                .await?
                .to_string(),
            employee_id: id_of(s, "SELECT id FROM employees WHERE email = $1", d.driver)
                .await?
                .to_string(),
            price_unit: d.price_unit.into(),
            unit_price: d.price.into(),
            quantity: d.quantity.into(),
            vat_mode: "vat22".into(),
            prepayment_percent: "0".into(),
            postpayment_days: "10".into(),
            payment_method: "bank".into(),
            arrival_at: format!("{}T08:30", day.format("%Y-%m-%d")),
            valid_until: String::new(),
            comment: String::new(),
            machines: Vec::new(),
        },
    )
    .await
    .map_err(|e| other(format!("the demo quote of {}: {e:?}", d.plate)))?;
    step(s).await?;
    let valid =
        s.db.now()
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive()
            + Duration::days(2);
    let sent = offers::send(
        s,
        &manager,
        created.id,
        &OfferInput {
            quote_id: quote.to_string(),
            markup_kind: "percent".into(),
            markup: "15".into(),
            quantity: d.quantity.into(),
            prepayment_percent: "0".into(),
            postpayment_days: "5".into(),
            payment_method: "bank".into(),
            valid_until: format!("{}T18:00", valid.format("%Y-%m-%d")),
            comment: String::new(),
        },
    )
    .await?;
    // The demo's orders are priced within the margin, so they are sent.
    let offer_id = sent
        .offer_id
        .ok_or_else(|| anyhow::anyhow!("demo order offer held for approval"))?;
    step(s).await?;
    let client_actor = demo_actor(&s.db, d.client_login).await?;
    offers::answer(s, &client_actor, offer_id, Decision::Accept, "").await?;
    step(s).await?;
    sqlx::query_scalar("SELECT id FROM orders WHERE offer_id = $1")
        .bind(offer_id)
        .fetch_optional(s.db.pool())
        .await?
        .ok_or_else(|| other("the demo order was not made"))
}

/// The contract of a party of an order's leg.
async fn contract_of(s: &Services, order: i64, side: &str) -> DomainResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT contract_id FROM order_legs WHERE order_id = $1 AND side = $2 ORDER BY id LIMIT 1",
    )
    .bind(order)
    .bind(side)
    .fetch_one(s.db.pool())
    .await?)
}

/// Северный бетон gives its details (signing for the company on the
/// charter) and the manager marks the contract signed on paper.
async fn sevbeton_contract(s: &Services, contract: i64) -> DomainResult<()> {
    use domain::orders::contracts::{self, DetailsInput};
    let status: String = sqlx::query_scalar("SELECT status FROM contracts WHERE id = $1")
        .bind(contract)
        .fetch_one(s.db.pool())
        .await?;
    if status == "in_force" {
        return Ok(());
    }
    let client = demo_actor(&s.db, "client@sevbeton.test").await?;
    contracts::submit_details(
        s,
        &client,
        contract,
        &DetailsInput {
            legal_form: "ooo".into(),
            name: "ООО «Северный бетон»".into(),
            inn: "5030123457".into(),
            kpp: "503001001".into(),
            ogrn: "1165030123455".into(),
            legal_address: "Московская обл., г. Мытищи, ул. Бетонная, д. 1".into(),
            bank_name: "ПАО Сбербанк".into(),
            bik: "044525225".into(),
            settlement_account: "40702810200000012345".into(),
            corr_account: "30101810400000000225".into(),
            phone: "+74953332211".into(),
            email: "zakaz@sevbeton.test".into(),
            signatory_name: "Громов Павел Сергеевич".into(),
            signatory_position: "Генеральный директор".into(),
            authority: "charter".into(),
            ..Default::default()
        },
    )
    .await?;
    step(s).await?;
    let manager = demo_actor(&s.db, "manager@podryad.test").await?;
    contracts::signed_on_paper(s, &manager, contract, "dogovor.pdf", SCAN).await?;
    step(s).await
}

/// A supplier's owner accepts its framework contract.
async fn supplier_accepts(s: &Services, owner: &str, contract: i64) -> DomainResult<()> {
    let status: String = sqlx::query_scalar("SELECT status FROM contracts WHERE id = $1")
        .bind(contract)
        .fetch_one(s.db.pool())
        .await?;
    if status == "in_force" {
        return Ok(());
    }
    let owner = demo_actor(&s.db, owner).await?;
    domain::orders::contracts::accept(s, &owner, contract).await?;
    step(s).await
}

/// The demo orders (see the module docs). Not part of `seed_live`: `podryad
/// demo` calls it after the deals.
pub async fn seed_orders(s: &Services) -> DomainResult<()> {
    let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(s.db.pool())
        .await?;
    if any > 0 {
        return Ok(());
    }
    const CARGO: &[(&str, &str)] = &[
        ("cargo", "Кирпич на поддонах, 12 поддонов"),
        ("weight_t", "4"),
        ("volume_m3", "18"),
        ("loading_address", "г. Москва, ул. Тверская, д. 7"),
        ("loading_address.lat", "55.7578"),
        ("loading_address.lon", "37.6117"),
        (
            "unloading_address",
            "Московская обл., г. Мытищи, ул. Колпакова, 2",
        ),
        ("body_type", "тент"),
        ("loading_method", "задняя"),
    ];
    // Ready for signing: both contracts in force.
    let cargo = order(
        s,
        &DemoOrder {
            client: "ООО «Северный бетон»",
            client_login: "client@sevbeton.test",
            supplier: "ООО «ГрузАвто»",
            dispatcher: "dispatcher@gruzavto.test",
            plate: "Р530ЕК 777",
            driver: "driver1@gruzavto.test",
            request_type: "cargo",
            fields: CARGO,
            days: 3,
            duration: "4",
            price_unit: "hour",
            price: "3 660",
            quantity: "4",
        },
    )
    .await?;
    sevbeton_contract(s, contract_of(s, cargo, "client").await?).await?;
    supplier_accepts(
        s,
        "owner@gruzavto.test",
        contract_of(s, cargo, "supplier").await?,
    )
    .await?;
    // In work: signed on paper.
    let crane = order(
        s,
        &DemoOrder {
            client: "ООО «Северный бетон»",
            client_login: "client@sevbeton.test",
            supplier: "ООО «СтройТехРесурс»",
            dispatcher: "dispatcher@stroytech.test",
            plate: "Е341КХ 750",
            driver: "driver1@stroytech.test",
            request_type: "machinery",
            fields: &[
                ("category", "truck_crane"),
                ("work", "Монтаж плит перекрытия, 2 смены"),
                (
                    "site_address",
                    "Московская обл., г. Мытищи, ул. Бетонная, д. 1",
                ),
                ("site_address.lat", "55.9116"),
                ("site_address.lon", "37.7308"),
                ("lift_capacity_t", "20"),
                ("with_operator", "1"),
            ],
            days: 6,
            duration: "2",
            price_unit: "shift",
            price: "42 700",
            quantity: "2",
        },
    )
    .await?;
    sevbeton_contract(s, contract_of(s, crane, "client").await?).await?;
    supplier_accepts(
        s,
        "owner@stroytech.test",
        contract_of(s, crane, "supplier").await?,
    )
    .await?;
    step(s).await?;
    sign_end_to_end(s, crane, "client@sevbeton.test", "owner@stroytech.test").await?;
    step(s).await?;
    // Waiting for the supplier to accept its contract (the client's
    // services contract is in force from the crane order).
    order(
        s,
        &DemoOrder {
            client: "ООО «Северный бетон»",
            client_login: "client@sevbeton.test",
            supplier: "ИП Фёдоров Андрей Викторович",
            dispatcher: "dispatcher@fedorov.test",
            // (Its other tipper's ОСАГО has run out.)
            plate: "Т455НА 50",
            driver: "driver1@fedorov.test",
            request_type: "materials",
            fields: &[
                ("material", "щебень"),
                ("quantity", "20"),
                ("quantity_unit", "т"),
                (
                    "delivery_address",
                    "Московская обл., г. Мытищи, ул. Бетонная, д. 1",
                ),
                ("delivery_address.lat", "55.9116"),
                ("delivery_address.lon", "37.7308"),
                ("unloading_method", "самосвалом"),
                ("supply", "только доставка"),
            ],
            days: 7,
            duration: "",
            price_unit: "trip",
            price: "18 300",
            quantity: "1",
        },
    )
    .await?;
    // Waiting for a new client's details (a private person: her passport).
    order(
        s,
        &DemoOrder {
            client: "Белова Ирина Сергеевна",
            client_login: "client@belova.test",
            supplier: "ООО «ГрузАвто»",
            dispatcher: "dispatcher@gruzavto.test",
            plate: "Р530ЕК 777",
            driver: "driver2@gruzavto.test",
            request_type: "cargo",
            fields: &[
                ("cargo", "Мебель при переезде: диван, шкаф, 20 коробок"),
                ("weight_t", "1.5"),
                ("loading_address", "г. Москва, ул. Лесная, д. 5"),
                ("loading_address.lat", "55.7808"),
                ("loading_address.lon", "37.5926"),
                ("unloading_address", "г. Москва, ул. Профсоюзная, д. 40"),
            ],
            days: 12,
            duration: "3",
            price_unit: "hour",
            price: "3 660",
            quantity: "3",
        },
    )
    .await?;
    Ok(())
}

/// The last signing code the outbox holds for `email` (the demo reads it
/// as the signer would read their mail).
async fn last_code(s: &Services, email: &str) -> DomainResult<String> {
    let body: String = sqlx::query_scalar(
        "SELECT body FROM notifications WHERE recipient = $1 AND subject LIKE 'Код подписи%' ORDER BY id DESC LIMIT 1",
    )
    .bind(email)
    .fetch_optional(s.db.pool())
    .await?
    .ok_or_else(|| other(format!("no signing code for {email}")))?;
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_string)
        .ok_or_else(|| other("a signing code without six digits"))
}

/// Each party signs its work order with the built-in e-signature, then the
/// manager (given the authority by the admin) countersigns. Without issued
/// work orders the manager marks the order signed on paper instead.
async fn sign_end_to_end(
    s: &Services,
    order_id: i64,
    client_login: &str,
    supplier_login: &str,
) -> DomainResult<()> {
    use domain::signing::{self, pep};
    let manager = demo_actor(&s.db, "manager@podryad.test").await?;
    let envelopes = signing::for_owner(s, &manager, "order", order_id).await?;
    if envelopes.is_empty() {
        return domain::orders::signed_on_paper(s, &manager, order_id, "zakaz-naryady.pdf", SCAN)
            .await;
    }
    let admin = demo_actor(&s.db, "admin@podryad.test").await?;
    pep::set_authority(
        s,
        &admin,
        manager.user_id(),
        true,
        "Менеджер по работе с клиентами",
        "Доверенность № 7 от 12.01.2026",
    )
    .await?;
    let evidence = pep::Evidence {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("Podryad demo".into()),
    };
    for e in &envelopes {
        let login = if e.owner_part == "client" {
            client_login
        } else {
            supplier_login
        };
        let signer = demo_actor(&s.db, login).await?;
        pep::accept_agreement(s, &signer, e.id, &evidence).await?;
        pep::request_code(s, &signer, e.id, "email").await?;
        let input = pep::SignInput {
            code: last_code(s, login).await?,
            position: "Генеральный директор".into(),
            basis: "charter".into(),
            ..Default::default()
        };
        pep::sign(s, &signer, e.id, &input, &evidence).await?;
        pep::countersign(s, &manager, e.id, &evidence).await?;
    }
    Ok(())
}
