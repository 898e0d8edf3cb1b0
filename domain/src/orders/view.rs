//! Orders as each side sees them (DESIGN §4): the staff everything; a
//! client its leg — our price, the machines (model, plate) and the drivers'
//! first names; a supplier its leg — its price, the site, the work and our
//! contact, never the client or our price. A party's page is built from
//! its work order's data ([`paper::work_order`]), so the page shows
//! exactly what the party's document would. Another party's order is "not
//! found".

use std::collections::BTreeMap;

use engine::Sql;
use serde::Serialize;

use crate::access::roles::OrgKind;
use crate::access::{Actor, Resource, scope};
use crate::error::{DomainError, DomainResult};
use crate::intake::requests::{local_text, site_tz};
use crate::orders::paper::{self, WorkOrderData};
use crate::orders::signing::{SIGN_TASK, open_task};
use crate::paperwork::issued::IssuedDocument;
use crate::services::Services;
use crate::workflows::StoryLine;

/// Order statuses, in the order a list filters them.
pub const STATUSES: [&str; 9] = [
    "contract_check",
    "awaiting_contracts",
    "documents",
    "documents_failed",
    "ready_for_signing",
    "signed",
    "in_work",
    "completed",
    "cancelled",
];

/// An order in a list. `amount` is the viewer's side: the client's total
/// for the staff and the client, the supplier's own total for a supplier.
/// `client_name` is for the staff only.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub request_type: String,
    pub type_title: String,
    pub client_name: Option<String>,
    pub starts_local: String,
    pub amount: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LineRow {
    id: i64,
    number: String,
    status: String,
    request_type: String,
    client_name: String,
    site_timezone: Option<String>,
    starts_at: i64,
    amount: i64,
    created_at: i64,
}

/// The orders the actor may see, newest first, optionally of one status.
pub async fn list(
    s: &Services,
    actor: &Actor,
    status: Option<&str>,
) -> DomainResult<Vec<OrderLine>> {
    let supplier = actor.org_kind() == OrgKind::Supplier;
    let mut sql = Sql::new(
        "SELECT o.id, o.number, o.status, o.request_type, c.name AS client_name, o.site_timezone, o.starts_at, ",
    );
    if supplier {
        // Its own legs only: never our price.
        sql.push("CAST(COALESCE((SELECT SUM(sl.total_gross) FROM order_legs sl WHERE sl.order_id = o.id AND sl.side = 'supplier' AND sl.party_org_id = ")
            .bind(actor.org_id())
            .push("), 0) AS BIGINT) AS amount");
    } else {
        sql.push("CAST(COALESCE((SELECT SUM(cl.total_gross) FROM order_legs cl WHERE cl.order_id = o.id AND cl.side = 'client'), 0) AS BIGINT) AS amount");
    }
    sql.push(
        " , o.created_at FROM orders o JOIN organisations c ON c.id = o.client_org_id WHERE 1 = 1",
    );
    if let Some(st) = status.filter(|st| STATUSES.contains(st)) {
        sql.push(" AND o.status = ").bind(st.to_string());
    }
    scope(&mut sql, actor, Resource::Order, "o");
    sql.push(" ORDER BY o.id DESC LIMIT 300");
    let rows: Vec<LineRow> = sql.query_as().fetch_all(s.db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderLine {
            type_title: s
                .request_types
                .get(&r.request_type)
                .map(|t| t.title.clone())
                .unwrap_or_else(|| r.request_type.clone()),
            starts_local: local_text(Some(r.starts_at), site_tz(r.site_timezone.as_deref())),
            client_name: actor.is_staff().then_some(r.client_name),
            id: r.id,
            number: r.number,
            status: r.status,
            request_type: r.request_type,
            amount: r.amount,
            created_at: r.created_at,
        })
        .collect())
}

/// What every view of an order shows of the order itself.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OrderHead {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub request_type: String,
    pub first_day: String,
    pub last_day: String,
    pub signed_at: Option<i64>,
    pub started_at: Option<i64>,
    pub cancel_reason: Option<String>,
    pub created_at: i64,
}

const HEAD_COLUMNS: &str = "o.id, o.number, o.status, o.request_type, o.first_day, o.last_day, o.signed_at, o.started_at, o.cancel_reason, o.created_at";

/// A framework contract as an order page names it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContractBrief {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub status: String,
    pub signed_on: Option<String>,
}

/// A leg for the staff: both prices, the party and its contract.
#[derive(Debug, Clone, Serialize)]
pub struct StaffLeg {
    pub id: i64,
    pub side: String,
    pub party_org_id: i64,
    pub party_name: String,
    pub money: paper::MoneyBlock,
    pub contract: Option<ContractBrief>,
}

/// A machine of the order for the staff: whose, which, who drives.
#[derive(Debug, Clone, Serialize)]
pub struct StaffAssignment {
    pub leg_id: i64,
    pub supplier_name: String,
    pub category_title: String,
    pub make: String,
    pub model: String,
    pub plate: Option<String>,
    pub driver_name: Option<String>,
    pub arrival_local: String,
    pub first_day: String,
    pub last_day: String,
}

/// An open task of the order's workflow.
#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    pub id: i64,
    pub key: String,
    pub title: String,
}

/// The staff's order page.
#[derive(Debug, Clone, Serialize)]
pub struct StaffOrder {
    pub head: OrderHead,
    pub request_id: i64,
    pub request_number: String,
    pub client_org_id: i64,
    pub client_name: String,
    pub manager_name: Option<String>,
    pub site_address: Option<String>,
    pub starts_local: String,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub legs: Vec<StaffLeg>,
    pub assignments: Vec<StaffAssignment>,
    /// Our price without VAT minus what the suppliers' prices cost us, for
    /// the whole order, as the accepted offer computed it (`deals::offers`).
    pub margin: i64,
    /// The order workflow's history told in words.
    pub history: Vec<StoryLine>,
    pub tasks: Vec<TaskLine>,
    pub scan_file_id: Option<i64>,
    /// Waiting for signatures: the staff may attach the scan.
    pub can_sign: bool,
    pub can_cancel: bool,
    /// Every version of every document of the order (both legs').
    pub documents: Vec<IssuedDocument>,
}

/// A party's order page: the order and its own leg's work order.
#[derive(Debug, Clone, Serialize)]
pub struct PartyOrder {
    pub head: OrderHead,
    pub leg_id: i64,
    pub work_order: WorkOrderData,
    pub contract: Option<ContractBrief>,
    /// The documents of its own leg, every version.
    pub documents: Vec<IssuedDocument>,
}

/// An order as the actor sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum OrderView {
    Staff(Box<StaffOrder>),
    Client(Box<PartyOrder>),
    Supplier(Box<PartyOrder>),
}

async fn head(s: &Services, actor: &Actor, id: i64) -> DomainResult<OrderHead> {
    let mut sql = Sql::new("SELECT ");
    sql.push(HEAD_COLUMNS)
        .push(" FROM orders o WHERE o.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Order, "o");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// The order's documents `actor` may read: staff all, a party those issued
/// to it (its own leg's), newest version first.
async fn documents_of(s: &Services, actor: &Actor, id: i64) -> DomainResult<Vec<IssuedDocument>> {
    crate::paperwork::issued::list_for_owner(&s.db, actor, "order", id).await
}

async fn contract_brief(s: &Services, id: Option<i64>) -> DomainResult<Option<ContractBrief>> {
    let Some(id) = id else { return Ok(None) };
    Ok(
        sqlx::query_as("SELECT id, number, kind, status, signed_on FROM contracts WHERE id = $1")
            .bind(id)
            .fetch_optional(s.db.pool())
            .await?,
    )
}

/// The order `id` as the actor may see it.
pub async fn view(s: &Services, actor: &Actor, id: i64) -> DomainResult<OrderView> {
    let head = head(s, actor, id).await?;
    if actor.is_staff() {
        return Ok(OrderView::Staff(Box::new(
            staff_view(s, actor, head).await?,
        )));
    }
    // A party: its own leg (the scope let it see the order, so it has one).
    let legs = paper::legs_of(s, id).await?;
    let side = match actor.org_kind() {
        OrgKind::Client => "client",
        OrgKind::Supplier => "supplier",
        OrgKind::Broker => return Err(DomainError::NotFound),
    };
    let leg = legs
        .iter()
        .find(|l| l.side == side && l.party_org_id == actor.org_id())
        .ok_or(DomainError::NotFound)?;
    let party = PartyOrder {
        leg_id: leg.id,
        work_order: paper::work_order(s, leg.id).await?,
        contract: contract_brief(s, leg.contract_id).await?,
        documents: documents_of(s, actor, id).await?,
        head,
    };
    Ok(match actor.org_kind() {
        OrgKind::Client => OrderView::Client(Box::new(party)),
        _ => OrderView::Supplier(Box::new(party)),
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct StaffRow {
    request_id: i64,
    request_number: String,
    client_org_id: i64,
    client_name: String,
    manager_name: Option<String>,
    site_address: Option<String>,
    site_timezone: Option<String>,
    starts_at: i64,
    contact_name: Option<String>,
    contact_phone: Option<String>,
    signed_scan_file_id: Option<i64>,
    margin_total: i64,
}

async fn staff_view(s: &Services, actor: &Actor, head: OrderHead) -> DomainResult<StaffOrder> {
    let id = head.id;
    let r: StaffRow = sqlx::query_as(
        "SELECT o.request_id, r.number AS request_number, o.client_org_id, c.name AS client_name, u.full_name AS manager_name,
           o.site_address, o.site_timezone, o.starts_at, o.contact_name, o.contact_phone, o.signed_scan_file_id, o.margin_total
         FROM orders o JOIN requests r ON r.id = o.request_id JOIN organisations c ON c.id = o.client_org_id
         LEFT JOIN users u ON u.id = o.manager_user_id WHERE o.id = $1",
    )
    .bind(id)
    .fetch_one(s.db.pool())
    .await?;
    let tz = site_tz(r.site_timezone.as_deref());
    let names: BTreeMap<i64, String> = sqlx::query_as::<_, (i64, String)>(
        "SELECT o.id, o.name FROM organisations o WHERE o.id IN (SELECT party_org_id FROM order_legs WHERE order_id = $1)",
    )
    .bind(id)
    .fetch_all(s.db.pool())
    .await?
    .into_iter()
    .collect();
    let rows = paper::legs_of(s, id).await?;
    let mut legs = Vec::new();
    for l in &rows {
        legs.push(StaffLeg {
            id: l.id,
            side: l.side.clone(),
            party_org_id: l.party_org_id,
            party_name: names.get(&l.party_org_id).cloned().unwrap_or_default(),
            money: l.money(),
            contract: contract_brief(s, l.contract_id).await?,
        });
    }
    let supplier_of: BTreeMap<i64, i64> = rows.iter().map(|l| (l.id, l.party_org_id)).collect();
    let assignments = paper::assignments_of(s, id)
        .await?
        .into_iter()
        .map(|a| StaffAssignment {
            supplier_name: supplier_of
                .get(&a.leg_id)
                .and_then(|p| names.get(p))
                .cloned()
                .unwrap_or_default(),
            category_title: s
                .equipment
                .category(&a.category)
                .map(|c| c.title.clone())
                .unwrap_or_default(),
            leg_id: a.leg_id,
            make: a.make,
            model: a.model,
            plate: a.plate,
            driver_name: a.driver_name,
            arrival_local: local_text(Some(a.arrival_at), tz),
            first_day: a.first_day,
            last_day: a.last_day,
        })
        .collect();
    let (history, tasks) = workflow_of(s, id).await?;
    let sign_task = open_task(s, id, SIGN_TASK).await?;
    Ok(StaffOrder {
        documents: documents_of(s, actor, id).await?,
        can_sign: sign_task.is_some(),
        can_cancel: !matches!(
            head.status.as_str(),
            "signed" | "in_work" | "completed" | "cancelled"
        ),
        head,
        request_id: r.request_id,
        request_number: r.request_number,
        client_org_id: r.client_org_id,
        client_name: r.client_name,
        manager_name: r.manager_name,
        site_address: r.site_address,
        starts_local: local_text(Some(r.starts_at), tz),
        contact_name: r.contact_name,
        contact_phone: r.contact_phone,
        legs,
        assignments,
        margin: r.margin_total,
        history,
        tasks,
        scan_file_id: r.signed_scan_file_id,
    })
}

type WorkflowParts = (Vec<StoryLine>, Vec<TaskLine>);

/// The order workflow's history told in words and its open tasks.
async fn workflow_of(s: &Services, id: i64) -> DomainResult<WorkflowParts> {
    let engine = &s.engine;
    let Some(i) = engine
        .instances_for_object("order", id)
        .await?
        .into_iter()
        .max_by_key(|i| i.id)
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    let tasks = engine.instance_tasks(i.id, true).await?;
    let history = crate::workflows::story(s, i.id, i.definition_id, &tasks).await?;
    let tasks = tasks
        .into_iter()
        .filter(|t| t.status == "open")
        .map(|t| TaskLine {
            id: t.id,
            key: t.task_key,
            title: t.title,
        })
        .collect();
    Ok((history, tasks))
}
