//! A self-hosted Nominatim (OpenStreetMap): `GET {base}/search?format=jsonv2
//! &q=…&countrycodes=ru&limit=n` with our own `User-Agent`, as its usage
//! policy asks. No key. Each result's `lat` / `lon` (decimal strings) are
//! the point and its `place_rank` the precision (30 a building, 26–27 a
//! street, 16–25 a settlement or a district, 12–15 a city's region…).
//!
//! The public nominatim.openstreetmap.org forbids autocomplete and allows
//! one request a second, so this adapter is meant for a company's own
//! instance; point `PODRYAD_NOMINATIM_URL` at it.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{AddressSuggestion, GeoError, Geocoder, MAX_SUGGESTIONS, Precision, degrees};
use crate::config::{ConfigError, NominatimConfig};

/// The Nominatim adapter.
#[derive(Debug)]
pub struct Nominatim {
    client: reqwest::Client,
    base_url: String,
}

/// A `place_rank` as a precision.
fn precision(rank: Option<i64>) -> Option<Precision> {
    match rank? {
        28.. => Some(Precision::House),
        26..=27 => Some(Precision::Street),
        17..=25 => Some(Precision::Settlement),
        13..=16 => Some(Precision::City),
        _ => Some(Precision::Region),
    }
}

impl Nominatim {
    pub fn new(config: &NominatimConfig) -> Result<Nominatim, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_NOMINATIM_URL", e))?;
        Ok(Nominatim {
            client,
            base_url: config.base_url.clone(),
        })
    }

    /// The default timeout: a person waits in a form.
    pub const TIMEOUT: Duration = Duration::from_secs(5);
}

#[async_trait]
impl Geocoder for Nominatim {
    fn is_configured(&self) -> bool {
        true
    }

    async fn suggest(&self, query: &str, limit: usize) -> Result<Vec<AddressSuggestion>, GeoError> {
        let Some(query) = super::usable_query(query) else {
            return Ok(Vec::new());
        };
        let count = limit.clamp(1, MAX_SUGGESTIONS);
        let found: Vec<Value> = crate::http::json(
            self.client
                .get(format!("{}/search", self.base_url))
                .query(&[
                    ("format", "jsonv2"),
                    ("q", query),
                    ("countrycodes", "ru"),
                    ("accept-language", "ru"),
                    ("limit", &count.to_string()),
                ]),
        )
        .await?;
        Ok(found
            .iter()
            .filter_map(|r| {
                let value = r
                    .get("display_name")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())?
                    .to_string();
                let lat = degrees(r.get("lat"), 90.0);
                let lon = degrees(r.get("lon"), 180.0);
                let has_point = lat.is_some() && lon.is_some();
                Some(AddressSuggestion {
                    value,
                    lat: lat.filter(|_| has_point),
                    lon: lon.filter(|_| has_point),
                    precision: precision(r.get("place_rank").and_then(Value::as_i64))
                        .filter(|_| has_point),
                    region: r
                        .pointer("/address/state")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    place_id: r.get("place_id").map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                })
            })
            .take(count)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_ranks() {
        assert_eq!(precision(Some(30)), Some(Precision::House));
        assert_eq!(precision(Some(26)), Some(Precision::Street));
        assert_eq!(precision(Some(19)), Some(Precision::Settlement));
        assert_eq!(precision(Some(16)), Some(Precision::City));
        assert_eq!(precision(Some(8)), Some(Precision::Region));
        assert_eq!(precision(None), None);
    }
}
