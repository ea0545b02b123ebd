//! `/api/v1/hq/catalog/...`: HQ admins manage the shared catalog. Every
//! change is validated and recorded in `hq.catalog_changes`.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::NaiveDate;
use diesel_async::AsyncConnection;
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::model::{NewService, Service, ServiceChange, check_text};
use super::store;
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::HqAdmin;
use crate::tenancy::TenancyPool;

/// Registers the HQ catalog routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_services)
        .service(create_service)
        .service(change_service)
        .service(create_category)
        .service(add_vat_rate);
}

/// A VAT rate of a VAT category from a date.
#[derive(Serialize, ToSchema)]
pub struct VatRate {
    vat_category: String,
    effective_from: NaiveDate,
    /// A fraction: 0.21 is 21%.
    #[schema(example = "0.21")]
    rate: String,
}

/// HQ's whole catalog.
#[derive(Serialize, ToSchema)]
pub struct HqCatalog {
    services: Vec<Service>,
    vat_rates: Vec<VatRate>,
}

/// Every service (active or not) and every VAT rate.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), responses((status = 200, body = HqCatalog)))]
#[get("/hq/catalog/services")]
async fn list_services(_admin: HqAdmin, pool: web::Data<TenancyPool>) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let services = store::services(&mut conn).await?;
    let rates: Vec<_> = store::vat_rates(&mut conn)
        .await?
        .into_iter()
        .map(|(vat_category, effective_from, rate)| VatRate {
            vat_category,
            effective_from,
            rate: rate.normalize().to_string(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(HqCatalog { services, vat_rates: rates }))
}

async fn check_references(
    conn: &mut diesel_async::AsyncPgConnection,
    category: &str,
    vat: &str,
) -> Result<(), ApiError> {
    match store::references_exist(conn, category, vat).await? {
        (false, _) => {
            Err(ApiError::unprocessable("unknown-category", format!("there is no service category {category:?}")))
        }
        (_, false) => Err(ApiError::unprocessable("unknown-vat-category", format!("there is no VAT category {vat:?}"))),
        _ => Ok(()),
    }
}

/// Adds a service to the catalog.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, body = Service),
    (status = 409, description = "service-exists", body = Problem),
    (status = 422, description = "invalid-service, unknown-category or unknown-vat-category", body = Problem),
))]
#[post("/hq/catalog/services")]
async fn create_service(
    admin: HqAdmin,
    body: web::Json<NewService>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner();
    new.validate().map_err(|e| ApiError::unprocessable("invalid-service", e))?;
    let mut conn = pool.hq().await?;
    check_references(&mut conn, &new.category, &new.vat_category).await?;
    let account = admin.0.account.id;
    let created = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                if !store::insert_service(conn, &new).await? {
                    return Ok(None);
                }
                let service = store::service(conn, &new.code).await?;
                store::record_change(conn, account, "service", &new.code, "create", json!(service)).await?;
                Ok(service)
            }
            .scope_boxed()
        })
        .await?;
    let service = created.ok_or_else(|| ApiError::conflict("service-exists", "a service with that code exists"))?;
    Ok(HttpResponse::Created().json(service))
}

/// Changes a service; the result must still be valid as a whole.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("code" = String, Path, description = "The service's code", example = "house-cleaning")), responses(
    (status = 200, body = Service),
    (status = 404, description = "unknown-service", body = Problem),
    (status = 422, description = "invalid-service, unknown-category or unknown-vat-category", body = Problem),
))]
#[patch("/hq/catalog/services/{code}")]
async fn change_service(
    admin: HqAdmin,
    path: web::Path<String>,
    body: web::Json<ServiceChange>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let current = store::service(&mut conn, &path)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-service", format!("there is no service {:?}", path.as_str())))?;
    let result = body.applied_to(&current);
    result.validate().map_err(|e| ApiError::unprocessable("invalid-service", e))?;
    check_references(&mut conn, &result.category, &result.vat_category).await?;
    let account = admin.0.account.id;
    let change = body.into_inner();
    let code = path.into_inner();
    let updated = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                let updated = store::update_service(conn, &code, &change).await?;
                store::record_change(conn, account, "service", &code, "update", json!(updated)).await?;
                Ok(updated)
            }
            .scope_boxed()
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

/// A new service category.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "gardening", "name_nl": "Tuinonderhoud", "name_en": "Gardening", "position": 3}))]
struct NewCategory {
    code: String,
    name_nl: String,
    name_en: String,
    #[serde(default)]
    position: i32,
}

/// The code of what was created.
#[derive(Serialize, ToSchema)]
pub struct Created {
    code: String,
}

/// Adds a service category.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, body = Created),
    (status = 409, description = "category-exists", body = Problem),
    (status = 422, description = "invalid-category", body = Problem),
))]
#[post("/hq/catalog/categories")]
async fn create_category(
    admin: HqAdmin,
    body: web::Json<NewCategory>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let valid_code = (2..=40).contains(&body.code.len())
        && body.code.starts_with(|c: char| c.is_ascii_lowercase())
        && body.code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_code {
        return Err(ApiError::unprocessable("invalid-category", "code is 2 to 40 characters: a-z, 0-9 and '-'"));
    }
    check_text("name_nl", &body.name_nl, 1, 200).map_err(|e| ApiError::unprocessable("invalid-category", e))?;
    check_text("name_en", &body.name_en, 1, 200).map_err(|e| ApiError::unprocessable("invalid-category", e))?;
    let mut conn = pool.hq().await?;
    if !store::insert_category(&mut conn, &body.code, &body.name_nl, &body.name_en, body.position).await? {
        return Err(ApiError::conflict("category-exists", "a category with that code exists"));
    }
    let after = json!({ "name_nl": body.name_nl, "name_en": body.name_en, "position": body.position });
    store::record_change(&mut conn, admin.0.account.id, "category", &body.code, "create", after).await?;
    Ok(HttpResponse::Created().json(Created { code: body.code.clone() }))
}

/// A VAT rate from a date.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rate": "0.21", "effective_from": "2026-01-01"}))]
struct NewRate {
    /// A fraction from 0 to below 1, at most 4 decimals.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    rate: Decimal,
    #[serde(deserialize_with = "crate::http::dates::date")]
    effective_from: NaiveDate,
}

/// Adds a VAT rate that applies from a date (the law changes rates on dates;
/// A VAT rate as added.
#[derive(Serialize, ToSchema)]
pub struct AddedRate {
    #[schema(example = "0.21")]
    rate: String,
    effective_from: NaiveDate,
}

/// past rows are never changed).
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("code" = String, Path, description = "The VAT category")), responses(
    (status = 201, body = AddedRate),
    (status = 409, description = "rate-not-added: unknown VAT category, or a rate already starts that day", body = Problem),
    (status = 422, description = "invalid-rate", body = Problem),
))]
#[post("/hq/catalog/vat-categories/{code}/rates")]
async fn add_vat_rate(
    admin: HqAdmin,
    path: web::Path<String>,
    body: web::Json<NewRate>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    if body.rate < Decimal::ZERO || body.rate >= Decimal::ONE || body.rate.normalize().scale() > 4 {
        return Err(ApiError::unprocessable(
            "invalid-rate",
            "a VAT rate is a fraction from 0 to below 1 (0.21 for 21%), 4 decimals at most",
        ));
    }
    let mut conn = pool.hq().await?;
    if !store::add_vat_rate(&mut conn, &path, body.effective_from, body.rate).await? {
        return Err(ApiError::conflict(
            "rate-not-added",
            "the VAT category is unknown or already has a rate from that date",
        ));
    }
    let added = AddedRate { rate: body.rate.normalize().to_string(), effective_from: body.effective_from };
    store::record_change(&mut conn, admin.0.account.id, "vat_rate", &path, "create", json!(added)).await?;
    Ok(HttpResponse::Created().json(added))
}

/// The HQ catalog operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_services, create_service, change_service, create_category, add_vat_rate))]
pub struct Doc;
