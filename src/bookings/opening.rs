//! Opening a new booking once it is HELD: its price is held on the customer's
//! payment method, then it moves on to the pro (or is confirmed and the money
//! captured). Each step is committed before the next is taken and each is
//! conditional on where the last left the booking, so a retry that finds a
//! booking half-opened (its request died) finishes it from where it stands,
//! and the provider is only ever asked under the one key of its purpose.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;

use super::lifecycle;
use super::model::{Actor, Status};
use super::store::{self, Booking};
use crate::faults::Faults;
use crate::http::ApiError;
use crate::payments::flow::{self, Held, PaymentError, Payments};
use crate::payments::store as payment_store;
use crate::schema::services;
use crate::tenancy::Territory;

/// Whether a service confirms its bookings at once, without the pro.
pub async fn instant_booking(conn: &mut AsyncPgConnection, service_code: &str) -> diesel::QueryResult<bool> {
    services::table.find(service_code).select(services::instant_booking).first(conn).await
}

/// Asks for the money of a HELD booking whose payment is still `requested`,
/// records the answer and moves the booking on; then settles its payment and
/// answers from where the booking and its payment stand. Safe to run again
/// on the same booking: what was done is found, not done twice.
pub async fn open(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    faults: &Faults,
    territory: &Territory,
    booking: Booking,
    now: DateTime<Utc>,
) -> Result<Booking, ApiError> {
    let lost = || ApiError::internal(&"a booking being opened has no payment");
    let payment = payment_store::for_booking(conn, booking.id).await?.ok_or_else(lost)?;
    let mut declined = None;
    let booking = if payment.status == "requested" && booking.state() == Status::Held {
        // A provider that cannot be reached leaves the booking HELD (503);
        // a retry asks again, and otherwise its timer frees the slot.
        let (authorization, outcome) = flow::authorize(payments, &payment).await?;
        faults.pass("booking.authorized").await;
        if let Held::Declined(reason) = &outcome {
            declined = Some(reason.clone());
        }
        let instant = instant_booking(conn, &booking.service_code).await?;
        let (held, territory_id) = (booking.clone(), territory.id);
        conn.transaction::<_, PaymentError, _>(|conn| {
            async move {
                if flow::record_authorization(conn, &payment, &authorization, now).await?.is_none() {
                    return Ok(());
                }
                match outcome {
                    Held::Authorized => {
                        lifecycle::move_on(conn, &held, instant, territory_id, now).await?;
                    }
                    Held::Pending => {}
                    Held::Declined(_) => {
                        if store::move_status(conn, held.id, Status::Held, Status::Expired, None, None, None, now)
                            .await?
                            .is_some()
                        {
                            let expired = Status::Expired;
                            store::record_event(conn, held.id, Some(Status::Held), expired, Actor::System, None, now)
                                .await?;
                        }
                    }
                }
                Ok(())
            }
            .scope_boxed()
        })
        .await?;
        faults.pass("booking.recorded").await;
        store::find(conn, booking.id).await?.ok_or_else(lost)?
    } else {
        booking
    };
    settle_now(conn, payments, territory, &booking, now).await;
    faults.pass("booking.settled").await;
    let payment = payment_store::for_booking(conn, booking.id).await?.ok_or_else(lost)?;
    if payment.status == "failed" {
        let reason = declined.unwrap_or_else(|| "by the bank".to_owned());
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment-declined",
            "Payment Required",
            format!("the payment was declined ({reason}); the slot is free again"),
        ));
    }
    if booking.state() == Status::Expired {
        return Err(ApiError::conflict(
            "hold-expired",
            "the booking's hold ran out before its payment was held; the slot is free again, book anew",
        ));
    }
    Ok(booking)
}

/// Settles the booking's payment at once; on failure the scheduled
/// settlement job tries again, so the request does not fail for it.
pub async fn settle_now(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    territory: &Territory,
    booking: &Booking,
    now: DateTime<Utc>,
) {
    if let Err(error) = flow::settle(conn, payments, territory, booking, now).await {
        tracing::warn!(booking.id = %booking.id, %error, "payment not settled yet; the settlement job will retry");
    }
}
