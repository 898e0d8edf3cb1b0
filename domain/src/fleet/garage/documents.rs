use super::*;

// ---------------------------------------------------------------------------
// Documents

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MachineDocument {
    pub id: i64,
    pub machine_id: i64,
    pub org_id: i64,
    pub kind: String,
    pub number: Option<String>,
    /// `YYYY-MM-DD`.
    pub valid_from: Option<String>,
    /// `YYYY-MM-DD`; the last day the document is valid.
    pub valid_until: Option<String>,
    pub file_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const DOCUMENT_COLUMNS: &str = "d.id, d.machine_id, d.org_id, d.kind, d.number, d.valid_from, d.valid_until, d.file_id, d.created_at, d.updated_at";

impl MachineDocument {
    /// Whether the document is valid on `day` (`YYYY-MM-DD`).
    pub fn is_valid_on(&self, day: &str) -> bool {
        self.valid_until.as_deref().is_some_and(|u| u >= day)
            && self.valid_from.as_deref().is_none_or(|f| f <= day)
    }
}

/// A document as a machine's page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    #[serde(flatten)]
    pub document: MachineDocument,
    pub title: String,
    /// Required by the machine's category.
    pub mandatory: bool,
    /// `valid`, `expiring` (within [`WARN_DAYS`]), `expired`,
    /// `not_yet_valid`, or `replaced` (expired, but a newer one is valid).
    pub state: &'static str,
    /// Days until the end of validity (0 on the last valid day).
    pub days_left: Option<i64>,
}

pub(super) fn document_state(
    d: &MachineDocument,
    all: &[MachineDocument],
    today: NaiveDate,
) -> (&'static str, Option<i64>) {
    let day = ymd(today);
    let days_left = d
        .valid_until
        .as_deref()
        .and_then(parse_date)
        .map(|u| (u - today).num_days());
    let state = match days_left {
        Some(n) if n >= 0 => {
            if d.valid_from.as_deref().is_some_and(|f| f > day.as_str()) {
                "not_yet_valid"
            } else if n < WARN_DAYS {
                "expiring"
            } else {
                "valid"
            }
        }
        _ if all
            .iter()
            .any(|o| o.id != d.id && o.kind == d.kind && o.is_valid_on(&day)) =>
        {
            "replaced"
        }
        _ => "expired",
    };
    (state, days_left)
}

/// The documents of a machine the actor may see, newest first per kind,
/// mandatory kinds first.
pub async fn documents(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
) -> DomainResult<Vec<DocumentView>> {
    let m = get(s, actor, machine_id).await?;
    let docs = documents_of(s, actor, &[m.id]).await?;
    let mandatory: Vec<String> = s
        .equipment
        .category(&m.category)
        .map(|c| c.documents.clone())
        .unwrap_or_default();
    let today = today(s);
    let mut views: Vec<DocumentView> = docs
        .iter()
        .map(|d| {
            let (state, days_left) = document_state(d, &docs, today);
            DocumentView {
                document: d.clone(),
                title: s
                    .equipment
                    .document(&d.kind)
                    .map(|k| k.title.clone())
                    .unwrap_or_else(|| d.kind.clone()),
                mandatory: mandatory.contains(&d.kind),
                state,
                days_left,
            }
        })
        .collect();
    let order = |k: &str| mandatory.iter().position(|m| m == k).unwrap_or(usize::MAX);
    views.sort_by(|a, b| {
        order(&a.document.kind)
            .cmp(&order(&b.document.kind))
            .then_with(|| a.document.kind.cmp(&b.document.kind))
            .then_with(|| b.document.valid_until.cmp(&a.document.valid_until))
            .then_with(|| b.document.id.cmp(&a.document.id))
    });
    Ok(views)
}

/// The documents of several machines, scoped to what the actor may see.
pub(crate) async fn documents_of<'a>(
    s: &Services,
    who: impl Into<crate::access::Acting<'a>>,
    machine_ids: &[i64],
) -> DomainResult<Vec<MachineDocument>> {
    if machine_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT ");
    sql.push(DOCUMENT_COLUMNS)
        .push(" FROM machine_documents d WHERE d.machine_id IN (")
        .bind_list(machine_ids.iter().copied())
        .push(")");
    scope(&mut sql, who, Resource::OrgOwned, "d");
    sql.push(" ORDER BY d.machine_id, d.kind, d.valid_until DESC, d.id DESC");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// One document of a machine the actor may see.
pub async fn document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    document_id: i64,
) -> DomainResult<MachineDocument> {
    let d = document_by_id(s, actor, document_id).await?;
    if d.machine_id != machine_id {
        return Err(DomainError::NotFound);
    }
    Ok(d)
}

/// A document the actor may see, by its id alone (links from workflows).
pub async fn document_by_id(
    s: &Services,
    actor: &Actor,
    document_id: i64,
) -> DomainResult<MachineDocument> {
    let mut sql = Sql::new("SELECT ");
    sql.push(DOCUMENT_COLUMNS)
        .push(" FROM machine_documents d WHERE d.id = ")
        .bind(document_id);
    scope(&mut sql, actor, Resource::OrgOwned, "d");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// A document as typed into the form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentInput {
    pub kind: String,
    pub number: String,
    pub valid_from: String,
    pub valid_until: String,
}

/// A checked document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDocument {
    pub kind: String,
    pub number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: NaiveDate,
}

impl DocumentInput {
    pub fn from_document(d: &MachineDocument) -> DocumentInput {
        DocumentInput {
            kind: d.kind.clone(),
            number: d.number.clone().unwrap_or_default(),
            valid_from: d.valid_from.clone().unwrap_or_default(),
            valid_until: d.valid_until.clone().unwrap_or_default(),
        }
    }

    /// Checks the document against the catalogue's document kinds.
    pub fn validate(&self, catalogue: &EquipmentCatalogue) -> Result<ValidDocument, FieldErrors> {
        let mut e = FieldErrors::new();
        let kind = self.kind.trim();
        if kind.is_empty() {
            e.add("kind", "required");
        } else if catalogue.document(kind).is_none() {
            e.add("kind", "document.unknown");
        }
        let number = self.number.trim();
        if number.chars().count() > 100 {
            e.add("number", "text.too_long");
        }
        let valid_from = match self.valid_from.trim() {
            "" => None,
            t => match parse_date(t) {
                Some(d) => Some(d),
                None => {
                    e.add("valid_from", "date.invalid");
                    None
                }
            },
        };
        let valid_until = match self.valid_until.trim() {
            "" => {
                e.add("valid_until", "required");
                None
            }
            t => match parse_date(t) {
                Some(d) => Some(d),
                None => {
                    e.add("valid_until", "date.invalid");
                    None
                }
            },
        };
        if let (Some(f), Some(u)) = (valid_from, valid_until)
            && f > u
        {
            e.add("valid_until", "document.ends_before_start");
        }
        match valid_until {
            Some(valid_until) if e.is_empty() => Ok(ValidDocument {
                kind: kind.to_string(),
                number: Some(number.to_string()).filter(|n| !n.is_empty()),
                valid_from,
                valid_until,
            }),
            _ => Err(e),
        }
    }
}

/// Stores a checked document inside the caller's transaction (no watch).
pub async fn insert_document(
    tx: &mut Tx,
    now: chrono::DateTime<Utc>,
    machine_id: i64,
    org_id: i64,
    d: &ValidDocument,
    file_id: Option<i64>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO machine_documents (machine_id, org_id, kind, number, valid_from, valid_until, file_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(machine_id)
    .bind(org_id)
    .bind(&d.kind)
    .bind(d.number.clone())
    .bind(d.valid_from.map(ymd))
    .bind(ymd(d.valid_until))
    .bind(file_id)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await
}

async fn checked_document(
    s: &Services,
    input: &DocumentInput,
    scan: Option<Upload<'_>>,
) -> DomainResult<(ValidDocument, Option<StoredFile>)> {
    let mut errors = FieldErrors::new();
    let valid = match input.validate(&s.equipment) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.0.extend(e.0);
            None
        }
    };
    let stored = accept_upload(s, "scan", Purpose::Document, scan, &mut errors).await?;
    match valid {
        Some(v) if errors.is_empty() => Ok((v, stored)),
        _ => {
            if let Some(f) = &stored {
                s.files.discard(f).await;
            }
            Err(DomainError::Invalid(errors))
        }
    }
}

/// Adds a document (with an optional scan) to a machine of the actor's
/// supplier and starts watching its expiry, in one transaction.
pub async fn add_document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    input: &DocumentInput,
    scan: Option<Upload<'_>>,
) -> DomainResult<i64> {
    let m = owned_active(s, actor, machine_id).await?;
    let (v, stored) = checked_document(s, input, scan).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let file_id = match &stored {
            Some(f) => Some(f.record(&mut tx, now, m.org_id, actor.user()).await?),
            None => None,
        };
        let id = insert_document(&mut tx, now, m.id, m.org_id, &v, file_id).await?;
        rewatch_kind(s, &mut tx, m.id, &v.kind, Some(id), actor.user()).await?;
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine_document.added",
            "machine",
            Some(m.id),
            json!({"document_id": id, "kind": v.kind, "valid_until": ymd(v.valid_until)}),
        )
        .await?;
        Ok(id)
    }
    .await;
    finish(s, tx, result, stored.as_ref()).await
}

/// Saves a changed document; a new "valid until" moves its expiry warning.
pub async fn update_document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    document_id: i64,
    input: &DocumentInput,
    scan: Option<Upload<'_>>,
) -> DomainResult<()> {
    let m = owned_active(s, actor, machine_id).await?;
    let current = document(s, actor, machine_id, document_id).await?;
    let (v, stored) = checked_document(s, input, scan).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let file_id = match &stored {
            Some(f) => Some(f.record(&mut tx, now, m.org_id, actor.user()).await?),
            None => current.file_id,
        };
        sqlx::query(
            "UPDATE machine_documents SET kind = $1, number = $2, valid_from = $3, valid_until = $4, file_id = $5, updated_at = $6
             WHERE id = $7",
        )
        .bind(&v.kind)
        .bind(v.number.clone())
        .bind(v.valid_from.map(ymd))
        .bind(ymd(v.valid_until))
        .bind(file_id)
        .bind(to_db_time(now))
        .bind(document_id)
        .execute(&mut *tx)
        .await?;
        let new_until = ymd(v.valid_until);
        let moved = current.valid_until.as_deref() != Some(new_until.as_str());
        if current.kind != v.kind {
            // It now counts for another kind: the old kind's newest record
            // takes over the watch there.
            unwatch(s, &mut tx, document_id, actor.user()).await?;
            rewatch_kind(s, &mut tx, m.id, &current.kind, None, actor.user()).await?;
            rewatch_kind(s, &mut tx, m.id, &v.kind, None, actor.user()).await?;
        } else {
            rewatch_kind(s, &mut tx, m.id, &v.kind, moved.then_some(document_id), actor.user()).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine_document.updated",
            "machine",
            Some(m.id),
            json!({"document_id": document_id, "kind": v.kind, "valid_until": new_until, "was": current.valid_until}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, stored.as_ref()).await
}

/// Deletes a document; its watch ends, an older record of the kind takes over.
pub async fn delete_document(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    document_id: i64,
) -> DomainResult<()> {
    let m = owned(s, actor, machine_id).await?;
    let current = document(s, actor, machine_id, document_id).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        unwatch(s, &mut tx, document_id, actor.user()).await?;
        sqlx::query("DELETE FROM machine_documents WHERE id = $1").bind(document_id).execute(&mut *tx).await?;
        if m.status == "active" {
            rewatch_kind(s, &mut tx, m.id, &current.kind, None, actor.user()).await?;
        }
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine_document.deleted",
            "machine",
            Some(m.id),
            json!({"document_id": document_id, "kind": current.kind, "valid_until": current.valid_until}),
        )
        .await?;
        Ok(())
    }
    .await;
    finish(s, tx, result, None).await
}
