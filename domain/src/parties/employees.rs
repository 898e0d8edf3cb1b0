//! A supplier's people: dispatchers and drivers/operators. The owner keeps
//! their records (licences, photo) and invites each to create their own
//! login; accepting the invitation makes a user with that role in the
//! supplier's organisation.

use chrono::Duration;
use engine::{Sql, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::roles::Role;
use crate::access::{Actor, Resource, scope};
use crate::accounts::{MIN_PASSWORD_LEN, NewUser, PasswordHash, insert_user};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::notify::{self, NewNotification};
use crate::services::Services;
use crate::values::{Email, PhoneNumber};
use crate::{access::audit, accounts::tokens, args};

/// Driving licence categories (ПДД) a driver may hold.
pub const LICENCE_CATEGORIES: [&str; 16] = [
    "A", "A1", "B", "B1", "BE", "C", "C1", "CE", "C1E", "D", "D1", "DE", "D1E", "M", "Tm", "Tb",
];

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Employee {
    pub id: i64,
    pub org_id: i64,
    pub user_id: Option<i64>,
    pub role: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub licence_categories: Option<String>,
    pub operator_licence: Option<String>,
    pub photo_file_id: Option<i64>,
    pub status: String,
    pub created_at: i64,
}

const COLUMNS: &str = "e.id, e.org_id, e.user_id, e.role, e.full_name, e.phone, e.email, e.licence_categories, e.operator_licence, e.photo_file_id, e.status, e.created_at";

/// An employee as typed into the form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmployeeInput {
    pub role: String,
    pub full_name: String,
    pub phone: String,
    pub email: String,
    /// Comma- or space-separated categories, e.g. "B, C, CE".
    pub licence_categories: String,
    pub operator_licence: String,
}

#[derive(Debug, Clone)]
struct ValidEmployee {
    role: Role,
    full_name: String,
    phone: Option<String>,
    email: Option<String>,
    licence_categories: Option<String>,
    operator_licence: Option<String>,
}

impl EmployeeInput {
    fn validate(&self) -> Result<ValidEmployee, FieldErrors> {
        let mut e = FieldErrors::new();
        let role = match Role::parse(self.role.trim()) {
            Some(r @ (Role::Dispatcher | Role::Driver)) => Some(r),
            _ => {
                e.add("role", "role.invalid");
                None
            }
        };
        if self.full_name.trim().is_empty() {
            e.add("full_name", "required");
        }
        let phone = e.required("phone", &self.phone, "phone.invalid", PhoneNumber::parse);
        let email = e.optional("email", &self.email, "email.invalid", Email::parse);
        let mut cats = Vec::new();
        for c in self
            .licence_categories
            .split([',', ' ', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            // Cyrillic look-alikes are common in typed categories.
            let latin: String = c
                .chars()
                .map(|ch| match ch {
                    'А' | 'а' => 'A',
                    'В' | 'в' => 'B',
                    'С' | 'с' => 'C',
                    'Е' | 'е' => 'E',
                    'М' | 'м' => 'M',
                    'Т' | 'т' => 'T',
                    other => other,
                })
                .collect();
            match LICENCE_CATEGORIES
                .iter()
                .find(|k| k.eq_ignore_ascii_case(&latin))
            {
                Some(k) => {
                    if !cats.contains(k) {
                        cats.push(*k)
                    }
                }
                None => {
                    e.add("licence_categories", "licence.unknown_category");
                    break;
                }
            }
        }
        if role == Some(Role::Driver) && cats.is_empty() && self.operator_licence.trim().is_empty()
        {
            e.add("licence_categories", "licence.driver_needs_licence");
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ValidEmployee {
            role: role.unwrap_or(Role::Driver),
            full_name: self.full_name.trim().to_string(),
            phone,
            email,
            licence_categories: (!cats.is_empty()).then(|| cats.join(", ")),
            operator_licence: Some(self.operator_licence.trim().to_string())
                .filter(|s| !s.is_empty()),
        })
    }
}

/// Employees of `org_id` the actor may see (a supplier sees only its own).
pub async fn list(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    include_archived: bool,
) -> DomainResult<Vec<Employee>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM employees e WHERE e.org_id = ")
        .bind(org_id);
    scope(&mut sql, actor, Resource::OrgOwned, "e");
    if !include_archived {
        sql.push(" AND e.status = 'active'");
    }
    sql.push(" ORDER BY e.role, e.full_name");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Employee> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM employees e WHERE e.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::OrgOwned, "e");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Who may change an employee: the owner anyone; a dispatcher only people
/// without a login of their own (a colleague's account is the owner's to
/// change) and never into a dispatcher (no one promotes themselves or a
/// friend to the office).
fn may_manage(actor: &Actor, current: &Employee, new_role: Option<Role>) -> DomainResult<()> {
    if actor.has(Role::Owner) {
        return Ok(());
    }
    if current.user_id.is_some()
        || current.role == "dispatcher"
        || new_role == Some(Role::Dispatcher)
    {
        return Err(DomainError::Forbidden);
    }
    Ok(())
}

/// Adds an employee to the actor's own supplier organisation.
pub async fn create(
    s: &Services,
    actor: &Actor,
    input: &EmployeeInput,
    photo: Option<i64>,
) -> DomainResult<i64> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let v = input.validate().map_err(DomainError::Invalid)?;
    if v.role == Role::Dispatcher && !actor.has(Role::Owner) {
        return Err(DomainError::Forbidden);
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO employees (org_id, role, full_name, phone, email, licence_categories, operator_licence, photo_file_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(actor.org_id())
    .bind(v.role.as_str())
    .bind(&v.full_name)
    .bind(v.phone.clone())
    .bind(v.email.clone())
    .bind(v.licence_categories.clone())
    .bind(v.operator_licence.clone())
    .bind(photo)
    .bind(to_db_time(now))
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "employee.created",
        "employee",
        Some(id),
        json!({"role": v.role}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Updates an employee of the actor's organisation. The role of someone
/// who already has a login changes with it.
pub async fn update(
    s: &Services,
    actor: &Actor,
    id: i64,
    input: &EmployeeInput,
    photo: Option<i64>,
) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let current = get(s, actor, id).await?;
    if current.org_id != actor.org_id() {
        return Err(DomainError::NotFound);
    }
    if current.role == "owner" {
        return Err(DomainError::Conflict("employee.owner_is_edited_in_profile"));
    }
    let v = input.validate().map_err(DomainError::Invalid)?;
    may_manage(actor, &current, Some(v.role))?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query(
        "UPDATE employees SET role = $1, full_name = $2, phone = $3, email = $4, licence_categories = $5,
            operator_licence = $6, photo_file_id = COALESCE($7, photo_file_id), updated_at = $8 WHERE id = $9",
    )
    .bind(v.role.as_str())
    .bind(&v.full_name)
    .bind(v.phone.clone())
    .bind(v.email.clone())
    .bind(v.licence_categories.clone())
    .bind(v.operator_licence.clone())
    .bind(photo)
    .bind(to_db_time(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if let Some(uid) = current.user_id {
        sqlx::query("UPDATE user_roles SET role = $1 WHERE user_id = $2 AND role IN ('dispatcher', 'driver')")
            .bind(v.role.as_str())
            .bind(uid)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "employee.updated",
        "employee",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    if let Some(uid) = current.user_id {
        crate::accounts::session_cache::forget_user(&s.db, uid);
    }
    Ok(())
}

/// Archives an employee; their login, if any, is disabled.
pub async fn archive(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let current = get(s, actor, id).await?;
    if current.org_id != actor.org_id() {
        return Err(DomainError::NotFound);
    }
    if current.role == "owner" {
        return Err(DomainError::Conflict("employee.owner_cannot_be_archived"));
    }
    may_manage(actor, &current, None)?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    sqlx::query("UPDATE employees SET status = 'archived', updated_at = $1 WHERE id = $2")
        .bind(to_db_time(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(uid) = current.user_id {
        sqlx::query("UPDATE users SET status = 'disabled', updated_at = $1 WHERE id = $2")
            .bind(to_db_time(now))
            .bind(uid)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(uid)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "employee.archived",
        "employee",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    if let Some(uid) = current.user_id {
        crate::accounts::session_cache::forget_user(&s.db, uid);
    }
    Ok(())
}

/// Sends the employee a link to create their own login. Returns the link
/// (the owner may also pass it on by hand).
pub async fn invite(s: &Services, actor: &Actor, id: i64) -> DomainResult<String> {
    crate::access::require(actor, crate::access::Rule::SupplierOffice)?;
    let e = get(s, actor, id).await?;
    if e.org_id != actor.org_id() {
        return Err(DomainError::NotFound);
    }
    if e.user_id.is_some() {
        return Err(DomainError::Conflict("employee.already_has_login"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let token = tokens::issue(
        &mut tx,
        now,
        "employee_invite",
        None,
        &json!({"employee_id": id}),
        Duration::days(7),
    )
    .await?;
    let link = format!("{}/join/{token}", s.base_url);
    let org_name: String = sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1")
        .bind(e.org_id)
        .fetch_one(&mut *tx)
        .await?;
    let a = args!["name" => e.full_name, "org" => org_name, "link" => link];
    let (channel, recipient) = match (&e.email, &e.phone) {
        (Some(m), _) => ("email", m.clone()),
        (None, Some(p)) => ("sms", p.clone()),
        _ => return Err(DomainError::field("phone", "required")),
    };
    notify::enqueue(
        &mut tx,
        now,
        NewNotification {
            channel: channel.into(),
            recipient,
            user_id: None,
            subject: s.texts.text("mail-employee-invite-subject", &a),
            body: s.texts.text("mail-employee-invite-body", &a),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "employee.invited",
        "employee",
        Some(id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(link)
}

/// Who an invitation is for, to greet them on the page.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub employee_id: i64,
    pub full_name: String,
    pub role: String,
    pub org_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

pub async fn invitation(s: &Services, token: &str) -> DomainResult<Invitation> {
    let Some((_, payload)) =
        tokens::peek(s.db.pool(), s.db.now(), "employee_invite", token).await?
    else {
        return Err(DomainError::Conflict("link.invalid"));
    };
    let id = payload
        .get("employee_id")
        .and_then(serde_json::Value::as_i64)
        .ok_or(DomainError::Conflict("link.invalid"))?;
    #[derive(sqlx::FromRow)]
    struct Row {
        full_name: String,
        role: String,
        org_name: String,
        email: Option<String>,
        phone: Option<String>,
        user_id: Option<i64>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT e.full_name, e.role, o.name AS org_name, e.email, e.phone, e.user_id FROM employees e JOIN organisations o ON o.id = e.org_id
         WHERE e.id = $1 AND e.status = 'active'",
    )
    .bind(id)
    .fetch_optional(s.db.pool())
    .await?;
    match row {
        // Someone who already has a login cannot accept again.
        Some(r) if r.user_id.is_none() => Ok(Invitation {
            employee_id: id,
            full_name: r.full_name,
            role: r.role,
            org_name: r.org_name,
            email: r.email,
            phone: r.phone,
        }),
        _ => Err(DomainError::Conflict("link.invalid")),
    }
}

/// Accepts an invitation: a login with the employee's role in their
/// organisation, signed in by e-mail or phone as recorded.
pub async fn accept_invitation(
    s: &Services,
    token: &str,
    password: &str,
    confirm: &str,
) -> DomainResult<i64> {
    let inv = invitation(s, token).await?;
    let mut e = FieldErrors::new();
    if password.chars().count() < MIN_PASSWORD_LEN {
        e.add("password", "password.too_short");
    }
    if password != confirm {
        e.add("confirm", "password.mismatch");
    }
    e.into_result()?;
    let role = Role::parse(&inv.role).ok_or(DomainError::Conflict("link.invalid"))?;
    // Hashed before the transaction opens (see `PasswordHash`).
    let password = PasswordHash::of(password).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    if tokens::consume(&mut tx, now, "employee_invite", token)
        .await?
        .is_none()
    {
        return Err(DomainError::Conflict("link.invalid"));
    }
    let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM employees WHERE id = $1")
        .bind(inv.employee_id)
        .fetch_one(&mut *tx)
        .await?;
    let user_id = insert_user(
        &mut tx,
        now,
        org_id,
        &NewUser {
            full_name: inv.full_name.clone(),
            email: inv.email.clone(),
            phone: inv.phone.clone(),
            roles: vec![role],
            password: Some(password),
        },
    )
    .await
    .map_err(|err| match err {
        // The e-mail or phone is taken by another account: the owner must fix the record.
        DomainError::Invalid(_) => DomainError::Conflict("employee.login_taken"),
        other => other,
    })?;
    sqlx::query("UPDATE employees SET user_id = $1, updated_at = $2 WHERE id = $3")
        .bind(user_id)
        .bind(to_db_time(now))
        .bind(inv.employee_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        None,
        "employee.joined",
        "employee",
        Some(inv.employee_id),
        json!({"user_id": user_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licence_categories_are_normalised() {
        let i = EmployeeInput {
            role: "driver".into(),
            full_name: "Иван".into(),
            phone: "8 916 000-00-01".into(),
            licence_categories: "В, с; CE".into(),
            ..Default::default()
        };
        let v = i.validate().expect("valid");
        assert_eq!(v.licence_categories.as_deref(), Some("B, C, CE"));
        let bad = EmployeeInput {
            licence_categories: "Z".into(),
            ..i.clone()
        };
        assert_eq!(
            bad.validate().expect_err("bad").get("licence_categories"),
            Some("licence.unknown_category")
        );
        let owner = EmployeeInput {
            role: "owner".into(),
            ..i
        };
        assert_eq!(
            owner.validate().expect_err("bad").get("role"),
            Some("role.invalid")
        );
    }
}
