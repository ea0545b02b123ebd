//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers).

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use diesel_async::RunQueryDsl;
use serde::Serialize;

use super::ApiError;
use crate::tenancy::TenancyPool;

/// Registers the health routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// A health answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (healthz) or `ready` (readyz).
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers a query within two seconds.
#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Health),
    (status = 503, description = "The database did not answer", body = super::problem::Problem),
))]
#[get("/readyz")]
pub async fn readyz(pool: web::Data<TenancyPool>) -> Result<HttpResponse, ApiError> {
    let check = async {
        let mut conn = pool.hq().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok::<_, ApiError>(())
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(Health { status: "ready" })),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ApiError::unavailable("the database did not answer within 2 seconds")),
    }
}
