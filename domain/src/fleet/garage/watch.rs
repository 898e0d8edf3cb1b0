use super::*;

// ---------------------------------------------------------------------------
// Watching expiry with the workflow engine

async fn is_watched(tx: &mut Tx, document_id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM wf_instances WHERE object_kind = $1 AND object_id = $2 AND finished_at IS NULL",
    )
    .bind(OBJECT_KIND)
    .bind(document_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// Ends the watch of a document (if it has one).
pub(super) async fn unwatch(
    s: &Services,
    tx: &mut Tx,
    document_id: i64,
    user: Option<i64>,
) -> DomainResult<()> {
    s.engine
        .emit_to_object_in_tx(
            tx,
            OBJECT_KIND,
            document_id,
            "document.removed",
            json!({}),
            user,
        )
        .await?;
    Ok(())
}

/// Makes sure exactly the newest record of `kind` on a machine is watched.
/// `changed` names a record whose date has just changed: its running watch
/// is told, so that the workflow re-plans its timers.
pub(super) async fn rewatch_kind(
    s: &Services,
    tx: &mut Tx,
    machine_id: i64,
    kind: &str,
    changed: Option<i64>,
    user: Option<i64>,
) -> DomainResult<()> {
    let docs: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, org_id, valid_until FROM machine_documents WHERE machine_id = $1 AND kind = $2 AND valid_until IS NOT NULL
         ORDER BY valid_until DESC, id DESC",
    )
    .bind(machine_id)
    .bind(kind)
    .fetch_all(&mut **tx)
    .await?;
    let Some(((latest, org_id, until), older)) =
        docs.split_first().map(|(f, r)| (f.clone(), r.to_vec()))
    else {
        return Ok(());
    };
    for (id, _, _) in older {
        unwatch(s, tx, id, user).await?;
    }
    let Some(until) = until.as_deref().and_then(parse_date) else {
        return Ok(());
    };
    let payload = json!({"valid_until": ymd(until), "valid_until_at": deadline_at(s, until)});
    if !is_watched(tx, latest).await? {
        let mut data = Map::new();
        data.insert("machine_id".into(), json!(machine_id));
        data.insert("org_id".into(), json!(org_id));
        data.insert("kind".into(), json!(kind));
        data.insert("valid_until".into(), payload["valid_until"].clone());
        data.insert("valid_until_at".into(), payload["valid_until_at"].clone());
        s.engine
            .start_in_tx(
                tx,
                WORKFLOW,
                ObjectRef {
                    kind: OBJECT_KIND.into(),
                    id: latest,
                },
                data,
                user,
            )
            .await?;
    } else if changed == Some(latest) {
        s.engine
            .emit_to_object_in_tx(tx, OBJECT_KIND, latest, "document.renewed", payload, user)
            .await?;
    }
    Ok(())
}

/// Starts watches missing for the newest document of each kind on active
/// machines (documents created without the engine: demo data, imports,
/// data from before the workflow existed). Returns how many kinds were
/// looked at. Safe to call at every start.
pub async fn ensure_document_watches(s: &Services) -> DomainResult<usize> {
    let pairs: Vec<(i64, String)> = sqlx::query_as(
        "SELECT DISTINCT d.machine_id, d.kind FROM machine_documents d JOIN machines m ON m.id = d.machine_id
         WHERE m.status = 'active' AND d.valid_until IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM wf_instances i WHERE i.object_kind = $1 AND i.object_id = d.id AND i.finished_at IS NULL)",
    )
    .bind(OBJECT_KIND)
    .fetch_all(s.db.pool())
    .await?;
    if pairs.is_empty() {
        return Ok(0);
    }
    let mut tx = s.db.begin().await?;
    for (machine_id, kind) in &pairs {
        rewatch_kind(s, &mut tx, *machine_id, kind, None, None).await?;
    }
    tx.commit().await?;
    s.after_commit();
    Ok(pairs.len())
}

/// Registers the `machine_document.warn` action with the engine.
pub(crate) fn register_engine(b: EngineBuilder, cell: ServicesCell) -> EngineBuilder {
    b.action(
        "machine_document.warn",
        Some(&["stage", "valid_until"]),
        action_fn(move |ctx: ActionContext| {
            let cell = cell.clone();
            async move {
                let s = crate::services::ready(&cell)?;
                let stage = ctx
                    .params
                    .get("stage")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let until = ctx
                    .params
                    .get("valid_until")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match warn_about_document(s, ctx.object.id, &stage, until.as_deref()).await {
                    Ok(sent) => Ok(json!({"notified": sent})),
                    Err(DomainError::Invalid(_)) => {
                        Err(ActionError::Fail(format!("unknown stage {stage:?}")))
                    }
                    Err(e) => Err(ActionError::Retry(e.to_string())),
                }
            }
        }),
    )
}

/// Tells the supplier's owners that a document expires soon (`expiring`) or
/// has expired (`expired`). Nothing is sent when the warning is stale (the
/// document was renewed, replaced by a newer one, deleted, or its machine
/// archived) or was sent already. Returns how many messages were queued.
pub async fn warn_about_document(
    s: &Services,
    document_id: i64,
    stage: &str,
    valid_until: Option<&str>,
) -> DomainResult<usize> {
    if !matches!(stage, "expiring" | "expired") {
        return Err(DomainError::field("stage", "stage.invalid"));
    }
    type Row = (
        String,
        Option<String>,
        i64,
        String,
        String,
        Option<String>,
        String,
        i64,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT d.kind, d.valid_until, m.id, m.make, m.model, m.plate, m.status, m.org_id
         FROM machine_documents d JOIN machines m ON m.id = d.machine_id WHERE d.id = $1",
    )
    .bind(document_id)
    .fetch_optional(s.db.pool())
    .await?;
    let Some((kind, Some(until), machine_id, make, model, plate, status, org_id)) = row else {
        return Ok(0);
    };
    let today = ymd(today(s));
    let stale = status != "active"
        || valid_until.is_some_and(|v| v != until)
        || (stage == "expiring" && until < today)
        || (stage == "expired" && until >= today);
    if stale {
        return Ok(0);
    }
    let newer: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM machine_documents WHERE machine_id = $1 AND kind = $2 AND id <> $3 AND valid_until > $4",
    )
    .bind(machine_id)
    .bind(&kind)
    .bind(document_id)
    .bind(&until)
    .fetch_one(s.db.pool())
    .await?;
    if newer > 0 {
        return Ok(0);
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let first: Option<i64> = sqlx::query_scalar(
        "INSERT INTO machine_document_alerts (document_id, stage, valid_until, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (document_id, stage, valid_until) DO NOTHING RETURNING id",
    )
    .bind(document_id)
    .bind(stage)
    .bind(&until)
    .bind(to_db_time(now))
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        return Ok(0);
    }
    let mut sql = Sql::new("SELECT DISTINCT ");
    sql.push(notify::RECIPIENT_COLUMNS)
        .push(" FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.org_id = ")
        .bind(org_id)
        .push(" AND r.role = 'owner' AND u.status = 'active' ORDER BY u.id");
    let owners: Vec<notify::Recipient> = sql.query_as().fetch_all(&mut *tx).await?;
    let title = s
        .equipment
        .document(&kind)
        .map(|d| d.title.clone())
        .unwrap_or_else(|| kind.clone());
    let machine = match &plate {
        Some(p) => format!("{make} {model}, {p}"),
        None => format!("{make} {model}"),
    };
    let mut sent = 0;
    for owner in &owners {
        let a = args![
            "name" => owner.full_name,
            "document" => title,
            "machine" => machine,
            "date" => dmy(&until),
            "link" => format!("{}/garage/{machine_id}", s.base_url)
        ];
        let key = format!("mail-machine-document-{stage}");
        if notify::tell(s, &mut tx, owner, &key, &a).await? {
            sent += 1;
        }
    }
    audit::record(
        &mut tx,
        now,
        None,
        &format!("machine_document.{stage}"),
        "machine",
        Some(machine_id),
        json!({"document_id": document_id, "kind": kind, "valid_until": until, "notified": sent}),
    )
    .await?;
    tx.commit().await?;
    s.after_commit();
    Ok(sent)
}
