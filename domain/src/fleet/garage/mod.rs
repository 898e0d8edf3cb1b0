//! A supplier's garage: machines with their category from the equipment
//! catalogue, typed specifications, base and service radius, photos,
//! documents with expiry dates and a calendar of busy days. A machine is
//! available for work only while every mandatory document of its category is
//! valid.
//!
//! # Availability
//!
//! The rule lives here, once: a machine is available on a calendar date when
//! it is active, its category is known, every document its category requires
//! has a record valid on that date (`valid_from` empty or not later,
//! `valid_until` not earlier), and the date is not one of its busy days.
//! [`evaluate`] applies it to loaded rows and says *why not*;
//! [`push_available`] writes the same rule as SQL for lists and matching
//! (a test checks that both agree). Dates are calendar dates of the site's
//! time zone (Moscow unless configured), stored as `YYYY-MM-DD` text, which
//! compares correctly as text.
//!
//! # Expiry warnings
//!
//! Each document with a "valid until" date runs the `machine_document`
//! workflow (`workflows/machine_document.yaml`), started in the same
//! transaction as the document row. Its timers call the
//! `machine_document.warn` action registered by `register_engine` 14 days
//! before expiry and once the document has expired. Only the newest document
//! of a kind on a machine is watched: a renewal (a new date on the same
//! record) re-plans the timers through the `document.renewed` event, a newer
//! record of the same kind closes the older record's watch. A warning about
//! one document, stage and date is sent at most once (`machine_document_alerts`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use engine::{
    ActionContext, ActionError, EngineBuilder, ObjectRef, Sql, Tx, action_fn, to_db_time,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::files::{Purpose, StoredFile};
use crate::fleet::catalogue::{DocumentKind, EquipmentCatalogue, SpecType};
use crate::notify;
use crate::services::Services;
use crate::services::ServicesCell;
use crate::{access::audit, args};

/// The workflow that watches a document's expiry, and its object kind.
pub const WORKFLOW: &str = "machine_document";
pub const OBJECT_KIND: &str = "machine_document";
/// How many days before expiry a document counts as "expiring" (the
/// workflow warns the owner at the same distance).
pub const WARN_DAYS: i64 = 14;
/// The longest range of busy days set or cleared at once.
pub const MAX_BUSY_RANGE_DAYS: i64 = 366;
/// Photos one machine may have.
pub const MAX_PHOTOS: i64 = 12;
/// The hour (site time) of the last valid day the workflow's times refer to.
const DEADLINE_HOUR: u32 = 9;
const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Machine {
    pub id: i64,
    pub org_id: i64,
    pub category: String,
    pub make: String,
    pub model: String,
    pub year: Option<i64>,
    pub plate: Option<String>,
    pub vin: Option<String>,
    /// Typed specifications as JSON text (see the catalogue).
    pub specs: String,
    pub base_address: Option<String>,
    pub base_lat: Option<f64>,
    pub base_lon: Option<f64>,
    pub service_radius_km: i64,
    pub status: String,
    pub photo_file_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const MACHINE_COLUMNS: &str = "m.id, m.org_id, m.category, m.make, m.model, m.year, m.plate, m.vin, m.specs, m.base_address, m.base_lat, m.base_lon, m.service_radius_km, m.status, m.photo_file_id, m.created_at, m.updated_at";

impl Machine {
    /// The typed specifications.
    pub fn spec_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.specs) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// Filters of a garage list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineFilter {
    pub category: Option<String>,
    pub q: Option<String>,
    pub include_archived: bool,
    /// Only machines available on this date (`YYYY-MM-DD` or `dd.mm.yyyy`;
    /// anything else is ignored).
    pub available_on: Option<String>,
}

/// The machines of `org_id` the actor may see (a supplier only its own).
pub async fn list(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    f: &MachineFilter,
) -> DomainResult<Vec<Machine>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(MACHINE_COLUMNS)
        .push(" FROM machines m WHERE m.org_id = ")
        .bind(org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "m");
    if !f.include_archived {
        sql.push(" AND m.status = 'active'");
    }
    if let Some(c) = f.category.as_deref().filter(|c| !c.is_empty()) {
        sql.push(" AND m.category = ").bind(c);
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(" AND m.search_text LIKE ")
            .bind(crate::search::pattern(q))
            .push(" ESCAPE '\\'");
    }
    if let Some(date) = f.available_on.as_deref().and_then(parse_date) {
        push_available(&mut sql, &s.equipment, "m", date);
    }
    sql.push(" ORDER BY m.category, m.make, m.model, m.id");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// One machine of a list, with what the list shows about it.
#[derive(Debug, Clone, Serialize)]
pub struct MachineCard {
    #[serde(flatten)]
    pub machine: Machine,
    pub category_title: String,
    pub availability: Availability,
}

/// A garage list with each machine's availability on `available_on` (today
/// when the filter names no date).
pub async fn overview(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    f: &MachineFilter,
) -> DomainResult<(NaiveDate, Vec<MachineCard>)> {
    let date = f
        .available_on
        .as_deref()
        .and_then(parse_date)
        .unwrap_or_else(|| today(s));
    let machines = list(s, actor, org_id, f).await?;
    let ids: Vec<i64> = machines.iter().map(|m| m.id).collect();
    let docs = documents_of(s, actor, &ids).await?;
    let busy = busy_between(s, &ids, date, date).await?;
    let cards = machines
        .into_iter()
        .map(|m| {
            let availability = evaluate(&s.equipment, &m, &docs, &busy, date);
            let category_title = category_title(&s.equipment, &m.category);
            MachineCard {
                machine: m,
                category_title,
                availability,
            }
        })
        .collect();
    Ok((date, cards))
}

fn category_title(catalogue: &EquipmentCatalogue, code: &str) -> String {
    catalogue
        .category(code)
        .map(|c| c.title.clone())
        .unwrap_or_else(|| code.to_string())
}

/// A machine the actor may see.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Machine> {
    let mut sql = Sql::new("SELECT ");
    sql.push(MACHINE_COLUMNS)
        .push(" FROM machines m WHERE m.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::OrgOwned, "m");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Whether the actor may change the machine: its own supplier's office.
/// The broker's staff see every garage but change none.
pub fn can_edit(actor: &Actor, m: &Machine) -> bool {
    crate::access::require(actor, crate::access::Rule::SupplierOffice).is_ok()
        && m.org_id == actor.org_id()
}

/// A machine the actor may change.
async fn owned(s: &Services, actor: &Actor, id: i64) -> DomainResult<Machine> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let m = get(s, actor, id).await?;
    if m.org_id != actor.org_id() {
        return Err(DomainError::NotFound);
    }
    Ok(m)
}

/// An active machine the actor may change.
async fn owned_active(s: &Services, actor: &Actor, id: i64) -> DomainResult<Machine> {
    let m = owned(s, actor, id).await?;
    if m.status != "active" {
        return Err(DomainError::Conflict("machine.archived"));
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// Dates

/// Today's calendar date in the site's time zone.
pub fn today(s: &Services) -> NaiveDate {
    s.db.now()
        .with_timezone(&s.engine.vocabulary().timezone)
        .date_naive()
}

/// A calendar date as typed: `2026-11-01` (a date input) or `01.11.2026`.
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let t = input.trim();
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d.%m.%Y"))
        .ok()?;
    (1990..=2100).contains(&d.year()).then_some(d)
}

/// A date as stored: `YYYY-MM-DD`.
pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A stored date as people read it: `01.11.2026`.
fn dmy(stored: &str) -> String {
    parse_date(stored)
        .map(|d| d.format("%d.%m.%Y").to_string())
        .unwrap_or_else(|| stored.to_string())
}

/// The moment the workflow's timers refer to: 09:00 site time on `date`,
/// as RFC 3339 in UTC.
fn deadline_at(s: &Services, date: NaiveDate) -> String {
    let tz = s.engine.vocabulary().timezone;
    let local = date.and_hms_opt(DEADLINE_HOUR, 0, 0).unwrap_or_default();
    let at = tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local));
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

mod availability;
mod calendar;
mod documents;
mod machines;
mod photos;
mod watch;

pub use availability::*;
pub use calendar::*;
pub use documents::*;
pub use machines::*;
pub use photos::*;
pub use watch::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> EquipmentCatalogue {
        EquipmentCatalogue::builtin().expect("catalogue")
    }

    fn machine(category: &str) -> Machine {
        Machine {
            id: 1,
            org_id: 2,
            category: category.into(),
            make: "КАМАЗ".into(),
            model: "65115".into(),
            year: Some(2020),
            plate: Some("А123ВС 77".into()),
            vin: None,
            specs: "{}".into(),
            base_address: None,
            base_lat: None,
            base_lon: None,
            service_radius_km: 50,
            status: "active".into(),
            photo_file_id: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn doc(id: i64, kind: &str, from: Option<&str>, until: &str) -> MachineDocument {
        MachineDocument {
            id,
            machine_id: 1,
            org_id: 2,
            kind: kind.into(),
            number: None,
            valid_from: from.map(Into::into),
            valid_until: Some(until.into()),
            file_id: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn d(s: &str) -> NaiveDate {
        parse_date(s).expect("date")
    }

    #[test]
    fn dates_are_read_in_both_spellings() {
        assert_eq!(parse_date("2026-11-01"), parse_date("01.11.2026"));
        assert_eq!(parse_date("31.02.2026"), None);
        assert_eq!(parse_date("1.1.1900"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(dmy("2026-11-01"), "01.11.2026");
    }

    #[test]
    fn a_machine_needs_every_mandatory_document_valid_on_the_day() {
        let c = catalogue();
        let m = machine("tipper");
        let none = evaluate(&c, &m, &[], &[], d("2026-06-01"));
        assert!(!none.available);
        let codes: Vec<_> = none
            .reasons
            .iter()
            .map(|r| (r.code, r.document.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("document_missing", "osago".to_string()),
                ("document_missing", "diagnostic_card".to_string())
            ]
        );

        let docs = vec![
            doc(1, "osago", Some("2025-06-01"), "2026-05-31"),
            doc(2, "diagnostic_card", None, "2027-01-01"),
        ];
        let expired = evaluate(&c, &m, &docs, &[], d("2026-06-01"));
        assert_eq!(expired.reasons.len(), 1);
        assert_eq!(expired.reasons[0].code, "document_expired");
        assert_eq!(expired.reasons[0].date.as_deref(), Some("2026-05-31"));
        // The last valid day still counts.
        assert!(evaluate(&c, &m, &docs, &[], d("2026-05-31")).available);
        // Before its start, a policy is not valid yet.
        let early = evaluate(&c, &m, &docs, &[], d("2025-05-31"));
        assert_eq!(early.reasons[0].code, "document_not_yet_valid");
        assert_eq!(early.reasons[0].date.as_deref(), Some("2025-06-01"));
        let mut renewed = docs.clone();
        renewed.push(doc(3, "osago", Some("2026-06-05"), "2027-06-04"));
        let gap = evaluate(&c, &m, &renewed, &[], d("2026-06-01"));
        assert_eq!(gap.reasons[0].code, "document_not_yet_valid");
        assert_eq!(gap.reasons[0].date.as_deref(), Some("2026-06-05"));
        assert!(evaluate(&c, &m, &renewed, &[], d("2026-06-05")).available);

        let busy = vec![BusyDay {
            machine_id: 1,
            day: "2026-06-05".into(),
            note: Some("ремонт".into()),
        }];
        let b = evaluate(&c, &m, &renewed, &busy, d("2026-06-05"));
        assert!(!b.available);
        assert_eq!(b.reasons[0].code, "busy");
        assert_eq!(b.reasons[0].note.as_deref(), Some("ремонт"));

        let archived = Machine {
            status: "archived".into(),
            ..m.clone()
        };
        assert_eq!(
            evaluate(&c, &archived, &renewed, &[], d("2026-06-05")).reasons[0].code,
            "archived"
        );
        let unknown = Machine {
            category: "spaceship".into(),
            ..m
        };
        assert_eq!(
            evaluate(&c, &unknown, &renewed, &[], d("2026-06-05")).reasons[0].code,
            "category_unknown"
        );
    }

    #[test]
    fn the_sql_form_binds_dates_and_groups_categories() {
        let c = catalogue();
        let mut sql = Sql::new("SELECT m.id FROM machines m WHERE 1 = 1");
        push_available(&mut sql, &c, "m", d("2026-06-01"));
        let text = sql.text();
        assert!(text.contains("m.status = 'active'"), "{text}");
        assert!(text.contains("avl_d.valid_until >= $"), "{text}");
        assert!(
            !text.contains("2026-06-01"),
            "dates are bound, not spliced: {text}"
        );
        let groups = c
            .categories
            .iter()
            .map(|c| c.documents.clone())
            .collect::<BTreeSet<_>>()
            .len();
        assert_eq!(text.matches(".category IN (").count(), groups);
    }

    #[test]
    fn documents_need_a_known_kind_and_a_sane_period() {
        let c = catalogue();
        let ok = DocumentInput {
            kind: "osago".into(),
            number: " ХХХ 0123456789 ".into(),
            valid_from: "01.06.2026".into(),
            valid_until: "2027-05-31".into(),
        };
        let v = ok.validate(&c).expect("valid");
        assert_eq!(v.number.as_deref(), Some("ХХХ 0123456789"));
        assert_eq!(v.valid_until, d("2027-05-31"));
        let bad = DocumentInput {
            kind: "kasko".into(),
            valid_from: "2027-06-01".into(),
            ..ok.clone()
        };
        let e = bad.validate(&c).expect_err("invalid");
        assert_eq!(e.get("kind"), Some("document.unknown"));
        assert_eq!(e.get("valid_until"), Some("document.ends_before_start"));
        let missing = DocumentInput {
            valid_until: String::new(),
            ..ok.clone()
        };
        assert_eq!(
            missing
                .validate(&c)
                .expect_err("invalid")
                .get("valid_until"),
            Some("required")
        );
        let typo = DocumentInput {
            valid_until: "31.13.2026".into(),
            ..ok
        };
        assert_eq!(
            typo.validate(&c).expect_err("invalid").get("valid_until"),
            Some("date.invalid")
        );
    }

    #[test]
    fn busy_ranges_are_checked() {
        let one = BusyInput {
            from: "2026-06-01".into(),
            ..Default::default()
        };
        let (f, u, note) = one.validate().expect("one day");
        assert_eq!((f, u, note), (d("2026-06-01"), d("2026-06-01"), None));
        assert_eq!(days(f, u).count(), 1);
        let reversed = BusyInput {
            from: "2026-06-05".into(),
            until: "2026-06-01".into(),
            ..Default::default()
        };
        assert_eq!(
            reversed.validate().expect_err("bad").get("until"),
            Some("busy.range_reversed")
        );
        let long = BusyInput {
            from: "2026-01-01".into(),
            until: "2027-06-01".into(),
            ..Default::default()
        };
        assert_eq!(
            long.validate().expect_err("bad").get("until"),
            Some("busy.range_too_long")
        );
        assert_eq!(
            BusyInput::default()
                .validate()
                .expect_err("bad")
                .get("from"),
            Some("required")
        );
    }

    #[test]
    fn stored_specs_come_back_as_typed() {
        let mut m = machine("tipper");
        m.specs =
            r#"{"payload_t": 25.5, "body_volume_m3": 20.0, "axles": "6x4", "tail_lift": true}"#
                .into();
        let i = MachineInput::from_machine(&m);
        assert_eq!(i.specs["payload_t"], "25,5");
        assert_eq!(i.specs["body_volume_m3"], "20");
        assert_eq!(i.specs["tail_lift"], "on");
        let c = catalogue();
        let v = i.validate(&c, 2026).expect("round trip");
        assert_eq!(v.specs["payload_t"], json!(25.5));
    }

    #[test]
    fn document_states_follow_the_dates() {
        let today = d("2026-06-01");
        let docs = vec![
            doc(1, "osago", None, "2026-06-10"),
            doc(2, "osago", None, "2026-05-01"),
        ];
        assert_eq!(
            document_state(&docs[0], &docs, today),
            ("expiring", Some(9))
        );
        assert_eq!(document_state(&docs[1], &docs, today).0, "replaced");
        let alone = vec![docs[1].clone()];
        assert_eq!(document_state(&alone[0], &alone, today).0, "expired");
        let later = vec![doc(3, "osago", Some("2026-07-01"), "2027-06-30")];
        assert_eq!(document_state(&later[0], &later, today).0, "not_yet_valid");
    }
}
