//! The landing page and each role's home.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::access::roles::{OrgKind, Role};
use minijinja::context;

use crate::render::ser;

use crate::AppState;
use crate::auth::{AnyUser, Auth, RequestInfo};
use crate::error::AppResult;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/home", get(home))
}

async fn landing(State(state): State<AppState>, info: RequestInfo) -> AppResult<Response> {
    if info.actor.is_some() {
        return Ok(Redirect::to("/home").into_response());
    }
    Ok(state
        .page(&info, "landing.html", context! {})?
        .into_response())
}

async fn home(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let org = domain::parties::orgs::get(&state.db, &auth.actor, auth.actor.org_id()).await?;
    if auth.actor.org_kind() == OrgKind::Supplier
        && auth.actor.has_any(&[Role::Owner, Role::Dispatcher])
    {
        let s = &state.services;
        let machines = domain::fleet::garage::list(s, &auth.actor, org.id, &Default::default())
            .await?
            .len();
        let employees = domain::parties::employees::list(s, &auth.actor, org.id, false)
            .await?
            .len();
        let party = domain::parties::get(s, &auth.actor, org.id).await?;
        let open_rfqs = domain::deals::rfq::open_count(s, &auth.actor).await?;
        return Ok(state
            .page(
                &auth.info,
                "home/supplier.html",
                context! { org => ser(&org), p => ser(&party), machines, employees, open_rfqs },
            )?
            .into_response());
    }
    if auth.actor.org_kind() == OrgKind::Client {
        // Offers waiting for the client's answer come first: they expire.
        let offers = domain::deals::offers::list_for_client(&state.services, &auth.actor).await?;
        let waiting: Vec<_> = offers.into_iter().filter(|o| o.open).collect();
        return Ok(state
            .page(
                &auth.info,
                "home/client.html",
                context! { org => ser(&org), waiting => ser(&waiting) },
            )?
            .into_response());
    }
    let template = match auth.actor.org_kind() {
        OrgKind::Broker => "home/staff.html",
        OrgKind::Supplier if auth.actor.roles() == [domain::access::roles::Role::Driver] => {
            "home/driver.html"
        }
        OrgKind::Supplier => "home/supplier.html",
        OrgKind::Client => "home/client.html",
    };
    // A driver sees the jobs of the won quotes that name them.
    let jobs = if template == "home/driver.html" {
        domain::deals::quotes::driver_jobs(&state.services, &auth.actor).await?
    } else {
        Vec::new()
    };
    Ok(state
        .page(
            &auth.info,
            template,
            context! { org => ser(&org), jobs => ser(&jobs) },
        )?
        .into_response())
}
