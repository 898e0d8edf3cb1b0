//! Fake geocoders: DaData's address suggestions (`suggest/address`) and a
//! Nominatim (`/search`), answering from one small gazetteer of Moscow and
//! Moscow-region addresses the demo and the tests use, with their real
//! coordinates (rounded). A query matches an entry when every word of it
//! begins a word of the address, abbreviations (`ул`, `д`, `г`…) aside, so
//! "тверская 7" finds "г Москва, ул Тверская, д 7" as DaData would.
//!
//! Both record what they received and misbehave on request (5xx, 429, a
//! stall past the client's timeout). The DaData fake checks
//! `Authorization: Token <key>` (401 otherwise); the Nominatim fake refuses
//! a request without a `User-Agent` (403), as the real one does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ServerTask, Shared, fault_controls, serve};
use connectors::config::{DadataConfig, NominatimConfig};

/// One gazetteer entry.
#[derive(Debug, Clone)]
pub struct Place {
    /// As DaData writes it: `г Москва, ул Тверская, д 7`.
    pub value: &'static str,
    pub region: &'static str,
    /// `None`: the provider knows the address but has no point for it.
    pub point: Option<(f64, f64)>,
    /// DaData's `qc_geo` (0 house … 4 city, 5 none).
    pub qc_geo: u8,
}

/// The built-in gazetteer.
pub fn gazetteer() -> Vec<Place> {
    let p = |value, region, lat: f64, lon: f64, qc_geo| Place {
        value,
        region,
        point: Some((lat, lon)),
        qc_geo,
    };
    let moscow = "г Москва";
    let oblast = "Московская обл";
    vec![
        p("г Москва, ул Тверская, д 7", moscow, 55.7578, 37.6117, 0),
        p("г Москва, ул Тверская, д 13", moscow, 55.7616, 37.6094, 0),
        p("г Москва, ул Тверская", moscow, 55.7640, 37.6056, 2),
        p("г Москва, ул Складочная, д 1", moscow, 55.8046, 37.5923, 0),
        p(
            "г Москва, Рязанский пр-кт, д 86",
            moscow,
            55.7160,
            37.7880,
            0,
        ),
        p("г Москва, ул Вавилова, д 19", moscow, 55.7003, 37.5786, 0),
        p(
            "г Москва, ул Льва Толстого, д 16",
            moscow,
            55.7338,
            37.5874,
            0,
        ),
        p(
            "г Москва, Ленинградский пр-кт, д 39",
            moscow,
            55.7905,
            37.5307,
            1,
        ),
        p(
            "г Москва, ул Профсоюзная, д 56",
            moscow,
            55.6705,
            37.5524,
            0,
        ),
        p("г Москва", moscow, 55.7540, 37.6204, 4),
        p(
            "Московская обл, г Подольск, ул Лобачёва, д 12",
            oblast,
            55.4268,
            37.5443,
            0,
        ),
        p(
            "Московская обл, г Мытищи, ул Колпакова, д 2",
            oblast,
            55.9118,
            37.7305,
            0,
        ),
        p(
            "Московская обл, г Химки, ул Ленина, д 7",
            oblast,
            55.8887,
            37.4440,
            1,
        ),
        Place {
            value: "г Москва, поселение Сосенское, ул Проектируемая",
            region: moscow,
            point: None,
            qc_geo: 5,
        },
    ]
}

/// Words of an address without punctuation and abbreviations.
fn words(s: &str) -> Vec<String> {
    const SKIP: [&str; 14] = [
        "г",
        "город",
        "ул",
        "улица",
        "д",
        "дом",
        "пр",
        "кт",
        "пр-кт",
        "проспект",
        "обл",
        "область",
        "пос",
        "россия",
    ];
    s.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty() && !SKIP.contains(w))
        .map(str::to_string)
        .collect()
}

fn matches(query: &str, place: &Place) -> bool {
    let q = words(query);
    let v = words(place.value);
    !q.is_empty()
        && q.iter()
            .all(|w| v.iter().any(|x| x.starts_with(w.as_str())))
}

/// Best first: exact houses before streets and towns, then shorter values.
fn search(places: &[Place], query: &str, count: usize) -> Vec<Place> {
    let mut found: Vec<Place> = places
        .iter()
        .filter(|p| matches(query, p))
        .cloned()
        .collect();
    found.sort_by_key(|p| (p.point.is_none(), p.value.len()));
    found.truncate(count);
    found
}

struct GeoState {
    api_key: String,
    places: Vec<Place>,
    /// DaData: the JSON bodies; Nominatim: the query string as JSON, plus
    /// the `User-Agent` under `"user_agent"`.
    requests: Vec<Value>,
}

macro_rules! recorder {
    ($t:ty) => {
        impl $t {
            /// What the fake received, in order.
            pub fn requests(&self) -> Vec<Value> {
                self.shared.state().requests.clone()
            }

            /// Adds an address to the gazetteer.
            pub fn add_place(&self, place: Place) {
                self.shared.state().places.push(place);
            }
        }
    };
}

/// The fake DaData address suggestions.
pub struct FakeDadataAddress {
    addr: SocketAddr,
    shared: Arc<Shared<GeoState>>,
    _task: ServerTask,
}
fault_controls!(FakeDadataAddress);
recorder!(FakeDadataAddress);

const DADATA_PREFIX: &str = "/suggestions/api/4_1/rs";

impl FakeDadataAddress {
    /// Starts with the built-in gazetteer, accepting `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<FakeDadataAddress> {
        let shared = Shared::new(GeoState {
            api_key: api_key.to_string(),
            places: gazetteer(),
            requests: Vec::new(),
        });
        let router = Router::new()
            .route(
                &format!("{DADATA_PREFIX}/suggest/address"),
                post(dadata_suggest),
            )
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeDadataAddress {
            addr,
            shared,
            _task: task,
        })
    }

    /// A configuration pointing at this fake with `api_key`.
    pub fn config(&self, api_key: &str) -> DadataConfig {
        DadataConfig::new(&format!("http://{}{DADATA_PREFIX}", self.addr), api_key)
    }
}

fn dadata_error(code: u16, _retry_after: Option<u64>) -> Value {
    json!({ "family": "CLIENT_ERROR", "reason": code.to_string(), "message": "fake fault" })
}

async fn dadata_suggest(
    State(shared): State<Arc<Shared<GeoState>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    shared.state().requests.push(body.clone());
    let expected = format!("Token {}", shared.state().api_key);
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "family": "CLIENT_ERROR", "reason": "Unauthorized", "message": "Zero or invalid api key" })),
        )
            .into_response();
    }
    if let Some(r) = shared.fault_response(dadata_error).await {
        return r;
    }
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let count = body
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .min(20) as usize;
    let found = search(&shared.state().places, query, count);
    let list: Vec<Value> = found
        .into_iter()
        .map(|p| {
            let (lat, lon) = match p.point {
                Some((la, lo)) => (json!(format!("{la}")), json!(format!("{lo}"))),
                None => (Value::Null, Value::Null),
            };
            json!({
                "value": p.value,
                "unrestricted_value": p.value,
                "data": {
                    "region_with_type": p.region,
                    "fias_id": format!("fake-{:x}", p.value.len() * 7919 + p.qc_geo as usize),
                    "geo_lat": lat,
                    "geo_lon": lon,
                    "qc_geo": p.qc_geo.to_string(),
                    "timezone": "UTC+3"
                }
            })
        })
        .collect();
    Json(json!({ "suggestions": list })).into_response()
}

/// The fake Nominatim.
pub struct FakeNominatim {
    addr: SocketAddr,
    shared: Arc<Shared<GeoState>>,
    _task: ServerTask,
}
fault_controls!(FakeNominatim);
recorder!(FakeNominatim);

impl FakeNominatim {
    /// Starts with the built-in gazetteer.
    pub async fn start() -> std::io::Result<FakeNominatim> {
        let shared = Shared::new(GeoState {
            api_key: String::new(),
            places: gazetteer(),
            requests: Vec::new(),
        });
        let router = Router::new()
            .route("/search", get(nominatim_search))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeNominatim {
            addr,
            shared,
            _task: task,
        })
    }

    /// A configuration pointing at this fake.
    pub fn config(&self) -> NominatimConfig {
        NominatimConfig::new(&format!("http://{}", self.addr))
    }
}

fn nominatim_error(code: u16, _retry_after: Option<u64>) -> Value {
    json!({ "error": { "code": code, "message": "fake fault" } })
}

async fn nominatim_search(
    State(shared): State<Arc<Shared<GeoState>>>,
    headers: HeaderMap,
    Query(params): Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut recorded = json!(params);
    recorded["user_agent"] = json!(agent);
    shared.state().requests.push(recorded);
    if agent.trim().is_empty() {
        return (StatusCode::FORBIDDEN, "Access blocked: no User-Agent").into_response();
    }
    if let Some(r) = shared.fault_response(nominatim_error).await {
        return r;
    }
    if params.get("format").map(String::as_str) != Some("jsonv2") {
        return (StatusCode::BAD_REQUEST, "format=jsonv2 expected").into_response();
    }
    let query = params.get("q").map(String::as_str).unwrap_or_default();
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .min(40);
    // Nominatim answers only with places it has a point for.
    let found = search(&shared.state().places, query, limit);
    let list: Vec<Value> = found
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let (lat, lon) = p.point?;
            let rank = match p.qc_geo {
                0 | 1 => 30,
                2 => 26,
                3 => 19,
                4 => 16,
                _ => 8,
            };
            Some(json!({
                "place_id": 100_000 + i,
                "lat": format!("{lat}"),
                "lon": format!("{lon}"),
                "display_name": p.value,
                "category": "place",
                "type": if rank == 30 { "house" } else { "road" },
                "place_rank": rank,
                "importance": 0.5,
            }))
        })
        .collect();
    Json(Value::Array(list)).into_response()
}
