//! Role requirements of operations, stated once: which kind of actor an
//! operation is for. Every context asks here instead of keeping its own
//! `require_…` helper.

use crate::access::Actor;
use crate::access::roles::{OrgKind, Role};
use crate::error::{DomainError, DomainResult};

/// Who an operation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A supplier's owner or dispatcher ([`Actor::is_supplier_office`]).
    SupplierOffice,
    /// The broker's staff who deal with clients and suppliers
    /// ([`Actor::is_front_office`]).
    FrontOffice,
    /// Anyone of a client organisation.
    Client,
    /// The broker's administrators.
    Admin,
    /// The broker's administrators and analysts: who edit, check and
    /// activate workflow definitions.
    WorkflowEditor,
    /// The broker's accountants and administrators: who issue invoices,
    /// import bank statements and pay suppliers.
    Money,
}

impl Rule {
    /// Whether `actor` is who the rule names.
    pub fn holds(self, actor: &Actor) -> bool {
        match self {
            Rule::SupplierOffice => actor.is_supplier_office(),
            Rule::FrontOffice => actor.is_front_office(),
            Rule::Client => actor.org_kind() == OrgKind::Client,
            Rule::Admin => actor.is_staff() && actor.has(Role::Admin),
            Rule::WorkflowEditor => {
                actor.is_staff() && actor.has_any(&[Role::Admin, Role::Analyst])
            }
            Rule::Money => actor.is_staff() && actor.has_any(&[Role::Admin, Role::Accountant]),
        }
    }
}

/// `Ok` when the rule holds, else [`DomainError::Forbidden`].
pub fn require(actor: &Actor, rule: Rule) -> DomainResult<()> {
    if rule.holds(actor) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// `Ok` when the rule holds, else [`DomainError::NotFound`]: for objects
/// whose very existence is not shown to anyone outside the rule (a
/// supplier's RFQs, a client's offers).
pub fn require_or_hide(actor: &Actor, rule: Rule) -> DomainResult<()> {
    if rule.holds(actor) {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}
