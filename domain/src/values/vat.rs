//! VAT rates as data keyed by date, and what counts as our revenue under
//! each legal model.
//!
//! Rates change by law (20 % until 31.12.2025, 22 % from 01.01.2026 —
//! 425-ФЗ; the УСН rates 5 % and 7 % since 2025), so no rate is a constant
//! in code: the `vat_rates` table (migration 0022, read by
//! [`crate::tax`]) lists each *rate code* with the dates it applies from,
//! and [`VatTable::rate_on`] picks the row in force on a date — the date of
//! shipment (отгрузка), which is what the tax code keys the rate to.
//!
//! Rate codes: `general` (the general rate: 20 %, then 22 %), `reduced`
//! (10 %), `zero` (0 %), `usn5` and `usn7` (the УСН reduced rates), `none`
//! (без НДС: no VAT is stated at all, which differs from 0 %). A company's
//! [`VatMode`] names its code through [`VatMode::rate_code`]: `vat20` and
//! `vat22` are both the general rate, and the date decides which.
//!
//! **Rounding.** VAT is computed in whole kopecks on the amount of each
//! document line (the quantity × price sum, not per unit) and rounded half
//! away from zero (0.5 kopeck → 1 kopeck), the arithmetic rounding of
//! invoices and 1C; a document's VAT is the sum of its lines' VAT. Gross
//! prices (VAT included) are the norm here: the VAT in a gross amount is
//! gross × rate / (100 % + rate).

use chrono::NaiveDate;
use serde::Serialize;

use super::{Kopecks, VatMode};

/// The rate of one code on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatRate {
    pub code: String,
    /// Basis points (2200 = 22 %); `None` — без НДС.
    pub rate_bp: Option<i64>,
    /// The date this rate applies from.
    pub valid_from: NaiveDate,
}

fn div_round_half_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

impl VatRate {
    /// No VAT at all (без НДС).
    pub fn is_none(&self) -> bool {
        self.rate_bp.is_none()
    }

    /// "22 %", "0 %", "7,5 %" — as documents print it; `None` without VAT.
    pub fn percent_label(&self) -> Option<String> {
        self.rate_bp.map(|bp| {
            let whole = bp / 100;
            let frac = bp % 100;
            if frac == 0 {
                format!("{whole}\u{a0}%")
            } else {
                let frac = format!("{frac:02}");
                format!("{whole},{}\u{a0}%", frac.trim_end_matches('0'))
            }
        })
    }

    /// The VAT contained in a gross amount: gross × rate / (1 + rate),
    /// rounded half away from zero; zero without VAT.
    pub fn included_in(&self, gross: Kopecks) -> Kopecks {
        let bp = i128::from(self.rate_bp.unwrap_or(0));
        // |gross| × bp / (10 000 + bp) < |gross|: always fits.
        let v = div_round_half_away(i128::from(gross.0) * bp, 10_000 + bp);
        Kopecks(i64::try_from(v).unwrap_or_default())
    }

    /// The VAT to add on top of a net amount; `None` on overflow.
    pub fn on_top_of(&self, net: Kopecks) -> Option<Kopecks> {
        net.percent_bp(self.rate_bp.unwrap_or(0))
    }

    /// Gross minus the VAT in it.
    pub fn net_of(&self, gross: Kopecks) -> Kopecks {
        Kopecks(gross.0 - self.included_in(gross).0)
    }
}

/// One row of the `vat_rates` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VatRateRow {
    pub code: String,
    pub valid_from: NaiveDate,
    pub rate_bp: Option<i64>,
}

/// The rates table, loaded once and asked many times.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VatTable {
    rows: Vec<VatRateRow>,
}

impl VatTable {
    pub fn new(mut rows: Vec<VatRateRow>) -> VatTable {
        rows.sort_by(|a, b| (&a.code, a.valid_from).cmp(&(&b.code, b.valid_from)));
        VatTable { rows }
    }

    pub fn rows(&self) -> &[VatRateRow] {
        &self.rows
    }

    /// The rate of `code` in force on `date`: the row with the latest
    /// `valid_from` not after `date`. `None` for an unknown code or a date
    /// before the code's first row.
    pub fn rate_on(&self, code: &str, date: NaiveDate) -> Option<VatRate> {
        self.rows
            .iter()
            .filter(|r| r.code == code && r.valid_from <= date)
            .max_by_key(|r| r.valid_from)
            .map(|r| VatRate {
                code: r.code.clone(),
                rate_bp: r.rate_bp,
                valid_from: r.valid_from,
            })
    }

    /// The rate a company with `mode` charges on `date`.
    pub fn rate_for(&self, mode: VatMode, date: NaiveDate) -> Option<VatRate> {
        self.rate_on(mode.rate_code(), date)
    }
}

impl VatMode {
    /// The code of this mode's rate in the `vat_rates` table.
    pub fn rate_code(self) -> &'static str {
        match self {
            VatMode::None => "none",
            VatMode::Vat0 => "zero",
            VatMode::Vat5 => "usn5",
            VatMode::Vat7 => "usn7",
            VatMode::Vat10 => "reduced",
            VatMode::Vat20 | VatMode::Vat22 => "general",
        }
    }
}

/// How we stand in a deal (DESIGN §10): a company setting with a per-client
/// override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalModel {
    /// We sell the service in our own name: the full value is our revenue,
    /// with VAT on all of it.
    Resale,
    /// We act for the client: only our commission (the client's price less
    /// what the supplier is paid) is revenue, and the VAT base (ст. 156 НК).
    Agency,
}

impl LegalModel {
    pub const ALL: [LegalModel; 2] = [LegalModel::Resale, LegalModel::Agency];

    pub fn as_str(self) -> &'static str {
        match self {
            LegalModel::Resale => "resale",
            LegalModel::Agency => "agency",
        }
    }

    pub fn parse(s: &str) -> Result<LegalModel, super::ValueError> {
        match s.trim() {
            "resale" => Ok(LegalModel::Resale),
            "agency" => Ok(LegalModel::Agency),
            "" => Err(super::ValueError::Empty),
            _ => Err(super::ValueError::Unknown),
        }
    }
}

/// What a deal earns us, gross and split into VAT and net.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Revenue {
    pub gross: Kopecks,
    pub vat: Kopecks,
    pub net: Kopecks,
}

/// Our revenue from one deal: the client pays `client_gross`, the supplier
/// gets `supplier_gross` (both VAT included), and we charge VAT at
/// `our_rate`. Resale: revenue is the client's whole price. Agency: it is
/// the commission, `client_gross − supplier_gross` (negative when the deal
/// loses money). `None` on overflow.
pub fn revenue(
    model: LegalModel,
    client_gross: Kopecks,
    supplier_gross: Kopecks,
    our_rate: &VatRate,
) -> Option<Revenue> {
    let gross = match model {
        LegalModel::Resale => client_gross,
        LegalModel::Agency => client_gross.checked_sub(supplier_gross)?,
    };
    let vat = our_rate.included_in(gross);
    Some(Revenue {
        gross,
        vat,
        net: gross.checked_sub(vat)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn table() -> VatTable {
        let row = |code: &str, from: &str, bp: Option<i64>| VatRateRow {
            code: code.into(),
            valid_from: date(from),
            rate_bp: bp,
        };
        VatTable::new(vec![
            row("general", "2026-01-01", Some(2200)),
            row("general", "2019-01-01", Some(2000)),
            row("usn5", "2025-01-01", Some(500)),
            row("usn7", "2025-01-01", Some(700)),
            row("none", "2000-01-01", None),
        ])
    }

    #[test]
    fn the_rate_in_force_on_the_date() {
        let t = table();
        assert_eq!(
            t.rate_on("general", date("2025-12-31")).unwrap().rate_bp,
            Some(2000)
        );
        assert_eq!(
            t.rate_on("general", date("2026-01-01")).unwrap().rate_bp,
            Some(2200)
        );
        assert_eq!(
            t.rate_on("general", date("2031-06-01")).unwrap().rate_bp,
            Some(2200)
        );
        assert_eq!(t.rate_on("general", date("2018-12-31")), None);
        assert_eq!(
            t.rate_on("usn7", date("2026-03-01")).unwrap().rate_bp,
            Some(700)
        );
        assert_eq!(t.rate_on("usn5", date("2024-12-31")), None);
        assert!(t.rate_on("none", date("2026-03-01")).unwrap().is_none());
        assert_eq!(t.rate_on("vat18", date("2026-03-01")), None);
        // vat20 and vat22 companies both charge the general rate of the day.
        assert_eq!(
            t.rate_for(VatMode::Vat20, date("2026-02-01"))
                .unwrap()
                .rate_bp,
            Some(2200)
        );
        assert_eq!(
            t.rate_for(VatMode::Vat22, date("2025-02-01"))
                .unwrap()
                .rate_bp,
            Some(2000)
        );
    }

    #[test]
    fn amounts_in_kopecks() {
        let t = table();
        let r22 = t.rate_on("general", date("2026-03-01")).unwrap();
        assert_eq!(r22.percent_label().as_deref(), Some("22\u{a0}%"));
        // 26 000,00 ₽ incl. 22 %: 2 600 000 × 22 / 122 = 468 852.459… → 4 688,52 ₽.
        assert_eq!(r22.included_in(Kopecks(2_600_000)), Kopecks(468_852));
        assert_eq!(r22.net_of(Kopecks(2_600_000)), Kopecks(2_131_148));
        // Half a kopeck rounds away from zero: 0,61 ₽ × 22/122 = 11.0 → 11; 0,03 ₽ at 20 % = 0.5 → 1.
        assert_eq!(r22.included_in(Kopecks(61)), Kopecks(11));
        let r20 = t.rate_on("general", date("2025-03-01")).unwrap();
        assert_eq!(r20.included_in(Kopecks(3)), Kopecks(1));
        assert_eq!(r20.included_in(Kopecks(-3)), Kopecks(-1));
        assert_eq!(r22.on_top_of(Kopecks(100_000)), Some(Kopecks(22_000)));
        let none = t.rate_on("none", date("2026-03-01")).unwrap();
        assert_eq!(none.included_in(Kopecks(2_600_000)), Kopecks(0));
        assert_eq!(none.percent_label(), None);
        let odd = VatRate {
            code: "x".into(),
            rate_bp: Some(750),
            valid_from: date("2026-01-01"),
        };
        assert_eq!(odd.percent_label().as_deref(), Some("7,5\u{a0}%"));
        // Extremes do not panic.
        let _ = r22.included_in(Kopecks(i64::MIN));
        // 22 % of the largest amount still fits; the sum with it would not.
        assert!(r22.on_top_of(Kopecks(i64::MAX)).is_some());
        let _ = r22.on_top_of(Kopecks(i64::MIN));
    }

    #[test]
    fn revenue_depends_on_the_legal_model() {
        let r22 = table().rate_on("general", date("2026-03-01")).unwrap();
        // The client pays 26 000 ₽, the supplier gets 21 000 ₽.
        let resale = revenue(
            LegalModel::Resale,
            Kopecks(2_600_000),
            Kopecks(2_100_000),
            &r22,
        )
        .unwrap();
        assert_eq!(resale.gross, Kopecks(2_600_000));
        assert_eq!(resale.vat, Kopecks(468_852));
        assert_eq!(resale.net, Kopecks(2_131_148));
        let agency = revenue(
            LegalModel::Agency,
            Kopecks(2_600_000),
            Kopecks(2_100_000),
            &r22,
        )
        .unwrap();
        assert_eq!(agency.gross, Kopecks(500_000));
        // 5 000 ₽ × 22/122 = 901.639… ₽ → 901,64 ₽.
        assert_eq!(agency.vat, Kopecks(90_164));
        assert_eq!(agency.net, Kopecks(409_836));
        assert_eq!(
            revenue(LegalModel::Agency, Kopecks(i64::MIN), Kopecks(1), &r22),
            None
        );
        assert_eq!(LegalModel::parse("agency"), Ok(LegalModel::Agency));
        assert!(LegalModel::parse("broker").is_err());
    }
}
