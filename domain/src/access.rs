//! Tenancy and the broker's confidentiality, in one place.
//!
//! Every query that reads tenant data asks [`scope`] for the condition that
//! limits rows to what the caller may see, instead of each handler
//! remembering its own `WHERE org_id = …`. An object outside the scope is
//! indistinguishable from a missing one (the web answers 404), so ids of other
//! parties' objects reveal nothing.
//!
//! The only way to obtain an [`Actor`] is from a signed-in session, so a
//! repository function that takes `&Actor` cannot be called unscoped by
//! accident; background work that acts for the system uses [`Actor::system`].

use serde::Serialize;

use crate::roles::{OrgKind, Role};
use engine::Sql;

/// Who is acting: a signed-in user of one organisation, with their roles.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub user_id: i64,
    pub org_id: i64,
    pub org_kind: OrgKind,
    pub roles: Vec<Role>,
    pub full_name: String,
}

impl Actor {
    /// The system itself (workers, CLI): the broker's view, no user.
    pub fn system(broker_org_id: i64) -> Actor {
        Actor {
            user_id: 0,
            org_id: broker_org_id,
            org_kind: OrgKind::Broker,
            roles: vec![Role::Admin],
            full_name: String::new(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// The broker's own staff see across tenants (within their roles).
    pub fn is_staff(&self) -> bool {
        self.org_kind == OrgKind::Broker
    }

    /// The user id for audit and history columns (`None` for the system).
    pub fn user(&self) -> Option<i64> {
        (self.user_id != 0).then_some(self.user_id)
    }

    pub fn role_names(&self) -> Vec<&'static str> {
        self.roles.iter().map(|r| r.as_str()).collect()
    }
}

/// Kinds of tenant data, each with its visibility rule below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `organisations` rows: the caller's own; staff see all.
    Organisation,
    /// `users` rows: colleagues in the caller's organisation; staff see all.
    User,
    /// Rows owned by one organisation through an `org_id` column
    /// (machines, employees, files…): the owner's members; staff see all.
    OrgOwned,
}

/// Appends ` AND (<condition>)` limiting `alias` rows of `resource` to what
/// `actor` may see.
pub fn scope(sql: &mut Sql, actor: &Actor, resource: Resource, alias: &str) {
    if actor.is_staff() {
        // Staff see every tenant; role checks happen at the handler.
        return;
    }
    let column = match resource {
        Resource::Organisation => "id",
        Resource::User | Resource::OrgOwned => "org_id",
    };
    sql.push(" AND (")
        .push(alias)
        .push(".")
        .push(column)
        .push(" = ")
        .bind(actor.org_id)
        .push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supplier() -> Actor {
        Actor {
            user_id: 5,
            org_id: 42,
            org_kind: OrgKind::Supplier,
            roles: vec![Role::Owner],
            full_name: "x".into(),
        }
    }

    #[test]
    fn tenants_are_limited_to_their_organisation() {
        let mut sql = Sql::new("SELECT * FROM machines m WHERE m.id = ");
        sql.bind(7);
        scope(&mut sql, &supplier(), Resource::OrgOwned, "m");
        assert_eq!(
            sql.text(),
            "SELECT * FROM machines m WHERE m.id = $1 AND (m.org_id = $2)"
        );
        assert_eq!(sql.params().len(), 2);
    }

    #[test]
    fn staff_are_not_limited() {
        let mut sql = Sql::new("SELECT * FROM organisations o WHERE 1 = 1");
        scope(&mut sql, &Actor::system(1), Resource::Organisation, "o");
        assert_eq!(sql.text(), "SELECT * FROM organisations o WHERE 1 = 1");
    }
}
