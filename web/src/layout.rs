//! The page frame: navigation per role, rendering with the shared context,
//! flash messages, and HTML error pages.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::access::Actor;
use domain::access::roles::Role;
use minijinja::{Value, context};
use serde::Serialize;

use crate::AppState;
use crate::auth::{FLASH_COOKIE, RequestInfo, set_cookie};
use crate::error::{AppResult, ErrorPage};

/// One navigation entry: catalogue key, link, and who sees it.
struct NavItem {
    key: &'static str,
    href: &'static str,
    roles: &'static [Role],
}

use Role::*;

/// The navigation, in display order. An entry appears for a user holding
/// any of its roles; add an entry when its page exists.
const NAV: &[NavItem] = &[
    NavItem {
        key: "nav-home",
        href: "/home",
        roles: &[
            Admin, Hunter, Manager, Operator, Accountant, Analyst, Owner, Dispatcher, Driver,
            Client,
        ],
    },
    NavItem {
        key: "nav-tasks",
        href: "/tasks",
        roles: &[
            Admin, Hunter, Manager, Operator, Accountant, Analyst, Owner, Dispatcher,
        ],
    },
    NavItem {
        key: "nav-requests",
        href: "/requests",
        roles: &[Admin, Hunter, Manager, Operator, Client],
    },
    NavItem {
        key: "nav-board",
        href: "/board",
        roles: &[Admin, Hunter, Manager, Operator],
    },
    NavItem {
        key: "nav-intake",
        href: "/intake",
        roles: &[Admin, Operator, Manager],
    },
    NavItem {
        key: "nav-hunter-clients",
        href: "/hunter/clients",
        roles: &[Hunter],
    },
    NavItem {
        key: "nav-intake-report",
        href: "/reports/intake",
        roles: &[Admin, Manager],
    },
    NavItem {
        key: "nav-workflows",
        href: "/workflows",
        roles: &[Admin, Analyst],
    },
    NavItem {
        key: "nav-doc-templates",
        href: "/templates",
        roles: &[Admin, Analyst],
    },
    NavItem {
        key: "nav-users",
        href: "/admin/users",
        roles: &[Admin],
    },
    NavItem {
        key: "nav-signing-authority",
        href: "/signing/authority",
        roles: &[Admin],
    },
    NavItem {
        key: "nav-outbox",
        href: "/admin/outbox",
        roles: &[Admin],
    },
    NavItem {
        key: "nav-workflow-problems",
        href: "/admin/workflow-problems",
        roles: &[Admin],
    },
    NavItem {
        key: "nav-orders",
        href: "/orders",
        roles: &[
            Admin, Hunter, Manager, Operator, Accountant, Owner, Dispatcher, Client,
        ],
    },
    NavItem {
        key: "nav-contracts",
        href: "/contracts",
        roles: &[Admin, Hunter, Manager, Operator, Accountant, Owner, Client],
    },
    NavItem {
        key: "nav-signing",
        href: "/signing",
        roles: &[Owner, Dispatcher, Client],
    },
    NavItem {
        key: "nav-matching",
        href: "/matching",
        roles: &[Admin, Hunter, Manager, Operator],
    },
    NavItem {
        key: "nav-suppliers",
        href: "/suppliers",
        roles: &[Admin, Hunter, Manager, Operator],
    },
    NavItem {
        key: "nav-clients",
        href: "/clients",
        roles: &[Admin, Hunter, Manager, Operator],
    },
    NavItem {
        key: "nav-profile",
        href: "/profile",
        roles: &[Owner, Dispatcher, Client],
    },
    NavItem {
        key: "nav-garage",
        href: "/garage",
        roles: &[Owner, Dispatcher],
    },
    NavItem {
        key: "nav-employees",
        href: "/supplier/employees",
        roles: &[Owner, Dispatcher],
    },
    NavItem {
        key: "nav-rfqs",
        href: "/supplier/rfqs",
        roles: &[Owner, Dispatcher],
    },
    NavItem {
        key: "nav-quotes",
        href: "/supplier/quotes",
        roles: &[Owner, Dispatcher],
    },
    NavItem {
        key: "nav-offers",
        href: "/offers",
        roles: &[Client],
    },
    NavItem {
        key: "nav-contacts",
        href: "/profile/contacts",
        roles: &[Client],
    },
    NavItem {
        key: "nav-colleagues",
        href: "/org/users",
        roles: &[Owner, Client],
    },
];

#[derive(Serialize)]
struct NavLink {
    key: &'static str,
    href: &'static str,
    active: bool,
    /// A count shown next to the entry (RFQs waiting for an answer…).
    badge: Option<i64>,
}

tokio::task_local! {
    /// Counts for navigation entries (`href`, count), gathered by
    /// [`nav_badges`] for the request being handled.
    static BADGES: Vec<(&'static str, i64)>;
}

/// Gathers the navigation's counts before a page handler runs (rendering
/// is synchronous, so they cannot be queried there): for a supplier's
/// office, the RFQs waiting for its answer.
pub async fn nav_badges(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Only pages show the navigation; the JSON API does not.
    // (Nor do the bell's own count and stream, which read the count themselves.)
    let page = req.method() == axum::http::Method::GET
        && !req.uri().path().starts_with("/api/")
        && !req.uri().path().starts_with("/notifications/");
    let actor = page
        .then(|| {
            req.extensions()
                .get::<RequestInfo>()
                .and_then(|i| i.actor.clone())
        })
        .flatten();
    let mut badges = Vec::new();
    // The bell in the header: the person's unread notifications.
    if let Some(a) = &actor
        && let Ok(n) = domain::notify::in_app::unread_count(&state.db, a.user_id()).await
    {
        badges.push((BELL, n));
    }
    if let Some(a) = actor
        && a.org_kind() == domain::access::roles::OrgKind::Supplier
        && let Ok(n) = domain::deals::rfq::open_count(&state.services, &a).await
        && n > 0
    {
        badges.push(("/supplier/rfqs", n));
    }
    BADGES.scope(badges, next.run(req)).await
}

/// The badge key of the bell's count.
const BELL: &str = "/notifications";

/// The bell's unread count for the page being rendered (0 when unknown).
fn bell_count() -> i64 {
    BADGES
        .try_with(|b| b.iter().find(|(k, _)| *k == BELL).map(|(_, n)| *n))
        .ok()
        .flatten()
        .unwrap_or(0)
}

fn nav_for(actor: &Actor, path: &str) -> Vec<NavLink> {
    let badges = BADGES.try_with(|b| b.clone()).unwrap_or_default();
    NAV.iter()
        .filter(|item| actor.has_any(item.roles))
        .map(|item| NavLink {
            key: item.key,
            href: item.href,
            active: path == item.href || path.starts_with(&format!("{}/", item.href)),
            badge: badges
                .iter()
                .find(|(h, _)| *h == item.href)
                .map(|(_, n)| *n),
        })
        .collect()
}

impl AppState {
    /// Renders a page template with the shared context (user, navigation,
    /// CSRF token, flash message, demo flag) merged under the page's own.
    pub fn page(&self, info: &RequestInfo, template: &str, ctx: Value) -> AppResult<Html<String>> {
        let user = info.actor.as_ref().map(|a| {
            context! {
                id => a.user_id(),
                name => a.full_name(),
                org_id => a.org_id(),
                org_kind => a.org_kind().as_str(),
                roles => a.role_names(),
            }
        });
        let nav = info
            .actor
            .as_ref()
            .map(|a| nav_for(a, &info.path))
            .unwrap_or_default();
        let base = context! {
            user,
            nav => crate::render::ser(&nav),
            csrf => info.csrf.clone(),
            flash => info.flash.clone(),
            path => info.path.clone(),
            demo => self.config.demo,
            bell => info.actor.as_ref().map(|_| bell_count()),
            // The header search, on every page of the broker's staff.
            header_search => info.actor.as_ref().is_some_and(|a| a.is_staff()),
        };
        let merged = context! { ..ctx, ..base };
        Ok(Html(self.templates.render(template, merged)?))
    }
}

/// A redirect that shows a one-time message (a catalogue key) on the next page.
pub fn redirect_with_flash(to: &str, flash_key: &str, secure: bool) -> Response {
    let mut resp = Redirect::to(to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(FLASH_COOKIE, flash_key, Some(60), secure),
    );
    resp
}

/// The reason given for a request whose address, query or body could not
/// be read (a word where a number belongs…).
const MALFORMED: &str = "request.malformed";

/// Whether `resp` is one of axum's extractor rejections: a client error
/// with a plain-text body that no handler of ours produced.
fn is_rejection(resp: &Response) -> bool {
    resp.status().is_client_error()
        && resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/plain"))
}

/// Renders error responses of HTML pages with the layout; API paths keep JSON.
/// Installed outside the session middleware so it also renders CSRF failures.
pub async fn error_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let wants_json = req.uri().path().starts_with("/api/")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
    let resp = next.run(req).await;
    let err = match resp.extensions().get::<ErrorPage>().cloned() {
        Some(err) => err,
        // axum's own refusal of a path, query or body it cannot read
        // ("Invalid URL: Cannot parse `abc` to a `i64`"): English plain
        // text, so it gets our page (or JSON) with a reason instead.
        None if is_rejection(&resp) => {
            let err = ErrorPage {
                status: resp.status(),
                code: MALFORMED.to_string(),
                retry_after_secs: None,
            };
            if wants_json {
                let body = serde_json::json!({"error": MALFORMED, "fields": []});
                return (err.status, axum::Json(body)).into_response();
            }
            err
        }
        None => return resp,
    };
    if wants_json {
        return resp;
    }
    // The session middleware runs inside this one and leaves what it learned
    // on the response.
    let info = resp
        .extensions()
        .get::<RequestInfo>()
        .cloned()
        .unwrap_or_else(|| RequestInfo {
            actor: None,
            csrf: String::new(),
            flash: None,
            path: String::new(),
            ip: None,
            user_agent: None,
            session_token: None,
        });
    let minutes = err.retry_after_secs.map(|s| (s + 59) / 60);
    let page = state.page(
        &info,
        "error.html",
        context! { status => err.status.as_u16(), code => err.code, minutes },
    );
    match page {
        Ok(html) => {
            let mut out = (err.status, html).into_response();
            for (k, v) in resp.headers() {
                if k == header::SET_COOKIE || k == header::RETRY_AFTER || k == header::CACHE_CONTROL
                {
                    out.headers_mut().append(k, v.clone());
                }
            }
            out
        }
        Err(_) => resp,
    }
}
