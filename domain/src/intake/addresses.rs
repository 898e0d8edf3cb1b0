//! Addresses of requests: suggestions while a person types one, and the
//! coordinates of an address typed without picking a suggestion — so that
//! matching always has a distance from the site to a machine's base.
//!
//! The geocoder is an outside call ([`connectors::geo::Geocoder`]), so it is
//! never made inside a write transaction: [`locate`] runs after a request's
//! checks and before its transaction opens. That is the choice that keeps
//! the public form fast: a visitor who picked a suggestion sends its
//! coordinates and costs no call at all; one who typed an address costs one
//! suggestion lookup (tens of milliseconds at DaData, at most the geocoder's
//! timeout), and the request is stored with its coordinates in the same
//! write — no second write, no matching run without a distance in between,
//! no workflow step for it. A geocoder that fails or does not know the
//! address leaves the request without coordinates, exactly as before: the
//! request is never refused for it, and staff can type coordinates on the
//! request's edit form.

use connectors::geo::AddressSuggestion;
use serde_json::{Map, Value};

use crate::error::DomainResult;
use crate::intake::request_types::{FieldKind, RequestType};
use crate::intake::requests::ValidRequest;
use crate::rate_limit::{self, Limit};
use crate::services::Services;

/// How many suggestions a form shows.
pub const SUGGESTIONS: usize = 7;

/// Suggestion lookups an anonymous visitor (the public form) may make per
/// address: typing is debounced by the page, so a person typing a few
/// addresses stays far below it, while a script cannot use us as a free
/// proxy to the paid geocoder.
pub const PUBLIC_SUGGEST_LIMIT: Limit = Limit {
    limit: 60,
    window: chrono::Duration::minutes(10),
};

/// Counts a visitor's suggestion lookup from `ip` (refused with
/// `rate_limited` over [`PUBLIC_SUGGEST_LIMIT`]); signed-in people are not
/// counted.
pub async fn admit_public_suggest(s: &Services, ip: Option<&str>) -> DomainResult<()> {
    rate_limit::hit(
        &s.db,
        &format!("address_suggest:{}", ip.unwrap_or("unknown")),
        PUBLIC_SUGGEST_LIMIT,
    )
    .await
}

/// Addresses that begin like `query`, best first. A geocoder that fails
/// suggests nothing (logged): the person types the address in full.
pub async fn suggest(s: &Services, query: &str) -> Vec<AddressSuggestion> {
    match s.geocoder.suggest(query, SUGGESTIONS).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "address suggestions failed");
            Vec::new()
        }
    }
}

/// True when addresses get suggestions and coordinates (forms then hide
/// the coordinate inputs from visitors).
pub fn geocoder_configured(s: &Services) -> bool {
    s.geocoder.is_configured()
}

/// Fills in the coordinates of every address of `r` that has none, from
/// the geocoder; the site's also go to `site_lat` / `site_lon`, which
/// matching reads. Call it outside any transaction (see the module
/// documentation). Typed coordinates are kept as they are.
pub async fn locate(s: &Services, t: &RequestType, r: &mut ValidRequest) {
    if !s.geocoder.is_configured() {
        return;
    }
    for f in t.fields.iter().filter(|f| f.kind == FieldKind::Address) {
        let Some(Value::Object(a)) = r.fields.get(&f.id) else {
            continue;
        };
        if a.get("lat").is_some_and(|v| !v.is_null()) {
            continue;
        }
        let Some(address) = a
            .get("address")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let point = match s.geocoder.geocode(address).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                tracing::info!(field = f.id, "the geocoder does not know the address");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, code = e.code(), field = f.id, "geocoding failed; stored without coordinates");
                continue;
            }
        };
        let mut located: Map<String, Value> = a.clone();
        located.insert("lat".into(), Value::from(point.lat));
        located.insert("lon".into(), Value::from(point.lon));
        r.fields.insert(f.id.clone(), Value::Object(located));
        if f.id == t.site {
            r.site_lat = Some(point.lat);
            r.site_lon = Some(point.lon);
        }
    }
}
