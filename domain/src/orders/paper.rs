//! The seam to the `documents` crate: the data each printable document of
//! an order is made from, already cut for the party it is for.
//!
//! [`work_order`] assembles one leg's work order (заказ-наряд) and
//! [`contract_data`] a framework contract. They return data, never text:
//! codes, amounts in kopecks, dates; the templates word them. The
//! confidentiality rules of the brokerage (DESIGN §4) live here, so that a
//! template cannot show what it was never given:
//!
//! - the **client's** work order names us as the contractor (the forwarder
//!   for cargo) and carries our price; of the supplier only the machine
//!   (model, plate) and the driver's *first name* for site access — no
//!   supplier name, details or price;
//! - a **supplier's** work order names us as the customer and carries its
//!   own price; the site address, the work (free text with contacts masked)
//!   and our contact on site — no client name, details, contact or our price.
//!
//! The order workflow's `order.documents` action calls [`prepare`] once
//! the contracts are in force: each leg's data is laid out for its
//! template ([`super::print`]), rendered by the documents crate and kept
//! immutable, with its hash and the data it was made from (the paperwork
//! context).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult};
use crate::intake::request_types::FieldKind;
use crate::intake::requests::{local_text, site_tz};
use crate::orders::contracts::{Contract, ContractKind, DetailsInput, Side};
use crate::services::Services;

/// A party as a document names it: its legal details and who signs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PartyBlock {
    pub legal_form: String,
    pub name: String,
    pub inn: String,
    pub kpp: String,
    pub ogrn: String,
    pub address: String,
    pub bank_name: String,
    pub bik: String,
    pub settlement_account: String,
    pub corr_account: String,
    pub phone: String,
    pub email: String,
    pub signatory_name: String,
    pub signatory_position: String,
    /// `charter`, `power_of_attorney` or `self`.
    pub authority: String,
    pub poa_number: String,
    pub poa_date: String,
    /// A private person's passport, for the client's own contract only.
    pub passport: Option<Passport>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Passport {
    pub series: String,
    pub number: String,
    pub issued_by: String,
    pub issued_on: String,
    pub code: String,
    pub birth_date: String,
    pub registration_address: String,
}

/// A framework contract as a work order cites it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractRef {
    pub number: String,
    /// `YYYY-MM-DD`; none before it is in force.
    pub date: Option<String>,
    pub kind: String,
}

/// One field of the job, typed (the template words booleans and units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobField {
    pub id: String,
    pub title: String,
    pub kind: FieldKind,
    pub unit: Option<String>,
    pub value: Value,
}

/// What the job is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobBlock {
    pub site_address: String,
    pub timezone: String,
    /// Site-local `dd.mm.yyyy HH:MM` of the first arrival.
    pub starts_local: String,
    pub first_day: String,
    pub last_day: String,
    pub wanted_to_local: String,
    pub duration: Option<f64>,
    /// `none`, `hours` or `shifts`.
    pub duration_kind: String,
    pub fields: Vec<JobField>,
}

/// A machine of the leg.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineBlock {
    pub category: String,
    pub category_title: String,
    pub make: String,
    pub model: String,
    pub plate: Option<String>,
    /// The driver: the first name for the client (site access), the full
    /// name for the supplier (its own employee).
    pub driver: Option<String>,
    pub arrival_local: String,
    pub first_day: String,
    pub last_day: String,
}

/// The leg's money and terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoneyBlock {
    pub price_unit: String,
    pub quantity_centi: i64,
    pub vat_mode: String,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_net: i64,
    pub total_vat: i64,
    pub total_gross: i64,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
}

/// A person to call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub name: String,
    pub phone: Option<String>,
}

/// Everything one party's work order is made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkOrderData {
    /// The template: `work_order_client` or `work_order_supplier`.
    pub template: String,
    pub order_number: String,
    /// `YYYY-MM-DD`, the day the order was made (Moscow).
    pub order_date: String,
    pub request_type: String,
    pub type_title: String,
    pub order_title: String,
    pub side: Side,
    /// Our part: `forwarder` or `contractor` towards a client, `customer`
    /// towards a supplier (never the carrier: the supplier is).
    pub our_role: String,
    pub us: PartyBlock,
    /// The other party of this leg.
    pub party: PartyBlock,
    pub contract: Option<ContractRef>,
    pub job: JobBlock,
    pub machines: Vec<MachineBlock>,
    pub money: MoneyBlock,
    /// Our person for the job (the supplier's work order).
    pub our_contact: Option<Person>,
    /// The client's own person on site (the client's work order).
    pub site_contact: Option<Person>,
}

/// Everything a framework contract is made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractData {
    /// The template: `contract_forwarding`, `contract_charter`,
    /// `contract_services` or `contract_supply`.
    pub template: String,
    pub number: String,
    pub date: Option<String>,
    pub kind: String,
    pub side: String,
    pub us: PartyBlock,
    pub party: PartyBlock,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct OrderRow {
    number: String,
    request_type: String,
    site_address: Option<String>,
    site_timezone: Option<String>,
    fields: String,
    wanted_to: Option<i64>,
    duration: Option<f64>,
    contact_name: Option<String>,
    contact_phone: Option<String>,
    starts_at: i64,
    first_day: String,
    last_day: String,
    manager_user_id: Option<i64>,
    created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LegRow {
    pub(crate) id: i64,
    pub(crate) order_id: i64,
    pub(crate) side: String,
    pub(crate) party_org_id: i64,
    pub(crate) contract_id: Option<i64>,
    pub(crate) price_unit: String,
    pub(crate) quantity_centi: i64,
    pub(crate) vat_mode: String,
    pub(crate) unit_net: i64,
    pub(crate) unit_vat: i64,
    pub(crate) unit_gross: i64,
    pub(crate) total_net: i64,
    pub(crate) total_vat: i64,
    pub(crate) total_gross: i64,
    pub(crate) prepayment_percent: i64,
    pub(crate) postpayment_days: i64,
    pub(crate) payment_method: String,
}

pub(crate) const LEG_COLUMNS: &str = "l.id, l.order_id, l.side, l.party_org_id, l.contract_id, l.price_unit, l.quantity_centi, l.vat_mode, l.unit_net, l.unit_vat, l.unit_gross, l.total_net, l.total_vat, l.total_gross, l.prepayment_percent, l.postpayment_days, l.payment_method";

impl LegRow {
    pub(crate) fn money(&self) -> MoneyBlock {
        MoneyBlock {
            price_unit: self.price_unit.clone(),
            quantity_centi: self.quantity_centi,
            vat_mode: self.vat_mode.clone(),
            unit_net: self.unit_net,
            unit_vat: self.unit_vat,
            unit_gross: self.unit_gross,
            total_net: self.total_net,
            total_vat: self.total_vat,
            total_gross: self.total_gross,
            prepayment_percent: self.prepayment_percent,
            postpayment_days: self.postpayment_days,
            payment_method: self.payment_method.clone(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AssignmentRow {
    pub(crate) leg_id: i64,
    pub(crate) category: String,
    pub(crate) make: String,
    pub(crate) model: String,
    pub(crate) plate: Option<String>,
    pub(crate) driver_name: Option<String>,
    pub(crate) arrival_at: i64,
    pub(crate) first_day: String,
    pub(crate) last_day: String,
}

pub(crate) const ASSIGNMENT_COLUMNS: &str = "a.leg_id, a.category, a.make, a.model, a.plate, a.driver_name, a.arrival_at, a.first_day, a.last_day";

/// The first name of a person, for site access: of «Фамилия Имя Отчество»
/// the second word, of «Имя Фамилия» the first.
pub fn first_name(full: &str) -> String {
    let words: Vec<&str> = full.split_whitespace().collect();
    const PATRONYMIC: [&str; 6] = ["вич", "вна", "чна", "ична", "оглы", "кызы"];
    match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [_, name, rest @ ..]
            if rest.iter().any(|w| {
                let w = w.to_lowercase();
                PATRONYMIC.iter().any(|p| w.ends_with(p))
            }) =>
        {
            (*name).to_string()
        }
        [first, ..] => (*first).to_string(),
    }
}

/// A document's party block from what an organisation has on record.
fn party_of(p: &crate::parties::Party) -> PartyBlock {
    let d = &p.details;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    PartyBlock {
        legal_form: d.legal_form.clone(),
        name: d.name.clone(),
        inn: s(&d.inn),
        kpp: s(&d.kpp),
        ogrn: s(&d.ogrn),
        address: s(&d.legal_address),
        bank_name: s(&d.bank_name),
        bik: s(&d.bik),
        settlement_account: s(&d.settlement_account),
        corr_account: s(&d.corr_account),
        phone: s(&d.phone),
        email: s(&d.email),
        signatory_name: s(&d.director_name),
        signatory_position: s(&d.director_post),
        authority: if matches!(d.legal_form.as_str(), "ooo" | "ao" | "pao") {
            "charter".into()
        } else {
            "self".into()
        },
        ..Default::default()
    }
}

/// A client's party block from the details it gave for its contract (a
/// private person's passport included: the contract is its own).
fn party_from_details(d: &DetailsInput) -> PartyBlock {
    PartyBlock {
        legal_form: d.legal_form.clone(),
        name: d.name.clone(),
        inn: d.inn.clone(),
        kpp: d.kpp.clone(),
        ogrn: d.ogrn.clone(),
        address: d.legal_address.clone(),
        bank_name: d.bank_name.clone(),
        bik: d.bik.clone(),
        settlement_account: d.settlement_account.clone(),
        corr_account: d.corr_account.clone(),
        phone: d.phone.clone(),
        email: d.email.clone(),
        signatory_name: d.signatory_name.clone(),
        signatory_position: d.signatory_position.clone(),
        authority: d.authority.clone(),
        poa_number: d.poa_number.clone(),
        poa_date: d.poa_date.clone(),
        passport: (d.legal_form == "person").then(|| Passport {
            series: d.passport_series.clone(),
            number: d.passport_number.clone(),
            issued_by: d.passport_issued_by.clone(),
            issued_on: d.passport_issued_on.clone(),
            code: d.passport_code.clone(),
            birth_date: d.birth_date.clone(),
            registration_address: d.registration_address.clone(),
        }),
    }
}

async fn us(s: &Services) -> DomainResult<PartyBlock> {
    let broker = crate::access::broker_id(&s.db)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(party_of(
        &crate::parties::details_of(s.db.pool(), broker).await?,
    ))
}

async fn contract_by_id(s: &Services, id: i64) -> DomainResult<Contract> {
    let mut sql = engine::Sql::new(
        "SELECT c.id, c.party_org_id, c.side, c.kind, c.number, c.status, c.data, c.signed_on, c.signed_how, c.scan_file_id, c.details_at, c.in_force_at, c.created_at, c.updated_at FROM contracts c WHERE c.id = ",
    );
    sql.bind(id);
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// A party's block: a client with contract details gives them, anyone else
/// what we have on record.
async fn party_block(
    s: &Services,
    party: i64,
    contract: Option<&Contract>,
) -> DomainResult<PartyBlock> {
    match contract {
        Some(c) if c.side == "client" && c.details_at.is_some() => {
            Ok(party_from_details(&c.details()))
        }
        _ => Ok(party_of(
            &crate::parties::details_of(s.db.pool(), party).await?,
        )),
    }
}

fn job_fields(s: &Services, o: &OrderRow, side: Side) -> Vec<JobField> {
    let values: Map<String, Value> = match serde_json::from_str(&o.fields) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let Some(t) = s.request_types.get(&o.request_type) else {
        return Vec::new();
    };
    t.fields
        .iter()
        .filter_map(|f| {
            let v = values.get(&f.id)?;
            let value = match f.kind {
                // The address in full: the order is placed, the machine
                // must get there.
                FieldKind::Address => Value::String(
                    v.get("address")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ),
                // The client's own words reach a supplier only with every
                // contact masked (DESIGN §4).
                FieldKind::Text | FieldKind::String if side == Side::Supplier => {
                    Value::String(crate::notify::mask_contacts(v.as_str().unwrap_or_default()))
                }
                FieldKind::Category => Value::String(
                    v.as_str()
                        .and_then(|c| s.equipment.category(c))
                        .map(|c| c.title.clone())
                        .unwrap_or_default(),
                ),
                _ => v.clone(),
            };
            Some(JobField {
                id: f.id.clone(),
                title: f.title.clone(),
                kind: f.kind,
                unit: f.unit.clone(),
                value,
            })
        })
        .collect()
}

async fn order_row(s: &Services, id: i64) -> DomainResult<OrderRow> {
    sqlx::query_as(
        "SELECT number, request_type, site_address, site_timezone, fields, wanted_to, duration,
           contact_name, contact_phone, starts_at, first_day, last_day, manager_user_id, created_at
         FROM orders WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(s.db.pool())
    .await?
    .ok_or(DomainError::NotFound)
}

pub(crate) async fn legs_of(s: &Services, order_id: i64) -> DomainResult<Vec<LegRow>> {
    let mut sql = engine::Sql::new("SELECT ");
    sql.push(LEG_COLUMNS)
        .push(" FROM order_legs l WHERE l.order_id = ")
        .bind(order_id)
        .push(" ORDER BY CASE WHEN l.side = 'client' THEN 0 ELSE 1 END, l.id");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

pub(crate) async fn assignments_of(
    s: &Services,
    order_id: i64,
) -> DomainResult<Vec<AssignmentRow>> {
    let mut sql = engine::Sql::new("SELECT ");
    sql.push(ASSIGNMENT_COLUMNS)
        .push(" FROM order_assignments a WHERE a.order_id = ")
        .bind(order_id)
        .push(" ORDER BY a.id");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// The work order of one leg, cut for its party (see the module docs).
/// Unscoped: the caller decides who may have it ([`work_order_for`] for a
/// signed-in person).
pub async fn work_order(s: &Services, leg_id: i64) -> DomainResult<WorkOrderData> {
    let mut sql = engine::Sql::new("SELECT ");
    sql.push(LEG_COLUMNS)
        .push(" FROM order_legs l WHERE l.id = ")
        .bind(leg_id);
    let leg: LegRow = sql
        .query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)?;
    let o = order_row(s, leg.order_id).await?;
    let side = if leg.side == "client" {
        Side::Client
    } else {
        Side::Supplier
    };
    let t = s.request_types.get(&o.request_type);
    let tz = site_tz(o.site_timezone.as_deref());
    let contract = match leg.contract_id {
        Some(id) => Some(contract_by_id(s, id).await?),
        None => None,
    };
    let machines: Vec<MachineBlock> = assignments_of(s, leg.order_id)
        .await?
        .into_iter()
        // The client sees every machine of its order; a supplier only its own.
        .filter(|a| side == Side::Client || a.leg_id == leg.id)
        .map(|a| MachineBlock {
            category_title: s
                .equipment
                .category(&a.category)
                .map(|c| c.title.clone())
                .unwrap_or_default(),
            category: a.category,
            make: a.make,
            model: a.model,
            plate: a.plate,
            driver: a.driver_name.map(|d| match side {
                Side::Client => first_name(&d),
                Side::Supplier => d,
            }),
            arrival_local: local_text(Some(a.arrival_at), tz),
            first_day: a.first_day,
            last_day: a.last_day,
        })
        .collect();
    let (our_contact, site_contact) = match side {
        Side::Client => (
            None,
            o.contact_name.clone().map(|name| Person {
                name,
                phone: o.contact_phone.clone(),
            }),
        ),
        Side::Supplier => {
            let manager: Option<(String, Option<String>)> = match o.manager_user_id {
                Some(m) => {
                    sqlx::query_as("SELECT full_name, phone FROM users WHERE id = $1")
                        .bind(m)
                        .fetch_optional(s.db.pool())
                        .await?
                }
                None => None,
            };
            let us = us(s).await?;
            (
                Some(match manager {
                    Some((name, phone)) => Person {
                        name,
                        phone: phone.or_else(|| Some(us.phone.clone()).filter(|p| !p.is_empty())),
                    },
                    None => Person {
                        name: us.name.clone(),
                        phone: Some(us.phone.clone()).filter(|p| !p.is_empty()),
                    },
                }),
                None,
            )
        }
    };
    let kind = contract
        .as_ref()
        .and_then(|c| ContractKind::parse(&c.kind))
        .unwrap_or(ContractKind::Services);
    Ok(WorkOrderData {
        template: match side {
            Side::Client => "work_order_client",
            Side::Supplier => "work_order_supplier",
        }
        .into(),
        order_number: o.number.clone(),
        order_date: crate::orders::contracts::today(engine::from_db_time(o.created_at))
            .format("%Y-%m-%d")
            .to_string(),
        request_type: o.request_type.clone(),
        type_title: t.map(|t| t.title.clone()).unwrap_or_default(),
        order_title: t.map(|t| t.order_title.clone()).unwrap_or_default(),
        side,
        our_role: match (side, kind) {
            (Side::Client, ContractKind::Forwarding) => "forwarder",
            (Side::Client, _) => "contractor",
            (Side::Supplier, _) => "customer",
        }
        .into(),
        us: us(s).await?,
        party: party_block(s, leg.party_org_id, contract.as_ref()).await?,
        contract: contract.as_ref().map(|c| ContractRef {
            number: c.number.clone(),
            date: c.signed_on.clone(),
            kind: c.kind.clone(),
        }),
        job: JobBlock {
            site_address: o.site_address.clone().unwrap_or_default(),
            timezone: tz.name().to_string(),
            starts_local: local_text(Some(o.starts_at), tz),
            first_day: o.first_day.clone(),
            last_day: o.last_day.clone(),
            wanted_to_local: local_text(o.wanted_to, tz),
            duration: o.duration,
            duration_kind: t
                .map(|t| match t.duration {
                    crate::intake::request_types::DurationKind::None => "none",
                    crate::intake::request_types::DurationKind::Hours => "hours",
                    crate::intake::request_types::DurationKind::Shifts => "shifts",
                })
                .unwrap_or("none")
                .into(),
            fields: job_fields(s, &o, side),
        },
        machines,
        money: leg.money(),
        our_contact,
        site_contact,
    })
}

/// The work order of `leg_id` for a signed-in person: staff any leg, a
/// party only its own leg of an order it may see; anything else is "not
/// found" — a client asking for a supplier's work order, a supplier for
/// the client's or another supplier's.
pub async fn work_order_for(
    s: &Services,
    actor: &Actor,
    leg_id: i64,
) -> DomainResult<WorkOrderData> {
    let mut sql = engine::Sql::new(
        "SELECT COUNT(*) FROM order_legs l JOIN orders o ON o.id = l.order_id WHERE l.id = ",
    );
    sql.bind(leg_id);
    scope(&mut sql, actor, Resource::Order, "o");
    if !actor.is_staff() {
        sql.push(" AND l.party_org_id = ").bind(actor.org_id());
    }
    let n: i64 = sql.query_scalar().fetch_one(s.db.pool()).await?;
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    work_order(s, leg_id).await
}

/// The data of a framework contract (its party's details as given, ours).
pub async fn contract_data(s: &Services, contract_id: i64) -> DomainResult<ContractData> {
    let c = contract_by_id(s, contract_id).await?;
    Ok(ContractData {
        template: super::print::contract_template(&c.kind).into(),
        number: c.number.clone(),
        date: c.signed_on.clone(),
        kind: c.kind.clone(),
        side: c.side.clone(),
        us: us(s).await?,
        party: party_block(s, c.party_org_id, Some(&c)).await?,
    })
}

/// `order.documents`: the work order of every leg of an order, once its
/// contracts are in force. Each leg's data is assembled (and checked to be
/// whole: a party without a name or a leg without a machine cannot be put
/// on paper), laid out for its template ([`super::print`]) and issued as an
/// immutable document of the order's part (`client`, `supplier:<leg>`),
/// readable by staff and by that leg's party only. Repeating it with the
/// same data issues nothing new ([`paperwork::issued::issue_once`]).
/// Returns the documents' ids, the client's first.
///
/// A template that does not compile is `order.documents_template` (the
/// workflow gives staff a task; the problems with their positions are in
/// the log and on the template's page), missing data
/// `order.documents_incomplete`.
pub(crate) async fn prepare(s: &Services, order_id: i64) -> DomainResult<Vec<i64>> {
    use crate::paperwork::issued::{self, IssueError, NewDocument, Owner};
    let legs = legs_of(s, order_id).await?;
    let table = crate::tax::vat_table(&s.db).await?;
    let model = match legs.iter().find(|l| l.side == "client") {
        Some(client) => crate::tax::legal_model_for_client(&s.db, client.party_org_id).await?,
        None => crate::tax::company_legal_model(&s.db).await?,
    };
    let supplier_total = crate::values::Kopecks::checked_sum(
        legs.iter()
            .filter(|l| l.side != "client")
            .map(|l| crate::values::Kopecks(l.total_gross)),
    );
    let mut ids = Vec::with_capacity(legs.len());
    let mut supplier_no = 0;
    for leg in &legs {
        let data = work_order(s, leg.id).await?;
        if data.party.name.is_empty() || data.us.name.is_empty() || data.machines.is_empty() {
            return Err(DomainError::Conflict("order.documents_incomplete"));
        }
        let date = chrono::NaiveDate::parse_from_str(&data.order_date, "%Y-%m-%d")
            .map_err(|e| anyhow::anyhow!("order {order_id}: date {:?}: {e}", data.order_date))?;
        let rate = super::print::vat_rate(&table, &leg.vat_mode, date);
        let (part, number) = if leg.side == "client" {
            ("client".to_string(), format!("{}-К", data.order_number))
        } else {
            supplier_no += 1;
            (
                format!("supplier:{}", leg.id),
                format!("{}-П{supplier_no}", data.order_number),
            )
        };
        let layout = super::print::work_order(&data, &rate, model, supplier_total, &number)?;
        let doc = NewDocument {
            template_key: data.template.clone(),
            number,
            owner: Owner::new("order", order_id, part),
            party_org_id: Some(leg.party_org_id),
            data: layout,
            created_by: None,
        };
        match issued::issue_once(&s.db, &s.files, doc).await {
            Ok(d) => ids.push(d.id),
            Err(IssueError::Template {
                key,
                version,
                problems,
            }) => {
                tracing::warn!(order_id, template = %key, version, ?problems, "work order template does not compile");
                return Err(DomainError::Conflict("order.documents_template"));
            }
            Err(IssueError::Domain(e)) => return Err(e),
        }
    }
    Ok(ids)
}

/// `contract.document`: the framework contract's PDF, issued when it goes
/// out for signature (the client has given its details; a supplier is
/// asked to accept). VAT is the rate of whoever sells under it (we towards
/// a client, the supplier towards us) in force today. Readable by staff
/// and the contract's party. Repeating it with the same data issues
/// nothing new.
pub(crate) async fn issue_contract(s: &Services, contract_id: i64) -> DomainResult<i64> {
    use crate::paperwork::issued::{self, IssueError, NewDocument, Owner};
    let c = contract_by_id(s, contract_id).await?;
    let data = contract_data(s, contract_id).await?;
    if data.party.name.is_empty() || data.us.name.is_empty() {
        return Err(DomainError::Conflict("contract.document_incomplete"));
    }
    let seller = if c.side == "supplier" {
        c.party_org_id
    } else {
        crate::access::broker_id(&s.db)
            .await?
            .ok_or(DomainError::NotFound)?
    };
    let vat_mode: Option<String> =
        sqlx::query_scalar("SELECT vat_mode FROM organisations WHERE id = $1")
            .bind(seller)
            .fetch_optional(s.db.pool())
            .await?
            .flatten();
    let today = crate::orders::contracts::today(s.db.now());
    let table = crate::tax::vat_table(&s.db).await?;
    let rate = super::print::vat_rate(&table, vat_mode.as_deref().unwrap_or("none"), today);
    let model = if c.side == "client" {
        crate::tax::legal_model_for_client(&s.db, c.party_org_id).await?
    } else {
        crate::tax::company_legal_model(&s.db).await?
    };
    let doc = NewDocument {
        template_key: data.template.clone(),
        number: data.number.clone(),
        owner: Owner::new("contract", contract_id, "party"),
        party_org_id: Some(c.party_org_id),
        data: super::print::contract(&data, &rate, model),
        created_by: None,
    };
    match issued::issue_once(&s.db, &s.files, doc).await {
        Ok(d) => Ok(d.id),
        Err(IssueError::Template {
            key,
            version,
            problems,
        }) => {
            tracing::warn!(contract_id, template = %key, version, ?problems, "contract template does not compile");
            Err(DomainError::Conflict("contract.document_template"))
        }
        Err(IssueError::Domain(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_name_is_found_in_either_order() {
        assert_eq!(first_name("Козлов Артём Сергеевич"), "Артём");
        assert_eq!(first_name("Белова Ирина Сергеевна"), "Ирина");
        assert_eq!(first_name("Мамедов Эльдар Рауф оглы"), "Эльдар");
        assert_eq!(first_name("Артём Козлов"), "Артём");
        assert_eq!(first_name("  Артём  "), "Артём");
        assert_eq!(first_name(""), "");
    }
}
