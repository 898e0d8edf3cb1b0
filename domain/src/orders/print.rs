//! An order's documents as their templates print them.
//!
//! [`paper`](super::paper) decides *what* each party may read (the data of
//! a leg's work order, of a contract, already cut for its party); this
//! module lays that data out in the shape the Typst templates of
//! `documents/templates/` take (their `*.sample.json` files show it):
//! dates as `dd.mm.yyyy`, amounts in figures and words with VAT at the rate
//! in force on the document's date, the job in the blocks each kind of
//! order prints (cargo, passengers, materials, machinery). It adds nothing
//! a party may not see: every value comes from the cut data.
//!
//! Wording stays in the templates: units, payment terms and the
//! cancellation clauses are passed as codes and figures and worded there,
//! where a lawyer edits them.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::contracts::Side;
use super::paper::{ContractData, JobField, PartyBlock, WorkOrderData};
use crate::error::{DomainError, DomainResult};
use crate::intake::request_types::FieldKind;
use crate::paperwork::data::{PriceLine, money, price};
use crate::values::{Kopecks, LegalModel, VatMode, VatRate};

/// `YYYY-MM-DD` → `dd.mm.yyyy`; anything else as it is.
pub fn russian_date(iso: &str) -> String {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d.%m.%Y").to_string())
        .unwrap_or_else(|_| iso.to_string())
}

/// «Кравченко Ольга Игоревна» → «О. И. Кравченко» (a signature's caption).
pub fn initials(full: &str) -> String {
    let words: Vec<&str> = full.split_whitespace().collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [surname, rest @ ..] => {
            let letters: Vec<String> = rest
                .iter()
                .filter_map(|w| w.chars().next())
                .map(|c| format!("{c}."))
                .collect();
            format!("{} {surname}", letters.join("\u{a0}"))
        }
    }
}

/// A party as `common.typ` prints it (`intro`, `requisites`, `signature`).
pub fn party(p: &PartyBlock) -> Value {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let mut signatory = Map::new();
    if !p.signatory_name.is_empty() {
        signatory.insert("name".into(), json!(p.signatory_name));
        signatory.insert("short".into(), json!(initials(&p.signatory_name)));
    }
    if let Some(v) = opt(&p.signatory_position) {
        signatory.insert("position".into(), json!(v));
    }
    signatory.insert(
        "basis".into(),
        json!(match p.authority.as_str() {
            "power_of_attorney" => "power_of_attorney",
            _ => "charter",
        }),
    );
    if let Some(v) = opt(&p.poa_number) {
        signatory.insert("poa_number".into(), json!(v));
    }
    if let Some(v) = opt(&p.poa_date) {
        signatory.insert("poa_date".into(), json!(russian_date(&v)));
    }
    let mut out = json!({
        "name": p.name,
        "legal_form": p.legal_form,
        "inn": opt(&p.inn),
        "kpp": opt(&p.kpp),
        "ogrn": opt(&p.ogrn),
        "legal_address": opt(&p.address),
        "bank_name": opt(&p.bank_name),
        "bik": opt(&p.bik),
        "account": opt(&p.settlement_account),
        "corr_account": opt(&p.corr_account),
        "phone": opt(&p.phone),
        "email": opt(&p.email),
        "signatory": Value::Object(signatory),
    });
    if let Some(pp) = &p.passport {
        out["passport"] = json!(format!(
            "{} {}, выдан {} {}",
            pp.series,
            pp.number,
            pp.issued_by,
            russian_date(&pp.issued_on)
        ));
    }
    // Templates test presence with `opt`, which treats null as absent.
    strip_nulls(out)
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The rate a leg's VAT mode charges on the document's date.
pub fn vat_rate(table: &crate::values::VatTable, mode: &str, on: NaiveDate) -> VatRate {
    VatMode::parse(mode)
        .ok()
        .and_then(|m| table.rate_for(m, on))
        .unwrap_or(VatRate {
            code: "none".into(),
            rate_bp: None,
            valid_from: on,
        })
}

/// A decimal figure as Russian documents print it: `1,5`, `22`.
fn figure(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

/// A quantity in hundredths as printed: `1`, `1,5`, `22,25`.
fn quantity(centi: i64) -> String {
    figure(centi as f64 / 100.0)
}

fn field<'a>(fields: &'a [JobField], id: &str) -> Option<&'a JobField> {
    fields.iter().find(|f| f.id == id)
}

/// A field's value as printed, with its unit (`20 т`); `None` when empty.
fn shown(fields: &[JobField], id: &str) -> Option<String> {
    let f = field(fields, id)?;
    let text = match (&f.value, f.kind) {
        (Value::Number(n), _) => figure(n.as_f64()?),
        (Value::String(s), _) if s.trim().is_empty() => return None,
        (Value::String(s), _) => s.trim().to_string(),
        (Value::Bool(_), FieldKind::Boolean) => return None,
        _ => return None,
    };
    Some(match &f.unit {
        Some(unit) => format!("{text}\u{a0}{unit}"),
        None => text,
    })
}

fn flag(fields: &[JobField], id: &str) -> bool {
    field(fields, id).and_then(|f| f.value.as_bool()) == Some(true)
}

fn contact(p: &Option<super::paper::Person>) -> Value {
    match p {
        Some(p) => strip_nulls(json!({"name": p.name, "phone": p.phone})),
        None => Value::Null,
    }
}

/// The job block of one kind of order (what `work_order_*.typ` prints).
fn job(w: &WorkOrderData) -> Value {
    let j = &w.job;
    let f = &j.fields;
    let end = (!j.wanted_to_local.is_empty()).then(|| j.wanted_to_local.clone());
    let site_contact = contact(&w.site_contact);
    let mut out = json!({
        "start": j.starts_local,
        "end": end,
        // Every field as the request has it, for a kind no block knows.
        "fields": f.iter().filter_map(|x| shown(f, &x.id).map(|v| json!({"name": x.title, "value": v}))).collect::<Vec<_>>(),
    });
    let amount = match (j.duration_kind.as_str(), j.duration) {
        ("hours", Some(d)) => Some(json!({"hours": figure(d)})),
        ("shifts", Some(d)) => Some(json!({"shifts": figure(d)})),
        _ => None,
    };
    match w.request_type.as_str() {
        "cargo" => {
            out["cargo"] = json!({
                "name": shown(f, "cargo").unwrap_or_default(),
                "weight": shown(f, "weight_t"),
                "volume": shown(f, "volume_m3"),
                "packaging": shown(f, "dimensions").map(|d| format!("габариты места: {d}")),
                "body_type": shown(f, "body_type"),
                "loading_method": shown(f, "loading_method"),
            });
            let point = |kind: &str, id: &str, contact: Value| json!({"kind": kind, "address": shown(f, id).unwrap_or_default(), "contact": contact});
            out["points"] = json!([
                point("loading", "loading_address", site_contact.clone()),
                point("unloading", "unloading_address", Value::Null),
            ]);
        }
        "passengers" => {
            out["passengers"] = json!({
                "route": shown(f, "route").unwrap_or_default(),
                "pickup": shown(f, "pickup_address").unwrap_or_default(),
                "count": field(f, "passengers").and_then(|x| x.value.as_i64()).unwrap_or(0),
                "bus_type": shown(f, "vehicle_class"),
                "round_trip": flag(f, "round_trip"),
                "luggage": flag(f, "luggage"),
                "child_seats": field(f, "child_seats").and_then(|x| x.value.as_i64()).filter(|n| *n > 0),
            });
        }
        "materials" => {
            let material = match shown(f, "material") {
                Some(m) if m == "другое" => shown(f, "material_other").unwrap_or(m),
                Some(m) => m,
                None => String::new(),
            };
            let qty = match (shown(f, "quantity"), shown(f, "quantity_unit")) {
                (Some(q), Some(u)) => format!("{q}\u{a0}{u}"),
                (Some(q), None) => q,
                _ => String::new(),
            };
            out["materials"] = json!({
                "material": material,
                "quantity": qty,
                "supply": shown(f, "supply"),
                "unloading_point": shown(f, "delivery_address").unwrap_or(j.site_address.clone()),
                "unloading_method": shown(f, "unloading_method"),
                "contact": site_contact,
            });
        }
        _ => {
            let specs: Vec<Value> = f
                .iter()
                .filter(|x| {
                    matches!(x.kind, FieldKind::Decimal | FieldKind::Integer) && x.unit.is_some()
                })
                .filter_map(|x| shown(f, &x.id).map(|v| json!({"name": x.title, "value": v})))
                .collect();
            let machine_type = shown(f, "category")
                .or_else(|| w.machines.first().map(|m| m.category_title.clone()))
                .unwrap_or_default();
            out["machinery"] = json!({
                "machine_type": machine_type,
                "specs": specs,
                "site": shown(f, "site_address").unwrap_or(j.site_address.clone()),
                "work": shown(f, "work"),
                "amount": amount,
                "with_operator": flag(f, "with_operator"),
                "contact": site_contact,
            });
        }
    }
    strip_nulls(out)
}

/// The price table of a leg: one line per leg (its unit, quantity and unit
/// price as agreed), with VAT at `rate`.
fn price_block(w: &WorkOrderData, rate: &VatRate) -> DomainResult<Value> {
    let m = &w.money;
    let categories: Vec<&str> = {
        let mut seen: Vec<&str> = Vec::new();
        for machine in &w.machines {
            if !seen.contains(&machine.category_title.as_str()) {
                seen.push(&machine.category_title);
            }
        }
        seen
    };
    let name = if categories.is_empty() {
        w.type_title.clone()
    } else {
        format!("{} — {}", w.type_title, categories.join(", "))
    };
    let line = PriceLine {
        name,
        unit: m.price_unit.clone(),
        quantity: quantity(m.quantity_centi),
        unit_price: Kopecks(m.unit_gross),
        sum: Kopecks(m.total_gross),
    };
    price(&[line], rate).ok_or(DomainError::Conflict("order.documents_incomplete"))
}

/// What a leg's work order template is given.
///
/// `legal_model` matters on the client's leg only; `supplier_total` (the
/// suppliers' gross sum) makes the agency commission there.
pub fn work_order(
    w: &WorkOrderData,
    rate: &VatRate,
    legal_model: LegalModel,
    supplier_total: Option<Kopecks>,
    document_number: &str,
) -> DomainResult<Value> {
    let contract = w
        .contract
        .as_ref()
        .ok_or(DomainError::Conflict("order.documents_incomplete"))?;
    let mut d = json!({
        "kind": w.request_type,
        "document": {"number": document_number, "date": russian_date(&w.order_date)},
        "contract": {
            "number": contract.number,
            "date": contract.date.as_deref().map(russian_date).unwrap_or_else(|| "—".into()),
        },
        "order": {"number": w.order_number},
        "broker": party(&w.us),
        "job": job(w),
        "vehicles": w.machines.iter().map(|m| json!({
            "model": format!("{} {}", m.make, m.model).trim().to_string(),
            "plate": m.plate.clone().unwrap_or_else(|| "—".into()),
            "driver": m.driver.clone().unwrap_or_else(|| "—".into()),
            "arrival": m.arrival_local,
        })).collect::<Vec<_>>(),
        "price": price_block(w, rate)?,
        "payment_terms": {
            "prepayment_percent": w.money.prepayment_percent,
            "postpayment_days": w.money.postpayment_days,
            "method": w.money.payment_method,
        },
    });
    match w.side {
        Side::Client => {
            d["client"] = party(&w.party);
            d["legal_model"] = json!(legal_model.as_str());
            if legal_model == LegalModel::Agency
                && let Some(cost) = supplier_total
                && let Some(fee) = Kopecks(w.money.total_gross).checked_sub(cost)
            {
                d["commission"] = money(fee, rate);
            }
        }
        Side::Supplier => {
            d["supplier"] = party(&w.party);
            d["site"] = strip_nulls(json!({
                "address": w.job.site_address,
                "contact": contact(&w.our_contact),
            }));
        }
    }
    Ok(d)
}

/// What a framework contract's template is given.
pub fn contract(c: &ContractData, rate: &VatRate, legal_model: LegalModel) -> Value {
    let party_key = if c.side == "supplier" {
        "supplier"
    } else {
        "client"
    };
    let mut d = json!({
        "legal_model": legal_model.as_str(),
        "contract": {
            "number": c.number,
            "date": c.date.as_deref().map(russian_date).unwrap_or_else(|| "«___» ____________ 20__".into()),
        },
        "broker": party(&c.us),
        "terms": {},
    });
    d[party_key] = party(&c.party);
    d["vat"] = match rate.percent_label() {
        Some(label) => json!({"rate": label}),
        None => Value::Null,
    };
    if c.side == "supplier" {
        d["kinds"] = json!(["cargo", "passengers", "materials", "machinery"]);
    }
    d
}

/// The template of a contract of `kind` (see `ContractKind`).
pub fn contract_template(kind: &str) -> &'static str {
    match kind {
        "forwarding" => "contract_cargo",
        "charter" => "contract_passengers",
        "supply" => "contract_supplier",
        _ => "contract_machinery",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_and_dates_as_documents_print_them() {
        assert_eq!(initials("Кравченко Ольга Игоревна"), "О.\u{a0}И. Кравченко");
        assert_eq!(initials("Соколов"), "Соколов");
        assert_eq!(russian_date("2026-03-14"), "14.03.2026");
        assert_eq!(russian_date("14.03.2026"), "14.03.2026");
        assert_eq!(quantity(150), "1,5");
        assert_eq!(quantity(2200), "22");
        assert_eq!(figure(0.25), "0,25");
    }
}
