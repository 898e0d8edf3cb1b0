use super::*;

// ---------------------------------------------------------------------------
// Busy days

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BusyDay {
    pub machine_id: i64,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub note: Option<String>,
}

/// A day or a range of days as typed (`until` empty: one day).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BusyInput {
    pub from: String,
    pub until: String,
    pub note: String,
}

impl BusyInput {
    /// The checked range and note.
    pub fn validate(&self) -> Result<(NaiveDate, NaiveDate, Option<String>), FieldErrors> {
        let mut e = FieldErrors::new();
        let from = match self.from.trim() {
            "" => {
                e.add("from", "required");
                None
            }
            t => parse_date(t).or_else(|| {
                e.add("from", "date.invalid");
                None
            }),
        };
        let until = match self.until.trim() {
            "" => from,
            t => parse_date(t).or_else(|| {
                e.add("until", "date.invalid");
                None
            }),
        };
        if let (Some(f), Some(u)) = (from, until) {
            if u < f {
                e.add("until", "busy.range_reversed");
            } else if (u - f).num_days() >= MAX_BUSY_RANGE_DAYS {
                e.add("until", "busy.range_too_long");
            }
        }
        if self.note.trim().chars().count() > MAX_TEXT {
            e.add("note", "text.too_long");
        }
        match (from, until) {
            (Some(f), Some(u)) if e.is_empty() => Ok((
                f,
                u,
                Some(self.note.trim().to_string()).filter(|n| !n.is_empty()),
            )),
            _ => Err(e),
        }
    }
}

pub(super) fn days(from: NaiveDate, until: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let n = (until - from).num_days().max(-1);
    (0..=n).map(move |i| from + Duration::days(i))
}

/// Marks days of a machine of the actor's supplier busy. Returns how many.
pub async fn mark_busy(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    input: &BusyInput,
) -> DomainResult<usize> {
    let m = owned_active(s, actor, machine_id).await?;
    let (from, until, note) = input.validate().map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let mut n = 0;
        for day in days(from, until) {
            sqlx::query(
                "INSERT INTO machine_busy_days (machine_id, day, note) VALUES ($1, $2, $3)
                 ON CONFLICT (machine_id, day) DO UPDATE SET note = COALESCE(excluded.note, machine_busy_days.note)",
            )
            .bind(m.id)
            .bind(ymd(day))
            .bind(note.clone())
            .execute(&mut *tx)
            .await?;
            n += 1;
        }
        audit::record(&mut tx, now, Some(actor), "machine.busy_set", "machine", Some(m.id), json!({"from": ymd(from), "until": ymd(until), "note": note}))
            .await?;
        Ok(n)
    }
    .await;
    finish(s, tx, result, None).await
}

/// Frees days of a machine of the actor's supplier. Returns how many were busy.
pub async fn clear_busy(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    input: &BusyInput,
) -> DomainResult<usize> {
    let m = owned(s, actor, machine_id).await?;
    let (from, until, _) = input.validate().map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result: DomainResult<_> = async {
        let n = sqlx::query(
            "DELETE FROM machine_busy_days WHERE machine_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(m.id)
        .bind(ymd(from))
        .bind(ymd(until))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        audit::record(
            &mut tx,
            now,
            Some(actor),
            "machine.busy_cleared",
            "machine",
            Some(m.id),
            json!({"from": ymd(from), "until": ymd(until)}),
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
    .await;
    finish(s, tx, result, None).await
}

/// Busy days of machines (already scoped by the caller) between two dates.
pub(crate) async fn busy_between(
    s: &Services,
    machine_ids: &[i64],
    from: NaiveDate,
    until: NaiveDate,
) -> DomainResult<Vec<BusyDay>> {
    if machine_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT b.machine_id, b.day, b.note FROM machine_busy_days b WHERE b.machine_id IN (",
    );
    sql.bind_list(machine_ids.iter().copied())
        .push(") AND b.day >= ")
        .bind(ymd(from))
        .push(" AND b.day <= ")
        .bind(ymd(until))
        .push(" ORDER BY b.machine_id, b.day");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// Busy days of a machine the actor may see, between two dates.
pub async fn busy_days(
    s: &Services,
    actor: &Actor,
    machine_id: i64,
    from: NaiveDate,
    until: NaiveDate,
) -> DomainResult<Vec<BusyDay>> {
    let m = get(s, actor, machine_id).await?;
    busy_between(s, &[m.id], from, until).await
}
