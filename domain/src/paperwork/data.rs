//! Pieces of template data that need the domain's rules: amounts with their
//! VAT, in figures and in words, in the shape `common.typ` prints
//! (`amount(m)`, `price-table(price)`; see the sample files in
//! `documents/templates/`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::values::{Kopecks, VatRate, amount_in_words};

/// An amount as templates print it:
/// `{ "total": "26 000,00 ₽", "total_number": "26 000,00",
///    "words": "Двадцать шесть тысяч рублей 00 копеек",
///    "vat": { "rate": "22 %", "amount": "4 688,52 ₽", "amount_number": "4 688,52" } | null }`.
/// `gross` includes VAT at `rate`; without VAT, `vat` is null (the
/// template then says "НДС не облагается", with `vat_note` if the caller
/// adds one).
pub fn money(gross: Kopecks, rate: &VatRate) -> Value {
    let vat = match rate.percent_label() {
        Some(label) => {
            let amount = rate.included_in(gross);
            json!({
                "rate": label,
                "amount": amount.to_string(),
                "amount_number": amount.format_number(),
            })
        }
        None => Value::Null,
    };
    json!({
        "total": gross.to_string(),
        "total_number": gross.format_number(),
        "words": amount_in_words(gross),
        "vat": vat,
    })
}

/// One line of a price table.
#[derive(Debug, Clone, Serialize)]
pub struct PriceLine {
    pub name: String,
    /// The unit as printed: "рейс", "маш.-ч", "т".
    pub unit: String,
    /// The quantity as printed: "22", "1,5".
    pub quantity: String,
    pub unit_price: Kopecks,
    pub sum: Kopecks,
}

/// A price table: its lines and the total with VAT and words. VAT is taken
/// on each line's sum and added up (the rounding rule of
/// [`crate::values::VatRate`]); `None` when the total overflows.
pub fn price(lines: &[PriceLine], rate: &VatRate) -> Option<Value> {
    let total = Kopecks::checked_sum(lines.iter().map(|l| l.sum))?;
    let vat_total = Kopecks::checked_sum(lines.iter().map(|l| rate.included_in(l.sum)))?;
    let mut v = money(total, rate);
    if let Some(vat) = v.get_mut("vat").filter(|v| v.is_object()) {
        vat["amount"] = json!(vat_total.to_string());
        vat["amount_number"] = json!(vat_total.format_number());
    }
    v["lines"] = lines
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "unit": l.unit,
                "quantity": l.quantity,
                "unit_price": l.unit_price.format_number(),
                "sum": l.sum.format_number(),
            })
        })
        .collect();
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(bp: Option<i64>) -> VatRate {
        VatRate {
            code: "general".into(),
            rate_bp: bp,
            valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        }
    }

    #[test]
    fn money_as_the_templates_print_it() {
        let m = money(Kopecks(2_600_000), &rate(Some(2200)));
        assert_eq!(m["total"], "26\u{a0}000,00\u{a0}₽");
        assert_eq!(m["total_number"], "26\u{a0}000,00");
        assert_eq!(m["words"], "Двадцать шесть тысяч рублей 00 копеек");
        assert_eq!(m["vat"]["rate"], "22\u{a0}%");
        assert_eq!(m["vat"]["amount"], "4\u{a0}688,52\u{a0}₽");
        let none = money(Kopecks(2_100_000), &rate(None));
        assert!(none["vat"].is_null());
        assert_eq!(none["words"], "Двадцать одна тысяча рублей 00 копеек");
    }

    #[test]
    fn vat_is_summed_over_lines() {
        let line = |sum| PriceLine {
            name: "x".into(),
            unit: "т".into(),
            quantity: "1".into(),
            unit_price: Kopecks(sum),
            sum: Kopecks(sum),
        };
        // Two lines of 0,61 ₽: 11 kopecks of VAT each (exactly 11.0), 22 together.
        let p = price(&[line(61), line(61)], &rate(Some(2200))).unwrap();
        assert_eq!(p["vat"]["amount_number"], "0,22");
        // 1,00 ₽ twice: 18.03 → 18 each, so 36, where the total alone gives 36.07 → 36.
        let p = price(&[line(100), line(100)], &rate(Some(2200))).unwrap();
        assert_eq!(p["vat"]["amount_number"], "0,36");
        assert_eq!(p["lines"].as_array().unwrap().len(), 2);
        assert_eq!(p["total_number"], "2,00");
        assert!(price(&[line(i64::MAX), line(1)], &rate(None)).is_none());
    }
}
