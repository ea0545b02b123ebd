//! `/api/v1/bookings...` on a territory host.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::idempotency::{self, Claim};
use super::lifecycle;
use super::model::{Action, Actor, Refusal, Status, cancellation_fee, transition};
use super::opening::{self, settle_now};
use super::store::{self, Booking, Event, NewBooking, Visibility};
use crate::clock::SharedClock;
use crate::faults::Faults;
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::{Role, TerritoryMember};
use crate::money::Money;
use crate::payments::flow::{self, PaymentError, Payments};
use crate::payments::provider::test_cards;
use crate::privacy::keys::{Keyring, Place};
use crate::scheduling::routes::{Search, prepare_search};
use crate::scheduling::slots::is_free;
use crate::schema::tenant::pros;
use crate::tenancy::Territory;

/// How long a booking holds its slot before it must move on.
pub const HOLD: Duration = Duration::minutes(15);
/// How long after its end a confirmed booking completes by itself: time for
/// the pro or the franchisee to record a no-show instead.
pub const COMPLETION_GRACE: Duration = Duration::hours(12);
/// How long a pro has to answer a request (never past the start).
pub const RESPONSE_TIME: Duration = Duration::hours(24);

/// Registers the booking routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(show).service(preview_cancellation).service(act);
}

/// A booking request.
#[derive(Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"service": "home-cleaning", "start": "2026-05-04T09:00:00+02:00", "postcode": "1011 AB", "address": "Damrak 1"}))]
struct NewBookingBody {
    /// The service's code.
    service: String,
    /// RFC 3339 with an offset: a free start from `GET /slots`.
    #[serde(deserialize_with = "crate::http::dates::date_time")]
    start: DateTime<chrono::FixedOffset>,
    /// A pro of the customer's choice; the least loaded free pro otherwise.
    pro: Option<Uuid>,
    /// A Dutch postcode such as 1011 AB.
    postcode: String,
    /// 1 to 500 characters.
    address: String,
    /// At most 2000 characters.
    #[serde(default)]
    notes: String,
    /// The payment method token from the provider's client side; the
    /// simulated provider takes its test cards (`sim-card` by default).
    #[serde(default = "default_payment_method")]
    payment_method: String,
}

fn default_payment_method() -> String {
    test_cards::OK.to_owned()
}

/// A booking as its customer, its pro and the franchisee see it. The answer
/// is built by `booking_json`; this is its documented shape.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the documented shape of booking_json's answer, never built as such")]
struct BookingView {
    id: Uuid,
    customer_account_id: Uuid,
    pro_id: Uuid,
    service_code: String,
    /// RFC 3339 with the territory's offset.
    #[schema(format = DateTime, example = "2026-05-04T09:00:00+02:00")]
    starts_at: String,
    /// RFC 3339 with the territory's offset.
    #[schema(format = DateTime, example = "2026-05-04T11:00:00+02:00")]
    ends_at: String,
    status: Status,
    /// Including VAT, as snapshotted when booked.
    price: Money,
    /// A fraction: 0.21 is 21%.
    #[schema(example = "0.21")]
    vat_rate: String,
    cancellation_free_hours: i32,
    #[schema(example = "50")]
    cancellation_fee_percent: String,
    postcode: String,
    address: String,
    notes: String,
    hold_expires_at: Option<DateTime<Utc>>,
    /// When the pro must have answered.
    respond_by: Option<DateTime<Utc>>,
    /// customer, pro, franchisee or system.
    cancelled_by: Option<String>,
    /// The fee charged for the cancellation, if cancelled.
    cancellation_fee: Option<Money>,
    rescheduled_from: Option<Uuid>,
    rescheduled_to: Option<Uuid>,
    created_at: DateTime<Utc>,
    /// The recorded transitions (in `GET /bookings/{id}` only).
    events: Option<Vec<Event>>,
}

/// Bookings, newest first.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the documented shape of the list answer, built with json!")]
struct BookingList {
    bookings: Vec<BookingView>,
}

/// The fee a cancellation now would cost.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the documented shape of the preview answer, built with json!")]
struct CancellationPreview {
    fee: Money,
    free_until_hours_before: i32,
}

impl NewBookingBody {
    fn validate(&self) -> Result<String, ApiError> {
        let compact: String = self.postcode.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        let valid = compact.len() == 6
            && compact.is_ascii()
            && compact[..4].chars().all(|c| c.is_ascii_digit())
            && !compact.starts_with('0')
            && compact[4..].chars().all(|c| c.is_ascii_uppercase());
        if !valid {
            return Err(ApiError::unprocessable("invalid-postcode", "a Dutch postcode such as 1011 AB"));
        }
        if !(1..=500).contains(&self.address.trim().chars().count()) {
            return Err(ApiError::unprocessable("invalid-address", "the address has 1 to 500 characters"));
        }
        if self.notes.chars().count() > 2000 {
            return Err(ApiError::unprocessable("invalid-notes", "notes have at most 2000 characters"));
        }
        if !(1..=200).contains(&self.payment_method.len()) {
            return Err(ApiError::unprocessable("invalid-payment-method", "a payment method has 1 to 200 characters"));
        }
        Ok(compact)
    }
}

/// Whether the member acting on `booking` is its customer, its pro or the
/// franchisee (in that order of preference), or none of them.
pub(crate) async fn actor_for(
    conn: &mut AsyncPgConnection,
    member: &TerritoryMember,
    booking: &Booking,
) -> Result<Option<Actor>, ApiError> {
    if member.roles.contains(&Role::Franchisee) {
        return Ok(Some(Actor::Franchisee));
    }
    if member.roles.contains(&Role::Pro) {
        // An offboarded pro acts on nothing any more.
        let pro_account: Option<Uuid> = pros::table
            .find(booking.pro_id)
            .filter(pros::status.eq_any(["active", "paused"]))
            .select(pros::account_id)
            .first(conn)
            .await
            .optional()?;
        if pro_account == Some(member.auth.account.id) {
            return Ok(Some(Actor::Pro));
        }
    }
    if booking.customer_account_id == member.auth.account.id {
        return Ok(Some(Actor::Customer));
    }
    Ok(None)
}

fn not_found() -> ApiError {
    ApiError::not_found("unknown-booking", "there is no such booking for you here")
}

pub(crate) async fn visible(
    conn: &mut AsyncPgConnection,
    member: &TerritoryMember,
    id: Uuid,
) -> Result<(Booking, Actor), ApiError> {
    let booking = store::find(conn, id).await?.ok_or_else(not_found)?;
    let actor = actor_for(conn, member, &booking).await?.ok_or_else(not_found)?;
    Ok((booking, actor))
}

/// Where a booking's `column` is sealed.
fn sealed_at<'a>(scope: &'a str, column: &'a str, row: &'a str) -> Place<'a> {
    Place { scope, table: "bookings", column, row }
}

/// Seals a booking's address and notes for its row.
pub(crate) fn seal_private(
    keys: &Keyring,
    territory: &Territory,
    id: Uuid,
    address: &str,
    notes: &str,
) -> (String, String) {
    let (scope, row) = (territory.sealing_scope(), id.to_string());
    (keys.seal(address, &sealed_at(&scope, "address", &row)), keys.seal(notes, &sealed_at(&scope, "notes", &row)))
}

/// A booking's address and notes in clear; `None` for a value that does not
/// decrypt (logged: it was moved, changed, or its key is gone).
pub(crate) fn open_private(
    keys: &Keyring,
    territory: &Territory,
    booking: &Booking,
) -> (Option<String>, Option<String>) {
    let (scope, row) = (territory.sealing_scope(), booking.id.to_string());
    let open = |column: &str, stored: &str| {
        keys.open(stored, &sealed_at(&scope, column, &row))
            .map_err(|error| tracing::error!(booking.id = %booking.id, column, %error, "a sealed field does not open"))
            .ok()
    };
    (open("address", &booking.address), open("notes", &booking.notes))
}

pub(crate) fn booking_json(booking: &Booking, territory: &Territory, keys: &Keyring) -> Value {
    let zone = territory.zone();
    let mut value = serde_json::to_value(booking).unwrap_or(Value::Null);
    let (address, notes) = open_private(keys, territory, booking);
    value["address"] = json!(address);
    value["notes"] = json!(notes);
    value["status"] = json!(booking.state());
    value["starts_at"] = json!(booking.starts_at.with_timezone(&zone).to_rfc3339());
    value["ends_at"] = json!(booking.ends_at.with_timezone(&zone).to_rfc3339());
    value["price"] = json!(Money::euros(booking.price));
    // Money in JSON is always an amount and a currency, never a bare string.
    value["cancellation_fee"] = json!(booking.cancellation_fee.map(Money::euros));
    value
}

/// The pros free at `start`, the least loaded first (ties by id): the asked
/// one alone if it is free. The same function as the slot list decides "free".
async fn free_pros(
    conn: &mut AsyncPgConnection,
    search: &Search,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, i64)>, ApiError> {
    let free: Vec<(Uuid, i64)> = search
        .calendars
        .iter()
        .filter(|(_, calendar)| is_free(calendar, &search.request, start))
        .map(|(id, calendar)| (*id, calendar.buffer_minutes))
        .collect();
    if free.is_empty() {
        return Err(ApiError::conflict("slot-unavailable", "no pro is free for this service at that start"));
    }
    let ids: Vec<Uuid> = free.iter().map(|(id, _)| *id).collect();
    let order = store::by_load(conn, &ids, now).await?;
    Ok(order.into_iter().filter_map(|id| free.iter().find(|(pro, _)| *pro == id).copied()).collect())
}

/// Requests a booking. Needs an `Idempotency-Key`. The booking is HELD while
/// its price is held on the customer's payment method, then waits for the pro
/// (or is confirmed, and the money captured, at once for instantly bookable
/// services); timers expire it if nobody moves it on. A declined payment
/// answers 402 and frees the slot. A request cut off half-way is finished by
/// its retry with the same key and body (after a minute's lease): the
/// booking it held is found again, never made twice.
#[utoipa::path(tag = "bookings", security(("bearer" = []), ("session_cookie" = [])),
    params(("Idempotency-Key" = String, Header, description = "A unique key per booking attempt; a retry with the same key and body replays the first answer")),
    request_body = NewBookingBody,
    responses(
        (status = 201, body = BookingView),
        (status = 400, description = "missing-idempotency-key or malformed-body", body = Problem),
        (status = 402, description = "payment-declined: the slot is free again", body = Problem),
        (status = 403, description = "not-a-customer, or email-not-verified: the account has not confirmed its address yet", body = Problem),
        (status = 409, description = "slot-unavailable, slot-taken, hold-expired (a retry found the hold ran out), idempotency-key-reused, or idempotency-key-in-flight (retry after Retry-After)", body = Problem),
        (status = 422, description = "invalid-postcode, invalid-address, invalid-notes or invalid-start", body = Problem),
        (status = 503, description = "payment-provider-unavailable or unavailable (the database): the booking is kept HELD; a retry with the same key finishes it", body = Problem),
    ),
)]
#[post("/bookings")]
#[tracing::instrument(skip_all)]
async fn create(
    request: HttpRequest,
    member: TerritoryMember,
    body: web::Json<Value>,
    clock: web::Data<SharedClock>,
    payments: web::Data<Payments>,
    keys: web::Data<Keyring>,
    faults: web::Data<Faults>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&request)?;
    let raw = body.into_inner();
    let input: NewBookingBody =
        serde_json::from_value(raw.clone()).map_err(|e| crate::http::errors::json_refusal(&e))?;
    if !member.roles.contains(&Role::Customer) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not-a-customer",
            "Forbidden",
            "bookings are made by the territory's customers",
        ));
    }
    member.auth.require_verified_email()?;
    let postcode = input.validate()?;
    let now = clock.now();
    let start = input.start.with_timezone(&Utc);
    if start < now - Duration::days(1) || start > now + Duration::days(400) {
        return Err(ApiError::unprocessable("invalid-start", "the start is within the booking horizon, from now"));
    }
    let account = member.auth.account.id;
    let territory = member.territory.territory();
    let scope = territory.sealing_scope();
    let mut conn = member.territory.connection().await?;
    let claim =
        idempotency::claim(&mut conn, &keys, &scope, account, &key, &idempotency::request_hash(&raw), now).await?;
    faults.pass("booking.claimed").await;
    let outcome = async {
        let held = match claim {
            Claim::Replay { status, body } => return Ok(Err(idempotency::replay(status, body))),
            // A retry of a request that died after holding this booking:
            // finish it, never make a second one.
            Claim::Resume(id) => store::find(&mut conn, id)
                .await?
                .ok_or_else(|| ApiError::internal(&"an Idempotency-Key names a booking that is gone"))?,
            Claim::New => hold(&mut conn, &payments, &keys, &member, &key, &input, postcode, now).await?,
        };
        faults.pass("booking.held").await;
        let booking = opening::open(&mut conn, &payments, &faults, territory, held, now).await?;
        Ok(Ok(booking_json(&booking, territory, &keys)))
    }
    .await;
    let outcome = match outcome {
        Ok(Err(replayed)) => return Ok(replayed),
        Ok(Ok(body)) => Ok(body),
        Err(error) => Err(error),
    };
    let answer = idempotency::answer(&mut conn, &keys, &scope, account, &key, outcome).await;
    faults.pass("booking.answered").await;
    answer
}

/// Holds a free pro's time for a new booking: the HELD booking, its first
/// event, its hold timer, its payment as requested and the Idempotency-Key's
/// link to it, in one transaction.
#[expect(clippy::too_many_arguments, reason = "one booking request's facts; a struct would only rename them")]
async fn hold(
    conn: &mut AsyncPgConnection,
    payments: &Payments,
    keys: &Keyring,
    member: &TerritoryMember,
    key: &str,
    input: &NewBookingBody,
    postcode: String,
    now: DateTime<Utc>,
) -> Result<Booking, ApiError> {
    let territory = member.territory.territory();
    let start = input.start.with_timezone(&Utc);
    let zone = territory.zone();
    let day = start.with_timezone(&zone).date_naive();
    let search = prepare_search(conn, territory, &input.service, day, day, input.pro, Some(&postcode), now).await?;
    let candidates = free_pros(conn, &search, start, now).await?;
    let service = &search.service;
    let territory_id = territory.id;
    let account = member.auth.account.id;
    // Concurrent requests may pick the same pro; the database refuses all but
    // one, and the others try the next free pro.
    for (pro_id, buffer) in candidates {
        // What the pro list and the slot search showed for this pro.
        let price = search.price_of(pro_id);
        let id = Uuid::new_v4();
        let (address, notes) = seal_private(keys, territory, id, input.address.trim(), &input.notes);
        let new = NewBooking {
            id,
            customer_account_id: account,
            pro_id,
            service_code: service.code.clone(),
            starts_at: start,
            ends_at: start + Duration::minutes(i64::from(service.duration_minutes)),
            buffer_minutes: i32::try_from(buffer).unwrap_or(0),
            price,
            vat_rate: service.vat_rate,
            cancellation_free_hours: service.cancellation_free_hours,
            cancellation_fee_percent: service.cancellation_fee_percent,
            postcode: postcode.clone(),
            address,
            notes,
            hold_expires_at: now + HOLD,
            rescheduled_from: None,
        };
        let method = input.payment_method.as_str();
        let result = conn
            .transaction::<_, PaymentError, _>(|conn| {
                async move {
                    let held = lifecycle::hold(conn, &new, territory_id, Some(account), Actor::Customer, now).await?;
                    flow::request(conn, payments, &held, territory, method, now).await?;
                    idempotency::link(conn, account, key, held.id).await?;
                    Ok(held)
                }
                .scope_boxed()
            })
            .await;
        match result {
            Ok(held) => {
                tracing::info!(booking.id = %held.id, pro.id = %held.pro_id, "booking requested");
                return Ok(held);
            }
            Err(PaymentError::Database(error)) if store::is_overlap(&error) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::conflict("slot-taken", "that time was just taken; pick another"))
}

/// How many.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i32>,
}

/// The bookings the asker may see: a customer its own, a pro those assigned
/// to it, the franchisee all of the territory's.
#[utoipa::path(tag = "bookings", security(("bearer" = []), ("session_cookie" = [])), params(ListQuery), responses((status = 200, body = BookingList)))]
#[get("/bookings")]
async fn list(
    member: TerritoryMember,
    query: web::Query<ListQuery>,
    keys: web::Data<Keyring>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("malformed-query", "limit is between 1 and 200"));
    }
    let mut conn = member.territory.connection().await?;
    let who = if member.roles.contains(&Role::Franchisee) {
        Visibility::Everything
    } else if member.roles.contains(&Role::Pro) {
        let pro: Option<Uuid> = pros::table
            .filter(pros::account_id.eq(member.auth.account.id))
            .filter(pros::status.eq_any(["active", "paused"]))
            .select(pros::id)
            .first(&mut *conn)
            .await
            .optional()?;
        match pro {
            Some(pro) => Visibility::Pro(pro),
            None => Visibility::Customer(member.auth.account.id),
        }
    } else {
        Visibility::Customer(member.auth.account.id)
    };
    let territory = member.territory.territory();
    let bookings: Vec<Value> =
        store::list(&mut conn, &who, limit).await?.iter().map(|b| booking_json(b, territory, &keys)).collect();
    Ok(HttpResponse::Ok().json(json!({ "bookings": bookings })))
}

/// One booking with its history.
#[utoipa::path(tag = "bookings", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The booking's id")), responses(
    (status = 200, body = BookingView),
    (status = 404, description = "unknown-booking", body = Problem),
))]
#[get("/bookings/{id}")]
async fn show(
    member: TerritoryMember,
    path: web::Path<Uuid>,
    keys: web::Data<Keyring>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    let (booking, _) = visible(&mut conn, &member, *path).await?;
    let mut body = booking_json(&booking, member.territory.territory(), &keys);
    body["events"] = json!(store::events(&mut conn, booking.id).await?);
    Ok(HttpResponse::Ok().json(body))
}

/// The fee a cancellation now would cost, under the snapshotted policy.
#[utoipa::path(tag = "bookings", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The booking's id")), responses(
    (status = 200, body = CancellationPreview),
    (status = 404, description = "unknown-booking", body = Problem),
))]
#[get("/bookings/{id}/cancellation")]
async fn preview_cancellation(
    member: TerritoryMember,
    path: web::Path<Uuid>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    let (booking, actor) = visible(&mut conn, &member, *path).await?;
    let fee = cancellation_fee(
        booking.price,
        booking.starts_at,
        booking.cancellation_free_hours,
        booking.cancellation_fee_percent,
        clock.now(),
        actor,
    );
    Ok(HttpResponse::Ok().json(json!({ "fee": fee, "free_until_hours_before": booking.cancellation_free_hours })))
}

/// Only for reschedule: the new start.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"start": "2026-05-05T10:00:00+02:00"}))]
struct ActionBody {
    /// RFC 3339 with an offset.
    #[serde(default, deserialize_with = "crate::http::dates::optional_date_time")]
    start: Option<DateTime<chrono::FixedOffset>>,
}

/// What a request can do to a booking: the last segment of its path.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
enum ActionName {
    Accept,
    Decline,
    Cancel,
    Complete,
    NoShow,
    Reschedule,
}

/// accept, decline, cancel, complete, no-show, reschedule.
#[utoipa::path(tag = "bookings", security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = Uuid, Path, description = "The booking's id"), ("action" = inline(ActionName), Path)),
    request_body(content = Option<ActionBody>, description = "Only for reschedule"),
    responses(
        (status = 200, description = "Moved on; a cancellation carries its fee", body = BookingView),
        (status = 201, description = "Rescheduled: the new booking", body = BookingView),
        (status = 400, description = "missing-start (reschedule)", body = Problem),
        (status = 403, description = "action-not-allowed: not this actor's move", body = Problem),
        (status = 404, description = "unknown-booking, or no such action", body = Problem),
        (status = 409, description = "invalid-transition, not-started, already-started, reschedule-window-closed, slot-unavailable or slot-taken", body = Problem),
    ),
)]
#[post("/bookings/{id}/{action}")]
async fn act(
    member: TerritoryMember,
    path: web::Path<(Uuid, String)>,
    body: web::Bytes,
    clock: web::Data<SharedClock>,
    payments: web::Data<Payments>,
    keys: web::Data<Keyring>,
) -> Result<HttpResponse, ApiError> {
    // The body is optional, but when there is one it must be right: an
    // `Option<Json<_>>` would quietly drop a body it cannot read.
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| crate::http::errors::json_refusal(&e))?
    };
    let (id, action_name) = path.into_inner();
    let named: Result<ActionName, serde::de::value::Error> =
        ActionName::deserialize(action_name.as_str().into_deserializer());
    let action = match named {
        Ok(ActionName::Accept) => Action::Accept,
        Ok(ActionName::Decline) => Action::Decline,
        Ok(ActionName::Cancel) => Action::Cancel,
        Ok(ActionName::Complete) => Action::Complete,
        Ok(ActionName::NoShow) => Action::NoShow,
        Ok(ActionName::Reschedule) => Action::Reschedule,
        Err(_) => return Err(ApiError::not_found("no-such-route", "there is no such booking action")),
    };
    let now = clock.now();
    let mut conn = member.territory.connection().await?;
    let (booking, actor) = visible(&mut conn, &member, id).await?;
    let to = transition(booking.state(), action, actor).map_err(|refusal| match refusal {
        Refusal::NotYours(detail) => ApiError::new(StatusCode::FORBIDDEN, "action-not-allowed", "Forbidden", detail),
        Refusal::WrongState(from) => {
            ApiError::conflict("invalid-transition", format!("a {} booking cannot be {action_name}ed", from.as_str()))
        }
    })?;
    if matches!(action, Action::Complete | Action::NoShow) && now < booking.starts_at {
        return Err(ApiError::conflict("not-started", "the appointment has not started yet"));
    }
    if matches!(action, Action::Cancel | Action::Reschedule) && actor == Actor::Customer && now >= booking.starts_at {
        return Err(ApiError::conflict("already-started", "the appointment has started; the pro can record a no-show"));
    }
    if action == Action::Reschedule
        && actor == Actor::Customer
        && now >= booking.starts_at - Duration::hours(i64::from(booking.cancellation_free_hours))
    {
        return Err(ApiError::conflict(
            "reschedule-window-closed",
            "inside the cancellation window a booking can no longer be moved; cancel it (the fee applies) instead",
        ));
    }
    if action == Action::Reschedule {
        let start = body.start.ok_or_else(|| ApiError::bad_request("missing-start", "give the new start"))?;
        let moved = reschedule(&mut conn, &keys, &member, &booking, start.with_timezone(&Utc), actor, now).await?;
        settle_now(&mut conn, &payments, member.territory.territory(), &moved, now).await;
        return Ok(HttpResponse::Created().json(booking_json(&moved, member.territory.territory(), &keys)));
    }
    let fee = (action == Action::Cancel).then(|| {
        cancellation_fee(
            booking.price,
            booking.starts_at,
            booking.cancellation_free_hours,
            booking.cancellation_fee_percent,
            now,
            actor,
        )
        .amount()
    });
    let account = member.auth.account.id;
    let from = booking.state();
    let territory_id = member.territory.territory().id;
    let moved = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                let cancelled_by = (action == Action::Cancel).then_some(actor);
                let moved = store::move_status(conn, id, from, to, None, cancelled_by, fee, now).await?;
                if moved.is_some() {
                    store::record_event(conn, id, Some(from), to, actor, Some(account), now).await?;
                    lifecycle::schedule_settlement(conn, territory_id, id, now).await?;
                }
                Ok(moved)
            }
            .scope_boxed()
        })
        .await?
        .ok_or_else(|| ApiError::conflict("invalid-transition", "the booking changed meanwhile; reload it"))?;
    settle_now(&mut conn, &payments, member.territory.territory(), &moved, now).await;
    let mut body = booking_json(&moved, member.territory.territory(), &keys);
    if let Some(fee) = fee {
        body["cancellation_fee"] = json!(Money::euros(fee));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Moves a booking to a new start with the same pro: the old one becomes
/// RESCHEDULED and the new one is created, linked both ways, atomically.
async fn reschedule(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    member: &TerritoryMember,
    old: &Booking,
    start: DateTime<Utc>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Booking, ApiError> {
    let territory = member.territory.territory();
    let zone = territory.zone();
    let day = start.with_timezone(&zone).date_naive();
    let mut search = prepare_search(conn, territory, &old.service_code, day, day, Some(old.pro_id), None, now).await?;
    // The moved booking keeps its length, whatever the catalog says now.
    search.request.duration_minutes = (old.ends_at - old.starts_at).num_minutes();
    // The booking being moved does not stand in its own way.
    for (_, calendar) in &mut search.calendars {
        calendar.busy.retain(|&(b, _)| b != old.starts_at);
    }
    let (pro_id, buffer) = free_pros(conn, &search, start, now)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::conflict("slot-unavailable", "the pro is not free at that start"))?;
    // Sealed values are bound to their row: the new booking seals its own.
    let id = Uuid::new_v4();
    let (address, notes) = match open_private(keys, territory, old) {
        (Some(address), Some(notes)) => seal_private(keys, territory, id, &address, &notes),
        _ => return Err(ApiError::internal(&"the booking's sealed fields do not open")),
    };
    let new = NewBooking {
        id,
        customer_account_id: old.customer_account_id,
        pro_id,
        service_code: old.service_code.clone(),
        starts_at: start,
        ends_at: start + (old.ends_at - old.starts_at),
        buffer_minutes: i32::try_from(buffer).unwrap_or(0),
        price: old.price,
        vat_rate: old.vat_rate,
        cancellation_free_hours: old.cancellation_free_hours,
        cancellation_fee_percent: old.cancellation_fee_percent,
        postcode: old.postcode.clone(),
        address,
        notes,
        hold_expires_at: now + HOLD,
        rescheduled_from: Some(old.id),
    };
    let (old_id, from) = (old.id, old.state());
    let instant = search.service.instant_booking;
    let account = member.auth.account.id;
    let territory_id = territory.id;
    let result = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                store::move_status(conn, old_id, from, Status::Rescheduled, None, None, None, now)
                    .await?
                    .ok_or(diesel::result::Error::RollbackTransaction)?;
                store::record_event(conn, old_id, Some(from), Status::Rescheduled, actor, Some(account), now).await?;
                let held = lifecycle::hold(conn, &new, territory_id, Some(account), actor, now).await?;
                // The payment follows the booking to its new time.
                let payment_moved =
                    diesel::sql_query("UPDATE payments SET booking_id = $2, updated_at = $3 WHERE booking_id = $1")
                        .bind::<diesel::sql_types::Uuid, _>(old_id)
                        .bind::<diesel::sql_types::Uuid, _>(held.id)
                        .bind::<diesel::sql_types::Timestamptz, _>(now)
                        .execute(conn)
                        .await?;
                if payment_moved > 0 {
                    let payload = json!({ "from_booking": old_id, "to_booking": held.id });
                    crate::audit::append(conn, "payment.moved", actor.as_str(), &payload, now).await?;
                }
                let moved = lifecycle::move_on(conn, &held, instant, territory_id, now)
                    .await?
                    .ok_or(diesel::result::Error::RollbackTransaction)?;
                diesel::sql_query("UPDATE bookings SET rescheduled_to = $2 WHERE id = $1")
                    .bind::<diesel::sql_types::Uuid, _>(old_id)
                    .bind::<diesel::sql_types::Uuid, _>(moved.id)
                    .execute(conn)
                    .await?;
                Ok(moved)
            }
            .scope_boxed()
        })
        .await;
    match result {
        Ok(booking) => Ok(booking),
        Err(error) if store::is_overlap(&error) => {
            Err(ApiError::conflict("slot-taken", "that time was just taken; pick another"))
        }
        Err(diesel::result::Error::RollbackTransaction) => {
            Err(ApiError::conflict("invalid-transition", "the booking changed meanwhile"))
        }
        Err(error) => Err(error.into()),
    }
}

/// The booking operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, preview_cancellation, act))]
pub struct Doc;
