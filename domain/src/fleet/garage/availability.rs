use super::*;

// ---------------------------------------------------------------------------
// Availability

/// Why a machine is not available on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `archived`, `category_unknown`, `document_missing`,
    /// `document_expired`, `document_not_yet_valid` or `busy`.
    pub code: &'static str,
    /// The document kind concerned.
    pub document: Option<String>,
    /// Its title from the catalogue.
    pub document_title: Option<String>,
    /// `YYYY-MM-DD`: the last valid day of an expired document, the first
    /// of one not yet valid.
    pub date: Option<String>,
    /// The note of a busy day.
    pub note: Option<String>,
}

impl Reason {
    fn new(code: &'static str) -> Reason {
        Reason {
            code,
            document: None,
            document_title: None,
            date: None,
            note: None,
        }
    }

    fn document(code: &'static str, kind: &DocumentKind, date: Option<String>) -> Reason {
        Reason {
            code,
            document: Some(kind.code.clone()),
            document_title: Some(kind.title.clone()),
            date,
            note: None,
        }
    }
}

/// Whether a machine can work on a date, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub available: bool,
    pub reasons: Vec<Reason>,
}

/// The availability rule (see the module docs), applied to loaded rows.
/// `documents` and `busy` may hold rows of other machines; they are ignored.
pub fn evaluate(
    catalogue: &EquipmentCatalogue,
    machine: &Machine,
    documents: &[MachineDocument],
    busy: &[BusyDay],
    date: NaiveDate,
) -> Availability {
    let day = ymd(date);
    let mut reasons = Vec::new();
    if machine.status != "active" {
        reasons.push(Reason::new("archived"));
    }
    match catalogue.category(&machine.category) {
        None => reasons.push(Reason::new("category_unknown")),
        Some(category) => {
            for code in &category.documents {
                let fallback = DocumentKind {
                    code: code.clone(),
                    title: code.clone(),
                };
                let kind = catalogue.document(code).unwrap_or(&fallback);
                let mine: Vec<&MachineDocument> = documents
                    .iter()
                    .filter(|d| d.machine_id == machine.id && d.kind == *code)
                    .collect();
                if mine.iter().any(|d| d.is_valid_on(&day)) {
                    continue;
                }
                let upcoming = mine
                    .iter()
                    .filter(|d| d.valid_until.as_deref().is_some_and(|u| u >= day.as_str()))
                    .filter_map(|d| d.valid_from.clone())
                    .filter(|f| f.as_str() > day.as_str())
                    .min();
                let last = mine.iter().filter_map(|d| d.valid_until.clone()).max();
                reasons.push(match (upcoming, last) {
                    (Some(from), _) => Reason::document("document_not_yet_valid", kind, Some(from)),
                    (None, Some(until)) => Reason::document("document_expired", kind, Some(until)),
                    (None, None) => Reason::document("document_missing", kind, None),
                });
            }
        }
    }
    if let Some(b) = busy
        .iter()
        .find(|b| b.machine_id == machine.id && b.day == day)
    {
        reasons.push(Reason {
            note: b.note.clone(),
            ..Reason::new("busy")
        });
    }
    Availability {
        date: day,
        available: reasons.is_empty(),
        reasons,
    }
}

/// Appends ` AND (<machine `alias` is available on `date`>)`: the rule of
/// [`evaluate`] as SQL, for lists and matching.
pub fn push_available(sql: &mut Sql, catalogue: &EquipmentCatalogue, alias: &str, date: NaiveDate) {
    let day = ymd(date);
    sql.push(" AND (")
        .push(alias)
        .push(".status = 'active' AND NOT EXISTS (SELECT 1 FROM machine_busy_days avl_b WHERE avl_b.machine_id = ")
        .push(alias)
        .push(".id AND avl_b.day = ")
        .bind(day.clone())
        .push(") AND (");
    // Categories with the same mandatory documents share one condition.
    let mut groups: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for c in &catalogue.categories {
        groups
            .entry(c.documents.clone())
            .or_default()
            .insert(c.code.clone());
    }
    if groups.is_empty() {
        sql.push("1 = 0");
    }
    for (i, (docs, categories)) in groups.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(")
            .push(alias)
            .push(".category IN (")
            .bind_list(categories.iter().cloned())
            .push(")");
        for kind in docs {
            sql.push(
                " AND EXISTS (SELECT 1 FROM machine_documents avl_d WHERE avl_d.machine_id = ",
            )
            .push(alias)
            .push(".id AND avl_d.kind = ")
            .bind(kind.clone())
            .push(" AND avl_d.valid_until >= ")
            .bind(day.clone())
            .push(" AND (avl_d.valid_from IS NULL OR avl_d.valid_from <= ")
            .bind(day.clone())
            .push("))");
        }
        sql.push(")");
    }
    sql.push("))");
}

/// Whether a machine the actor may see is available on `date`, and why not.
/// The one function every part of Podryad asks.
pub async fn availability(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    date: NaiveDate,
) -> DomainResult<Availability> {
    let m = get(s, actor, machine_id).await?;
    let docs = documents_of(s, actor, &[m.id]).await?;
    let busy = busy_between(s, &[m.id], date, date).await?;
    Ok(evaluate(&s.equipment, &m, &docs, &busy, date))
}

/// One day of a machine's calendar.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub day: u32,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    pub today: bool,
    pub busy: bool,
    pub note: Option<String>,
    pub available: bool,
    pub reasons: Vec<Reason>,
}

/// The days of one month shown in a calendar.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarMonth {
    pub year: i32,
    pub month: u32,
    /// Empty cells before the first shown day in a Monday-first week grid.
    pub blanks: u32,
    pub days: Vec<CalendarDay>,
}

/// A machine's availability for `count` days from `from`, by month.
pub async fn calendar(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    from: NaiveDate,
    count: i64,
) -> DomainResult<Vec<CalendarMonth>> {
    let m = get(s, actor, machine_id).await?;
    let count = count.clamp(1, 400);
    let until = from + Duration::days(count - 1);
    let docs = documents_of(s, actor, &[m.id]).await?;
    let busy = busy_between(s, &[m.id], from, until).await?;
    let today = today(s);
    let mut months: Vec<CalendarMonth> = Vec::new();
    for date in days(from, until) {
        let a = evaluate(&s.equipment, &m, &docs, &busy, date);
        let b = busy.iter().find(|b| b.day == a.date);
        let cell = CalendarDay {
            date: a.date.clone(),
            day: date.day(),
            weekday: date.weekday().number_from_monday(),
            today: date == today,
            busy: b.is_some(),
            note: b.and_then(|b| b.note.clone()),
            available: a.available,
            reasons: a.reasons,
        };
        match months.last_mut() {
            Some(mo) if mo.year == date.year() && mo.month == date.month() => mo.days.push(cell),
            _ => months.push(CalendarMonth {
                year: date.year(),
                month: date.month(),
                blanks: date.weekday().num_days_from_monday(),
                days: vec![cell],
            }),
        }
    }
    Ok(months)
}

// ---------------------------------------------------------------------------
// A machine's page

/// A specification with its value, as a machine's page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SpecValue {
    pub code: String,
    pub title: String,
    pub unit: Option<String>,
    #[serde(rename = "type")]
    pub kind: SpecType,
    pub value: Value,
    /// Numbers and choices as text (`25,5`); booleans are left to the page.
    pub text: String,
}

/// Everything a machine's page shows.
#[derive(Debug, Clone, Serialize)]
pub struct MachineCardFull {
    pub machine: Machine,
    pub category_title: String,
    pub specs: Vec<SpecValue>,
    pub photos: Vec<MachinePhoto>,
    pub documents: Vec<DocumentView>,
    /// Mandatory document kinds with no record at all.
    pub missing: Vec<DocumentKind>,
    pub availability: Availability,
    /// Busy days from today on (the next `days_ahead` days).
    pub busy_ahead: Vec<BusyDay>,
    pub can_edit: bool,
}

/// The page of a machine the actor may see.
pub async fn card(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    days_ahead: i64,
) -> DomainResult<MachineCardFull> {
    let m = get(s, actor, machine_id).await?;
    let today = today(s);
    let photos = photos(s, actor, machine_id).await?;
    let documents = documents(s, actor, machine_id).await?;
    let category = s.equipment.category(&m.category);
    let values = m.spec_map();
    let specs = category
        .map(|c| {
            c.specs
                .iter()
                .filter_map(|d| {
                    let v = values.get(&d.code)?.clone();
                    let text = match &v {
                        Value::Number(n) => number_text(n),
                        Value::String(t) => t.clone(),
                        _ => String::new(),
                    };
                    Some(SpecValue {
                        code: d.code.clone(),
                        title: d.title.clone(),
                        unit: d.unit.clone(),
                        kind: d.kind,
                        value: v,
                        text,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let missing = category
        .map(|c| {
            c.documents
                .iter()
                .filter(|k| !documents.iter().any(|d| &d.document.kind == *k))
                .filter_map(|k| s.equipment.document(k).cloned())
                .collect()
        })
        .unwrap_or_default();
    let docs: Vec<MachineDocument> = documents.iter().map(|d| d.document.clone()).collect();
    let busy_ahead = busy_between(
        s,
        &[m.id],
        today,
        today + Duration::days(days_ahead.clamp(1, 400) - 1),
    )
    .await?;
    let availability = evaluate(&s.equipment, &m, &docs, &busy_ahead, today);
    Ok(MachineCardFull {
        category_title: category_title(&s.equipment, &m.category),
        can_edit: can_edit(actor, &m),
        machine: m,
        specs,
        photos,
        documents,
        missing,
        availability,
        busy_ahead,
    })
}
