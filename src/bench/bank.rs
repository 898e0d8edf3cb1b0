//! `podryad bench bank`: imports a generated statement of N lines into a
//! scratch SQLite database with open invoices to match, and prints the
//! time to read, match and store it — and to import it again (every line a
//! repeat, so nothing changes).
//!
//! The invoices are real (issued through `domain::money::invoices::issue`,
//! each with its ledger entry); the orders they belong to are bare rows
//! (an order with its two legs, no request or offer behind it), inserted
//! with the foreign-key check off on the one connection that writes them:
//! what is measured is the money, not the path to an order.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use domain::access::{Acting, SystemActor};
use domain::money::bank_file::{self, BankFile, Counterparty, Document};
use domain::money::import;
use domain::money::invoices::{self, NewInvoice};
use domain::values::Kopecks;
use engine::{Db, to_db_time};

use super::Rng;

pub struct Options {
    pub lines: usize,
}

pub struct Report {
    lines: usize,
    invoices: usize,
    bytes: usize,
    setup: Duration,
    dry_run: Duration,
    import: Duration,
    again: Duration,
    applied: usize,
    queued: usize,
    outgoing: usize,
    duplicates_again: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bank statement import on SQLite: {} lines ({} KiB, windows-1251), {} open invoices",
            self.lines,
            self.bytes / 1024,
            self.invoices
        )?;
        writeln!(
            f,
            "  setup (orders, invoices):     {:>8.2} s",
            self.setup.as_secs_f64()
        )?;
        writeln!(
            f,
            "  read + match (--dry-run):     {:>8.2} s",
            self.dry_run.as_secs_f64()
        )?;
        writeln!(
            f,
            "  read + match + store:         {:>8.2} s  ({} applied, {} queued, {} outgoing)",
            self.import.as_secs_f64(),
            self.applied,
            self.queued,
            self.outgoing
        )?;
        write!(
            f,
            "  the same file again:          {:>8.2} s  ({} repeats, nothing changed)",
            self.again.as_secs_f64(),
            self.duplicates_again
        )
    }
}

const OUR_ACCOUNT: &str = "40702810900000000001";

fn inn(i: usize) -> String {
    format!("77{:08}", i)
}

/// Bare orders with a client and a supplier leg, and one broker, `clients`
/// clients and a supplier; returns the orders' and the clients' ids.
async fn seed_orders(
    db: &Db,
    clients: usize,
    orders: usize,
) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    let broker = domain::parties::orgs::ensure_broker(db).await?;
    let now = to_db_time(db.now());
    let mut conn = db.single_write().await?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    sqlx::query(
        "UPDATE organisations SET settlement_account = $1, bank_name = 'ПАО Сбербанк', bik = '044525225',
           corr_account = '30101810400000000225', inn = '7707083893', kpp = '773601001' WHERE id = $2",
    )
    .bind(OUR_ACCOUNT)
    .bind(broker)
    .execute(&mut *conn)
    .await?;
    let insert_org = |kind: &'static str, name: String, inn: String| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO organisations (kind, legal_form, name, inn, status, created_at, updated_at)
             VALUES ($1, 'ooo', $2, $3, 'active', $4, $4) RETURNING id",
        )
        .bind(kind)
        .bind(name)
        .bind(inn)
        .bind(now)
    };
    let supplier: i64 = insert_org("supplier", "ООО «Поставщик»".into(), "7729876543".into())
        .fetch_one(&mut *conn)
        .await?;
    let mut client_ids = Vec::with_capacity(clients);
    for c in 0..clients {
        client_ids.push(
            insert_org("client", format!("ООО «Клиент {c}»"), inn(c))
                .fetch_one(&mut *conn)
                .await?,
        );
    }
    let mut rng = Rng(0x5EED);
    let mut ids = Vec::with_capacity(orders);
    for o in 0..orders {
        let client = client_ids[o % clients];
        let gross = 1_000_000 + rng.below(9_000_000) as i64;
        let vat = gross * 22 / 122;
        let cost = gross * 9 / 10;
        let cost_vat = cost * 22 / 122;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (number, request_id, offer_id, client_org_id, request_type, status, starts_at,
               first_day, last_day, created_at, updated_at)
             VALUES ($1, 0, $2, $3, 'cargo', 'in_work', $4, '2026-03-02', '2026-03-02', $4, $4) RETURNING id",
        )
        .bind(format!("ЗК-2026-{:05}", o + 1))
        .bind(o as i64 + 1)
        .bind(client)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        for (side, party, g, v) in [
            ("client", client, gross, vat),
            ("supplier", supplier, cost, cost_vat),
        ] {
            sqlx::query(
                "INSERT INTO order_legs (order_id, side, party_org_id, price_unit, quantity_centi, vat_mode, unit_net,
                   unit_vat, unit_gross, total_net, total_vat, total_gross, postpayment_days, payment_method, created_at)
                 VALUES ($1, $2, $3, 'trip', 100, 'vat22', $4, $5, $6, $4, $5, $6, 5, 'bank', $7)",
            )
            .bind(id)
            .bind(side)
            .bind(party)
            .bind(g - v)
            .bind(v)
            .bind(g)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        ids.push(id);
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok((ids, client_ids))
}

/// A statement of `lines` documents against the open invoices: most pay an
/// invoice named in the purpose (in full or in part), some pay several or
/// too much, some name none, some come from strangers, some are ours.
fn statement(lines: usize, open: &[invoices::Invoice], clients: &[i64]) -> Vec<u8> {
    let index: std::collections::HashMap<i64, usize> =
        clients.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut rng = Rng(0xB4A7);
    let day = NaiveDate::from_ymd_opt(2026, 3, 10).expect("a date");
    let us = Counterparty {
        name: "ООО «Подряд»".into(),
        inn: "7707083893".into(),
        kpp: "773601001".into(),
        account: OUR_ACCOUNT.into(),
        bank: "ПАО Сбербанк".into(),
        bik: "044525225".into(),
        corr_account: "30101810400000000225".into(),
    };
    let payer = |client: usize| Counterparty {
        name: format!("ООО «Клиент {client}»"),
        inn: inn(client),
        kpp: "500301001".into(),
        account: format!("40702810{:012}", client),
        bank: "АО «Т-Банк»".into(),
        bik: "044525974".into(),
        corr_account: "30101810145250000974".into(),
    };
    let mut docs = Vec::with_capacity(lines);
    for n in 0..lines {
        let inv = &open[n % open.len()];
        let client = index.get(&inv.client_org_id).copied().unwrap_or_default();
        let roll = rng.below(100);
        let (from, to, amount, purpose) = match roll {
            0..=59 => (
                payer(client),
                us.clone(),
                inv.amount,
                format!("Оплата по счёту № {} за услуги", inv.number),
            ),
            60..=74 => (
                payer(client),
                us.clone(),
                Kopecks(inv.amount.0 / 2),
                format!("Частичная оплата сч. {}", inv.number),
            ),
            75..=79 => (
                payer(client),
                us.clone(),
                Kopecks(inv.amount.0 + 50_000),
                format!("Оплата {} с авансом", inv.number),
            ),
            80..=89 => (
                payer(client),
                us.clone(),
                Kopecks(1 + rng.below(5_000_000) as i64),
                "Оплата за услуги спецтехники".into(),
            ),
            90..=94 => (
                Counterparty {
                    inn: format!("99{:08}", n),
                    ..payer(client)
                },
                us.clone(),
                Kopecks(1 + rng.below(5_000_000) as i64),
                "Оплата по договору".into(),
            ),
            _ => (
                us.clone(),
                payer(client),
                Kopecks(1 + rng.below(5_000_000) as i64),
                "Возврат".into(),
            ),
        };
        let incoming = to.account == OUR_ACCOUNT;
        docs.push(Document {
            line: 0,
            kind: "Платежное поручение".into(),
            number: (n + 1).to_string(),
            date: day,
            amount,
            payer: from,
            recipient: to,
            purpose,
            debited_on: (!incoming).then_some(day),
            credited_on: incoming.then_some(day),
            payment_kind: "01".into(),
            priority: "5".into(),
        });
    }
    bank_file::write(
        &BankFile {
            version: "1.03".into(),
            sender: "Банк".into(),
            receiver: "Podryad".into(),
            period_from: Some(day),
            period_to: Some(day),
            accounts: vec![OUR_ACCOUNT.into()],
            documents: docs,
        },
        day.and_hms_opt(18, 0, 0).expect("a time"),
    )
}

pub async fn run(db: &Db, opts: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let clients = (opts.lines / 10).max(1);
    let (orders, client_ids) = seed_orders(db, clients, opts.lines).await?;
    let system = SystemActor::new();
    let who = Acting::System(&system);
    let issued_on = NaiveDate::from_ymd_opt(2026, 3, 2).expect("a date");
    let mut open = Vec::with_capacity(orders.len());
    for order_id in orders {
        open.push(
            invoices::issue(
                db,
                who,
                &NewInvoice {
                    order_id,
                    amount: None,
                    issued_on,
                    due_on: None,
                },
            )
            .await?,
        );
    }
    let setup = started.elapsed();
    let bytes = statement(opts.lines, &open, &client_ids);

    let t = Instant::now();
    import::import(db, who, "bench.txt", &bytes, true).await?;
    let dry_run = t.elapsed();

    let t = Instant::now();
    let first = import::import(db, who, "bench.txt", &bytes, false).await?;
    let import_time = t.elapsed();

    let t = Instant::now();
    let second = import::import(db, who, "bench.txt", &bytes, false).await?;
    let again = t.elapsed();

    Ok(Report {
        lines: opts.lines,
        invoices: open.len(),
        bytes: bytes.len(),
        setup,
        dry_run,
        import: import_time,
        again,
        applied: first.applied(),
        queued: first.queued(),
        outgoing: first.outgoing(),
        duplicates_again: second.duplicates(),
    })
}
