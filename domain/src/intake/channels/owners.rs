use super::*;

/// A person of the broker, for choosers.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub full_name: String,
}

/// The active managers, for an admin choosing a client's manager.
pub async fn managers(s: &Services) -> DomainResult<Vec<Person>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.full_name FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'manager'
         JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker'
         WHERE u.status = 'active' ORDER BY u.full_name, u.id",
    )
    .fetch_all(s.db.pool())
    .await?)
}

/// Who handles a client, as cards and the operator's lookup show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ClientOwnership {
    pub id: i64,
    pub name: String,
    pub legal_form: String,
    pub inn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub contact_name: Option<String>,
    pub hunter_user_id: Option<i64>,
    pub hunter_name: Option<String>,
    pub manager_user_id: Option<i64>,
    pub manager_name: Option<String>,
    pub next_manager_user_id: Option<i64>,
    pub next_manager_name: Option<String>,
    pub first_order_at: Option<i64>,
    pub acquisition_channel: Option<String>,
    pub created_at: i64,
}

impl ClientOwnership {
    /// Whether the client is still in the hunter's hands (no first order yet).
    pub fn with_hunter(&self) -> bool {
        self.hunter_user_id.is_some()
            && self.first_order_at.is_none()
            && self.manager_user_id.is_none()
    }
}

const OWNERSHIP_COLUMNS: &str = "o.id, o.name, o.legal_form, o.inn, o.phone, o.email, o.contact_name,
    o.hunter_user_id, hu.full_name AS hunter_name, o.manager_user_id, mu.full_name AS manager_name,
    o.next_manager_user_id, nu.full_name AS next_manager_name, o.first_order_at, o.acquisition_channel, o.created_at
    FROM organisations o LEFT JOIN users hu ON hu.id = o.hunter_user_id
    LEFT JOIN users mu ON mu.id = o.manager_user_id LEFT JOIN users nu ON nu.id = o.next_manager_user_id";

/// A client's ownership (staff only).
pub async fn client_ownership(
    s: &Services,
    actor: &Actor,
    id: i64,
) -> DomainResult<ClientOwnership> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    let mut sql = Sql::new("SELECT ");
    sql.push(OWNERSHIP_COLUMNS)
        .push(" WHERE o.kind = 'client' AND o.id = ")
        .bind(id);
    // A hunter's company cards are their book's, as the directory.
    crate::access::scope(&mut sql, actor, crate::access::Resource::Organisation, "o");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// The latest requests of a client (the actor's scope applies).
pub async fn client_requests(
    s: &Services,
    actor: &Actor,
    client_id: i64,
    tz: Tz,
) -> DomainResult<Vec<RequestRow>> {
    let f = requests::RequestFilter {
        client: Some(client_id),
        limit: Some(20),
        ..Default::default()
    };
    requests::list(s, actor, &f, tz).await
}

/// A caller found by the contact centre's lookup.
#[derive(Debug, Clone, Serialize)]
pub struct CallerMatch {
    pub client: ClientOwnership,
    /// The latest requests, newest first.
    pub requests: Vec<RequestRow>,
    pub open_requests: usize,
}

/// What the operator's lookup found.
#[derive(Debug, Clone, Serialize)]
pub struct LookupResult {
    /// The phone as stored (`+7…`) when the query was a phone number.
    pub phone: Option<String>,
    pub matches: Vec<CallerMatch>,
}

/// The contact centre's first step: who is calling? A phone number (typed
/// any way) finds clients by their own, their contacts', their users' or
/// their requests' phone; any other text searches client names and INNs.
pub async fn lookup(
    s: &Services,
    actor: &Actor,
    query: &str,
    tz: Tz,
) -> DomainResult<LookupResult> {
    if !actor.is_staff() {
        return Err(DomainError::Forbidden);
    }
    let q = query.trim();
    if q.is_empty() {
        return Ok(LookupResult {
            phone: None,
            matches: Vec::new(),
        });
    }
    let phone = PhoneNumber::parse(q).ok().map(|p| p.as_str().to_string());
    let mut sql = Sql::new("SELECT ");
    sql.push(OWNERSHIP_COLUMNS)
        .push(" WHERE o.kind = 'client' AND ");
    match &phone {
        Some(p) => {
            // Each place a phone is kept has its index: one small set per
            // place, not every client checked four ways.
            sql.push("o.id IN (SELECT p.id FROM organisations p WHERE p.phone = ")
                .bind(p.clone())
                .push(" UNION SELECT c.org_id FROM org_contacts c WHERE c.phone = ")
                .bind(p.clone())
                .push(" UNION SELECT u.org_id FROM users u WHERE u.phone = ")
                .bind(p.clone())
                .push(" UNION SELECT q.client_org_id FROM requests q WHERE q.contact_phone = ")
                .bind(p.clone())
                .push(")");
        }
        None => {
            sql.push("o.search_text LIKE ")
                .bind(crate::search::pattern(q))
                .push(" ESCAPE '\\'");
        }
    }
    sql.push(" ORDER BY o.name, o.id LIMIT 10");
    let clients: Vec<ClientOwnership> = sql.query_as().fetch_all(s.db.pool()).await?;
    // Open requests are counted over all of them, not the 20 shown.
    let mut open: HashMap<i64, i64> = HashMap::new();
    if !clients.is_empty() {
        let mut sql = Sql::new(
            "SELECT r.client_org_id, CAST(COUNT(*) AS BIGINT) FROM requests r WHERE r.client_org_id IN (",
        );
        sql.bind_list(clients.iter().map(|c| c.id))
            .push(") AND r.status NOT IN (")
            .bind_list(requests::CLOSED_STATUSES)
            .push(")");
        scope(&mut sql, actor, Resource::Request, "r");
        sql.push(" GROUP BY r.client_org_id");
        let rows: Vec<(i64, i64)> = sql.query_as().fetch_all(s.db.pool()).await?;
        open.extend(rows);
    }
    let mut matches = Vec::new();
    for client in clients {
        let requests = client_requests(s, actor, client.id, tz).await?;
        let open_requests = open.get(&client.id).copied().unwrap_or(0) as usize;
        matches.push(CallerMatch {
            client,
            requests,
            open_requests,
        });
    }
    Ok(LookupResult { phone, matches })
}

/// A client of a hunter's own list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HunterClient {
    pub id: i64,
    pub name: String,
    pub legal_form: String,
    pub inn: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub manager_name: Option<String>,
    pub first_order_at: Option<i64>,
    pub requests: i64,
    pub open_requests: i64,
    pub created_at: i64,
}

/// The clients a hunter brought (all of them: those still theirs and those
/// handed to a manager after their first order — the hunter keeps the
/// credit), by name, `limit` of them after skipping `offset`.
pub async fn hunter_clients(
    s: &Services,
    actor: &Actor,
    q: &str,
    (limit, offset): (u32, u32),
) -> DomainResult<Vec<HunterClient>> {
    if !actor.is_staff() || !actor.has(Role::Hunter) {
        return Err(DomainError::Forbidden);
    }
    let mut sql = Sql::new(
        "SELECT o.id, o.name, o.legal_form, o.inn, o.phone, o.email, mu.full_name AS manager_name, o.first_order_at,
                (SELECT COUNT(*) FROM requests r WHERE r.client_org_id = o.id) AS requests,
                (SELECT COUNT(*) FROM requests r WHERE r.client_org_id = o.id AND r.status NOT IN (",
    );
    sql.bind_list(requests::CLOSED_STATUSES)
        .push(
            ")) AS open_requests,
                o.created_at
         FROM organisations o LEFT JOIN users mu ON mu.id = o.manager_user_id
         WHERE o.kind = 'client' AND o.hunter_user_id = ",
        )
        .bind(actor.user_id());
    let q = q.trim();
    if !q.is_empty() {
        sql.push(" AND o.search_text LIKE ")
            .bind(crate::search::pattern(q))
            .push(" ESCAPE '\\'");
    }
    sql.push(" ORDER BY o.name, o.id LIMIT ")
        .push(&limit.to_string())
        .push(" OFFSET ")
        .push(&offset.to_string());
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A hunter adds a client as theirs. A client that exists already (same
/// INN, phone or e-mail) is taken if nobody handles it yet; another
/// hunter's or a manager's client is refused.
pub async fn add_hunter_client(
    s: &Services,
    actor: &Actor,
    input: &ClientInput,
) -> DomainResult<i64> {
    check_channel(actor, Channel::Hunter)?;
    let valid = input.validate(true).map_err(DomainError::Invalid)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id = match find_client(&mut tx, &valid).await?.map(|m| m.org_id) {
        Some(id) => {
            let row = client_row(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound)?;
            if !hunter_may_take(&row, actor.user_id()) {
                return Err(DomainError::Conflict("client.not_yours"));
            }
            sqlx::query(
                "UPDATE organisations SET hunter_user_id = $1, acquisition_channel = COALESCE(acquisition_channel, 'hunter') WHERE id = $2",
            )
            .bind(actor.user_id())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => create_client(&mut tx, now, &valid, Channel::Hunter, Some(actor.user_id())).await?,
    };
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "client.hunted",
        "organisation",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Open requests of a client with their owners (what a change of manager
/// moves).
async fn open_requests(tx: &mut Tx, client: i64) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    let mut sql = Sql::new("SELECT id, owner_user_id FROM requests WHERE client_org_id = ");
    sql.bind(client)
        .push(" AND status NOT IN (")
        .bind_list(requests::ENDED_STATUSES)
        .push(")");
    sql.query_as().fetch_all(&mut **tx).await
}

/// Tells the workflows of requests whose owner changed (their open
/// qualification task moves to the new owner).
async fn owners_changed(
    s: &Services,
    tx: &mut Tx,
    before: &[(i64, Option<i64>)],
    owner: Option<i64>,
    actor: Option<i64>,
) -> DomainResult<()> {
    for (id, old) in before {
        if *old != owner {
            s.engine
                .emit_to_object_in_tx(
                    tx,
                    "request",
                    *id,
                    "owner.changed",
                    json!({"owner_user_id": owner}),
                    actor,
                )
                .await?;
        }
    }
    Ok(())
}

/// The client's first order went into work (the workflow action
/// `client.first_order`): the responsible manager takes the client — the
/// one an admin chose, else the least loaded — with its open requests, and
/// every later one. The hunter keeps the credit. Repeated calls change
/// nothing. Returns the manager.
pub async fn hand_over(
    s: &Services,
    client_org_id: i64,
    chosen: Option<i64>,
) -> DomainResult<Option<i64>> {
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let before = open_requests(&mut tx, client_org_id).await?;
    let already: Option<Option<i64>> =
        sqlx::query_scalar("SELECT first_order_at FROM organisations WHERE id = $1")
            .bind(client_org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(already) = already else {
        return Err(DomainError::NotFound);
    };
    let manager = ownership::first_order_started(&mut tx, now, client_org_id, chosen).await?;
    if already.is_none() {
        owners_changed(s, &mut tx, &before, manager, None).await?;
        audit::record(
            &mut tx,
            now,
            None,
            "client.first_order",
            "organisation",
            Some(client_org_id),
            json!({"manager": manager}),
        )
        .await?;
    }
    tx.commit().await?;
    s.after_commit();
    Ok(manager)
}

/// What choosing a manager did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerSet {
    /// The client is still its hunter's: the manager takes over at the
    /// first order.
    Planned,
    /// The manager is responsible now, with the client's open requests.
    Assigned,
}

/// An admin chooses a client's responsible manager instead of the least
/// loaded one. While a hunter still handles the client, the choice waits
/// for the first order (the rule); otherwise the manager takes the client
/// and its open requests at once. `None` clears a waiting choice.
pub async fn set_manager(
    s: &Services,
    actor: &Actor,
    client_id: i64,
    manager_id: Option<i64>,
) -> DomainResult<ManagerSet> {
    if !actor.is_staff() || !actor.has(Role::Admin) {
        return Err(DomainError::Forbidden);
    }
    let current = client_ownership(s, actor, client_id).await?;
    if let Some(m) = manager_id
        && !managers(s).await?.iter().any(|p| p.id == m)
    {
        return Err(DomainError::field("manager_id", "manager.invalid"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let result = if current.with_hunter() {
        sqlx::query("UPDATE organisations SET next_manager_user_id = $1 WHERE id = $2")
            .bind(manager_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        ManagerSet::Planned
    } else {
        let Some(m) = manager_id else {
            return Err(DomainError::field("manager_id", "required"));
        };
        let before = open_requests(&mut tx, client_id).await?;
        sqlx::query(
            "UPDATE organisations SET manager_user_id = $1, next_manager_user_id = NULL WHERE id = $2",
        )
        .bind(m)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        crate::intake::ownership::move_requests(&mut tx, client_id, m).await?;
        owners_changed(s, &mut tx, &before, Some(m), actor.user()).await?;
        ManagerSet::Assigned
    };
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "client.manager_chosen",
        "organisation",
        Some(client_id),
        json!({"manager": manager_id, "result": result}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(result)
}
