//! Money in kopecks and VAT.
//!
//! Amounts are whole kopecks in an `i64`, never floats: a float cannot hold
//! 0.10 exactly, and sums of prices must match the bank's to the kopeck.
//! Arithmetic is checked (an overflow is an error, not a wrap). Where a
//! percentage makes fractions of a kopeck, the result is rounded **half away
//! from zero** to the kopeck (0.5 kopeck → 1 kopeck, −0.5 → −1): the
//! "arithmetic" rounding accountants, 1C and the tax authority use for VAT
//! amounts in invoices, unlike banker's rounding which would surprise them.

use serde::{Deserialize, Serialize};

use super::{ValueError, is_blank};

/// An amount of money in kopecks (1 ₽ = 100 kopecks).
///
/// Serialises as the integer number of kopecks, the unambiguous machine
/// form; people see `Display`: `15 000,00 ₽` with U+00A0 no-break spaces
/// between digit groups and before the sign, so a line never breaks inside
/// an amount.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Kopecks(pub i64);

const NBSP: char = '\u{a0}';

/// `n / d` rounded half away from zero; `d > 0`.
fn div_round_half_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

impl Kopecks {
    pub const ZERO: Kopecks = Kopecks(0);

    pub const fn new(kopecks: i64) -> Kopecks {
        Kopecks(kopecks)
    }

    /// Whole roubles; `None` on overflow.
    pub fn from_rubles(rubles: i64) -> Option<Kopecks> {
        rubles.checked_mul(100).map(Kopecks)
    }

    pub const fn as_i64(self) -> i64 {
        self.0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses an amount as people type it: `15 000,50`, `15000.5`,
    /// `15 000 ₽`, `1 500 руб.`, `-200`. Digit groups may be separated by
    /// spaces (regular, no-break, thin); the decimal separator is a comma or
    /// a dot, with at most two digits after it ([`ValueError::Precision`]).
    /// A string with both a comma and a dot is ambiguous (`1,500.00` or
    /// `1.500,00`?) and rejected as [`ValueError::Format`], as is a dot used
    /// to group thousands (`1.000.000`).
    pub fn parse(input: &str) -> Result<Kopecks, ValueError> {
        let mut s = input.trim_matches(is_blank);
        // Currency marks at the end, in any case, possibly after a blank.
        loop {
            let lower = s.to_lowercase();
            let suffix = ["₽", "руб.", "руб", "р.", "р", "rub", "rur"]
                .into_iter()
                .find(|suffix| lower.ends_with(suffix));
            match suffix {
                // The suffixes' capitals have the same byte length.
                Some(suffix) => match s.get(..s.len() - suffix.len()) {
                    Some(rest) => s = rest.trim_end_matches(is_blank),
                    None => return Err(ValueError::Format),
                },
                None => break,
            }
        }
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        let (negative, s) = match s.chars().next() {
            Some('-' | '\u{2212}') => (true, &s[s.chars().next().map_or(0, char::len_utf8)..]),
            Some('+') => (false, &s[1..]),
            _ => (false, s),
        };
        let s = s.trim_start_matches(is_blank);
        if s.contains(',') && s.contains('.') {
            return Err(ValueError::Format);
        }
        let mut parts = s.split([',', '.']);
        let whole = parts.next().unwrap_or_default();
        let fraction = parts.next();
        if parts.next().is_some() {
            return Err(ValueError::Format);
        }
        let mut rubles: i64 = 0;
        let mut any_digit = false;
        for c in whole.chars() {
            if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                any_digit = true;
                rubles = rubles
                    .checked_mul(10)
                    .and_then(|r| r.checked_add(i64::from(d)))
                    .ok_or(ValueError::Overflow)?;
            } else if !is_blank(c) {
                return Err(ValueError::Format);
            }
        }
        let mut kopecks: i64 = 0;
        if let Some(fraction) = fraction {
            if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ValueError::Format);
            }
            if fraction.len() > 2 {
                return Err(ValueError::Precision);
            }
            any_digit = true;
            kopecks = fraction.parse::<i64>().map_err(|_| ValueError::Format)?;
            if fraction.len() == 1 {
                kopecks *= 10;
            }
        }
        if !any_digit {
            return Err(ValueError::Format);
        }
        let total = rubles
            .checked_mul(100)
            .and_then(|r| r.checked_add(kopecks))
            .ok_or(ValueError::Overflow)?;
        Ok(Kopecks(if negative { -total } else { total }))
    }

    /// Like [`Kopecks::parse`], but a negative amount is
    /// [`ValueError::Negative`]: prices, rates and payments are never below zero.
    pub fn parse_non_negative(input: &str) -> Result<Kopecks, ValueError> {
        let k = Kopecks::parse(input)?;
        if k.is_negative() {
            return Err(ValueError::Negative);
        }
        Ok(k)
    }

    pub fn checked_add(self, other: Kopecks) -> Option<Kopecks> {
        self.0.checked_add(other.0).map(Kopecks)
    }

    pub fn checked_sub(self, other: Kopecks) -> Option<Kopecks> {
        self.0.checked_sub(other.0).map(Kopecks)
    }

    /// Times a whole quantity (hours, trips, units).
    pub fn checked_mul(self, quantity: i64) -> Option<Kopecks> {
        self.0.checked_mul(quantity).map(Kopecks)
    }

    /// The sum of `amounts`; `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Kopecks>>(amounts: I) -> Option<Kopecks> {
        amounts
            .into_iter()
            .try_fold(Kopecks::ZERO, |acc, k| acc.checked_add(k))
    }

    /// `basis_points` / 100 percent of this amount (1250 bp = 12.5 %),
    /// rounded half away from zero to the kopeck. Basis points keep
    /// fractional percentages exact without floats.
    pub fn percent_bp(self, basis_points: i64) -> Option<Kopecks> {
        let v = div_round_half_away(i128::from(self.0) * i128::from(basis_points), 10_000);
        i64::try_from(v).ok().map(Kopecks)
    }

    /// This amount raised by a markup of `basis_points` / 100 percent
    /// (a supplier's 10 000,00 ₽ with a 1 500 bp markup is 11 500,00 ₽),
    /// rounded half away from zero to the kopeck. A negative markup is a
    /// discount.
    pub fn with_markup_bp(self, basis_points: i64) -> Option<Kopecks> {
        self.checked_add(self.percent_bp(basis_points)?)
    }

    /// The amount without the currency sign: `15 000,00` (no-break spaces).
    pub fn format_number(self) -> String {
        let abs = self.0.unsigned_abs();
        let rubles = (abs / 100).to_string();
        let mut grouped = String::with_capacity(rubles.len() + rubles.len() / 3 * 2 + 4);
        for (i, c) in rubles.chars().enumerate() {
            if i > 0 && (rubles.len() - i).is_multiple_of(3) {
                grouped.push(NBSP);
            }
            grouped.push(c);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        format!("{sign}{grouped},{:02}", abs % 100)
    }

    /// The machine form for files and APIs: `15000.00`, `-0.50`.
    pub fn to_decimal_string(self) -> String {
        let abs = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// `15 000,00 ₽` with no-break spaces.
impl std::fmt::Display for Kopecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{NBSP}₽", self.format_number())
    }
}

impl std::str::FromStr for Kopecks {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kopecks::parse(s)
    }
}

/// How VAT (НДС) applies to a company's sales.
///
/// Current rates, as of 1 January 2026:
/// - `none` — without VAT (без НДС): companies on the simplified system
///   (УСН) under the income threshold, self-employed people, and other
///   exemptions.
/// - `vat0` — 0 %: exports and international transport.
/// - `vat5`, `vat7` — the special reduced rates an УСН company may choose
///   once its income exceeds the threshold (since 2025).
/// - `vat10` — the reduced rate (some food, children's and medical goods).
/// - `vat22` — the general rate since 1 January 2026.
///
/// `vat20` — the general rate until 31 December 2025 — is kept because
/// documents and corrections for earlier supplies still carry it, but it is
/// not [`VatMode::is_current`], so forms for new details should not offer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VatMode {
    None,
    Vat0,
    Vat5,
    Vat7,
    Vat10,
    Vat20,
    Vat22,
}

impl VatMode {
    /// Every mode, in the order a form lists them.
    pub const ALL: [VatMode; 7] = [
        VatMode::None,
        VatMode::Vat0,
        VatMode::Vat5,
        VatMode::Vat7,
        VatMode::Vat10,
        VatMode::Vat20,
        VatMode::Vat22,
    ];

    /// The modes a company can have today (see the type's documentation).
    pub const CURRENT: [VatMode; 6] = [
        VatMode::None,
        VatMode::Vat0,
        VatMode::Vat5,
        VatMode::Vat7,
        VatMode::Vat10,
        VatMode::Vat22,
    ];

    /// The stored code: `none`, `vat0`, … `vat22`.
    pub fn as_str(self) -> &'static str {
        match self {
            VatMode::None => "none",
            VatMode::Vat0 => "vat0",
            VatMode::Vat5 => "vat5",
            VatMode::Vat7 => "vat7",
            VatMode::Vat10 => "vat10",
            VatMode::Vat20 => "vat20",
            VatMode::Vat22 => "vat22",
        }
    }

    /// Parses a stored code; anything else is [`ValueError::Unknown`].
    pub fn parse(input: &str) -> Result<VatMode, ValueError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ValueError::Empty);
        }
        VatMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(ValueError::Unknown)
    }

    /// The rate in percent; `None` without VAT (which is not the same as 0 %:
    /// a 0 % invoice still states VAT, a "без НДС" one does not).
    pub fn rate_percent(self) -> Option<u32> {
        match self {
            VatMode::None => None,
            VatMode::Vat0 => Some(0),
            VatMode::Vat5 => Some(5),
            VatMode::Vat7 => Some(7),
            VatMode::Vat10 => Some(10),
            VatMode::Vat20 => Some(20),
            VatMode::Vat22 => Some(22),
        }
    }

    /// Whether a company can have this mode today (all but `vat20`).
    pub fn is_current(self) -> bool {
        self != VatMode::Vat20
    }

    /// The VAT contained in a gross amount: gross × rate / (100 + rate)
    /// (the "calculated rate", e.g. 22/122), rounded half away from zero.
    /// Zero without VAT and at 0 %.
    pub fn vat_included_in(self, gross: Kopecks) -> Kopecks {
        let rate = i128::from(self.rate_percent().unwrap_or(0));
        // |gross| × rate / (100 + rate) < |gross|, so it always fits in i64.
        let v = div_round_half_away(i128::from(gross.0) * rate, 100 + rate);
        Kopecks(i64::try_from(v).unwrap_or_default())
    }

    /// The VAT to add on top of a net amount: net × rate / 100, rounded half
    /// away from zero; `None` on overflow.
    pub fn vat_on_top_of(self, net: Kopecks) -> Option<Kopecks> {
        net.percent_bp(i64::from(self.rate_percent().unwrap_or(0)) * 100)
    }

    /// Net plus the VAT on top of it; `None` on overflow.
    pub fn gross_from_net(self, net: Kopecks) -> Option<Kopecks> {
        net.checked_add(self.vat_on_top_of(net)?)
    }

    /// Gross minus the VAT included in it.
    pub fn net_from_gross(self, gross: Kopecks) -> Kopecks {
        Kopecks(gross.0 - self.vat_included_in(gross).0)
    }
}

impl std::fmt::Display for VatMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VatMode {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VatMode::parse(s)
    }
}

impl Serialize for VatMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for VatMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        VatMode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_what_people_type() {
        let cases = [
            ("15 000,50", 1_500_050),
            ("15000.5", 1_500_050),
            ("15 000 ₽", 1_500_000),
            ("15\u{a0}000,00\u{a0}₽", 1_500_000),
            ("15\u{202f}000,00₽", 1_500_000),
            ("1 500 руб.", 150_000),
            ("1500 РУБ", 150_000),
            ("1500р.", 150_000),
            ("0,01", 1),
            (",5", 50),
            ("7", 700),
            ("-200", -20_000),
            ("\u{2212}200,10", -20_010),
            ("+3", 300),
            ("  1 000 000  ", 100_000_000),
        ];
        for (input, kopecks) in cases {
            assert_eq!(Kopecks::parse(input), Ok(Kopecks(kopecks)), "{input:?}");
        }
    }

    #[test]
    fn rejects_ambiguous_or_broken_amounts() {
        assert_eq!(Kopecks::parse(""), Err(ValueError::Empty));
        assert_eq!(Kopecks::parse(" ₽ "), Err(ValueError::Empty));
        assert_eq!(Kopecks::parse("1,500.00"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("1.000.000"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("15,"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("15,5 0"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("15 000,505"), Err(ValueError::Precision));
        assert_eq!(Kopecks::parse("abc"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("12$"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("-"), Err(ValueError::Format));
        assert_eq!(Kopecks::parse("--5"), Err(ValueError::Format));
        assert_eq!(
            Kopecks::parse("99999999999999999999"),
            Err(ValueError::Overflow)
        );
        assert_eq!(
            Kopecks::parse("92233720368547758,08"),
            Err(ValueError::Overflow)
        );
        assert_eq!(Kopecks::parse_non_negative("-1"), Err(ValueError::Negative));
        assert_eq!(Kopecks::parse_non_negative("1"), Ok(Kopecks(100)));
    }

    #[test]
    fn formats_with_no_break_spaces() {
        assert_eq!(Kopecks(1_500_000).to_string(), "15\u{a0}000,00\u{a0}₽");
        assert_eq!(Kopecks(1_500_050).format_number(), "15\u{a0}000,50");
        assert_eq!(Kopecks(0).to_string(), "0,00\u{a0}₽");
        assert_eq!(Kopecks(5).format_number(), "0,05");
        assert_eq!(Kopecks(99_999).format_number(), "999,99");
        assert_eq!(Kopecks(100_000).format_number(), "1\u{a0}000,00");
        assert_eq!(
            Kopecks(12_345_678_900).format_number(),
            "123\u{a0}456\u{a0}789,00"
        );
        assert_eq!(Kopecks(-1_500_050).format_number(), "-15\u{a0}000,50");
        assert_eq!(
            Kopecks(i64::MIN).format_number(),
            "-92\u{a0}233\u{a0}720\u{a0}368\u{a0}547\u{a0}758,08"
        );
        assert_eq!(Kopecks(1_500_050).to_decimal_string(), "15000.50");
        assert_eq!(Kopecks(-50).to_decimal_string(), "-0.50");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Kopecks(1).checked_add(Kopecks(2)), Some(Kopecks(3)));
        assert_eq!(Kopecks(i64::MAX).checked_add(Kopecks(1)), None);
        assert_eq!(Kopecks(i64::MIN).checked_sub(Kopecks(1)), None);
        assert_eq!(Kopecks(250_000).checked_mul(8), Some(Kopecks(2_000_000)));
        assert_eq!(Kopecks(i64::MAX).checked_mul(2), None);
        assert_eq!(
            Kopecks::checked_sum([Kopecks(1), Kopecks(2), Kopecks(3)]),
            Some(Kopecks(6))
        );
        assert_eq!(Kopecks::checked_sum([Kopecks(i64::MAX), Kopecks(1)]), None);
        assert_eq!(Kopecks::from_rubles(15), Some(Kopecks(1500)));
        assert_eq!(Kopecks::from_rubles(i64::MAX), None);
    }

    #[test]
    fn markup_rounds_half_away_from_zero() {
        // 10 000,00 ₽ + 15 % = 11 500,00 ₽.
        assert_eq!(
            Kopecks(1_000_000).with_markup_bp(1500),
            Some(Kopecks(1_150_000))
        );
        // 12.5 % of 1,01 ₽ = 12.625 kopecks → 13.
        assert_eq!(Kopecks(101).percent_bp(1250), Some(Kopecks(13)));
        // 10 % of 0,05 ₽ = 0.5 kopeck → 1 (half away from zero), and −1 for −0,05 ₽.
        assert_eq!(Kopecks(5).percent_bp(1000), Some(Kopecks(1)));
        assert_eq!(Kopecks(-5).percent_bp(1000), Some(Kopecks(-1)));
        // 10 % of 0,04 ₽ = 0.4 kopeck → 0.
        assert_eq!(Kopecks(4).percent_bp(1000), Some(Kopecks(0)));
        // A discount.
        assert_eq!(
            Kopecks(1_000_000).with_markup_bp(-1000),
            Some(Kopecks(900_000))
        );
        assert_eq!(Kopecks(i64::MAX).with_markup_bp(100), None);
        assert_eq!(Kopecks(i64::MAX).percent_bp(20_000), None);
    }

    #[test]
    fn vat_modes() {
        for m in VatMode::ALL {
            assert_eq!(VatMode::parse(m.as_str()), Ok(m));
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
        }
        assert_eq!(VatMode::parse("vat18"), Err(ValueError::Unknown));
        assert_eq!(VatMode::parse(""), Err(ValueError::Empty));
        assert!(!VatMode::Vat20.is_current());
        assert!(VatMode::CURRENT.iter().all(|m| m.is_current()));
        assert_eq!(VatMode::None.rate_percent(), None);
        assert_eq!(VatMode::Vat22.rate_percent(), Some(22));
    }

    #[test]
    fn vat_amounts() {
        // 122 000,00 ₽ including 22 % VAT contains 22 000,00 ₽.
        assert_eq!(
            VatMode::Vat22.vat_included_in(Kopecks(12_200_000)),
            Kopecks(2_200_000)
        );
        assert_eq!(
            VatMode::Vat22.net_from_gross(Kopecks(12_200_000)),
            Kopecks(10_000_000)
        );
        // 120,00 ₽ including 20 % → 20,00 ₽.
        assert_eq!(
            VatMode::Vat20.vat_included_in(Kopecks(12_000)),
            Kopecks(2_000)
        );
        // 1 000,00 ₽ incl. 22 %: 18 032.786… kopecks → 18 033.
        assert_eq!(
            VatMode::Vat22.vat_included_in(Kopecks(100_000)),
            Kopecks(18_033)
        );
        // 100,00 ₽ incl. 10 %: 909.09… → 909.
        assert_eq!(
            VatMode::Vat10.vat_included_in(Kopecks(10_000)),
            Kopecks(909)
        );
        // Half a kopeck rounds away from zero: 0,03 ₽ × 20/120 = 0.5 → 1.
        assert_eq!(VatMode::Vat20.vat_included_in(Kopecks(3)), Kopecks(1));
        assert_eq!(VatMode::Vat20.vat_included_in(Kopecks(-3)), Kopecks(-1));
        assert_eq!(VatMode::Vat5.vat_included_in(Kopecks(21)), Kopecks(1));
        // On top: 1 000,00 ₽ + 22 % = 1 220,00 ₽; 0,03 ₽ × 7 % = 0.21 → 0.
        assert_eq!(
            VatMode::Vat22.gross_from_net(Kopecks(100_000)),
            Some(Kopecks(122_000))
        );
        assert_eq!(VatMode::Vat7.vat_on_top_of(Kopecks(3)), Some(Kopecks(0)));
        // 0,50 ₽ × 7 % = 3.5 kopecks → 4.
        assert_eq!(VatMode::Vat7.vat_on_top_of(Kopecks(50)), Some(Kopecks(4)));
        for m in [VatMode::None, VatMode::Vat0] {
            assert_eq!(m.vat_included_in(Kopecks(12_345)), Kopecks(0));
            assert_eq!(m.gross_from_net(Kopecks(12_345)), Some(Kopecks(12_345)));
        }
        assert_eq!(VatMode::Vat22.gross_from_net(Kopecks(i64::MAX)), None);
        // Extremes do not panic.
        let _ = VatMode::Vat22.vat_included_in(Kopecks(i64::MIN));
        let _ = VatMode::Vat22.net_from_gross(Kopecks(i64::MAX));
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(k in -10_000_000_000_000i64..10_000_000_000_000) {
            let k = Kopecks(k);
            prop_assert_eq!(Kopecks::parse(&k.to_string()), Ok(k));
            prop_assert_eq!(Kopecks::parse(&k.format_number()), Ok(k));
            prop_assert_eq!(Kopecks::parse(&k.to_decimal_string()), Ok(k));
        }

        #[test]
        fn vat_included_plus_net_is_gross(gross in 0i64..1_000_000_000_000, m in prop::sample::select(VatMode::ALL.to_vec())) {
            let g = Kopecks(gross);
            let vat = m.vat_included_in(g);
            prop_assert!(vat.0 >= 0 && vat.0 <= gross);
            prop_assert_eq!(m.net_from_gross(g).0 + vat.0, gross);
        }

        #[test]
        fn money_parser_never_panics(s in "\\PC{0,40}") {
            let _ = Kopecks::parse(&s);
            let _ = VatMode::parse(&s);
        }
    }
}
