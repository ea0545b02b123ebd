//! The booking timers, run by the job worker on the booking's territory:
//! each acts only if the booking is still where the timer expects it, so a
//! timer that runs twice, or late, changes nothing.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::{Actor, Status};
use super::routes::COMPLETION_GRACE;
use super::store;
use crate::jobs::Job;
use crate::payments::flow::{Payments, settle};
use crate::tenancy::{BoundConnection, Territory};

/// Runs one booking job: a timer, or the settlement of its payment.
pub async fn handle(
    conn: &mut BoundConnection,
    payments: &Payments,
    territory: &Territory,
    job: &Job,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let booking_id: Uuid = job
        .payload
        .get("booking")
        .and_then(|value| value.as_str())
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("job {} has no booking id", job.id))?;
    if job.kind == "payments.settle" {
        if let Some(booking) = store::find(conn, booking_id).await? {
            settle(conn, payments, territory, &booking, now).await?;
        }
        return Ok(());
    }
    type Due = fn(&store::Booking) -> Option<DateTime<Utc>>;
    let (from, to, due): (Status, Status, Due) = match job.kind.as_str() {
        "booking.expire_hold" => (Status::Held, Status::Expired, |b| b.hold_expires_at),
        "booking.respond_deadline" => (Status::AwaitingPro, Status::Expired, |b| b.respond_by),
        "booking.complete" => (Status::Confirmed, Status::Completed, |b| Some(b.ends_at + COMPLETION_GRACE)),
        other => anyhow::bail!("unknown job kind {other:?}"),
    };
    let Some(booking) = store::find(conn, booking_id).await? else { return Ok(()) };
    if booking.state() != from || due(&booking).is_none_or(|at| at > now) {
        return Ok(());
    }
    if let Some(moved) = store::move_status(conn, booking_id, from, to, None, None, None, now).await? {
        store::record_event(conn, booking_id, Some(from), to, Actor::System, None, now).await?;
        tracing::info!(territory = %territory.slug, booking.id = %booking_id, to = to.as_str(), "booking timer fired");
        // Capture on completion, release on expiry; a failure retries the job.
        settle(conn, payments, territory, &moved, now).await?;
    }
    Ok(())
}
