//! Money conservation, as a property test of the posting rules: random
//! sequences of invoices, (partial, combined, over-) payments, refunds and
//! payouts, under both legal models, keep the ledger balanced and every
//! balance equal to what an independent tally of the same events says —
//! and a supplier is never paid before the client's money for the order is
//! in full.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::ledger::{Account, Book, Filter, Side};
use super::matching::{self, Decision, OpenInvoice};
use super::rules::{self, Method, OrderMoney, PayoutRefused};
use crate::orders::terms::{LegMoney, OrderTerms};
use crate::values::{Kopecks, LegalModel, VatMode, VatRate};

#[derive(Debug, Clone)]
enum Op {
    /// Invoice `part` per mille of what the order still lacks.
    Invoice {
        order: usize,
        part: u16,
    },
    /// A payment of `amount` from the order's client, naming its invoice
    /// `names` (if it has one by that index).
    Pay {
        order: usize,
        amount: i64,
        names: Option<usize>,
    },
    Refund {
        client: usize,
        amount: i64,
    },
    Payout {
        order: usize,
        supplier: usize,
        amount: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..=1000u16).prop_map(|(order, part)| Op::Invoice { order, part }),
        (0..3usize, 1..3_000_000i64, proptest::option::of(0..3usize)).prop_map(
            |(order, amount, names)| Op::Pay {
                order,
                amount,
                names
            }
        ),
        (0..2usize, 1..500_000i64).prop_map(|(client, amount)| Op::Refund { client, amount }),
        (0..3usize, 0..2usize, 1..2_000_000i64).prop_map(|(order, supplier, amount)| Op::Payout {
            order,
            supplier,
            amount
        }),
    ]
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
}

/// A leg of `gross` whose VAT is `vat_bp` basis points of it (0: без НДС).
pub(super) fn leg(party: i64, gross: i64, vat_bp: i64) -> LegMoney {
    let vat = gross * vat_bp / (10_000 + vat_bp);
    LegMoney {
        leg_id: party,
        party_org_id: party,
        vat_mode: if vat_bp > 0 {
            VatMode::Vat22
        } else {
            VatMode::None
        },
        net: Kopecks(gross - vat),
        vat: Kopecks(vat),
        gross: Kopecks(gross),
        postpayment_days: 5,
        payment_method: "bank".into(),
    }
}

/// Three orders: clients 1 and 2 (order 0 and 2 are client 1's),
/// suppliers 11 and 12 (order 1 has both).
fn orders() -> Vec<(OrderTerms, LegalModel)> {
    let order = |id: i64, client: i64, price: i64, suppliers: Vec<LegMoney>| OrderTerms {
        order_id: id,
        number: format!("ЗК-2026-{id:05}"),
        status: "in_work".into(),
        client_org_id: client,
        last_day: day(),
        client: leg(client, price, 2200),
        suppliers,
    };
    vec![
        (
            order(100, 1, 1_610_400, vec![leg(11, 1_464_000, 2200)]),
            LegalModel::Resale,
        ),
        (
            order(
                101,
                2,
                2_000_001,
                vec![leg(11, 900_000, 0), leg(12, 950_033, 2200)],
            ),
            LegalModel::Agency,
        ),
        (
            order(102, 1, 333_333, vec![leg(12, 350_000, 0)]),
            LegalModel::Agency,
        ),
    ]
}

/// What happened, tallied without the ledger.
#[derive(Default)]
struct Tally {
    bank: i64,
    /// invoice id → (client, order, amount, paid)
    invoices: BTreeMap<i64, (i64, i64, i64, i64)>,
    credit: BTreeMap<i64, i64>,
    /// (supplier, order) → accrued, paid out
    owed: BTreeMap<(i64, i64), (i64, i64)>,
}

fn balance(book: &Book, account: Account, party: Option<i64>, order: Option<i64>) -> i64 {
    book.balance(Filter {
        account: Some(account),
        party,
        order,
        invoice: None,
    })
    .0
}

fn run(ops: Vec<Op>) -> Result<Book, TestCaseError> {
    let rate = VatRate {
        code: "general".into(),
        rate_bp: Some(2200),
        valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    let orders = orders();
    let mut book = Book::default();
    let mut t = Tally::default();
    let mut next_id = 1i64;
    for op in ops {
        next_id += 1;
        match op {
            Op::Invoice { order, part } => {
                let (terms, model) = &orders[order];
                let invoiced: i64 = t
                    .invoices
                    .values()
                    .filter(|i| i.1 == terms.order_id)
                    .map(|i| i.2)
                    .sum();
                let left = terms.client.gross.0 - invoiced;
                let amount = (left * i64::from(part)).div_euclid(1000).max(1).min(left);
                if left <= 0 {
                    continue;
                }
                let p =
                    rules::invoice_posting(next_id, day(), Kopecks(amount), *model, terms, &rate)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                for l in p.entry.lines() {
                    if l.account == Account::Payable {
                        t.owed
                            .entry((l.party.unwrap(), terms.order_id))
                            .or_default()
                            .0 += l.amount.0;
                    }
                }
                book.post(p.entry);
                t.invoices
                    .insert(next_id, (terms.client_org_id, terms.order_id, amount, 0));
            }
            Op::Pay {
                order,
                amount,
                names,
            } => {
                let terms = &orders[order].0;
                let client = terms.client_org_id;
                let open: Vec<OpenInvoice> = t
                    .invoices
                    .iter()
                    .filter(|(_, i)| i.0 == client && i.3 < i.2)
                    .map(|(id, i)| OpenInvoice {
                        id: *id,
                        number: format!("СЧ-2026-{id:05}"),
                        order_id: i.1,
                        client_org_id: i.0,
                        issued_on: day(),
                        outstanding: Kopecks(i.2 - i.3),
                    })
                    .collect();
                let purpose = names
                    .and_then(|n| open.get(n))
                    .map(|i| format!("Оплата по счёту {}", i.number))
                    .unwrap_or_else(|| "Оплата".into());
                match matching::decide(Some(client), Kopecks(amount), &purpose, &open) {
                    Decision::Apply {
                        client_org_id,
                        applied,
                        unapplied,
                    } => {
                        let entry = rules::payment_entry(
                            next_id,
                            day(),
                            client_org_id,
                            &applied,
                            unapplied,
                        )
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(entry.total().0, amount, "the whole payment is booked");
                        book.post(entry);
                        t.bank += amount;
                        for a in &applied {
                            let i = t.invoices.get_mut(&a.invoice_id).unwrap();
                            i.3 += a.amount.0;
                            prop_assert!(i.3 <= i.2, "an invoice is never paid past its amount");
                        }
                        *t.credit.entry(client).or_default() += unapplied.0;
                    }
                    Decision::Queue { .. } => {}
                }
            }
            Op::Refund { client, amount } => {
                let client = [1, 2][client];
                let credit = balance(&book, Account::Unapplied, Some(client), None);
                match rules::refund_entry(
                    next_id,
                    day(),
                    client,
                    Kopecks(amount),
                    Method::Bank,
                    Kopecks(credit),
                ) {
                    Ok(entry) => {
                        book.post(entry);
                        t.bank -= amount;
                        *t.credit.entry(client).or_default() -= amount;
                    }
                    Err(e) => prop_assert_eq!(e, PayoutRefused::MoreThanCredit),
                }
            }
            Op::Payout {
                order,
                supplier,
                amount,
            } => {
                let terms = &orders[order].0;
                let Some(leg) = terms.suppliers.get(supplier) else {
                    continue;
                };
                let paid_for_order: i64 = t
                    .invoices
                    .values()
                    .filter(|i| i.1 == terms.order_id)
                    .map(|i| i.3)
                    .sum();
                let receivable_credits: i64 = book
                    .entries()
                    .iter()
                    .flat_map(|e| e.lines())
                    .filter(|l| {
                        l.account == Account::Receivable
                            && l.side == Side::Credit
                            && l.order == Some(terms.order_id)
                    })
                    .map(|l| l.amount.0)
                    .sum();
                prop_assert_eq!(paid_for_order, receivable_credits);
                let money = OrderMoney {
                    price: terms.client.gross,
                    paid: Kopecks(receivable_credits),
                };
                let owed = balance(
                    &book,
                    Account::Payable,
                    Some(leg.party_org_id),
                    Some(terms.order_id),
                );
                match rules::payout_entry(
                    next_id,
                    day(),
                    leg.party_org_id,
                    terms.order_id,
                    Kopecks(amount),
                    Method::Bank,
                    money,
                    Kopecks(owed),
                ) {
                    Ok(entry) => {
                        prop_assert!(
                            paid_for_order >= terms.client.gross.0,
                            "a supplier was paid before the client paid the order in full"
                        );
                        book.post(entry);
                        t.bank -= amount;
                        t.owed
                            .entry((leg.party_org_id, terms.order_id))
                            .or_default()
                            .1 += amount;
                    }
                    Err(PayoutRefused::ClientNotPaid) => {
                        prop_assert!(paid_for_order < terms.client.gross.0)
                    }
                    Err(PayoutRefused::MoreThanOwed) => prop_assert!(amount > owed),
                    Err(e) => return Err(TestCaseError::fail(format!("unexpected {e:?}"))),
                }
            }
        }
        // After every event: each entry balanced, the ledger balanced, and
        // each balance what the tally says.
        for e in book.entries() {
            let (d, c) = e.lines().iter().fold((0, 0), |(d, c), l| match l.side {
                Side::Debit => (d + l.amount.0, c),
                Side::Credit => (d, c + l.amount.0),
            });
            prop_assert_eq!(d, c);
        }
        prop_assert_eq!(book.balance(Filter::default()), Kopecks::ZERO);
        prop_assert_eq!(balance(&book, Account::Bank, None, None), t.bank);
        for (id, (client, order, amount, paid)) in &t.invoices {
            let on_invoice = book
                .balance(Filter {
                    account: Some(Account::Receivable),
                    invoice: Some(*id),
                    ..Filter::default()
                })
                .0;
            prop_assert_eq!(on_invoice, amount - paid);
            prop_assert!(balance(&book, Account::Receivable, Some(*client), Some(*order)) >= 0);
        }
        for (client, credit) in &t.credit {
            prop_assert_eq!(
                balance(&book, Account::Unapplied, Some(*client), None),
                *credit
            );
            prop_assert!(*credit >= 0);
        }
        for ((supplier, order), (accrued, paid)) in &t.owed {
            let owed = balance(&book, Account::Payable, Some(*supplier), Some(*order));
            prop_assert_eq!(owed, accrued - paid);
            prop_assert!(owed >= 0, "we never pay a supplier more than we owe");
        }
        // The trial balance sums to zero over debit- and credit-normal
        // accounts alike.
        let trial: i64 = book
            .trial_balance()
            .iter()
            .map(|((a, _, _), b)| if a.debit_normal() { b.0 } else { -b.0 })
            .sum();
        prop_assert_eq!(trial, 0);
    }
    Ok(book)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn money_is_conserved(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}

#[test]
fn a_full_path_pays_the_supplier_only_after_the_client() {
    // Invoice order 0 in full, pay half: the payout is refused; pay the
    // rest: the payout of everything owed goes through.
    let book = run(vec![
        Op::Invoice {
            order: 0,
            part: 1000,
        },
        Op::Pay {
            order: 0,
            amount: 805_200,
            names: Some(0),
        },
        Op::Payout {
            order: 0,
            supplier: 0,
            amount: 1_464_000,
        },
        Op::Pay {
            order: 0,
            amount: 805_200,
            names: Some(0),
        },
        Op::Payout {
            order: 0,
            supplier: 0,
            amount: 1_464_000,
        },
    ])
    .unwrap();
    assert_eq!(balance(&book, Account::Payable, Some(11), Some(100)), 0);
    assert_eq!(
        balance(&book, Account::Bank, None, None),
        1_610_400 - 1_464_000
    );
    // Only the second payout was booked.
    assert_eq!(
        book.entries().iter().filter(|e| e.memo == "payout").count(),
        1
    );
}
