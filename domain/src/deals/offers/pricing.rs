use super::*;

/// How the markup is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Markup {
    /// Basis points (15 % = 1500).
    Percent(i64),
    /// Kopecks per unit.
    Amount(Kopecks),
}

/// Our price for one supplier price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// How the client's price is rounded (the broker's `price_rounding`), so
/// that the client reads 27 000 ₽ rather than a markup's 26 999,99 ₽.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    Kopeck,
    Rouble,
    TenRoubles,
}

/// Whole roubles unless the company says otherwise.
pub const DEFAULT_ROUNDING: Rounding = Rounding::Rouble;

impl Rounding {
    pub fn parse(s: &str) -> Option<Rounding> {
        match s {
            "kopeck" => Some(Rounding::Kopeck),
            "rouble" => Some(Rounding::Rouble),
            "ten_roubles" => Some(Rounding::TenRoubles),
            _ => None,
        }
    }

    fn step(self) -> i64 {
        match self {
            Rounding::Kopeck => 1,
            Rounding::Rouble => 100,
            Rounding::TenRoubles => 1_000,
        }
    }

    /// `kopecks` to the nearest step, halves away from zero.
    pub fn round(self, kopecks: i64) -> i64 {
        let step = self.step();
        let half = step / 2;
        let r = kopecks.rem_euclid(step);
        let down = kopecks - r;
        if step == 1 {
            kopecks
        } else if r > half || (r == half && kopecks >= 0) {
            down.saturating_add(step)
        } else {
            down
        }
    }
}

/// The broker's terms for pricing an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Terms {
    pub vat: VatMode,
    pub rounding: Rounding,
    /// The margin below which an offer needs approval when the request
    /// type does not set one, basis points.
    pub min_margin_bp: i64,
}

/// Prices our offer on one supplier price (see the module docs): the
/// client's unit and total prices are rounded as the company sets, and the net, VAT and margin are
/// computed from the rounded price, so the margin staff see is the one the
/// client pays. `None` on overflow.
pub fn price(
    supplier_unit: Kopecks,
    supplier_vat: VatMode,
    ours: VatMode,
    markup: Markup,
    quantity_centi: i64,
    rounding: Rounding,
) -> Option<Pricing> {
    price_many(
        &[Line {
            unit_price: supplier_unit,
            vat: supplier_vat,
            machines: 1,
        }],
        ours,
        markup,
        quantity_centi,
        rounding,
    )
}

/// One supplier's part of a combined offer: its price per unit and machine
/// (with its VAT) and how many machines it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub unit_price: Kopecks,
    pub vat: VatMode,
    pub machines: i64,
}

/// Prices one offer on several suppliers' quotes that together give the
/// machines: the client gets one price per unit and machine, marked up from
/// the machines' average cost (rounded up to the kopeck, so that rounding
/// never eats the margin); `quantity_centi` is per machine, totals are for
/// every machine, and the margin is against what each supplier really
/// costs. With one quote this is exactly [`price`]. `None` on overflow or
/// without machines.
pub fn price_many(
    lines: &[Line],
    ours: VatMode,
    markup: Markup,
    quantity_centi: i64,
    rounding: Rounding,
) -> Option<Pricing> {
    let reclaim = ours.rate_percent().is_some_and(|r| r > 0);
    let cost_of = |l: &Line| {
        if reclaim {
            l.vat.net_from_gross(l.unit_price)
        } else {
            l.unit_price
        }
    };
    let machines: i64 = lines.iter().map(|l| l.machines).sum();
    if machines <= 0 || lines.iter().any(|l| l.machines <= 0) {
        return None;
    }
    let mut sum: i128 = 0;
    for l in lines {
        sum += i128::from(cost_of(l).as_i64()) * i128::from(l.machines);
    }
    let avg = i64::try_from((sum + i128::from(machines) - 1) / i128::from(machines)).ok()?;
    let cost = Kopecks(avg);
    let all_units = quantity_centi.checked_mul(machines)?;
    let mut total_cost = Kopecks(0);
    for l in lines {
        total_cost = total_cost.checked_add(times_centi(
            cost_of(l),
            quantity_centi.checked_mul(l.machines)?,
        )?)?;
    }
    let net = match markup {
        Markup::Percent(bp) => cost.with_markup_bp(bp)?,
        Markup::Amount(a) => cost.checked_add(a)?,
    };
    let gross = Kopecks(rounding.round(ours.gross_from_net(net)?.as_i64()));
    let net = ours.net_from_gross(gross);
    let total_gross = Kopecks(rounding.round(times_centi(gross, all_units)?.as_i64()));
    let total_net = ours.net_from_gross(total_gross);
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
    Ok(broker_terms(s).await?.vat)
}

/// The broker's pricing terms from its details.
pub async fn broker_terms(s: &Services) -> DomainResult<Terms> {
    let v: Option<(Option<String>, String, i64)> = sqlx::query_as(
        "SELECT vat_mode, price_rounding, min_margin_bp FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
    )
    .fetch_optional(s.db.pool())
    .await?;
    Ok(match v {
        Some((vat, rounding, min_margin_bp)) => Terms {
            vat: vat
                .and_then(|m| VatMode::parse(&m).ok())
                .unwrap_or(DEFAULT_BROKER_VAT),
            rounding: Rounding::parse(&rounding).unwrap_or(DEFAULT_ROUNDING),
            min_margin_bp,
        },
        None => Terms {
            vat: DEFAULT_BROKER_VAT,
            rounding: DEFAULT_ROUNDING,
            min_margin_bp: 0,
        },
    })
}

/// Whether an offer with this pricing must be approved before it leaves:
/// below the minimum margin, and always below cost.
pub fn needs_approval(p: &Pricing, min_margin_bp: i64) -> bool {
    p.margin_total < 0 || p.margin_bp < min_margin_bp
}
