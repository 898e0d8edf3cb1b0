//! The posting rules: which balanced entry each business event makes, and
//! when a payout is allowed. Pure functions over what the caller read, so
//! the stored ledger and the in-memory [`Book`](super::ledger::Book) of the
//! property test follow the same rules.
//!
//! **Invoice to the client** for an amount `A` of an order whose client
//! price is `C` and whose suppliers get `S₁…Sₙ` (all VAT included). The
//! invoice covers the share `A / C` of the order, so each supplier's share
//! is `gᵢ = Sᵢ × A / C` (rounded half away from zero).
//! - *Resale* (we sell in our name): Dr receivable `A`; Cr revenue `A − v`
//!   and Cr VAT payable `v`, where `v` is the VAT in `A` at our rate on the
//!   shipment date. The suppliers' share is our cost: Dr cost `gᵢ − iᵢ`,
//!   Dr VAT payable `iᵢ` (their input VAT, deductible only when we charge
//!   VAT ourselves), Cr payable `gᵢ`.
//! - *Agency* (we act for the client): Dr receivable `A`; Cr payable `gᵢ`
//!   (the suppliers' money passes through us); our commission
//!   `K = A − Σgᵢ` is the revenue: Cr revenue `K − v`, Cr VAT payable `v`
//!   with `v` the VAT in `K` (a negative commission debits them).
//!
//! **Payment** from the client: Dr bank; Cr receivable per invoice paid;
//! Cr unapplied for the overpayment. **Refund** of the client's credit:
//! Dr unapplied, Cr bank. **Payout** to a supplier: Dr payable, Cr bank
//! (or cash) — only once the client has paid the order in full, and never
//! more than we owe the supplier on that order.

use chrono::NaiveDate;
use serde::Serialize;

use super::ledger::{Account, EntryError, Line, NewEntry, Source};
use super::matching::Applied;
use crate::orders::terms::OrderTerms;
use crate::values::{Kopecks, LegalModel, VatRate};

fn round_half_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

/// `part × numerator / denominator`, rounded; `None` when the denominator
/// is not positive or the result overflows.
fn share(part: Kopecks, numerator: Kopecks, denominator: Kopecks) -> Option<Kopecks> {
    if denominator.0 <= 0 {
        return None;
    }
    let v = round_half_away(
        i128::from(part.0) * i128::from(numerator.0),
        i128::from(denominator.0),
    );
    i64::try_from(v).ok().map(Kopecks)
}

/// An invoice's figures and entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoicePosting {
    /// The VAT the invoice states: on the whole amount under resale, on
    /// the commission under agency.
    pub vat: Kopecks,
    pub entry: NewEntry,
}

/// Why an invoice cannot be posted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceRefused {
    #[error("the order has no client price")]
    NoPrice,
    #[error("amounts overflow")]
    Overflow,
    #[error(transparent)]
    Entry(#[from] EntryError),
}

/// The entry of invoice `invoice_id` for `amount` of the order `terms`,
/// issued on `issued_on`, under `model`, with our VAT rate on that day
/// `our_rate` (each supplier's VAT is in its leg's figures).
pub fn invoice_posting(
    invoice_id: i64,
    issued_on: NaiveDate,
    amount: Kopecks,
    model: LegalModel,
    terms: &OrderTerms,
    our_rate: &VatRate,
) -> Result<InvoicePosting, InvoiceRefused> {
    let client_price = terms.client.gross;
    if client_price.0 <= 0 {
        return Err(InvoiceRefused::NoPrice);
    }
    let order = terms.order_id;
    let client = terms.client_org_id;
    let mut lines = vec![
        Line::debit(Account::Receivable, amount)
            .party(client)
            .order(order)
            .invoice(invoice_id),
    ];
    let mut suppliers_total = Kopecks::ZERO;
    let mut supplier_lines = Vec::new();
    for leg in &terms.suppliers {
        let g = share(amount, leg.gross, client_price).ok_or(InvoiceRefused::Overflow)?;
        suppliers_total = suppliers_total
            .checked_add(g)
            .ok_or(InvoiceRefused::Overflow)?;
        supplier_lines.push(
            Line::credit(Account::Payable, g)
                .party(leg.party_org_id)
                .order(order),
        );
        if model == LegalModel::Resale {
            // The supplier's VAT in its share, in the proportion its own
            // price carries; deductible only for a VAT payer.
            let input_vat = if our_rate.is_none() || leg.gross.0 <= 0 {
                Kopecks::ZERO
            } else {
                share(g, leg.vat, leg.gross).ok_or(InvoiceRefused::Overflow)?
            };
            supplier_lines.push(
                Line::debit(Account::Cost, Kopecks(g.0 - input_vat.0))
                    .party(leg.party_org_id)
                    .order(order),
            );
            supplier_lines.push(Line::debit(Account::VatPayable, input_vat).order(order));
        }
    }
    let revenue_gross = match model {
        LegalModel::Resale => amount,
        LegalModel::Agency => amount
            .checked_sub(suppliers_total)
            .ok_or(InvoiceRefused::Overflow)?,
    };
    let vat = our_rate.included_in(revenue_gross);
    let net = Kopecks(revenue_gross.0 - vat.0);
    lines.push(Line::signed_debit(Account::Revenue, Kopecks(-net.0)).order(order));
    lines.push(Line::signed_debit(Account::VatPayable, Kopecks(-vat.0)).order(order));
    lines.extend(supplier_lines);
    let entry = NewEntry::new(
        issued_on,
        Source::Invoice(invoice_id),
        Some(order),
        format!("{} {}", model.as_str(), terms.number),
        lines,
    )?;
    Ok(InvoicePosting { vat, entry })
}

/// The entry of a client's payment (bank line `line_id`): the money in
/// the bank, each invoice's part off the client's debt, the rest its credit.
pub fn payment_entry(
    line_id: i64,
    paid_on: NaiveDate,
    client: i64,
    applied: &[Applied],
    unapplied: Kopecks,
) -> Result<NewEntry, EntryError> {
    let total = applied
        .iter()
        .map(|a| a.amount.0)
        .try_fold(unapplied.0, i64::checked_add)
        .ok_or(EntryError::Overflow)?;
    let mut lines = vec![Line::debit(Account::Bank, Kopecks(total))];
    for a in applied {
        lines.push(
            Line::credit(Account::Receivable, a.amount)
                .party(client)
                .order(a.order_id)
                .invoice(a.invoice_id),
        );
    }
    lines.push(Line::credit(Account::Unapplied, unapplied).party(client));
    let order = match applied {
        [one] => Some(one.order_id),
        _ => None,
    };
    NewEntry::new(paid_on, Source::BankLine(line_id), order, "payment", lines)
}

/// How money leaves us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Bank,
    Cash,
    Card,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Bank => "bank",
            Method::Cash => "cash",
            Method::Card => "card",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s.trim() {
            "bank" => Some(Method::Bank),
            "cash" => Some(Method::Cash),
            "card" => Some(Method::Card),
            _ => None,
        }
    }

    /// The account the money leaves from (a card payout goes through the
    /// bank account the payment provider settles with).
    fn account(self) -> Account {
        match self {
            Method::Cash => Account::Cash,
            Method::Bank | Method::Card => Account::Bank,
        }
    }
}

/// Why a payout is refused (the codes a payout task shows as its reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum PayoutRefused {
    /// The client has not paid the order in full yet (DESIGN §4).
    #[error("the client has not paid the order in full")]
    ClientNotPaid,
    /// More than we owe the supplier on the order.
    #[error("more than is owed")]
    MoreThanOwed,
    /// More than the client's credit (a refund).
    #[error("more than the client's credit")]
    MoreThanCredit,
    #[error("the amount must be positive")]
    NotPositive,
}

impl PayoutRefused {
    pub fn code(self) -> &'static str {
        match self {
            PayoutRefused::ClientNotPaid => "payout.client_not_paid",
            PayoutRefused::MoreThanOwed => "payout.more_than_owed",
            PayoutRefused::MoreThanCredit => "payout.more_than_credit",
            PayoutRefused::NotPositive => "payout.not_positive",
        }
    }
}

/// Where an order's money stands, for the payout rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OrderMoney {
    /// The client's price of the order.
    pub price: Kopecks,
    /// What the client's payments have settled of the order's invoices.
    pub paid: Kopecks,
}

impl OrderMoney {
    pub fn paid_in_full(&self) -> bool {
        self.paid.0 >= self.price.0
    }
}

/// The supplier's payout entry, if the rule allows it: the client's money
/// for the order is in, and `amount` is not more than `owed` (the payable
/// balance of the supplier on the order).
#[allow(clippy::too_many_arguments)]
pub fn payout_entry(
    payout_id: i64,
    paid_on: NaiveDate,
    supplier: i64,
    order: i64,
    amount: Kopecks,
    method: Method,
    money: OrderMoney,
    owed: Kopecks,
) -> Result<NewEntry, PayoutRefused> {
    if amount.0 <= 0 {
        return Err(PayoutRefused::NotPositive);
    }
    if !money.paid_in_full() {
        return Err(PayoutRefused::ClientNotPaid);
    }
    if amount.0 > owed.0 {
        return Err(PayoutRefused::MoreThanOwed);
    }
    NewEntry::new(
        paid_on,
        Source::Payout(payout_id),
        Some(order),
        "payout",
        vec![
            Line::debit(Account::Payable, amount)
                .party(supplier)
                .order(order),
            Line::credit(method.account(), amount),
        ],
    )
    .map_err(|_| PayoutRefused::NotPositive)
}

/// A refund of `amount` of the client's credit (`credit` is its unapplied
/// balance).
pub fn refund_entry(
    payout_id: i64,
    paid_on: NaiveDate,
    client: i64,
    amount: Kopecks,
    method: Method,
    credit: Kopecks,
) -> Result<NewEntry, PayoutRefused> {
    if amount.0 <= 0 {
        return Err(PayoutRefused::NotPositive);
    }
    if amount.0 > credit.0 {
        return Err(PayoutRefused::MoreThanCredit);
    }
    NewEntry::new(
        paid_on,
        Source::Payout(payout_id),
        None,
        "refund",
        vec![
            Line::debit(Account::Unapplied, amount).party(client),
            Line::credit(method.account(), amount),
        ],
    )
    .map_err(|_| PayoutRefused::NotPositive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::conservation::leg;
    use crate::money::ledger::{Book, Filter};

    pub(crate) fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn rate(bp: Option<i64>) -> VatRate {
        VatRate {
            code: "general".into(),
            rate_bp: bp,
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        }
    }

    fn terms() -> OrderTerms {
        OrderTerms {
            order_id: 100,
            number: "ЗК-2026-00001".into(),
            status: "in_work".into(),
            client_org_id: 1,
            last_day: day(),
            // 16 104 ₽ to the client; 14 640 ₽ (2 640 VAT) to the supplier.
            client: leg(1, 1_610_400, 2200),
            suppliers: vec![leg(2, 1_464_000, 2200)],
        }
    }

    fn of(book: &Book, account: Account) -> i64 {
        book.balance(Filter {
            account: Some(account),
            ..Filter::default()
        })
        .0
    }

    #[test]
    fn resale_books_the_whole_price_as_revenue_and_the_supplier_as_cost() {
        let p = invoice_posting(
            9,
            day(),
            Kopecks(1_610_400),
            LegalModel::Resale,
            &terms(),
            &rate(Some(2200)),
        )
        .unwrap();
        assert_eq!(p.vat, Kopecks(290_400));
        let mut book = Book::default();
        book.post(p.entry);
        assert_eq!(of(&book, Account::Receivable), 1_610_400);
        assert_eq!(of(&book, Account::Revenue), 1_320_000);
        assert_eq!(of(&book, Account::Cost), 1_200_000);
        assert_eq!(of(&book, Account::Payable), 1_464_000);
        // Output VAT less the supplier's input VAT.
        assert_eq!(of(&book, Account::VatPayable), 290_400 - 264_000);
        assert_eq!(book.balance(Filter::default()), Kopecks::ZERO);
    }

    #[test]
    fn agency_books_only_the_commission_as_revenue() {
        let p = invoice_posting(
            9,
            day(),
            Kopecks(1_610_400),
            LegalModel::Agency,
            &terms(),
            &rate(Some(2200)),
        )
        .unwrap();
        // The commission 1 464 ₽ carries 264 ₽ of VAT (22/122).
        assert_eq!(p.vat, Kopecks(26_400));
        let mut book = Book::default();
        book.post(p.entry);
        assert_eq!(of(&book, Account::Receivable), 1_610_400);
        assert_eq!(of(&book, Account::Payable), 1_464_000);
        assert_eq!(of(&book, Account::Revenue), 120_000);
        assert_eq!(of(&book, Account::VatPayable), 26_400);
        assert_eq!(of(&book, Account::Cost), 0);
    }

    #[test]
    fn an_agency_deal_below_cost_debits_revenue() {
        let mut t = terms();
        t.suppliers = vec![leg(2, 1_700_000, 0)];
        let p = invoice_posting(
            9,
            day(),
            Kopecks(1_610_400),
            LegalModel::Agency,
            &t,
            &rate(None),
        )
        .unwrap();
        let mut book = Book::default();
        book.post(p.entry);
        assert_eq!(of(&book, Account::Revenue), -89_600);
        assert_eq!(book.balance(Filter::default()), Kopecks::ZERO);
    }

    #[test]
    fn a_payout_waits_for_the_clients_money_and_never_exceeds_the_debt() {
        let unpaid = OrderMoney {
            price: Kopecks(1_610_400),
            paid: Kopecks(1_610_399),
        };
        let paid = OrderMoney {
            paid: Kopecks(1_610_400),
            ..unpaid
        };
        let pay = |money, amount| {
            payout_entry(
                1,
                day(),
                2,
                100,
                Kopecks(amount),
                Method::Bank,
                money,
                Kopecks(1_464_000),
            )
        };
        assert_eq!(
            pay(unpaid, 1_000).unwrap_err(),
            PayoutRefused::ClientNotPaid
        );
        assert_eq!(
            pay(paid, 1_464_001).unwrap_err(),
            PayoutRefused::MoreThanOwed
        );
        assert_eq!(pay(paid, 0).unwrap_err(), PayoutRefused::NotPositive);
        assert_eq!(pay(paid, 1_464_000).unwrap().total(), Kopecks(1_464_000));
    }
}
