//! HQ endpoints for the job queue: the jobs that failed for good, and a retry.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use serde::Serialize;

use crate::http::ApiError;
use crate::identity::HqAdmin;
use crate::tenancy::TenancyPool;

/// Registers the job routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(failed_jobs).service(retry_job);
}

/// A job that failed for good.
#[derive(Serialize, diesel::QueryableByName, utoipa::ToSchema)]
struct FailedJob {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    territory: Option<String>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failed_at: Option<DateTime<Utc>>,
}

/// Failed jobs, newest first.
#[derive(Serialize, utoipa::ToSchema)]
struct FailedJobs {
    jobs: Vec<FailedJob>,
}

/// Jobs that failed for good, newest first (at most 200).
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), responses((status = 200, body = FailedJobs)))]
#[get("/hq/jobs/failed")]
async fn failed_jobs(_admin: HqAdmin, pool: web::Data<TenancyPool>) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let jobs: Vec<FailedJob> = diesel::sql_query(
        "SELECT j.id, j.kind, t.slug AS territory, j.attempts, j.last_error, j.failed_at
           FROM hq.jobs j LEFT JOIN hq.territories t ON t.id = j.territory_id
          WHERE j.failed_at IS NOT NULL ORDER BY j.failed_at DESC, j.id DESC LIMIT 200",
    )
    .load(&mut *conn)
    .await?;
    Ok(HttpResponse::Ok().json(FailedJobs { jobs }))
}

/// Puts a failed job back in the queue, to run now with a fresh count of attempts.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("id" = i64, Path, description = "The job's id")), responses(
    (status = 204, description = "Queued again"),
    (status = 404, description = "no-failed-job", body = crate::http::problem::Problem),
))]
#[post("/hq/jobs/{id}/retry")]
async fn retry_job(
    admin: HqAdmin,
    path: web::Path<i64>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let retried = diesel::sql_query(
        "UPDATE hq.jobs SET failed_at = NULL, attempts = 0, locked_until = NULL, run_at = $2
          WHERE id = $1 AND failed_at IS NOT NULL",
    )
    .bind::<BigInt, _>(*path)
    .bind::<Timestamptz, _>(Utc::now())
    .execute(&mut *conn)
    .await?;
    if retried == 0 {
        return Err(ApiError::not_found("no-failed-job", "there is no failed job with that id"));
    }
    tracing::info!(account.id = %admin.0.account.id, job.id = *path, "failed job retried");
    Ok(HttpResponse::NoContent().finish())
}

/// The job operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(failed_jobs, retry_job))]
pub struct Doc;
