//! How a booking's payment follows the booking: held when it is requested,
//! captured when it is confirmed, released when it is declined or expires,
//! refunded by the snapshotted policy when it is cancelled.
//!
//! Every step calls the provider first (with an idempotency key, so a retry
//! does nothing twice there) and then records the outcome in one database
//! transaction, conditional on the payment still being where it was: two
//! workers settling the same payment post it once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Date, Nullable, Numeric};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use serde_json::json;
use uuid::Uuid;

use super::provider::{Authorization, Provider, ProviderError, Simulated};
use super::refunds::{self, Claim, RefundRequest};
use super::store::{self, NewPayment, Payment};
use crate::bookings::model::Status;
use crate::bookings::store::Booking;
use crate::ledger::posting::{MoneyEvent, record};
use crate::ledger::split::{RefundError, SplitRates, split, to_cents, to_euros};
use crate::ledger::store::Kind;
use crate::tenancy::Territory;

/// The payment provider and the secret its webhooks are signed with.
#[derive(Clone)]
pub struct Payments {
    provider: Arc<dyn Provider>,
    webhook_secret: Arc<[u8]>,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments").field("provider", &self.provider.name()).finish_non_exhaustive()
    }
}

impl Payments {
    /// Payments through `provider`, webhooks signed with `webhook_secret`.
    pub fn new(provider: Arc<dyn Provider>, webhook_secret: &[u8]) -> Self {
        Self { provider, webhook_secret: webhook_secret.into() }
    }

    /// The simulated provider.
    pub fn simulated(webhook_secret: &[u8]) -> Self {
        Self::new(Arc::new(Simulated), webhook_secret)
    }

    /// The provider.
    pub fn provider(&self) -> &dyn Provider {
        self.provider.as_ref()
    }

    /// The webhook secret.
    pub fn webhook_secret(&self) -> &[u8] {
        &self.webhook_secret
    }
}

/// Why a payment step failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error("the payment is {0}, not captured")]
    NotCaptured(String),
    #[error("the provider has not answered for this payment yet")]
    NotAnswered,
    #[error("the territory has no contract in force on {0}")]
    NoContract(chrono::NaiveDate),
}

impl From<PaymentError> for crate::http::ApiError {
    fn from(error: PaymentError) -> Self {
        use crate::http::ApiError;
        match error {
            PaymentError::Provider(error) => ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "payment-provider-unavailable",
                "Service Unavailable",
                format!("{error}; try again shortly"),
            ),
            PaymentError::Database(error) => error.into(),
            PaymentError::Refund(error) => ApiError::unprocessable("invalid-refund", error.to_string()),
            PaymentError::NotCaptured(status) => {
                ApiError::conflict("payment-not-captured", format!("the payment is {status}: nothing to refund"))
            }
            PaymentError::NotAnswered => ApiError::conflict(
                "payment-not-answered",
                "the payment provider has not answered for this payment yet; retry shortly",
            )
            .retry_after(2),
            error @ PaymentError::NoContract(_) => ApiError::internal(&error),
        }
    }
}

/// The territory's contract rates on `day` (read through a function that
/// shows the acting territory its own contract only).
async fn contract_on(conn: &mut AsyncPgConnection, day: chrono::NaiveDate) -> Result<(Decimal, Decimal), PaymentError> {
    #[derive(diesel::QueryableByName)]
    struct Rates {
        #[diesel(sql_type = Nullable<Numeric>)]
        franchise_rate: Option<Decimal>,
        #[diesel(sql_type = Nullable<Numeric>)]
        hq_rate: Option<Decimal>,
    }
    let rates: Rates = diesel::sql_query("SELECT franchise_rate, hq_rate FROM hq.own_contract_on($1)")
        .bind::<Date, _>(day)
        .get_result(conn)
        .await?;
    match (rates.franchise_rate, rates.hq_rate) {
        (Some(franchise), Some(hq)) => Ok((franchise, hq)),
        _ => Err(PaymentError::NoContract(day)),
    }
}

/// What asking for the money of a new booking gave.
#[derive(Debug)]
pub enum Held {
    /// Held: the booking moves on.
    Authorized,
    /// Waiting for the customer (3-D Secure): the booking stays HELD.
    Pending,
    /// Refused: the booking expires.
    Declined(String),
}

/// Records that the booking's price is to be held on `method`, with the split
/// rates in force on the service date, in the caller's transaction (the one
/// that holds the booking): from then on the payment is found and finished by
/// whoever comes next, never asked for anew.
pub async fn request(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    booking: &Booking,
    territory: &Territory,
    method: &str,
    now: DateTime<Utc>,
) -> Result<Payment, PaymentError> {
    let service_date = booking.starts_at.with_timezone(&territory.zone()).date_naive();
    let (franchise, hq) = contract_on(conn, service_date).await?;
    let new = NewPayment {
        booking_id: booking.id,
        pro_id: booking.pro_id,
        provider: payments.provider.name(),
        method,
        amount: booking.price,
        rates: SplitRates { vat: booking.vat_rate, franchise, hq },
        now,
    };
    Ok(store::insert(conn, &new).await?)
}

/// Asks the provider to hold a requested payment. The key is the payment's
/// purpose (`booking_{id}`), so asking again after a crash gets the first
/// answer back instead of a second hold.
pub async fn authorize(payments: &Payments, payment: &Payment) -> Result<(Authorization, Held), PaymentError> {
    let method = payment.method.as_deref().unwrap_or_default();
    let key = format!("booking_{}", payment.booking_id);
    let authorization = payments.provider.authorize(&key, payment.amount, method).await?;
    let held = match &authorization {
        Authorization::Authorized { .. } => Held::Authorized,
        Authorization::Pending { .. } => Held::Pending,
        Authorization::Declined { reason, .. } => Held::Declined(reason.clone()),
    };
    Ok((authorization, held))
}

/// Records the provider's answer to a requested payment, in the caller's
/// transaction; `None` when it was recorded before.
pub async fn record_authorization(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    authorization: &Authorization,
    now: DateTime<Utc>,
) -> Result<Option<Payment>, PaymentError> {
    let (reference, status) = match authorization {
        Authorization::Authorized { reference } => (reference, "authorized"),
        Authorization::Pending { reference } => (reference, "pending"),
        Authorization::Declined { reference, .. } => (reference, "failed"),
    };
    let Some(payment) = store::record_answer(conn, payment.id, reference, status, now).await? else {
        return Ok(None);
    };
    let kind = if status == "failed" { "payment.declined" } else { "payment.authorized" };
    crate::audit::append(
        conn,
        kind,
        "customer",
        &json!({ "payment": payment.id, "booking": payment.booking_id, "amount": payment.amount.to_string(), "status": status }),
        now,
    )
    .await?;
    Ok(Some(payment))
}

/// A requested payment whose booking ended before the provider's answer was
/// recorded: asks again under the same key to learn what the provider holds,
/// and records it, so that it can be released.
async fn resolve_requested(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    payment: &Payment,
    now: DateTime<Utc>,
) -> Result<Option<Payment>, PaymentError> {
    let (authorization, _) = authorize(payments, payment).await?;
    let (booking_id, requested) = (payment.booking_id, payment.clone());
    conn.transaction::<_, PaymentError, _>(|conn| {
        async move { record_authorization(conn, &requested, &authorization, now).await }.scope_boxed()
    })
    .await?;
    Ok(store::for_booking(conn, booking_id).await?)
}

/// Brings the payment of `booking_id` in line with the booking: capture when
/// it is confirmed or done, release or refund when it ended without service,
/// keep the cancellation fee when it was cancelled. Does nothing when there is
/// nothing to do, so it may run any number of times.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    territory: &Territory,
    booking: &Booking,
    now: DateTime<Utc>,
) -> Result<(), PaymentError> {
    let Some(mut payment) = store::for_booking(conn, booking.id).await? else { return Ok(()) };
    if payment.status == "requested" && matches!(booking.state(), Status::Declined | Status::Expired) {
        let Some(answered) = resolve_requested(conn, payments, &payment, now).await? else { return Ok(()) };
        payment = answered;
    }
    let amount = to_cents(payment.amount);
    let refunded = to_cents(payment.refunded);
    match (booking.state(), payment.status.as_str()) {
        (Status::Confirmed | Status::Completed | Status::NoShow, "authorized") => {
            capture(conn, payments, territory, &payment, now).await?;
        }
        (Status::Cancelled, "authorized") => {
            let fee = booking.cancellation_fee.map_or(0, to_cents);
            if fee == 0 {
                void(conn, payments, &payment, now).await?;
            } else if let Some(captured) = capture(conn, payments, territory, &payment, now).await? {
                let key = format!("refund:{}:cancellation", captured.id);
                refund(conn, payments, territory, &captured, amount - fee, "cancellation", &key, None, now).await?;
            }
        }
        (Status::Cancelled, "captured") => {
            let fee = booking.cancellation_fee.map_or(0, to_cents);
            let owed = amount - fee - refunded;
            if owed > 0 {
                let key = format!("refund:{}:cancellation", payment.id);
                refund(conn, payments, territory, &payment, owed, "cancellation", &key, None, now).await?;
            }
        }
        (Status::Declined | Status::Expired, "authorized" | "pending") => {
            void(conn, payments, &payment, now).await?;
        }
        (Status::Declined | Status::Expired, "captured") if amount > refunded => {
            let key = format!("refund:{}:release", payment.id);
            refund(conn, payments, territory, &payment, amount - refunded, "release", &key, None, now).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The provider's reference of a payment it has answered for.
fn reference(payment: &Payment) -> Result<&str, PaymentError> {
    payment.provider_ref.as_deref().ok_or(PaymentError::NotAnswered)
}

/// Captures an authorised payment and posts its split; `None` when someone
/// else captured or released it first.
async fn capture(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    territory: &Territory,
    payment: &Payment,
    now: DateTime<Utc>,
) -> Result<Option<Payment>, PaymentError> {
    payments.provider.capture(reference(payment)?, payment.amount).await?;
    let parts = split(to_cents(payment.amount), &payment.rates());
    let effective_on = now.with_timezone(&territory.zone()).date_naive();
    let (id, booking_id, pro_id) = (payment.id, payment.booking_id, payment.pro_id);
    let captured = conn
        .transaction::<_, PaymentError, _>(|conn| {
            async move {
                let Some(captured) = store::mark_captured(conn, id, &parts, now).await? else { return Ok(None) };
                let event = MoneyEvent {
                    kind: Kind::Capture,
                    external_id: format!("capture:{id}"),
                    payment_id: id,
                    booking_id,
                    pro_id,
                    parts,
                    effective_on,
                    at: now,
                    actor: "system",
                };
                record(conn, &event).await?;
                crate::ledger::commissions::schedule_drain(conn, territory.id, now).await?;
                Ok(Some(captured))
            }
            .scope_boxed()
        })
        .await?;
    if captured.is_some() {
        tracing::info!(territory = %territory.slug, payment.id = %id, amount = %payment.amount, "payment captured");
    }
    Ok(captured)
}

/// Releases a held (or still pending) payment.
async fn void(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    payment: &Payment,
    now: DateTime<Utc>,
) -> Result<(), PaymentError> {
    payments.provider.void(reference(payment)?).await?;
    let (id, booking_id, from) = (payment.id, payment.booking_id, payment.status.clone());
    conn.transaction::<_, PaymentError, _>(|conn| {
        async move {
            if store::move_status(conn, id, &from, "voided", now).await?.is_some() {
                let payload = json!({ "payment": id, "booking": booking_id, "from": from });
                crate::audit::append(conn, "payment.voided", "system", &payload, now).await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await
}

/// Gives back `cents` of a captured payment, split cumulatively; `None` when
/// a refund under `external_id` was made before (nothing is given twice).
/// The refund is claimed before the provider is asked (see
/// [`super::refunds`]): a refund that does not fit never reaches it.
#[expect(clippy::too_many_arguments, reason = "one refund's facts; a struct would only rename them")]
pub async fn refund(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    territory: &Territory,
    payment: &Payment,
    cents: i64,
    reason: &str,
    external_id: &str,
    requested_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Option<Decimal>, PaymentError> {
    refunds::captured_parts(payment)?;
    let reference = reference(payment)?;
    let request = RefundRequest { payment_id: payment.id, cents, reason, external_id, requested_by, now };
    let parts = match refunds::claim(conn, &request).await? {
        Claim::Completed => return Ok(None),
        Claim::Pending(parts) => parts,
    };
    if let Err(error) = payments.provider.refund(reference, external_id, to_euros(cents)).await {
        refunds::withdraw(conn, external_id).await?;
        return Err(error.into());
    }
    let effective_on = now.with_timezone(&territory.zone()).date_naive();
    let done = conn
        .transaction::<_, PaymentError, _>(|conn| {
            async move {
                if !refunds::complete(conn, &request).await? {
                    return Ok(None);
                }
                let actor = requested_by.map_or_else(|| "system".to_owned(), |account| format!("account:{account}"));
                let event = MoneyEvent {
                    kind: Kind::Refund,
                    external_id: external_id.to_owned(),
                    payment_id: payment.id,
                    booking_id: payment.booking_id,
                    pro_id: payment.pro_id,
                    parts,
                    effective_on,
                    at: now,
                    actor: &actor,
                };
                record(conn, &event).await?;
                crate::ledger::commissions::schedule_drain(conn, territory.id, now).await?;
                Ok(Some(to_euros(cents)))
            }
            .scope_boxed()
        })
        .await?;
    if let Some(amount) = done {
        tracing::info!(territory = %territory.slug, payment.id = %payment.id, %amount, reason, "payment refunded");
    }
    Ok(done)
}
