use super::*;

/// What a website visitor sends besides the request itself.
#[derive(Debug, Clone, Default)]
pub struct PublicSubmission {
    pub input: RequestInput,
    /// A company, if the visitor orders for one.
    pub company_name: String,
    pub inn: String,
    /// The honeypot: a field people do not see and bots fill in.
    pub website: String,
    pub captcha_token: String,
    /// Values of the wrong JSON type that were still read as text (a number
    /// sent as `"2"`): refused with `json.type`, but only together with the
    /// domain's checks of every field, so the caller learns all at once.
    pub type_errors: FieldErrors,
}

/// The key of the public form's rate limit.
fn public_key(ip: Option<&str>) -> String {
    format!("public_request:{}", ip.unwrap_or("unknown"))
}

/// Counts a submission of the public form (page or JSON) from `ip` against
/// `limit`, before anything else is read: a flood is refused cheaply, and
/// its refused attempts keep counting.
pub async fn admit_public(s: &Services, ip: Option<&str>, limit: Limit) -> DomainResult<()> {
    rate_limit::hit(&s.db, &public_key(ip), limit).await
}

/// A website visitor's request (after [`admit_public`]): honeypot, captcha,
/// the request and the visitor checked; then the visitor's client record
/// (created, with a manager at once — a passive channel — or found; a found
/// client without proof leaves the request held for staff, see
/// [`confirm_client`]), the request and its files, and the confirmation —
/// all in one transaction.
pub async fn submit_public(
    s: &Services,
    captcha: &dyn Captcha,
    ip: Option<&str>,
    sub: PublicSubmission,
    attachments: Vec<Attachment>,
) -> DomainResult<Created> {
    let window = chrono::Duration::minutes(DEFAULT_DUPLICATE_WINDOW_MINUTES);
    submit_public_within(s, captcha, ip, sub, attachments, window).await
}

/// [`submit_public`], where the same submission again within `window` is
/// the request stored the first time (nothing new is written; see
/// [`duplicates`](super::duplicates)).
pub async fn submit_public_within(
    s: &Services,
    captcha: &dyn Captcha,
    ip: Option<&str>,
    sub: PublicSubmission,
    attachments: Vec<Attachment>,
    window: chrono::Duration,
) -> DomainResult<Created> {
    if !sub.website.trim().is_empty() {
        return Err(DomainError::field("website", "spam.honeypot"));
    }
    let passed = captcha
        .verify(sub.captcha_token.trim(), ip)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "captcha provider failed");
            false
        });
    if !passed {
        return Err(DomainError::field("captcha_token", "captcha.failed"));
    }
    let now = s.db.now();
    let mut e = FieldErrors::new();
    let t = request_type(&s.request_types, &sub.input.request_type, &mut e);
    let client = ClientInput {
        company_name: sub.company_name.clone(),
        inn: sub.inn.clone(),
        ..Default::default()
    };
    let valid = match t.map(|t| sub.input.validate(t, s, now, true)) {
        Some(Ok(v)) => Some(v),
        Some(Err(errs)) => {
            e.0.extend(errs.0);
            None
        }
        None => None,
    };
    e.0.extend(sub.type_errors.0.iter().cloned());
    let valid_client = match with_request_contact(&client, &sub.input).validate(true) {
        Ok(v) => Some(v),
        Err(errs) => {
            merge_client_errors(&mut e, errs);
            None
        }
    };
    if attachments.len() > MAX_ATTACHMENTS {
        e.add("attachments", "attachments.too_many");
    }
    e.into_result()?;
    let (Some(t), Some(mut valid), Some(client)) = (t, valid, valid_client) else {
        return Err(DomainError::Conflict("validation"));
    };
    let fp = fingerprint(&valid, &client);
    if window > chrono::Duration::zero()
        && let Some(earlier) = earlier_same(s, &fp, window).await?
    {
        return Ok(earlier);
    }
    // Before the transaction: the geocoder is an outside call.
    crate::intake::addresses::locate(s, t, &mut valid).await;
    let stored = accept_files(s, &attachments).await?;
    let result = store_public(s, t, &valid, &client, &stored, &fp).await;
    if result.is_err() {
        discard_files(s, &stored).await;
    }
    result
}

async fn store_public(
    s: &Services,
    t: &RequestType,
    valid: &ValidRequest,
    client: &ValidClient,
    files: &[StoredFile],
    fingerprint: &str,
) -> DomainResult<Created> {
    let now = s.db.now();
    let broker = crate::access::broker_id(&s.db).await?.ok_or_else(|| {
        DomainError::Other(anyhow::anyhow!("the broker's organisation is missing"))
    })?;
    let mut tx = s.db.begin().await?;
    // A match on a phone, an e-mail or an INN alone proves nothing (anyone
    // may know them): unless everything typed is the client's on record,
    // the request waits for staff to confirm whose it is.
    let (client_id, unconfirmed) = match find_client(&mut tx, client).await? {
        Some(m) if proven(&mut tx, &m, client).await? => (m.org_id, None),
        Some(m) => (m.org_id, Some(m)),
        None => (
            create_client(&mut tx, now, client, Channel::Website, None).await?,
            None,
        ),
    };
    let created = requests::insert(
        s,
        &mut tx,
        valid,
        &Placement {
            client_org_id: client_id,
            channel: Channel::Website,
            hunter_user_id: None,
            created_by: None,
        },
        t,
    )
    .await?;
    // The visitor's files are not given to a client they have not been
    // confirmed to be: the broker keeps them meanwhile.
    let files_owner = if unconfirmed.is_some() {
        broker
    } else {
        client_id
    };
    attach(&mut tx, now, created.id, files_owner, None, files).await?;
    if let Some(m) = &unconfirmed {
        hold_unconfirmed(&mut tx, now, created.id, m, client).await?;
    }
    // The visitor hears the same whether or not they matched a client:
    // the answer must not tell that a phone or an INN is known to us.
    confirm(s, &mut tx, now, &created, valid, t).await?;
    remember(&mut tx, now, fingerprint, created.id).await?;
    tx.commit().await?;
    s.after_commit();
    Ok(created)
}

/// Reads the JSON body of the public endpoint into a submission, strictly:
/// unknown keys, values of the wrong JSON type and fields the type does not
/// have are refused field by field (`f.<id>` for the type's own fields).
pub fn submission_from_json(
    types: &RequestTypes,
    body: &Value,
) -> Result<PublicSubmission, FieldErrors> {
    let mut e = FieldErrors::new();
    let Some(obj) = body.as_object() else {
        e.add("body", "json.not_an_object");
        return Err(e);
    };
    const TEXT_KEYS: [&str; 11] = [
        "request_type",
        "wanted_from",
        "wanted_to",
        "comment",
        "contact_name",
        "contact_phone",
        "contact_email",
        "company_name",
        "inn",
        "website",
        "captcha_token",
    ];
    let mut sub = PublicSubmission::default();
    let mut fields_value = None;
    for (k, v) in obj {
        let text = match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => Some(String::new()),
            _ => None,
        };
        match k.as_str() {
            "fields" => fields_value = Some(v),
            // A number is a JSON number: `"2"` is refused, as the README
            // and the OpenAPI document say.
            "duration" => match v {
                Value::Number(n) => sub.input.duration = n.to_string(),
                Value::Null => {}
                Value::String(s) => {
                    sub.input.duration = s.clone();
                    sub.type_errors.add("duration", "json.type");
                }
                _ => e.add("duration", "json.type"),
            },
            key if TEXT_KEYS.contains(&key) => match text {
                None => e.add(key, "json.type"),
                Some(t) => {
                    let slot = match key {
                        "request_type" => &mut sub.input.request_type,
                        "wanted_from" => &mut sub.input.wanted_from,
                        "wanted_to" => &mut sub.input.wanted_to,
                        "comment" => &mut sub.input.comment,
                        "contact_name" => &mut sub.input.contact_name,
                        "contact_phone" => &mut sub.input.contact_phone,
                        "contact_email" => &mut sub.input.contact_email,
                        "company_name" => &mut sub.company_name,
                        "inn" => &mut sub.inn,
                        "website" => &mut sub.website,
                        _ => &mut sub.captcha_token,
                    };
                    *slot = t;
                }
            },
            other => e.add(other, "field.unknown"),
        }
    }
    if sub.input.request_type.trim().is_empty() && e.get("request_type").is_none() {
        e.add("request_type", "required");
    }
    let t = types.get(sub.input.request_type.trim());
    if t.is_none() && e.get("request_type").is_none() {
        e.add("request_type", "request_type.unknown");
    }
    match (fields_value, t) {
        (Some(Value::Object(fields)), Some(t)) => {
            read_json_fields(t, fields, &mut sub.input, &mut e, &mut sub.type_errors)
        }
        (Some(Value::Object(_)), None) | (None, None) => {}
        (Some(Value::Null) | None, Some(t)) => {
            read_json_fields(t, &Map::new(), &mut sub.input, &mut e, &mut sub.type_errors)
        }
        (Some(_), _) => e.add("fields", "json.type"),
    }
    if e.is_empty() { Ok(sub) } else { Err(e) }
}

fn read_json_fields(
    t: &RequestType,
    fields: &Map<String, Value>,
    input: &mut RequestInput,
    e: &mut FieldErrors,
    type_errors: &mut FieldErrors,
) {
    for (id, v) in fields {
        let key = format!("f.{id}");
        let Some(f) = t.field(id) else {
            e.add(&key, "field.unknown");
            continue;
        };
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        };
        match (f.kind, v) {
            (FieldKind::Address, Value::Object(a)) => {
                for (part, suffix) in [
                    ("address", ""),
                    ("lat", ".lat"),
                    ("lon", ".lon"),
                    ("timezone", ".tz"),
                ] {
                    match a.get(part).map(scalar) {
                        Some(Some(text)) => {
                            input.fields.insert(format!("{key}{suffix}"), text);
                        }
                        Some(None) => e.add(&key, "json.type"),
                        None => {}
                    }
                }
                if let Some(unknown) = a
                    .keys()
                    .find(|k| !["address", "lat", "lon", "timezone"].contains(&k.as_str()))
                {
                    e.add(&format!("{key}.{unknown}"), "field.unknown");
                }
            }
            (FieldKind::Boolean, Value::Bool(b)) => {
                input
                    .fields
                    .insert(key, if *b { "true" } else { "false" }.into());
            }
            (FieldKind::Boolean, _) => e.add(&key, "json.type"),
            (FieldKind::Integer | FieldKind::Decimal, Value::Number(n)) => {
                input.fields.insert(key, n.to_string());
            }
            (FieldKind::Integer | FieldKind::Decimal, Value::Null) => {
                input.fields.insert(key, String::new());
            }
            (FieldKind::Integer | FieldKind::Decimal, Value::String(s)) => {
                input.fields.insert(key.clone(), s.clone());
                type_errors.add(&key, "json.type");
            }
            (FieldKind::Integer | FieldKind::Decimal, _) => e.add(&key, "json.type"),
            (_, other) => match scalar(other) {
                Some(text) => {
                    input.fields.insert(key, text);
                }
                None => e.add(&key, "json.type"),
            },
        }
    }
    // A boolean left out takes its default (a form's unchecked box is "no",
    // but a JSON caller that says nothing means the default).
    for f in &t.fields {
        if f.kind == FieldKind::Boolean
            && !fields.contains_key(&f.id)
            && let Some(Value::Bool(true)) = f.default
        {
            input.fields.insert(format!("f.{}", f.id), "true".into());
        }
    }
}
