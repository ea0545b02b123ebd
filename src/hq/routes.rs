//! `/api/v1/hq/territories...`: onboard, list, show and change territories,
//! and invite their franchisees.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::NaiveDate;
use diesel_async::AsyncConnection;
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::email::Email;
use crate::identity::invitations::{InvitationView, invite};
use crate::identity::{HqAdmin, Role};
use crate::privacy::keys::Keyring;
use crate::tenancy::model::{ContractRates, TerritoryReport};
use crate::tenancy::provision::{ProvisionError, provision};
use crate::tenancy::request::OnboardingRequest;
use crate::tenancy::templates::Steps;
use crate::tenancy::{TenancyPool, Territory, TerritoryStatus, store};

/// The base domain, for validating custom domains.
#[derive(Debug, Clone)]
pub struct BaseDomain(pub String);

/// Registers the HQ routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(onboard)
        .service(list)
        .service(show)
        .service(change)
        .service(invite_franchisee)
        .service(set_account_status);
}

async fn find(pool: &TenancyPool, slug: &str) -> Result<Territory, ApiError> {
    let mut conn = pool.hq().await?;
    store::find_by_slug(&mut conn, slug)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-territory", format!("there is no territory {slug:?}")))
}

/// Onboards a territory, as `careservice territory create` does.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, body = TerritoryReport),
    (status = 409, description = "territory-exists: the slug or a domain is taken", body = Problem),
    (status = 422, description = "invalid-territory", body = Problem),
))]
#[post("/hq/territories")]
#[tracing::instrument(skip_all)]
async fn onboard(
    admin: HqAdmin,
    body: web::Json<OnboardingRequest>,
    pool: web::Data<TenancyPool>,
    base: web::Data<BaseDomain>,
) -> Result<HttpResponse, ApiError> {
    let new = body.validate(&base.0).map_err(|e| ApiError::unprocessable("invalid-territory", e))?;
    let steps = Steps::embedded().map_err(|e| ApiError::internal(&e))?;
    let territory = match provision(&pool, &steps, &new, None).await {
        Ok(territory) => territory,
        Err(error @ (ProvisionError::SlugTaken(_) | ProvisionError::DomainTaken(_))) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "territory-exists", "Conflict", error.to_string()));
        }
        Err(ProvisionError::Connection(failure)) => return Err(failure.into()),
        // A lost connection is a 503 like anywhere else; other database errors stay 500s.
        Err(ProvisionError::Database(error)) => return Err(error.into()),
        Err(error) => return Err(ApiError::internal(&error)),
    };
    tracing::info!(account.id = %admin.0.account.id, territory = %territory.slug, "territory onboarded through the HQ API");
    let mut conn = pool.hq().await?;
    Ok(HttpResponse::Created().json(store::report(&mut conn, territory).await?))
}

/// A page of a list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The last slug of the previous page.
    after: Option<String>,
    /// 1 to 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of territories.
#[derive(Serialize, ToSchema)]
pub struct TerritoryPage {
    items: Vec<Territory>,
    /// Pass as `after` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// Territories by slug, a page at a time (`after` is the last slug seen).
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(PageQuery), responses((status = 200, body = TerritoryPage)))]
#[get("/hq/territories")]
async fn list(
    _admin: HqAdmin,
    query: web::Query<PageQuery>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("malformed-query", "limit is between 1 and 200"));
    }
    let mut conn = pool.hq().await?;
    let items = store::page(&mut conn, query.after.as_deref(), limit).await?;
    let next =
        (items.len() == usize::try_from(limit).unwrap_or(0)).then(|| items.last().map(|t| t.slug.clone())).flatten();
    Ok(HttpResponse::Ok().json(TerritoryPage { items, next_cursor: next }))
}

/// One territory with its contracts and domains.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("slug" = String, Path, example = "utrecht")), responses(
    (status = 200, body = TerritoryReport),
    (status = 404, description = "unknown-territory", body = Problem),
))]
#[get("/hq/territories/{slug}")]
async fn show(
    _admin: HqAdmin,
    path: web::Path<String>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let territory = find(&pool, &path).await?;
    let mut conn = pool.hq().await?;
    Ok(HttpResponse::Ok().json(store::report(&mut conn, territory).await?))
}

/// A new franchise contract from a date.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ContractChange {
    /// The franchisee's share, a fraction (0.14 is 14%).
    #[schema(example = "0.14")]
    franchise_rate: Decimal,
    /// HQ's share, a fraction.
    #[schema(example = "0.06")]
    hq_rate: Decimal,
    /// Today or later.
    #[serde(deserialize_with = "crate::http::dates::date")]
    effective_from: NaiveDate,
}

/// The status to move a territory to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum StatusChange {
    Active,
    Suspended,
}

/// A status change, a new contract, or both (atomically).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "suspended"}))]
struct Change {
    status: Option<StatusChange>,
    contract: Option<ContractChange>,
}

/// Suspends or resumes a territory, and/or adds a contract from a date.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("slug" = String, Path, example = "utrecht")), responses(
    (status = 200, body = TerritoryReport),
    (status = 404, description = "unknown-territory", body = Problem),
    (status = 409, description = "invalid-status-change or contract-exists", body = Problem),
    (status = 422, description = "invalid-rates or contract-in-the-past", body = Problem),
))]
#[patch("/hq/territories/{slug}")]
async fn change(
    admin: HqAdmin,
    path: web::Path<String>,
    body: web::Json<Change>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let territory = find(&pool, &path).await?;
    let rates = body
        .contract
        .as_ref()
        .map(|c| {
            ContractRates::new(c.franchise_rate, c.hq_rate)
                .map_err(|e| ApiError::unprocessable("invalid-rates", e.to_string()))
        })
        .transpose()?;
    if let Some(contract) = &body.contract
        && contract.effective_from < chrono::Utc::now().date_naive()
    {
        return Err(ApiError::unprocessable("contract-in-the-past", "a new contract starts today or later"));
    }
    let status_change = body.status.as_ref().map(|status| match status {
        StatusChange::Suspended => (TerritoryStatus::Active, TerritoryStatus::Suspended),
        StatusChange::Active => (TerritoryStatus::Suspended, TerritoryStatus::Active),
    });
    let contract = body.contract.as_ref().zip(rates).map(|(c, rates)| (c.effective_from, rates));
    let current = territory.clone();
    let mut conn = pool.owner().await?;
    // Both changes or neither.
    conn.transaction::<_, ApiError, _>(|conn| {
        async move {
            if let Some((from, to)) = status_change
                && current.status != to
                && !store::change_status(conn, current.id, &[from], to).await?
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "invalid-status-change",
                    "Conflict",
                    format!(
                        "territory {:?} is {}; it cannot become {}",
                        current.slug,
                        current.status.as_str(),
                        to.as_str()
                    ),
                ));
            }
            if let Some((effective_from, rates)) = contract
                && !store::add_contract(conn, current.id, effective_from, rates).await?
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "contract-exists",
                    "Conflict",
                    "a contract already starts that day",
                ));
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    drop(conn);
    tracing::info!(account.id = %admin.0.account.id, territory = %territory.slug, "territory changed through the HQ API");
    let territory = find(&pool, &path).await?;
    let mut conn = pool.hq().await?;
    Ok(HttpResponse::Ok().json(store::report(&mut conn, territory).await?))
}

/// Whom to invite as the territory's franchisee.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "franchisee@example.nl"}))]
struct InviteBody {
    email: String,
}

/// Invites the franchisee of a territory.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("slug" = String, Path, example = "utrecht")), responses(
    (status = 201, description = "The invitation is mailed", body = InvitationView),
    (status = 404, description = "unknown-territory", body = Problem),
    (status = 422, description = "invalid-email", body = Problem),
))]
#[post("/hq/territories/{slug}/invitations")]
async fn invite_franchisee(
    admin: HqAdmin,
    path: web::Path<String>,
    body: web::Json<InviteBody>,
    pool: web::Data<TenancyPool>,
    keys: web::Data<Keyring>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::unprocessable("invalid-email", e))?;
    let territory = find(&pool, &path).await?;
    let mut conn = pool.hq().await?;
    let view =
        invite(&mut conn, &keys, territory.id, &territory.slug, &email, Role::Franchisee, admin.0.account.id).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Whether an account may sign in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum AccountStatus {
    Active,
    Disabled,
}

/// The account's new status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "disabled"}))]
struct AccountChange {
    status: AccountStatus,
}

/// Disables an account (revoking every session) or enables it again.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("id" = uuid::Uuid, Path, description = "The account's id")), responses(
    (status = 204, description = "Changed"),
    (status = 404, description = "unknown-account", body = Problem),
))]
#[patch("/hq/accounts/{id}")]
async fn set_account_status(
    admin: HqAdmin,
    path: web::Path<uuid::Uuid>,
    body: web::Json<AccountChange>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let active = matches!(body.status, AccountStatus::Active);
    let mut conn = pool.hq().await?;
    if !crate::identity::store::set_account_active(&mut conn, *path, active).await? {
        return Err(ApiError::not_found("unknown-account", "there is no account with that id"));
    }
    tracing::info!(account.id = %admin.0.account.id, target = %path, active, "account status changed");
    Ok(HttpResponse::NoContent().finish())
}

/// The HQ territory and account operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(onboard, list, show, change, invite_franchisee, set_account_status))]
pub struct Doc;
