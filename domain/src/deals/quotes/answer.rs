use super::*;

async fn validate(
    s: &Services,
    actor: &Actor,
    view: &RfqView,
    r: &RequestRow,
    input: &QuoteInput,
) -> DomainResult<ValidQuote> {
    let mut e = FieldErrors::new();
    let now = s.db.now();
    let tz = r.tz();
    let at = |field: &str, text: &str, e: &mut FieldErrors| -> Option<DateTime<Utc>> {
        if text.trim().is_empty() {
            e.add(field, "required");
            return None;
        }
        match local_to_utc(text, tz) {
            Some(t) => Some(t),
            None => {
                e.add(field, "quote.datetime_invalid");
                None
            }
        }
    };
    let arrival_at = at("arrival_at", &input.arrival_at, &mut e);
    if arrival_at.is_some_and(|a| a < now) {
        e.add("arrival_at", "quote.in_past");
    }
    // The quote is for the days of the job from its arrival (the request's
    // own days until the arrival is readable).
    let job = match arrival_at {
        Some(a) => bookings::job_days(r, bookings::duration_kind(s, r), a),
        None => bookings::requested_days(s, r),
    };
    // The machines: of this supplier (another's is unknown), suiting the
    // job and free on its days — in the garage and not booked by an
    // accepted offer — each once, each driver once. The first row's errors
    // are keyed `machine_id` / `employee_id`, the n-th's `machines.n` /
    // `drivers.n`.
    let rows = input.rows();
    if rows.len() > MAX_QUOTE_MACHINES {
        e.add("machine_id", "quote.too_many_machines");
    }
    let judged = matching::machines_of_supplier_on(s, r, actor.org_id(), &job).await?;
    let mut machines: Vec<(MachineMatch, Option<i64>)> = Vec::new();
    let mut all_rows_valid = true;
    for (i, row) in rows.iter().take(MAX_QUOTE_MACHINES).enumerate() {
        let (mf, ef) = if i == 0 {
            ("machine_id".to_string(), "employee_id".to_string())
        } else {
            (format!("machines.{}", i + 1), format!("drivers.{}", i + 1))
        };
        let machine = match row.machine_id.trim().parse::<i64>() {
            Err(_) => {
                e.add(&mf, "required");
                None
            }
            Ok(id) if machines.iter().any(|(m, _)| m.machine_id == id) => {
                e.add(&mf, "quote.machine_twice");
                None
            }
            Ok(id) => match garage::get(s, actor, id).await {
                Ok(m) if m.org_id == actor.org_id() && m.status == "active" => {
                    match judged.iter().find(|x| x.machine_id == id) {
                        Some(j) if j.fits => Some(j.clone()),
                        Some(j) if j.reasons.iter().any(|x| x.code == "booked") => {
                            e.add(&mf, "quote.machine_booked");
                            None
                        }
                        Some(j) if j.suits => {
                            e.add(&mf, "quote.machine_unavailable");
                            None
                        }
                        _ => {
                            e.add(&mf, "quote.machine_unfit");
                            None
                        }
                    }
                }
                Ok(_) | Err(DomainError::NotFound) => {
                    e.add(&mf, "quote.machine_unknown");
                    None
                }
                Err(other) => return Err(other),
            },
        };
        let employee_id = match row.employee_id.trim() {
            "" => None,
            t => match t.parse::<i64>() {
                Ok(id) if machines.iter().any(|(_, d)| *d == Some(id)) => {
                    e.add(&ef, "quote.driver_twice");
                    None
                }
                Ok(id) => match crate::parties::employees::get(s, actor, id).await {
                    Ok(emp) if emp.org_id == actor.org_id() && emp.status == "active" => {
                        if let Some(m) = &machine
                            && !licence_fits(&s.equipment, &m.category, &emp)
                        {
                            e.add(&ef, "quote.licence_unfit");
                        }
                        Some(id)
                    }
                    Ok(_) | Err(DomainError::NotFound) => {
                        e.add(&ef, "quote.employee_unknown");
                        None
                    }
                    Err(other) => return Err(other),
                },
                Err(_) => {
                    e.add(&ef, "quote.employee_unknown");
                    None
                }
            },
        };
        match machine {
            Some(m) => machines.push((m, employee_id)),
            None => all_rows_valid = false,
        }
    }
    let price_unit = input.price_unit.trim().to_string();
    if !view.job.price_units.contains(&price_unit) {
        e.add("price_unit", "quote.unit_invalid");
    }
    let unit_price = match Kopecks::parse_non_negative(&input.unit_price) {
        Ok(k) if k.as_i64() > 0 && k.as_i64() <= 100_000_000_000 => Some(k),
        Ok(_) => {
            e.add("unit_price", "quote.price_invalid");
            None
        }
        Err(_) if input.unit_price.trim().is_empty() => {
            e.add("unit_price", "required");
            None
        }
        Err(_) => {
            e.add("unit_price", "quote.money_invalid");
            None
        }
    };
    let quantity_centi = match input.quantity.trim() {
        "" => Some(100),
        t => parse_centi(t).or_else(|| {
            e.add("quantity", "quote.quantity_invalid");
            None
        }),
    };
    let vat_mode = match VatMode::parse(&input.vat_mode) {
        Ok(v) if v.is_current() => Some(v),
        _ => {
            e.add("vat_mode", "quote.vat_invalid");
            None
        }
    };
    let prepayment_percent = int_in(&mut e, "prepayment_percent", &input.prepayment_percent, 100);
    let postpayment_days = int_in(&mut e, "postpayment_days", &input.postpayment_days, 365);
    let payment_method = input.payment_method.trim().to_string();
    if !PAYMENT_METHODS.contains(&payment_method.as_str()) {
        e.add("payment_method", "quote.payment_method_invalid");
    }
    let valid_until = match input.valid_until.trim() {
        "" => Some(
            view.round
                .deadline_at
                .map(engine::from_db_time)
                .unwrap_or(now)
                + Duration::hours(DEFAULT_VALIDITY_HOURS),
        ),
        t => at("valid_until", t, &mut e),
    };
    if valid_until.is_some_and(|v| v <= now) {
        e.add("valid_until", "quote.in_past");
    }
    if input.comment.chars().count() > 2000 {
        e.add("comment", "text.too_long");
    }
    // Per unit and machine, for the quantity of each machine.
    let count = machines.len().max(1) as i64;
    let total = match (unit_price, quantity_centi) {
        (Some(p), Some(q)) => q
            .checked_mul(count)
            .and_then(|all| times_centi(p, all))
            .or_else(|| {
                e.add("quantity", "quote.quantity_invalid");
                None
            }),
        _ => None,
    };
    let machines = (all_rows_valid && !machines.is_empty()).then_some(machines);
    match (
        machines,
        unit_price,
        quantity_centi,
        total,
        vat_mode,
        arrival_at,
        valid_until,
    ) {
        (
            Some(machines),
            Some(unit_price),
            Some(quantity_centi),
            Some(total),
            Some(vat_mode),
            Some(arrival_at),
            Some(valid_until),
        ) if e.is_empty() => Ok(ValidQuote {
            machines,
            price_unit,
            unit_price,
            quantity_centi,
            total,
            vat_mode,
            prepayment_percent,
            postpayment_days,
            payment_method,
            job,
            arrival_at,
            valid_until,
            comment: Some(input.comment.trim().to_string()).filter(|c| !c.is_empty()),
        }),
        _ => Err(DomainError::Invalid(e)),
    }
}

/// Submits or revises the supplier's quote for an RFQ of its own.
pub async fn submit(
    s: &Services,
    actor: &Actor,
    rfq_id: i64,
    input: &QuoteInput,
) -> DomainResult<i64> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let rfq = rfq::get(s, actor, rfq_id).await?;
    let (view, r) = rfq::view_of(s, rfq).await?;
    if !view.open {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    let v = validate(s, actor, &view, &r, input).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    // Re-read inside the write transaction: the round may have closed.
    let round = rfq::round(&mut tx, view.round.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let status: String = sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq_id)
        .fetch_one(&mut *tx)
        .await?;
    if !rfq::answerable(&status, &round, now) {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    let existing: Option<(i64, String)> =
        sqlx::query_as("SELECT id, status FROM supplier_quotes WHERE rfq_id = $1")
            .bind(rfq_id)
            .fetch_optional(&mut *tx)
            .await?;
    let id: i64 = match &existing {
        Some((id, _)) => {
            sqlx::query(
                "UPDATE supplier_quotes SET machine_id = $1, employee_id = $2, price_unit = $3, unit_price = $4, quantity_centi = $5,
                   total_price = $6, vat_mode = $7, prepayment_percent = $8, postpayment_days = $9, payment_method = $10,
                   arrival_at = $11, work_day = $12, last_work_day = $13, valid_until = $14, comment = $15, status = 'active',
                   revision = revision + 1, updated_at = $16, machines = $17 WHERE id = $18",
            )
            .bind(v.machines[0].0.machine_id)
            .bind(v.machines[0].1)
            .bind(&v.price_unit)
            .bind(v.unit_price.as_i64())
            .bind(v.quantity_centi)
            .bind(v.total.as_i64())
            .bind(v.vat_mode.as_str())
            .bind(v.prepayment_percent)
            .bind(v.postpayment_days)
            .bind(&v.payment_method)
            .bind(to_db_time(v.arrival_at))
            .bind(v.job.stored().0)
            .bind(v.job.stored().1)
            .bind(to_db_time(v.valid_until))
            .bind(v.comment.clone())
            .bind(to_db_time(now))
            .bind(v.machines.len() as i64)
            .bind(*id)
            .execute(&mut *tx)
            .await?;
            *id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO supplier_quotes (rfq_id, request_id, supplier_org_id, machine_id, employee_id, price_unit, unit_price,
                   quantity_centi, total_price, vat_mode, prepayment_percent, postpayment_days, payment_method, arrival_at, work_day,
                   last_work_day, valid_until, comment, status, revision, created_at, updated_at, machines)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'active', 1, $19, $19, $20) RETURNING id",
            )
            .bind(rfq_id)
            .bind(r.id)
            .bind(actor.org_id())
            .bind(v.machines[0].0.machine_id)
            .bind(v.machines[0].1)
            .bind(&v.price_unit)
            .bind(v.unit_price.as_i64())
            .bind(v.quantity_centi)
            .bind(v.total.as_i64())
            .bind(v.vat_mode.as_str())
            .bind(v.prepayment_percent)
            .bind(v.postpayment_days)
            .bind(&v.payment_method)
            .bind(to_db_time(v.arrival_at))
            .bind(v.job.stored().0)
            .bind(v.job.stored().1)
            .bind(to_db_time(v.valid_until))
            .bind(v.comment.clone())
            .bind(to_db_time(now))
            .bind(v.machines.len() as i64)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    sqlx::query("DELETE FROM supplier_quote_machines WHERE quote_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for (i, (m, driver)) in v.machines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO supplier_quote_machines (quote_id, position, machine_id, employee_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(i as i64 + 1)
        .bind(m.machine_id)
        .bind(*driver)
        .execute(&mut *tx)
        .await?;
    }
    answer(s, &mut tx, &view, &status, true, None).await?;
    rfq::emit_answered(s, &mut tx, r.id, view.round.id, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        if existing.is_some() { "quote.revised" } else { "quote.submitted" },
        "supplier_quote",
        Some(id),
        json!({"rfq_id": rfq_id, "machines": v.machines.iter().map(|(m, _)| m.machine_id).collect::<Vec<_>>(),
               "unit_price": v.unit_price, "unit": v.price_unit}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(id)
}

/// Marks the RFQ answered (quoted or declined) and keeps the supplier's
/// figures: the first answer counts for answer rate and speed.
async fn answer(
    s: &Services,
    tx: &mut engine::Tx,
    view: &RfqView,
    previous: &str,
    quoted: bool,
    reason: Option<&str>,
) -> DomainResult<()> {
    let now = s.db.now();
    sqlx::query(
        "UPDATE rfqs SET status = $1, decline_reason = $2, answered_at = COALESCE(answered_at, $3) WHERE id = $4",
    )
    .bind(if quoted { "quoted" } else { "declined" })
    .bind(reason)
    .bind(to_db_time(now))
    .bind(view.rfq.id)
    .execute(&mut **tx)
    .await?;
    let org = view.rfq.supplier_org_id;
    if previous == "sent" && view.rfq.answered_at.is_none() {
        let ms = to_db_time(now) - view.rfq.sent_at;
        scoring::record(
            tx,
            now,
            org,
            scoring::Event::Answered {
                quoted,
                answer_ms: ms,
            },
        )
        .await?;
    } else if quoted && previous != "quoted" {
        scoring::record(tx, now, org, scoring::Event::Quoted).await?;
    }
    Ok(())
}

/// Declines an RFQ of the actor's supplier, with a reason (an active quote
/// is withdrawn).
pub async fn decline(s: &Services, actor: &Actor, rfq_id: i64, reason: &str) -> DomainResult<()> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let reason = reason.trim();
    if reason.chars().count() < 3 {
        return Err(DomainError::field(
            "reason",
            if reason.is_empty() {
                "required"
            } else {
                "quote.reason_too_short"
            },
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(DomainError::field("reason", "text.too_long"));
    }
    let rfq = rfq::get(s, actor, rfq_id).await?;
    let (view, r) = rfq::view_of(s, rfq).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let round = rfq::round(&mut tx, view.round.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let status: String = sqlx::query_scalar("SELECT status FROM rfqs WHERE id = $1")
        .bind(rfq_id)
        .fetch_one(&mut *tx)
        .await?;
    if !rfq::answerable(&status, &round, now) {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    sqlx::query("UPDATE supplier_quotes SET status = 'withdrawn', updated_at = $1 WHERE rfq_id = $2 AND status = 'active'")
        .bind(to_db_time(now))
        .bind(rfq_id)
        .execute(&mut *tx)
        .await?;
    answer(s, &mut tx, &view, &status, false, Some(reason)).await?;
    rfq::emit_answered(s, &mut tx, r.id, view.round.id, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "rfq.declined",
        "rfq",
        Some(rfq_id),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Withdraws the supplier's quote while the round is open.
pub async fn withdraw(s: &Services, actor: &Actor, rfq_id: i64) -> DomainResult<()> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let rfq = rfq::get(s, actor, rfq_id).await?;
    let (view, r) = rfq::view_of(s, rfq).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let round = rfq::round(&mut tx, view.round.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !round.is_open(now) {
        return Err(DomainError::Conflict("rfq.closed"));
    }
    let n = sqlx::query("UPDATE supplier_quotes SET status = 'withdrawn', updated_at = $1 WHERE rfq_id = $2 AND status = 'active'")
        .bind(to_db_time(now))
        .bind(rfq_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DomainError::Conflict("quote.not_active"));
    }
    sqlx::query("UPDATE rfqs SET status = 'withdrawn' WHERE id = $1")
        .bind(rfq_id)
        .execute(&mut *tx)
        .await?;
    rfq::emit_answered(s, &mut tx, r.id, view.round.id, actor.user()).await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "quote.withdrawn",
        "rfq",
        Some(rfq_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// A line of the supplier's own quotes: its price, never ours.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OwnQuote {
    pub id: i64,
    pub rfq_id: i64,
    pub request_type: String,
    pub price_unit: String,
    pub unit_price: i64,
    pub total_price: i64,
    pub vat_mode: String,
    pub arrival_at: i64,
    pub valid_until: i64,
    pub status: String,
    pub revision: i64,
    pub updated_at: i64,
    pub make: String,
    pub model: String,
    pub plate: Option<String>,
    pub request_status: String,
    /// Its [`fate`]: won, lost, expired, withdrawn or still active.
    #[sqlx(skip)]
    pub fate: &'static str,
}

/// The actor's supplier's quotes, newest first.
pub async fn list_for_supplier(s: &Services, actor: &Actor) -> DomainResult<Vec<OwnQuote>> {
    crate::access::require_or_hide(actor, crate::access::Rule::SupplierOffice)?;
    let mut sql = Sql::new(
        "SELECT sq.id, sq.rfq_id, r.request_type, sq.price_unit, sq.unit_price, sq.total_price, sq.vat_mode, sq.arrival_at,
                sq.valid_until, sq.status, sq.revision, sq.updated_at, m.make, m.model, m.plate, r.status AS request_status
         FROM supplier_quotes sq JOIN requests r ON r.id = sq.request_id JOIN machines m ON m.id = sq.machine_id WHERE 1 = 1",
    );
    scope(&mut sql, actor, Resource::SupplierQuote, "sq");
    sql.push(" ORDER BY sq.updated_at DESC, sq.id DESC LIMIT 500");
    let mut quotes: Vec<OwnQuote> = sql.query_as().fetch_all(s.db.pool()).await?;
    let now = to_db_time(s.db.now());
    for q in &mut quotes {
        q.fate = fate(&q.status, q.valid_until, &q.request_status, now);
    }
    Ok(quotes)
}
