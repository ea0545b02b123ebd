//! Prometheus metrics at `/metrics`: requests by route template and status,
//! latency histograms, requests per territory (labels come from the registry
//! or the route table, never from raw input), pool use, cache hit rates and
//! the job queue.
//!
//! They tell a competitor each territory's volume, so they are not served on
//! the public hosts: they answer on a listener of their own
//! ([`MetricsAccess::bind`]), or on the public one to a bearer of
//! [`MetricsAccess::token`]; with neither, nowhere.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use sha2::{Digest, Sha256};

use crate::http::ApiError;
use crate::tenancy::TenancyPool;
use crate::tenancy::resolver::HostTarget;

/// Cache lookups by cache and outcome, counted where the caches live.
static CACHE_LOOKUPS: LazyLock<Option<IntCounterVec>> =
    LazyLock::new(|| IntCounterVec::new(Opts::new("cache_lookups_total", "Cache lookups"), &["cache", "outcome"]).ok());

/// Counts a lookup in `cache` that hit (or missed).
pub fn cache_lookup(cache: &str, hit: bool) {
    if let Some(counter) = CACHE_LOOKUPS.as_ref() {
        counter.with_label_values(&[cache, if hit { "hit" } else { "miss" }]).inc();
    }
}

/// The application's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    territory_requests: IntCounterVec,
    pool: IntGaugeVec,
    jobs_due: IntGauge,
    jobs_failed: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("careservice".into()), None)?;
        let requests =
            IntCounterVec::new(Opts::new("http_requests_total", "HTTP requests"), &["method", "route", "status"])?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["method", "route"],
        )?;
        let territory_requests = IntCounterVec::new(
            Opts::new("territory_requests_total", "Requests per resolved territory"),
            &["territory"],
        )?;
        let pool = IntGaugeVec::new(Opts::new("db_pool_connections", "Database pool connections"), &["state"])?;
        let jobs_due = IntGauge::new("jobs_due", "Jobs waiting to run now")?;
        let jobs_failed = IntGauge::new("jobs_failed", "Jobs that failed for good")?;
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(territory_requests.clone()),
            Box::new(pool.clone()),
            Box::new(jobs_due.clone()),
            Box::new(jobs_failed.clone()),
        ] {
            registry.register(collector)?;
        }
        if let Some(lookups) = CACHE_LOOKUPS.as_ref() {
            registry.register(Box::new(lookups.clone()))?;
        }
        Ok(Self { registry, requests, latency, territory_requests, pool, jobs_due, jobs_failed })
    }
}

/// Counts and times every request.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let started = Instant::now();
    let method = request.method().to_string();
    let response = next.call(request).await?;
    if let Some(metrics) = metrics {
        // The route template, never the raw path: ids stay out of the labels.
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let status = response.status().as_u16().to_string();
        metrics.requests.with_label_values(&[&method, &route, &status]).inc();
        metrics.latency.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
        if let Some(HostTarget::Territory(territory)) = response.request().extensions().get::<HostTarget>() {
            metrics.territory_requests.with_label_values(&[&territory.slug]).inc();
        }
    }
    Ok(response)
}

#[derive(diesel::QueryableByName)]
struct JobCounts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    due: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    failed: i64,
}

/// Where `/metrics` answers; with neither set, it answers nowhere.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// A listener of its own that serves `/metrics` alone (keep it off the
    /// public network).
    pub bind: Option<SocketAddr>,
    /// On the public listener, `/metrics` answers a request that bears this
    /// token (`Authorization: Bearer TOKEN`).
    pub token: Option<String>,
}

/// Who `/metrics` answers on a listener; without one set, no one.
enum Gate {
    /// Anyone who reaches the listener (the metrics listener).
    Open,
    /// A bearer of the token whose SHA-256 this is: comparing digests takes
    /// the same time however much of a guess matches.
    Token([u8; 32]),
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The metrics in Prometheus' text format: requests and latency by route
/// template and status, requests per territory, cache hit rates, pool use,
/// job queue depth and failures. Served on the metrics listener, or on the
/// public one to a bearer of the metrics token (404 there without one set).
#[utoipa::path(tag = "operations", security((), ("metrics_token" = [])), responses(
    (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
    (status = 401, description = "metrics-token-required: no or another bearer token", body = crate::http::problem::Problem),
    (status = 404, description = "metrics-not-served: not on this listener (no metrics token is configured)", body = crate::http::problem::Problem),
))]
#[get("/metrics")]
pub async fn export(
    request: HttpRequest,
    metrics: web::Data<Metrics>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    match request.app_data::<Gate>() {
        Some(Gate::Open) => {}
        Some(Gate::Token(required)) => {
            let presented = request
                .headers()
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(|token| digest(token.trim()));
            if presented.as_ref() != Some(required) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "metrics-token-required",
                    "Unauthorized",
                    "the metrics answer only to the configured metrics token",
                ));
            }
        }
        None => {
            return Err(ApiError::not_found(
                "metrics-not-served",
                "the metrics are not served on this listener; see CARESERVICE_METRICS_BIND and CARESERVICE_METRICS_TOKEN",
            ));
        }
    }
    let status = pool.status();
    metrics.pool.with_label_values(&["open"]).set(i64::try_from(status.size).unwrap_or(i64::MAX));
    metrics.pool.with_label_values(&["idle"]).set(i64::try_from(status.available).unwrap_or(i64::MAX));
    metrics.pool.with_label_values(&["max"]).set(i64::try_from(status.max_size).unwrap_or(i64::MAX));
    metrics.pool.with_label_values(&["waiting"]).set(i64::try_from(status.waiting).unwrap_or(i64::MAX));
    // The queue's depth needs the database; without it the rest still answers.
    if let Ok(mut conn) = pool.hq().await {
        let counts: Result<JobCounts, _> = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT count(*) FILTER (WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= now()) AS due,
                        count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed FROM hq.jobs",
            ),
            &mut *conn,
        )
        .await;
        if let Ok(counts) = counts {
            metrics.jobs_due.set(counts.due);
            metrics.jobs_failed.set(counts.failed);
        }
    }
    let mut buffer = Vec::new();
    TextEncoder::new().encode(&metrics.registry.gather(), &mut buffer).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(buffer))
}

/// Registers `/metrics` on the public listener: it answers a bearer of
/// `token`, and without one no one (404).
pub fn configure_public(token: Option<&str>) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let gate = token.map(|token| Gate::Token(digest(token)));
    move |cfg| {
        if let Some(gate) = gate {
            cfg.app_data(gate);
        }
        cfg.service(export);
    }
}

/// Registers `/metrics` on the metrics listener, where it answers anyone
/// who can reach that address.
pub fn configure_internal(cfg: &mut web::ServiceConfig) {
    cfg.app_data(Gate::Open).service(export);
}
