//! Territory endpoints: the public profile of the host's territory.

use actix_web::{HttpResponse, get, web};

use super::context::CurrentTerritory;

/// Registers the territory routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(territory_profile);
}

/// The public profile of the territory this host serves: slug, name, time
/// zone, locale and status.
#[utoipa::path(tag = "territory", responses(
    (status = 200, body = super::Territory),
    (status = 404, description = "unknown-territory or not-a-territory-host", body = crate::http::problem::Problem),
))]
#[get("/territory")]
#[tracing::instrument(skip_all)]
async fn territory_profile(current: CurrentTerritory) -> HttpResponse {
    HttpResponse::Ok().json(current.territory())
}

/// The territory operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(territory_profile))]
pub struct Doc;
