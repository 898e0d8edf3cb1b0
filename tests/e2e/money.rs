//! Money (issue 15's foundation) on the suite's database, with a real order
//! made through HTTP: invoices with the VAT of the day and the payment QR
//! code, a bank statement imported (dry run, partial, combined and over-
//! payments, the accountant's queue, a repeated import changing nothing),
//! the supplier paid only once the client has paid in full, the client's
//! credit refunded, the payment orders written for the bank — and the
//! ledger balanced, immutable and equal to its entries throughout.

use chrono::NaiveDate;
use domain::access::{Acting, Actor, SystemActor};
use domain::error::DomainError;
use domain::money::bank_file::{self, BankFile, Counterparty, Document};
use domain::money::import::{self, ImportError, Outcome};
use domain::money::invoices::{self, NewInvoice};
use domain::money::ledger::{self, Account, Filter};
use domain::money::matching::QueueReason;
use domain::money::payouts::{self, NewPayout};
use domain::money::qr;
use domain::money::rules::Method;
use domain::values::Kopecks;
use engine::Db;

use crate::helpers::TestApp;
use crate::orders::{CLIENT, CLIENT_INN, GRUZAVTO, accepted_order, pdf_text};
use crate::quotes::org_id;

const OUR_ACCOUNT: &str = "40702810200000012345";
const CLIENT_ACCOUNT: &str = "40702810500000000003";

async fn person(db: &Db, email: &str) -> Actor {
    domain::accounts::act_for(db, &SystemActor::new(), email)
        .await
        .expect("lookup")
        .expect("demo user")
}

/// The company's bank details, as its card would hold them.
async fn company_bank_details(db: &Db) {
    sqlx::query(
        "UPDATE organisations SET bank_name = 'ПАО Сбербанк', bik = '044525225', settlement_account = $1,
           corr_account = '30101810400000000225' WHERE kind = 'broker'",
    )
    .bind(OUR_ACCOUNT)
    .execute(db.single_write().await.unwrap().as_mut())
    .await
    .expect("bank details");
}

fn us() -> Counterparty {
    Counterparty {
        name: "ООО «Подряд»".into(),
        account: OUR_ACCOUNT.into(),
        bik: "044525225".into(),
        ..Counterparty::default()
    }
}

fn client() -> Counterparty {
    Counterparty {
        name: CLIENT.into(),
        inn: CLIENT_INN.into(),
        account: CLIENT_ACCOUNT.into(),
        bik: "044525974".into(),
        ..Counterparty::default()
    }
}

fn payment(
    number: &str,
    day: NaiveDate,
    amount: i64,
    from: Counterparty,
    purpose: &str,
) -> Document {
    Document {
        line: 0,
        kind: "Платежное поручение".into(),
        number: number.into(),
        date: day,
        amount: Kopecks(amount),
        payer: from,
        recipient: us(),
        purpose: purpose.into(),
        debited_on: None,
        credited_on: Some(day),
        payment_kind: "01".into(),
        priority: "5".into(),
    }
}

fn statement(day: NaiveDate, documents: Vec<Document>) -> Vec<u8> {
    bank_file::write(
        &BankFile {
            version: "1.03".into(),
            sender: "Банк".into(),
            receiver: "Бухгалтерия".into(),
            period_from: Some(day),
            period_to: Some(day),
            accounts: vec![OUR_ACCOUNT.into()],
            documents,
        },
        day.and_hms_opt(18, 0, 0).unwrap(),
    )
}

async fn balance(db: &Db, account: Account, party: Option<i64>, order: Option<i64>) -> i64 {
    ledger::balance(
        db.pool(),
        Filter {
            account: Some(account),
            party,
            order,
            invoice: None,
        },
    )
    .await
    .expect("balance")
    .0
}

/// The ledger as stored: every entry sealed and balanced, debits equal
/// credits overall, each invoice's `paid` what the ledger says, and every
/// balance the API gives equal to the sum of its lines.
async fn ledger_is_whole(db: &Db) {
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM ledger_entries e WHERE e.sealed <> 1
           OR e.total <> (SELECT SUM(debit) FROM ledger_lines WHERE entry_id = e.id)
           OR e.total <> (SELECT SUM(credit) FROM ledger_lines WHERE entry_id = e.id)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(unbalanced, 0, "every entry is sealed and balanced");
    assert_eq!(
        ledger::balance(db.pool(), Filter::default()).await.unwrap(),
        Kopecks::ZERO
    );
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invoices i WHERE i.amount - i.paid <>
           (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM ledger_lines l
            WHERE l.account = 'receivable' AND l.invoice_id = i.id)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "each invoice's paid part is the ledger's");
    for line in ledger::trial_balance(db.pool()).await.unwrap() {
        let by_api = balance(db, line.account, line.party, line.order).await;
        if line.party.is_some() && line.order.is_some() {
            assert_eq!(by_api, line.balance.0, "{line:?}");
        }
    }
}

async fn pay(
    db: &Db,
    who: Acting<'_>,
    order_id: i64,
    supplier_org_id: i64,
    amount: Option<i64>,
    paid_on: NaiveDate,
) -> Result<i64, DomainError> {
    payouts::pay_supplier(
        db,
        who,
        &NewPayout {
            order_id,
            supplier_org_id,
            amount: amount.map(Kopecks),
            method: Method::Bank,
            paid_on,
        },
    )
    .await
}

async fn import_file(
    db: &Db,
    who: Acting<'_>,
    bytes: &[u8],
    dry_run: bool,
) -> import::ImportReport {
    import::import(db, who, "statement.txt", bytes, dry_run)
        .await
        .unwrap_or_else(|e| panic!("import: {e}"))
}

#[tokio::test]
async fn an_order_is_invoiced_paid_from_the_bank_statement_and_then_the_supplier_is_paid() {
    let app = TestApp::spawn_demo().await;
    let db = app.db().clone();
    company_bank_details(&db).await;
    let (_, _, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let client_org = org_id(&app, CLIENT).await;
    let supplier = org_id(&app, GRUZAVTO).await;
    let accountant = person(&db, "accountant@podryad.test").await;
    let who = Acting::User(&accountant);
    let today = db.now().date_naive();
    let price: i64 = sqlx::query_scalar(
        "SELECT total_gross FROM order_legs WHERE order_id = $1 AND side = 'client'",
    )
    .bind(order)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let cost: i64 = sqlx::query_scalar(
        "SELECT total_gross FROM order_legs WHERE order_id = $1 AND side = 'supplier'",
    )
    .bind(order)
    .fetch_one(db.pool())
    .await
    .unwrap();

    // Only the money staff issue invoices.
    let manager = person(&db, "manager@podryad.test").await;
    let refused = invoices::issue(
        &db,
        Acting::User(&manager),
        &NewInvoice {
            order_id: order,
            amount: None,
            issued_on: today,
            due_on: None,
        },
    )
    .await;
    assert!(
        matches!(refused, Err(DomainError::Forbidden)),
        "{refused:?}"
    );

    // A prepayment invoice for 30 %, then the rest; more is refused.
    let first_part = price * 3 / 10;
    let first = invoices::issue(
        &db,
        who,
        &NewInvoice {
            order_id: order,
            amount: Some(Kopecks(first_part)),
            issued_on: today,
            due_on: None,
        },
    )
    .await
    .expect("first invoice");
    let second = invoices::issue(
        &db,
        who,
        &NewInvoice {
            order_id: order,
            amount: None,
            issued_on: today,
            due_on: Some(today + chrono::Days::new(10)),
        },
    )
    .await
    .expect("second invoice");
    assert_eq!(first.amount.0 + second.amount.0, price);
    assert_ne!(first.number, second.number);
    assert!(first.number.starts_with("СЧ-"), "{}", first.number);
    // The VAT of the day: 22 % in a gross amount (resale, the default).
    assert_eq!(first.vat_rate_bp, Some(2200));
    assert_eq!(
        first.vat_amount.0,
        (i128::from(first_part) * 22 * 2 + 122).div_euclid(244) as i64
    );
    assert_eq!(first.legal_model, "resale");
    assert_eq!(second.due_on, today + chrono::Days::new(10));
    let more = invoices::issue(
        &db,
        who,
        &NewInvoice {
            order_id: order,
            amount: Some(Kopecks(1)),
            issued_on: today,
            due_on: None,
        },
    )
    .await;
    match more {
        Err(DomainError::Invalid(e)) => {
            assert_eq!(e.get("amount"), Some("invoice.more_than_order"))
        }
        other => panic!("{other:?}"),
    }
    // Resale: the whole price is receivable, the supplier's price payable.
    assert_eq!(
        balance(&db, Account::Receivable, Some(client_org), Some(order)).await,
        price
    );
    assert_eq!(
        balance(&db, Account::Payable, Some(supplier), Some(order)).await,
        cost
    );
    ledger_is_whole(&db).await;

    // The invoice's QR code carries the company's details, the sum in
    // kopecks and a purpose with the invoice number.
    let texts = web::i18n::Catalogue::russian().unwrap();
    let code = invoices::payment_qr(&db, who, &texts, first.id)
        .await
        .expect("qr");
    let fields = qr::parse_payload(&code.payload).expect("ST00012");
    let field = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("PersonalAcc"), OUR_ACCOUNT);
    assert_eq!(field("BIC"), "044525225");
    assert_eq!(field("CorrespAcc"), "30101810400000000225");
    assert_eq!(field("BankName"), "ПАО Сбербанк");
    assert_eq!(field("Sum"), first_part.to_string());
    assert!(
        field("Purpose").contains(&first.number),
        "{}",
        field("Purpose")
    );
    assert!(code.png.starts_with(b"\x89PNG"));
    // The printed invoice says who to pay, how much and what for.
    let pdf = invoices::pdf(&db, who, &texts, first.id)
        .await
        .expect("pdf");
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains(&first.number), "{text}");
        assert!(text.contains(OUR_ACCOUNT), "{text}");
        assert!(text.contains("Счёт на оплату"), "{text}");
    }

    // A partial payment naming the first invoice, a stranger's payment and
    // our own outgoing one. A dry run stores nothing.
    let day = today;
    let partial = first_part - 10_000;
    let mut stranger = client();
    stranger.inn = "7700000002".into();
    stranger.account = "40702810000000000009".into();
    let mut ours = payment("900", day, 500_000, us(), "Возврат");
    ours.payer = us();
    ours.recipient = client();
    ours.credited_on = None;
    ours.debited_on = Some(day);
    let bytes = statement(
        day,
        vec![
            payment(
                "17",
                day,
                partial,
                client(),
                &format!("Оплата по счёту № {} за услуги", first.number),
            ),
            payment("18", day, 1_234_500, stranger, "Оплата по договору"),
            ours,
        ],
    );
    let dry = import_file(&db, who, &bytes, true).await;
    assert_eq!((dry.applied(), dry.queued(), dry.outgoing()), (1, 1, 1));
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bank_lines")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0, "a dry run stores nothing");
    let report = import_file(&db, who, &bytes, false).await;
    assert_eq!(
        report,
        import::ImportReport {
            dry_run: false,
            ..dry
        }
    );
    match &report.lines[1].outcome {
        Outcome::Queued { reason } => assert_eq!(*reason, QueueReason::UnknownPayer),
        other => panic!("{other:?}"),
    }
    let queue = import::unmatched(&db, who).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].amount, Kopecks(1_234_500));
    let first_now = invoices::get(&db, who, first.id).await.unwrap();
    assert_eq!(first_now.paid, Kopecks(partial));
    ledger_is_whole(&db).await;

    // The supplier waits: the client has not paid the order in full.
    let early = pay(&db, who, order, supplier, None, day).await;
    assert!(
        matches!(early, Err(DomainError::Conflict("payout.client_not_paid"))),
        "{early:?}"
    );

    // The same statement again changes nothing.
    let again = import_file(&db, who, &bytes, false).await;
    assert_eq!(again.duplicates(), 3);
    assert_eq!(
        invoices::get(&db, who, first.id).await.unwrap().paid,
        Kopecks(partial)
    );

    // One payment settles the rest of both invoices and 150 ₽ more: the
    // overpayment is the client's credit.
    let rest = price - partial;
    let bytes = statement(
        day,
        vec![payment(
            "19",
            day,
            rest + 15_000,
            client(),
            &format!("Оплата сч. {}, {}", first.number, second.number),
        )],
    );
    let report = import_file(&db, who, &bytes, false).await;
    match &report.lines[0].outcome {
        Outcome::Applied {
            applied, unapplied, ..
        } => {
            assert_eq!(applied.len(), 2);
            assert_eq!(*unapplied, Kopecks(15_000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        balance(&db, Account::Receivable, Some(client_org), Some(order)).await,
        0
    );
    assert_eq!(
        balance(&db, Account::Unapplied, Some(client_org), None).await,
        15_000
    );
    assert_eq!(
        balance(&db, Account::Bank, None, None).await,
        price + 15_000
    );
    ledger_is_whole(&db).await;

    // Now the supplier is paid what we owe it, and not a kopeck more.
    let payout = pay(&db, who, order, supplier, None, day)
        .await
        .expect("payout");
    assert!(payout > 0);
    assert_eq!(
        balance(&db, Account::Payable, Some(supplier), Some(order)).await,
        0
    );
    let extra = pay(&db, who, order, supplier, Some(1), day).await;
    assert!(
        matches!(extra, Err(DomainError::Conflict("payout.more_than_owed"))),
        "{extra:?}"
    );

    // The client's credit is refunded; more than it is refused.
    let too_much = payouts::refund(&db, who, client_org, Kopecks(15_001), Method::Bank, day).await;
    assert!(
        matches!(
            too_much,
            Err(DomainError::Conflict("payout.more_than_credit"))
        ),
        "{too_much:?}"
    );
    payouts::refund(&db, who, client_org, Kopecks(15_000), Method::Bank, day)
        .await
        .expect("refund");
    assert_eq!(
        balance(&db, Account::Unapplied, Some(client_org), None).await,
        0
    );
    assert_eq!(balance(&db, Account::Bank, None, None).await, price - cost);
    // The order's result: revenue less cost is the margin without VAT.
    let revenue = balance(&db, Account::Revenue, None, Some(order)).await;
    let cost_net = balance(&db, Account::Cost, None, Some(order)).await;
    assert!(revenue > cost_net, "{revenue} vs {cost_net}");
    ledger_is_whole(&db).await;

    // The payouts go to the bank as payment orders in windows-1251.
    let file = payouts::payment_orders(&db, who, &texts)
        .await
        .unwrap()
        .expect("a file");
    let read = bank_file::read(&file).expect("our own file reads back");
    assert_eq!(read.documents.len(), 2);
    let to_supplier = read
        .documents
        .iter()
        .find(|d| d.amount == Kopecks(cost))
        .expect("the supplier's order");
    assert_eq!(to_supplier.payer.account, OUR_ACCOUNT);
    assert_eq!(to_supplier.recipient.inn, "7729876543");
    assert!(
        payouts::payment_orders(&db, who, &texts)
            .await
            .unwrap()
            .is_none(),
        "each payout is sent once"
    );

    // The stored ledger cannot be changed or deleted, and an unbalanced
    // entry cannot be sealed.
    for sql in [
        "UPDATE ledger_lines SET debit = debit + 1 WHERE id = (SELECT MIN(id) FROM ledger_lines)",
        "DELETE FROM ledger_lines WHERE id = (SELECT MIN(id) FROM ledger_lines)",
        "UPDATE ledger_entries SET memo = 'changed' WHERE id = (SELECT MIN(id) FROM ledger_entries)",
        "DELETE FROM ledger_entries WHERE id = (SELECT MIN(id) FROM ledger_entries)",
    ] {
        let mut tx = db.begin().await.unwrap();
        let refused = sqlx::query(sql).execute(&mut *tx).await;
        assert!(
            matches!(&refused, Err(e) if e.to_string().contains("immutable")),
            "{sql}: {refused:?}"
        );
    }
    let mut tx = db.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (occurred_on, source_kind, source_id, memo, total, sealed, posted_at)
         VALUES ('2026-03-02', 'payout', 1, 'unbalanced', 100, 0, 0) RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ledger_lines (entry_id, account, debit, credit) VALUES ($1, 'bank', 100, 0)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    let seal = sqlx::query("UPDATE ledger_entries SET sealed = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await;
    assert!(
        matches!(&seal, Err(e) if e.to_string().contains("not balanced")),
        "the database refuses to seal an unbalanced entry: {seal:?}"
    );
    drop(tx);
    ledger_is_whole(&db).await;
}

#[tokio::test]
async fn under_agency_only_the_commission_is_revenue() {
    let app = TestApp::spawn_demo().await;
    let db = app.db().clone();
    let client_org = org_id(&app, CLIENT).await;
    let admin = person(&db, "admin@podryad.test").await;
    domain::tax::choose_for_client(&db, &admin, client_org, "agency")
        .await
        .expect("agency for the client");
    let (_, _, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let supplier = org_id(&app, GRUZAVTO).await;
    let accountant = person(&db, "accountant@podryad.test").await;
    let who = Acting::User(&accountant);
    let (price, cost): (i64, i64) = sqlx::query_as(
        "SELECT c.total_gross, s.total_gross FROM order_legs c JOIN order_legs s
           ON s.order_id = c.order_id AND s.side = 'supplier' WHERE c.order_id = $1 AND c.side = 'client'",
    )
    .bind(order)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let inv = invoices::issue(
        &db,
        who,
        &NewInvoice {
            order_id: order,
            amount: None,
            issued_on: db.now().date_naive(),
            due_on: None,
        },
    )
    .await
    .expect("invoice");
    assert_eq!(inv.legal_model, "agency");
    let commission = price - cost;
    let vat = (i128::from(commission) * 22 * 2 + 122).div_euclid(244) as i64;
    assert_eq!(inv.vat_amount.0, vat, "VAT on the commission only");
    assert_eq!(
        balance(&db, Account::Revenue, None, Some(order)).await,
        commission - vat
    );
    assert_eq!(
        balance(&db, Account::Payable, Some(supplier), Some(order)).await,
        cost
    );
    assert_eq!(balance(&db, Account::Cost, None, Some(order)).await, 0);
    ledger_is_whole(&db).await;
}

#[tokio::test]
async fn a_malformed_statement_is_refused_with_its_line_in_russian() {
    let texts = web::i18n::Catalogue::russian().unwrap();
    let text = "1CClientBankExchange\r\nВерсияФормата=1.03\r\nКодировка=Windows\r\n\
        СекцияДокумент=Платежное поручение\r\nНомер=1\r\nДата=02.03.2026\r\nСумма=сто рублей\r\n\
        КонецДокумента\r\nКонецФайла\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let e = bank_file::read(&bytes).unwrap_err();
    assert_eq!(e.line, 7);
    let said = e.describe(&texts);
    assert!(said.starts_with("Строка 7:"), "{said}");
    assert!(
        said.contains("Сумма") && said.contains("сто рублей"),
        "{said}"
    );

    let app = TestApp::spawn().await;
    let system = SystemActor::new();
    match import::import(app.db(), Acting::System(&system), "bad.txt", &bytes, false).await {
        Err(ImportError::File(e)) => assert_eq!(e.line, 7),
        other => panic!("{other:?}"),
    }
    let said = bank_file::read(b"not a bank file")
        .unwrap_err()
        .describe(&texts);
    assert!(said.contains("1CClientBankExchange"), "{said}");
}

/// A small deterministic generator (xorshift64*), so a failing sequence
/// can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as i64
    }
}

#[tokio::test]
async fn random_invoices_payments_refunds_and_payouts_keep_the_stored_ledger_whole() {
    let app = TestApp::spawn_demo().await;
    let db = app.db().clone();
    company_bank_details(&db).await;
    let (_, _, order) = accepted_order(&app, CLIENT, "client@sevbeton.test", 7).await;
    let client_org = org_id(&app, CLIENT).await;
    let supplier = org_id(&app, GRUZAVTO).await;
    let system = SystemActor::new();
    let who = Acting::System(&system);
    let day = db.now().date_naive();
    let price: i64 = sqlx::query_scalar(
        "SELECT total_gross FROM order_legs WHERE order_id = $1 AND side = 'client'",
    )
    .bind(order)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let seed = std::env::var("PODRYAD_MONEY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_FFEE_u64);
    let mut rng = Rng(seed);
    let mut numbers: Vec<String> = Vec::new();
    let mut doc = 0;
    for step in 0..40 {
        match rng.below(4) {
            0 => {
                let invoiced: i64 = invoices::of_order(&db, who, order)
                    .await
                    .unwrap()
                    .iter()
                    .map(|i| i.amount.0)
                    .sum();
                let left = price - invoiced;
                if left > 0 {
                    let amount = 1 + rng.below(left);
                    let inv = invoices::issue(
                        &db,
                        who,
                        &NewInvoice {
                            order_id: order,
                            amount: Some(Kopecks(amount)),
                            issued_on: day,
                            due_on: None,
                        },
                    )
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e:?}"));
                    numbers.push(inv.number);
                }
            }
            1 => {
                doc += 1;
                let purpose = match numbers.len() {
                    0 => "Оплата".to_string(),
                    n => format!("Оплата по счёту {}", numbers[rng.below(n as i64) as usize]),
                };
                let bytes = statement(
                    day,
                    vec![payment(
                        &doc.to_string(),
                        day,
                        1 + rng.below(price),
                        client(),
                        &purpose,
                    )],
                );
                import_file(&db, who, &bytes, false).await;
            }
            2 => {
                let credit = balance(&db, Account::Unapplied, Some(client_org), None).await;
                let amount = 1 + rng.below(credit.max(1) * 2);
                let r =
                    payouts::refund(&db, who, client_org, Kopecks(amount), Method::Bank, day).await;
                assert_eq!(
                    r.is_ok(),
                    amount <= credit,
                    "seed {seed} step {step}: {r:?}"
                );
            }
            _ => {
                let owed = balance(&db, Account::Payable, Some(supplier), Some(order)).await;
                let paid: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(paid), 0) AS BIGINT) FROM invoices WHERE order_id = $1",
                )
                .bind(order)
                .fetch_one(db.pool())
                .await
                .unwrap();
                let amount = 1 + rng.below(owed.max(1) * 2);
                let r = pay(&db, who, order, supplier, Some(amount), day).await;
                match r {
                    Ok(_) => assert!(
                        paid >= price && amount <= owed,
                        "seed {seed} step {step}: paid out {amount} of {owed} with {paid} of {price} in"
                    ),
                    Err(DomainError::Conflict("payout.client_not_paid")) => assert!(paid < price),
                    Err(DomainError::Conflict("payout.more_than_owed")) => assert!(amount > owed),
                    Err(e) => panic!("seed {seed} step {step}: {e:?}"),
                }
            }
        }
        ledger_is_whole(&db).await;
        assert!(balance(&db, Account::Payable, Some(supplier), Some(order)).await >= 0);
        assert!(balance(&db, Account::Unapplied, Some(client_org), None).await >= 0);
    }
}

#[tokio::test]
async fn the_demo_shows_a_paid_invoice_a_paid_supplier_and_the_accountants_queue() {
    let app = TestApp::spawn_demo().await;
    let s = crate::quotes::services(&app);
    podryad::demo::seed_orders(s).await.expect("orders");
    podryad::demo::seed_money(s).await.expect("money");
    let db = app.db().clone();
    let accountant = person(&db, "accountant@podryad.test").await;
    let who = Acting::User(&accountant);
    let (invoice, order): (i64, i64) = sqlx::query_as("SELECT id, order_id FROM invoices")
        .fetch_one(db.pool())
        .await
        .expect("one demo invoice");
    let invoice = invoices::get(&db, who, invoice).await.unwrap();
    assert_eq!(invoice.paid, invoice.amount, "the statement paid it");
    assert_eq!(import::unmatched(&db, who).await.unwrap().len(), 1);
    let payouts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payouts WHERE order_id = $1")
        .bind(order)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(payouts >= 1, "the supplier is paid");
    assert!(balance(&db, Account::Revenue, None, Some(order)).await > 0);
    ledger_is_whole(&db).await;
    // Seeding again changes nothing.
    podryad::demo::seed_money(s).await.expect("again");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoices")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(count, 1);
}
