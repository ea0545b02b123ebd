//! A refund is claimed before the provider is asked: under the payment's
//! lock, the claim re-checks what is left to give back and records the
//! refund as pending, so that of concurrent refunds that together would give
//! back more than was captured, the losers stop here and never reach the
//! provider. Once the provider has paid out, the claim is completed and its
//! money posted; if the provider refused, the claim is withdrawn.

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use uuid::Uuid;

use super::flow::PaymentError;
use super::store::{self, Payment};
use crate::ledger::split::{Cents, Parts, refund_parts, to_cents, to_euros};

/// What claiming a refund found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Claimed (now, or by an earlier attempt under the same external id
    /// that did not finish): ask the provider, then complete it.
    Pending(Parts),
    /// A refund under this external id was completed before.
    Completed,
}

/// What a refund is for.
#[derive(Debug, Clone, Copy)]
pub struct RefundRequest<'a> {
    pub payment_id: Uuid,
    pub cents: Cents,
    pub reason: &'a str,
    pub external_id: &'a str,
    pub requested_by: Option<Uuid>,
    pub now: DateTime<Utc>,
}

#[derive(diesel::QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Numeric)]
    vat: Decimal,
    #[diesel(sql_type = Numeric)]
    franchise_fee: Decimal,
    #[diesel(sql_type = Numeric)]
    hq_fee: Decimal,
    #[diesel(sql_type = Numeric)]
    pro_share: Decimal,
}

/// Claims a refund in one transaction under the payment's lock: the payment
/// must still be captured, and `cents` must fit in what earlier refunds
/// (completed or still pending) left.
pub async fn claim(conn: &mut AsyncPgConnection, request: &RefundRequest<'_>) -> Result<Claim, PaymentError> {
    let request = *request;
    conn.transaction::<_, PaymentError, _>(|conn| {
        async move {
            let payment = store::lock(conn, request.payment_id).await?;
            let earlier: Option<ClaimRow> = diesel::sql_query(
                "SELECT status, vat, franchise_fee, hq_fee, pro_share FROM refunds WHERE external_id = $1",
            )
            .bind::<Text, _>(request.external_id)
            .get_result(conn)
            .await
            .optional()?;
            if let Some(row) = earlier {
                if row.status == "completed" {
                    return Ok(Claim::Completed);
                }
                let parts = Parts {
                    vat: to_cents(row.vat),
                    franchise: to_cents(row.franchise_fee),
                    hq: to_cents(row.hq_fee),
                    pro: to_cents(row.pro_share),
                };
                return Ok(Claim::Pending(parts));
            }
            let captured = captured_parts(&payment)?;
            let before = store::refunded_parts(conn, payment.id).await?;
            let parts = refund_parts(&captured, &before, request.cents, &payment.rates())?;
            diesel::sql_query(
                "INSERT INTO refunds (payment_id, external_id, amount, vat, franchise_fee, hq_fee, pro_share,
                     reason, requested_by, created_at, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending')",
            )
            .bind::<SqlUuid, _>(payment.id)
            .bind::<Text, _>(request.external_id)
            .bind::<Numeric, _>(to_euros(request.cents))
            .bind::<Numeric, _>(to_euros(parts.vat))
            .bind::<Numeric, _>(to_euros(parts.franchise))
            .bind::<Numeric, _>(to_euros(parts.hq))
            .bind::<Numeric, _>(to_euros(parts.pro))
            .bind::<Text, _>(request.reason)
            .bind::<Nullable<SqlUuid>, _>(request.requested_by)
            .bind::<Timestamptz, _>(request.now)
            .execute(conn)
            .await?;
            Ok(Claim::Pending(parts))
        }
        .scope_boxed()
    })
    .await
}

/// The split at capture of a payment that is still captured.
pub fn captured_parts(payment: &Payment) -> Result<Parts, PaymentError> {
    match payment.captured_parts() {
        Some(parts) if payment.status == "captured" => Ok(parts),
        _ => Err(PaymentError::NotCaptured(payment.status.clone())),
    }
}

/// Marks a pending claim completed and adds it to the payment's refunded
/// total, in the caller's transaction; false when it was completed before.
pub async fn complete(conn: &mut AsyncPgConnection, request: &RefundRequest<'_>) -> diesel::QueryResult<bool> {
    store::lock(conn, request.payment_id).await?;
    let completed =
        diesel::sql_query("UPDATE refunds SET status = 'completed' WHERE external_id = $1 AND status = 'pending'")
            .bind::<Text, _>(request.external_id)
            .execute(conn)
            .await?;
    if completed == 0 {
        return Ok(false);
    }
    diesel::sql_query("UPDATE payments SET refunded = refunded + $2, updated_at = $3 WHERE id = $1")
        .bind::<SqlUuid, _>(request.payment_id)
        .bind::<Numeric, _>(to_euros(request.cents))
        .bind::<Timestamptz, _>(request.now)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Withdraws a pending claim the provider refused: nothing was given back,
/// so what it held is free again.
pub async fn withdraw(conn: &mut AsyncPgConnection, external_id: &str) -> diesel::QueryResult<()> {
    diesel::sql_query("DELETE FROM refunds WHERE external_id = $1 AND status = 'pending'")
        .bind::<Text, _>(external_id)
        .execute(conn)
        .await
        .map(|_| ())
}
