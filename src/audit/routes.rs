//! `GET /api/v1/hq/audit/{slug}/verify`: walks a territory's audit chain (or
//! HQ's, for the slug `hq`) and names the first broken link.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::chain::verify;
use crate::http::ApiError;
use crate::identity::HqAdmin;
use crate::tenancy::{TenancyPool, store};

/// Registers the audit routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(verify_chain);
}

/// The verdict on one chain: entries checked, the head hash, and the first
/// broken link if there is one.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])),
    params(("slug" = String, Path, description = "A territory's slug, or hq for HQ's own chain", example = "hq")),
    responses(
        (status = 200, description = "`chain` and its `verification`", body = Object),
        (status = 404, description = "unknown-territory", body = crate::http::problem::Problem),
    ),
)]
#[get("/hq/audit/{slug}/verify")]
#[tracing::instrument(skip(_admin, pool))]
async fn verify_chain(
    _admin: HqAdmin,
    slug: web::Path<String>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut hq = pool.hq().await?;
    let verification = if slug.as_str() == "hq" {
        verify(&mut hq).await?
    } else {
        let territory = store::find_by_slug(&mut hq, &slug)
            .await?
            .ok_or_else(|| ApiError::not_found("unknown-territory", format!("there is no territory {:?}", *slug)))?;
        drop(hq);
        let mut conn = pool.territory(&territory).await?;
        verify(&mut conn).await?
    };
    if !verification.intact {
        tracing::error!(chain = %slug, ?verification.first_broken, "audit chain broken");
    }
    Ok(HttpResponse::Ok().json(json!({ "chain": *slug, "verification": verification })))
}

/// The audit operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(verify_chain))]
pub struct Doc;
