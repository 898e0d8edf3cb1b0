use super::*;

/// What sending an offer gives back (the link is also e-mailed). An offer
/// under the minimum margin is not sent: it waits for approval
/// (`approval_id`), and has no offer or link yet.
#[derive(Debug, Clone, Serialize)]
pub struct SentOffer {
    pub offer_id: Option<i64>,
    pub link: Option<String>,
    pub approval_id: Option<i64>,
}

/// The request and quotes an offer goes out for: what delivering it needs.
/// The quote ids travel in the [`ValidOffer`] (the first is the offer's
/// `supplier_quote_id`); `arrival_at` is the earliest of their arrivals.
pub(super) struct Target {
    request_id: i64,
    client_org_id: i64,
    number: String,
    tz: chrono_tz::Tz,
    price_unit: String,
    arrival_at: i64,
}

/// Sends our offer to the client: stores it, marks the supplier's quote
/// selected, issues the client's link, notifies the client's users and
/// tells the request's workflow (`offer.sent`) — one transaction.
///
/// An offer whose margin is below the request type's minimum (always one
/// below cost) is held instead: it is stored for approval and the workflow
/// is told `offer.approval_requested`, which gives the approving role a
/// task; nothing reaches the client until that task approves it
/// ([`release`]). This is the only way an offer is sent, so the page, the
/// demo and anything later built on it are all guarded.
pub async fn send(
    s: &Services,
    actor: &Actor,
    request_id: i64,
    input: &OfferInput,
) -> DomainResult<SentOffer> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let r = matching::request_for(s, actor, request_id).await?;
    let ids = quote_ids(input)?;
    // Nothing goes out in the name of a client a public request has not
    // been confirmed to be (see `intake::confirm_client`).
    if crate::intake::client_unconfirmed(s.db.pool(), r.id).await? {
        return Err(DomainError::Conflict("request.client_unconfirmed"));
    }
    let qs = quotes_of_request(s, actor, &r, &ids).await?;
    if qs
        .iter()
        .any(|q| !matches!(q.status.as_str(), "active" | "selected"))
    {
        return Err(DomainError::Conflict("quote.not_active"));
    }
    let q = qs[0].clone();
    let terms = broker_terms(s).await?;
    let now = s.db.now();
    let v = checked(input, &qs, terms, &r, now).map_err(DomainError::Invalid)?;
    let min_margin = min_margin_bp(s, &r, terms);
    let mut tx = s.db.begin().await?;
    // An offer the client could not accept is not sent.
    for x in &qs {
        if bookings::quote_taken(&mut tx, x.id).await? {
            return Err(DomainError::Conflict("offer.machine_booked"));
        }
    }
    // Again in the transaction: staff may have just split the request off
    // to another client.
    let current: Option<i64> =
        sqlx::query_scalar("SELECT client_org_id FROM requests WHERE id = $1")
            .bind(r.id)
            .fetch_optional(&mut *tx)
            .await?;
    if current != Some(r.client_org_id) || crate::intake::client_unconfirmed(&mut *tx, r.id).await?
    {
        return Err(DomainError::Conflict("request.client_unconfirmed"));
    }
    if needs_approval(&v.pricing, min_margin) {
        let approval_id = hold(s, &mut tx, actor, &r, &v, min_margin).await?;
        tx.commit().await?;
        s.after_commit();
        return Ok(SentOffer {
            offer_id: None,
            link: None,
            approval_id: Some(approval_id),
        });
    }
    let target = Target {
        request_id: r.id,
        client_org_id: r.client_org_id,
        number: r.number.clone(),
        tz: r.tz(),
        price_unit: q.price_unit.clone(),
        arrival_at: qs
            .iter()
            .map(|x| x.arrival_at)
            .min()
            .unwrap_or(q.arrival_at),
    };
    // A waiting under-margin offer is superseded by this one.
    sqlx::query("UPDATE offer_approvals SET status = 'withdrawn', decided_at = $1 WHERE request_id = $2 AND status = 'pending'")
        .bind(to_db_time(now))
        .bind(r.id)
        .execute(&mut *tx)
        .await?;
    let (offer_id, link) = deliver(s, &mut tx, actor.user(), &target, &v).await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "request",
            r.id,
            "offer.sent",
            json!({"offer_id": offer_id, "valid_until": engine::expr::format_time(v.valid_until)}),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|x| x.ignored) {
        return Err(DomainError::Conflict("offer.not_ready"));
    }
    audit::record(
        &mut tx,
        s.db.now(),
        Some(actor),
        "offer.sent",
        "offer",
        Some(offer_id),
        json!({"request_id": r.id, "quotes": ids, "machines": v.machines, "total_gross": v.pricing.total_gross, "margin": v.pricing.margin_total}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(SentOffer {
        offer_id: Some(offer_id),
        link: Some(link),
        approval_id: None,
    })
}

/// The margin as staff read it: `−2 459,02 ₽ (−10,00 %)`.
pub fn margin_text(margin_total: i64, margin_bp: i64) -> String {
    let minus = |negative: bool| if negative { "−" } else { "" };
    let bp = margin_bp.unsigned_abs();
    format!(
        "{}{} ({}{},{:02} %)",
        minus(margin_total < 0),
        Kopecks(margin_total.abs()),
        minus(margin_bp < 0),
        bp / 100,
        bp % 100
    )
}

/// Stores an under-margin offer for approval and asks the workflow for the
/// approval task. A newer request for the same request replaces the older.
async fn hold(
    s: &Services,
    tx: &mut engine::Tx,
    actor: &Actor,
    r: &RequestRow,
    v: &ValidOffer,
    min_margin: i64,
) -> DomainResult<i64> {
    let quote_id = v.quote_ids[0];
    let now = to_db_time(s.db.now());
    sqlx::query("UPDATE offer_approvals SET status = 'withdrawn', decided_at = $1 WHERE request_id = $2 AND status = 'pending'")
        .bind(now)
        .bind(r.id)
        .execute(&mut **tx)
        .await?;
    let p = v.pricing;
    let stored = serde_json::to_string(v).map_err(|e| DomainError::Other(anyhow::anyhow!(e)))?;
    let approval_id: i64 = sqlx::query_scalar(
        "INSERT INTO offer_approvals (request_id, supplier_quote_id, status, input, total_gross, margin_total, margin_bp,
           min_margin_bp, valid_until, requested_by, requested_at)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(r.id)
    .bind(quote_id)
    .bind(stored)
    .bind(p.total_gross)
    .bind(p.margin_total)
    .bind(p.margin_bp)
    .bind(min_margin)
    .bind(to_db_time(v.valid_until))
    .bind(actor.user())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            tx,
            "request",
            r.id,
            "offer.approval_requested",
            json!({
                "approval_id": approval_id,
                "margin": margin_text(p.margin_total, p.margin_bp),
                "valid_until": engine::expr::format_time(v.valid_until),
            }),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|x| x.ignored) {
        return Err(DomainError::Conflict("offer.not_ready"));
    }
    audit::record(
        tx,
        s.db.now(),
        Some(actor),
        "offer.approval_requested",
        "request",
        Some(r.id),
        json!({"approval_id": approval_id, "quotes": v.quote_ids, "total_gross": p.total_gross,
               "margin": p.margin_total, "margin_bp": p.margin_bp, "min_margin_bp": min_margin}),
    )
    .await?;
    Ok(approval_id)
}

/// Stores the offer and sends the client its link; the caller tells the
/// workflow. A new offer replaces the request's live one.
async fn deliver(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    user: Option<i64>,
    t: &Target,
    v: &ValidOffer,
) -> DomainResult<(i64, String)> {
    let now = s.db.now();
    // One live offer per request: a new one replaces the previous.
    sqlx::query("UPDATE offers SET status = 'withdrawn', decided_at = $1 WHERE request_id = $2 AND status = 'sent'")
        .bind(to_db_time(now))
        .bind(t.request_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE supplier_quotes SET status = 'active' WHERE request_id = $1 AND status = 'selected'")
        .bind(t.request_id)
        .execute(&mut *tx)
        .await?;
    let (markup_bp, markup_amount) = match v.markup {
        Markup::Percent(bp) => (Some(bp), None),
        Markup::Amount(a) => (None, Some(a.as_i64())),
    };
    let p = v.pricing;
    let offer_id: i64 = sqlx::query_scalar(
        "INSERT INTO offers (request_id, client_org_id, supplier_quote_id, status, price_unit, quantity_centi, vat_mode, unit_net,
           unit_vat, unit_gross, total_gross, total_vat, unit_cost, markup_bp, markup_amount, margin_total, prepayment_percent,
           postpayment_days, payment_method, arrival_at, valid_until, comment, sent_by, sent_at, created_at, machines)
         VALUES ($1, $2, $3, 'sent', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23, $24)
         RETURNING id",
    )
    .bind(t.request_id)
    .bind(t.client_org_id)
    .bind(v.quote_ids[0])
    .bind(&t.price_unit)
    .bind(v.quantity_centi)
    .bind(&v.vat_mode)
    .bind(p.unit_net)
    .bind(p.unit_vat)
    .bind(p.unit_gross)
    .bind(p.total_gross)
    .bind(p.total_vat)
    .bind(p.unit_cost)
    .bind(markup_bp)
    .bind(markup_amount)
    .bind(p.margin_total)
    .bind(v.prepayment_percent)
    .bind(v.postpayment_days)
    .bind(&v.payment_method)
    .bind(t.arrival_at)
    .bind(to_db_time(v.valid_until))
    .bind(v.comment.clone())
    .bind(user)
    .bind(to_db_time(now))
    .bind(v.machines)
    .fetch_one(&mut *tx)
    .await?;
    for quote_id in &v.quote_ids {
        sqlx::query("INSERT INTO offer_quotes (offer_id, supplier_quote_id) VALUES ($1, $2)")
            .bind(offer_id)
            .bind(quote_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE supplier_quotes SET status = 'selected', updated_at = $1 WHERE id = $2",
        )
        .bind(to_db_time(now))
        .bind(quote_id)
        .execute(&mut *tx)
        .await?;
    }
    let ttl = v.valid_until - now;
    let token = tokens::issue(
        &mut *tx,
        now,
        TOKEN_PURPOSE,
        None,
        &json!({"offer_id": offer_id, "client_org_id": t.client_org_id}),
        ttl,
    )
    .await?;
    let link = format!("{}/offers/t/{token}", s.base_url);
    let a = args![
        "number" => t.number.clone(),
        "total" => Kopecks(p.total_gross),
        "valid" => local_text(Some(to_db_time(v.valid_until)), t.tz),
        "link" => link.clone(),
    ];
    // Only the client's verified contacts: its users, else what it has on
    // record — never the contact typed with the request, which anyone who
    // knows the client's phone could have filled in.
    let people = crate::parties::orgs::verified_recipients(&mut *tx, t.client_org_id).await?;
    let mut told = 0;
    for person in &people {
        if crate::notify::tell(s, &mut *tx, person, "mail-offer", &a).await? {
            told += 1;
        }
    }
    if told == 0 {
        return Err(DomainError::Conflict("offer.no_verified_contact"));
    }
    Ok((offer_id, link))
}

/// Sends a held offer as it was approved (the approval task's
/// `offer.release`: local, `tx` is the step's connection, so the offer
/// leaves exactly when the task is completed). Refused — and the task stays
/// open — when the offer can no longer be sent as it was priced: its
/// machine was booked, its quote withdrawn, its validity over, or the
/// request's client is in doubt.
pub async fn release(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    request_id: i64,
    approval_id: i64,
) -> DomainResult<i64> {
    #[derive(sqlx::FromRow)]
    struct Row {
        input: String,
        supplier_quote_id: i64,
        client_org_id: i64,
        number: String,
        site_timezone: Option<String>,
        price_unit: String,
        arrival_at: i64,
        quote_status: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT a.input, a.supplier_quote_id, r.client_org_id, r.number, r.site_timezone, q.price_unit, q.arrival_at,
           q.status AS quote_status
         FROM offer_approvals a JOIN requests r ON r.id = a.request_id JOIN supplier_quotes q ON q.id = a.supplier_quote_id
         WHERE a.id = $1 AND a.request_id = $2 AND a.status = 'pending'",
    )
    .bind(approval_id)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or(DomainError::Conflict("offer.approval_gone"))?;
    let v: ValidOffer =
        serde_json::from_str(&row.input).map_err(|e| DomainError::Other(anyhow::anyhow!(e)))?;
    let now = s.db.now();
    if v.valid_until <= now {
        return Err(DomainError::Conflict("offer.approval_expired"));
    }
    if !matches!(row.quote_status.as_str(), "active" | "selected") {
        return Err(DomainError::Conflict("quote.not_active"));
    }
    // An approval stored before offers could combine quotes names only
    // its one quote.
    let mut v = v;
    if v.quote_ids.is_empty() {
        v.quote_ids.push(row.supplier_quote_id);
    }
    let mut arrival_at = row.arrival_at;
    for quote_id in &v.quote_ids {
        let (status, arrival): (String, i64) = sqlx::query_as(
            "SELECT status, arrival_at FROM supplier_quotes WHERE id = $1 AND request_id = $2",
        )
        .bind(quote_id)
        .bind(request_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::Conflict("quote.not_active"))?;
        if !matches!(status.as_str(), "active" | "selected") {
            return Err(DomainError::Conflict("quote.not_active"));
        }
        if bookings::quote_taken(tx, *quote_id).await? {
            return Err(DomainError::Conflict("offer.machine_booked"));
        }
        arrival_at = arrival_at.min(arrival);
    }
    if crate::intake::client_unconfirmed(&mut *tx, request_id).await? {
        return Err(DomainError::Conflict("request.client_unconfirmed"));
    }
    let target = Target {
        request_id,
        client_org_id: row.client_org_id,
        number: row.number,
        tz: site_tz(row.site_timezone.as_deref()),
        price_unit: row.price_unit,
        arrival_at,
    };
    let (offer_id, _link) = deliver(s, tx, None, &target, &v).await?;
    sqlx::query(
        "UPDATE offer_approvals SET status = 'approved', offer_id = $1, decided_at = $2 WHERE id = $3",
    )
    .bind(offer_id)
    .bind(to_db_time(now))
    .bind(approval_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        tx,
        now,
        None,
        "offer.sent",
        "offer",
        Some(offer_id),
        json!({"request_id": request_id, "approval_id": approval_id, "quotes": v.quote_ids,
               "total_gross": v.pricing.total_gross, "margin": v.pricing.margin_total}),
    )
    .await?;
    Ok(offer_id)
}

/// Closes a held offer without sending it (`offer.reject`: the approver's
/// refusal with its reason, or the request moved on without it).
pub async fn reject(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    request_id: i64,
    approval_id: i64,
    reason: Option<&str>,
) -> DomainResult<()> {
    let now = s.db.now();
    let n = sqlx::query(
        "UPDATE offer_approvals SET status = 'rejected', reason = $1, decided_at = $2
         WHERE id = $3 AND request_id = $4 AND status = 'pending'",
    )
    .bind(reason)
    .bind(to_db_time(now))
    .bind(approval_id)
    .bind(request_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        audit::record(
            tx,
            now,
            None,
            "offer.approval_rejected",
            "request",
            Some(request_id),
            json!({"approval_id": approval_id, "reason": reason}),
        )
        .await?;
    }
    Ok(())
}

/// An offer held for approval, for the staff's pages.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Approval {
    pub id: i64,
    pub status: String,
    pub total_gross: i64,
    pub margin_total: i64,
    pub margin_bp: i64,
    pub min_margin_bp: i64,
    pub reason: Option<String>,
    pub requested_at: i64,
}

/// The request's latest approval (pending, or how the last one ended), for
/// the staff only.
pub async fn latest_approval(
    s: &Services,
    actor: &Actor,
    request_id: i64,
) -> DomainResult<Option<Approval>> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    Ok(sqlx::query_as(
        "SELECT id, status, total_gross, margin_total, margin_bp, min_margin_bp, reason, requested_at
         FROM offer_approvals WHERE request_id = $1 AND status IN ('pending', 'approved', 'rejected')
         ORDER BY id DESC LIMIT 1",
    )
    .bind(r.id)
    .fetch_optional(s.db.pool())
    .await?)
}
