//! Who is who: the three sides of the brokerage and the roles on each.

use serde::{Deserialize, Serialize};

/// The side an organisation is on. The broker stands between suppliers and
/// clients and is the only side that sees both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Broker,
    Supplier,
    Client,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Broker => "broker",
            OrgKind::Supplier => "supplier",
            OrgKind::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        match s {
            "broker" => Some(OrgKind::Broker),
            "supplier" => Some(OrgKind::Supplier),
            "client" => Some(OrgKind::Client),
            _ => None,
        }
    }
}

/// A role a user holds inside their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    // The broker's staff.
    Admin,
    Hunter,
    Manager,
    Operator,
    Accountant,
    Analyst,
    // A supplier's people.
    Owner,
    Dispatcher,
    Driver,
    // A client's people.
    Client,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Admin,
        Role::Hunter,
        Role::Manager,
        Role::Operator,
        Role::Accountant,
        Role::Analyst,
        Role::Owner,
        Role::Dispatcher,
        Role::Driver,
        Role::Client,
    ];

    pub const STAFF: [Role; 6] = [
        Role::Admin,
        Role::Hunter,
        Role::Manager,
        Role::Operator,
        Role::Accountant,
        Role::Analyst,
    ];

    pub const SUPPLIER: [Role; 3] = [Role::Owner, Role::Dispatcher, Role::Driver];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Hunter => "hunter",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Accountant => "accountant",
            Role::Analyst => "analyst",
            Role::Owner => "owner",
            Role::Dispatcher => "dispatcher",
            Role::Driver => "driver",
            Role::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The side of the brokerage a role belongs to; a user may only hold
    /// roles of their organisation's side.
    pub fn side(self) -> OrgKind {
        match self {
            Role::Admin
            | Role::Hunter
            | Role::Manager
            | Role::Operator
            | Role::Accountant
            | Role::Analyst => OrgKind::Broker,
            Role::Owner | Role::Dispatcher | Role::Driver => OrgKind::Supplier,
            Role::Client => OrgKind::Client,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_belong_to_one_side() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(Role::STAFF.iter().all(|r| r.side() == OrgKind::Broker));
        assert!(Role::SUPPLIER.iter().all(|r| r.side() == OrgKind::Supplier));
        assert_eq!(Role::Client.side(), OrgKind::Client);
        assert_eq!(Role::parse("root"), None);
    }
}
