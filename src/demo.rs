//! Demo data: the broker with one user per staff role, three suppliers
//! (owner, dispatcher, two drivers each, with their employee records and a
//! garage of machines with documents) and two clients. Seeding is
//! idempotent: organisations are found by INN (or name), users by e-mail,
//! employees by user, machines by plate, so running it again changes nothing.
//!
//! Document dates are relative to the day of seeding, so the demo always
//! shows valid documents, one expiring soon and one expired ОСАГО (an
//! unavailable machine).

use chrono::{Duration, NaiveDate};
use engine::{Db, Tx, to_db_time};

use domain::access::SystemActor;
use domain::access::roles::{OrgKind, Role};
use domain::accounts::{NewUser, PasswordHash, insert_user};
use domain::error::{DomainError, DomainResult};
use domain::fleet::catalogue::EquipmentCatalogue;
use domain::fleet::garage::{self, MachineInput, ValidDocument};
use domain::parties::orgs::{self, NewOrganisation};

mod money;
mod orders;
pub use money::seed_money;
pub use orders::seed_orders;

/// The password of every demo account (shown on the demo sign-in page).
pub const DEMO_PASSWORD: &str = "demo12345";

/// A demo account, for the sign-in page's one-click list.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub email: &'static str,
    pub role: Role,
    pub full_name: &'static str,
    pub org_name: &'static str,
}

struct DemoOrg {
    kind: OrgKind,
    legal_form: &'static str,
    name: &'static str,
    inn: Option<&'static str>,
    kpp: Option<&'static str>,
    ogrn: Option<&'static str>,
    phone: &'static str,
    email: &'static str,
    status: &'static str,
    people: &'static [(&'static str, &'static str, Option<&'static str>, Role)],
}

const ORGS: &[DemoOrg] = &[
    DemoOrg {
        kind: OrgKind::Broker,
        legal_form: "ooo",
        name: "ООО «Подряд»",
        inn: Some("7703123457"),
        kpp: Some("770301001"),
        ogrn: Some("1177700123457"),
        phone: "+74951234567",
        email: "info@podryad.test",
        status: "active",
        people: &[
            ("admin@podryad.test", "Алексей Смирнов", None, Role::Admin),
            ("hunter@podryad.test", "Игорь Волков", None, Role::Hunter),
            (
                "manager@podryad.test",
                "Мария Кузнецова",
                None,
                Role::Manager,
            ),
            (
                "operator@podryad.test",
                "Ольга Соколова",
                None,
                Role::Operator,
            ),
            (
                "accountant@podryad.test",
                "Елена Морозова",
                None,
                Role::Accountant,
            ),
            (
                "analyst@podryad.test",
                "Дмитрий Новиков",
                None,
                Role::Analyst,
            ),
        ],
    },
    DemoOrg {
        kind: OrgKind::Supplier,
        legal_form: "ooo",
        name: "ООО «СтройТехРесурс»",
        inn: Some("5004123450"),
        kpp: Some("500401001"),
        ogrn: Some("1155000123453"),
        phone: "+74959876543",
        email: "office@stroytech.test",
        status: "approved",
        people: &[
            ("owner@stroytech.test", "Сергей Петров", None, Role::Owner),
            (
                "dispatcher@stroytech.test",
                "Наталья Иванова",
                None,
                Role::Dispatcher,
            ),
            (
                "driver1@stroytech.test",
                "Василий Орлов",
                Some("+79161110101"),
                Role::Driver,
            ),
            (
                "driver2@stroytech.test",
                "Николай Лебедев",
                Some("+79161110102"),
                Role::Driver,
            ),
        ],
    },
    DemoOrg {
        kind: OrgKind::Supplier,
        legal_form: "ip",
        name: "ИП Фёдоров Андрей Викторович",
        inn: Some("500312345614"),
        kpp: None,
        ogrn: Some("318500300012343"),
        phone: "+79035550011",
        email: "fedorov@fedorov.test",
        status: "approved",
        people: &[
            ("owner@fedorov.test", "Андрей Фёдоров", None, Role::Owner),
            (
                "dispatcher@fedorov.test",
                "Светлана Фёдорова",
                None,
                Role::Dispatcher,
            ),
            (
                "driver1@fedorov.test",
                "Павел Зайцев",
                Some("+79161110201"),
                Role::Driver,
            ),
            (
                "driver2@fedorov.test",
                "Роман Егоров",
                Some("+79161110202"),
                Role::Driver,
            ),
        ],
    },
    DemoOrg {
        kind: OrgKind::Supplier,
        legal_form: "ooo",
        name: "ООО «ГрузАвто»",
        inn: Some("7729876543"),
        kpp: Some("772901001"),
        ogrn: Some("1207700987658"),
        phone: "+74957778899",
        email: "info@gruzavto.test",
        status: "approved",
        people: &[
            ("owner@gruzavto.test", "Олег Медведев", None, Role::Owner),
            (
                "dispatcher@gruzavto.test",
                "Татьяна Никитина",
                None,
                Role::Dispatcher,
            ),
            (
                "driver1@gruzavto.test",
                "Артём Козлов",
                Some("+79161110301"),
                Role::Driver,
            ),
            (
                "driver2@gruzavto.test",
                "Виктор Степанов",
                Some("+79161110302"),
                Role::Driver,
            ),
        ],
    },
    DemoOrg {
        kind: OrgKind::Client,
        legal_form: "ooo",
        name: "ООО «Северный бетон»",
        inn: Some("5030123457"),
        kpp: Some("503001001"),
        ogrn: Some("1165030123455"),
        phone: "+74953332211",
        email: "zakaz@sevbeton.test",
        status: "active",
        people: &[("client@sevbeton.test", "Павел Громов", None, Role::Client)],
    },
    DemoOrg {
        kind: OrgKind::Client,
        legal_form: "person",
        name: "Белова Ирина Сергеевна",
        inn: None,
        kpp: None,
        ogrn: None,
        phone: "+79267654321",
        email: "client@belova.test",
        status: "active",
        people: &[(
            "client@belova.test",
            "Ирина Белова",
            Some("+79267654321"),
            Role::Client,
        )],
    },
];

/// Every demo account, in the order the sign-in page lists them.
pub fn accounts() -> Vec<DemoAccount> {
    ORGS.iter()
        .flat_map(|o| {
            o.people
                .iter()
                .map(move |(email, name, _, role)| DemoAccount {
                    email,
                    role: *role,
                    full_name: name,
                    org_name: o.name,
                })
        })
        .collect()
}

/// Creates whatever demo data is missing. Returns how many users it created.
pub async fn seed(db: &Db) -> DomainResult<usize> {
    let broker_id = orgs::ensure_broker(db).await?;
    let now = db.now();
    let mut created = 0;
    // Every demo account has the same password: hashed once, before the
    // transaction opens.
    let password = PasswordHash::of(DEMO_PASSWORD).await?;
    let mut tx = db.begin().await?;
    for org in ORGS {
        let org_id = if org.kind == OrgKind::Broker {
            // The broker exists already (maybe under a default name): give it the demo identity.
            sqlx::query(
                "UPDATE organisations SET name = $1, inn = $2, kpp = $3, ogrn = $4, phone = $5, email = $6 WHERE id = $7",
            )
            .bind(org.name)
            .bind(org.inn)
            .bind(org.kpp)
            .bind(org.ogrn)
            .bind(org.phone)
            .bind(org.email)
            .bind(broker_id)
            .execute(&mut *tx)
            .await?;
            domain::search::index_organisation(&mut tx, broker_id).await?;
            broker_id
        } else {
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM organisations WHERE kind = $1 AND name = $2 ORDER BY id LIMIT 1",
            )
            .bind(org.kind.as_str())
            .bind(org.name)
            .fetch_optional(&mut *tx)
            .await?;
            match existing {
                Some(id) => id,
                None => {
                    orgs::insert(
                        &mut tx,
                        now,
                        &NewOrganisation {
                            kind: org.kind,
                            legal_form: org.legal_form.into(),
                            name: org.name.into(),
                            short_name: None,
                            inn: org.inn.map(Into::into),
                            kpp: org.kpp.map(Into::into),
                            ogrn: org.ogrn.map(Into::into),
                            phone: Some(org.phone.into()),
                            email: Some(org.email.into()),
                            status: org.status.into(),
                        },
                    )
                    .await?
                }
            }
        };
        for (email, name, phone, role) in org.people {
            let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
                .bind(*email)
                .fetch_one(&mut *tx)
                .await?;
            if exists > 0 {
                continue;
            }
            insert_user(
                &mut tx,
                now,
                org_id,
                &NewUser {
                    full_name: (*name).into(),
                    email: Some((*email).into()),
                    phone: phone.map(Into::into),
                    roles: vec![*role],
                    password: Some(password.clone()),
                },
            )
            .await?;
            created += 1;
        }
        if org.kind == OrgKind::Supplier {
            seed_employees(&mut tx, now, org_id, org).await?;
            seed_garage(&mut tx, db, org_id, org.name).await?;
        }
    }
    tx.commit().await?;
    Ok(created)
}

/// Licence categories and machinery operator licence of a demo person.
fn licences(email: &str) -> (Option<&'static str>, Option<&'static str>) {
    match email {
        "driver1@stroytech.test" => (Some("B, C, CE"), Some("77 АВ 104512, машинист автокрана")),
        "driver2@stroytech.test" => (
            Some("B, C"),
            Some("50 СК 220731, машинист экскаватора, кат. C, D, E"),
        ),
        "driver1@fedorov.test" | "driver2@fedorov.test" => (Some("B, C, CE"), None),
        "driver1@gruzavto.test" => (Some("B, C, CE"), None),
        "driver2@gruzavto.test" => (Some("B, C, D"), None),
        _ => (None, None),
    }
}

/// An employee record for each demo person of a supplier, linked to their login.
async fn seed_employees(
    tx: &mut Tx,
    now: chrono::DateTime<chrono::Utc>,
    org_id: i64,
    org: &DemoOrg,
) -> DomainResult<()> {
    for (email, name, phone, role) in org.people {
        let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(*email)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(user_id) = user else { continue };
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM employees WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
        if exists > 0 {
            continue;
        }
        let (categories, operator) = licences(email);
        sqlx::query(
            "INSERT INTO employees (org_id, user_id, role, full_name, phone, email, licence_categories, operator_licence, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(*name)
        .bind(phone.map(str::to_string))
        .bind(*email)
        .bind(categories)
        .bind(operator)
        .bind(to_db_time(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A demo document: kind, number, start and end in days from today.
type DemoDocument = (&'static str, &'static str, i64, i64);

struct DemoMachine {
    org: &'static str,
    category: &'static str,
    make: &'static str,
    model: &'static str,
    year: &'static str,
    plate: &'static str,
    vin: &'static str,
    base: &'static str,
    lat: &'static str,
    lon: &'static str,
    radius: &'static str,
    specs: &'static [(&'static str, &'static str)],
    documents: &'static [DemoDocument],
    /// Busy days: first and last day from today, and a note.
    busy: &'static [(i64, i64, &'static str)],
}

const STROYTECH: &str = "ООО «СтройТехРесурс»";
const FEDOROV: &str = "ИП Фёдоров Андрей Викторович";
const GRUZAVTO: &str = "ООО «ГрузАвто»";

const MACHINES: &[DemoMachine] = &[
    DemoMachine {
        org: STROYTECH,
        category: "truck_crane",
        make: "Ивановец",
        model: "КС-45717К-1 на шасси КАМАЗ 65115",
        year: "2019",
        plate: "Е341КХ 750",
        vin: "X89457171K0AB1234",
        base: "Московская обл., г. Подольск, ул. Комсомольская, 1",
        lat: "55.4312",
        lon: "37.5446",
        radius: "80",
        specs: &[("lift_capacity_t", "25"), ("boom_length_m", "28")],
        documents: &[
            ("osago", "ТТТ 7012345678", -200, 165),
            ("diagnostic_card", "071230032400123", -100, 265),
            ("rtn_registration", "Рег. № 50-12345-П", -700, 700),
        ],
        busy: &[(2, 3, "Монтаж ферм, Видное")],
    },
    DemoMachine {
        org: STROYTECH,
        category: "excavator",
        make: "Komatsu",
        model: "PC200-8",
        year: "2018",
        plate: "5012ХК 50",
        vin: "",
        base: "Московская обл., г. Подольск, ул. Комсомольская, 1",
        lat: "55.4312",
        lon: "37.5446",
        radius: "60",
        specs: &[
            ("bucket_m3", "1,0"),
            ("dig_depth_m", "6,7"),
            ("operating_weight_t", "20,5"),
            ("undercarriage", "гусеничный"),
        ],
        documents: &[("gtn_inspection", "АА 123456", -60, 305)],
        busy: &[],
    },
    DemoMachine {
        org: STROYTECH,
        category: "crane_manipulator",
        make: "КАМАЗ",
        model: "65117 с КМУ Kanglim KS2056",
        year: "2021",
        plate: "М702ОР 190",
        vin: "XTC651173M1234567",
        base: "Московская обл., г. Подольск, ул. Комсомольская, 1",
        lat: "55.4312",
        lon: "37.5446",
        radius: "100",
        specs: &[
            ("payload_t", "10"),
            ("lift_capacity_t", "7"),
            ("boom_length_m", "20"),
        ],
        documents: &[
            ("osago", "ХХХ 0312345670", -30, 335),
            // Expires soon: the page marks it, the owner is warned.
            ("diagnostic_card", "071230032400456", -355, 10),
            ("rtn_registration", "Рег. № 50-23456-П", -400, 1000),
        ],
        busy: &[],
    },
    DemoMachine {
        org: FEDOROV,
        category: "tipper",
        make: "КАМАЗ",
        model: "6520",
        year: "2020",
        plate: "Т455НА 50",
        vin: "XTC652004L1234567",
        base: "Московская обл., г. Ногинск, ул. Индустриальная, 40",
        lat: "55.8547",
        lon: "38.4413",
        radius: "70",
        specs: &[
            ("payload_t", "20"),
            ("body_volume_m3", "16"),
            ("axles", "6x4"),
        ],
        documents: &[
            ("osago", "ТТТ 7023456789", -90, 275),
            ("diagnostic_card", "071230032400789", -90, 275),
        ],
        busy: &[(1, 4, "Вывоз грунта, Электросталь")],
    },
    DemoMachine {
        org: FEDOROV,
        category: "tipper",
        make: "Shacman",
        model: "SX3258DR384",
        year: "2022",
        plate: "Н117ТУ 750",
        vin: "LZGJR4V48NX012345",
        base: "Московская обл., г. Ногинск, ул. Индустриальная, 40",
        lat: "55.8547",
        lon: "38.4413",
        radius: "70",
        specs: &[
            ("payload_t", "25"),
            ("body_volume_m3", "20"),
            ("axles", "6x4"),
        ],
        // ОСАГО expired ten days ago: the machine is unavailable.
        documents: &[
            ("osago", "ХХХ 0398765432", -375, -10),
            ("diagnostic_card", "071230032401012", -30, 335),
        ],
        busy: &[],
    },
    DemoMachine {
        org: GRUZAVTO,
        category: "box_truck",
        make: "ГАЗ",
        model: "ГАЗон NEXT C41R13",
        year: "2021",
        plate: "Р530ЕК 777",
        vin: "X96C41R13M1234567",
        base: "г. Москва, Рязанский пр-т, д. 2, корп. 3",
        lat: "55.7290",
        lon: "37.7330",
        radius: "150",
        specs: &[
            ("payload_t", "5"),
            ("body_volume_m3", "36"),
            ("body_type", "тент"),
            ("tail_lift", "нет"),
        ],
        documents: &[
            ("osago", "ТТТ 7034567890", -120, 245),
            ("diagnostic_card", "071230032401345", -120, 245),
        ],
        busy: &[],
    },
    DemoMachine {
        org: GRUZAVTO,
        category: "semi_trailer_truck",
        make: "Volvo",
        model: "FH 460 с полуприцепом Schmitz SCS",
        year: "2019",
        plate: "К808ХМ 799",
        vin: "YV2RT40A5KB123456",
        base: "г. Москва, Рязанский пр-т, д. 2, корп. 3",
        lat: "55.7290",
        lon: "37.7330",
        radius: "1500",
        specs: &[
            ("payload_t", "20"),
            ("body_volume_m3", "86"),
            ("body_type", "тент"),
        ],
        documents: &[
            ("osago", "ХХХ 0323456781", -60, 305),
            ("diagnostic_card", "071230032401678", -60, 120),
            ("tachograph", "ТХ 0045127", -300, 430),
        ],
        busy: &[(5, 9, "Рейс Москва — Казань")],
    },
    DemoMachine {
        org: GRUZAVTO,
        category: "bus",
        make: "Higer",
        model: "KLQ6128LQ",
        year: "2020",
        plate: "В617АМ 797",
        vin: "LKLR1KSF5LA123456",
        base: "г. Москва, Рязанский пр-т, д. 2, корп. 3",
        lat: "55.7290",
        lon: "37.7330",
        radius: "800",
        specs: &[
            ("seats", "49"),
            ("vehicle_class", "туристический"),
            ("luggage_m3", "8"),
        ],
        documents: &[
            ("osago", "ТТТ 7045678901", -10, 355),
            ("diagnostic_card", "071230032401901", -10, 170),
            ("tachograph", "ТХ 0045128", -200, 530),
        ],
        busy: &[],
    },
];

/// The demo machines of a supplier, with documents and busy days.
async fn seed_garage(tx: &mut Tx, db: &Db, org_id: i64, org_name: &str) -> DomainResult<()> {
    let catalogue = EquipmentCatalogue::builtin().map_err(|e| {
        DomainError::Other(anyhow::anyhow!("the equipment catalogue is invalid: {e:?}"))
    })?;
    let now = db.now();
    let today: NaiveDate = now.with_timezone(&chrono_tz::Europe::Moscow).date_naive();
    for dm in MACHINES.iter().filter(|m| m.org == org_name) {
        let input = MachineInput {
            category: dm.category.into(),
            make: dm.make.into(),
            model: dm.model.into(),
            year: dm.year.into(),
            plate: dm.plate.into(),
            vin: dm.vin.into(),
            base_address: dm.base.into(),
            base_lat: dm.lat.into(),
            base_lon: dm.lon.into(),
            service_radius_km: dm.radius.into(),
            specs: dm
                .specs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let valid = input.validate(&catalogue, 2100).map_err(|e| {
            DomainError::Other(anyhow::anyhow!(
                "demo machine {} is invalid: {e:?}",
                dm.plate
            ))
        })?;
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM machines WHERE org_id = $1 AND plate = $2")
                .bind(org_id)
                .bind(valid.plate.clone())
                .fetch_one(&mut **tx)
                .await?;
        if exists > 0 {
            continue;
        }
        let machine_id = garage::insert_machine(tx, now, org_id, &valid).await?;
        for (kind, number, from, until) in dm.documents {
            let doc = ValidDocument {
                kind: (*kind).into(),
                number: Some((*number).into()),
                valid_from: Some(today + Duration::days(*from)),
                valid_until: today + Duration::days(*until),
            };
            garage::insert_document(tx, now, machine_id, org_id, &doc, None).await?;
        }
        for (from, until, note) in dm.busy {
            for d in *from..=*until {
                sqlx::query(
                    "INSERT INTO machine_busy_days (machine_id, day, note) VALUES ($1, $2, $3)",
                )
                .bind(machine_id)
                .bind(garage::ymd(today + Duration::days(d)))
                .bind(*note)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Demo data that needs the running services (workflows): a supplier
/// application waiting for a manager's check, so the inbox has work in it,
/// and requests of every type through every channel. Idempotent.
pub async fn seed_live(s: &domain::services::Services) -> DomainResult<()> {
    seed_pending_supplier(s).await?;
    seed_requests(s).await?;
    seed_saved_filters(s).await?;
    Ok(())
}

/// The manager's saved filters, so that the chips above the requests list,
/// the board and the inbox show what they are for. Skipped once the
/// manager has any.
async fn seed_saved_filters(s: &domain::services::Services) -> DomainResult<()> {
    use domain::accounts::saved_filters;
    let manager = demo_actor(&s.db, "manager@podryad.test").await?;
    if !saved_filters::list(s, &manager, "board").await?.is_empty() {
        return Ok(());
    }
    let me = manager.user_id();
    saved_filters::save(
        s,
        &manager,
        "board",
        "Мои грузы",
        &format!("type=cargo&owner={me}"),
    )
    .await?;
    saved_filters::save(
        s,
        &manager,
        "requests",
        "Новые с сайта",
        "channel=website&status=qualification",
    )
    .await?;
    saved_filters::save(s, &manager, "tasks", "Просроченные", "overdue=1").await?;
    Ok(())
}

/// Deals under way, so that every cabinet has something to show: a
/// cargo request out for quotes (two suppliers quoted, one has not answered
/// yet — its dispatcher sees the badge) and another with our offer waiting
/// in the client's cabinet. Runs the workflow steps the way the workers
/// would. Skipped once any RFQ round exists.
///
/// Not part of [`seed_live`]: `podryad demo` calls it, while the tests that
/// start from the demo data drive their own rounds from a clean slate.
pub async fn seed_deals(s: &domain::services::Services) -> DomainResult<()> {
    use domain::deals::offers::{self, OfferInput};
    use domain::deals::quotes::{self, QuoteInput};
    use domain::intake::requests::Channel;
    use domain::intake::{self, ClientChoice, IntakeRequest};
    let rounds: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rfq_rounds")
        .fetch_one(s.db.pool())
        .await?;
    if rounds > 0 {
        return Ok(());
    }
    let id_of = |sql: &'static str, key: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(key)
            .fetch_optional(s.db.pool())
            .await
            .map_err(DomainError::from)?
            .ok_or_else(|| DomainError::Other(anyhow::anyhow!("demo data lacks {key}")))
    };
    let org = "SELECT id FROM organisations WHERE name = $1";
    let machine = "SELECT id FROM machines WHERE plate = $1";
    let employee = "SELECT id FROM employees WHERE email = $1";
    let client = id_of(org, "ООО «Северный бетон»").await?;
    let suppliers = [
        id_of(org, "ООО «ГрузАвто»").await?,
        id_of(org, "ООО «СтройТехРесурс»").await?,
        id_of(org, "ИП Фёдоров Андрей Викторович").await?,
    ];
    let operator = demo_actor(&s.db, "operator@podryad.test").await?;
    let manager = demo_actor(&s.db, "manager@podryad.test").await?;
    let step = || async {
        s.engine
            .run_due_now()
            .await
            .map_err(|e| DomainError::Other(anyhow::anyhow!("{e}")))
    };
    // Three cargo requests in central Moscow, qualified and out for quotes.
    let mut requests = Vec::new();
    for (days, what, weight) in [
        (5, "Паллеты с плиткой", "4"),
        (8, "Кирпич на поддонах", "3"),
        (11, "Тротуарная плитка", "4"),
    ] {
        let mut input = demo_request(
            s,
            "cargo",
            &[
                ("cargo", what),
                ("weight_t", weight),
                ("loading_address", "г. Москва, ул. Тверская, д. 7"),
                ("loading_address.lat", "55.7578"),
                ("loading_address.lon", "37.6117"),
                (
                    "unloading_address",
                    "Московская обл., г. Мытищи, ул. Колпакова, 2",
                ),
            ],
            days,
            10,
            "4",
            "",
        );
        input.contact_name = "Павел Громов".into();
        input.contact_phone = "+79167770011".into();
        let created = intake::place(
            s,
            &operator,
            IntakeRequest {
                channel: Channel::Operator,
                client: ClientChoice::Existing(client),
                input,
                attachments: Vec::new(),
            },
        )
        .await?;
        step().await?;
        let task: i64 = sqlx::query_scalar(
            "SELECT t.id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id
             WHERE i.object_kind = 'request' AND i.object_id = $1 AND t.task_key = 'qualify' AND t.status = 'open'",
        )
        .bind(created.id)
        .fetch_one(s.db.pool())
        .await?;
        // The manager qualifies it, as on the task page: the request's
        // history then names who did it.
        domain::workflows::complete(s, &manager, task, "ready", &Default::default())
            .await?
            .map_err(|e| DomainError::Other(anyhow::anyhow!("qualification refused: {e:?}")))?;
        step().await?;
        requests.push((created.id, days));
    }
    let (first, first_day) = requests[0];
    let (second, second_day) = requests[1];
    let (third, third_day) = requests[2];
    domain::deals::rfq::send(s, &manager, first, &suppliers).await?;
    domain::deals::rfq::send(s, &manager, second, &suppliers[..1]).await?;
    domain::deals::rfq::send(s, &manager, third, &suppliers[..1]).await?;
    step().await?;

    let quote = |request: i64,
                 day: i64,
                 supplier: i64,
                 dispatcher: &'static str,
                 plate: &'static str,
                 driver: &'static str,
                 price: &'static str| async move {
        let actor = demo_actor(&s.db, dispatcher).await?;
        let rfq: i64 = sqlx::query_scalar(
            "SELECT id FROM rfqs WHERE request_id = $1 AND supplier_org_id = $2",
        )
        .bind(request)
        .bind(supplier)
        .fetch_one(s.db.pool())
        .await?;
        let arrival =
            s.db.now()
                .with_timezone(&chrono_tz::Europe::Moscow)
                .date_naive()
                + Duration::days(day);
        quotes::submit(
            s,
            &actor,
            rfq,
            &QuoteInput {
                machine_id: id_of(machine, plate).await?.to_string(),
                employee_id: id_of(employee, driver).await?.to_string(),
                price_unit: "hour".into(),
                unit_price: price.into(),
                quantity: "4".into(),
                vat_mode: "vat22".into(),
                prepayment_percent: "0".into(),
                postpayment_days: "10".into(),
                payment_method: "bank".into(),
                arrival_at: format!("{}T09:30", arrival.format("%Y-%m-%d")),
                valid_until: String::new(),
                comment: "Гидроборт, ремни для крепления есть.".into(),
                machines: Vec::new(),
            },
        )
        .await
    };
    // The first request: two quotes in, Fedorov still thinking.
    quote(
        first,
        first_day,
        suppliers[0],
        "dispatcher@gruzavto.test",
        "Р530ЕК 777",
        "driver1@gruzavto.test",
        "3 660",
    )
    .await?;
    quote(
        first,
        first_day,
        suppliers[1],
        "dispatcher@stroytech.test",
        "М702ОР 190",
        "driver1@stroytech.test",
        "4 880",
    )
    .await?;
    // The second: GruzAvto, the only one asked, quoted; the round closes and
    // the manager offers it to the client with the type's markup.
    let q = quote(
        second,
        second_day,
        suppliers[0],
        "dispatcher@gruzavto.test",
        "Р530ЕК 777",
        "driver1@gruzavto.test",
        "3 500",
    )
    .await?;
    step().await?;
    let valid =
        s.db.now()
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive()
            + Duration::days(3);
    offers::send(
        s,
        &manager,
        second,
        &OfferInput {
            quote_id: q.to_string(),
            markup_kind: "percent".into(),
            markup: "15".into(),
            quantity: "4".into(),
            prepayment_percent: "0".into(),
            postpayment_days: "5".into(),
            payment_method: "bank".into(),
            valid_until: format!("{}T18:00", valid.format("%Y-%m-%d")),
            comment: "Подача к 9:30, разгрузка гидробортом.".into(),
        },
    )
    .await?;
    step().await?;
    // The third: the manager offered it 10 % below cost to keep the client;
    // the money guard holds it for the admin's approval.
    let q = quote(
        third,
        third_day,
        suppliers[0],
        "dispatcher@gruzavto.test",
        "Р530ЕК 777",
        "driver1@gruzavto.test",
        "3 500",
    )
    .await?;
    step().await?;
    offers::send(
        s,
        &manager,
        third,
        &OfferInput {
            quote_id: q.to_string(),
            markup_kind: "percent".into(),
            markup: "-10".into(),
            quantity: "4".into(),
            prepayment_percent: "0".into(),
            postpayment_days: "5".into(),
            payment_method: "bank".into(),
            valid_until: format!("{}T18:00", valid.format("%Y-%m-%d")),
            comment: String::new(),
        },
    )
    .await?;
    step().await?;
    Ok(())
}

/// A supplier application waiting for a manager's check.
async fn seed_pending_supplier(s: &domain::services::Services) -> DomainResult<()> {
    use domain::parties::{CompanyInput, RegistrationInput};
    const INN: &str = "7814056781";
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE inn = $1")
        .bind(INN)
        .fetch_one(s.db.pool())
        .await?;
    if exists > 0 {
        return Ok(());
    }
    let input = RegistrationInput {
        company: CompanyInput {
            legal_form: "ooo".into(),
            name: "ООО «ТехноКран»".into(),
            inn: INN.into(),
            kpp: "781401001".into(),
            ogrn: "1227814056788".into(),
            legal_address: "г. Санкт-Петербург, ул. Промышленная, д. 7".into(),
            region: "Санкт-Петербург".into(),
            bank_name: "ПАО Сбербанк".into(),
            bik: "044525225".into(),
            settlement_account: "40702810200000012345".into(),
            corr_account: "30101810400000000225".into(),
            vat_mode: "vat22".into(),
            contact_name: "Кирилл Андреев".into(),
            phone: "+79215550077".into(),
            email: "owner@technokran.test".into(),
            ..Default::default()
        },
        person_name: "Кирилл Андреев".into(),
        password: DEMO_PASSWORD.into(),
        confirm: DEMO_PASSWORD.into(),
        consent: "1".into(),
    };
    domain::parties::register_confirmed_supplier(s, &input).await?;
    Ok(())
}

/// A demo person acting: the system seeds the demo as the people who
/// would have done it (the operator places requests, a dispatcher quotes).
async fn demo_actor(db: &Db, email: &str) -> DomainResult<domain::access::Actor> {
    domain::accounts::act_for(db, &SystemActor::new(), email)
        .await?
        .ok_or_else(|| DomainError::Other(anyhow::anyhow!("demo user {email} is missing")))
}

/// A demo request: the type, its own fields, days from today and the hour
/// (local) it starts, and how long.
fn demo_request(
    s: &domain::services::Services,
    code: &str,
    fields: &[(&str, &str)],
    days: i64,
    hour: u32,
    duration: &str,
    comment: &str,
) -> domain::intake::requests::RequestInput {
    let day =
        s.db.now()
            .with_timezone(&chrono_tz::Europe::Moscow)
            .date_naive()
            + Duration::days(days);
    domain::intake::requests::RequestInput {
        request_type: code.into(),
        wanted_from: format!("{}T{hour:02}:00", day.format("%Y-%m-%d")),
        duration: duration.into(),
        comment: comment.into(),
        fields: fields
            .iter()
            .map(|(k, v)| (format!("f.{k}"), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// Requests of every type through every channel: two website visitors (a
/// private person and a company), two calls to the contact centre from the
/// demo clients, a hunter's new client with two requests, and a request a
/// client placed in its cabinet. Skipped once any request exists.
async fn seed_requests(s: &domain::services::Services) -> DomainResult<()> {
    use domain::intake::requests::Channel;
    use domain::intake::{self, ClientChoice, ClientInput, IntakeRequest, PublicSubmission};
    let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(s.db.pool())
        .await?;
    if any > 0 {
        return Ok(());
    }
    let place_public = |input: domain::intake::requests::RequestInput,
                        name: &str,
                        phone: &str,
                        email: &str,
                        company: &str| {
        let mut input = input;
        input.contact_name = name.into();
        input.contact_phone = phone.into();
        input.contact_email = email.into();
        PublicSubmission {
            input,
            company_name: company.into(),
            ..Default::default()
        }
    };
    let cargo = demo_request(
        s,
        "cargo",
        &[
            ("cargo", "Паллеты с тротуарной плиткой, 10 паллет"),
            ("weight_t", "12,5"),
            ("volume_m3", "30"),
            ("loading_address", "Москва, ул. Складочная, 1"),
            ("loading_address.lat", "55.8046"),
            ("loading_address.lon", "37.5923"),
            ("unloading_address", "Тверь, ул. Индустриальная, 11"),
            ("body_type", "тент"),
            ("loading_method", "боковая"),
            ("vehicles", "1"),
        ],
        3,
        9,
        "6",
        "Нужна разгрузка к 15:00.",
    );
    intake::submit_public(
        s,
        &intake::NoCaptcha,
        None,
        place_public(
            cargo,
            "Дмитрий Кузнецов",
            "+79031234501",
            "dkuz@example.test",
            "",
        ),
        Vec::new(),
    )
    .await?;
    let sand = demo_request(
        s,
        "materials",
        &[
            ("material", "щебень"),
            ("quantity", "60"),
            ("quantity_unit", "т"),
            (
                "delivery_address",
                "Московская обл., г. Подольск, ул. Лобачёва, 12",
            ),
            ("unloading_method", "самосвалом"),
            ("supply", "поставляем мы"),
        ],
        2,
        8,
        "",
        "Фракция 20–40.",
    );
    intake::submit_public(
        s,
        &intake::NoCaptcha,
        None,
        place_public(sand, "Антон Лебедев", "+79031234502", "", "ООО «ДорСтрой»"),
        Vec::new(),
    )
    .await?;

    let operator = demo_actor(&s.db, "operator@podryad.test").await?;
    let client_of = |name: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT id FROM organisations WHERE kind = 'client' AND name = $1 ORDER BY id LIMIT 1",
        )
        .bind(name)
        .fetch_optional(s.db.pool())
        .await
    };
    if let Some(beton) = client_of("ООО «Северный бетон»").await? {
        let mut concrete = demo_request(
            s,
            "materials",
            &[
                ("material", "бетон"),
                ("quantity", "24"),
                ("quantity_unit", "м³"),
                (
                    "delivery_address",
                    "Московская обл., г. Мытищи, ул. Колпакова, 2, стройплощадка",
                ),
                ("delivery_address.lat", "55.9118"),
                ("delivery_address.lon", "37.7305"),
                ("unloading_method", "бетононасосом"),
                ("supply", "поставляем мы"),
            ],
            1,
            10,
            "",
            "Марка М300, заливка фундамента.",
        );
        concrete.contact_name = "Павел Громов".into();
        concrete.contact_phone = "+74953332211".into();
        intake::place(
            s,
            &operator,
            IntakeRequest {
                channel: Channel::Operator,
                client: ClientChoice::Existing(beton),
                input: concrete,
                attachments: Vec::new(),
            },
        )
        .await?;
    }
    if let Some(belova) = client_of("Белова Ирина Сергеевна").await? {
        let mut bus = demo_request(
            s,
            "passengers",
            &[
                ("passengers", "18"),
                ("pickup_address", "Москва, ст. м. ВДНХ, выход 4"),
                ("pickup_address.lat", "55.8210"),
                ("pickup_address.lon", "37.6411"),
                ("route", "Москва — Сергиев Посад — Москва"),
                ("round_trip", "1"),
                ("vehicle_class", "туристический"),
                ("luggage", "1"),
            ],
            5,
            9,
            "10",
            "Экскурсия, группа взрослых.",
        );
        bus.contact_name = "Ирина Белова".into();
        bus.contact_phone = "+79267654321".into();
        bus.contact_email = "client@belova.test".into();
        intake::place(
            s,
            &operator,
            IntakeRequest {
                channel: Channel::Operator,
                client: ClientChoice::Existing(belova),
                input: bus,
                attachments: Vec::new(),
            },
        )
        .await?;
    }

    let hunter = demo_actor(&s.db, "hunter@podryad.test").await?;
    let montazh = intake::add_hunter_client(
        s,
        &hunter,
        &ClientInput {
            legal_form: "ooo".into(),
            company_name: "ООО «СтройМонтаж»".into(),
            contact_name: "Сергей Виноградов".into(),
            phone: "+74957001122".into(),
            email: "snab@stroymontazh.test".into(),
            ..Default::default()
        },
    )
    .await?;
    for input in [
        demo_request(
            s,
            "machinery",
            &[
                ("category", "truck_crane"),
                ("work", "Монтаж металлоконструкций каркаса склада"),
                (
                    "site_address",
                    "Московская обл., г. Видное, Белокаменное ш., 10",
                ),
                ("site_address.lat", "55.5634"),
                ("site_address.lon", "37.7077"),
                ("lift_capacity_t", "25"),
                ("boom_length_m", "28"),
                ("with_operator", "1"),
            ],
            4,
            8,
            "2",
            "",
        ),
        demo_request(
            s,
            "cargo",
            &[
                ("cargo", "Металлоконструкции, фермы до 12 м"),
                ("weight_t", "8"),
                ("loading_address", "Москва, Рязанский пр-т, 86"),
                ("loading_address.lat", "55.7160"),
                ("loading_address.lon", "37.7880"),
                (
                    "unloading_address",
                    "Московская обл., г. Видное, Белокаменное ш., 10",
                ),
                ("body_type", "бортовой"),
                ("loading_method", "краном"),
            ],
            3,
            7,
            "4",
            "",
        ),
    ] {
        intake::place(
            s,
            &hunter,
            IntakeRequest {
                channel: Channel::Hunter,
                client: ClientChoice::Existing(montazh),
                input,
                attachments: Vec::new(),
            },
        )
        .await?;
    }

    let client = demo_actor(&s.db, "client@sevbeton.test").await?;
    intake::place(
        s,
        &client,
        IntakeRequest {
            channel: Channel::Cabinet,
            client: ClientChoice::Existing(client.org_id()),
            input: demo_request(
                s,
                "machinery",
                &[
                    ("category", "excavator"),
                    ("work", "Рытьё котлована под фундамент, 300 м³ грунта"),
                    (
                        "site_address",
                        "Московская обл., г. Мытищи, ул. Колпакова, 2",
                    ),
                    ("site_address.lat", "55.9118"),
                    ("site_address.lon", "37.7305"),
                    ("bucket_m3", "1"),
                    ("with_operator", "1"),
                ],
                6,
                8,
                "3",
                "Вывоз грунта обсудим отдельно.",
            ),
            attachments: Vec::new(),
        },
    )
    .await?;
    Ok(())
}
