use super::*;

/// Filters of the staff's directories.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DirectoryFilter {
    pub q: Option<String>,
    pub status: Option<String>,
    pub region: Option<String>,
    /// Suppliers having an active machine of this category.
    pub category: Option<String>,
    /// At most this many rows (1,000 when not set) after skipping `offset`;
    /// not form fields.
    #[serde(skip)]
    pub limit: Option<u32>,
    #[serde(skip)]
    pub offset: u32,
}

/// A line of a directory.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DirectoryRow {
    pub id: i64,
    pub name: String,
    pub legal_form: String,
    pub inn: Option<String>,
    pub region: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub machines: i64,
}

/// Suppliers or clients, for the broker's staff.
pub async fn directory(
    s: &Services,
    actor: &Actor,
    kind: OrgKind,
    f: &DirectoryFilter,
) -> DomainResult<Vec<DirectoryRow>> {
    if !actor.is_staff() || kind == OrgKind::Broker {
        return Err(DomainError::Forbidden);
    }
    let mut sql = Sql::new(
        "SELECT o.id, o.name, o.legal_form, o.inn, o.region, o.phone, o.email, o.status, o.created_at,
                (SELECT COUNT(*) FROM machines m WHERE m.org_id = o.id AND m.status = 'active') AS machines
         FROM organisations o WHERE o.kind = ",
    );
    sql.bind(kind.as_str());
    scope(&mut sql, actor, Resource::Organisation, "o");
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(" AND o.search_text LIKE ")
            .bind(crate::search::pattern(q))
            .push(" ESCAPE '\\'");
    }
    if let Some(st) = f.status.as_deref().filter(|v| !v.is_empty()) {
        sql.push(" AND o.status = ").bind(st);
    }
    if let Some(r) = f.region.as_deref().filter(|v| !v.is_empty()) {
        // The region is part of the folded search text.
        sql.push(" AND o.search_text LIKE ")
            .bind(crate::search::pattern(r))
            .push(" ESCAPE '\\'");
    }
    if let Some(c) = f.category.as_deref().filter(|v| !v.is_empty()) {
        sql.push(" AND EXISTS (SELECT 1 FROM machines m WHERE m.org_id = o.id AND m.status = 'active' AND m.category = ")
            .bind(c)
            .push(")");
    }
    sql.push(" ORDER BY o.name, o.id LIMIT ")
        .push(&f.limit.unwrap_or(1000).min(1000).to_string())
        .push(" OFFSET ")
        .push(&f.offset.to_string());
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A client's contact person.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub org_id: i64,
    pub full_name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactInput {
    pub full_name: String,
    pub position: String,
    pub phone: String,
    pub email: String,
}

pub async fn contacts(s: &Services, actor: &Actor, org_id: i64) -> DomainResult<Vec<Contact>> {
    let mut sql = Sql::new(
        "SELECT c.id, c.org_id, c.full_name, c.position, c.phone, c.email FROM org_contacts c WHERE c.org_id = ",
    );
    sql.bind(org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "c");
    sql.push(" ORDER BY c.full_name");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

pub async fn add_contact(s: &Services, actor: &Actor, input: &ContactInput) -> DomainResult<i64> {
    let mut e = FieldErrors::new();
    if input.full_name.trim().is_empty() {
        e.add("full_name", "required");
    }
    let phone = e.optional("phone", &input.phone, "phone.invalid", PhoneNumber::parse);
    let email = e.optional("email", &input.email, "email.invalid", Email::parse);
    if phone.is_none() && email.is_none() && e.get("phone").is_none() && e.get("email").is_none() {
        e.add("phone", "contact.phone_or_email_required");
    }
    e.into_result()?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO org_contacts (org_id, full_name, position, phone, email, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(actor.org_id())
    .bind(input.full_name.trim())
    .bind(opt(&input.position))
    .bind(phone)
    .bind(email)
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "contact.added",
        "organisation",
        Some(actor.org_id()),
        json!({"contact_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_contact(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    let mut sql = Sql::new(
        "SELECT c.id, c.org_id, c.full_name, c.position, c.phone, c.email FROM org_contacts c WHERE c.id = ",
    );
    sql.bind(id);
    scope(&mut sql, actor, Resource::OrgOwned, "c");
    let found: Option<Contact> = sql.query_as().fetch_optional(s.db.pool()).await?;
    let c = found.ok_or(DomainError::NotFound)?;
    if c.org_id != actor.org_id() {
        return Err(DomainError::NotFound);
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query("DELETE FROM org_contacts WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "contact.removed",
        "organisation",
        Some(actor.org_id()),
        json!({"contact_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
