//! The steps of a booking's opening, shared by booking, rescheduling and the
//! payment webhooks: HELD while the money is asked for, then on to the pro
//! (or confirmed at once when the service is instantly bookable).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::json;
use uuid::Uuid;

use super::model::{Actor, Status};
use super::routes::{COMPLETION_GRACE, RESPONSE_TIME};
use super::store::{self, Booking, NewBooking};
use crate::jobs::enqueue;

/// Inserts a HELD booking with its first event and the timer that expires the
/// hold, in the caller's transaction.
pub async fn hold(
    conn: &mut AsyncPgConnection,
    new: &NewBooking,
    territory_id: i64,
    account: Option<Uuid>,
    actor: Actor,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Booking> {
    let held = store::insert(conn, new).await?;
    store::record_event(conn, held.id, None, Status::Held, actor, account, now).await?;
    let payload = json!({ "booking": held.id });
    enqueue(conn, "booking.expire_hold", Some(territory_id), payload, new.hold_expires_at).await?;
    Ok(held)
}

/// Moves a HELD booking whose money is held on: to the pro, or confirmed at
/// once. Schedules its timers and a settlement of its payment (a recovery
/// point, should the capture in the request fail). `None` when the booking
/// was not HELD any more.
pub async fn move_on(
    conn: &mut AsyncPgConnection,
    held: &Booking,
    instant: bool,
    territory_id: i64,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Booking>> {
    let (next, respond_by) = if instant {
        (Status::Confirmed, None)
    } else {
        (Status::AwaitingPro, Some((now + RESPONSE_TIME).min(held.starts_at)))
    };
    let Some(booking) = store::move_status(conn, held.id, Status::Held, next, respond_by, None, None, now).await?
    else {
        return Ok(None);
    };
    store::record_event(conn, held.id, Some(Status::Held), next, Actor::System, None, now).await?;
    let payload = json!({ "booking": booking.id });
    if let Some(deadline) = respond_by {
        enqueue(conn, "booking.respond_deadline", Some(territory_id), payload.clone(), deadline).await?;
    }
    if next == Status::Confirmed {
        schedule_settlement(conn, territory_id, booking.id, now).await?;
    }
    enqueue(conn, "booking.complete", Some(territory_id), payload, booking.ends_at + COMPLETION_GRACE).await?;
    Ok(Some(booking))
}

/// Schedules a settlement of the booking's payment a minute from now: the
/// request settles it at once, and this catches a request that died first.
pub async fn schedule_settlement(
    conn: &mut AsyncPgConnection,
    territory_id: i64,
    booking: Uuid,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    enqueue(
        conn,
        "payments.settle",
        Some(territory_id),
        json!({ "booking": booking }),
        now + chrono::Duration::minutes(1),
    )
    .await
}
