//! Framework contracts (M8): one per client and kind, one per supplier.
//!
//! # Which contract
//!
//! A client's contract fits its order's type (the request type's
//! `contract:`): transport forwarding for cargo, charter for passengers,
//! services with machinery for machinery and materials. A supplier has one
//! supply contract (we are the customer) for all its orders. A party needs
//! it once: an order of a party with a contract in force skips the step.
//!
//! # How it comes into force
//!
//! A party without one gets a **draft** when its first order is made
//! ([`ensure`], in the accepting transaction), and the contract workflow
//! (`workflows/contract.yaml`) starts:
//!
//! - a client is asked for what the contract needs — legal details, bank
//!   details, the signatory, their position and authority (the charter or a
//!   power of attorney with its number and date), for a private person the
//!   passport — in the cabinet or by an e-mailed one-time link; they are
//!   checked like registration (INN, KPP, OGRN checksums, the account
//!   against the BIK: `parties::CompanyInput::validate`) and the contract
//!   goes out for signature (`sent`). Until signing exists (issue 10),
//!   staff mark it signed on paper with the scan attached;
//! - a supplier's owner accepts its contract in the cabinet, once.
//!
//! In force, the contract tells the orders waiting for it
//! (`contract.updated`); they go on by themselves.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use engine::{ObjectRef, Sql, Tx, to_db_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::AnyConnection;

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, audit, scope};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::orders::CONTRACT_WORKFLOW;
use crate::orders::numbering::{self, Numbered};
use crate::parties::{CompanyInput, Strictness};
use crate::services::Services;
use crate::{accounts::tokens, args};

/// The purpose of the client's one-time link to the details form.
pub const TOKEN_PURPOSE: &str = "contract";
/// How long the e-mailed link works.
const TOKEN_DAYS: i64 = 30;

/// The side of the brokerage a contract (or an order's leg) is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Supplier,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Supplier => "supplier",
        }
    }
}

/// What kind of framework contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractKind {
    /// Transport forwarding (договор транспортной экспедиции): cargo.
    Forwarding,
    /// Charter (договор фрахтования): passengers.
    Charter,
    /// Services with machinery: machinery and materials.
    Services,
    /// A supplier's contract with us (we are the customer).
    Supply,
}

impl ContractKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractKind::Forwarding => "forwarding",
            ContractKind::Charter => "charter",
            ContractKind::Services => "services",
            ContractKind::Supply => "supply",
        }
    }

    pub fn parse(s: &str) -> Option<ContractKind> {
        [
            ContractKind::Forwarding,
            ContractKind::Charter,
            ContractKind::Services,
            ContractKind::Supply,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// The client's contract a request type names (`contract:`; checked when
    /// the type is loaded, so anything else cannot occur — it falls back to
    /// services).
    pub fn for_request_type(code: &str) -> ContractKind {
        match ContractKind::parse(code) {
            Some(k) if k != ContractKind::Supply => k,
            _ => ContractKind::Services,
        }
    }
}

/// A contract as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contract {
    pub id: i64,
    pub party_org_id: i64,
    pub side: String,
    pub kind: String,
    pub number: String,
    pub status: String,
    pub data: String,
    pub signed_on: Option<String>,
    pub signed_how: Option<String>,
    pub scan_file_id: Option<i64>,
    pub details_at: Option<i64>,
    pub in_force_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "c.id, c.party_org_id, c.side, c.kind, c.number, c.status, c.data, c.signed_on, c.signed_how, c.scan_file_id, c.details_at, c.in_force_at, c.created_at, c.updated_at";

impl Contract {
    /// The details the party gave (empty before it did).
    pub fn details(&self) -> DetailsInput {
        serde_json::from_str(&self.data).unwrap_or_default()
    }

    pub fn in_force(&self) -> bool {
        self.status == "in_force"
    }
}

/// The party's contract of `kind` that has not ended, if any.
pub(crate) async fn live(
    conn: &mut AnyConnection,
    party: i64,
    kind: ContractKind,
) -> Result<Option<Contract>, sqlx::Error> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM contracts c WHERE c.party_org_id = ")
        .bind(party)
        .push(" AND c.kind = ")
        .bind(kind.as_str())
        .push(" AND c.status <> 'ended'");
    sql.query_as().fetch_optional(conn).await
}

/// The party's live contract of `kind`, or a new draft with its workflow
/// started (in the caller's transaction).
pub(crate) async fn ensure(
    s: &Services,
    tx: &mut Tx,
    party: i64,
    side: Side,
    kind: ContractKind,
    user: Option<i64>,
) -> DomainResult<Contract> {
    if let Some(c) = live(tx, party, kind).await? {
        return Ok(c);
    }
    let now = s.db.now();
    let number = numbering::next(tx, Numbered::Contract, now).await?;
    // Two first orders of one party accepted at the same moment (on
    // PostgreSQL) both find no contract: the second insert waits for the
    // first and then yields to it, and takes the contract it made.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO contracts (party_org_id, side, kind, number, status, data, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'draft', '{}', $5, $5)
         ON CONFLICT (party_org_id, kind) WHERE status <> 'ended' DO NOTHING RETURNING id",
    )
    .bind(party)
    .bind(side.as_str())
    .bind(kind.as_str())
    .bind(&number)
    .bind(to_db_time(now))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else {
        return live(tx, party, kind)
            .await?
            .ok_or(DomainError::Conflict("contract.busy"));
    };
    let mut data = Map::new();
    data.insert("number".into(), Value::String(number.clone()));
    s.engine
        .start_in_tx(
            tx,
            CONTRACT_WORKFLOW,
            ObjectRef {
                kind: "contract".into(),
                id,
            },
            data,
            user,
        )
        .await?;
    audit::record(
        tx,
        now,
        None,
        "contract.created",
        "contract",
        Some(id),
        json!({"by": user, "number": number, "party": party, "kind": kind.as_str()}),
    )
    .await?;
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM contracts c WHERE c.id = ")
        .bind(id);
    Ok(sql.query_as().fetch_one(&mut **tx).await?)
}

/// A contract the actor may see (its party; staff).
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Contract> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM contracts c WHERE c.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Contract, "c");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

/// Contracts the actor may see, newest first (a party its own).
pub async fn list(s: &Services, actor: &Actor) -> DomainResult<Vec<ContractLine>> {
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS).push(
        ", o.name AS party_name FROM contracts c JOIN organisations o ON o.id = c.party_org_id WHERE 1 = 1",
    );
    scope(&mut sql, actor, Resource::Contract, "c");
    sql.push(" ORDER BY c.id DESC LIMIT 500");
    Ok(sql.query_as().fetch_all(s.db.pool()).await?)
}

/// A contract in a list, with its party's name.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContractLine {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub contract: Contract,
    pub party_name: String,
}

/// A contract's page: the contract, its party, and what the viewer may do.
#[derive(Debug, Clone, Serialize)]
pub struct ContractPage {
    pub contract: Contract,
    pub party_name: String,
    pub party_legal_form: String,
    /// The details form, filled with what the party gave or (before it
    /// did) with what we know of the party.
    pub input: DetailsInput,
    /// The client may give (or correct) its details now.
    pub can_fill: bool,
    /// Staff may mark it signed on paper (it waits for signature).
    pub can_sign: bool,
    /// The supplier's owner may accept it.
    pub can_accept: bool,
    /// Staff see the stored scan.
    pub scan_file_id: Option<i64>,
    /// The contract's PDFs the viewer may read (none by the e-mailed link:
    /// they are issued once the details are in).
    pub documents: Vec<crate::paperwork::issued::IssuedDocument>,
    /// The contract's envelopes the viewer may read (a client's contract
    /// goes to it for signature in one, like a work order).
    pub envelopes: Vec<crate::signing::Envelope>,
}

async fn party_of(s: &Services, id: i64) -> DomainResult<crate::parties::Party> {
    crate::parties::details_of(s.db.pool(), id).await
}

async fn page_of(s: &Services, c: Contract, actor: Option<&Actor>) -> DomainResult<ContractPage> {
    let party = party_of(s, c.party_org_id).await?;
    let input = if c.details_at.is_some() {
        c.details()
    } else {
        DetailsInput::from_company(&party.to_input())
    };
    let staff = actor.is_some_and(|a| a.is_front_office());
    let party_member = actor.is_none_or(|a| a.org_id() == c.party_org_id);
    let (documents, envelopes) = match actor {
        Some(a) => (
            crate::paperwork::issued::list_for_owner(&s.db, a, "contract", c.id).await?,
            crate::signing::for_owner(s, a, "contract", c.id).await?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(ContractPage {
        documents,
        envelopes,
        can_fill: c.side == "client" && c.status == "draft" && (party_member || staff),
        can_sign: staff && c.status == "sent",
        can_accept: c.side == "supplier"
            && c.status == "sent"
            && actor.is_some_and(|a| {
                a.org_id() == c.party_org_id
                    && a.org_kind() == OrgKind::Supplier
                    && a.has(Role::Owner)
            }),
        scan_file_id: c.scan_file_id.filter(|_| staff),
        party_name: party.details.name.clone(),
        party_legal_form: party.details.legal_form.clone(),
        input,
        contract: c,
    })
}

/// A contract's page for the signed-in actor.
pub async fn page(s: &Services, actor: &Actor, id: i64) -> DomainResult<ContractPage> {
    let c = get(s, actor, id).await?;
    page_of(s, c, Some(actor)).await
}

/// The contract a client's e-mailed link was issued for (the link stays
/// valid until the details are given).
pub async fn page_by_token(s: &Services, token: &str) -> DomainResult<ContractPage> {
    let (_, payload) = tokens::peek(s.db.pool(), s.db.now(), TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    let c = token_contract(s, &payload).await?;
    page_of(s, c, None).await
}

async fn token_contract(s: &Services, payload: &Value) -> DomainResult<Contract> {
    let id = payload.get("contract_id").and_then(Value::as_i64);
    let party = payload.get("party_org_id").and_then(Value::as_i64);
    let (Some(id), Some(party)) = (id, party) else {
        return Err(DomainError::NotFound);
    };
    let mut sql = Sql::new("SELECT ");
    sql.push(COLUMNS)
        .push(" FROM contracts c WHERE c.id = ")
        .bind(id)
        .push(" AND c.party_org_id = ")
        .bind(party);
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}

// ---------------------------------------------------------------------------
// The client's details

/// What a contract needs from a client, as typed (every field text, kept as
/// typed so a form with errors can be shown again). Stored, normalised, as
/// the contract's `data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetailsInput {
    pub legal_form: String,
    pub name: String,
    pub inn: String,
    pub kpp: String,
    pub ogrn: String,
    pub legal_address: String,
    pub postal_address: String,
    pub bank_name: String,
    pub bik: String,
    pub settlement_account: String,
    pub corr_account: String,
    pub phone: String,
    pub email: String,
    /// Who signs for the client: name, position.
    pub signatory_name: String,
    pub signatory_position: String,
    /// On what authority: `charter` (устав), `power_of_attorney`, or `self`
    /// (an entrepreneur or a private person signing for themselves).
    pub authority: String,
    pub poa_number: String,
    /// `YYYY-MM-DD` (or `dd.mm.yyyy` as typed).
    pub poa_date: String,
    /// A private person's passport: series (4 digits), number (6), who
    /// issued it, when, the department code (`123-456`); the birth date and
    /// the registration address.
    pub passport_series: String,
    pub passport_number: String,
    pub passport_issued_by: String,
    pub passport_issued_on: String,
    pub passport_code: String,
    pub birth_date: String,
    pub registration_address: String,
}

/// The authorities a signatory may act on.
pub const AUTHORITIES: [&str; 3] = ["charter", "power_of_attorney", "self"];

impl DetailsInput {
    /// A form prefilled from what we know of the party.
    pub fn from_company(c: &CompanyInput) -> DetailsInput {
        DetailsInput {
            legal_form: c.legal_form.clone(),
            name: c.name.clone(),
            inn: c.inn.clone(),
            kpp: c.kpp.clone(),
            ogrn: c.ogrn.clone(),
            legal_address: c.legal_address.clone(),
            postal_address: c.postal_address.clone(),
            bank_name: c.bank_name.clone(),
            bik: c.bik.clone(),
            settlement_account: c.settlement_account.clone(),
            corr_account: c.corr_account.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            signatory_name: c.director_name.clone(),
            signatory_position: c.director_post.clone(),
            ..Default::default()
        }
    }

    /// The form with what the company registry knows of its INN filled
    /// into the fields left empty (when a registry is configured), and how
    /// the lookup went. Nothing is saved: the client checks and submits.
    pub async fn fill_from_registry(&self, s: &Services) -> (DetailsInput, crate::parties::Lookup) {
        let (company, lookup) = crate::parties::fill_from_registry(s, &self.company()).await;
        let mut out = self.clone();
        let take = |field: &mut String, value: &str| {
            if field.trim().is_empty() {
                *field = value.to_string();
            }
        };
        take(&mut out.name, &company.name);
        take(&mut out.kpp, &company.kpp);
        take(&mut out.ogrn, &company.ogrn);
        take(&mut out.legal_address, &company.legal_address);
        take(&mut out.bank_name, &company.bank_name);
        take(&mut out.corr_account, &company.corr_account);
        take(&mut out.signatory_name, &company.director_name);
        take(&mut out.signatory_position, &company.director_post);
        (out, lookup)
    }

    fn company(&self) -> CompanyInput {
        CompanyInput {
            legal_form: self.legal_form.clone(),
            name: self.name.clone(),
            inn: self.inn.clone(),
            kpp: self.kpp.clone(),
            ogrn: self.ogrn.clone(),
            legal_address: self.legal_address.clone(),
            postal_address: self.postal_address.clone(),
            bank_name: self.bank_name.clone(),
            bik: self.bik.clone(),
            settlement_account: self.settlement_account.clone(),
            corr_account: self.corr_account.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            ..Default::default()
        }
    }

    /// Checks the details as registration does (the same checks of INN,
    /// KPP, OGRN and the account against the BIK), plus what a contract
    /// needs on top: the legal address, bank details for a company or an
    /// entrepreneur, the signatory and their authority, and a private
    /// person's passport. Returns the details normalised for storage.
    pub fn validate(&self, today: NaiveDate) -> Result<DetailsInput, FieldErrors> {
        let (details, mut e) = match self.company().validate(Strictness::Client) {
            Ok(d) => (Some(d), FieldErrors::new()),
            Err(e) => (None, e),
        };
        let form = self.legal_form.trim();
        let person = form == "person";
        let company = matches!(form, "ooo" | "ao" | "pao");
        let t = |s: &str| s.trim().to_string();
        if self.legal_address.trim().is_empty() && e.get("legal_address").is_none() {
            e.add(
                "legal_address",
                if person {
                    "contract.registration_needed"
                } else {
                    "required"
                },
            );
        }
        // Bank details: all-or-nothing for a client in general, required
        // for a contract with a company or an entrepreneur (they pay by
        // bank transfer; a private person may pay by card).
        if !person && self.bik.trim().is_empty() && e.get("bik").is_none() {
            for f in ["bank_name", "bik", "settlement_account", "corr_account"] {
                e.add(f, "required");
            }
        }
        let authority = self.authority.trim();
        let allowed: &[&str] = if company {
            &["charter", "power_of_attorney"]
        } else if person {
            &["self"]
        } else {
            &["self", "power_of_attorney"]
        };
        if authority.is_empty() {
            e.add("authority", "required");
        } else if !allowed.contains(&authority) {
            e.add("authority", "contract.authority_invalid");
        }
        let signatory_name = if person && authority == "self" {
            t(&self.name)
        } else {
            let n = t(&self.signatory_name);
            if n.is_empty() {
                e.add("signatory_name", "required");
            } else if n.chars().count() > 200 {
                e.add("signatory_name", "text.too_long");
            }
            n
        };
        let signatory_position = t(&self.signatory_position);
        if company && signatory_position.is_empty() {
            e.add("signatory_position", "required");
        } else if signatory_position.chars().count() > 200 {
            e.add("signatory_position", "text.too_long");
        }
        let (mut poa_number, mut poa_date) = (String::new(), String::new());
        if authority == "power_of_attorney" {
            poa_number = t(&self.poa_number);
            if poa_number.is_empty() {
                e.add("poa_number", "required");
            } else if poa_number.chars().count() > 50 {
                e.add("poa_number", "text.too_long");
            }
            poa_date = past_date(&mut e, "poa_date", &self.poa_date, today).unwrap_or_default();
        }
        let mut passport = DetailsInput::default();
        if person {
            let digits = |f: &str, v: &str, n: usize, e: &mut FieldErrors| {
                let d: String = v.chars().filter(|c| !c.is_whitespace()).collect();
                if d.is_empty() {
                    e.add(f, "required");
                } else if d.len() != n || !d.chars().all(|c| c.is_ascii_digit()) {
                    e.add(f, &format!("passport.{f}"));
                }
                d
            };
            passport.passport_series = digits("passport_series", &self.passport_series, 4, &mut e);
            passport.passport_number = digits("passport_number", &self.passport_number, 6, &mut e);
            passport.passport_issued_by = t(&self.passport_issued_by);
            if passport.passport_issued_by.is_empty() {
                e.add("passport_issued_by", "required");
            } else if passport.passport_issued_by.chars().count() > 300 {
                e.add("passport_issued_by", "text.too_long");
            }
            passport.passport_issued_on = past_date(
                &mut e,
                "passport_issued_on",
                &self.passport_issued_on,
                today,
            )
            .unwrap_or_default();
            let code: String = self
                .passport_code
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let code_digits: String = code.chars().filter(|c| *c != '-').collect();
            if code.is_empty() {
                e.add("passport_code", "required");
            } else if code_digits.len() != 6
                || !code_digits.chars().all(|c| c.is_ascii_digit())
                || !(code == code_digits || code.find('-') == Some(3))
            {
                e.add("passport_code", "passport.passport_code");
            } else {
                passport.passport_code = format!("{}-{}", &code_digits[..3], &code_digits[3..]);
            }
            passport.birth_date =
                past_date(&mut e, "birth_date", &self.birth_date, today).unwrap_or_default();
            // Adults only: a contract is signed by someone 18 or older.
            if let Some(b) = parse_day(&passport.birth_date)
                && b + Duration::days(18 * 365 + 4) > today
            {
                e.add("birth_date", "passport.under_age");
            }
            passport.registration_address = t(&self.registration_address);
            if passport.registration_address.is_empty() {
                passport.registration_address = t(&self.legal_address);
            }
        }
        match details {
            Some(d) if e.is_empty() => {
                let s = |v: &Option<String>| v.clone().unwrap_or_default();
                Ok(DetailsInput {
                    legal_form: d.legal_form.clone(),
                    name: d.name.clone(),
                    inn: s(&d.inn),
                    kpp: s(&d.kpp),
                    ogrn: s(&d.ogrn),
                    legal_address: s(&d.legal_address),
                    postal_address: s(&d.postal_address),
                    bank_name: s(&d.bank_name),
                    bik: s(&d.bik),
                    settlement_account: s(&d.settlement_account),
                    corr_account: s(&d.corr_account),
                    phone: s(&d.phone),
                    email: s(&d.email),
                    signatory_name,
                    signatory_position,
                    authority: authority.to_string(),
                    poa_number,
                    poa_date,
                    ..passport
                })
            }
            _ => Err(e),
        }
    }
}

/// A calendar day as stored (`YYYY-MM-DD`), from `YYYY-MM-DD` or `dd.mm.yyyy`.
pub(crate) fn parse_day(input: &str) -> Option<NaiveDate> {
    let t = input.trim();
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d.%m.%Y"))
        .ok()?;
    (1900..=2100)
        .contains(&chrono::Datelike::year(&d))
        .then_some(d)
}

/// A required date not after `today`, stored as `YYYY-MM-DD`.
fn past_date(e: &mut FieldErrors, field: &str, input: &str, today: NaiveDate) -> Option<String> {
    if input.trim().is_empty() {
        e.add(field, "required");
        return None;
    }
    match parse_day(input) {
        Some(d) if d <= today => Some(d.format("%Y-%m-%d").to_string()),
        Some(_) => {
            e.add(field, "date.in_future");
            None
        }
        None => {
            e.add(field, "date.invalid");
            None
        }
    }
}

/// Today in Moscow (the company's calendar for dates of documents).
pub(crate) fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Europe::Moscow).date_naive()
}

/// The signed-in client (or staff for it) gives the contract's details.
pub async fn submit_details(
    s: &Services,
    actor: &Actor,
    id: i64,
    input: &DetailsInput,
) -> DomainResult<()> {
    let c = get(s, actor, id).await?;
    if !(actor.org_id() == c.party_org_id || actor.is_front_office()) {
        return Err(DomainError::NotFound);
    }
    let details = input
        .validate(today(s.db.now()))
        .map_err(DomainError::Invalid)?;
    let mut tx = s.db.begin().await?;
    store_details(s, &mut tx, &c, &details, actor.user()).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// The client gives the details through its e-mailed link (no password):
/// the link is spent in the same transaction, and stays valid when the
/// details are refused. Returns the contract's id.
pub async fn submit_details_by_token(
    s: &Services,
    token: &str,
    input: &DetailsInput,
) -> DomainResult<i64> {
    // Checked first, so that a refused form leaves the link unspent.
    let (_, payload) = tokens::peek(s.db.pool(), s.db.now(), TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    let c = token_contract(s, &payload).await?;
    let details = input
        .validate(today(s.db.now()))
        .map_err(DomainError::Invalid)?;
    let mut tx = s.db.begin().await?;
    tokens::consume(&mut tx, s.db.now(), TOKEN_PURPOSE, token)
        .await?
        .ok_or(DomainError::NotFound)?;
    store_details(s, &mut tx, &c, &details, None).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(c.id)
}

async fn store_details(
    s: &Services,
    tx: &mut Tx,
    c: &Contract,
    details: &DetailsInput,
    user: Option<i64>,
) -> DomainResult<()> {
    let now = s.db.now();
    if c.side != "client" {
        return Err(DomainError::NotFound);
    }
    let data = serde_json::to_string(details).map_err(anyhow::Error::from)?;
    let n = sqlx::query(
        "UPDATE contracts SET data = $1, details_at = $2, details_by = $3, updated_at = $2 WHERE id = $4 AND status = 'draft'",
    )
    .bind(data)
    .bind(to_db_time(now))
    .bind(user)
    .bind(c.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::Conflict("contract.not_draft"));
    }
    let reports = s
        .engine
        .emit_to_object_in_tx(
            tx,
            "contract",
            c.id,
            "contract.details_submitted",
            json!({}),
            user,
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|r| r.ignored) {
        return Err(DomainError::Conflict("contract.not_draft"));
    }
    audit::record(
        tx,
        now,
        None,
        "contract.details",
        "contract",
        Some(c.id),
        json!({"by": user, "inn": details.inn, "signatory": details.signatory_name}),
    )
    .await?;
    Ok(())
}

/// Staff mark a contract out for signature as signed on paper, with the
/// scan of the signed copy. It comes into force today.
pub async fn signed_on_paper(
    s: &Services,
    actor: &Actor,
    id: i64,
    scan_name: &str,
    scan: &[u8],
) -> DomainResult<()> {
    crate::access::require(actor, crate::access::Rule::FrontOffice)?;
    let c = get(s, actor, id).await?;
    if c.status != "sent" {
        return Err(DomainError::Conflict("contract.not_sent"));
    }
    let stored = s
        .files
        .accept("scan", crate::files::Purpose::Document, scan_name, scan)
        .await?;
    let now = s.db.now();
    let done: DomainResult<()> = async {
        let mut tx = s.db.begin().await?;
        let file = stored.record(&mut tx, now, actor.org_id(), actor.user()).await?;
        sqlx::query("UPDATE contracts SET scan_file_id = $1, signed_how = 'paper', updated_at = $2 WHERE id = $3")
            .bind(file)
            .bind(to_db_time(now))
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        let reports = s
            .engine
            .emit_to_object_in_tx(&mut tx, "contract", c.id, "contract.signed", json!({"how": "paper", "file_id": file}), actor.user())
            .await?;
        if reports.is_empty() || reports.iter().all(|r| r.ignored) {
            return Err(DomainError::Conflict("contract.not_sent"));
        }
        audit::record(&mut tx, now, Some(actor), "contract.signed_on_paper", "contract", Some(c.id), json!({"file_id": file})).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if done.is_err() {
        s.files.discard(&stored).await;
    }
    done?;
    s.after_commit();
    Ok(())
}

/// A supplier's owner accepts its framework contract (once, before its
/// first order goes on).
pub async fn accept(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    let c = get(s, actor, id).await?;
    if actor.org_kind() != OrgKind::Supplier || !actor.has(Role::Owner) {
        return Err(DomainError::Forbidden);
    }
    if c.side != "supplier" || c.status != "sent" {
        return Err(DomainError::Conflict("contract.not_sent"));
    }
    let mut tx = s.db.begin().await?;
    let reports = s
        .engine
        .emit_to_object_in_tx(
            &mut tx,
            "contract",
            c.id,
            "contract.accepted",
            json!({}),
            actor.user(),
        )
        .await?;
    if reports.is_empty() || reports.iter().all(|r| r.ignored) {
        return Err(DomainError::Conflict("contract.not_sent"));
    }
    audit::record(
        &mut tx,
        s.db.now(),
        Some(actor),
        "contract.accepted",
        "contract",
        Some(c.id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

// ---------------------------------------------------------------------------
// What the contract workflow does

/// `contract.set_status` (local): the contract's status as its workflow
/// says. Coming into force dates it today and records how (`how`).
pub(crate) async fn set_status_on(
    s: &Services,
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    how: Option<&str>,
) -> DomainResult<()> {
    if !["draft", "sent", "in_force", "ended"].contains(&status) {
        return Err(DomainError::Other(anyhow::anyhow!(
            "unknown contract status {status:?}"
        )));
    }
    let now = s.db.now();
    let t = to_db_time(now);
    let day = today(now).format("%Y-%m-%d").to_string();
    sqlx::query(
        "UPDATE contracts SET status = $1, updated_at = $2,
           in_force_at = CASE WHEN $1 = 'in_force' THEN COALESCE(in_force_at, $2) ELSE in_force_at END,
           signed_on = CASE WHEN $1 = 'in_force' THEN COALESCE(signed_on, $3) ELSE signed_on END,
           signed_how = CASE WHEN $1 = 'in_force' THEN COALESCE($4, signed_how) ELSE signed_how END,
           ended_at = CASE WHEN $1 = 'ended' THEN $2 ELSE ended_at END
         WHERE id = $5",
    )
    .bind(status)
    .bind(t)
    .bind(day)
    .bind(how)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if status == "in_force" {
        // In force another way (on paper, accepted): an envelope still
        // waiting for the party's signature has nothing left to do.
        sqlx::query(
            "UPDATE envelopes SET status = 'superseded', updated_at = $1 \
             WHERE owner_kind = 'contract' AND owner_id = $2 AND status IN ('sent', 'rejected')",
        )
        .bind(t)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    audit::record(
        conn,
        now,
        None,
        "contract.status",
        "contract",
        Some(id),
        json!({"status": status, "how": how}),
    )
    .await?;
    Ok(())
}

/// `contract.ask_details` (local): e-mails the client a one-time link to
/// the details form (its cabinet shows the same form). A client nobody can
/// be told about is left to the manager's task, not refused.
pub(crate) async fn ask_details_on(
    s: &Services,
    conn: &mut AnyConnection,
    id: i64,
) -> DomainResult<()> {
    let now = s.db.now();
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT number, party_org_id, side FROM contracts WHERE id = $1 AND status = 'draft'",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((number, party, side)) = row else {
        return Ok(());
    };
    if side != "client" {
        return Ok(());
    }
    let token = tokens::issue(
        conn,
        now,
        TOKEN_PURPOSE,
        None,
        &json!({"contract_id": id, "party_org_id": party}),
        Duration::days(TOKEN_DAYS),
    )
    .await?;
    let a = args![
        "number" => number,
        "link" => format!("{}/contracts/t/{token}", s.base_url),
    ];
    let people = crate::parties::orgs::verified_recipients(conn, party).await?;
    for person in &people {
        crate::notify::tell(s, conn, person, "mail-contract-details", &a).await?;
    }
    Ok(())
}

/// `contract.announce` (external): tells every order waiting for the
/// party's contracts that one came into force; they go on when all of
/// theirs are. Repeating it repeats nothing (an order that went on
/// ignores the event).
pub(crate) async fn announce(s: &Services, id: i64) -> DomainResult<usize> {
    let party: Option<i64> = sqlx::query_scalar("SELECT party_org_id FROM contracts WHERE id = $1")
        .bind(id)
        .fetch_optional(s.db.pool())
        .await?;
    let Some(party) = party else {
        return Ok(0);
    };
    let orders: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT o.id FROM orders o JOIN order_legs l ON l.order_id = o.id
         WHERE l.party_org_id = $1 AND o.status = 'awaiting_contracts' ORDER BY o.id",
    )
    .bind(party)
    .fetch_all(s.db.pool())
    .await?;
    let mut told = 0;
    for order in orders {
        let reports = s
            .engine
            .emit_to_object(
                "order",
                order,
                "contract.updated",
                json!({"contract_id": id}),
                None,
            )
            .await?;
        told += reports.len();
    }
    Ok(told)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        parse_day(s).expect("date")
    }

    fn company() -> DetailsInput {
        DetailsInput {
            legal_form: "ooo".into(),
            name: "ООО «Северный бетон»".into(),
            inn: "7707083893".into(),
            kpp: "773601001".into(),
            ogrn: "1027700132195".into(),
            legal_address: "г. Москва, ул. Вавилова, д. 19".into(),
            bank_name: "ПАО Сбербанк".into(),
            bik: "044525225".into(),
            settlement_account: "40702810200000012345".into(),
            corr_account: "30101810400000000225".into(),
            phone: "+7 495 500-55-50".into(),
            email: "office@sevbeton.test".into(),
            signatory_name: "Громов Павел Сергеевич".into(),
            signatory_position: "Генеральный директор".into(),
            authority: "charter".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_company_signs_on_its_charter_with_checked_details() {
        let d = company().validate(day("2026-03-10")).expect("valid");
        assert_eq!(d.phone, "+74955005550");
        assert_eq!(d.authority, "charter");
        // The same checksums as registration.
        let mut bad = company();
        bad.inn = "7707083894".into();
        bad.settlement_account = "40702810200000012346".into();
        let e = bad.validate(day("2026-03-10")).expect_err("refused");
        assert_eq!(e.get("inn"), Some("inn.checksum"));
        assert_eq!(e.get("settlement_account"), Some("account.key_mismatch"));
    }

    #[test]
    fn a_power_of_attorney_needs_its_number_and_a_past_date() {
        let mut i = company();
        i.authority = "power_of_attorney".into();
        let e = i.validate(day("2026-03-10")).expect_err("refused");
        assert_eq!(e.get("poa_number"), Some("required"));
        assert_eq!(e.get("poa_date"), Some("required"));
        i.poa_number = "12/26".into();
        i.poa_date = "11.03.2026".into();
        let e = i.validate(day("2026-03-10")).expect_err("refused");
        assert_eq!(e.get("poa_date"), Some("date.in_future"));
        i.poa_date = "01.02.2026".into();
        let d = i.validate(day("2026-03-10")).expect("valid");
        assert_eq!(d.poa_date, "2026-02-01");
        // A company cannot sign "for itself", nor without a position.
        let mut i = company();
        i.authority = "self".into();
        i.signatory_position = String::new();
        let e = i.validate(day("2026-03-10")).expect_err("refused");
        assert_eq!(e.get("authority"), Some("contract.authority_invalid"));
        assert_eq!(e.get("signatory_position"), Some("required"));
        // Nor without bank details.
        let mut i = company();
        for f in [
            &mut i.bank_name,
            &mut i.bik,
            &mut i.settlement_account,
            &mut i.corr_account,
        ] {
            f.clear();
        }
        let e = i.validate(day("2026-03-10")).expect_err("refused");
        assert_eq!(e.get("bik"), Some("required"));
    }

    #[test]
    fn a_private_person_gives_a_passport() {
        let mut p = DetailsInput {
            legal_form: "person".into(),
            name: "Белова Ирина Сергеевна".into(),
            legal_address: "г. Москва, ул. Лесная, д. 5, кв. 12".into(),
            phone: "+79161234567".into(),
            email: "irina@belova.test".into(),
            authority: "self".into(),
            passport_series: "45 12".into(),
            passport_number: "123456".into(),
            passport_issued_by: "ОВД Тверского района г. Москвы".into(),
            passport_issued_on: "2012-05-20".into(),
            passport_code: "770 001".into(),
            birth_date: "14.02.1985".into(),
            ..Default::default()
        };
        let d = p.validate(day("2026-03-10")).expect("valid");
        assert_eq!(d.passport_series, "4512");
        assert_eq!(d.passport_code, "770-001");
        assert_eq!(d.birth_date, "1985-02-14");
        assert_eq!(d.signatory_name, "Белова Ирина Сергеевна");
        assert_eq!(
            d.registration_address,
            "г. Москва, ул. Лесная, д. 5, кв. 12"
        );
        p.passport_number = "12345".into();
        p.passport_code = "77-0001".into();
        p.birth_date = "2010-01-01".into();
        p.passport_issued_by.clear();
        let e = p.validate(day("2026-03-10")).expect_err("refused");
        assert_eq!(e.get("passport_number"), Some("passport.passport_number"));
        assert_eq!(e.get("passport_code"), Some("passport.passport_code"));
        assert_eq!(e.get("birth_date"), Some("passport.under_age"));
        assert_eq!(e.get("passport_issued_by"), Some("required"));
    }

    #[test]
    fn request_types_name_their_clients_contract() {
        assert_eq!(
            ContractKind::for_request_type("forwarding"),
            ContractKind::Forwarding
        );
        assert_eq!(
            ContractKind::for_request_type("charter"),
            ContractKind::Charter
        );
        // A supplier's contract is never a client's.
        assert_eq!(
            ContractKind::for_request_type("supply"),
            ContractKind::Services
        );
    }
}
