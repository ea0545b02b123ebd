//! Territory catalog endpoints: the public effective catalog, and the
//! franchisee's tailoring of it within HQ's bounds.

use actix_web::http::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::cache::EffectiveCatalogs;
use super::effective::{Language, PublicService, effective_catalog};
use super::model::{Service, check_price, check_text};
use super::store::{self, Override};
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::TerritoryFranchisee;
use crate::tenancy::{CurrentTerritory, Territory};

/// Registers the catalog routes of territory hosts (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(public_catalog).service(tailor_service).service(untailor_service);
}

/// Today in the territory's time zone.
pub fn local_date(territory: &Territory) -> NaiveDate {
    let zone = territory.zone();
    Utc::now().with_timezone(&zone).date_naive()
}

/// A territory's catalog on a date, in one language.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicCatalog<'a> {
    /// The territory's slug.
    territory: &'a str,
    date: NaiveDate,
    /// `nl` or `en`.
    language: &'static str,
    services: Vec<PublicService<'a>>,
}

/// The territory's catalog today, in its locale or the one asked for with
/// Accept-Language (nl or en). Public; served from a cache.
#[utoipa::path(tag = "catalog",
    params(("Accept-Language" = Option<String>, Header, description = "nl or en; the territory's locale otherwise")),
    responses((status = 200, body = PublicCatalog, headers(("Content-Language" = String)))),
)]
#[get("/catalog")]
async fn public_catalog(
    request: HttpRequest,
    current: CurrentTerritory,
    catalogs: web::Data<EffectiveCatalogs>,
) -> Result<HttpResponse, ApiError> {
    let territory = current.territory();
    let accept = request.headers().get(ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
    let language = Language::negotiate(accept, &territory.locale);
    let date = local_date(territory);
    let body = catalogs
        .get_or_build((territory.id, date, language), || async {
            let mut conn = current.connection().await?;
            let services = effective_catalog(&mut conn, date).await?;
            let public: Vec<PublicService<'_>> = services.iter().map(|s| s.public(language)).collect();
            let body = PublicCatalog { territory: &territory.slug, date, language: language.tag(), services: public };
            serde_json::to_vec(&body).map(Into::into).map_err(|e| ApiError::internal(&e))
        })
        .await
        .map_err(|error| (*error).clone())?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CONTENT_LANGUAGE, language.tag()))
        .body(body))
}

/// Checks an override against HQ's bounds for the service.
fn check_within_bounds(tailoring: &Override, service: &Service) -> Result<(), String> {
    if let Some(price) = tailoring.price {
        check_price("price", price)?;
        if price < service.min_price || price > service.max_price {
            return Err(format!(
                "price must be between {} and {} for {}",
                service.min_price, service.max_price, service.code
            ));
        }
    }
    if let Some(minutes) = tailoring.duration_minutes
        && (minutes < service.min_duration_minutes || minutes > service.max_duration_minutes)
    {
        return Err(format!(
            "duration_minutes must be between {} and {} for {}",
            service.min_duration_minutes, service.max_duration_minutes, service.code
        ));
    }
    for (field, value, min) in [("name_nl", &tailoring.name_nl, 1), ("name_en", &tailoring.name_en, 1)] {
        if let Some(value) = value {
            check_text(field, value, min, 200)?;
        }
    }
    for (field, value) in [("description_nl", &tailoring.description_nl), ("description_en", &tailoring.description_en)]
    {
        if let Some(value) = value {
            check_text(field, value, 0, 4000)?;
        }
    }
    if tailoring.cancellation_free_hours.is_some_and(|hours| !(0..=168).contains(&hours)) {
        return Err("cancellation_free_hours is 0 to 168".into());
    }
    if tailoring
        .cancellation_fee_percent
        .is_some_and(|p| p < Decimal::ZERO || p > Decimal::ONE_HUNDRED || p.normalize().scale() > 2)
    {
        return Err("cancellation_fee_percent is 0 to 100 with at most 2 decimals".into());
    }
    if tailoring.min_notice_minutes.is_some_and(|minutes| !(0..=20_160).contains(&minutes)) {
        return Err("min_notice_minutes is 0 to 20160 (two weeks)".into());
    }
    Ok(())
}

/// The franchisee tailors a service for the territory: enabled, price,
/// duration, texts, cancellation policy, minimum notice, all within HQ's
/// bounds. The body replaces any earlier tailoring of the service.
#[utoipa::path(tag = "catalog", security(("bearer" = []), ("session_cookie" = [])), params(("code" = String, Path, description = "The service's code", example = "house-cleaning")), responses(
    (status = 200, description = "The tailoring as stored", body = Override),
    (status = 404, description = "unknown-service", body = Problem),
    (status = 422, description = "outside-hq-bounds", body = Problem),
))]
#[put("/catalog/services/{code}")]
async fn tailor_service(
    franchisee: TerritoryFranchisee,
    path: web::Path<String>,
    body: web::Json<Override>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let mut conn = franchisee.territory.connection().await?;
    let service = store::service(&mut conn, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-service", format!("there is no service {code:?}")))?;
    let mut tailoring = body.into_inner();
    tailoring.service_code = service.code.clone();
    tailoring.updated_by = Some(franchisee.auth.account.id);
    check_within_bounds(&tailoring, &service).map_err(|e| ApiError::unprocessable("outside-hq-bounds", e))?;
    store::put_override(&mut conn, &tailoring).await?;
    tracing::info!(territory = %franchisee.territory.territory().slug, service = %code, "service tailored");
    Ok(HttpResponse::Ok().json(&tailoring))
}

/// Drops the territory's tailoring of a service: HQ's defaults apply again.
#[utoipa::path(tag = "catalog", security(("bearer" = []), ("session_cookie" = [])), params(("code" = String, Path, description = "The service's code", example = "house-cleaning")), responses(
    (status = 204, description = "Dropped"),
    (status = 404, description = "no-override", body = Problem),
))]
#[delete("/catalog/services/{code}")]
async fn untailor_service(franchisee: TerritoryFranchisee, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    if store::delete_override(&mut conn, &path).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("no-override", "this territory has not tailored that service"))
    }
}

/// The territory catalog operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(public_catalog, tailor_service, untailor_service))]
pub struct Doc;
