use super::*;

/// What a lookup in the company registry did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    Filled,
    NotFound,
    /// No registry account is configured: the fields stay manual.
    NotConfigured,
    /// The registry did not answer; the user may type the details.
    Unavailable,
}

/// Fills empty fields of a company form from the registry by INN (and the
/// bank by BIK). What the user already typed is kept.
pub async fn fill_from_registry(s: &Services, input: &CompanyInput) -> (CompanyInput, Lookup) {
    let mut out = input.clone();
    if !s.registry.is_configured() {
        return (out, Lookup::NotConfigured);
    }
    let Ok(inn) = Inn::parse(&input.inn) else {
        return (out, Lookup::NotFound);
    };
    let fill = |field: &mut String, value: Option<String>| {
        if field.trim().is_empty()
            && let Some(v) = value
        {
            *field = v;
        }
    };
    let result = match s.registry.find_by_inn(inn.as_str()).await {
        Ok(Some(c)) => {
            fill(
                &mut out.legal_form,
                c.legal_form.map(|f| f.as_str().to_string()),
            );
            fill(&mut out.name, Some(c.full_name.clone()));
            fill(&mut out.short_name, c.short_name.clone());
            fill(&mut out.kpp, c.kpp.clone());
            fill(&mut out.ogrn, c.ogrn.clone());
            fill(&mut out.director_name, c.director_name.clone());
            fill(&mut out.director_post, c.director_post.clone());
            if let Some(a) = &c.address {
                fill(&mut out.legal_address, Some(a.value.clone()));
                fill(&mut out.region, a.region.clone());
            }
            Lookup::Filled
        }
        Ok(None) => Lookup::NotFound,
        Err(e) => {
            tracing::warn!(error = %e, "company registry lookup failed");
            Lookup::Unavailable
        }
    };
    if let Ok(bik) = Bik::parse(&input.bik)
        && let Ok(Some(bank)) = s.registry.find_bank_by_bik(bik.as_str()).await
    {
        fill(&mut out.bank_name, Some(bank.name.clone()));
        fill(&mut out.corr_account, bank.correspondent_account.clone());
    }
    (out, result)
}

/// Staff suspend an approved supplier (it stops receiving requests) or
/// lift the suspension.
pub async fn set_suspended(
    s: &Services,
    actor: &Actor,
    org_id: i64,
    suspended: bool,
    reason: &str,
) -> DomainResult<()> {
    if !actor.is_staff() {
        return Err(DomainError::Forbidden);
    }
    let party = get(s, actor, org_id).await?;
    if party.kind != "supplier" {
        return Err(DomainError::NotFound);
    }
    let (from, to) = if suspended {
        ("approved", "suspended")
    } else {
        ("suspended", "approved")
    };
    if party.status != from {
        return Err(DomainError::Conflict("supplier.status_not_allowed"));
    }
    if suspended && reason.trim().is_empty() {
        return Err(DomainError::field("reason", "required"));
    }
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    set_status_in(
        &mut tx,
        now,
        org_id,
        to,
        Some(reason.trim()).filter(|r| !r.is_empty()),
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        Some(actor),
        "supplier.suspension",
        "organisation",
        Some(org_id),
        json!({"suspended": suspended, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
