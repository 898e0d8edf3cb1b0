//! People and their access: users, roles, sign-in with throttling, sessions,
//! invitations and password reset.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use engine::{Db, Sql, Tx, from_db_time, to_db_time};
use serde::Serialize;
use serde_json::json;

use crate::access::roles::{OrgKind, Role};
use crate::access::{Actor, Resource, SystemActor, scope};
use crate::accounts::session_cache::{self, SessionCache};
use crate::crypto::{hash_password, random_token, sha256_hex, verify_password};
use crate::error::{DomainError, DomainResult, FieldErrors};
use crate::notify::{self, NewNotification};
use crate::services::Services;
use crate::texts::Texts;
use crate::values::{Email, PhoneNumber};
use crate::{access::audit, accounts::tokens, args};

/// How long a session lives without use.
pub const SESSION_TTL: Duration = Duration::days(14);
/// Sign-in throttling. Failures are counted per (login, client address):
/// after [`MAX_FAILURES`] within [`FAILURE_WINDOW`] from one address, each
/// further failure makes that address wait before its next try for that
/// login — 1 s, 2 s, 4 s … up to [`MAX_DELAY`]. The owner signing in from
/// their own address is never locked out by an attacker elsewhere. Against
/// password spraying (many logins from one address), an address with
/// [`MAX_FAILURES_PER_ADDRESS`] failures in the window waits
/// [`LOCK_DURATION`] for any login.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
pub const MAX_DELAY: Duration = Duration::minutes(15);
pub const MAX_FAILURES_PER_ADDRESS: i64 = 50;
pub const LOCK_DURATION: Duration = Duration::minutes(15);
/// Password-reset links per account (login) and per client address, per hour.
pub const RESET_LIMIT_PER_ACCOUNT: u32 = 3;
pub const RESET_LIMIT_PER_ADDRESS: u32 = 10;

/// The wait after the `failures`-th failure of one (login, address):
/// nothing before [`MAX_FAILURES`], then doubling from one second, capped.
pub fn login_delay(failures: i64) -> Option<Duration> {
    if failures < MAX_FAILURES {
        return None;
    }
    let exp = (failures - MAX_FAILURES).min(30) as u32;
    let secs = 1i64.checked_shl(exp).unwrap_or(i64::MAX);
    Some(Duration::seconds(secs.min(MAX_DELAY.num_seconds())))
}
pub const MIN_PASSWORD_LEN: usize = 8;

/// A sign-in name: an e-mail or a Russian phone number, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Email(String),
    Phone(String),
}

impl Login {
    pub fn parse(input: &str) -> Option<Login> {
        let input = input.trim();
        if input.contains('@') {
            Email::parse(input)
                .ok()
                .map(|e| Login::Email(e.as_str().to_string()))
        } else {
            PhoneNumber::parse(input)
                .ok()
                .map(|p| Login::Phone(p.as_str().to_string()))
        }
    }

    fn key(&self) -> String {
        match self {
            Login::Email(e) => format!("login:{e}"),
            Login::Phone(p) => format!("login:{p}"),
        }
    }
}

/// A user as lists and cards show them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub org_kind: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub full_name: String,
    pub status: String,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub telegram_chat_id: Option<String>,
    #[sqlx(skip)]
    pub roles: Vec<String>,
}

/// What a form or the CLI submits to create a user.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub roles: Vec<String>,
    /// Empty: the user is invited to set a password through a one-time link.
    pub password: String,
}

/// A password as it is stored: its Argon2id hash.
///
/// Hashing takes about a tenth of a second on purpose. Done inside a write
/// transaction it would hold SQLite's single writer (and a PostgreSQL
/// transaction's locks) that long, queueing every other write behind one
/// sign-up. So a password is hashed here, before any transaction opens, and
/// the functions that store one ([`insert_user`], …) take this value: they
/// have no plaintext to hash.
#[derive(Clone)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes `password` off the async threads. Call it before opening the
    /// transaction that stores the result.
    pub async fn of(password: &str) -> DomainResult<PasswordHash> {
        Ok(PasswordHash(hash_password(password.to_string()).await?))
    }

    /// The PHC string for the `password_hash` column.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(…)")
    }
}

/// A [`UserInput`] that passed validation, its password already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub roles: Vec<Role>,
    pub password: Option<PasswordHash>,
}

impl UserInput {
    /// Checks every field for an organisation of `side`, collecting all
    /// errors ([`DomainError::Invalid`]); a valid input's password comes back
    /// hashed, so the caller can store it without hashing in its transaction.
    pub async fn validate(&self, side: OrgKind) -> DomainResult<NewUser> {
        let mut errors = FieldErrors::new();
        let full_name = self.full_name.trim().to_string();
        if full_name.is_empty() {
            errors.add("full_name", "required");
        }
        let email = errors.optional("email", &self.email, "email.invalid", Email::parse);
        let phone = errors.optional("phone", &self.phone, "phone.invalid", PhoneNumber::parse);
        if self.email.trim().is_empty() && self.phone.trim().is_empty() {
            errors.add("email", "login.email_or_phone_required");
        }
        let mut roles = Vec::new();
        for r in &self.roles {
            match Role::parse(r) {
                Some(role) if role.side() == side => {
                    if !roles.contains(&role) {
                        roles.push(role)
                    }
                }
                _ => errors.add("roles", "role.invalid"),
            }
        }
        if roles.is_empty() && errors.get("roles").is_none() {
            errors.add("roles", "role.required");
        }
        let password = if self.password.is_empty() {
            None
        } else if self.password.chars().count() < MIN_PASSWORD_LEN {
            errors.add("password", "password.too_short");
            None
        } else {
            Some(self.password.clone())
        };
        errors.into_result()?;
        let password = match password {
            Some(p) => Some(PasswordHash::of(&p).await?),
            None => None,
        };
        Ok(NewUser {
            full_name,
            email,
            phone,
            roles,
            password,
        })
    }
}

/// Creates a user in `org_id` inside the caller's transaction. Returns the id;
/// a taken e-mail or phone is a field error, not a database error. The
/// password was hashed before the transaction opened ([`PasswordHash`]).
pub async fn insert_user(
    tx: &mut Tx,
    now: DateTime<Utc>,
    org_id: i64,
    user: &NewUser,
) -> DomainResult<i64> {
    let hash = user.password.as_ref().map(|h| h.as_str().to_string());
    let status = if hash.is_some() { "active" } else { "invited" };
    let taken = taken_logins(tx, user.email.as_deref(), user.phone.as_deref()).await?;
    if !taken.is_empty() {
        return Err(DomainError::Invalid(taken));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (org_id, email, phone, full_name, password_hash, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(org_id)
    .bind(user.email.clone())
    .bind(user.phone.clone())
    .bind(&user.full_name)
    .bind(hash)
    .bind(status)
    .bind(to_db_time(now))
    .fetch_one(&mut **tx)
    .await?;
    for role in &user.roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role.as_str())
            .execute(&mut **tx)
            .await?;
    }
    crate::search::index_user(tx, id).await?;
    Ok(id)
}

async fn taken_logins(
    tx: &mut Tx,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<FieldErrors, sqlx::Error> {
    let mut errors = FieldErrors::new();
    if let Some(email) = email {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&mut **tx)
            .await?;
        if n > 0 {
            errors.add("email", "email.taken");
        }
    }
    if let Some(phone) = phone {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE phone = $1")
            .bind(phone)
            .fetch_one(&mut **tx)
            .await?;
        if n > 0 {
            errors.add("phone", "phone.taken");
        }
    }
    Ok(errors)
}

/// Creates a user of the caller's own organisation (an admin adding staff,
/// an owner adding a dispatcher). Without a password an invitation link is
/// sent so the person sets their own.
pub async fn create_colleague(s: &Services, actor: &Actor, input: &UserInput) -> DomainResult<i64> {
    may_manage_colleagues(actor)?;
    let user = input.validate(actor.org_kind()).await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id = insert_user(&mut tx, now, actor.org_id(), &user).await?;
    if user.password.is_none() {
        send_invitation(&mut tx, now, s.texts.as_ref(), &s.base_url, id, &user).await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "user.created",
        "user",
        Some(id),
        json!({"roles": user.roles, "email": user.email, "phone": user.phone}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(id)
}

pub(crate) async fn send_invitation(
    tx: &mut Tx,
    now: DateTime<Utc>,
    texts: &dyn Texts,
    base_url: &str,
    user_id: i64,
    user: &NewUser,
) -> DomainResult<()> {
    let token = tokens::issue(
        tx,
        now,
        "invite",
        Some(user_id),
        &json!({}),
        Duration::days(7),
    )
    .await?;
    let link = format!("{base_url}/password/set/{token}");
    let args = args!["name" => user.full_name, "link" => link];
    let (channel, recipient) = match (&user.email, &user.phone) {
        (Some(e), _) => ("email", e.clone()),
        (None, Some(p)) => ("sms", p.clone()),
        (None, None) => return Ok(()),
    };
    notify::enqueue(
        tx,
        now,
        NewNotification {
            channel: channel.to_string(),
            recipient,
            user_id: Some(user_id),
            subject: texts.text("mail-invite-subject", &args),
            body: texts.text("mail-invite-body", &args),
        },
    )
    .await?;
    Ok(())
}

/// Checks a login and password, enforcing throttling per (login, client
/// address) and per address (see [`MAX_FAILURES`]). Returns the user id.
/// A refused early attempt is [`DomainError::Throttled`] with the wait.
pub async fn authenticate(
    db: &Db,
    login_input: &str,
    password: &str,
    ip: Option<&str>,
) -> DomainResult<i64> {
    let now = db.now();
    let login = Login::parse(login_input);
    let login_key = login
        .as_ref()
        .map(Login::key)
        .unwrap_or_else(|| format!("login:{}", login_input.trim().to_lowercase()));
    let ip = ip.unwrap_or("unknown");
    let pair_key = format!("{login_key}|ip:{ip}");
    let ip_key = format!("ip:{ip}");

    for key in [&pair_key, &ip_key] {
        if let Some(until) = locked_until(db, key, now).await? {
            return Err(DomainError::Throttled {
                retry_after_secs: ((until - now).num_milliseconds() + 999).max(1000) / 1000,
            });
        }
    }

    let found: Option<(i64, Option<String>, String)> = match &login {
        Some(Login::Email(e)) => {
            sqlx::query_as("SELECT id, password_hash, status FROM users WHERE email = $1")
                .bind(e)
                .fetch_optional(db.pool())
                .await?
        }
        Some(Login::Phone(p)) => {
            sqlx::query_as("SELECT id, password_hash, status FROM users WHERE phone = $1")
                .bind(p)
                .fetch_optional(db.pool())
                .await?
        }
        None => None,
    };
    let stored = found.as_ref().and_then(|(_, h, _)| h.clone());
    let ok = verify_password(password.to_string(), stored).await;
    match found {
        Some((id, _, status)) if ok && status == "active" => {
            let mut tx = db.begin().await?;
            sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                .bind(&pair_key)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
                .bind(to_db_time(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(id)
        }
        Some((_, _, status)) if ok && status == "disabled" => {
            Err(DomainError::field("login", "login.disabled"))
        }
        _ => {
            let mut tx = db.begin().await?;
            let failures = record_failure(&mut tx, &pair_key, now).await?;
            let mut wait = login_delay(failures);
            let from_address = record_failure(&mut tx, &ip_key, now).await?;
            if from_address >= MAX_FAILURES_PER_ADDRESS {
                wait = Some(wait.map_or(LOCK_DURATION, |w| w.max(LOCK_DURATION)));
                lock(&mut tx, &ip_key, now + LOCK_DURATION, true).await?;
            }
            if let Some(w) = login_delay(failures) {
                lock(&mut tx, &pair_key, now + w, false).await?;
            }
            tx.commit().await?;
            match wait {
                Some(w) => Err(DomainError::Throttled {
                    retry_after_secs: w.num_seconds().max(1),
                }),
                None => Err(DomainError::field("login", "login.invalid")),
            }
        }
    }
}

async fn locked_until(
    db: &Db,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let until: Option<Option<i64>> =
        sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    Ok(until.flatten().map(from_db_time).filter(|u| *u > now))
}

/// Counts a failure of `key`; returns the count. The count starts again
/// after [`FAILURE_WINDOW`] without failures (`window_start_at` holds the
/// last failure), so waiting out a growing delay does not reset it.
async fn record_failure(tx: &mut Tx, key: &str, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    let window_start = to_db_time(now - FAILURE_WINDOW);
    sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_start_at, locked_until)
         VALUES ($1, 1, $2, NULL)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN login_throttle.window_start_at < $3 THEN 1
                           ELSE login_throttle.failures + 1 END,
           window_start_at = $2
         RETURNING failures",
    )
    .bind(key)
    .bind(to_db_time(now))
    .bind(window_start)
    .fetch_one(&mut **tx)
    .await
}

/// Makes `key` wait until `until`; `reset` starts its count again (the
/// per-address lock), otherwise the count keeps growing the next delay.
async fn lock(
    tx: &mut Tx,
    key: &str,
    until: DateTime<Utc>,
    reset: bool,
) -> Result<(), sqlx::Error> {
    let sql = if reset {
        "UPDATE login_throttle SET locked_until = $1, failures = 0 WHERE key = $2"
    } else {
        "UPDATE login_throttle SET locked_until = $1 WHERE key = $2"
    };
    sqlx::query(sql)
        .bind(to_db_time(until))
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Opens a session; the returned token goes into the HttpOnly cookie.
pub async fn open_session(
    db: &Db,
    user_id: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> DomainResult<String> {
    let now = db.now();
    let token = random_token();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $3, $5, $6)",
    )
    .bind(sha256_hex(&token))
    .bind(user_id)
    .bind(to_db_time(now))
    .bind(to_db_time(now + SESSION_TTL))
    .bind(ip.map(str::to_string))
    .bind(user_agent.map(|s| s.chars().take(300).collect::<String>()))
    .execute(&mut *tx)
    .await?;
    // Expired sessions are swept opportunistically rather than by a job.
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(to_db_time(now))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(token)
}

/// The actor behind a session cookie, or `None` when it is unknown, expired,
/// or its user is no longer active. Extends the session when used. Answers
/// are remembered for the next requests ([`super::session_cache`]).
pub async fn actor_for_session(db: &Db, token: &str) -> DomainResult<Option<Actor>> {
    let now = db.now();
    let hash = sha256_hex(token);
    let cache = SessionCache::of(db);
    let usable = cache.usable(db);
    if usable && let Some(c) = cache.get(&hash) {
        // Still valid, and its sliding expiry needs no writing yet.
        if c.expires_at > to_db_time(now) && now - from_db_time(c.last_seen_at) <= SLIDE_EVERY {
            return Ok(Some(c.actor));
        }
    }
    let generation = cache.generation();
    let row: Option<(i64, i64, i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT s.last_seen_at, s.expires_at, u.id, u.org_id, o.kind, u.full_name, u.status
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = u.org_id
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(&hash)
    .bind(to_db_time(now))
    .fetch_optional(db.pool())
    .await?;
    let Some((mut last_seen, mut expires_at, user_id, org_id, kind, full_name, status)) = row
    else {
        return Ok(None);
    };
    let Some(actor) = actor_of(db, user_id, org_id, &kind, full_name, &status).await? else {
        return Ok(None);
    };
    // Sliding expiry, written at most every five minutes to spare the writer.
    if now - from_db_time(last_seen) > SLIDE_EVERY {
        last_seen = to_db_time(now);
        expires_at = to_db_time(now + SESSION_TTL);
        let mut conn = db.single_write().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(last_seen)
            .bind(expires_at)
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
    }
    if usable {
        cache.put(hash, actor.clone(), expires_at, last_seen, generation);
    }
    Ok(Some(actor))
}

/// The person with this login (e-mail or phone), for the system acting on
/// their behalf: demo seeding and tools that replay what a person would do.
/// Taking the [`SystemActor`] is the point: only code that acts as the
/// system may act for someone without their session. `None` when there is
/// no such active user.
pub async fn act_for(db: &Db, _system: &SystemActor, login: &str) -> DomainResult<Option<Actor>> {
    let id: Option<i64> = match Login::parse(login) {
        Some(Login::Email(e)) => {
            sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                .bind(e)
                .fetch_optional(db.pool())
                .await?
        }
        Some(Login::Phone(p)) => {
            sqlx::query_scalar("SELECT id FROM users WHERE phone = $1")
                .bind(p)
                .fetch_optional(db.pool())
                .await?
        }
        None => None,
    };
    match id {
        Some(id) => active_user(db, id).await,
        None => Ok(None),
    }
}

/// The actor of an active user.
async fn active_user(db: &Db, user_id: i64) -> DomainResult<Option<Actor>> {
    let row: Option<(i64, String, String, String)> = sqlx::query_as(
        "SELECT u.org_id, o.kind, u.full_name, u.status
         FROM users u JOIN organisations o ON o.id = u.org_id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some((org_id, kind, full_name, status)) => {
            actor_of(db, user_id, org_id, &kind, full_name, &status).await
        }
        None => Ok(None),
    }
}

/// The actor of a user row, with the roles of their organisation's side;
/// `None` unless the user is active.
async fn actor_of(
    db: &Db,
    user_id: i64,
    org_id: i64,
    kind: &str,
    full_name: String,
    status: &str,
) -> DomainResult<Option<Actor>> {
    if status != "active" {
        return Ok(None);
    }
    let Some(org_kind) = OrgKind::parse(kind) else {
        return Ok(None);
    };
    let roles: Vec<String> =
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id)
            .fetch_all(db.pool())
            .await?;
    Ok(Some(Actor::signed_in(
        user_id,
        org_id,
        org_kind,
        roles.iter().filter_map(|r| Role::parse(r)),
        full_name,
    )))
}

/// How often a session's sliding expiry is written.
const SLIDE_EVERY: Duration = Duration::minutes(5);

pub async fn close_session(db: &Db, token: &str) -> DomainResult<()> {
    let hash = sha256_hex(token);
    {
        let mut conn = db.single_write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
    }
    session_cache::forget_session(db, &hash);
    Ok(())
}

/// Sends a one-time password-reset link to the account's e-mail (or phone).
/// Answers the same whether or not the account exists, so the form cannot be
/// used to discover who has an account.
///
/// Limited per account (the login asked for, known or not) and per client
/// address ([`RESET_LIMIT_PER_ACCOUNT`], [`RESET_LIMIT_PER_ADDRESS`] an
/// hour), so the form cannot flood anyone's mailbox or phone with SMS.
pub async fn request_password_reset(
    s: &Services,
    login_input: &str,
    ip: Option<&str>,
) -> DomainResult<()> {
    let (db, texts, base_url) = (&s.db, s.texts.as_ref(), s.base_url.as_str());
    let Some(login) = Login::parse(login_input) else {
        return Err(DomainError::field("login", "login.not_email_or_phone"));
    };
    let hour = Duration::hours(1);
    crate::rate_limit::hit(
        db,
        &format!("reset:ip:{}", ip.unwrap_or("unknown")),
        crate::rate_limit::Limit {
            limit: RESET_LIMIT_PER_ADDRESS,
            window: hour,
        },
    )
    .await?;
    crate::rate_limit::hit(
        db,
        &format!("reset:{}", login.key()),
        crate::rate_limit::Limit {
            limit: RESET_LIMIT_PER_ACCOUNT,
            window: hour,
        },
    )
    .await?;
    let found: Option<(i64, Option<String>, Option<String>, String)> = match &login {
        Login::Email(e) => sqlx::query_as("SELECT id, email, phone, full_name FROM users WHERE email = $1 AND status <> 'disabled'")
            .bind(e)
            .fetch_optional(db.pool())
            .await?,
        Login::Phone(p) => sqlx::query_as("SELECT id, email, phone, full_name FROM users WHERE phone = $1 AND status <> 'disabled'")
            .bind(p)
            .fetch_optional(db.pool())
            .await?,
    };
    let Some((user_id, email, phone, full_name)) = found else {
        tracing::info!(
            login = login_input,
            "password reset asked for an unknown login"
        );
        return Ok(());
    };
    let now = db.now();
    let mut tx = db.begin().await?;
    let token = tokens::issue(
        &mut tx,
        now,
        "password_reset",
        Some(user_id),
        &json!({}),
        Duration::hours(1),
    )
    .await?;
    let link = format!("{base_url}/password/set/{token}");
    let args = args!["name" => full_name, "link" => link];
    let (channel, recipient) = match (&login, email, phone) {
        (Login::Phone(p), _, _) => ("sms", p.clone()),
        (_, Some(e), _) => ("email", e),
        (_, None, Some(p)) => ("sms", p),
        _ => return Ok(()),
    };
    notify::enqueue(
        &mut tx,
        now,
        NewNotification {
            channel: channel.to_string(),
            recipient,
            user_id: Some(user_id),
            subject: texts.text("mail-reset-subject", &args),
            body: texts.text("mail-reset-body", &args),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        None,
        "password.reset_requested",
        "user",
        Some(user_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Whether a password link (reset or invitation) is still usable.
pub async fn password_link_valid(db: &Db, token: &str) -> DomainResult<bool> {
    let now = db.now();
    for purpose in ["password_reset", "invite"] {
        if tokens::peek(db.pool(), now, purpose, token)
            .await?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sets a new password through a one-time link (reset or invitation),
/// activates an invited user and ends all their other sessions.
pub async fn set_password_with_link(
    db: &Db,
    token: &str,
    password: &str,
    confirm: &str,
) -> DomainResult<i64> {
    let mut errors = FieldErrors::new();
    if password.chars().count() < MIN_PASSWORD_LEN {
        errors.add("password", "password.too_short");
    }
    if password != confirm {
        errors.add("confirm", "password.mismatch");
    }
    errors.into_result()?;
    let hash = PasswordHash::of(password).await?;
    let now = db.now();
    let mut tx = db.begin().await?;
    let mut user = None;
    for purpose in ["password_reset", "invite"] {
        if let Some((Some(uid), _)) = tokens::consume(&mut tx, now, purpose, token).await? {
            user = Some(uid);
            break;
        }
    }
    let Some(user_id) = user else {
        return Err(DomainError::Conflict("link.invalid"));
    };
    // Every other outstanding reset or invitation link of the user dies
    // with this one: a link leaked earlier cannot set the password again.
    sqlx::query(
        "UPDATE one_time_tokens SET used_at = $1
         WHERE user_id = $2 AND purpose IN ('password_reset', 'invite') AND used_at IS NULL",
    )
    .bind(to_db_time(now))
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET password_hash = $1, status = CASE WHEN status = 'invited' THEN 'active' ELSE status END, updated_at = $2 WHERE id = $3")
        .bind(hash.as_str())
        .bind(to_db_time(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // The owner proved who they are: their sign-in waits end everywhere.
    sqlx::query(
        "DELETE FROM login_throttle WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND (
            substr(login_throttle.key, 1, length(u.email) + 7) = 'login:' || u.email || '|'
         OR substr(login_throttle.key, 1, length(u.phone) + 7) = 'login:' || u.phone || '|'))",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        None,
        "password.set",
        "user",
        Some(user_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    session_cache::forget_user(db, user_id);
    Ok(user_id)
}

/// Filters for user lists.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub org_id: Option<i64>,
    pub role: Option<Role>,
    pub text: Option<String>,
}

/// Users the actor may see, newest first.
pub async fn list_users(db: &Db, actor: &Actor, filter: &UserFilter) -> DomainResult<Vec<UserRow>> {
    let mut sql = Sql::new(
        "SELECT u.id, u.org_id, o.name AS org_name, o.kind AS org_kind, u.email, u.phone, u.full_name,
                u.status, u.created_at, u.last_login_at, u.telegram_chat_id
         FROM users u JOIN organisations o ON o.id = u.org_id WHERE 1 = 1",
    );
    scope(&mut sql, actor, Resource::User, "u");
    if let Some(org) = filter.org_id {
        sql.push(" AND u.org_id = ").bind(org);
    }
    if let Some(role) = filter.role {
        sql.push(" AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ")
            .bind(role.as_str())
            .push(")");
    }
    if let Some(text) = filter.text.as_ref().filter(|t| !t.trim().is_empty()) {
        sql.push(" AND u.search_text LIKE ")
            .bind(crate::search::pattern(text))
            .push(" ESCAPE '\\'");
    }
    sql.push(" ORDER BY u.id DESC LIMIT 500");
    let mut users: Vec<UserRow> = sql.query_as().fetch_all(db.pool()).await?;
    attach_roles(db, &mut users).await?;
    Ok(users)
}

/// Links (or, with an empty id, unlinks) the signed-in person's Telegram
/// chat: their notifications go there too ([`crate::notify::tell`]).
pub async fn set_telegram(db: &Db, actor: &Actor, chat_id: &str) -> DomainResult<()> {
    let chat_id = chat_id.trim();
    if !chat_id.is_empty() && !crate::notify::valid_telegram_chat_id(chat_id) {
        return Err(DomainError::field("telegram_chat_id", "telegram.chat_id"));
    }
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET telegram_chat_id = $1 WHERE id = $2")
        .bind((!chat_id.is_empty()).then(|| chat_id.to_string()))
        .bind(actor.user_id())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// One user the actor may see; another organisation's user is `NotFound`.
pub async fn get_user(db: &Db, actor: &Actor, id: i64) -> DomainResult<UserRow> {
    let mut sql = Sql::new(
        "SELECT u.id, u.org_id, o.name AS org_name, o.kind AS org_kind, u.email, u.phone, u.full_name,
                u.status, u.created_at, u.last_login_at, u.telegram_chat_id
         FROM users u JOIN organisations o ON o.id = u.org_id WHERE u.id = ",
    );
    sql.bind(id);
    scope(&mut sql, actor, Resource::User, "u");
    let mut users: Vec<UserRow> = sql.query_as().fetch_all(db.pool()).await?;
    attach_roles(db, &mut users).await?;
    users.pop().ok_or(DomainError::NotFound)
}

async fn attach_roles(db: &Db, users: &mut [UserRow]) -> Result<(), sqlx::Error> {
    if users.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("SELECT user_id, role FROM user_roles WHERE user_id IN (");
    sql.bind_list(users.iter().map(|u| u.id))
        .push(") ORDER BY role");
    let rows: Vec<(i64, String)> = sql.query_as().fetch_all(db.pool()).await?;
    let mut by_user: HashMap<i64, Vec<String>> = HashMap::new();
    for (uid, role) in rows {
        by_user.entry(uid).or_default().push(role);
    }
    for u in users.iter_mut() {
        u.roles = by_user.remove(&u.id).unwrap_or_default();
    }
    Ok(())
}

/// Only who runs an organisation adds and changes its people's accounts:
/// the broker's admins, a supplier's owner. Everyone else (a dispatcher, a
/// driver, a manager) is refused, whatever page they call from.
fn may_manage_colleagues(actor: &Actor) -> DomainResult<()> {
    if actor.has_any(&[Role::Admin, Role::Owner]) {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// Replaces a colleague's roles and status. Only within the actor's own
/// organisation, and nobody can take the last admin's admin role away.
pub async fn update_colleague(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    roles: &[String],
    status: &str,
) -> DomainResult<()> {
    may_manage_colleagues(actor)?;
    let target = get_user(db, actor, user_id).await?;
    if target.org_id != actor.org_id() {
        return Err(DomainError::NotFound);
    }
    let mut errors = FieldErrors::new();
    let mut parsed = Vec::new();
    for r in roles {
        match Role::parse(r) {
            Some(role) if role.side() == actor.org_kind() => parsed.push(role),
            _ => errors.add("roles", "role.invalid"),
        }
    }
    if parsed.is_empty() && errors.is_empty() {
        errors.add("roles", "role.required");
    }
    // "invited" may only be kept, never chosen.
    let allowed = ["active", "disabled"].contains(&status)
        || (status == "invited" && target.status == "invited");
    if !allowed {
        errors.add("status", "status.invalid");
    }
    errors.into_result()?;
    let now = db.now();
    let mut tx = db.begin().await?;
    if target.roles.iter().any(|r| r == "admin")
        && (!parsed.contains(&Role::Admin) || status == "disabled")
    {
        let other_admins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM user_roles r JOIN users u ON u.id = r.user_id
             WHERE r.role = 'admin' AND u.org_id = $1 AND u.id <> $2 AND u.status = 'active'",
        )
        .bind(actor.org_id())
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if other_admins == 0 {
            return Err(DomainError::Conflict("user.last_admin"));
        }
    }
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for role in &parsed {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(to_db_time(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if status == "disabled" {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "user.updated",
        "user",
        Some(user_id),
        json!({"roles": parsed, "status": status}),
    )
    .await?;
    tx.commit().await?;
    session_cache::forget_user(db, user_id);
    Ok(())
}

#[cfg(test)]
mod throttle_tests {
    use super::*;

    #[test]
    fn the_delay_grows_from_the_fifth_failure_and_is_capped() {
        assert_eq!(login_delay(4), None);
        assert_eq!(login_delay(5), Some(Duration::seconds(1)));
        assert_eq!(login_delay(6), Some(Duration::seconds(2)));
        assert_eq!(login_delay(8), Some(Duration::seconds(8)));
        assert_eq!(login_delay(15), Some(MAX_DELAY));
        assert_eq!(login_delay(1000), Some(MAX_DELAY));
    }
}
