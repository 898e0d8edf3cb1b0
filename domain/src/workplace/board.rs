//! The pipeline board (issue 11 point 3): the requests a person may see as
//! cards in columns, one column per stage of the request workflow — its
//! states with their YAML titles, in the YAML's order — each with how
//! many requests it holds and the sum of their offers' client prices
//! (where an offer exists). A card moves only where the workflow allows:
//! to where an outcome of the request's open task leads (the task is
//! completed with that outcome) or, for «cancelled», through the
//! workflow's `request.cancelled` event; any other move is refused with
//! the reason.
//!
//! A column is a request *status*: the projection of the workflow's state
//! its `request.set_status` action writes (`rfq_round` writes `rfq`); a
//! state that writes none (the automatic RFQ) has no column of its own.
//! Counts read the `requests_status` index, sums the live offers; cards
//! are the newest [`CARDS`] of each column.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use engine::Sql;
use engine::model::{Definition, Param, When};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::{Actor, Resource, Rule, require, scope};
use crate::error::{DomainError, DomainResult};
use crate::intake::handling;
use crate::intake::requests::day_start;
use crate::services::Services;

/// Cards a column shows at most (the newest); the count says how many.
pub const CARDS: i64 = 30;

/// The workflow every request type's requests run (the board's columns).
const WORKFLOW: &str = "request";

/// The board's filters, as its form submits them; blank means any.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BoardFilter {
    #[serde(rename = "type")]
    pub request_type: String,
    /// The owner's user id (a manager, a hunter…), or blank.
    pub owner: String,
    pub channel: String,
    /// Created from / to, `YYYY-MM-DD`, inclusive, in the broker's zone.
    pub from: String,
    pub to: String,
}

/// A move a column's cards may make: to `to` (a column), by completing
/// the open task with `outcome`, or by cancelling (`outcome` is `None`).
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    pub to: String,
    pub title: String,
    /// Whether the move asks for a reason (cancelling does).
    pub needs_reason: bool,
    #[serde(skip)]
    task: Option<(String, String)>,
}

/// A request on the board.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Card {
    pub id: i64,
    pub number: String,
    pub request_type: String,
    pub client_name: String,
    pub owner_name: Option<String>,
    pub channel: String,
    pub wanted_from: Option<i64>,
    pub created_at: i64,
    /// The live offer's client price with VAT, kopecks.
    pub price: Option<i64>,
}

/// One stage.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// The request status the column holds.
    pub status: String,
    pub title: String,
    pub terminal: bool,
    pub count: i64,
    /// Kopecks: the client prices of the column's live offers.
    pub sum: i64,
    pub cards: Vec<Card>,
    pub moves: Vec<Move>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub columns: Vec<Column>,
}

/// The status a state writes (`request.set_status`'s literal), if any.
fn status_of(state: &engine::model::State) -> Option<String> {
    state
        .on_enter
        .iter()
        .filter(|a| a.name == "request.set_status")
        .flat_map(|a| a.params.iter())
        .find(|(k, _)| k == "status")
        .and_then(|(_, p)| match p {
            Param::Literal(Value::String(s)) => Some(s.clone()),
            Param::Expr(e) => Some(
                e.src
                    .trim()
                    .trim_matches(|c| c == '\'' || c == '"')
                    .to_string(),
            ),
            _ => None,
        })
}

/// The columns of a definition: status → (title, terminal), in order, and
/// each state's status.
struct Stages {
    columns: Vec<(String, String, bool)>,
    status: BTreeMap<String, String>,
}

fn stages(def: &Definition) -> Stages {
    let mut columns: Vec<(String, String, bool)> = Vec::new();
    let mut status = BTreeMap::new();
    for st in &def.states {
        if let Some(s) = status_of(st) {
            status.insert(st.name.clone(), s.clone());
            if !columns.iter().any(|(c, _, _)| *c == s) {
                columns.push((s, st.title.clone(), st.terminal));
            }
        }
    }
    Stages { columns, status }
}

/// The moves cards in state `state` may make, by target column: the
/// outcomes of the state's tasks, then cancelling by the event.
fn moves_from(def: &Definition, stages: &Stages, state: &str) -> Vec<Move> {
    let Some(st) = def.state(state) else {
        return Vec::new();
    };
    let mut out: Vec<Move> = Vec::new();
    let here = stages.status.get(state);
    for task in &st.tasks {
        for o in &task.outcomes {
            let Some(to) = stages.status.get(&o.to) else {
                continue;
            };
            if Some(to) == here || out.iter().any(|m| &m.to == to) {
                continue;
            }
            let needs_reason = task
                .form
                .iter()
                .any(|f| f.id == "reason" && task.field_required(f, &o.id));
            out.push(Move {
                to: to.clone(),
                title: o.title.clone(),
                needs_reason,
                task: Some((task.id.clone(), o.id.clone())),
            });
        }
    }
    let cancels = st.transitions.iter().any(|t| {
        matches!(&t.when, When::Event(e) if e == "request.cancelled")
            && t.to
                .as_ref()
                .and_then(|s| stages.status.get(s))
                .map(String::as_str)
                == Some("cancelled")
    });
    if cancels && !out.iter().any(|m| m.to == "cancelled") {
        let title = def
            .state("cancelled")
            .map(|s| s.title.clone())
            .unwrap_or_else(|| "cancelled".into());
        out.push(Move {
            to: "cancelled".into(),
            title,
            needs_reason: true,
            task: None,
        });
    }
    out
}

/// The active version of the request workflow.
async fn active_definition(s: &Services) -> DomainResult<std::sync::Arc<Definition>> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM wf_definitions WHERE key = $1 AND status = 'active'")
            .bind(WORKFLOW)
            .fetch_optional(s.db.pool())
            .await?;
    let id = id.ok_or(DomainError::NotFound)?;
    Ok(s.engine.definition(id).await?)
}

/// Appends the filters and the actor's scope to a query over `requests r`.
fn filtered(sql: &mut Sql, actor: &Actor, f: &BoardFilter, tz: Tz) {
    scope(sql, actor, Resource::Request, "r");
    if !f.request_type.is_empty() {
        sql.push(" AND r.request_type = ")
            .bind(f.request_type.clone());
    }
    if let Ok(owner) = f.owner.trim().parse::<i64>() {
        sql.push(" AND r.owner_user_id = ").bind(owner);
    }
    if !f.channel.is_empty() {
        sql.push(" AND r.channel = ").bind(f.channel.clone());
    }
    if let Some(from) = day_start(&f.from, tz) {
        sql.push(" AND r.created_at >= ").bind(from);
    }
    if let Some(to) = day_start(&f.to, tz) {
        sql.push(" AND r.created_at < ")
            .bind(to + chrono::Duration::days(1).num_milliseconds());
    }
}

/// The board of the requests `actor` may see, filtered.
pub async fn board(s: &Services, actor: &Actor, f: &BoardFilter, tz: Tz) -> DomainResult<Board> {
    require(actor, Rule::FrontOffice)?;
    let def = active_definition(s).await?;
    let stages = stages(&def);

    let mut sql = Sql::new("SELECT r.status, COUNT(*) FROM requests r WHERE 1 = 1");
    filtered(&mut sql, actor, f, tz);
    sql.push(" GROUP BY r.status");
    let counts: BTreeMap<String, i64> = sql
        .query_as::<(String, i64)>()
        .fetch_all(s.db.pool())
        .await?
        .into_iter()
        .collect();

    // Sums from the live offers' side: far fewer rows than requests.
    let mut sql = Sql::new(
        "SELECT r.status, CAST(SUM(f.total_gross) AS BIGINT) FROM offers f JOIN requests r ON r.id = f.request_id \
         WHERE f.status IN ('sent', 'accepted')",
    );
    filtered(&mut sql, actor, f, tz);
    sql.push(" GROUP BY r.status");
    let mut sums: BTreeMap<String, i64> = sql
        .query_as::<(String, Option<i64>)>()
        .fetch_all(s.db.pool())
        .await?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(0)))
        .collect();
    // An offer waiting for approval is not sent yet, but its price is known.
    let mut sql = Sql::new(
        "SELECT r.status, CAST(SUM(a.total_gross) AS BIGINT) FROM offer_approvals a JOIN requests r ON r.id = a.request_id \
         WHERE a.status = 'pending'",
    );
    filtered(&mut sql, actor, f, tz);
    sql.push(" GROUP BY r.status");
    for (k, v) in sql
        .query_as::<(String, Option<i64>)>()
        .fetch_all(s.db.pool())
        .await?
    {
        *sums.entry(k).or_default() += v.unwrap_or(0);
    }

    let mut columns = Vec::with_capacity(stages.columns.len());
    for (status, title, terminal) in &stages.columns {
        let count = counts.get(status).copied().unwrap_or(0);
        let cards = if count > 0 {
            cards(s, actor, f, tz, status).await?
        } else {
            Vec::new()
        };
        let state = stages
            .status
            .iter()
            .find(|(_, st)| *st == status)
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        columns.push(Column {
            status: status.clone(),
            title: title.clone(),
            terminal: *terminal,
            count,
            sum: sums.get(status).copied().unwrap_or(0),
            cards,
            moves: moves_from(&def, &stages, &state),
        });
    }
    Ok(Board { columns })
}

/// The newest cards of one column.
async fn cards(
    s: &Services,
    actor: &Actor,
    f: &BoardFilter,
    tz: Tz,
    status: &str,
) -> DomainResult<Vec<Card>> {
    let mut sql = Sql::new(
        "SELECT r.id, r.number, r.request_type, o.name AS client_name, u.full_name AS owner_name, r.channel, \
         r.wanted_from, r.created_at, \
         COALESCE((SELECT f.total_gross FROM offers f WHERE f.request_id = r.id AND f.status IN ('sent', 'accepted') ORDER BY f.id DESC LIMIT 1), \
                  (SELECT a.total_gross FROM offer_approvals a WHERE a.request_id = r.id AND a.status = 'pending' ORDER BY a.id DESC LIMIT 1)) AS price \
         FROM requests r JOIN organisations o ON o.id = r.client_org_id LEFT JOIN users u ON u.id = r.owner_user_id \
         WHERE r.status = ",
    );
    sql.bind(status.to_string());
    filtered(&mut sql, actor, f, tz);
    sql.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
        .bind(CARDS);
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// Moves a request's card to column `to`: completes the request's open
/// task with the outcome leading there (with `reason` when the outcome
/// asks for one) or cancels the request (`request.cancelled`). Refusals:
/// `board.same_column`; `board.move_automatic` (the workflow gets there by
/// itself: an event, a deadline, a condition); `board.move_not_allowed`
/// (no way there from this stage); `board.not_your_task` (the task is a
/// colleague's); a missing or short reason is the `reason` field's.
pub async fn move_card(
    s: &Services,
    actor: &Actor,
    request_id: i64,
    to: &str,
    reason: &str,
) -> DomainResult<()> {
    require(actor, Rule::FrontOffice)?;
    // Another party's request is not found, like a missing one.
    crate::access::require_object(&s.db, actor, "request", request_id).await?;
    let instance = s
        .engine
        .instances_for_object("request", request_id)
        .await?
        .into_iter()
        .filter(|i| i.finished_at.is_none())
        .max_by_key(|i| i.id)
        .ok_or(DomainError::Conflict("board.move_not_allowed"))?;
    let def = s.engine.definition(instance.definition_id).await?;
    let stages = stages(&def);
    if stages.status.get(&instance.state).map(String::as_str) == Some(to) {
        return Err(DomainError::Conflict("board.same_column"));
    }
    if !stages.columns.iter().any(|(c, _, _)| c == to) {
        return Err(DomainError::field("to", "unknown"));
    }
    let Some(m) = moves_from(&def, &stages, &instance.state)
        .into_iter()
        .find(|m| m.to == to)
    else {
        let automatic = def.state(&instance.state).is_some_and(|st| {
            st.transitions.iter().any(|t| {
                t.to.as_ref()
                    .and_then(|n| stages.status.get(n))
                    .map(String::as_str)
                    == Some(to)
            })
        });
        return Err(DomainError::Conflict(if automatic {
            "board.move_automatic"
        } else {
            "board.move_not_allowed"
        }));
    };
    let Some((task_key, outcome)) = m.task else {
        return handling::cancel(s, actor, request_id, reason).await;
    };
    if m.needs_reason {
        handling::check_reason(reason)?;
    }
    let task = s
        .engine
        .instance_tasks(instance.id, false)
        .await?
        .into_iter()
        .find(|t| t.status == "open" && t.task_key == task_key)
        .ok_or(DomainError::Conflict("board.move_not_allowed"))?;
    let mut values = BTreeMap::new();
    if !reason.trim().is_empty() {
        values.insert("reason".to_string(), reason.trim().to_string());
    }
    match crate::workflows::complete(s, actor, task.id, &outcome, &values).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(errors)) => {
            let mut e = crate::error::FieldErrors::new();
            for (field, error) in errors {
                e.add(&field, &error.code);
            }
            Err(DomainError::Invalid(e))
        }
        Err(DomainError::Forbidden) => Err(DomainError::Conflict("board.not_your_task")),
        Err(e) => Err(e),
    }
}
