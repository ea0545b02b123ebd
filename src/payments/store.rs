//! Payments and refunds as stored (tenant schema).

use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::ledger::split::{Parts, SplitRates, to_cents};

/// A booking's payment.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName)]
pub struct Payment {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub booking_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub pro_id: Uuid,
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// The provider's reference; `None` while the provider has not answered.
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(skip)]
    pub provider_ref: Option<String>,
    /// The payment method the provider is asked to charge.
    #[diesel(sql_type = Nullable<Text>)]
    #[serde(skip)]
    pub method: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub refunded: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(skip)]
    pub vat_rate: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(skip)]
    pub franchise_rate: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(skip)]
    pub hq_rate: Decimal,
    #[diesel(sql_type = Nullable<Numeric>)]
    #[serde(skip)]
    pub captured_vat: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    #[serde(skip)]
    pub captured_franchise: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    #[serde(skip)]
    pub captured_hq: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    #[serde(skip)]
    pub captured_pro: Option<Decimal>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

impl Payment {
    /// The rates its split applies.
    pub fn rates(&self) -> SplitRates {
        SplitRates { vat: self.vat_rate, franchise: self.franchise_rate, hq: self.hq_rate }
    }

    /// The split at capture, once captured.
    pub fn captured_parts(&self) -> Option<Parts> {
        Some(Parts {
            vat: to_cents(self.captured_vat?),
            franchise: to_cents(self.captured_franchise?),
            hq: to_cents(self.captured_hq?),
            pro: to_cents(self.captured_pro?),
        })
    }
}

const COLUMNS: &str = "id, booking_id, pro_id, provider, provider_ref, method, status, amount, refunded, vat_rate,
    franchise_rate, hq_rate, captured_vat, captured_franchise, captured_hq, captured_pro, created_at";

/// A payment to ask the provider for: recorded as `requested` before the
/// provider is asked, so that whoever finds it later asks again under the
/// same key instead of asking anew.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub booking_id: Uuid,
    pub pro_id: Uuid,
    pub provider: &'a str,
    pub method: &'a str,
    pub amount: Decimal,
    pub rates: SplitRates,
    pub now: DateTime<Utc>,
}

/// Records a payment as requested.
pub async fn insert(conn: &mut AsyncPgConnection, new: &NewPayment<'_>) -> diesel::QueryResult<Payment> {
    diesel::sql_query(format!(
        "INSERT INTO payments (booking_id, pro_id, provider, method, status, amount, vat_rate, franchise_rate,
             hq_rate, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(new.booking_id)
    .bind::<SqlUuid, _>(new.pro_id)
    .bind::<Text, _>(new.provider)
    .bind::<Text, _>(new.method)
    .bind::<Numeric, _>(new.amount)
    .bind::<Numeric, _>(new.rates.vat)
    .bind::<Numeric, _>(new.rates.franchise)
    .bind::<Numeric, _>(new.rates.hq)
    .bind::<Timestamptz, _>(new.now)
    .get_result(conn)
    .await
}

/// Records the provider's first answer to a requested payment: its reference
/// and status. `None` when the answer was recorded before (by a retry, or by
/// the timer that releases the hold).
pub async fn record_answer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reference: &str,
    status: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Payment>> {
    diesel::sql_query(format!(
        "UPDATE payments SET provider_ref = $2, status = $3, updated_at = $4
          WHERE id = $1 AND status = 'requested' RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(reference)
    .bind::<Text, _>(status)
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .await
    .optional()
}

/// The payment of a booking.
pub async fn for_booking(conn: &mut AsyncPgConnection, booking_id: Uuid) -> diesel::QueryResult<Option<Payment>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE booking_id = $1"))
        .bind::<SqlUuid, _>(booking_id)
        .get_result(conn)
        .await
        .optional()
}

/// A payment by the provider's reference.
pub async fn by_reference(conn: &mut AsyncPgConnection, reference: &str) -> diesel::QueryResult<Option<Payment>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE provider_ref = $1"))
        .bind::<Text, _>(reference)
        .get_result(conn)
        .await
        .optional()
}

/// A payment, locked for the rest of the transaction.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> diesel::QueryResult<Payment> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"))
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
}

/// Moves a payment from `from` to `to`; `None` when it was not in `from`.
pub async fn move_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Payment>> {
    diesel::sql_query(format!(
        "UPDATE payments SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2 RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(from)
    .bind::<Text, _>(to)
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .await
    .optional()
}

/// Marks an authorised payment captured with its split; `None` when it was
/// not authorised any more (someone else captured or voided it).
pub async fn mark_captured(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    parts: &Parts,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Payment>> {
    use crate::ledger::split::to_euros;
    diesel::sql_query(format!(
        "UPDATE payments SET status = 'captured', captured_vat = $2, captured_franchise = $3, captured_hq = $4,
                captured_pro = $5, updated_at = $6
          WHERE id = $1 AND status = 'authorized' RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Numeric, _>(to_euros(parts.vat))
    .bind::<Numeric, _>(to_euros(parts.franchise))
    .bind::<Numeric, _>(to_euros(parts.hq))
    .bind::<Numeric, _>(to_euros(parts.pro))
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .await
    .optional()
}

/// The parts all refunds of a payment took so far, or hold while they are
/// claimed and not yet completed.
pub async fn refunded_parts(conn: &mut AsyncPgConnection, payment_id: Uuid) -> diesel::QueryResult<Parts> {
    #[derive(diesel::QueryableByName)]
    struct Sums {
        #[diesel(sql_type = Numeric)]
        vat: Decimal,
        #[diesel(sql_type = Numeric)]
        franchise: Decimal,
        #[diesel(sql_type = Numeric)]
        hq: Decimal,
        #[diesel(sql_type = Numeric)]
        pro: Decimal,
    }
    let sums: Sums = diesel::sql_query(
        "SELECT coalesce(sum(vat), 0) AS vat, coalesce(sum(franchise_fee), 0) AS franchise,
                coalesce(sum(hq_fee), 0) AS hq, coalesce(sum(pro_share), 0) AS pro
           FROM refunds WHERE payment_id = $1",
    )
    .bind::<SqlUuid, _>(payment_id)
    .get_result(conn)
    .await?;
    Ok(Parts {
        vat: to_cents(sums.vat),
        franchise: to_cents(sums.franchise),
        hq: to_cents(sums.hq),
        pro: to_cents(sums.pro),
    })
}

/// A refund as listed.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName)]
pub struct Refund {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// A payment's completed refunds, oldest first.
pub async fn refunds(conn: &mut AsyncPgConnection, payment_id: Uuid) -> diesel::QueryResult<Vec<Refund>> {
    diesel::sql_query(
        "SELECT id, amount, reason, created_at FROM refunds WHERE payment_id = $1 AND status = 'completed'
          ORDER BY created_at, id",
    )
    .bind::<SqlUuid, _>(payment_id)
    .load(conn)
    .await
}
