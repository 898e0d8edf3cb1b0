use super::*;

/// What sending an offer gives back (the link is also e-mailed).
#[derive(Debug, Clone, Serialize)]
pub struct SentOffer {
    pub offer_id: i64,
    pub link: String,
}

/// Sends our offer to the client: stores it, marks the supplier's quote
/// selected, issues the client's link, notifies the client's users and
/// tells the request's workflow (`offer.sent`) — one transaction.
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
    let ours = broker_vat(s).await?;
    let now = s.db.now();
    let v = checked(input, &qs, ours, &r, now).map_err(DomainError::Invalid)?;
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
    // One live offer per request: a new one replaces the previous.
    sqlx::query("UPDATE offers SET status = 'withdrawn', decided_at = $1 WHERE request_id = $2 AND status = 'sent'")
        .bind(to_db_time(now))
        .bind(r.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE supplier_quotes SET status = 'active' WHERE request_id = $1 AND status = 'selected'")
        .bind(r.id)
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
    .bind(r.id)
    .bind(r.client_org_id)
    .bind(q.id)
    .bind(&q.price_unit)
    .bind(v.quantity_centi)
    .bind(ours.as_str())
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
    .bind(qs.iter().map(|x| x.arrival_at).min().unwrap_or(q.arrival_at))
    .bind(to_db_time(v.valid_until))
    .bind(v.comment.clone())
    .bind(actor.user())
    .bind(to_db_time(now))
    .bind(v.machines)
    .fetch_one(&mut *tx)
    .await?;
    for x in &qs {
        sqlx::query("INSERT INTO offer_quotes (offer_id, supplier_quote_id) VALUES ($1, $2)")
            .bind(offer_id)
            .bind(x.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE supplier_quotes SET status = 'selected', updated_at = $1 WHERE id = $2",
        )
        .bind(to_db_time(now))
        .bind(x.id)
        .execute(&mut *tx)
        .await?;
    }
    let ttl = v.valid_until - now;
    let token = tokens::issue(
        &mut tx,
        now,
        TOKEN_PURPOSE,
        None,
        &json!({"offer_id": offer_id, "client_org_id": r.client_org_id}),
        ttl,
    )
    .await?;
    let link = format!("{}/offers/t/{token}", s.base_url);
    let a = args![
        "number" => r.number,
        "total" => Kopecks(p.total_gross),
        "valid" => local_text(Some(to_db_time(v.valid_until)), r.tz()),
        "link" => link,
    ];
    // Only the client's verified contacts: its users, else what it has on
    // record — never the contact typed with the request, which anyone who
    // knows the client's phone could have filled in.
    let people = crate::parties::orgs::verified_recipients(&mut tx, r.client_org_id).await?;
    let mut told = 0;
    for person in &people {
        if crate::notify::tell(s, &mut tx, person, "mail-offer", &a).await? {
            told += 1;
        }
    }
    if told == 0 {
        return Err(DomainError::Conflict("offer.no_verified_contact"));
    }
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
        now,
        Some(actor),
        "offer.sent",
        "offer",
        Some(offer_id),
        json!({"request_id": r.id, "quotes": ids, "machines": v.machines, "total_gross": p.total_gross, "margin": p.margin_total}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(SentOffer { offer_id, link })
}
