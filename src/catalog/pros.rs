//! Pros of a territory: their profile, the franchisee's approval, and the
//! services they offer. Public answers carry public fields only: no email,
//! phone or address of a pro, ever.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::effective::effective_catalog;
use super::model::check_price;
use super::prices::{customer_price, pro_prices};
use super::routes::local_date;
use super::store;
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::{Role, TerritoryFranchisee, TerritoryMember};
use crate::money::Money;
use crate::schema::tenant::{pro_offerings, pros};
use crate::tenancy::CurrentTerritory;

/// Registers the pro routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(public_pros).service(put_offering).service(delete_offering).service(manage_pros).service(set_status);
}

/// A row of `pros`, as the pro itself and its franchisee see it: the
/// approved public text, and the edit of it that awaits review.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = pros, check_for_backend(diesel::pg::Pg))]
pub struct Pro {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The approved name: what the public sees.
    pub display_name: String,
    /// The approved bio: what the public sees.
    pub bio: String,
    pub languages: Vec<String>,
    pub postcodes: Vec<String>,
    /// invited, pending_approval, active, paused or offboarded.
    #[schema(example = "pending_approval")]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The name the pro asked for, until the franchisee approves or rejects it.
    pub pending_display_name: Option<String>,
    /// The bio the pro asked for, until the franchisee approves or rejects it.
    pub pending_bio: Option<String>,
    /// When the pending edit was made; null when nothing awaits review.
    pub pending_since: Option<DateTime<Utc>>,
    /// Counts the edits; a review names the revision it decides on.
    pub profile_revision: i32,
}

/// Refuses a member who is not one of the territory's pros.
pub fn require_pro(member: &TerritoryMember) -> Result<(), ApiError> {
    if member.roles.contains(&Role::Pro) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "not-a-pro", "Forbidden", "this endpoint is for the territory's pros"))
    }
}

/// A service a pro offers, at HQ's price or its own.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"price": "55.00"}))]
struct Offering {
    /// Including VAT, within HQ's bounds; absent or null for the territory's price.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    price: Option<Decimal>,
}

/// An offering as stored.
#[derive(Serialize, ToSchema)]
pub struct OfferingView {
    /// The service's code.
    #[schema(example = "house-cleaning")]
    service: String,
    /// The pro's own price; null for the territory's.
    price: Option<Money>,
}

/// The profile of the pro making the request (403 for a member who is not a
/// pro, 409 for a pro with no profile yet).
pub async fn own_pro(member: &TerritoryMember, conn: &mut diesel_async::AsyncPgConnection) -> Result<Pro, ApiError> {
    require_pro(member)?;
    pros::table
        .filter(pros::account_id.eq(member.auth.account.id))
        .select(Pro::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| {
            ApiError::new(StatusCode::CONFLICT, "no-profile", "Conflict", "set a profile first (PUT /pro/profile)")
        })
}

/// A pro offers a service, optionally at its own price within HQ's bounds.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), params(("code" = String, Path, description = "The service's code", example = "house-cleaning")), responses(
    (status = 200, body = OfferingView),
    (status = 404, description = "unknown-service", body = Problem),
    (status = 409, description = "no-profile: set a profile first", body = Problem),
    (status = 422, description = "invalid-price or outside-hq-bounds", body = Problem),
))]
#[put("/pro/offerings/{code}")]
async fn put_offering(
    member: TerritoryMember,
    path: web::Path<String>,
    body: web::Json<Offering>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    let pro = own_pro(&member, &mut conn).await?;
    let service = store::service(&mut conn, &path)
        .await?
        .filter(|service| service.active)
        .ok_or_else(|| ApiError::not_found("unknown-service", format!("there is no service {:?}", path.as_str())))?;
    if let Some(price) = body.price {
        check_price("price", price).map_err(|e| ApiError::unprocessable("invalid-price", e))?;
        if price < service.min_price || price > service.max_price {
            return Err(ApiError::unprocessable(
                "outside-hq-bounds",
                format!("price must be between {} and {} for {}", service.min_price, service.max_price, service.code),
            ));
        }
    }
    diesel::insert_into(pro_offerings::table)
        .values((
            pro_offerings::pro_id.eq(pro.id),
            pro_offerings::service_code.eq(&service.code),
            pro_offerings::price.eq(body.price),
        ))
        .on_conflict((pro_offerings::pro_id, pro_offerings::service_code))
        .do_update()
        .set(pro_offerings::price.eq(body.price))
        .execute(&mut *conn)
        .await?;
    Ok(HttpResponse::Ok().json(OfferingView { service: service.code, price: body.price.map(Money::euros) }))
}

/// A pro stops offering a service.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), params(("code" = String, Path, description = "The service's code", example = "house-cleaning")), responses(
    (status = 204, description = "No longer offered"),
    (status = 404, description = "no-offering", body = Problem),
    (status = 409, description = "no-profile", body = Problem),
))]
#[delete("/pro/offerings/{code}")]
async fn delete_offering(member: TerritoryMember, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    let pro = own_pro(&member, &mut conn).await?;
    let deleted = diesel::delete(pro_offerings::table.find((pro.id, path.as_str()))).execute(&mut *conn).await?;
    if deleted == 1 {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("no-offering", "not offered"))
    }
}

/// Which service.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ServiceQuery {
    /// The service's code.
    #[param(example = "house-cleaning")]
    service: String,
}

/// id, display name, bio, languages and postcodes of a listed pro.
type PublicProRow = (Uuid, String, String, Vec<String>, Vec<String>);

/// A pro as the public sees it: the approved profile only.
#[derive(Serialize, ToSchema)]
struct PublicPro {
    id: Uuid,
    display_name: String,
    bio: String,
    languages: Vec<String>,
    postcodes: Vec<String>,
    /// What a booking with this pro costs, VAT included: the pro's own price
    /// or the territory's, within HQ's bounds.
    price: Money,
}

/// The pros offering a service.
#[derive(Serialize, ToSchema)]
struct PublicPros {
    service: String,
    pros: Vec<PublicPro>,
}

/// Every pro of a territory.
#[derive(Serialize, ToSchema)]
struct AllPros {
    pros: Vec<Pro>,
}

/// The territory's active pros for a service it offers today, public fields
/// only, each with the price a booking with it costs.
#[utoipa::path(tag = "pros", params(ServiceQuery), responses(
    (status = 200, body = PublicPros),
    (status = 404, description = "unknown-service: no such service, or not offered here (inactive at HQ, or disabled by the territory)", body = Problem),
))]
#[get("/pros")]
async fn public_pros(current: CurrentTerritory, query: web::Query<ServiceQuery>) -> Result<HttpResponse, ApiError> {
    let mut conn = current.connection().await?;
    let today = local_date(current.territory());
    // The effective catalog leaves out what HQ made inactive and what the
    // territory disabled: booking those answers 404, and so does this.
    let service = effective_catalog(&mut conn, today)
        .await?
        .into_iter()
        .find(|service| service.code == query.service)
        .ok_or_else(|| {
            ApiError::not_found("unknown-service", format!("this territory does not offer {:?}", query.service))
        })?;
    let rows: Vec<PublicProRow> = pros::table
        .inner_join(pro_offerings::table)
        .filter(pros::status.eq("active"))
        .filter(pro_offerings::service_code.eq(&service.code))
        .order(pros::display_name)
        .select((pros::id, pros::display_name, pros::bio, pros::languages, pros::postcodes))
        .load(&mut *conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.0).collect();
    let prices = pro_prices(&mut conn, &service, &ids).await?;
    let pros: Vec<PublicPro> = rows
        .into_iter()
        .map(|(id, display_name, bio, languages, postcodes)| PublicPro {
            price: Money::euros(prices.get(&id).copied().unwrap_or_else(|| customer_price(&service, None))),
            id,
            display_name,
            bio,
            languages,
            postcodes,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PublicPros { service: service.code, pros }))
}

/// Every pro of the territory with its status, for the franchisee.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), responses((status = 200, body = AllPros)))]
#[get("/pros/all")]
async fn manage_pros(franchisee: TerritoryFranchisee) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    let all: Vec<Pro> = pros::table.order(pros::created_at).select(Pro::as_select()).load(&mut *conn).await?;
    Ok(HttpResponse::Ok().json(AllPros { pros: all }))
}

/// What the franchisee makes of a pro.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum ProStatus {
    Active,
    Paused,
    Offboarded,
}

/// A pro's new status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "active"}))]
struct StatusChange {
    status: ProStatus,
}

/// The franchisee approves (active), pauses or offboards a pro.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The pro's id")), responses(
    (status = 200, body = Pro),
    (status = 409, description = "invalid-status-change: no such pro, or not from its current status", body = Problem),
))]
#[post("/pros/{id}/status")]
async fn set_status(
    franchisee: TerritoryFranchisee,
    path: web::Path<Uuid>,
    body: web::Json<StatusChange>,
) -> Result<HttpResponse, ApiError> {
    let (to, from): (&str, &[&str]) = match body.status {
        ProStatus::Active => ("active", &["pending_approval", "paused"]),
        ProStatus::Paused => ("paused", &["active"]),
        ProStatus::Offboarded => ("offboarded", &["invited", "pending_approval", "active", "paused"]),
    };
    let mut conn = franchisee.territory.connection().await?;
    let changed: Option<Pro> = diesel::update(pros::table.find(*path).filter(pros::status.eq_any(from)))
        .set((pros::status.eq(to), pros::updated_at.eq(diesel::dsl::now)))
        .returning(Pro::as_returning())
        .get_result(&mut *conn)
        .await
        .optional()?;
    changed.map(|pro| HttpResponse::Ok().json(pro)).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "invalid-status-change",
            "Conflict",
            format!("no pro {} can become {to}", path.as_ref()),
        )
    })
}

/// The pro operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(public_pros, put_offering, delete_offering, manage_pros, set_status))]
pub struct Doc;
