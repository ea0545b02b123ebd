//! `/api/v1/privacy/...`: an account's export, erasure and consents (any
//! served host), and for a territory's franchisee its customers' consents
//! and the territory's own data.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::consent::{self, Consent, Purpose};
use super::export::{self, Download};
use super::keys::Keyring;
use crate::clock::SharedClock;
use crate::http::ApiError;
use crate::identity::password::Verified;
use crate::identity::routes::limit;
use crate::identity::state::IdentityState;
use crate::identity::{Authenticated, TerritoryFranchisee};
use crate::tenancy::TenancyPool;
use crate::tenancy::resolver::HostTarget;

/// Registers the privacy routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(request_export)
        .service(download_export)
        .service(request_erasure)
        .service(give_consent)
        .service(my_consents)
        .service(territory_consents)
        .service(territory_export);
}

/// The password again: exports and erasure are asked for by the person, not
/// by whoever holds a session.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "the account's current password"}))]
struct Reauthentication {
    password: String,
}

async fn reauthenticate(identity: &IdentityState, auth: &Authenticated, password: &str) -> Result<(), ApiError> {
    let account = auth.account.id.to_string();
    limit(identity, "reauthenticate", &account, identity.limits.sign_in_per_account).await?;
    match identity.hasher.verify(password, &auth.account.password_hash).await {
        Ok(Verified::Yes | Verified::YesRehashed(_)) => Ok(()),
        Ok(Verified::No) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reauthentication-failed",
            "Forbidden",
            "the password is not right",
        )),
        Err(error) => Err(ApiError::internal(&error)),
    }
}

/// A requested export.
#[derive(Serialize, utoipa::ToSchema)]
struct ExportTicket {
    id: Uuid,
    status: &'static str,
    /// Works once the export is ready, until `expires_at`; keep it secret.
    download_url: String,
    expires_at: DateTime<Utc>,
}

/// Asks for an export of everything held about the signed-in account. A job
/// assembles it; the link in the answer downloads it once ready.
#[utoipa::path(tag = "privacy", security(("bearer" = []), ("session_cookie" = [])), request_body = Reauthentication,
    responses(
        (status = 202, description = "The export is being assembled", body = ExportTicket),
        (status = 403, description = "reauthentication-failed", body = crate::http::problem::Problem),
        (status = 429, description = "Too many password attempts", body = crate::http::problem::Problem),
    ))]
#[post("/privacy/exports")]
#[tracing::instrument(skip_all)]
async fn request_export(
    auth: Authenticated,
    body: web::Json<Reauthentication>,
    identity: web::Data<IdentityState>,
    pool: web::Data<TenancyPool>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    reauthenticate(&identity, &auth, &body.password).await?;
    let token = crate::identity::token::SecretToken::generate();
    let mut conn = pool.hq().await?;
    let (id, expires_at) = export::request(&mut conn, auth.account.id, &token.secret, clock.now()).await?;
    let download_url = format!("/api/v1/privacy/exports/{id}?token={}", token.secret);
    Ok(HttpResponse::Accepted().json(ExportTicket { id, status: "pending", download_url, expires_at }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct TokenQuery {
    /// The token from the link.
    token: String,
}

/// Downloads an export through its link: 409 while it is being assembled,
/// 410 once the link has expired.
#[utoipa::path(tag = "privacy", params(("id" = Uuid, Path, description = "The export's id"), TokenQuery), responses(
    (status = 200, description = "The bundle: `format`, `version`, `generated_at`, `account_id`, `hq` and `territories`, each table by name", body = Object),
    (status = 404, description = "unknown-export", body = crate::http::problem::Problem),
    (status = 409, description = "export-not-ready", body = crate::http::problem::Problem),
    (status = 410, description = "export-expired", body = crate::http::problem::Problem),
))]
#[get("/privacy/exports/{id}")]
async fn download_export(
    id: web::Path<Uuid>,
    query: web::Query<TokenQuery>,
    pool: web::Data<TenancyPool>,
    keys: web::Data<Keyring>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    match export::download(&mut conn, &keys, *id, &query.token, clock.now())
        .await
        .map_err(|e| ApiError::internal(&e))?
    {
        Download::Ready(bundle) => Ok(HttpResponse::Ok()
            .insert_header(("content-disposition", format!("attachment; filename=\"careservice-export-{}.json\"", *id)))
            .json(bundle)),
        Download::Pending => {
            Err(ApiError::conflict("export-not-ready", "the export is still being assembled; try again shortly")
                .retry_after(5))
        }
        Download::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "export-expired",
            "Gone",
            "this link has expired; ask for a new export",
        )),
        Download::Unknown => Err(ApiError::not_found("unknown-export", "there is no export behind this link")),
    }
}

/// Erases the signed-in account: its sessions end now, and a job removes
/// its personal data in hq and every territory, keeping the fiscal records
/// under a pseudonym.
#[utoipa::path(tag = "privacy", security(("bearer" = []), ("session_cookie" = [])), request_body = Reauthentication,
    responses(
        (status = 202, description = "Sessions revoked; the erasure runs shortly", body = Object),
        (status = 403, description = "reauthentication-failed", body = crate::http::problem::Problem),
        (status = 429, description = "Too many password attempts", body = crate::http::problem::Problem),
    ))]
#[post("/privacy/erasure")]
#[tracing::instrument(skip_all)]
async fn request_erasure(
    auth: Authenticated,
    body: web::Json<Reauthentication>,
    identity: web::Data<IdentityState>,
    pool: web::Data<TenancyPool>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    reauthenticate(&identity, &auth, &body.password).await?;
    let mut conn = pool.hq().await?;
    super::erasure::request(&mut conn, auth.account.id, clock.now()).await?;
    tracing::info!(account.pseudonym = %auth.account.id, "erasure requested");
    Ok(HttpResponse::Accepted().json(json!({ "status": "scheduled", "pseudonym": auth.account.id })))
}

/// Consent given or withdrawn.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"purpose": "marketing", "text_version": "2026-11", "given": true}))]
struct ConsentChange {
    purpose: Purpose,
    /// The version of the text the person was shown.
    text_version: String,
    given: bool,
}

/// Records consent given or withdrawn; on a territory host it is that
/// territory's, on the HQ host HQ's.
#[utoipa::path(tag = "privacy", security(("bearer" = []), ("session_cookie" = [])), request_body = ConsentChange,
    responses(
        (status = 201, description = "The record", body = Consent),
        (status = 422, description = "invalid-text-version", body = crate::http::problem::Problem),
    ))]
#[post("/privacy/consents")]
async fn give_consent(
    request: HttpRequest,
    auth: Authenticated,
    body: web::Json<ConsentChange>,
    pool: web::Data<TenancyPool>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let version = body.text_version.trim();
    if !(1..=40).contains(&version.chars().count()) || version.chars().any(char::is_control) {
        return Err(ApiError::unprocessable("invalid-text-version", "a text version has 1 to 40 characters"));
    }
    let territory_id = match request.extensions().get::<HostTarget>() {
        Some(HostTarget::Territory(territory)) => Some(territory.id),
        _ => None,
    };
    let mut conn = pool.hq().await?;
    let record =
        consent::record(&mut conn, auth.account.id, territory_id, body.purpose, version, body.given, clock.now())
            .await?;
    Ok(HttpResponse::Created().json(record))
}

/// The signed-in account's consents.
#[derive(Serialize, utoipa::ToSchema)]
struct MyConsents {
    /// The latest record per purpose and territory.
    current: Vec<Consent>,
    /// Every record, oldest first.
    history: Vec<Consent>,
}

/// The signed-in account's consents: the current state and the history.
#[utoipa::path(tag = "privacy", security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "Current state and history", body = MyConsents)))]
#[get("/privacy/consents")]
async fn my_consents(auth: Authenticated, pool: web::Data<TenancyPool>) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let current = consent::current(&mut conn, auth.account.id).await?;
    let history = consent::history(&mut conn, auth.account.id).await?;
    Ok(HttpResponse::Ok().json(MyConsents { current, history }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct PurposeQuery {
    purpose: Purpose,
}

/// The current consent for a purpose of everyone who recorded one in the
/// territory (by account id, the pseudonym the franchisee knows them by).
#[utoipa::path(tag = "privacy", security(("bearer" = []), ("session_cookie" = [])), params(PurposeQuery),
    responses((status = 200, description = "`purpose` and `consents`", body = Object)))]
#[get("/territory/consents")]
async fn territory_consents(
    franchisee: TerritoryFranchisee,
    query: web::Query<PurposeQuery>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let consents = consent::in_territory(&mut conn, franchisee.territory.territory().id, query.purpose).await?;
    Ok(HttpResponse::Ok().json(json!({ "purpose": query.purpose, "consents": consents })))
}

/// The territory's own data, for its franchisee: bookings (with their
/// addresses), pros, payments and refunds, from its schema alone.
#[utoipa::path(tag = "privacy", security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "`territory` and its tables by name", body = Object)))]
#[get("/territory/export")]
async fn territory_export(franchisee: TerritoryFranchisee, keys: web::Data<Keyring>) -> Result<HttpResponse, ApiError> {
    let territory = franchisee.territory.territory();
    let mut conn = franchisee.territory.connection().await?;
    let bundle = super::territory_export::build(&mut conn, &keys, territory).await?;
    Ok(HttpResponse::Ok().json(bundle))
}

/// The privacy operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        request_export,
        download_export,
        request_erasure,
        give_consent,
        my_consents,
        territory_consents,
        territory_export
    ),
    components(schemas(Purpose))
)]
pub struct Doc;
