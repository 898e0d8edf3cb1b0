//! Our quote to the client (исходящее КП), built by the manager on one
//! supplier's quote, and the client's answer.
//!
//! # Price and VAT
//!
//! Our price = our cost + markup (a percentage, by default the request
//! type's `markup_percent`, or an amount per unit). The cost is what the
//! supplier's price costs us: when we are a VAT payer we reclaim the VAT in
//! the supplier's invoice, so the cost is the supplier's price without VAT;
//! when we are not, the cost is the supplier's whole price. Our VAT (our
//! mode: `organisations.vat_mode` of the broker; `vat22` when not filled in)
//! is then added on top of our net price. So a `none` supplier and a `vat22`
//! broker give cost = price, a `vat22` supplier and a `vat22` broker give
//! cost = price − 22/122. The margin (our net − cost, for the whole
//! quantity) is shown to the staff only.
//!
//! # The client's link
//!
//! Sending the offer e-mails (or texts) the client a link that works without
//! a password: a one-time token ([`crate::accounts::tokens`], stored hashed) issued to
//! the client organisation for this offer, expiring with it. Viewing keeps
//! it; accepting or declining consumes it in the same transaction.

use chrono::{DateTime, Duration, Utc};
use engine::{ActionContext, ActionError, EngineBuilder, Sql, action_fn, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::roles::OrgKind;
use crate::access::{Actor, Resource, scope};
use crate::deals::matching::{self, RequestRow};
use crate::deals::quotes::{self, PAYMENT_METHODS, parse_centi, times_centi};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::intake::requests::{local_input, local_text, local_to_utc, site_tz};
use crate::notify::{RECIPIENT_COLUMNS, Recipient};
use crate::services::Services;
use crate::services::ServicesCell;
use crate::values::{Kopecks, VatMode};
use crate::{access::audit, accounts::tokens, args, deals::rfq, deals::scoring};

/// The purpose of the client's one-time link.
pub const TOKEN_PURPOSE: &str = "offer";
/// The broker's VAT mode when its details do not say.
pub const DEFAULT_BROKER_VAT: VatMode = VatMode::Vat22;

/// How the markup is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Basis points (15 % = 1500).
    Percent(i64),
    /// Kopecks per unit.
    Amount(Kopecks),
}

/// Our price for one supplier price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pricing {
    pub unit_cost: i64,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_net: i64,
    pub total_vat: i64,
    pub total_gross: i64,
    pub total_cost: i64,
    pub margin_total: i64,
    /// Margin over cost, basis points.
    pub margin_bp: i64,
}

/// Prices our offer (see the module docs). `None` on overflow.
pub fn price(
    supplier_unit: Kopecks,
    supplier_vat: VatMode,
    ours: VatMode,
    markup: Markup,
    quantity_centi: i64,
) -> Option<Pricing> {
    let reclaim = ours.rate_percent().is_some_and(|r| r > 0);
    let cost = if reclaim {
        supplier_vat.net_from_gross(supplier_unit)
    } else {
        supplier_unit
    };
    let net = match markup {
        Markup::Percent(bp) => cost.with_markup_bp(bp)?,
        Markup::Amount(a) => cost.checked_add(a)?,
    };
    let gross = ours.gross_from_net(net)?;
    let total_gross = times_centi(gross, quantity_centi)?;
    let total_net = times_centi(net, quantity_centi)?;
    let total_cost = times_centi(cost, quantity_centi)?;
    let margin = total_net.checked_sub(total_cost)?;
    Some(Pricing {
        unit_cost: cost.as_i64(),
        unit_net: net.as_i64(),
        unit_vat: gross.as_i64() - net.as_i64(),
        unit_gross: gross.as_i64(),
        total_net: total_net.as_i64(),
        total_vat: total_gross.as_i64() - total_net.as_i64(),
        total_gross: total_gross.as_i64(),
        total_cost: total_cost.as_i64(),
        margin_total: margin.as_i64(),
        margin_bp: if total_cost.as_i64() > 0 {
            i64::try_from(i128::from(margin.as_i64()) * 10_000 / i128::from(total_cost.as_i64()))
                .unwrap_or(0)
        } else {
            0
        },
    })
}

/// The broker's VAT mode (`vat22` when its details leave it empty).
pub async fn broker_vat(s: &Services) -> DomainResult<VatMode> {
    let v: Option<Option<String>> = sqlx::query_scalar(
        "SELECT vat_mode FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
    )
    .fetch_optional(s.db.pool())
    .await?;
    Ok(v.flatten()
        .and_then(|m| VatMode::parse(&m).ok())
        .unwrap_or(DEFAULT_BROKER_VAT))
}

/// The offer as typed by the manager.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OfferInput {
    pub quote_id: String,
    /// `percent` or `amount`.
    pub markup_kind: String,
    pub markup: String,
    pub quantity: String,
    pub prepayment_percent: String,
    pub postpayment_days: String,
    pub payment_method: String,
    /// Site-local `YYYY-MM-DDTHH:MM`.
    pub valid_until: String,
    pub comment: String,
}

/// An offer as stored (staff view: with cost and margin).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Offer {
    pub id: i64,
    pub request_id: i64,
    pub client_org_id: i64,
    pub supplier_quote_id: i64,
    pub status: String,
    pub price_unit: String,
    pub quantity_centi: i64,
    pub vat_mode: String,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_gross: i64,
    pub total_vat: i64,
    pub unit_cost: i64,
    pub markup_bp: Option<i64>,
    pub markup_amount: Option<i64>,
    pub margin_total: i64,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
    pub arrival_at: i64,
    pub valid_until: i64,
    pub comment: Option<String>,
    pub decline_reason: Option<String>,
    pub sent_at: i64,
    pub decided_at: Option<i64>,
}

const OFFER_COLUMNS: &str = "f.id, f.request_id, f.client_org_id, f.supplier_quote_id, f.status, f.price_unit, f.quantity_centi, f.vat_mode, f.unit_net, f.unit_vat, f.unit_gross, f.total_gross, f.total_vat, f.unit_cost, f.markup_bp, f.markup_amount, f.margin_total, f.prepayment_percent, f.postpayment_days, f.payment_method, f.arrival_at, f.valid_until, f.comment, f.decline_reason, f.sent_at, f.decided_at";

/// What the client sees of an offer: our price and terms, the job, and
/// nothing of the supplier (no name, machine, plate, price or cost).
#[derive(Debug, Clone, Serialize)]
pub struct ClientOffer {
    pub id: i64,
    pub status: String,
    pub request_number: String,
    pub type_title: String,
    pub site_address: Option<String>,
    pub price_unit: String,
    pub quantity: String,
    pub vat_mode: String,
    pub unit_net: i64,
    pub unit_vat: i64,
    pub unit_gross: i64,
    pub total_gross: i64,
    pub total_vat: i64,
    pub category_title: String,
    pub prepayment_percent: i64,
    pub postpayment_days: i64,
    pub payment_method: String,
    pub arrival_local: String,
    pub valid_until_local: String,
    pub comment: Option<String>,
    pub decline_reason: Option<String>,
    /// The client may still accept or decline.
    pub open: bool,
}

/// An offer with what the client's view shows of its request and machine.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ClientOfferRow {
    #[sqlx(flatten)]
    offer: Offer,
    request_number: String,
    request_type: String,
    site_address: Option<String>,
    site_timezone: Option<String>,
    category: String,
}

/// Offers as the client sees them, in one query; `narrow` adds conditions
/// (and order) to `… WHERE 1 = 1`.
async fn client_rows(
    s: &Services,
    narrow: impl FnOnce(&mut Sql),
) -> DomainResult<Vec<ClientOffer>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS).push(
        ", r.number AS request_number, r.request_type, r.site_address, r.site_timezone, m.category
         FROM offers f JOIN requests r ON r.id = f.request_id
         JOIN supplier_quotes sq ON sq.id = f.supplier_quote_id JOIN machines m ON m.id = sq.machine_id
         WHERE 1 = 1",
    );
    narrow(&mut sql);
    let rows: Vec<ClientOfferRow> = sql.query_as().fetch_all(s.db.pool()).await?;
    Ok(rows.iter().map(|x| client_view(s, x)).collect())
}

fn client_view(s: &Services, x: &ClientOfferRow) -> ClientOffer {
    let o = &x.offer;
    let tz = site_tz(x.site_timezone.as_deref());
    ClientOffer {
        id: o.id,
        status: o.status.clone(),
        request_number: x.request_number.clone(),
        type_title: s
            .request_types
            .get(&x.request_type)
            .map(|t| t.title.clone())
            .unwrap_or_else(|| x.request_type.clone()),
        site_address: x.site_address.clone(),
        price_unit: o.price_unit.clone(),
        quantity: quotes::centi_text(o.quantity_centi),
        vat_mode: o.vat_mode.clone(),
        unit_net: o.unit_net,
        unit_vat: o.unit_vat,
        unit_gross: o.unit_gross,
        total_gross: o.total_gross,
        total_vat: o.total_vat,
        category_title: s
            .equipment
            .category(&x.category)
            .map(|c| c.title.clone())
            .unwrap_or_default(),
        prepayment_percent: o.prepayment_percent,
        postpayment_days: o.postpayment_days,
        payment_method: o.payment_method.clone(),
        arrival_local: local_text(Some(o.arrival_at), tz),
        valid_until_local: local_text(Some(o.valid_until), tz),
        comment: o.comment.clone(),
        decline_reason: o.decline_reason.clone(),
        open: o.status == "sent" && to_db_time(s.db.now()) < o.valid_until,
    }
}

/// An offer the actor may see (its client; staff).
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Offer> {
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS)
        .push(" FROM offers f WHERE f.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Offer, "f");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

async fn by_id(s: &Services, id: i64) -> DomainResult<Offer> {
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS)
        .push(" FROM offers f WHERE f.id = ")
        .bind(id);
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Offers of a request, for the staff (with margins).
pub async fn for_request(s: &Services, actor: &Actor, request_id: i64) -> DomainResult<Vec<Offer>> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let r = matching::request_for(s, actor, request_id).await?;
    let mut sql = Sql::new("SELECT ");
    sql.push(OFFER_COLUMNS)
        .push(" FROM offers f WHERE f.request_id = ")
        .bind(r.id)
        .push(" ORDER BY f.id DESC");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// The offer form, prefilled from a quote.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub request: RequestRow,
    pub quote: quotes::Quote,
    pub supplier_name: String,
    pub input: OfferInput,
    pub broker_vat: VatMode,
    pub pricing: Option<Pricing>,
}

async fn quote_of_request(
    s: &Services,
    actor: &Actor,
    r: &RequestRow,
    quote_id: i64,
) -> DomainResult<quotes::Quote> {
    let q = quotes::get(s, actor, quote_id).await?;
    if q.request_id != r.id {
        return Err(DomainError::NotFound);
    }
    Ok(q)
}

/// The offer form for a quote of a request, with the request type's
/// default markup.
pub async fn draft(
    s: &Services,
    actor: &Actor,
    request_id: i64,
    input: Option<&OfferInput>,
    quote_id: i64,
) -> DomainResult<Draft> {
    rfq::require_front_office(actor)?;
    let r = matching::request_for(s, actor, request_id).await?;
    let q = quote_of_request(s, actor, &r, quote_id).await?;
    let t = s.request_types.get(&r.request_type);
    let ours = broker_vat(s).await?;
    let supplier_name: String = sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1")
        .bind(q.supplier_org_id)
        .fetch_one(s.db.pool())
        .await?;
    let input = match input {
        Some(i) => OfferInput {
            quote_id: q.id.to_string(),
            ..i.clone()
        },
        None => {
            let bp = t.map(|t| t.markup_bp).unwrap_or(0);
            OfferInput {
                quote_id: q.id.to_string(),
                markup_kind: "percent".into(),
                markup: format!("{},{:02}", bp / 100, bp % 100),
                quantity: quotes::centi_text(q.quantity_centi),
                prepayment_percent: q.prepayment_percent.to_string(),
                postpayment_days: q.postpayment_days.to_string(),
                payment_method: q.payment_method.clone(),
                valid_until: local_input(
                    Some(
                        q.valid_until
                            .min(to_db_time(s.db.now() + Duration::hours(24))),
                    ),
                    r.tz(),
                ),
                comment: String::new(),
            }
        }
    };
    let pricing = checked(&input, &q, ours, &r, s.db.now())
        .ok()
        .map(|v| v.pricing);
    Ok(Draft {
        request: r,
        quote: q,
        supplier_name,
        input,
        broker_vat: ours,
        pricing,
    })
}

struct ValidOffer {
    markup: Markup,
    quantity_centi: i64,
    pricing: Pricing,
    prepayment_percent: i64,
    postpayment_days: i64,
    payment_method: String,
    valid_until: DateTime<Utc>,
    comment: Option<String>,
}

/// Percent with up to two decimals, as basis points: `15` → 1500, `12,5` → 1250.
pub fn parse_percent_bp(input: &str) -> Option<i64> {
    let t = input.trim().trim_end_matches('%').trim();
    let negative = t.starts_with('-');
    let digits = t.trim_start_matches('-').trim();
    let v = if digits.chars().all(|c| c == '0' || c == ',' || c == '.') && !digits.is_empty() {
        0
    } else {
        parse_centi(digits)?
    };
    Some(if negative { -v } else { v })
}

fn checked(
    input: &OfferInput,
    q: &quotes::Quote,
    ours: VatMode,
    r: &RequestRow,
    now: DateTime<Utc>,
) -> Result<ValidOffer, FieldErrors> {
    let mut e = FieldErrors::new();
    let markup = match input.markup_kind.as_str() {
        "amount" => match Kopecks::parse(&input.markup) {
            Ok(k) => Some(Markup::Amount(k)),
            Err(_) => {
                e.add("markup", "quote.money_invalid");
                None
            }
        },
        _ => match parse_percent_bp(&input.markup) {
            Some(bp) if (-5000..=50_000).contains(&bp) => Some(Markup::Percent(bp)),
            _ if input.markup.trim().is_empty() => Some(Markup::Percent(0)),
            _ => {
                e.add("markup", "offer.markup_invalid");
                None
            }
        },
    };
    let quantity_centi = match input.quantity.trim() {
        "" => Some(q.quantity_centi),
        t => parse_centi(t).or_else(|| {
            e.add("quantity", "quote.quantity_invalid");
            None
        }),
    };
    let prepayment_percent =
        quotes::int_in(&mut e, "prepayment_percent", &input.prepayment_percent, 100);
    let postpayment_days = quotes::int_in(&mut e, "postpayment_days", &input.postpayment_days, 365);
    let payment_method = input.payment_method.trim().to_string();
    if !PAYMENT_METHODS.contains(&payment_method.as_str()) {
        e.add("payment_method", "quote.payment_method_invalid");
    }
    let valid_until = match local_to_utc(&input.valid_until, r.tz()) {
        Some(t) if t > now => Some(t),
        Some(_) => {
            e.add("valid_until", "quote.in_past");
            None
        }
        None if input.valid_until.trim().is_empty() => {
            e.add("valid_until", "required");
            None
        }
        None => {
            e.add("valid_until", "quote.datetime_invalid");
            None
        }
    };
    if input.comment.chars().count() > 2000 {
        e.add("comment", "text.too_long");
    }
    let supplier_vat = VatMode::parse(&q.vat_mode).unwrap_or(VatMode::None);
    let pricing = match (markup, quantity_centi) {
        (Some(m), Some(c)) => match price(Kopecks(q.unit_price), supplier_vat, ours, m, c) {
            Some(p) if p.unit_gross > 0 => Some(p),
            _ => {
                e.add("markup", "offer.markup_invalid");
                None
            }
        },
        _ => None,
    };
    match (markup, quantity_centi, pricing, valid_until) {
        (Some(markup), Some(quantity_centi), Some(pricing), Some(valid_until)) if e.is_empty() => {
            Ok(ValidOffer {
                markup,
                quantity_centi,
                pricing,
                prepayment_percent,
                postpayment_days,
                payment_method,
                valid_until,
                comment: Some(input.comment.trim().to_string()).filter(|c| !c.is_empty()),
            })
        }
        _ => Err(e),
    }
}

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
    rfq::require_front_office(actor)?;
    let r = matching::request_for(s, actor, request_id).await?;
    let quote_id = input
        .quote_id
        .trim()
        .parse::<i64>()
        .map_err(|_| DomainError::field("quote_id", "required"))?;
    let q = quote_of_request(s, actor, &r, quote_id).await?;
    if !matches!(q.status.as_str(), "active" | "selected") {
        return Err(DomainError::Conflict("quote.not_active"));
    }
    let ours = broker_vat(s).await?;
    let now = s.db.now();
    let v = checked(input, &q, ours, &r, now).map_err(DomainError::Invalid)?;
    let mut tx = s.db.begin().await?;
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
           postpayment_days, payment_method, arrival_at, valid_until, comment, sent_by, sent_at, created_at)
         VALUES ($1, $2, $3, 'sent', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23)
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
    .bind(q.arrival_at)
    .bind(to_db_time(v.valid_until))
    .bind(v.comment.clone())
    .bind(actor.user())
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE supplier_quotes SET status = 'selected', updated_at = $1 WHERE id = $2")
        .bind(to_db_time(now))
        .bind(q.id)
        .execute(&mut *tx)
        .await?;
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
    let mut sql = Sql::new("SELECT ");
    sql.push(RECIPIENT_COLUMNS)
        .push(" FROM users u WHERE u.org_id = ")
        .bind(r.client_org_id)
        .push(" AND u.status = 'active' ORDER BY u.id");
    let people: Vec<Recipient> = sql.query_as().fetch_all(&mut *tx).await?;
    let mut told = 0;
    for person in &people {
        if crate::notify::tell(s, &mut tx, person, "mail-offer", &a).await? {
            told += 1;
        }
    }
    if told == 0 {
        // A website visitor without a login: the request's contact.
        let contact: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT contact_email, contact_phone FROM requests WHERE id = $1")
                .bind(r.id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((email, phone)) = contact {
            let person = Recipient {
                email,
                phone,
                ..Recipient::default()
            };
            crate::notify::tell(s, &mut tx, &person, "mail-offer", &a).await?;
        }
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
        .await
        .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
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
        json!({"request_id": r.id, "quote_id": q.id, "total_gross": p.total_gross, "margin": p.margin_total}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(SentOffer { offer_id, link })
}

// ---------------------------------------------------------------------------
// The client's side

fn require_client(actor: &Actor) -> DomainResult<()> {
    if actor.org_kind == OrgKind::Client {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// The client's offers, newest first.
pub async fn list_for_client(s: &Services, actor: &Actor) -> DomainResult<Vec<ClientOffer>> {
    require_client(actor)?;
    client_rows(s, |sql| {
        sql.push(" AND f.status <> 'withdrawn'");
        scope(sql, actor, Resource::Offer, "f");
        sql.push(" ORDER BY f.sent_at DESC, f.id DESC LIMIT 200");
    })
    .await
}

/// One offer of the actor's client.
pub async fn for_client(s: &Services, actor: &Actor, id: i64) -> DomainResult<ClientOffer> {
    require_client(actor)?;
    client_rows(s, |sql| {
        sql.push(" AND f.id = ").bind(id);
        scope(sql, actor, Resource::Offer, "f");
    })
    .await?
    .pop()
    .ok_or(DomainError::NotFound)
}

/// The offer a link's token was issued for (the token stays valid).
pub async fn by_token(s: &Services, token: &str) -> DomainResult<ClientOffer> {
    let (_, payload) = tokens::peek(s.db.pool(), s.db.now(), TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    let (id, client) = token_ids(&payload).ok_or(DomainError::NotFound)?;
    client_rows(s, |sql| {
        sql.push(" AND f.id = ")
            .bind(id)
            .push(" AND f.client_org_id = ")
            .bind(client);
    })
    .await?
    .pop()
    .ok_or(DomainError::NotFound)
}

/// The offer and client a link's token names.
fn token_ids(payload: &Value) -> Option<(i64, i64)> {
    Some((
        payload.get("offer_id").and_then(Value::as_i64)?,
        payload.get("client_org_id").and_then(Value::as_i64)?,
    ))
}

async fn token_offer(s: &Services, payload: &Value) -> DomainResult<Offer> {
    let (id, client) = token_ids(payload).ok_or(DomainError::NotFound)?;
    let o = by_id(s, id).await?;
    if o.client_org_id != client {
        return Err(DomainError::NotFound);
    }
    Ok(o)
}

/// The client's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Decline,
}

async fn decide(
    s: &Services,
    tx: &mut engine::Tx,
    o: &Offer,
    decision: Decision,
    reason: Option<&str>,
    user: Option<i64>,
) -> DomainResult<()> {
    let now = s.db.now();
    if o.status != "sent" {
        return Err(DomainError::Conflict("offer.decided"));
    }
    if to_db_time(now) >= o.valid_until {
        return Err(DomainError::Conflict("offer.expired"));
    }
    let status = match decision {
        Decision::Accept => "accepted",
        Decision::Decline => "declined",
    };
    let n = sqlx::query(
        "UPDATE offers SET status = $1, decline_reason = $2, decided_at = $3, decided_by = $4 WHERE id = $5 AND status = 'sent'",
    )
    .bind(status)
    .bind(reason)
    .bind(to_db_time(now))
    .bind(user)
    .bind(o.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::Conflict("offer.decided"));
    }
    match decision {
        Decision::Accept => {
            sqlx::query("UPDATE supplier_quotes SET status = 'won', updated_at = $1 WHERE id = $2")
                .bind(to_db_time(now))
                .bind(o.supplier_quote_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "UPDATE supplier_quotes SET status = 'lost', updated_at = $1 WHERE request_id = $2 AND id <> $3 AND status IN ('active', 'selected')",
            )
            .bind(to_db_time(now))
            .bind(o.request_id)
            .bind(o.supplier_quote_id)
            .execute(&mut **tx)
            .await?;
            let winner: i64 =
                sqlx::query_scalar("SELECT supplier_org_id FROM supplier_quotes WHERE id = $1")
                    .bind(o.supplier_quote_id)
                    .fetch_one(&mut **tx)
                    .await?;
            scoring::record(tx, now, winner, scoring::Event::Won).await?;
            s.engine
                .emit_to_object_in_tx(
                    tx,
                    "request",
                    o.request_id,
                    "offer.accepted",
                    json!({"offer_id": o.id}),
                    user,
                )
                .await
                .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
        }
        Decision::Decline => {
            sqlx::query("UPDATE supplier_quotes SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'selected'")
                .bind(to_db_time(now))
                .bind(o.supplier_quote_id)
                .execute(&mut **tx)
                .await?;
            s.engine
                .emit_to_object_in_tx(
                    tx,
                    "request",
                    o.request_id,
                    "offer.declined",
                    json!({"offer_id": o.id, "reason": reason.unwrap_or_default()}),
                    user,
                )
                .await
                .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))?;
        }
    }
    audit::record(
        tx,
        now,
        None,
        &format!("offer.{status}"),
        "offer",
        Some(o.id),
        json!({"by": user, "reason": reason}),
    )
    .await?;
    Ok(())
}

fn checked_reason(decision: Decision, reason: &str) -> DomainResult<Option<String>> {
    let reason = reason.trim();
    match decision {
        Decision::Accept => Ok(None),
        Decision::Decline if reason.chars().count() < 3 => Err(DomainError::field(
            "reason",
            if reason.is_empty() {
                "required"
            } else {
                "quote.reason_too_short"
            },
        )),
        Decision::Decline if reason.chars().count() > 2000 => {
            Err(DomainError::field("reason", "text.too_long"))
        }
        Decision::Decline => Ok(Some(reason.to_string())),
    }
}

/// The signed-in client accepts or declines (with a reason) an offer.
pub async fn answer(
    s: &Services,
    actor: &Actor,
    id: i64,
    decision: Decision,
    reason: &str,
) -> DomainResult<()> {
    require_client(actor)?;
    let reason = checked_reason(decision, reason)?;
    let o = get(s, actor, id).await?;
    let mut tx = s.db.begin().await?;
    // The e-mailed link then shows the decision and offers none.
    decide(s, &mut tx, &o, decision, reason.as_deref(), actor.user()).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Accepts or declines through the e-mailed link (no password): the token
/// is consumed in the same transaction.
pub async fn answer_by_token(
    s: &Services,
    token: &str,
    decision: Decision,
    reason: &str,
) -> DomainResult<i64> {
    let reason = checked_reason(decision, reason)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let (_, payload) = tokens::consume(&mut tx, now, TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    let o = token_offer(s, &payload).await?;
    decide(s, &mut tx, &o, decision, reason.as_deref(), None).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(o.id)
}

/// Marks an offer expired when its validity ends unanswered (the
/// `offer.expire` action of the workflow's validity timer).
pub async fn expire(s: &Services, offer_id: i64) -> DomainResult<bool> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let n = sqlx::query(
        "UPDATE offers SET status = 'expired', decided_at = $1 WHERE id = $2 AND status = 'sent'",
    )
    .bind(to_db_time(now))
    .bind(offer_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        sqlx::query(
            "UPDATE supplier_quotes SET status = 'active' WHERE id = (SELECT supplier_quote_id FROM offers WHERE id = $1) AND status = 'selected'",
        )
        .bind(offer_id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            now,
            None,
            "offer.expired",
            "offer",
            Some(offer_id),
            json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// Registers `offer.expire`.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    b.action(
        "offer.expire",
        Some(&["offer_id"]),
        action_fn(move |ctx: ActionContext| {
            let cell = cell.clone();
            async move {
                let s = crate::services::ready(&cell)?;
                let id = ctx
                    .params
                    .get("offer_id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ActionError::Fail("offer_id is missing".into()))?;
                let expired = expire(s, id)
                    .await
                    .map_err(|e| ActionError::Retry(e.to_string()))?;
                Ok(json!({"expired": expired}))
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vat_payer_reclaims_the_suppliers_vat() {
        // 12 200 ₽ with 22 % VAT from the supplier: cost 10 000 ₽; 15 % markup
        // → 11 500 ₽ net, + 22 % = 14 030 ₽ for the client.
        let p = price(
            Kopecks(1_220_000),
            VatMode::Vat22,
            VatMode::Vat22,
            Markup::Percent(1500),
            200,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_000_000);
        assert_eq!(p.unit_net, 1_150_000);
        assert_eq!(p.unit_gross, 1_403_000);
        assert_eq!(p.total_gross, 2_806_000);
        assert_eq!(p.margin_total, 300_000);
        assert_eq!(p.margin_bp, 1500);
    }

    #[test]
    fn a_supplier_without_vat_costs_its_whole_price() {
        let p = price(
            Kopecks(1_000_000),
            VatMode::None,
            VatMode::Vat22,
            Markup::Percent(1500),
            100,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_000_000);
        assert_eq!(p.unit_gross, 1_403_000);
        // A broker without VAT cannot reclaim: cost = the supplier's gross.
        let p = price(
            Kopecks(1_220_000),
            VatMode::Vat22,
            VatMode::None,
            Markup::Amount(Kopecks(100_000)),
            100,
        )
        .expect("fits");
        assert_eq!(p.unit_cost, 1_220_000);
        assert_eq!(p.unit_gross, 1_320_000);
        assert_eq!(p.unit_vat, 0);
        assert_eq!(p.margin_total, 100_000);
    }

    #[test]
    fn percentages_parse_to_basis_points() {
        assert_eq!(parse_percent_bp("15"), Some(1500));
        assert_eq!(parse_percent_bp("12,5 %"), Some(1250));
        assert_eq!(parse_percent_bp("-5"), Some(-500));
        assert_eq!(parse_percent_bp("abc"), None);
    }
}
