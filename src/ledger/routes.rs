//! `/api/v1/ledger/balances`, `/api/v1/statements/{period}` and
//! `/api/v1/payouts...` for the franchisee; `/api/v1/hq/commissions` for HQ.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Numeric, Text};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::payouts::{self, PaidError};
use super::statement::{Statement, for_month, to_csv};
use super::store::balances as ledger_balances;
use crate::clock::SharedClock;
use crate::http::ApiError;
use crate::identity::{HqAdmin, TerritoryFranchisee};
use crate::tenancy::TenancyPool;

/// Registers the ledger routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(balances)
        .service(statement)
        .service(create_payout)
        .service(list_payouts)
        .service(show_payout)
        .service(pay_payout)
        .service(commissions);
}

/// `YYYY-MM` as the first day of that month.
fn parse_period(raw: &str) -> Result<NaiveDate, ApiError> {
    let first_day = NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 7)
        .ok_or_else(|| ApiError::bad_request("invalid-period", "a period is a month: YYYY-MM"))?;
    crate::http::dates::check(first_day)
        .map_err(|reason| ApiError::unprocessable(crate::http::dates::OUT_OF_RANGE, reason))
}

/// The day to read balances at.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AtQuery {
    /// Default: today in the territory.
    #[serde(default, deserialize_with = "crate::http::dates::optional_date")]
    at: Option<NaiveDate>,
}

/// Every ledger account's balance (debits minus credits) over the
/// transactions effective on or before `at` (default: today), and their sum,
/// which is zero.
#[utoipa::path(tag = "ledger", security(("bearer" = []), ("session_cookie" = [])), params(AtQuery), responses(
    (status = 200, description = "`at`, `currency`, `accounts` (each with its balance) and their `sum`", body = Object),
))]
#[get("/ledger/balances")]
async fn balances(
    franchisee: TerritoryFranchisee,
    query: web::Query<AtQuery>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let territory = franchisee.territory.territory();
    let at = query.at.unwrap_or_else(|| clock.now().with_timezone(&territory.zone()).date_naive());
    let mut conn = franchisee.territory.connection().await?;
    let accounts = ledger_balances(&mut conn, at).await?;
    let total: Decimal = accounts.iter().map(|account| account.balance).sum();
    Ok(HttpResponse::Ok()
        .json(json!({ "at": at, "currency": "EUR", "accounts": accounts, "sum": format!("{total:.2}") })))
}

/// The statement's format.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// json (the default) or csv.
    format: Option<String>,
}

/// The month's statement (`YYYY-MM`), as JSON or, with `format=csv`, CSV.
#[utoipa::path(tag = "ledger", security(("bearer" = []), ("session_cookie" = [])),
    params(("period" = String, Path, description = "A month: YYYY-MM", example = "2026-11"), FormatQuery),
    responses(
        (status = 200, description = "The statement (CSV with format=csv)", content(
            (Statement = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "invalid-period or invalid-format", body = crate::http::problem::Problem),
    ),
)]
#[get("/statements/{period}")]
async fn statement(
    franchisee: TerritoryFranchisee,
    period: web::Path<String>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let first_day = parse_period(&period)?;
    let mut conn = franchisee.territory.connection().await?;
    let statement = for_month(&mut conn, first_day).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(HttpResponse::Ok().json(statement)),
        Some("csv") => {
            let body = to_csv(&statement).map_err(|error| ApiError::internal(&error))?;
            let file =
                format!("attachment; filename=\"statement-{}-{}.csv\"", franchisee.territory.territory().slug, *period);
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header(("content-disposition", file))
                .body(body))
        }
        Some(_) => Err(ApiError::bad_request("invalid-format", "format is json or csv")),
    }
}

/// Gathers what the pros are owed (bookings over and past the dispute
/// window, not paid out yet) into a payout batch.
#[utoipa::path(tag = "ledger", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "`payout` and its `items`", body = Object),
    (status = 409, description = "nothing-owed or payout-in-progress", body = crate::http::problem::Problem),
))]
#[post("/payouts")]
#[tracing::instrument(skip_all)]
async fn create_payout(
    franchisee: TerritoryFranchisee,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    match payouts::create(&mut conn, franchisee.auth.account.id, clock.now()).await {
        Ok(Some((payout, items))) => Ok(HttpResponse::Created().json(json!({ "payout": payout, "items": items }))),
        Ok(None) => Err(ApiError::conflict("nothing-owed", "no pro is owed anything past the dispute window")),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(ApiError::conflict("payout-in-progress", "another payout took these payments just now; reload"))
        }
        Err(error) => Err(error.into()),
    }
}

/// Payout batches, newest first.
#[utoipa::path(tag = "ledger", security(("bearer" = []), ("session_cookie" = [])), responses((status = 200, description = "`payouts`", body = Object)))]
#[get("/payouts")]
async fn list_payouts(franchisee: TerritoryFranchisee) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    Ok(HttpResponse::Ok().json(json!({ "payouts": payouts::list(&mut conn).await? })))
}

fn unknown_payout() -> ApiError {
    ApiError::not_found("unknown-payout", "there is no such payout")
}

/// A payout batch with what it pays each pro for each payment.
#[utoipa::path(tag = "ledger", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The payout's id")), responses(
    (status = 200, description = "`payout` and its `items`", body = Object),
    (status = 404, description = "unknown-payout", body = crate::http::problem::Problem),
))]
#[get("/payouts/{id}")]
async fn show_payout(franchisee: TerritoryFranchisee, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    let (payout, items) = payouts::find(&mut conn, *id).await?.ok_or_else(unknown_payout)?;
    Ok(HttpResponse::Ok().json(json!({ "payout": payout, "items": items })))
}

/// Marks a batch paid (once): the pros' payables leave the provider account.
#[utoipa::path(tag = "ledger", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The payout's id")), responses(
    (status = 200, description = "The `payout`, paid", body = Object),
    (status = 404, description = "unknown-payout", body = crate::http::problem::Problem),
    (status = 409, description = "already-paid", body = crate::http::problem::Problem),
))]
#[post("/payouts/{id}/paid")]
#[tracing::instrument(skip_all)]
async fn pay_payout(
    franchisee: TerritoryFranchisee,
    id: web::Path<Uuid>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let now = clock.now();
    let today = now.with_timezone(&franchisee.territory.territory().zone()).date_naive();
    let mut conn = franchisee.territory.connection().await?;
    match payouts::mark_paid(&mut conn, *id, franchisee.auth.account.id, today, now).await {
        Ok(payout) => Ok(HttpResponse::Ok().json(json!({ "payout": payout }))),
        Err(PaidError::Unknown) => Err(unknown_payout()),
        Err(PaidError::AlreadyPaid) => Err(ApiError::conflict("already-paid", "this payout was marked paid before")),
        Err(PaidError::Database(error)) => Err(error.into()),
    }
}

/// Which month.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// YYYY-MM.
    #[param(example = "2026-11")]
    period: String,
}

/// One territory's commissions in a month, as aggregated in hq.
#[derive(Debug, Serialize, diesel::QueryableByName)]
struct TerritoryCommissions {
    #[diesel(sql_type = Text)]
    territory: String,
    #[diesel(sql_type = BigInt)]
    captures: i64,
    #[diesel(sql_type = BigInt)]
    refunds: i64,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    gross: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    refunded: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    vat: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    franchise_fee: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    hq_fee: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pro_share: Decimal,
}

/// Commissions of a month (`period=YYYY-MM`) per territory and in total,
/// from hq's aggregates alone (no tenant schema is read).
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(PeriodQuery), responses(
    (status = 200, description = "`period`, `currency`, per-territory `territories` and their `total`", body = Object),
    (status = 400, description = "invalid-period", body = crate::http::problem::Problem),
))]
#[get("/hq/commissions")]
async fn commissions(
    _admin: HqAdmin,
    query: web::Query<PeriodQuery>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let period = parse_period(&query.period)?;
    let mut conn = pool.hq().await?;
    let rows: Vec<TerritoryCommissions> = diesel::sql_query(
        "SELECT t.slug AS territory, c.captures, c.refunds, c.gross, c.refunded, c.vat, c.franchise_fee, c.hq_fee,
                c.pro_share
           FROM hq.commission_totals c JOIN hq.territories t ON t.id = c.territory_id
          WHERE c.period = $1 ORDER BY t.slug",
    )
    .bind::<Date, _>(period)
    .load(&mut *conn)
    .await?;
    let sum = |f: fn(&TerritoryCommissions) -> Decimal| format!("{:.2}", rows.iter().map(f).sum::<Decimal>());
    let total = json!({
        "captures": rows.iter().map(|r| r.captures).sum::<i64>(),
        "refunds": rows.iter().map(|r| r.refunds).sum::<i64>(),
        "gross": sum(|r| r.gross),
        "refunded": sum(|r| r.refunded),
        "vat": sum(|r| r.vat),
        "franchise_fee": sum(|r| r.franchise_fee),
        "hq_fee": sum(|r| r.hq_fee),
        "pro_share": sum(|r| r.pro_share),
    });
    Ok(HttpResponse::Ok()
        .json(json!({ "period": query.period, "currency": "EUR", "territories": rows, "total": total })))
}

/// The ledger operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(balances, statement, create_payout, list_payouts, show_payout, pay_payout, commissions))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_months() {
        assert_eq!(parse_period("2026-11").ok(), NaiveDate::from_ymd_opt(2026, 11, 1));
        for bad in ["2026-13", "2026-1", "2026-11-01", "november", ""] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }
}
