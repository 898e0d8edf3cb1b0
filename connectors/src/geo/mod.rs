//! Addresses and their coordinates: suggestions while a person types an
//! address, and the point of an address typed without picking one.
//!
//! [`Geocoder`] is what the forms and the domain ask; the adapters are
//! DaData's address suggestions ([`dadata::DadataAddress`], the usual choice
//! in Russian forms, free with the same API key as company lookup), a
//! self-hosted Nominatim ([`nominatim::Nominatim`], OpenStreetMap data, no
//! key) and [`NoGeocoder`] when neither is configured — it suggests
//! nothing, and staff type coordinates by hand. Another geocoder is one
//! more adapter of the trait and one more value of `PODRYAD_GEOCODER`.
//!
//! A geocoder only helps: a person can always submit an address as typed,
//! and a failed lookup ([`GeoError`]) leaves the address without a point
//! rather than refusing anything.

use async_trait::async_trait;
use serde::Serialize;

pub mod dadata;
pub mod nominatim;

/// Why a geocoder call failed: the kinds every HTTP provider shares.
pub type GeoError = crate::http::ProviderError;

/// The longest list of suggestions anyone asks for.
pub const MAX_SUGGESTIONS: usize = 10;

/// How exactly a point marks its address, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// The building itself (or the nearest one).
    House,
    Street,
    /// A settlement, a district or a village.
    Settlement,
    City,
    /// A region or something coarser: no use for distances to a site.
    Region,
}

/// One suggestion for what a person is typing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressSuggestion {
    /// The address in one line, as it should be filled in: `г Москва, ул Тверская, д 7`.
    pub value: String,
    /// WGS 84 degrees; `None` when the provider has no point for it yet
    /// (a street without houses, say).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// How exactly `lat`/`lon` mark the address.
    pub precision: Option<Precision>,
    /// `г Москва`, `Московская обл`.
    pub region: Option<String>,
    /// The ФИАС id (DaData) or the provider's own id of the place.
    pub place_id: Option<String>,
}

impl AddressSuggestion {
    /// Its point, when it has one precise enough for distances.
    pub fn point(&self) -> Option<AddressPoint> {
        match (self.lat, self.lon, self.precision) {
            (Some(lat), Some(lon), Some(precision)) if precision < Precision::Region => {
                Some(AddressPoint {
                    value: self.value.clone(),
                    lat,
                    lon,
                    precision,
                })
            }
            _ => None,
        }
    }
}

/// Where an address is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressPoint {
    /// The address as the provider understood it.
    pub value: String,
    pub lat: f64,
    pub lon: f64,
    pub precision: Precision,
}

/// Suggests addresses and finds their coordinates.
#[async_trait]
pub trait Geocoder: Send + Sync + 'static {
    /// False for [`NoGeocoder`]: forms then offer no suggestions.
    fn is_configured(&self) -> bool;

    /// Addresses that start like `query`, best first, at most `limit`
    /// (capped at [`MAX_SUGGESTIONS`]).
    async fn suggest(&self, query: &str, limit: usize) -> Result<Vec<AddressSuggestion>, GeoError>;

    /// The point of an address typed without picking a suggestion: the
    /// first suggestion precise enough for distances. `Ok(None)` when the
    /// provider does not know the address.
    async fn geocode(&self, address: &str) -> Result<Option<AddressPoint>, GeoError> {
        let found = self.suggest(address, 5).await?;
        Ok(found.iter().find_map(AddressSuggestion::point))
    }
}

/// No geocoder: no suggestions, no points. Staff type coordinates.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGeocoder;

#[async_trait]
impl Geocoder for NoGeocoder {
    fn is_configured(&self) -> bool {
        false
    }

    async fn suggest(
        &self,
        _query: &str,
        _limit: usize,
    ) -> Result<Vec<AddressSuggestion>, GeoError> {
        Ok(Vec::new())
    }
}

/// A query worth sending: trimmed, at least three characters (one or two
/// letters match half the country), at most 300.
pub(crate) fn usable_query(query: &str) -> Option<&str> {
    let q = query.trim();
    let n = q.chars().count();
    (3..=300).contains(&n).then_some(q)
}

/// A coordinate as providers send it: a JSON number or a decimal string.
pub(crate) fn degrees(v: Option<&serde_json::Value>, range: f64) -> Option<f64> {
    let n = match v? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n.is_finite() && n.abs() <= range).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn no_geocoder_knows_nothing() {
        assert!(!NoGeocoder.is_configured());
        assert_eq!(NoGeocoder.suggest("Москва", 5).await, Ok(vec![]));
        assert_eq!(NoGeocoder.geocode("Москва, Тверская, 7").await, Ok(None));
    }

    #[test]
    fn only_precise_points_count() {
        let s = |precision| AddressSuggestion {
            value: "x".into(),
            lat: Some(55.0),
            lon: Some(37.0),
            precision,
            region: None,
            place_id: None,
        };
        assert!(s(Some(Precision::House)).point().is_some());
        assert!(s(Some(Precision::City)).point().is_some());
        assert!(s(Some(Precision::Region)).point().is_none());
        assert!(s(None).point().is_none());
    }

    #[test]
    fn queries_and_degrees() {
        assert_eq!(usable_query("  Мо "), None);
        assert_eq!(usable_query(" Мос "), Some("Мос"));
        assert_eq!(degrees(Some(&json!("55.7578")), 90.0), Some(55.7578));
        assert_eq!(degrees(Some(&json!(37.5)), 180.0), Some(37.5));
        assert_eq!(degrees(Some(&json!("")), 90.0), None);
        assert_eq!(degrees(Some(&json!("95")), 90.0), None);
        assert_eq!(degrees(None, 90.0), None);
    }
}
