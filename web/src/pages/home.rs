//! The landing page and each role's home. A staff member's home is their
//! workplace: a section per role they hold, with live figures from
//! [`domain::workplace`] (the analyst's as charts drawn here, [`crate::charts`]).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::access::Actor;
use domain::access::roles::{OrgKind, Role};
use domain::workplace::{self, Day};
use minijinja::context;

use crate::charts::{self, Bar};
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
    if auth.actor.org_kind() == OrgKind::Broker {
        let desk = desk(&state, &auth.actor).await?;
        return Ok(state
            .page(
                &auth.info,
                "home/staff.html",
                context! { org => ser(&org), ..desk },
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

/// The sections of a staff member's home, one per role they hold.
async fn desk(state: &AppState, actor: &Actor) -> AppResult<minijinja::Value> {
    let s = &state.services;
    let day = Day::of(state.db.now(), state.config.timezone);
    let manager = if actor.has(Role::Manager) {
        Some(workplace::manager_desk(s, actor, day).await?)
    } else {
        None
    };
    let intake = if actor.has(Role::Operator) {
        Some(workplace::today_intake(s, actor, day).await?)
    } else {
        None
    };
    let hunter = if actor.has(Role::Hunter) {
        Some(workplace::hunter_book(s, actor).await?)
    } else {
        None
    };
    let admin = if actor.has(Role::Admin) {
        Some(workplace::admin_desk(s, actor).await?)
    } else {
        None
    };
    let analytics = if actor.has(Role::Analyst) {
        Some(workplace::analytics(s, actor).await?)
    } else {
        None
    };
    let charts = analytics.as_ref().map(|a| analyst_charts(state, a));
    Ok(context! {
        manager => ser(&manager),
        intake => ser(&intake),
        hunter => ser(&hunter),
        admin => ser(&admin),
        analytics => ser(&analytics),
        charts => charts,
        accountant => actor.has(Role::Accountant),
        types => crate::pages::requests::types_list(state),
        statuses => workplace::request_statuses(),
        now => state.db.now().timestamp_millis(),
    })
}

/// The analyst's figures as SVG (already escaped; the template marks them safe).
fn analyst_charts(state: &AppState, a: &workplace::Analytics) -> minijinja::Value {
    let t = |key: &str| state.texts.get(key, &[]);
    let type_title = |code: &str| {
        state
            .services
            .request_types
            .get(code)
            .map(|rt| rt.title.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let percent = |bp: i64| format!("{},{} %", bp / 100, (bp % 100) / 10);
    let stages: Vec<Bar> = a
        .overall
        .stages
        .iter()
        .map(|f| Bar {
            label: t(&format!("funnel-stage-{}", f.key)),
            value: f.value,
            shown: match a.overall.received {
                0 => f.value.to_string(),
                r => format!("{} · {}", f.value, percent(f.value * 10_000 / r)),
            },
        })
        .collect();
    let conversion = |funnels: &[workplace::Funnel], label: &dyn Fn(&str) -> String| {
        funnels
            .iter()
            .map(|f| Bar {
                label: label(&f.key),
                value: f.conversion_bp,
                shown: format!(
                    "{} · {} / {}",
                    percent(f.conversion_bp),
                    f.stages.last().map_or(0, |s| s.value),
                    f.received
                ),
            })
            .collect::<Vec<_>>()
    };
    let by_type = conversion(&a.by_type, &type_title);
    let by_channel = conversion(&a.by_channel, &|c: &str| t(&format!("channel-{c}")));
    let hours: Vec<Bar> = a
        .time_in_state
        .iter()
        .map(|f| Bar {
            label: f.key.clone(),
            value: f.value,
            shown: format!("{},{} ч", f.value / 10, f.value % 10),
        })
        .collect();
    let breaches: Vec<Bar> = a
        .breaches_by_task
        .iter()
        .map(|f| Bar::of(f.key.clone(), f.value))
        .collect();
    context! {
        funnel => charts::funnel(&t("analyst-funnel"), &stages),
        by_type => charts::bars(&t("analyst-by-type"), &by_type),
        by_channel => charts::bars(&t("analyst-by-channel"), &by_channel),
        time_in_state => charts::bars(&t("analyst-time-in-state"), &hours),
        breaches => charts::bars(&t("analyst-breaches"), &breaches),
    }
}
