//! Page handlers, one module per area; each contributes a `router()`.

pub mod account;
pub mod admin;
pub mod board;
pub mod employees;
pub mod files;
pub mod garage;
pub mod home;
pub mod imports;
pub mod intake;
pub mod matching;
pub mod notifications;
pub mod offers;
pub mod orders;
pub mod org;
pub mod parties;
pub mod public_request;
pub mod quotes;
pub mod requests;
pub mod rfqs;
pub mod session;
pub mod signing;
pub mod tasks;
pub mod templates;
pub mod workflows;

use axum::Router;

use crate::AppState;
use crate::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(session::router())
        .merge(home::router())
        .merge(admin::router())
        .merge(org::router())
        .merge(account::router())
        .merge(tasks::router())
        .merge(board::router())
        .merge(notifications::router())
        .merge(workflows::router())
        .merge(templates::router())
        .merge(parties::router())
        .merge(employees::router())
        .merge(files::router())
        .merge(garage::router())
        .merge(imports::router())
        .merge(matching::router())
        .merge(rfqs::router())
        .merge(quotes::router())
        .merge(offers::router())
        .merge(orders::router())
        .merge(signing::router())
        .merge(requests::router())
        .merge(intake::router())
        .merge(public_request::router())
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}
