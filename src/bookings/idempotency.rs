//! `Idempotency-Key` for POSTs that create bookings or move money: the same
//! key with the same body returns the first answer; with another body, 409;
//! while the first may still be running, a retryable 409.
//!
//! A claim is a lease: a request that died half-way (a dropped connection, a
//! crash, a database that went away before the key could be released) leaves
//! its key running, and once the lease has passed a retry takes it over. What
//! the dead request committed is not lost: the booking it created is recorded
//! against the key in the transaction that created it, and the retry resumes
//! that booking instead of making another.

use actix_web::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::http::ApiError;
use crate::privacy::keys::{Keyring, Place};

/// Where a stored answer is bound: it may hold personal data (an address),
/// so it is sealed for its account and key in the territory.
fn place<'a>(scope: &'a str, row: &'a str) -> Place<'a> {
    Place { scope, table: "idempotency_keys", column: "response_body", row }
}

/// How long a claimed key is taken to belong to a request that may still be
/// running; after that a retry takes it over.
pub const LEASE: Duration = Duration::minutes(1);

/// What a key says about a request.
pub enum Claim {
    /// First time (or a retry of a request that committed nothing): go
    /// ahead, then [`answer`].
    New,
    /// A retry of a request that died after creating this booking: finish
    /// that booking, then [`answer`].
    Resume(Uuid),
    /// Seen and answered: this was the answer.
    Replay { status: u16, body: serde_json::Value },
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    request_hash: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Integer>)]
    response_status: Option<i32>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    response_body: Option<serde_json::Value>,
}

#[derive(diesel::QueryableByName)]
struct TakenOver {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    booking_id: Option<Uuid>,
}

/// The SHA-256 of a request body as received.
pub fn request_hash(body: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// Claims `key` for `account` at `now` (committed at once, so a concurrent
/// duplicate sees it), takes over a claim whose lease has passed, or tells
/// what the key already holds.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    scope: &str,
    account: Uuid,
    key: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim, ApiError> {
    if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid-idempotency-key",
            "Idempotency-Key is 1 to 200 visible ASCII characters",
        ));
    }
    let inserted = diesel::sql_query(
        "INSERT INTO idempotency_keys (account_id, key, request_hash, state, created_at)
         VALUES ($1, $2, $3, 'running', $4) ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(account)
    .bind::<Text, _>(key)
    .bind::<Text, _>(hash)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let taken_over: Option<TakenOver> = diesel::sql_query(
        "UPDATE idempotency_keys SET created_at = $4
          WHERE account_id = $1 AND key = $2 AND request_hash = $3 AND state = 'running' AND created_at <= $5
          RETURNING booking_id",
    )
    .bind::<SqlUuid, _>(account)
    .bind::<Text, _>(key)
    .bind::<Text, _>(hash)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - LEASE)
    .get_result(conn)
    .await
    .optional()?;
    if let Some(TakenOver { booking_id }) = taken_over {
        return Ok(booking_id.map_or(Claim::New, Claim::Resume));
    }
    let stored: Stored = diesel::sql_query(
        "SELECT request_hash, state, response_status, response_body FROM idempotency_keys WHERE account_id = $1 AND key = $2",
    )
    .bind::<SqlUuid, _>(account)
    .bind::<Text, _>(key)
    .get_result(conn)
    .await?;
    if stored.request_hash != hash {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency-key-reused",
            "Conflict",
            "this Idempotency-Key was used with a different request",
        ));
    }
    match (stored.state.as_str(), stored.response_status, stored.response_body) {
        ("done", Some(status), Some(sealed)) => {
            let row = format!("{account}/{key}");
            let body = match sealed.as_str() {
                Some(sealed) => keys
                    .open(sealed, &place(scope, &row))
                    .ok()
                    .and_then(|plain| serde_json::from_str(&plain).ok())
                    .ok_or_else(|| ApiError::internal(&"a stored answer does not decrypt"))?,
                None => sealed,
            };
            Ok(Claim::Replay { status: u16::try_from(status).unwrap_or(500), body })
        }
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-flight",
            "Conflict",
            "a request with this Idempotency-Key is still running; retry shortly",
        )
        .retry_after(1)),
    }
}

/// The request's `Idempotency-Key`, which these POSTs require.
pub fn key_of(request: &actix_web::HttpRequest) -> Result<String, ApiError> {
    request
        .headers()
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("missing-idempotency-key", "send an Idempotency-Key header"))
}

/// Answers a claimed key's request with `outcome` (201 and its body when it
/// succeeded) and keeps the answer for replays. A client error is an answer
/// too; a server error is not: the key is released for a retry.
pub async fn answer(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    scope: &str,
    account: Uuid,
    key: &str,
    outcome: Result<serde_json::Value, ApiError>,
) -> Result<actix_web::HttpResponse, ApiError> {
    use actix_web::ResponseError;
    match outcome {
        Ok(body) => {
            remember(conn, keys, scope, account, key, StatusCode::CREATED.as_u16(), &body).await?;
            Ok(actix_web::HttpResponse::Created().json(body))
        }
        Err(error) if error.status_code().is_client_error() => {
            remember(conn, keys, scope, account, key, error.status_code().as_u16(), &error.body()).await?;
            Err(error)
        }
        Err(error) => {
            // The key's lease runs out by itself if this fails too (the
            // database may be what failed).
            if let Err(release_error) = release(conn, account, key).await {
                tracing::warn!(error = %release_error, "an Idempotency-Key could not be released; its lease will run out");
            }
            Err(error)
        }
    }
}

/// The first answer again, as it was sent: an error as problem+json.
pub fn replay(status: u16, body: serde_json::Value) -> actix_web::HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    actix_web::HttpResponse::build(status).content_type(content_type).json(body)
}

/// Stores the answer to a key, sealed.
pub async fn remember(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    scope: &str,
    account: Uuid,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<(), ApiError> {
    let row = format!("{account}/{key}");
    let body = serde_json::Value::String(keys.seal(&body.to_string(), &place(scope, &row)));
    diesel::sql_query(
        "UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4 WHERE account_id = $1 AND key = $2",
    )
    .bind::<SqlUuid, _>(account)
    .bind::<Text, _>(key)
    .bind::<Integer, _>(i32::from(status))
    .bind::<Jsonb, _>(&body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records, in the transaction that creates it, the booking a key's request
/// created: a retry of a request that dies after this resumes that booking.
pub async fn link(conn: &mut AsyncPgConnection, account: Uuid, key: &str, booking: Uuid) -> diesel::QueryResult<()> {
    diesel::sql_query("UPDATE idempotency_keys SET booking_id = $3 WHERE account_id = $1 AND key = $2")
        .bind::<SqlUuid, _>(account)
        .bind::<Text, _>(key)
        .bind::<SqlUuid, _>(booking)
        .execute(conn)
        .await?;
    Ok(())
}

/// Releases a key whose request failed unexpectedly, so a retry can run at
/// once: a key that committed nothing is forgotten; one that created a
/// booking keeps it and ends its lease, so the retry resumes that booking.
pub async fn release(conn: &mut AsyncPgConnection, account: Uuid, key: &str) -> Result<(), ApiError> {
    diesel::sql_query(
        "DELETE FROM idempotency_keys
          WHERE account_id = $1 AND key = $2 AND state = 'running' AND booking_id IS NULL",
    )
    .bind::<SqlUuid, _>(account)
    .bind::<Text, _>(key)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "UPDATE idempotency_keys SET created_at = created_at - interval '1 day'
          WHERE account_id = $1 AND key = $2 AND state = 'running' AND booking_id IS NOT NULL",
    )
    .bind::<SqlUuid, _>(account)
    .bind::<Text, _>(key)
    .execute(conn)
    .await?;
    Ok(())
}
