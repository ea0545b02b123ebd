//! Queries on bookings and their events (tenant schema).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Integer, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::model::{Actor, Status};

/// A booking as stored (without its blocked range).
#[derive(Debug, Clone, Serialize, diesel::QueryableByName)]
pub struct Booking {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub customer_account_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub pro_id: Uuid,
    #[diesel(sql_type = Text)]
    pub service_code: String,
    #[diesel(sql_type = Timestamptz)]
    pub starts_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub ends_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub vat_rate: Decimal,
    #[diesel(sql_type = Integer)]
    pub cancellation_free_hours: i32,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub cancellation_fee_percent: Decimal,
    #[diesel(sql_type = Text)]
    pub postcode: String,
    #[diesel(sql_type = Text)]
    pub address: String,
    #[diesel(sql_type = Text)]
    pub notes: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub hold_expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub respond_by: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub cancelled_by: Option<String>,
    #[diesel(sql_type = Nullable<Numeric>)]
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cancellation_fee: Option<Decimal>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub rescheduled_from: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub rescheduled_to: Option<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

impl Booking {
    /// Its state.
    pub fn state(&self) -> Status {
        Status::from_stored(&self.status)
    }
}

const COLUMNS: &str = "id, customer_account_id, pro_id, service_code, starts_at, ends_at, status, price, vat_rate,
    cancellation_free_hours, cancellation_fee_percent, postcode, address, notes, hold_expires_at, respond_by,
    cancelled_by, cancellation_fee, rescheduled_from, rescheduled_to, created_at";

/// What a new booking is made of; `address` and `notes` come sealed for
/// this booking's id.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub id: Uuid,
    pub customer_account_id: Uuid,
    pub pro_id: Uuid,
    pub service_code: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub buffer_minutes: i32,
    pub price: Decimal,
    pub vat_rate: Decimal,
    pub cancellation_free_hours: i32,
    pub cancellation_fee_percent: Decimal,
    pub postcode: String,
    pub address: String,
    pub notes: String,
    pub hold_expires_at: DateTime<Utc>,
    pub rescheduled_from: Option<Uuid>,
}

/// Inserts a HELD booking. Two overlapping blocking bookings of one pro are
/// refused by the database's exclusion constraint.
pub async fn insert(conn: &mut AsyncPgConnection, new: &NewBooking) -> diesel::QueryResult<Booking> {
    diesel::sql_query(format!(
        "INSERT INTO bookings (customer_account_id, pro_id, service_code, starts_at, ends_at, buffer_minutes, blocked,
                               status, price, vat_rate, cancellation_free_hours, cancellation_fee_percent,
                               postcode, address, notes, hold_expires_at, rescheduled_from, id)
         VALUES ($1, $2, $3, $4, $5, $6, tstzrange($4, $5 + make_interval(mins => $6)), 'held', $7, $8, $9, $10,
                 $11, $12, $13, $14, $15, $16)
         RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(new.customer_account_id)
    .bind::<SqlUuid, _>(new.pro_id)
    .bind::<Text, _>(&new.service_code)
    .bind::<Timestamptz, _>(new.starts_at)
    .bind::<Timestamptz, _>(new.ends_at)
    .bind::<Integer, _>(new.buffer_minutes)
    .bind::<Numeric, _>(new.price)
    .bind::<Numeric, _>(new.vat_rate)
    .bind::<Integer, _>(new.cancellation_free_hours)
    .bind::<Numeric, _>(new.cancellation_fee_percent)
    .bind::<Text, _>(&new.postcode)
    .bind::<Text, _>(&new.address)
    .bind::<Text, _>(&new.notes)
    .bind::<Timestamptz, _>(new.hold_expires_at)
    .bind::<Nullable<SqlUuid>, _>(new.rescheduled_from)
    .bind::<SqlUuid, _>(new.id)
    .get_result(conn)
    .await
}

/// Whether the database refused a booking for clashing with another: the
/// exclusion constraint, or the deadlock that two concurrent clashing inserts
/// run into (each waits for the other's uncommitted row, and PostgreSQL
/// aborts one of them while the other goes on). diesel does not expose the
/// SQLSTATE (23P01, 40P01), so the texts are matched.
pub fn is_overlap(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("exclusion constraint") || info.message() == "deadlock detected")
}

/// One booking.
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> diesel::QueryResult<Option<Booking>> {
    use diesel::OptionalExtension;
    diesel::sql_query(format!("SELECT {COLUMNS} FROM bookings WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()
}

/// Moves a booking from `from` to `to` if it is still in `from`; sets the
/// optional fields given. None when it was no longer in `from`.
#[expect(clippy::too_many_arguments, reason = "one conditional UPDATE with its optional columns")]
pub async fn move_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    from: Status,
    to: Status,
    respond_by: Option<DateTime<Utc>>,
    cancelled_by: Option<Actor>,
    cancellation_fee: Option<Decimal>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Booking>> {
    use diesel::OptionalExtension;
    diesel::sql_query(format!(
        "UPDATE bookings SET status = $3, updated_at = $7,
                respond_by = coalesce($4, respond_by),
                cancelled_by = coalesce($5, cancelled_by),
                cancellation_fee = coalesce($6, cancellation_fee)
          WHERE id = $1 AND status = $2
         RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(from.as_str())
    .bind::<Text, _>(to.as_str())
    .bind::<Nullable<Timestamptz>, _>(respond_by)
    .bind::<Nullable<Text>, _>(cancelled_by.map(Actor::as_str))
    .bind::<Nullable<Numeric>, _>(cancellation_fee)
    .bind::<Timestamptz, _>(now)
    .get_result(conn)
    .await
    .optional()
}

/// Records a transition: who, when, from where to where.
pub async fn record_event(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
    from: Option<Status>,
    to: Status,
    actor: Actor,
    actor_account: Option<Uuid>,
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO booking_events (booking_id, from_status, to_status, actor, actor_account_id, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<SqlUuid, _>(booking)
    .bind::<Nullable<Text>, _>(from.map(Status::as_str))
    .bind::<Text, _>(to.as_str())
    .bind::<Text, _>(actor.as_str())
    .bind::<Nullable<SqlUuid>, _>(actor_account)
    .bind::<Timestamptz, _>(at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A booking's history.
#[derive(Debug, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct Event {
    #[diesel(sql_type = Nullable<Text>)]
    pub from_status: Option<String>,
    #[diesel(sql_type = Text)]
    pub to_status: String,
    #[diesel(sql_type = Text)]
    pub actor: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub actor_account_id: Option<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

/// The transitions of a booking, oldest first.
pub async fn events(conn: &mut AsyncPgConnection, booking: Uuid) -> diesel::QueryResult<Vec<Event>> {
    diesel::sql_query(
        "SELECT from_status, to_status, actor, actor_account_id, at FROM booking_events WHERE booking_id = $1 ORDER BY id",
    )
    .bind::<SqlUuid, _>(booking)
    .load(conn)
    .await
}

/// Who may see which bookings.
pub enum Visibility {
    Customer(Uuid),
    Pro(Uuid),
    Everything,
}

/// Bookings visible to the asker, newest start first, at most `limit`.
pub async fn list(conn: &mut AsyncPgConnection, who: &Visibility, limit: i32) -> diesel::QueryResult<Vec<Booking>> {
    let (filter, id) = match who {
        Visibility::Customer(account) => ("customer_account_id = $1", Some(*account)),
        Visibility::Pro(pro) => ("pro_id = $1", Some(*pro)),
        Visibility::Everything => ("$1::uuid IS NULL", None),
    };
    diesel::sql_query(format!("SELECT {COLUMNS} FROM bookings WHERE {filter} ORDER BY starts_at DESC, id LIMIT $2"))
        .bind::<Nullable<SqlUuid>, _>(id)
        .bind::<Integer, _>(limit)
        .load(conn)
        .await
}

#[derive(diesel::QueryableByName)]
struct Load {
    #[diesel(sql_type = SqlUuid)]
    pro_id: Uuid,
}

/// `pros` ordered by their upcoming blocking bookings, fewest first (ties by
/// id): fair assignment when the customer names no pro.
pub async fn by_load(
    conn: &mut AsyncPgConnection,
    pros: &[Uuid],
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<Uuid>> {
    let loads: Vec<Load> = diesel::sql_query(
        "SELECT p.id AS pro_id
           FROM unnest($1::uuid[]) AS p(id)
           LEFT JOIN bookings b ON b.pro_id = p.id AND b.starts_at >= $2
                                AND b.status IN ('held', 'awaiting_pro', 'confirmed')
          GROUP BY p.id ORDER BY count(b.id), p.id",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(pros)
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await?;
    Ok(loads.into_iter().map(|load| load.pro_id).collect())
}
