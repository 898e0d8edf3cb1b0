use super::*;

pub(super) async fn start_moderation(
    s: &Services,
    tx: &mut Tx,
    org_id: i64,
    name: &str,
    inn: Option<&str>,
    actor: Option<i64>,
) -> DomainResult<()> {
    let mut data = Map::new();
    data.insert("company_name".into(), Value::from(name));
    data.insert("inn".into(), Value::from(inn.unwrap_or_default()));
    s.engine
        .start_in_tx(
            tx,
            ONBOARDING,
            ObjectRef {
                kind: "supplier".into(),
                id: org_id,
            },
            data,
            actor,
        )
        .await?;
    Ok(())
}

pub(super) async fn set_status_in(
    tx: &mut sqlx::AnyConnection,
    now: DateTime<Utc>,
    org_id: i64,
    status: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    let approved = if status == "approved" {
        Some(to_db_time(now))
    } else {
        None
    };
    sqlx::query(
        "UPDATE organisations SET status = $1, status_reason = $2, approved_at = COALESCE($3, approved_at), updated_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(reason.map(str::to_string))
    .bind(approved)
    .bind(to_db_time(now))
    .bind(org_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Moves a supplier to a moderation status in its own transaction.
/// Idempotent. Tells the owner.
pub async fn apply_moderation_status(
    s: &Services,
    org_id: i64,
    status: &str,
    reason: Option<&str>,
) -> DomainResult<()> {
    let mut tx = s.db.begin().await?;
    apply_moderation_status_on(s, &mut tx, org_id, status, reason).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// Moves a supplier to a moderation status on `tx`, a connection inside the
/// caller's transaction: the onboarding workflow's local
/// `supplier.set_status` action passes its step's, so the projection is
/// written with the step and never lags or goes back. Idempotent. Tells the
/// owner (queued in the same transaction).
pub async fn apply_moderation_status_on(
    s: &Services,
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    status: &str,
    reason: Option<&str>,
) -> DomainResult<()> {
    const ALLOWED: [&str; 4] = ["pending", "approved", "rejected", "changes_requested"];
    if !ALLOWED.contains(&status) {
        return Err(DomainError::field("status", "status.invalid"));
    }
    let now = s.db.now();
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM organisations WHERE id = $1 AND kind = 'supplier'")
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(current) = current else {
        return Err(DomainError::NotFound);
    };
    if current == status {
        return Ok(());
    }
    set_status_in(tx, now, org_id, status, reason).await?;
    if status != "pending" {
        let owners: Vec<(i64, Option<String>, String)> = sqlx::query_as(
            "SELECT u.id, u.email, u.full_name FROM users u JOIN user_roles r ON r.user_id = u.id
             WHERE u.org_id = $1 AND r.role = 'owner' AND u.status = 'active'",
        )
        .bind(org_id)
        .fetch_all(&mut *tx)
        .await?;
        for (uid, email, name) in owners {
            let Some(email) = email else { continue };
            let a = args![
                "name" => name,
                "reason" => reason.unwrap_or_default(),
                "link" => format!("{}/supplier/profile", s.base_url)
            ];
            notify::enqueue(
                tx,
                now,
                NewNotification {
                    channel: "email".into(),
                    recipient: email,
                    user_id: Some(uid),
                    subject: s
                        .texts
                        .text(&format!("mail-moderation-{status}-subject"), &a),
                    body: s.texts.text(&format!("mail-moderation-{status}-body"), &a),
                },
            )
            .await?;
        }
    }
    audit::record(
        tx,
        now,
        None,
        "supplier.status",
        "organisation",
        Some(org_id),
        json!({"status": status, "reason": reason}),
    )
    .await?;
    Ok(())
}

/// What an edit of company details did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DetailsSaved {
    Unchanged,
    Saved,
    /// Legal or bank details changed: the supplier is back in moderation.
    SentToModeration,
}

/// Saves an organisation's details (by a member with the right role, or by
/// staff), records what changed, and sends a supplier whose legal or bank
/// details changed back to moderation.
pub async fn update_details(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    input: &CompanyInput,
) -> DomainResult<DetailsSaved> {
    let party = get(s, actor, org_id).await?;
    let strictness = if party.kind == "supplier" {
        Strictness::Supplier
    } else {
        Strictness::Client
    };
    let details = input.validate(strictness).map_err(DomainError::Invalid)?;
    if party.kind == "supplier" && details.inn != party.details.inn {
        // A different INN is a different company: it must register anew.
        return Err(DomainError::field("inn", "inn.cannot_change"));
    }
    let before = party.details.as_map();
    let after = details.as_map();
    let changed: Vec<(&str, Option<String>, Option<String>)> = after
        .iter()
        .filter_map(|(k, v)| {
            let old = before.get(k).cloned().flatten();
            (old != *v).then(|| (*k, old, v.clone()))
        })
        .collect();
    if changed.is_empty() {
        return Ok(DetailsSaved::Unchanged);
    }
    let moderated =
        party.kind == "supplier" && changed.iter().any(|(k, _, _)| MODERATED_FIELDS.contains(k));
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    write_details(&mut tx, now, org_id, &details).await?;
    let change_log: Vec<Value> = changed
        .iter()
        .map(|(k, old, new)| json!({"field": k, "old": old, "new": new}))
        .collect();
    sqlx::query("INSERT INTO org_changes (org_id, at, user_id, changes) VALUES ($1, $2, $3, $4)")
        .bind(org_id)
        .bind(to_db_time(now))
        .bind(actor.user())
        .bind(Value::Array(change_log).to_string())
        .execute(&mut *tx)
        .await?;
    let mut result = DetailsSaved::Saved;
    if moderated {
        match party.status.as_str() {
            "approved" | "rejected" => {
                set_status_in(&mut tx, now, org_id, "pending", None).await?;
                start_moderation(
                    s,
                    &mut tx,
                    org_id,
                    &details.name,
                    details.inn.as_deref(),
                    actor.user(),
                )
                .await?;
                result = DetailsSaved::SentToModeration;
            }
            _ => {}
        }
    }
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "organisation.details_changed",
        "organisation",
        Some(org_id),
        json!({"fields": changed.iter().map(|c| c.0).collect::<Vec<_>>()}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(result)
}

/// The supplier answers a request for changes: the application goes back
/// to the manager's check.
pub async fn resubmit(s: &Services, actor: &Actor) -> DomainResult<()> {
    let party = get(s, actor, actor.org_id()).await?;
    if party.status != "changes_requested" {
        return Err(DomainError::Conflict("application.not_awaiting_changes"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    set_status_in(&mut tx, now, party.id, "pending", None).await?;
    s.engine
        .emit_to_object_in_tx(
            &mut tx,
            "supplier",
            party.id,
            "application.resubmitted",
            json!({"company_name": party.details.name, "inn": party.details.inn}),
            actor.user(),
        )
        .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "supplier.resubmitted",
        "organisation",
        Some(party.id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(())
}

/// One change of details, for the history on a card.
#[derive(Debug, Clone, Serialize)]
pub struct DetailsChange {
    pub at: i64,
    pub user_name: Option<String>,
    pub changes: Value,
}

pub async fn changes(s: &Services, actor: &Actor, org_id: i64) -> DomainResult<Vec<DetailsChange>> {
    get(s, actor, org_id).await?;
    let rows: Vec<(i64, Option<String>, String)> = sqlx::query_as(
        "SELECT c.at, u.full_name, c.changes FROM org_changes c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.org_id = $1 ORDER BY c.at DESC, c.id DESC LIMIT 200",
    )
    .bind(org_id)
    .fetch_all(s.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, user_name, changes)| DetailsChange {
            at,
            user_name,
            changes: serde_json::from_str(&changes).unwrap_or(Value::Null),
        })
        .collect())
}
