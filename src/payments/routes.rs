//! `/api/v1/payments/webhooks/{provider}`, `/api/v1/bookings/{id}/payment`
//! and `/api/v1/bookings/{id}/refunds` on a territory host.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::flow::{self, PaymentError, Payments};
use super::store;
use super::webhook::{SIGNATURE_HEADER, SignatureError, verify};
use crate::bookings::idempotency::{self, Claim};
use crate::bookings::lifecycle;
use crate::bookings::model::{Actor, Status};
use crate::bookings::opening::{instant_booking, settle_now};
use crate::bookings::routes::visible;
use crate::bookings::store as bookings;
use crate::clock::SharedClock;
use crate::http::ApiError;
use crate::identity::{TerritoryFranchisee, TerritoryMember};
use crate::ledger::split::to_cents;
use crate::money::Money;
use crate::privacy::keys::Keyring;
use crate::tenancy::CurrentTerritory;

/// Registers the payment routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(webhook).service(show).service(refund);
}

/// A provider's event, as the simulated provider sends it.
#[derive(Debug, Deserialize)]
struct WebhookEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: WebhookData,
}

#[derive(Debug, Deserialize)]
struct WebhookData {
    reference: String,
}

/// Receives a provider's signed event. A bad signature is 401, a stale one
/// (or one dated more than a minute ahead) 400; an event delivered again answers 200 and changes nothing.
#[utoipa::path(tag = "payments",
    params(
        ("provider" = String, Path, description = "The payment provider's name"),
        ("careservice-signature" = String, Header, description = "The provider's signature of the body"),
    ),
    request_body(content = Object, description = "The provider's event: `id`, `type`, `data.reference`"),
    responses(
        (status = 200, description = "`received`, and `duplicate` for an event delivered before", body = Object),
        (status = 400, description = "stale-webhook or malformed-body", body = crate::http::problem::Problem),
        (status = 401, description = "invalid-signature", body = crate::http::problem::Problem),
        (status = 404, description = "unknown-provider or unknown-payment", body = crate::http::problem::Problem),
    ),
)]
#[post("/payments/webhooks/{provider}")]
#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn webhook(
    request: HttpRequest,
    territory: CurrentTerritory,
    provider: web::Path<String>,
    body: web::Bytes,
    payments: web::Data<Payments>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    if provider.as_str() != payments.provider().name() {
        return Err(ApiError::not_found("unknown-provider", "there is no such payment provider"));
    }
    let now = clock.now();
    let header = request.headers().get(SIGNATURE_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("");
    verify(payments.webhook_secret(), header, &body, now.timestamp()).map_err(|error| match error {
        SignatureError::Stale(_) | SignatureError::FromTheFuture(_) => {
            ApiError::bad_request("stale-webhook", error.to_string())
        }
        _ => ApiError::new(StatusCode::UNAUTHORIZED, "invalid-signature", "Unauthorized", error.to_string()),
    })?;
    let event: WebhookEvent = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("malformed-body", format!("the event is not valid: {e}")))?;
    if !(1..=200).contains(&event.id.len()) {
        return Err(ApiError::bad_request("malformed-body", "an event id has 1 to 200 characters"));
    }
    let mut conn = territory.connection().await?;
    let payment = store::by_reference(&mut conn, &event.data.reference)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-payment", "no payment here has that reference"))?;
    let instant = {
        let booking =
            bookings::find(&mut conn, payment.booking_id).await?.ok_or_else(|| ApiError::internal(&"lost"))?;
        instant_booking(&mut conn, &booking.service_code).await?
    };
    let place = territory.territory();
    let (territory_id, payment_id, booking_id) = (place.id, payment.id, payment.booking_id);
    let kind = event.kind.clone();
    let applied = conn
        .transaction::<_, PaymentError, _>(|conn| {
            async move {
                let fresh = diesel::sql_query(
                    "INSERT INTO payment_webhooks (event_id, kind, received_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind::<Text, _>(&event.id)
                .bind::<Text, _>(&kind)
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
                if fresh == 0 {
                    return Ok(false);
                }
                let (to, next) = match kind.as_str() {
                    "payment.authorized" => ("authorized", None),
                    "payment.failed" => ("failed", Some(Status::Expired)),
                    // Captures, voids and refunds we asked for ourselves:
                    // already recorded when the provider answered.
                    _ => return Ok(true),
                };
                if store::move_status(conn, payment_id, "pending", to, now).await?.is_none() {
                    return Ok(true);
                }
                let payload = json!({ "payment": payment_id, "booking": booking_id, "event": event.id });
                crate::audit::append(conn, &format!("payment.webhook.{to}"), "provider", &payload, now).await?;
                let Some(held) = bookings::find(conn, booking_id).await? else { return Ok(true) };
                match next {
                    None => {
                        lifecycle::move_on(conn, &held, instant, territory_id, now).await?;
                    }
                    Some(expired) => {
                        if bookings::move_status(conn, booking_id, Status::Held, expired, None, None, None, now)
                            .await?
                            .is_some()
                        {
                            bookings::record_event(
                                conn,
                                booking_id,
                                Some(Status::Held),
                                expired,
                                Actor::System,
                                None,
                                now,
                            )
                            .await?;
                        }
                    }
                }
                Ok(true)
            }
            .scope_boxed()
        })
        .await?;
    if applied && let Some(booking) = bookings::find(&mut conn, booking_id).await? {
        settle_now(&mut conn, &payments, place, &booking, now).await;
    }
    Ok(HttpResponse::Ok().json(json!({ "received": true, "duplicate": !applied })))
}

/// The booking's payment: status, amount and refunds; the franchisee and the
/// pro also see how it split.
#[utoipa::path(tag = "payments", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The booking's id")), responses(
    (status = 200, description = "Status, `amount`, `refunded` and `refunds` as money; `split` (in cents) for the franchisee and the pro", body = Object),
    (status = 404, description = "unknown-booking or no-payment", body = crate::http::problem::Problem),
))]
#[get("/bookings/{id}/payment")]
async fn show(member: TerritoryMember, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    let (booking, actor) = visible(&mut conn, &member, *path).await?;
    let payment = store::for_booking(&mut conn, booking.id)
        .await?
        .ok_or_else(|| ApiError::not_found("no-payment", "this booking has no payment"))?;
    let refunds = store::refunds(&mut conn, payment.id).await?;
    let mut body = json!({
        "id": payment.id,
        "booking_id": booking.id,
        "provider": payment.provider,
        "status": payment.status,
        "amount": Money::euros(payment.amount),
        "refunded": Money::euros(payment.refunded),
        "refunds": refunds.iter().map(|r| json!({
            "id": r.id, "amount": Money::euros(r.amount), "reason": r.reason, "created_at": r.created_at,
        })).collect::<Vec<Value>>(),
    });
    if matches!(actor, Actor::Franchisee | Actor::Pro)
        && let Some(parts) = payment.captured_parts()
    {
        body["split"] = serde_json::to_value(parts).unwrap_or(Value::Null);
        body["split_unit"] = json!("cents");
    }
    Ok(HttpResponse::Ok().json(body))
}

/// A goodwill refund.
#[derive(Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "10.00"}))]
struct RefundBody {
    /// Euros, as a string: "10.00".
    amount: String,
}

/// A goodwill refund of part of a captured payment, by the franchisee. Needs
/// an `Idempotency-Key`; the refund splits cumulatively over VAT, the fees and
/// the pro's share.
#[utoipa::path(tag = "payments", security(("bearer" = []), ("session_cookie" = [])),
    params(
        ("id" = Uuid, Path, description = "The booking's id"),
        ("Idempotency-Key" = String, Header, description = "A unique key per refund; a retry replays the first answer"),
    ),
    request_body = RefundBody,
    responses(
        (status = 201, description = "`payment`, `refunded_now`, `refunded` and `amount` as money", body = Object),
        (status = 400, description = "missing-idempotency-key or malformed-body", body = crate::http::problem::Problem),
        (status = 404, description = "unknown-booking", body = crate::http::problem::Problem),
        (status = 409, description = "payment-not-captured, or more than was captured", body = crate::http::problem::Problem),
        (status = 422, description = "invalid-amount", body = crate::http::problem::Problem),
    ),
)]
#[post("/bookings/{id}/refunds")]
#[tracing::instrument(skip_all)]
async fn refund(
    request: HttpRequest,
    franchisee: TerritoryFranchisee,
    path: web::Path<Uuid>,
    body: web::Json<Value>,
    payments: web::Data<Payments>,
    clock: web::Data<SharedClock>,
    keys: web::Data<Keyring>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&request)?;
    let raw = body.into_inner();
    let input: RefundBody = serde_json::from_value(raw.clone())
        .map_err(|e| ApiError::bad_request("malformed-body", format!("the JSON body is invalid: {e}")))?;
    let amount: Decimal = input
        .amount
        .parse()
        .ok()
        .filter(|amount: &Decimal| {
            amount.scale() <= 2 && *amount > Decimal::ZERO && *amount < Decimal::from(10_000_000)
        })
        .ok_or_else(|| ApiError::unprocessable("invalid-amount", "a positive amount in euros, at most two decimals"))?;
    let booking_id = *path;
    let account = franchisee.auth.account.id;
    let territory = franchisee.territory.territory();
    let mut conn = franchisee.territory.connection().await?;
    let booking = bookings::find(&mut conn, booking_id)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-booking", "there is no such booking for you here"))?;
    let hash = idempotency::request_hash(&json!({ "refund": booking_id, "body": raw }));
    let scope = territory.sealing_scope();
    // A refund's key never holds a booking to resume: its provider call and
    // its record are keyed by the Idempotency-Key, so a retry repeats neither.
    match idempotency::claim(&mut conn, &keys, &scope, account, &key, &hash, clock.now()).await? {
        Claim::Replay { status, body } => return Ok(idempotency::replay(status, body)),
        Claim::New | Claim::Resume(_) => {}
    }
    let outcome: Result<Value, ApiError> = async {
        let payment = store::for_booking(&mut conn, booking.id)
            .await?
            .ok_or_else(|| ApiError::conflict("payment-not-captured", "this booking has no payment to refund"))?;
        let external_id = format!("refund:{}:goodwill:{account}:{key}", payment.id);
        let now = clock.now();
        flow::refund(
            &mut conn,
            &payments,
            territory,
            &payment,
            to_cents(amount),
            "goodwill",
            &external_id,
            Some(account),
            now,
        )
        .await?;
        let after = store::for_booking(&mut conn, booking.id).await?.ok_or_else(|| ApiError::internal(&"lost"))?;
        Ok(json!({
            "payment": after.id,
            "refunded_now": Money::euros(amount),
            "refunded": Money::euros(after.refunded),
            "amount": Money::euros(after.amount),
        }))
    }
    .await;
    idempotency::answer(&mut conn, &keys, &scope, account, &key, outcome).await
}

/// The payment operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(webhook, show, refund))]
pub struct Doc;
