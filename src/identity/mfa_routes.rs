//! `/api/v1/auth/mfa/...`: enrol TOTP, confirm it (receiving backup codes),
//! and pass MFA in a session with a code or a backup code.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::mfa;
use super::routes::{caller_ip, limit};
use super::session::Authenticated;
use super::state::IdentityState;
use super::store;
use super::token::hash_secret;
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::tenancy::TenancyPool;

/// Registers the MFA routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(enrol).service(confirm).service(verify);
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// MFA attempts count per client address and per account.
async fn limit_attempts(
    request: &actix_web::HttpRequest,
    auth: &Authenticated,
    state: &IdentityState,
) -> Result<(), ApiError> {
    limit(state, "mfa:ip", &caller_ip(request), state.limits.sign_in_per_ip).await?;
    limit(state, "mfa:account", &auth.account.id.to_string(), state.limits.mfa_per_account).await
}

fn wrong_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid-mfa-code",
        "Unauthenticated",
        "the code is wrong, expired or already used",
    )
}

/// A new TOTP secret, to put in an authenticator app.
#[derive(Serialize, ToSchema)]
pub struct Enrolment {
    /// Base32.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    secret: String,
    /// The same secret as an `otpauth://totp/...` URL (for a QR code).
    otpauth_url: String,
}

/// Starts enrolment: a new secret and its otpauth:// URL.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, body = Enrolment),
    (status = 409, description = "mfa-already-enabled", body = Problem),
))]
#[post("/auth/mfa/enrol")]
async fn enrol(
    auth: Authenticated,
    pool: web::Data<TenancyPool>,
    state: web::Data<crate::identity::IdentityState>,
) -> Result<HttpResponse, ApiError> {
    if auth.account.has_mfa() {
        return Err(ApiError::new(StatusCode::CONFLICT, "mfa-already-enabled", "Conflict", "MFA is already on"));
    }
    let secret = mfa::new_secret();
    let url = mfa::provisioning_url(&secret, &auth.account.email)
        .ok_or_else(|| ApiError::internal(&"could not build the provisioning URL"))?;
    let mut conn = pool.hq().await?;
    store::set_pending_totp(&mut conn, &state.keys, auth.account.id, &secret).await?;
    Ok(HttpResponse::Ok().json(Enrolment { secret, otpauth_url: url }))
}

/// A code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
struct Code {
    code: String,
}

/// Confirms enrolment with a first code; MFA is on from now, this session has
/// passed it, and the answer holds ten backup codes, shown this once.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, body = MfaEnabled),
    (status = 401, description = "invalid-mfa-code", body = Problem),
    (status = 409, description = "no-pending-enrolment", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem),
))]
#[post("/auth/mfa/confirm")]
async fn confirm(
    request: actix_web::HttpRequest,
    auth: Authenticated,
    body: web::Json<Code>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    limit_attempts(&request, &auth, &state).await?;
    let secret = match (&auth.account.totp_secret, auth.account.has_mfa()) {
        (Some(secret), false) => secret,
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "no-pending-enrolment",
                "Conflict",
                "start with /auth/mfa/enrol",
            ));
        }
    };
    let step = mfa::matching_step(secret, &body.code, now()).ok_or_else(wrong_code)?;
    let mut conn = pool.hq().await?;
    if !store::accept_totp_step(&mut conn, auth.account.id, step).await? {
        return Err(wrong_code());
    }
    let codes = mfa::new_backup_codes();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|code| hash_secret(code)).collect();
    store::enable_totp(&mut conn, auth.account.id, &hashes).await?;
    store::mark_session_mfa_verified(&mut conn, auth.session.id).await?;
    tracing::info!(account.id = %auth.account.id, "MFA enabled");
    Ok(HttpResponse::Ok().json(MfaEnabled { enabled: true, backup_codes: codes }))
}

/// MFA is on: the backup codes, shown this once.
#[derive(Serialize, ToSchema)]
pub struct MfaEnabled {
    enabled: bool,
    /// Ten single-use codes for when the authenticator is lost.
    backup_codes: Vec<String>,
}

/// Either a TOTP code or a backup code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
struct Verification {
    code: Option<String>,
    backup_code: Option<String>,
}

/// Passes MFA for this session with a TOTP code (each usable once) or a
/// backup code (each usable once).
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "This session has passed MFA"),
    (status = 401, description = "invalid-mfa-code", body = Problem),
    (status = 409, description = "mfa-not-enabled", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem),
))]
#[post("/auth/mfa/verify")]
async fn verify(
    request: actix_web::HttpRequest,
    auth: Authenticated,
    body: web::Json<Verification>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    limit_attempts(&request, &auth, &state).await?;
    let secret = match (&auth.account.totp_secret, auth.account.has_mfa()) {
        (Some(secret), true) => secret,
        _ => {
            return Err(ApiError::new(StatusCode::CONFLICT, "mfa-not-enabled", "Conflict", "enrol in MFA first"));
        }
    };
    let factor = SecondFactor::given(body.code.as_deref(), body.backup_code.as_deref())?
        .ok_or_else(|| ApiError::bad_request("malformed-body", "give either code or backup_code"))?;
    let mut conn = pool.hq().await?;
    if !passes(&mut conn, auth.account.id, secret, &factor).await? {
        return Err(wrong_code());
    }
    store::mark_session_mfa_verified(&mut conn, auth.session.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A second factor as given: a TOTP code or a backup code.
pub enum SecondFactor<'a> {
    Code(&'a str),
    BackupCode(&'a str),
}

impl<'a> SecondFactor<'a> {
    /// The factor given, none when neither is, 400 when both are.
    pub fn given(code: Option<&'a str>, backup_code: Option<&'a str>) -> Result<Option<Self>, ApiError> {
        match (code, backup_code) {
            (Some(code), None) => Ok(Some(Self::Code(code))),
            (None, Some(backup)) => Ok(Some(Self::BackupCode(backup))),
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(ApiError::bad_request("malformed-body", "give either code or backup_code")),
        }
    }
}

/// Whether `factor` passes for the account with TOTP `secret`; each code and
/// each backup code passes once.
pub async fn passes(
    conn: &mut diesel_async::AsyncPgConnection,
    account_id: uuid::Uuid,
    secret: &str,
    factor: &SecondFactor<'_>,
) -> diesel::QueryResult<bool> {
    match factor {
        SecondFactor::Code(code) => match mfa::matching_step(secret, code, now()) {
            Some(step) => store::accept_totp_step(conn, account_id, step).await,
            None => Ok(false),
        },
        SecondFactor::BackupCode(backup) => store::use_backup_code(conn, account_id, &hash_secret(backup.trim())).await,
    }
}

/// The MFA operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(enrol, confirm, verify))]
pub struct Doc;
