//! Territory settings: branding and default policies. The franchisee edits
//! them within HQ's limits; HQ sees and can override them.

use actix_web::{HttpResponse, get, patch, web};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::model::check_text;
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::{HqAdmin, TerritoryFranchisee};
use crate::schema::tenant::settings;
use crate::tenancy::{CurrentTerritory, TenancyPool, store as territories};

/// Registers the settings routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(public_settings).service(franchisee_change).service(hq_settings).service(hq_change);
}

/// The settings row.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = settings, check_for_backend(diesel::pg::Pg))]
pub struct Settings {
    pub currency: String,
    pub portal_display_name: Option<String>,
    pub portal_primary_color: Option<String>,
    pub portal_secondary_color: Option<String>,
    pub portal_logo_url: Option<String>,
    pub cancellation_free_hours: i32,
    /// 0 to 100.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "50")]
    pub cancellation_fee_percent: Decimal,
    pub min_notice_minutes: i32,
    pub booking_horizon_days: i32,
}

/// Changes; absent fields stay as they are.
#[derive(Debug, Clone, Deserialize, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = settings)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"portal_primary_color": "#1a2b3c", "min_notice_minutes": 120}))]
pub struct SettingsChange {
    pub portal_display_name: Option<String>,
    pub portal_primary_color: Option<String>,
    pub portal_secondary_color: Option<String>,
    pub portal_logo_url: Option<String>,
    pub cancellation_free_hours: Option<i32>,
    /// 0 to 100, at most 2 decimals.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "50")]
    pub cancellation_fee_percent: Option<Decimal>,
    pub min_notice_minutes: Option<i32>,
    pub booking_horizon_days: Option<i32>,
}

impl SettingsChange {
    /// HQ's limits on what a territory may set.
    fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.portal_display_name {
            check_text("portal_display_name", name, 1, 200)?;
        }
        let color_ok = |c: &String| {
            c.len() == 7
                && c.starts_with('#')
                && c[1..].chars().all(|x| x.is_ascii_hexdigit() && !x.is_ascii_uppercase())
        };
        for (field, color) in [
            ("portal_primary_color", &self.portal_primary_color),
            ("portal_secondary_color", &self.portal_secondary_color),
        ] {
            if color.as_ref().is_some_and(|c| !color_ok(c)) {
                return Err(format!("{field} is a colour such as #1a2b3c"));
            }
        }
        if let Some(url) = &self.portal_logo_url
            && (!url.starts_with("https://") || url.len() > 2048 || url.chars().any(char::is_whitespace))
        {
            return Err("portal_logo_url is an https:// URL of at most 2048 characters".into());
        }
        if self.cancellation_free_hours.is_some_and(|h| !(0..=168).contains(&h)) {
            return Err("cancellation_free_hours is 0 to 168".into());
        }
        if self
            .cancellation_fee_percent
            .is_some_and(|p| p < Decimal::ZERO || p > Decimal::ONE_HUNDRED || p.normalize().scale() > 2)
        {
            return Err("cancellation_fee_percent is 0 to 100 with at most 2 decimals".into());
        }
        if self.min_notice_minutes.is_some_and(|m| !(0..=20_160).contains(&m)) {
            return Err("min_notice_minutes is 0 to 20160".into());
        }
        if self.booking_horizon_days.is_some_and(|d| !(1..=365).contains(&d)) {
            return Err("booking_horizon_days is 1 to 365".into());
        }
        Ok(())
    }
}

async fn read(conn: &mut AsyncPgConnection) -> Result<Settings, ApiError> {
    Ok(settings::table.select(Settings::as_select()).first(conn).await?)
}

async fn apply(conn: &mut AsyncPgConnection, change: &SettingsChange) -> Result<Settings, ApiError> {
    change.validate().map_err(|e| ApiError::unprocessable("invalid-settings", e))?;
    Ok(diesel::update(settings::table)
        .set((change, settings::updated_at.eq(diesel::dsl::now)))
        .returning(Settings::as_returning())
        .get_result(conn)
        .await?)
}

/// The territory's branding and policies (public).
#[utoipa::path(tag = "settings", responses((status = 200, body = Settings)))]
#[get("/settings")]
async fn public_settings(current: CurrentTerritory) -> Result<HttpResponse, ApiError> {
    let mut conn = current.connection().await?;
    Ok(HttpResponse::Ok().json(read(&mut conn).await?))
}

/// The franchisee changes its territory's settings within HQ's limits.
#[utoipa::path(tag = "settings", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, body = Settings),
    (status = 422, description = "invalid-settings", body = Problem),
))]
#[patch("/settings")]
async fn franchisee_change(
    franchisee: TerritoryFranchisee,
    body: web::Json<SettingsChange>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    Ok(HttpResponse::Ok().json(apply(&mut conn, &body).await?))
}

async fn territory_connection(pool: &TenancyPool, slug: &str) -> Result<crate::tenancy::BoundConnection, ApiError> {
    let mut hq = pool.hq().await?;
    let territory = territories::find_by_slug(&mut hq, slug)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-territory", format!("there is no territory {slug:?}")))?;
    drop(hq);
    Ok(pool.territory(&territory).await?)
}

/// HQ reads a territory's settings.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("slug" = String, Path, example = "utrecht")), responses(
    (status = 200, body = Settings),
    (status = 404, description = "unknown-territory", body = Problem),
))]
#[get("/hq/territories/{slug}/settings")]
async fn hq_settings(
    _admin: HqAdmin,
    path: web::Path<String>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = territory_connection(&pool, &path).await?;
    Ok(HttpResponse::Ok().json(read(&mut conn).await?))
}

/// HQ overrides a territory's settings.
#[utoipa::path(tag = "hq", security(("bearer" = []), ("session_cookie" = [])), params(("slug" = String, Path, example = "utrecht")), responses(
    (status = 200, body = Settings),
    (status = 404, description = "unknown-territory", body = Problem),
    (status = 422, description = "invalid-settings", body = Problem),
))]
#[patch("/hq/territories/{slug}/settings")]
async fn hq_change(
    admin: HqAdmin,
    path: web::Path<String>,
    body: web::Json<SettingsChange>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = territory_connection(&pool, &path).await?;
    let updated = apply(&mut conn, &body).await?;
    tracing::info!(account.id = %admin.0.account.id, territory = %path, "territory settings overridden by HQ");
    Ok(HttpResponse::Ok().json(updated))
}

/// The settings operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(public_settings, franchisee_change, hq_settings, hq_change))]
pub struct Doc;
