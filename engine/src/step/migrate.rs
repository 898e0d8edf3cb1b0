//! Moving an instance to another version of its definition.

use super::*;

/// Moves an instance to another version of its definition (`to`), into
/// `target_state`: its tasks and timers are closed and those of the target
/// state opened and planned; entry actions do not run again. Tasks that
/// exist under the same key in both keep their claim.
pub fn migrate(
    to: &Definition,
    snap: &Snapshot,
    target_state: &str,
    ctx: &StepContext,
    now: DateTime<Utc>,
    actor: Option<i64>,
    details: Value,
) -> Result<Outcome, StepError> {
    let state = to
        .state(target_state)
        .ok_or_else(|| StepError::UnknownState(target_state.to_string()))?;
    let mut b = Builder::new(to, snap, ctx, now);
    let claims: Vec<(String, i64)> = snap
        .tasks
        .iter()
        .filter_map(|t| t.claimed_by.map(|c| (t.key.clone(), c)))
        .collect();
    b.close_all_tasks();
    b.cancel_all_timers();
    for f in &to.data {
        if !b.data.contains_key(&f.name)
            && let Some(d) = &f.default
        {
            b.data.insert(f.name.clone(), d.clone());
        }
    }
    let from = b.state.clone();
    b.state = state.name.clone();
    b.open_state(state)?;
    for t in &mut b.tasks {
        if let WTask::New(n) = t
            && let Some((_, c)) = claims.iter().find(|(k, _)| *k == n.key)
        {
            n.claimed_by = Some(*c);
        }
    }
    let mut entry = HistoryEntry {
        trigger_kind: "migrate".into(),
        trigger_name: None,
        from_state: from,
        to_state: state.name.clone(),
        actor,
        data_change: Map::new(),
        details,
    };
    entry.data_change = diff(&snap.data, &b.data);
    b.history.push(entry);
    Ok(b.finish())
}
