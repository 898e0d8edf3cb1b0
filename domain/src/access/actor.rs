//! Tenancy and the broker's confidentiality, in one place.
//!
//! Every query that reads tenant data asks [`scope`] for the condition that
//! limits rows to what the caller may see, instead of each handler
//! remembering its own `WHERE org_id = …`. An object outside the scope is
//! indistinguishable from a missing one (the web answers 404), so ids of other
//! parties' objects reveal nothing.
//!
//! The only way to obtain an [`Actor`] is from a signed-in session or an
//! account lookup in this crate ([`Actor::signed_in`] is crate-private), so
//! a repository function that takes `&Actor` cannot be called unscoped or
//! for a made-up person by accident. The system itself (workers, the command
//! line, demo seeding) is a [`SystemActor`], a different type: it is never
//! accepted where a person is, and the few places that take either (the
//! tenancy [`scope`]) say so with [`Acting`].

use serde::Serialize;

use crate::access::roles::{OrgKind, Role};
use engine::Sql;

/// Who is acting: a signed-in user of one organisation, with their roles.
/// Its fields are private: an `Actor` is what a session lookup found, never
/// assembled by hand.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    user_id: i64,
    org_id: i64,
    org_kind: OrgKind,
    roles: Vec<Role>,
    full_name: String,
}

impl Actor {
    /// A person as their session (or an account lookup in this crate) shows
    /// them. Roles of the other side's kind are dropped: a role belongs to
    /// one kind of organisation.
    pub(crate) fn signed_in(
        user_id: i64,
        org_id: i64,
        org_kind: OrgKind,
        roles: impl IntoIterator<Item = Role>,
        full_name: String,
    ) -> Actor {
        let mut own: Vec<Role> = Vec::new();
        for r in roles {
            if r.side() == org_kind && !own.contains(&r) {
                own.push(r);
            }
        }
        Actor {
            user_id,
            org_id,
            org_kind,
            roles: own,
            full_name,
        }
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    pub fn org_id(&self) -> i64 {
        self.org_id
    }

    pub fn org_kind(&self) -> OrgKind {
        self.org_kind
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    pub fn full_name(&self) -> &str {
        &self.full_name
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

    /// A supplier's owner or dispatcher: who runs its garage and answers
    /// requests for quotes.
    pub fn is_supplier_office(&self) -> bool {
        self.org_kind == OrgKind::Supplier && self.has_any(&[Role::Owner, Role::Dispatcher])
    }

    /// Staff who deal with clients and suppliers: admins, managers, hunters
    /// and operators.
    pub fn is_front_office(&self) -> bool {
        self.is_staff() && self.has_any(&[Role::Admin, Role::Manager, Role::Hunter, Role::Operator])
    }

    /// The user id for audit and history columns, which are optional
    /// because the system and anonymous visitors act too; for an `Actor`
    /// it is always there.
    pub fn user(&self) -> Option<i64> {
        Some(self.user_id)
    }

    pub fn role_names(&self) -> Vec<&'static str> {
        self.roles.iter().map(|r| r.as_str()).collect()
    }
}

/// The system acting on its own: workflow workers, the command line, demo
/// seeding. It is not an [`Actor`] — no user, no organisation, no roles — so
/// it cannot be handed to an operation that a person performs; it sees every
/// tenant's rows where a function takes [`Acting`], and it may act for a
/// person by name ([`crate::accounts::act_for`]). The web layer never makes
/// one (web/tests/layering.rs checks).
#[derive(Debug, Clone)]
pub struct SystemActor {
    // Private, so that the only way to make one is `new`, which says so.
    _system: (),
}

impl SystemActor {
    pub fn new() -> SystemActor {
        SystemActor { _system: () }
    }
}

impl Default for SystemActor {
    fn default() -> Self {
        SystemActor::new()
    }
}

/// Either who may act where both can: a signed-in person (limited by the
/// tenancy rules) or the system (limited by nothing).
#[derive(Debug, Clone, Copy)]
pub enum Acting<'a> {
    User(&'a Actor),
    System(&'a SystemActor),
}

impl<'a> From<&'a Actor> for Acting<'a> {
    fn from(a: &'a Actor) -> Self {
        Acting::User(a)
    }
}

impl<'a> From<&'a SystemActor> for Acting<'a> {
    fn from(s: &'a SystemActor) -> Self {
        Acting::System(s)
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
    /// `requests` rows: a client sees its own organisation's requests; a
    /// supplier sees none (the broker stands between the parties); staff
    /// see all, except a hunter without another staff role, who sees the
    /// requests of the clients they brought and the ones they own — a
    /// hunter's book is their own clients.
    Request,
    /// `rfqs` rows (our requests for quotes to a supplier): the supplier's
    /// members (`supplier_org_id`); staff see all; clients none.
    Rfq,
    /// `supplier_quotes` rows: the quoting supplier's members
    /// (`supplier_org_id`); staff see all; clients never see a supplier's
    /// quote (price, machine, identity).
    SupplierQuote,
    /// `offers` rows (our quote to the client): the client's members
    /// (`client_org_id`); staff see all; suppliers never see our price.
    Offer,
    /// `orders` rows: the client's members see their orders
    /// (`client_org_id`); a supplier's office sees the orders it has a leg
    /// in; a driver without an office role none (yet); staff see all,
    /// except a hunter without another staff role, who sees the orders of
    /// their book (as requests) and the ones they handle. What each side
    /// sees *of* an order is cut by `orders::view`.
    Order,
    /// `contracts` rows: the party's members (`party_org_id`; a
    /// supplier's office, not its drivers); staff see all, a hunter the
    /// contracts of the organisations in their book.
    Contract,
    /// `files` rows: as [`Resource::OrgOwned`], except that a driver (with
    /// no office role) sees only their own uploads and photo, and the
    /// photos and documents of the machines they are named for in a quote
    /// (their jobs) — not every file of the company.
    File,
}

/// Appends ` AND (<condition>)` limiting `alias` rows of `resource` to what
/// `who` may see: a person's tenancy; the system sees everything.
pub fn scope<'a>(sql: &mut Sql, who: impl Into<Acting<'a>>, resource: Resource, alias: &str) {
    let actor = match who.into() {
        Acting::User(a) => a,
        Acting::System(_) => return,
    };
    if resource == Resource::Request {
        scope_requests(sql, actor, alias);
        return;
    }
    if resource == Resource::Order {
        scope_orders(sql, actor, alias);
        return;
    }
    if resource == Resource::Contract {
        scope_contracts(sql, actor, alias);
        return;
    }
    if let Some((side, column)) = match resource {
        Resource::Rfq | Resource::SupplierQuote => Some((OrgKind::Supplier, "supplier_org_id")),
        Resource::Offer => Some((OrgKind::Client, "client_org_id")),
        _ => None,
    } {
        scope_one_side(sql, actor, alias, side, column);
        return;
    }
    if resource == Resource::File && driver_only(actor) {
        scope_driver_files(sql, actor, alias);
        return;
    }
    if resource == Resource::Organisation && hunter_only(actor) {
        scope_hunter_organisations(sql, actor, alias);
        return;
    }
    if actor.is_staff() {
        // Staff see every tenant; role checks happen at the handler.
        return;
    }
    let column = match resource {
        Resource::Organisation => "id",
        Resource::User | Resource::OrgOwned | Resource::File => "org_id",
        Resource::Request => "client_org_id",
        Resource::Rfq | Resource::SupplierQuote => "supplier_org_id",
        Resource::Offer => "client_org_id",
        Resource::Order => "client_org_id",
        Resource::Contract => "party_org_id",
    };
    sql.push(" AND (")
        .push(alias)
        .push(".")
        .push(column)
        .push(" = ")
        .bind(actor.org_id)
        .push(")");
}

/// Whether the actor is a hunter and nothing else on the staff (hunters
/// who are also managers or admins see what those roles see).
pub fn hunter_only(actor: &Actor) -> bool {
    actor.is_staff()
        && actor.has(Role::Hunter)
        && !actor.has_any(&[
            Role::Admin,
            Role::Manager,
            Role::Operator,
            Role::Accountant,
            Role::Analyst,
        ])
}

/// Whether the actor is a supplier's driver without an office role.
pub fn driver_only(actor: &Actor) -> bool {
    actor.org_kind == OrgKind::Supplier
        && actor.has(Role::Driver)
        && !actor.has_any(&[Role::Owner, Role::Dispatcher])
}

fn scope_driver_files(sql: &mut Sql, actor: &Actor, alias: &str) {
    let me = actor.user_id;
    // Every machine of a quote names its own driver.
    let assigned = "SELECT q.machine_id FROM supplier_quote_machines q JOIN employees qe ON qe.id = q.employee_id WHERE qe.user_id = ";
    sql.push(" AND (")
        .push(alias)
        .push(".org_id = ")
        .bind(actor.org_id)
        .push(") AND (")
        .push(alias)
        .push(".uploaded_by = ")
        .bind(me)
        .push(" OR ")
        .push(alias)
        .push(".id IN (SELECT e.photo_file_id FROM employees e WHERE e.user_id = ")
        .bind(me)
        .push(") OR ")
        .push(alias)
        .push(".id IN (SELECT m.photo_file_id FROM machines m WHERE m.id IN (")
        .push(assigned)
        .bind(me)
        .push(")) OR ")
        .push(alias)
        .push(".id IN (SELECT mp.file_id FROM machine_photos mp WHERE mp.machine_id IN (")
        .push(assigned)
        .bind(me)
        .push(")) OR ")
        .push(alias)
        .push(".id IN (SELECT md.file_id FROM machine_documents md WHERE md.machine_id IN (")
        .push(assigned)
        .bind(me)
        .push(")))");
}

/// A hunter's client directory is their book, as with requests: the
/// clients they brought and those whose requests they hold. Other sides'
/// organisations (suppliers, the broker) are not limited.
fn scope_hunter_organisations(sql: &mut Sql, actor: &Actor, alias: &str) {
    sql.push(" AND (")
        .push(alias)
        .push(".kind <> 'client' OR ")
        .push(alias)
        .push(".hunter_user_id = ")
        .bind(actor.user_id)
        .push(" OR EXISTS (SELECT 1 FROM requests hr WHERE hr.client_org_id = ")
        .push(alias)
        .push(".id AND (hr.hunter_user_id = ")
        .bind(actor.user_id)
        .push(" OR hr.owner_user_id = ")
        .bind(actor.user_id)
        .push(")))");
}

fn scope_requests(sql: &mut Sql, actor: &Actor, alias: &str) {
    if actor.is_staff() {
        if hunter_only(actor) {
            sql.push(" AND (")
                .push(alias)
                .push(".hunter_user_id = ")
                .bind(actor.user_id)
                .push(" OR ")
                .push(alias)
                .push(".owner_user_id = ")
                .bind(actor.user_id)
                .push(" OR ")
                .push(alias)
                .push(
                    ".client_org_id IN (SELECT h.id FROM organisations h WHERE h.hunter_user_id = ",
                )
                .bind(actor.user_id)
                .push("))");
        }
        return;
    }
    if actor.org_kind == OrgKind::Client {
        // A public request that matched this client on a phone, an e-mail
        // or an INN alone is not the client's until staff confirm it: a
        // stranger's request (and its contacts) stays out of the cabinet.
        sql.push(" AND (")
            .push(alias)
            .push(".client_org_id = ")
            .bind(actor.org_id)
            .push(" AND NOT EXISTS (SELECT 1 FROM request_client_matches cm WHERE cm.request_id = ")
            .push(alias)
            .push(".id AND cm.status = 'unconfirmed'))");
    } else {
        // Suppliers never see requests: they see our RFQs, not the client's request.
        sql.push(" AND 1 = 0");
    }
}

fn scope_orders(sql: &mut Sql, actor: &Actor, alias: &str) {
    if actor.is_staff() {
        if hunter_only(actor) {
            // The hunter's book, as with requests, and the orders they handle.
            sql.push(" AND (")
                .push(alias)
                .push(".manager_user_id = ")
                .bind(actor.user_id)
                .push(" OR ")
                .push(alias)
                .push(".request_id IN (SELECT hr.id FROM requests hr WHERE 1 = 1");
            scope_requests(sql, actor, "hr");
            sql.push("))");
        }
        return;
    }
    match actor.org_kind {
        OrgKind::Client => {
            sql.push(" AND (")
                .push(alias)
                .push(".client_org_id = ")
                .bind(actor.org_id)
                .push(")");
        }
        OrgKind::Supplier if actor.is_supplier_office() => {
            sql.push(" AND EXISTS (SELECT 1 FROM order_legs sl WHERE sl.order_id = ")
                .push(alias)
                .push(".id AND sl.side = 'supplier' AND sl.party_org_id = ")
                .bind(actor.org_id)
                .push(")");
        }
        _ => {
            sql.push(" AND 1 = 0");
        }
    }
}

fn scope_contracts(sql: &mut Sql, actor: &Actor, alias: &str) {
    if actor.is_staff() {
        if hunter_only(actor) {
            sql.push(" AND ")
                .push(alias)
                .push(".party_org_id IN (SELECT ho.id FROM organisations ho WHERE 1 = 1");
            scope_hunter_organisations(sql, actor, "ho");
            sql.push(")");
        }
        return;
    }
    if actor.org_kind == OrgKind::Supplier && !actor.is_supplier_office() {
        sql.push(" AND 1 = 0");
        return;
    }
    sql.push(" AND (")
        .push(alias)
        .push(".party_org_id = ")
        .bind(actor.org_id)
        .push(")");
}

/// Rows that belong to one party of one side (an RFQ or a supplier's quote
/// to a supplier, our offer to a client): that party's members see them,
/// staff see all, the other side sees none — the broker stands between.
fn scope_one_side(sql: &mut Sql, actor: &Actor, alias: &str, side: OrgKind, column: &str) {
    if actor.is_staff() {
        return;
    }
    if actor.org_kind != side {
        sql.push(" AND 1 = 0");
        return;
    }
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
        Actor::signed_in(5, 42, OrgKind::Supplier, [Role::Owner], "x".into())
    }

    fn hunter() -> Actor {
        Actor::signed_in(3, 1, OrgKind::Broker, [Role::Hunter], "h".into())
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
    fn suppliers_never_see_requests_and_hunters_see_their_book() {
        let mut sql = Sql::new("SELECT r.id FROM requests r WHERE 1 = 1");
        scope(&mut sql, &supplier(), Resource::Request, "r");
        assert_eq!(
            sql.text(),
            "SELECT r.id FROM requests r WHERE 1 = 1 AND 1 = 0"
        );
        let hunter = hunter();
        let mut sql = Sql::new("SELECT r.id FROM requests r WHERE 1 = 1");
        scope(&mut sql, &hunter, Resource::Request, "r");
        assert!(
            sql.text().contains("r.hunter_user_id = $1"),
            "{}",
            sql.text()
        );
        assert_eq!(sql.params().len(), 3);
        let mut sql = Sql::new("SELECT r.id FROM requests r WHERE 1 = 1");
        scope(&mut sql, &SystemActor::new(), Resource::Request, "r");
        assert_eq!(sql.text(), "SELECT r.id FROM requests r WHERE 1 = 1");
    }

    #[test]
    fn a_hunters_client_directory_is_their_book() {
        let hunter = hunter();
        let mut sql = Sql::new("SELECT o.id FROM organisations o WHERE 1 = 1");
        scope(&mut sql, &hunter, Resource::Organisation, "o");
        assert!(
            sql.text()
                .contains("o.kind <> 'client' OR o.hunter_user_id = $1"),
            "{}",
            sql.text()
        );
        assert_eq!(sql.params().len(), 3);
    }

    #[test]
    fn orders_are_seen_by_their_client_their_suppliers_and_a_hunters_book() {
        let client = Actor::signed_in(9, 77, OrgKind::Client, [Role::Client], "c".into());
        let mut sql = Sql::new("SELECT o.id FROM orders o WHERE 1 = 1");
        scope(&mut sql, &client, Resource::Order, "o");
        assert_eq!(
            sql.text(),
            "SELECT o.id FROM orders o WHERE 1 = 1 AND (o.client_org_id = $1)"
        );
        let mut sql = Sql::new("SELECT o.id FROM orders o WHERE 1 = 1");
        scope(&mut sql, &supplier(), Resource::Order, "o");
        assert!(
            sql.text().contains(
                "EXISTS (SELECT 1 FROM order_legs sl WHERE sl.order_id = o.id AND sl.side = 'supplier' AND sl.party_org_id = $1)"
            ),
            "{}",
            sql.text()
        );
        // A driver without an office role sees no order yet.
        let driver = Actor::signed_in(5, 42, OrgKind::Supplier, [Role::Driver], "x".into());
        let mut sql = Sql::new("SELECT o.id FROM orders o WHERE 1 = 1");
        scope(&mut sql, &driver, Resource::Order, "o");
        assert!(sql.text().ends_with("AND 1 = 0"), "{}", sql.text());
        let hunter = hunter();
        let mut sql = Sql::new("SELECT o.id FROM orders o WHERE 1 = 1");
        scope(&mut sql, &hunter, Resource::Order, "o");
        assert!(
            sql.text().contains("o.manager_user_id = $1")
                && sql.text().contains("hr.hunter_user_id = $2"),
            "{}",
            sql.text()
        );
        let mut sql = Sql::new("SELECT c.id FROM contracts c WHERE 1 = 1");
        scope(&mut sql, &driver, Resource::Contract, "c");
        assert!(sql.text().ends_with("AND 1 = 0"), "{}", sql.text());
        let mut sql = Sql::new("SELECT c.id FROM contracts c WHERE 1 = 1");
        scope(&mut sql, &supplier(), Resource::Contract, "c");
        assert!(
            sql.text().ends_with("(c.party_org_id = $1)"),
            "{}",
            sql.text()
        );
    }

    #[test]
    fn staff_and_the_system_are_not_limited() {
        let admin = Actor::signed_in(1, 1, OrgKind::Broker, [Role::Admin], "a".into());
        let mut sql = Sql::new("SELECT * FROM organisations o WHERE 1 = 1");
        scope(&mut sql, &admin, Resource::Organisation, "o");
        assert_eq!(sql.text(), "SELECT * FROM organisations o WHERE 1 = 1");
        let mut sql = Sql::new("SELECT * FROM organisations o WHERE 1 = 1");
        scope(&mut sql, &SystemActor::new(), Resource::Organisation, "o");
        assert_eq!(sql.text(), "SELECT * FROM organisations o WHERE 1 = 1");
    }

    #[test]
    fn a_persons_roles_are_of_their_own_side() {
        let a = Actor::signed_in(
            5,
            42,
            OrgKind::Supplier,
            [Role::Owner, Role::Admin, Role::Owner, Role::Driver],
            "x".into(),
        );
        assert_eq!(a.roles(), &[Role::Owner, Role::Driver]);
        assert_eq!(
            (a.user_id(), a.org_id(), a.org_kind()),
            (5, 42, OrgKind::Supplier)
        );
        assert_eq!(a.user(), Some(5));
    }
}
