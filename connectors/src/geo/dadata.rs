//! DaData's address suggestions (`integrations.md` §9):
//! `POST {base}/suggest/address` with `{"query": text, "count": n}`,
//! `Authorization: Token <API key>` — the same key, client and base URL as
//! company lookup ([`crate::registry::dadata`]). Each suggestion's
//! `data.geo_lat` / `data.geo_lon` (decimal strings) are the point and
//! `data.qc_geo` its precision: 0 the house, 1 the nearest house, 2 the
//! street, 3 the settlement, 4 the city, 5 none.
//!
//! An address typed without picking a suggestion is geocoded as the first
//! suggestion with a point ([`super::Geocoder::geocode`]). DaData's
//! "clean" API would standardise it too, but it is paid and needs the
//! secret key; suggestions are free and need only the API key.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AddressSuggestion, GeoError, Geocoder, MAX_SUGGESTIONS, Precision, degrees};
use crate::config::{ConfigError, DadataConfig};
use crate::registry::dadata::DadataClient;

/// The DaData address adapter.
#[derive(Debug)]
pub struct DadataAddress {
    client: DadataClient,
}

#[derive(Debug, Default, Deserialize)]
struct Suggestions {
    #[serde(default)]
    suggestions: Vec<Suggestion>,
}

#[derive(Debug, Deserialize)]
struct Suggestion {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    data: Value,
}

fn text(data: &Value, key: &str) -> Option<String> {
    data.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `qc_geo` (a number, or a digit string on older plans) as a precision.
fn precision(v: Option<&Value>) -> Option<Precision> {
    let code = match v? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    match code {
        0 | 1 => Some(Precision::House),
        2 => Some(Precision::Street),
        3 => Some(Precision::Settlement),
        4 => Some(Precision::City),
        _ => None,
    }
}

impl DadataAddress {
    pub fn new(config: DadataConfig) -> Result<DadataAddress, ConfigError> {
        Ok(DadataAddress {
            client: DadataClient::new(config)?,
        })
    }
}

#[async_trait]
impl Geocoder for DadataAddress {
    fn is_configured(&self) -> bool {
        true
    }

    async fn suggest(&self, query: &str, limit: usize) -> Result<Vec<AddressSuggestion>, GeoError> {
        let Some(query) = super::usable_query(query) else {
            return Ok(Vec::new());
        };
        let count = limit.clamp(1, MAX_SUGGESTIONS);
        let found: Suggestions = self
            .client
            .post(
                "suggest/address",
                &json!({ "query": query, "count": count }),
            )
            .await?;
        Ok(found
            .suggestions
            .into_iter()
            .filter_map(|s| {
                let value = s
                    .value
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())?;
                let d = &s.data;
                let lat = degrees(d.get("geo_lat"), 90.0);
                let lon = degrees(d.get("geo_lon"), 180.0);
                let has_point = lat.is_some() && lon.is_some();
                Some(AddressSuggestion {
                    value,
                    lat: lat.filter(|_| has_point),
                    lon: lon.filter(|_| has_point),
                    precision: precision(d.get("qc_geo")).filter(|_| has_point),
                    region: text(d, "region_with_type"),
                    place_id: text(d, "fias_id"),
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
    fn qc_geo_codes() {
        assert_eq!(precision(Some(&json!("0"))), Some(Precision::House));
        assert_eq!(precision(Some(&json!(1))), Some(Precision::House));
        assert_eq!(precision(Some(&json!("2"))), Some(Precision::Street));
        assert_eq!(precision(Some(&json!("4"))), Some(Precision::City));
        assert_eq!(precision(Some(&json!("5"))), None);
        assert_eq!(precision(Some(&Value::Null)), None);
    }
}
