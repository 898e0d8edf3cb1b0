//! The payment QR code of GOST R 56042-2014 that a bank app reads to fill
//! in a transfer: `ST00012|Name=…|PersonalAcc=…|BankName=…|BIC=…|
//! CorrespAcc=…|PayeeINN=…|KPP=…|Sum=…|Purpose=…`.
//!
//! `ST0001` is the format, the `2` after it says the values are UTF-8, `|`
//! separates the fields. The five required fields come first in the
//! standard's order; `Sum` is in kopecks, an integer without separators.
//! A value may not contain the separator, so a `|` typed into a name is
//! replaced by `/`; line breaks by spaces.

use serde::Serialize;

use crate::values::Kopecks;

/// The payee's bank details, as the company's card has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payee {
    pub name: String,
    pub account: String,
    pub bank_name: String,
    pub bik: String,
    /// The bank's correspondent account; `None` prints `0`, as the
    /// standard says for a bank without one.
    pub corr_account: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
}

/// Why a payee cannot be put into a QR code: the company's card lacks a
/// required detail (its field name, for the settings page to point at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the company's {0} is missing")]
pub struct MissingDetail(pub &'static str);

fn clean(value: &str) -> String {
    value
        .trim()
        .chars()
        .map(|c| match c {
            '|' => '/',
            '\r' | '\n' | '\t' => ' ',
            c => c,
        })
        .collect()
}

fn cut(value: String, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}

/// The text the code carries: the payee, the sum in kopecks and the
/// purpose (which names the invoice, so the payment comes back matched).
pub fn payload(payee: &Payee, sum: Kopecks, purpose: &str) -> Result<String, MissingDetail> {
    let required = |v: &str, name: &'static str| {
        let v = clean(v);
        if v.is_empty() {
            Err(MissingDetail(name))
        } else {
            Ok(v)
        }
    };
    let mut fields = vec![
        ("Name", cut(required(&payee.name, "name")?, 160)),
        (
            "PersonalAcc",
            required(&payee.account, "settlement_account")?,
        ),
        (
            "BankName",
            cut(required(&payee.bank_name, "bank_name")?, 45),
        ),
        ("BIC", required(&payee.bik, "bik")?),
        (
            "CorrespAcc",
            payee
                .corr_account
                .as_deref()
                .map(clean)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "0".into()),
        ),
    ];
    if let Some(inn) = payee.inn.as_deref().map(clean).filter(|v| !v.is_empty()) {
        fields.push(("PayeeINN", inn));
    }
    if let Some(kpp) = payee.kpp.as_deref().map(clean).filter(|v| !v.is_empty()) {
        fields.push(("KPP", kpp));
    }
    fields.push(("Sum", sum.0.max(0).to_string()));
    fields.push(("Purpose", cut(clean(purpose), 210)));
    let mut out = String::from("ST00012");
    for (k, v) in fields {
        out.push('|');
        out.push_str(k);
        out.push('=');
        out.push_str(&v);
    }
    Ok(out)
}

/// Reads a payload back into its fields (`None` when it is not one):
/// for tests and for checking what a printed code says.
pub fn parse_payload(text: &str) -> Option<Vec<(String, String)>> {
    let rest = text.strip_prefix("ST00012")?;
    let mut chars = rest.chars();
    let sep = chars.next()?;
    Some(
        chars
            .as_str()
            .split(sep)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Pixels per QR module in the PNG, and the quiet zone in modules (the
/// standard's four).
const SCALE: usize = 6;
const QUIET: usize = 4;

/// The code as a greyscale PNG (black modules on white, with the quiet
/// zone), for a page or a document to show.
pub fn png(payload: &str) -> anyhow::Result<Vec<u8>> {
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for dy in 0..SCALE {
            let row = (my * SCALE + dy) * side;
            pixels[row + mx * SCALE..row + (mx + 1) * SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(side)?;
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

/// The code as an SVG image, for the Typst templates.
pub fn svg(payload: &str) -> anyhow::Result<String> {
    documents::qr_svg(payload).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payee() -> Payee {
        Payee {
            name: "ООО «Подряд | Техника»".into(),
            account: "40702810900000000001".into(),
            bank_name: "ПАО Сбербанк".into(),
            bik: "044525225".into(),
            corr_account: Some("30101810400000000225".into()),
            inn: Some("7707083893".into()),
            kpp: Some("773601001".into()),
        }
    }

    #[test]
    fn the_payload_lists_the_required_fields_first_and_the_sum_in_kopecks() {
        let p = payload(
            &payee(),
            Kopecks(1_830_050),
            "Оплата по счёту СЧ-2026-00001\nНДС",
        )
        .unwrap();
        assert_eq!(
            p,
            "ST00012|Name=ООО «Подряд / Техника»|PersonalAcc=40702810900000000001|BankName=ПАО Сбербанк\
             |BIC=044525225|CorrespAcc=30101810400000000225|PayeeINN=7707083893|KPP=773601001\
             |Sum=1830050|Purpose=Оплата по счёту СЧ-2026-00001 НДС"
        );
        let fields = parse_payload(&p).unwrap();
        assert_eq!(fields.len(), 9);
        assert_eq!(fields[0], ("Name".into(), "ООО «Подряд / Техника»".into()));
    }

    /// Reads the PNG's pixels back and the QR code from them, as a bank
    /// app's camera would.
    fn decode(png_bytes: &[u8]) -> String {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0u8; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let (w, h) = (info.width as usize, info.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the image");
        let (_, text) = grids[0].decode().expect("a readable code");
        text
    }

    #[test]
    fn the_png_decodes_to_every_field() {
        let purpose = "Оплата по счёту № СЧ-2026-00017 от 02.03.2026 за услуги по заказу ЗК-2026-00005, в т.ч. НДС 22 % — 2 904,00 ₽";
        let text = payload(&payee(), Kopecks(1_610_400), purpose).unwrap();
        let decoded = decode(&png(&text).unwrap());
        assert_eq!(decoded, text);
        let fields = parse_payload(&decoded).unwrap();
        let expected = [
            ("Name", "ООО «Подряд / Техника»"),
            ("PersonalAcc", "40702810900000000001"),
            ("BankName", "ПАО Сбербанк"),
            ("BIC", "044525225"),
            ("CorrespAcc", "30101810400000000225"),
            ("PayeeINN", "7707083893"),
            ("KPP", "773601001"),
            ("Sum", "1610400"),
            ("Purpose", purpose),
        ];
        assert_eq!(
            fields,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_missing_detail_is_named_and_no_corr_account_is_zero() {
        let mut p = payee();
        p.bik = " ".into();
        assert_eq!(payload(&p, Kopecks(1), "x"), Err(MissingDetail("bik")));
        let mut p = payee();
        p.corr_account = None;
        assert!(
            payload(&p, Kopecks(1), "x")
                .unwrap()
                .contains("|CorrespAcc=0|")
        );
    }
}
