//! A fake DaData suggestions API: `findById/party` and `findById/bank`.
//!
//! It checks `Authorization: Token <key>` (401 otherwise), answers 200 with
//! an empty `suggestions` list for unknown ids, honours `branch_type`, and
//! holds a few companies and banks. The fixtures are modelled on public
//! registry records of real companies (Sberbank, Yandex) and banks, plus a
//! made-up sole proprietor with a valid INN and two OGRNIP records (an old
//! liquidated one and an active one); names and addresses only need the
//! right shape, not to be up to date.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ServerTask, Shared, fault_controls, serve};
use connectors::config::DadataConfig;

/// The path prefix of the real API, kept so base URLs look alike.
const PREFIX: &str = "/suggestions/api/4_1/rs";

struct State_ {
    api_key: String,
    parties: Vec<Value>,
    banks: Vec<Value>,
    requests: Vec<Value>,
}

/// The fake DaData server.
pub struct FakeDadata {
    addr: SocketAddr,
    shared: Arc<Shared<State_>>,
    _task: ServerTask,
}
fault_controls!(FakeDadata);

impl FakeDadata {
    /// Starts with the built-in fixtures, accepting `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<FakeDadata> {
        let shared = Shared::new(State_ {
            api_key: api_key.to_string(),
            parties: party_fixtures(),
            banks: bank_fixtures(),
            requests: Vec::new(),
        });
        let router = Router::new()
            .route(&format!("{PREFIX}/findById/party"), post(find_party))
            .route(&format!("{PREFIX}/findById/bank"), post(find_bank))
            .with_state(shared.clone());
        let (addr, task) = serve(router).await?;
        Ok(FakeDadata {
            addr,
            shared,
            _task: task,
        })
    }

    /// `http://127.0.0.1:<port>/suggestions/api/4_1/rs`.
    pub fn base_url(&self) -> String {
        format!("http://{}{PREFIX}", self.addr)
    }

    /// A configuration pointing at this fake with `api_key`.
    pub fn config(&self, api_key: &str) -> DadataConfig {
        DadataConfig::new(&self.base_url(), api_key)
    }

    /// Adds a party (`data` object of a suggestion).
    pub fn add_party(&self, data: Value) {
        self.shared.state().parties.push(data);
    }

    /// The JSON bodies received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.state().requests.clone()
    }
}

fn error_body(code: u16, _retry_after: Option<u64>) -> Value {
    json!({ "family": "CLIENT_ERROR", "reason": code.to_string(), "message": "fake fault" })
}

/// Checks the key and records the request; `Err` is the answer to give.
async fn admit(shared: &Shared<State_>, headers: &HeaderMap, body: &Value) -> Result<(), Response> {
    shared.state().requests.push(body.clone());
    let expected = format!("Token {}", shared.state().api_key);
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({ "family": "CLIENT_ERROR", "reason": "Unauthorized", "message": "Zero or invalid api key" })),
        )
            .into_response());
    }
    if let Some(r) = shared.fault_response(error_body).await {
        return Err(r);
    }
    Ok(())
}

fn suggestions(found: Vec<&Value>) -> Json<Value> {
    let list: Vec<Value> = found
        .into_iter()
        .map(|data| {
            let value = data
                .pointer("/name/short_with_opf")
                .or_else(|| data.pointer("/name/payment"))
                .cloned()
                .unwrap_or(Value::Null);
            json!({ "value": value, "unrestricted_value": value, "data": data })
        })
        .collect();
    Json(json!({ "suggestions": list }))
}

async fn find_party(
    State(shared): State<Arc<Shared<State_>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&shared, &headers, &body).await {
        return r;
    }
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let branch = body.get("branch_type").and_then(Value::as_str);
    let state = shared.state();
    let found = state
        .parties
        .iter()
        .filter(|p| {
            p.get("inn").and_then(Value::as_str) == Some(query)
                || p.get("ogrn").and_then(Value::as_str) == Some(query)
        })
        .filter(|p| branch.is_none_or(|b| p.get("branch_type").and_then(Value::as_str) == Some(b)))
        .collect();
    suggestions(found).into_response()
}

async fn find_bank(
    State(shared): State<Arc<Shared<State_>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&shared, &headers, &body).await {
        return r;
    }
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let state = shared.state();
    let found = state
        .banks
        .iter()
        .filter(|b| b.get("bic").and_then(Value::as_str) == Some(query))
        .collect();
    suggestions(found).into_response()
}

fn party_fixtures() -> Vec<Value> {
    vec![
        json!({
            "inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195",
            "ogrn_date": 1029456000000i64, "type": "LEGAL", "branch_type": "MAIN", "branch_count": 88,
            "name": {
                "full_with_opf": "ПУБЛИЧНОЕ АКЦИОНЕРНОЕ ОБЩЕСТВО \"СБЕРБАНК РОССИИ\"",
                "short_with_opf": "ПАО СБЕРБАНК",
                "full": "СБЕРБАНК РОССИИ", "short": "СБЕРБАНК"
            },
            "opf": { "type": "2014", "code": "12247", "full": "Публичное акционерное общество", "short": "ПАО" },
            "management": { "name": "Греф Герман Оскарович", "post": "ПРЕЗИДЕНТ, ПРЕДСЕДАТЕЛЬ ПРАВЛЕНИЯ" },
            "address": {
                "value": "г Москва, ул Вавилова, д 19",
                "unrestricted_value": "117312, г Москва, Академический р-н, ул Вавилова, д 19",
                "data": { "postal_code": "117312", "region_with_type": "г Москва", "city": "Москва" }
            },
            "state": { "status": "ACTIVE", "registration_date": 677376000000i64, "liquidation_date": null }
        }),
        json!({
            "inn": "7707083893", "kpp": "997950001", "ogrn": "1027700132195",
            "type": "LEGAL", "branch_type": "BRANCH",
            "name": { "full_with_opf": "ФИЛИАЛ ПАО СБЕРБАНК", "short_with_opf": "ФИЛИАЛ ПАО СБЕРБАНК" },
            "opf": { "code": "12247", "short": "ПАО" },
            "state": { "status": "ACTIVE" }
        }),
        json!({
            "inn": "7736207543", "kpp": "770401001", "ogrn": "1027700229193",
            "type": "LEGAL", "branch_type": "MAIN",
            "name": {
                "full_with_opf": "ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ \"ЯНДЕКС\"",
                "short_with_opf": "ООО \"ЯНДЕКС\""
            },
            "opf": { "type": "2014", "code": "12300", "full": "Общество с ограниченной ответственностью", "short": "ООО" },
            "management": { "name": "Петров Пётр Петрович", "post": "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР" },
            "address": {
                "value": "г Москва, ул Льва Толстого, д 16",
                "data": { "postal_code": "119021", "region_with_type": "г Москва" }
            },
            "state": { "status": "ACTIVE" }
        }),
        json!({
            "inn": "500301234503", "ogrn": "304770400100217",
            "type": "INDIVIDUAL", "branch_type": null,
            "name": { "full_with_opf": "Индивидуальный предприниматель Иванов Иван Иванович", "short_with_opf": "ИП Иванов Иван Иванович" },
            "fio": { "surname": "Иванов", "name": "Иван", "patronymic": "Иванович" },
            "opf": { "code": "50102", "short": "ИП" },
            "state": { "status": "LIQUIDATED", "registration_date": 1079308800000i64 }
        }),
        json!({
            "inn": "500301234503", "ogrn": "318502700012349",
            "type": "INDIVIDUAL", "branch_type": null,
            "name": { "full_with_opf": "Индивидуальный предприниматель Иванов Иван Иванович", "short_with_opf": "ИП Иванов Иван Иванович" },
            "fio": { "surname": "Иванов", "name": "Иван", "patronymic": "Иванович" },
            "opf": { "type": "2014", "code": "50102", "full": "Индивидуальный предприниматель", "short": "ИП" },
            "address": {
                "value": "Московская обл, г Видное",
                "data": { "postal_code": "142700", "region_with_type": "Московская обл" }
            },
            "state": { "status": "ACTIVE", "registration_date": 1517961600000i64 }
        }),
    ]
}

fn bank_fixtures() -> Vec<Value> {
    let bank = |bic: &str, corr: &str, payment: &str, inn: &str, kpp: &str, address: &str| {
        json!({
            "bic": bic, "correspondent_account": corr,
            "name": { "payment": payment, "short": payment },
            "inn": inn, "kpp": kpp,
            "address": { "value": address },
            "state": { "status": "ACTIVE" }
        })
    };
    vec![
        bank(
            "044525225",
            "30101810400000000225",
            "ПАО СБЕРБАНК",
            "7707083893",
            "773601001",
            "г Москва, ул Вавилова, д 19",
        ),
        bank(
            "044525974",
            "30101810145250000974",
            "АО \"ТБАНК\"",
            "7710140679",
            "771301001",
            "г Москва, ул 2-я Хуторская, д 38А стр 26",
        ),
        bank(
            "044525593",
            "30101810200000000593",
            "АО \"АЛЬФА-БАНК\"",
            "7728168971",
            "770801001",
            "г Москва, ул Каланчевская, д 27",
        ),
        bank(
            "044525187",
            "30101810700000000187",
            "БАНК ВТБ (ПАО)",
            "7702070139",
            "784201001",
            "г Санкт-Петербург, ул Большая Морская, д 29",
        ),
    ]
}
