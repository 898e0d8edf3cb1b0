//! Mail behind the engine's task events: who hears of a new, overdue or
//! escalated task.
//!
//! These are **local** actions: the messages are queued on the connection of
//! the step that opened, reminded of or escalated the task, inside its
//! transaction — so a message exists exactly when the step does, once. (As
//! outbox actions they committed their own transaction before the outbox row
//! was marked done; a crash or an expired lease between the two queued the
//! mail twice.)

use engine::ActionContext;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::args;
use crate::notify;
use crate::services::Services;

/// Tells the people a task is for: its assignee or claimer if any, else
/// everyone holding one of its roles in its organisation (the broker's own
/// when the task names none). A new task with nobody named is only in the
/// inbox: mailing a whole role on every task would be noise.
pub(super) async fn notify_about_task(
    s: &Services,
    conn: &mut AnyConnection,
    ctx: &ActionContext,
    key: &str,
) -> anyhow::Result<usize> {
    let p = &ctx.params;
    // An escalation goes to the escalation role even when someone holds the task.
    let person = if ctx.action == "task.escalated" {
        None
    } else {
        p.get("claimed_by")
            .and_then(Value::as_i64)
            .or_else(|| p.get("assignee").and_then(Value::as_i64))
    };
    let mut sql = engine::Sql::new("SELECT DISTINCT ");
    sql.push(notify::RECIPIENT_COLUMNS)
        .push(" FROM users u WHERE u.status = 'active' AND ");
    if let Some(uid) = person {
        sql.push("u.id = ").bind(uid);
    } else {
        if ctx.action == "task.created" {
            return Ok(0);
        }
        let roles: Vec<String> = match (ctx.action.as_str(), p.get("role").and_then(Value::as_str))
        {
            ("task.escalated", Some(r)) => vec![r.to_string()],
            _ => p
                .get("roles")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        };
        if roles.is_empty() {
            return Ok(0);
        }
        let org = match p.get("org_id").and_then(Value::as_i64) {
            Some(o) => o,
            None => {
                let broker: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM organisations WHERE kind = 'broker' ORDER BY id LIMIT 1",
                )
                .fetch_optional(&mut *conn)
                .await?;
                match broker {
                    Some(b) => b,
                    None => return Ok(0),
                }
            }
        };
        sql.push("u.org_id = ")
            .bind(org)
            .push(" AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN (")
            .bind_list(roles)
            .push("))");
    }
    let people: Vec<notify::Recipient> = sql.query_as().fetch_all(&mut *conn).await?;
    let title = p
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let task_id = p.get("task_id").and_then(Value::as_i64);
    let link = match task_id {
        Some(id) => format!("{}/tasks/{id}", s.base_url),
        None => format!("{}/tasks", s.base_url),
    };
    let mut sent = 0;
    for person in &people {
        let a = args!["name" => person.full_name, "title" => title, "link" => link];
        if notify::tell(s, conn, person, key, &a).await? {
            sent += 1;
        }
    }
    Ok(sent)
}
