//! Access: who is acting and what they may see — actors, roles, the tenancy
//! scope every tenant query goes through, the role requirements of
//! operations, and the audit trail of who did what.
//!
//! Offers the others [`Actor`], [`scope`] and [`Resource`] (one mechanism for
//! tenancy), [`require`] with a [`Rule`] (the role requirements of
//! operations, once), [`roles`] (the roles and organisation kinds),
//! [`broker_id`] (the broker's own organisation, which every context may
//! need) and [`audit`].
//! Depends on no other context. `audit` sits here rather than in its own
//! context because it records *who* acted, which is what this context knows.

mod actor;
pub mod audit;
mod broker;
mod objects;
pub mod roles;
mod rules;

pub use actor::*;
pub use broker::{broker_id, broker_id_on};
pub use objects::{instance_scope, object_visible, require_object};
pub use rules::{Rule, require, require_or_hide};

use engine::EngineBuilder;

use roles::Role;

/// Registers the roles workflow tasks may name.
pub(crate) fn register_engine(b: EngineBuilder) -> EngineBuilder {
    b.roles(Role::ALL.iter().map(|r| r.as_str()))
}
