//! The 1CClientBankExchange text format (versions 1.02/1.03) banks and 1C
//! exchange: statements come in, payment orders go out.
//!
//! One `Key=Value` a line, CRLF, windows-1251 (`Кодировка=Windows`) or
//! cp866 (`Кодировка=DOS`). The header names the accounts and the period;
//! each document is a `СекцияДокумент=<kind>` … `КонецДокумента` block;
//! a statement also has `СекцияРасчСчет` … `КонецРасчСчет` blocks with the
//! balances; the file ends with `КонецФайла`. Unknown keys are ignored, as
//! the format asks. A malformed file is refused with the number of the line
//! at fault ([`BankFileError`]); the texts people read are in the message
//! catalogue (`bank-file-*`), not here.

use chrono::NaiveDate;
use serde::Serialize;

use crate::values::Kopecks;

/// Who pays or receives, as a document names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counterparty {
    pub name: String,
    pub inn: String,
    pub kpp: String,
    /// The settlement account (`…Счет`, or `…РасчСчет` when that is absent).
    pub account: String,
    pub bank: String,
    pub bik: String,
    pub corr_account: String,
}

/// One document of a file: a payment order we send, or a line of a
/// statement the bank sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// The line its section starts on (0 for a document made here).
    pub line: usize,
    /// `Платежное поручение`, `Банковский ордер`, …
    pub kind: String,
    pub number: String,
    pub date: NaiveDate,
    pub amount: Kopecks,
    pub payer: Counterparty,
    pub recipient: Counterparty,
    pub purpose: String,
    /// A statement's marks of the direction: when the money left the payer
    /// (`ДатаСписано`) and reached the recipient (`ДатаПоступило`).
    pub debited_on: Option<NaiveDate>,
    pub credited_on: Option<NaiveDate>,
    /// `ВидОплаты` (01: a payment order) and `Очередность` (5: ordinary).
    pub payment_kind: String,
    pub priority: String,
}

/// A whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankFile {
    pub version: String,
    pub sender: String,
    pub receiver: String,
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    /// Our accounts the file is about (`РасчСчет`, may repeat).
    pub accounts: Vec<String>,
    pub documents: Vec<Document>,
}

/// What is wrong with a file, and on which line (counted from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem:?}")]
pub struct BankFileError {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The first line is not `1CClientBankExchange`.
    NotExchangeFile,
    /// `Кодировка` is neither `Windows` nor `DOS`.
    UnknownEncoding(String),
    /// A line that is not `Key=Value` where one is expected.
    NotKeyValue,
    /// A date that is not `ДД.ММ.ГГГГ`.
    BadDate { key: String, value: String },
    /// An amount that is not a positive `1234.56`.
    BadAmount { key: String, value: String },
    /// A document without a field it must have.
    MissingField(String),
    /// A section opened inside another one.
    NestedSection,
    /// A section's end without its start.
    UnexpectedEnd(String),
    /// The file ends inside a section, or without `КонецФайла`.
    Truncated,
}

impl BankFileError {
    /// The message-catalogue key of the problem (`bank-file-…`) and its
    /// arguments besides the line.
    pub fn text_key(&self) -> (&'static str, Vec<(&'static str, String)>) {
        match &self.problem {
            Problem::NotExchangeFile => ("bank-file-not-exchange", vec![]),
            Problem::UnknownEncoding(v) => ("bank-file-encoding", vec![("value", v.clone())]),
            Problem::NotKeyValue => ("bank-file-not-key-value", vec![]),
            Problem::BadDate { key, value } => (
                "bank-file-bad-date",
                vec![("key", key.clone()), ("value", value.clone())],
            ),
            Problem::BadAmount { key, value } => (
                "bank-file-bad-amount",
                vec![("key", key.clone()), ("value", value.clone())],
            ),
            Problem::MissingField(key) => ("bank-file-missing-field", vec![("key", key.clone())]),
            Problem::NestedSection => ("bank-file-nested-section", vec![]),
            Problem::UnexpectedEnd(key) => ("bank-file-unexpected-end", vec![("key", key.clone())]),
            Problem::Truncated => ("bank-file-truncated", vec![]),
        }
    }

    /// The problem in the reader's words, from the catalogue `texts`.
    pub fn describe(&self, texts: &dyn crate::texts::Texts) -> String {
        let (key, args) = self.text_key();
        let mut map = std::collections::HashMap::new();
        map.insert("line", self.line.to_string());
        for (k, v) in args {
            map.insert(k, v);
        }
        texts.text(key, &map)
    }
}

const SIGNATURE: &str = "1CClientBankExchange";

/// Decodes the file's bytes: windows-1251 unless the header says
/// `Кодировка=DOS` (which only reads right as cp866). A UTF-8 BOM, which
/// some tools add against the format, is tolerated.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes)
        && s.contains("Кодировка=")
    {
        return s.to_string();
    }
    let (win, _, _) = encoding_rs::WINDOWS_1251.decode(bytes);
    if win.lines().any(|l| l.trim() == "Кодировка=DOS") {
        return win.into_owned();
    }
    let (dos, _, _) = encoding_rs::IBM866.decode(bytes);
    if dos.lines().any(|l| l.trim() == "Кодировка=DOS") {
        return dos.into_owned();
    }
    win.into_owned()
}

fn parse_date(key: &str, value: &str, line: usize) -> Result<NaiveDate, BankFileError> {
    NaiveDate::parse_from_str(value.trim(), "%d.%m.%Y").map_err(|_| BankFileError {
        line,
        problem: Problem::BadDate {
            key: key.into(),
            value: value.into(),
        },
    })
}

fn optional_date(key: &str, value: &str, line: usize) -> Result<Option<NaiveDate>, BankFileError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse_date(key, value, line).map(Some)
    }
}

/// `1234.56`, `1234.5`, `1234` (a comma is accepted for the point): a
/// positive amount in kopecks.
fn parse_amount(key: &str, value: &str, line: usize) -> Result<Kopecks, BankFileError> {
    let bad = || BankFileError {
        line,
        problem: Problem::BadAmount {
            key: key.into(),
            value: value.into(),
        },
    };
    let v = value.trim();
    let (whole, frac) = match v.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (v, ""),
    };
    if whole.is_empty()
        || whole.len() > 15
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let rubles: i64 = whole.parse().map_err(|_| bad())?;
    let kopecks: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let amount = rubles
        .checked_mul(100)
        .and_then(|r| r.checked_add(kopecks))
        .ok_or_else(bad)?;
    if amount <= 0 {
        return Err(bad());
    }
    Ok(Kopecks(amount))
}

/// A document's fields as read, before they are checked.
#[derive(Default)]
struct RawDocument {
    line: usize,
    kind: String,
    fields: Vec<(String, String, usize)>,
}

impl RawDocument {
    fn get(&self, key: &str) -> Option<(&str, usize)> {
        self.fields
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, l)| (v.as_str(), *l))
    }

    fn text(&self, key: &str) -> String {
        self.get(key)
            .map(|(v, _)| v.trim().to_string())
            .unwrap_or_default()
    }

    fn required(&self, key: &str) -> Result<(&str, usize), BankFileError> {
        match self.get(key) {
            Some((v, l)) if !v.trim().is_empty() => Ok((v, l)),
            _ => Err(BankFileError {
                line: self.line,
                problem: Problem::MissingField(key.into()),
            }),
        }
    }

    /// The first non-empty of the keys, or the numbered parts joined
    /// (`Плательщик1..4`, `НазначениеПлатежа1..6`).
    fn joined(&self, key: &str, parts: usize) -> String {
        let whole = self.text(key);
        if !whole.is_empty() {
            return whole;
        }
        (1..=parts)
            .map(|i| self.text(&format!("{key}{i}")))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn party(&self, prefix: &str) -> Counterparty {
        let account = match self.text(&format!("{prefix}Счет")) {
            a if a.is_empty() => self.text(&format!("{prefix}РасчСчет")),
            a => a,
        };
        Counterparty {
            name: self.joined(prefix, 4),
            inn: self.text(&format!("{prefix}ИНН")),
            kpp: self.text(&format!("{prefix}КПП")),
            account,
            bank: self.joined(&format!("{prefix}Банк"), 2),
            bik: self.text(&format!("{prefix}БИК")),
            corr_account: self.text(&format!("{prefix}Корсчет")),
        }
    }

    fn finish(self) -> Result<Document, BankFileError> {
        let (number, _) = self.required("Номер")?;
        let (date, date_line) = self.required("Дата")?;
        let (amount, amount_line) = self.required("Сумма")?;
        let debited = self.get("ДатаСписано");
        let credited = self.get("ДатаПоступило");
        Ok(Document {
            line: self.line,
            kind: self.kind.clone(),
            number: number.trim().to_string(),
            date: parse_date("Дата", date, date_line)?,
            amount: parse_amount("Сумма", amount, amount_line)?,
            payer: self.party("Плательщик"),
            recipient: self.party("Получатель"),
            purpose: self.joined("НазначениеПлатежа", 6),
            debited_on: match debited {
                Some((v, l)) => optional_date("ДатаСписано", v, l)?,
                None => None,
            },
            credited_on: match credited {
                Some((v, l)) => optional_date("ДатаПоступило", v, l)?,
                None => None,
            },
            payment_kind: self.text("ВидОплаты"),
            priority: self.text("Очередность"),
        })
    }
}

/// Reads a file.
pub fn read(bytes: &[u8]) -> Result<BankFile, BankFileError> {
    let text = decode(bytes);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    match lines.next() {
        Some((_, first)) if first == SIGNATURE => {}
        _ => {
            return Err(BankFileError {
                line: 1,
                problem: Problem::NotExchangeFile,
            });
        }
    }
    let mut file = BankFile {
        version: String::new(),
        sender: String::new(),
        receiver: String::new(),
        period_from: None,
        period_to: None,
        accounts: Vec::new(),
        documents: Vec::new(),
    };
    enum In {
        Header,
        Document(RawDocument),
        Account(usize),
    }
    let mut state = In::Header;
    let mut last = 1;
    for (n, line) in lines {
        last = n;
        if line.is_empty() {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v),
            None => (line, ""),
        };
        match (key, &mut state) {
            ("КонецФайла", In::Header) => return Ok(file),
            ("КонецФайла", In::Document(RawDocument { line: start, .. }) | In::Account(start)) =>
            {
                return Err(BankFileError {
                    line: *start,
                    problem: Problem::Truncated,
                });
            }
            ("СекцияДокумент", In::Header) => {
                state = In::Document(RawDocument {
                    line: n,
                    kind: value.trim().to_string(),
                    fields: Vec::new(),
                });
            }
            ("СекцияРасчСчет", In::Header) => state = In::Account(n),
            ("СекцияДокумент" | "СекцияРасчСчет", _) => {
                return Err(BankFileError {
                    line: n,
                    problem: Problem::NestedSection,
                });
            }
            ("КонецДокумента", In::Document(_)) => {
                if let In::Document(doc) = std::mem::replace(&mut state, In::Header) {
                    file.documents.push(doc.finish()?);
                }
            }
            ("КонецРасчСчет", In::Account(_)) => state = In::Header,
            ("КонецДокумента" | "КонецРасчСчет", _) => {
                return Err(BankFileError {
                    line: n,
                    problem: Problem::UnexpectedEnd(key.into()),
                });
            }
            _ if !line.contains('=') => {
                return Err(BankFileError {
                    line: n,
                    problem: Problem::NotKeyValue,
                });
            }
            (_, In::Document(doc)) => doc.fields.push((key.to_string(), value.to_string(), n)),
            // The balances of a statement's account section are not needed
            // for matching; its dates are checked all the same.
            (k, In::Account(_)) => {
                if k == "ДатаНачала" || k == "ДатаКонца" {
                    optional_date(k, value, n)?;
                }
            }
            (k, In::Header) => match k {
                "ВерсияФормата" => file.version = value.trim().into(),
                "Кодировка" => {
                    let v = value.trim();
                    if v != "Windows" && v != "DOS" {
                        return Err(BankFileError {
                            line: n,
                            problem: Problem::UnknownEncoding(v.into()),
                        });
                    }
                }
                "Отправитель" => file.sender = value.trim().into(),
                "Получатель" => file.receiver = value.trim().into(),
                "ДатаНачала" => file.period_from = optional_date(k, value, n)?,
                "ДатаКонца" => file.period_to = optional_date(k, value, n)?,
                "РасчСчет" => {
                    let a = value.trim();
                    if !a.is_empty() && !file.accounts.iter().any(|x| x == a) {
                        file.accounts.push(a.into());
                    }
                }
                _ => {}
            },
        }
    }
    let line = match state {
        In::Document(doc) => doc.line,
        In::Account(start) => start,
        In::Header => last,
    };
    Err(BankFileError {
        line,
        problem: Problem::Truncated,
    })
}

fn value(v: &str) -> String {
    v.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

fn amount_text(k: Kopecks) -> String {
    format!("{}.{:02}", k.0 / 100, k.0 % 100)
}

fn date_text(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// Writes `file` as windows-1251 text with CRLF line ends. Characters
/// windows-1251 cannot hold (rare outside names typed abroad) become `?`.
pub fn write(file: &BankFile, created: chrono::NaiveDateTime) -> Vec<u8> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut kv = |k: &str, v: String| out.push((k.to_string(), v));
    kv("ВерсияФормата", "1.03".into());
    kv("Кодировка", "Windows".into());
    kv("Отправитель", value(&file.sender));
    kv("Получатель", value(&file.receiver));
    kv("ДатаСоздания", date_text(created.date()));
    kv("ВремяСоздания", created.format("%H:%M:%S").to_string());
    kv(
        "ДатаНачала",
        file.period_from.map(date_text).unwrap_or_default(),
    );
    kv(
        "ДатаКонца",
        file.period_to.map(date_text).unwrap_or_default(),
    );
    for a in &file.accounts {
        kv("РасчСчет", value(a));
    }
    let mut kinds: Vec<&str> = Vec::new();
    for d in &file.documents {
        if !kinds.contains(&d.kind.as_str()) {
            kinds.push(&d.kind);
        }
    }
    for k in kinds {
        kv("Документ", value(k));
    }
    let mut text = String::from(SIGNATURE);
    text.push_str("\r\n");
    for (k, v) in out {
        text.push_str(&format!("{k}={v}\r\n"));
    }
    for d in &file.documents {
        let mut lines: Vec<(String, String)> = vec![
            ("СекцияДокумент".into(), value(&d.kind)),
            ("Номер".into(), value(&d.number)),
            ("Дата".into(), date_text(d.date)),
            ("Сумма".into(), amount_text(d.amount)),
        ];
        for (prefix, p) in [("Плательщик", &d.payer), ("Получатель", &d.recipient)]
        {
            lines.extend([
                (format!("{prefix}Счет"), value(&p.account)),
                (prefix.to_string(), value(&p.name)),
                (format!("{prefix}1"), value(&p.name)),
                (format!("{prefix}ИНН"), value(&p.inn)),
                (format!("{prefix}КПП"), value(&p.kpp)),
                (format!("{prefix}РасчСчет"), value(&p.account)),
                (format!("{prefix}Банк1"), value(&p.bank)),
                (format!("{prefix}БИК"), value(&p.bik)),
                (format!("{prefix}Корсчет"), value(&p.corr_account)),
            ]);
        }
        if let Some(day) = d.debited_on {
            lines.push(("ДатаСписано".into(), date_text(day)));
        }
        if let Some(day) = d.credited_on {
            lines.push(("ДатаПоступило".into(), date_text(day)));
        }
        lines.extend([
            ("ВидОплаты".into(), value(&d.payment_kind)),
            ("Код".into(), "0".into()),
            ("Очередность".into(), value(&d.priority)),
            ("НазначениеПлатежа".into(), value(&d.purpose)),
        ]);
        for (k, v) in lines {
            text.push_str(&format!("{k}={v}\r\n"));
        }
        text.push_str("КонецДокумента\r\n");
    }
    text.push_str("КонецФайла\r\n");
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
    if !unmappable {
        return bytes.into_owned();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let (b, _, bad) = encoding_rs::WINDOWS_1251.encode(c.encode_utf8(&mut buf));
        if bad {
            out.push(b'?');
        } else {
            out.extend_from_slice(&b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn order() -> Document {
        Document {
            line: 0,
            kind: "Платежное поручение".into(),
            number: "118".into(),
            date: day("2026-03-02"),
            amount: Kopecks(1_830_050),
            payer: Counterparty {
                name: "ООО «Подряд»".into(),
                inn: "7707083893".into(),
                kpp: "773601001".into(),
                account: "40702810900000000001".into(),
                bank: "ПАО Сбербанк".into(),
                bik: "044525225".into(),
                corr_account: "30101810400000000225".into(),
            },
            recipient: Counterparty {
                name: "ООО «ГрузАвто» — ёлки № 5".into(),
                inn: "7729876543".into(),
                kpp: "772901001".into(),
                account: "40702810100000000002".into(),
                bank: "АО «Т-Банк»".into(),
                bik: "044525974".into(),
                corr_account: "30101810145250000974".into(),
            },
            purpose: "Оплата по заказу ЗК-2026-00001, в т.ч. НДС 22 %".into(),
            debited_on: None,
            credited_on: None,
            payment_kind: "01".into(),
            priority: "5".into(),
        }
    }

    fn file(documents: Vec<Document>) -> BankFile {
        BankFile {
            version: "1.03".into(),
            sender: "Подряд".into(),
            receiver: String::new(),
            period_from: Some(day("2026-03-02")),
            period_to: Some(day("2026-03-02")),
            accounts: vec!["40702810900000000001".into()],
            documents,
        }
    }

    #[test]
    fn payment_orders_round_trip_in_windows_1251() {
        let f = file(vec![order()]);
        let bytes = write(&f, day("2026-03-02").and_hms_opt(9, 30, 0).unwrap());
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "the file is windows-1251, not UTF-8"
        );
        assert!(bytes.windows(2).any(|w| w == b"\r\n"));
        let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
        assert!(!bad);
        assert!(text.contains("Сумма=18300.50\r\n"));
        assert!(text.contains("Кодировка=Windows\r\n"));
        let back = read(&bytes).unwrap();
        let mut expected = order();
        expected.line = back.documents[0].line;
        assert_eq!(back.documents, vec![expected]);
        assert_eq!(back.accounts, f.accounts);
        assert_eq!(back.period_from, f.period_from);
        assert_eq!(back.version, "1.03");
    }

    fn statement(body: &str) -> Vec<u8> {
        let text = format!(
            "1CClientBankExchange\r\nВерсияФормата=1.03\r\nКодировка=Windows\r\nПолучатель=Бухгалтерия\r\n\
             ДатаНачала=02.03.2026\r\nДатаКонца=02.03.2026\r\nРасчСчет=40702810900000000001\r\n{body}КонецФайла\r\n"
        );
        encoding_rs::WINDOWS_1251.encode(&text).0.into_owned()
    }

    const DOC: &str = "СекцияДокумент=Платежное поручение\r\nНомер=55\r\nДата=02.03.2026\r\nСумма=1500.5\r\n\
        ПлательщикСчет=40702810500000000003\r\nПлательщик1=ООО \"Северный\r\n\
        ПлательщикИНН=5030123457\r\nПолучательСчет=40702810900000000001\r\nПолучатель=ООО Подряд\r\n\
        ДатаПоступило=02.03.2026\r\nНазначениеПлатежа1=Оплата по счёту\r\nНазначениеПлатежа2=СЧ-2026-00001\r\n\
        НовоеПолеБанка=что-то\r\nКонецДокумента\r\n";

    #[test]
    fn a_statement_is_read_into_typed_lines() {
        let f = read(&statement(&format!(
            "СекцияРасчСчет\r\nДатаНачала=02.03.2026\r\nНачальныйОстаток=0.00\r\nКонецРасчСчет\r\n{DOC}"
        )))
        .unwrap();
        let d = &f.documents[0];
        assert_eq!(d.line, 12);
        assert_eq!(d.amount, Kopecks(150_050));
        assert_eq!(d.payer.inn, "5030123457");
        assert_eq!(d.payer.name, "ООО \"Северный");
        assert_eq!(d.payer.account, "40702810500000000003");
        assert_eq!(d.recipient.account, "40702810900000000001");
        assert_eq!(d.purpose, "Оплата по счёту СЧ-2026-00001");
        assert_eq!(d.credited_on, Some(day("2026-03-02")));
        assert_eq!(d.debited_on, None);
    }

    #[test]
    fn a_dos_file_is_read_as_cp866() {
        let windows = statement(DOC);
        let (text, _, _) = encoding_rs::WINDOWS_1251.decode(&windows);
        let text = text.replace("Кодировка=Windows", "Кодировка=DOS");
        let (bytes, _, bad) = encoding_rs::IBM866.encode(&text);
        assert!(!bad);
        let f = read(&bytes).unwrap();
        assert_eq!(f.documents[0].purpose, "Оплата по счёту СЧ-2026-00001");
        assert_eq!(f.documents[0].payer.name, "ООО \"Северный");
    }

    #[test]
    fn malformed_files_name_the_line_and_never_panic() {
        let cases: Vec<(Vec<u8>, usize, Problem)> = vec![
            (b"hello\r\n".to_vec(), 1, Problem::NotExchangeFile),
            (Vec::new(), 1, Problem::NotExchangeFile),
            (
                statement(&DOC.replace("Сумма=1500.5", "Сумма=1 500,5")),
                11,
                Problem::BadAmount {
                    key: "Сумма".into(),
                    value: "1 500,5".into(),
                },
            ),
            (
                statement(&DOC.replace("Дата=02.03.2026", "Дата=2026-03-02")),
                10,
                Problem::BadDate {
                    key: "Дата".into(),
                    value: "2026-03-02".into(),
                },
            ),
            (
                statement(&DOC.replace("Номер=55\r\n", "")),
                8,
                Problem::MissingField("Номер".into()),
            ),
            (
                statement(&DOC.replace("КонецДокумента\r\n", "")),
                8,
                Problem::Truncated,
            ),
            (
                statement(&DOC.replace("ПлательщикИНН=5030123457", "ПлательщикИНН 5030123457")),
                14,
                Problem::NotKeyValue,
            ),
            (
                statement(&format!("КонецДокумента\r\n{DOC}")),
                8,
                Problem::UnexpectedEnd("КонецДокумента".into()),
            ),
            (
                statement(&DOC.replace("Сумма=1500.5", "Сумма=0.00")),
                11,
                Problem::BadAmount {
                    key: "Сумма".into(),
                    value: "0.00".into(),
                },
            ),
        ];
        for (bytes, line, problem) in cases {
            assert_eq!(read(&bytes), Err(BankFileError { line, problem }));
        }
        let mut no_end = statement(DOC);
        let end = encoding_rs::WINDOWS_1251.encode("КонецФайла\r\n").0.len();
        no_end.truncate(no_end.len() - end);
        assert_eq!(read(&no_end).unwrap_err().problem, Problem::Truncated);
        // Arbitrary bytes give an error or a file, never a panic.
        for seed in 0u32..200 {
            let mut junk = statement(DOC);
            let i = (seed as usize * 7919) % junk.len();
            junk[i] = (seed * 31 % 256) as u8;
            let _ = read(&junk);
        }
    }
}
