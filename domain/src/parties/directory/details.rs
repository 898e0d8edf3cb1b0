use super::*;

/// Company details as typed into a form (every field a string, kept as
/// typed so a form with errors can be shown again).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyInput {
    pub legal_form: String,
    pub name: String,
    pub short_name: String,
    pub inn: String,
    pub kpp: String,
    pub ogrn: String,
    pub legal_address: String,
    pub postal_address: String,
    pub region: String,
    pub bank_name: String,
    pub bik: String,
    pub settlement_account: String,
    pub corr_account: String,
    pub vat_mode: String,
    pub director_name: String,
    pub director_post: String,
    pub contact_name: String,
    pub phone: String,
    pub email: String,
}

/// Checked company details, normalised for storage.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CompanyDetails {
    pub legal_form: String,
    pub name: String,
    pub short_name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub legal_address: Option<String>,
    pub postal_address: Option<String>,
    pub region: Option<String>,
    pub bank_name: Option<String>,
    pub bik: Option<String>,
    pub settlement_account: Option<String>,
    pub corr_account: Option<String>,
    pub vat_mode: Option<String>,
    pub director_name: Option<String>,
    pub director_post: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Fields whose change sends an approved supplier back to moderation:
/// who the company is and where its money goes.
pub const MODERATED_FIELDS: [&str; 12] = [
    "legal_form",
    "name",
    "inn",
    "kpp",
    "ogrn",
    "legal_address",
    "bank_name",
    "bik",
    "settlement_account",
    "corr_account",
    "vat_mode",
    "director_name",
];

pub(super) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// How strictly to check: suppliers need everything for payouts; clients
/// need bank details only when the contract is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    Supplier,
    Client,
}

impl CompanyInput {
    pub fn validate(&self, strictness: Strictness) -> Result<CompanyDetails, FieldErrors> {
        let mut e = FieldErrors::new();
        let form = self.legal_form.trim();
        let allowed: &[&str] = match strictness {
            Strictness::Supplier => &["ooo", "ao", "pao", "ip", "self_employed"],
            Strictness::Client => &["ooo", "ao", "pao", "ip", "self_employed", "person"],
        };
        if form.is_empty() {
            e.add("legal_form", "required");
        } else if !allowed.contains(&form) {
            e.add("legal_form", "legal_form.invalid");
        }
        let is_company = matches!(form, "ooo" | "ao" | "pao");
        let is_person_like = matches!(form, "ip" | "self_employed" | "person");
        if self.name.trim().is_empty() {
            e.add("name", "required");
        }
        // INN: 10 digits for a company, 12 for a person; optional for a private client.
        let inn = match opt(&self.inn) {
            None if form == "person" => None,
            None => {
                e.add("inn", "required");
                None
            }
            Some(s) => match Inn::parse(&s) {
                Ok(inn) => {
                    match (inn.kind(), is_company, is_person_like) {
                        (InnKind::LegalEntity, false, true) => e.add("inn", "inn.needs_12"),
                        (InnKind::Individual, true, _) => e.add("inn", "inn.needs_10"),
                        _ => {}
                    }
                    Some(inn.as_str().to_string())
                }
                Err(err) => {
                    e.add("inn", &format!("inn.{}", err.code()));
                    None
                }
            },
        };
        let kpp = match (opt(&self.kpp), is_company) {
            (None, true) => {
                e.add("kpp", "required");
                None
            }
            (None, false) => None,
            (Some(_), false) => {
                e.add("kpp", "kpp.not_for_person");
                None
            }
            (Some(s), true) => match Kpp::parse(&s) {
                Ok(k) => Some(k.as_str().to_string()),
                Err(err) => {
                    e.add("kpp", &format!("kpp.{}", err.code()));
                    None
                }
            },
        };
        let ogrn = match (opt(&self.ogrn), form) {
            (None, "ooo" | "ao" | "pao" | "ip") => {
                e.add("ogrn", "required");
                None
            }
            (None, _) => None,
            (Some(s), f) => {
                let kind = if f == "ip" {
                    OgrnKind::Individual
                } else {
                    OgrnKind::LegalEntity
                };
                match Ogrn::parse_kind(&s, kind) {
                    Ok(o) => Some(o.as_str().to_string()),
                    Err(err) => {
                        e.add("ogrn", &format!("ogrn.{}", err.code()));
                        None
                    }
                }
            }
        };
        if strictness == Strictness::Supplier && self.legal_address.trim().is_empty() {
            e.add("legal_address", "required");
        }
        // Bank details: all or nothing for clients, required for suppliers.
        let any_bank = [
            &self.bik,
            &self.settlement_account,
            &self.corr_account,
            &self.bank_name,
        ]
        .iter()
        .any(|s| !s.trim().is_empty());
        let (mut bik, mut account, mut corr) = (None, None, None);
        if strictness == Strictness::Supplier || any_bank {
            match opt(&self.bik).map(|s| Bik::parse(&s)) {
                None => e.add("bik", "required"),
                Some(Err(err)) => e.add("bik", &format!("bik.{}", err.code())),
                Some(Ok(b)) => bik = Some(b),
            }
            match opt(&self.settlement_account) {
                None => e.add("settlement_account", "required"),
                Some(s) => match (SettlementAccount::parse(&s), &bik) {
                    (Err(err), _) => {
                        e.add("settlement_account", &format!("account.{}", err.code()))
                    }
                    (Ok(a), Some(b)) => match a.check_with_bik(b) {
                        Ok(()) => account = Some(a.as_str().to_string()),
                        Err(_) => e.add("settlement_account", "account.key_mismatch"),
                    },
                    (Ok(a), None) => account = Some(a.as_str().to_string()),
                },
            }
            match opt(&self.corr_account) {
                None => e.add("corr_account", "required"),
                Some(s) => match (CorrespondentAccount::parse(&s), &bik) {
                    (Err(err), _) => e.add("corr_account", &format!("corr.{}", err.code())),
                    (Ok(c), Some(b)) => match c.check_with_bik(b) {
                        Ok(()) => corr = Some(c.as_str().to_string()),
                        Err(err) => e.add("corr_account", &format!("corr.{}", err.code())),
                    },
                    (Ok(c), None) => corr = Some(c.as_str().to_string()),
                },
            }
            if self.bank_name.trim().is_empty() {
                e.add("bank_name", "required");
            }
        }
        let vat_mode = match opt(&self.vat_mode) {
            None if strictness == Strictness::Supplier => {
                e.add("vat_mode", "required");
                None
            }
            None => None,
            Some(v) => match VatMode::parse(&v) {
                Ok(m) if form == "self_employed" && m != VatMode::None => {
                    e.add("vat_mode", "vat.self_employed_no_vat");
                    None
                }
                Ok(m) => Some(m.as_str().to_string()),
                Err(_) => {
                    e.add("vat_mode", "vat.invalid");
                    None
                }
            },
        };
        let phone = e.required("phone", &self.phone, "phone.invalid", PhoneNumber::parse);
        let email = e.required("email", &self.email, "email.invalid", Email::parse);
        if !e.is_empty() {
            return Err(e);
        }
        Ok(CompanyDetails {
            legal_form: form.to_string(),
            name: self.name.trim().to_string(),
            short_name: opt(&self.short_name),
            inn,
            kpp,
            ogrn,
            legal_address: opt(&self.legal_address),
            postal_address: opt(&self.postal_address),
            region: opt(&self.region),
            bank_name: opt(&self.bank_name),
            bik: bik.map(|b| b.as_str().to_string()),
            settlement_account: account,
            corr_account: corr,
            vat_mode,
            director_name: opt(&self.director_name),
            director_post: opt(&self.director_post),
            contact_name: opt(&self.contact_name),
            phone,
            email,
        })
    }
}

impl CompanyDetails {
    pub(super) fn as_map(&self) -> BTreeMap<&'static str, Option<String>> {
        let mut m = BTreeMap::new();
        m.insert("legal_form", Some(self.legal_form.clone()));
        m.insert("name", Some(self.name.clone()));
        m.insert("short_name", self.short_name.clone());
        m.insert("inn", self.inn.clone());
        m.insert("kpp", self.kpp.clone());
        m.insert("ogrn", self.ogrn.clone());
        m.insert("legal_address", self.legal_address.clone());
        m.insert("postal_address", self.postal_address.clone());
        m.insert("region", self.region.clone());
        m.insert("bank_name", self.bank_name.clone());
        m.insert("bik", self.bik.clone());
        m.insert("settlement_account", self.settlement_account.clone());
        m.insert("corr_account", self.corr_account.clone());
        m.insert("vat_mode", self.vat_mode.clone());
        m.insert("director_name", self.director_name.clone());
        m.insert("director_post", self.director_post.clone());
        m.insert("contact_name", self.contact_name.clone());
        m.insert("phone", self.phone.clone());
        m.insert("email", self.email.clone());
        m
    }
}

/// An organisation's full details, as cards and edit forms show them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Party {
    pub id: i64,
    pub kind: String,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub details: CompanyDetails,
    pub status: String,
    pub status_reason: Option<String>,
    pub approved_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Party {
    /// The details as a form shows them for editing.
    pub fn to_input(&self) -> CompanyInput {
        let d = &self.details;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        CompanyInput {
            legal_form: d.legal_form.clone(),
            name: d.name.clone(),
            short_name: s(&d.short_name),
            inn: s(&d.inn),
            kpp: s(&d.kpp),
            ogrn: s(&d.ogrn),
            legal_address: s(&d.legal_address),
            postal_address: s(&d.postal_address),
            region: s(&d.region),
            bank_name: s(&d.bank_name),
            bik: s(&d.bik),
            settlement_account: s(&d.settlement_account),
            corr_account: s(&d.corr_account),
            vat_mode: s(&d.vat_mode),
            director_name: s(&d.director_name),
            director_post: s(&d.director_post),
            contact_name: s(&d.contact_name),
            phone: s(&d.phone),
            email: s(&d.email),
        }
    }
}

const PARTY_COLUMNS: &str = "o.id, o.kind, o.legal_form, o.name, o.short_name, o.inn, o.kpp, o.ogrn, o.legal_address, o.postal_address, o.region, o.bank_name, o.bik, o.settlement_account, o.corr_account, o.vat_mode, o.director_name, o.director_post, o.contact_name, o.phone, o.email, o.status, o.status_reason, o.approved_at, o.created_at, o.updated_at";

/// A party's details, unscoped: for a context that has already decided the
/// caller may see what it shows of them (the party of an order or a
/// contract the caller may see).
pub(crate) async fn details_of<'e, E>(conn: E, id: i64) -> DomainResult<Party>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut sql = Sql::new("SELECT ");
    sql.push(PARTY_COLUMNS)
        .push(" FROM organisations o WHERE o.id = ")
        .bind(id);
    sql.query_as()
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound)
}

/// A party the actor may see.
pub async fn get(s: &Services, actor: &Actor, id: i64) -> DomainResult<Party> {
    let mut sql = Sql::new("SELECT ");
    sql.push(PARTY_COLUMNS)
        .push(" FROM organisations o WHERE o.id = ")
        .bind(id);
    scope(&mut sql, actor, Resource::Organisation, "o");
    sql.query_as()
        .fetch_optional(s.db.pool())
        .await?
        .ok_or(DomainError::NotFound)
}
