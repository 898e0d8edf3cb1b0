//! Who handles a client (DESIGN §4, a rule that must hold): a client brought
//! by a hunter is the hunter's until the client's first order goes into
//! work; at that moment a responsible manager is assigned and handles that
//! first order and everything after it; the hunter keeps the credit for
//! bringing the client. Clients from passive channels (the website, the
//! contact centre, a cabinet without a hunter) get a responsible manager at
//! once.

use chrono::Utc;
use engine::{Sql, Tx, to_db_time};

use crate::error::DomainResult;
use crate::intake::requests::{Channel, ENDED_STATUSES};

/// The owner of a new request of `client_org_id`, recording who brought the
/// client or assigning its manager as the rule says.
pub async fn owner_for_new_request(
    tx: &mut Tx,
    client_org_id: i64,
    channel: Channel,
    hunter: Option<i64>,
) -> DomainResult<Option<i64>> {
    let (hunter_of, manager_of, first_order): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT hunter_user_id, manager_user_id, first_order_at FROM organisations WHERE id = $1",
    )
    .bind(client_org_id)
    .fetch_one(&mut **tx)
    .await?;
    if let Some(m) = manager_of {
        return Ok(Some(m));
    }
    if let Some(h) = hunter_of
        && first_order.is_none()
    {
        return Ok(Some(h));
    }
    if channel == Channel::Hunter
        && let Some(h) = hunter
    {
        // The hunter who brings a client without a manager owns it until
        // its first order.
        sqlx::query("UPDATE organisations SET hunter_user_id = $1, acquisition_channel = COALESCE(acquisition_channel, 'hunter') WHERE id = $2")
            .bind(h)
            .bind(client_org_id)
            .execute(&mut **tx)
            .await?;
        return Ok(Some(h));
    }
    let manager = least_loaded_manager(tx).await?;
    sqlx::query(
        "UPDATE organisations SET manager_user_id = $1, acquisition_channel = COALESCE(acquisition_channel, $2) WHERE id = $3",
    )
    .bind(manager)
    .bind(channel.as_str())
    .bind(client_org_id)
    .execute(&mut **tx)
    .await?;
    Ok(manager)
}

/// Whether `user` is one of the broker's active managers.
pub async fn is_active_manager(tx: &mut Tx, user: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'manager'
         JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker'
         WHERE u.id = $1 AND u.status = 'active'",
    )
    .bind(user)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// Makes `manager` responsible for a client that came through a passive
/// `channel` (noting the channel if none is recorded yet).
pub async fn assign_manager(
    tx: &mut Tx,
    client_org_id: i64,
    manager: i64,
    channel: Channel,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organisations SET manager_user_id = $1, acquisition_channel = COALESCE(acquisition_channel, $2) WHERE id = $3",
    )
    .bind(manager)
    .bind(channel.as_str())
    .bind(client_org_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The active manager with the fewest open requests (ties: the longest
/// serving). `None` when the broker has no manager yet.
pub async fn least_loaded_manager(tx: &mut Tx) -> Result<Option<i64>, sqlx::Error> {
    let mut sql = Sql::new(
        "SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'manager'
         JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker'
         WHERE u.status = 'active'
         ORDER BY (SELECT COUNT(*) FROM requests q WHERE q.owner_user_id = u.id AND q.status NOT IN (",
    );
    sql.bind_list(ENDED_STATUSES).push(")), u.id LIMIT 1");
    sql.query_scalar().fetch_optional(&mut **tx).await
}

/// The client's first order goes into work: a responsible manager takes
/// over (`chosen`, else the one an admin chose on the client's card
/// (`next_manager_user_id`), else the least loaded), and with them the
/// client's open requests. The hunter keeps the credit. Returns the manager; repeated
/// calls change nothing.
pub async fn first_order_started(
    tx: &mut Tx,
    now: chrono::DateTime<Utc>,
    client_org_id: i64,
    chosen: Option<i64>,
) -> DomainResult<Option<i64>> {
    let (manager_of, first_order, planned): (Option<i64>, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT manager_user_id, first_order_at, next_manager_user_id FROM organisations WHERE id = $1",
        )
        .bind(client_org_id)
        .fetch_one(&mut **tx)
        .await?;
    if first_order.is_some() {
        return Ok(manager_of);
    }
    // An admin's choice (now, or made earlier on the client's card) wins
    // over the least loaded manager.
    let manager = match (manager_of, chosen.or(planned)) {
        (Some(m), _) => Some(m),
        (None, Some(c)) => Some(c),
        (None, None) => least_loaded_manager(tx).await?,
    };
    sqlx::query("UPDATE organisations SET manager_user_id = $1, first_order_at = $2, next_manager_user_id = NULL WHERE id = $3")
        .bind(manager)
        .bind(to_db_time(now))
        .bind(client_org_id)
        .execute(&mut **tx)
        .await?;
    if let Some(m) = manager {
        move_requests(tx, client_org_id, m).await?;
    }
    Ok(manager)
}

/// Gives the client's requests that are not over ([`ENDED_STATUSES`]) to
/// `manager`.
pub async fn move_requests(
    tx: &mut Tx,
    client_org_id: i64,
    manager: i64,
) -> Result<(), sqlx::Error> {
    let mut sql = Sql::new("UPDATE requests SET owner_user_id = ");
    sql.bind(manager)
        .push(" WHERE client_org_id = ")
        .bind(client_org_id)
        .push(" AND status NOT IN (")
        .bind_list(ENDED_STATUSES)
        .push(")");
    sql.query().execute(&mut **tx).await?;
    Ok(())
}
