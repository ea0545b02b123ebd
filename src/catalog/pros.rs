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
use uuid::Uuid;

use super::model::{check_price, check_text};
use super::store;
use crate::http::ApiError;
use crate::identity::{Role, TerritoryFranchisee, TerritoryMember};
use crate::money::Money;
use crate::schema::tenant::{pro_offerings, pros};
use crate::tenancy::CurrentTerritory;

/// Registers the pro routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(public_pros)
        .service(put_profile)
        .service(put_offering)
        .service(delete_offering)
        .service(manage_pros)
        .service(set_status);
}

/// A row of `pros`.
#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = pros, check_for_backend(diesel::pg::Pg))]
pub struct Pro {
    pub id: Uuid,
    pub account_id: Uuid,
    pub display_name: String,
    pub bio: String,
    pub languages: Vec<String>,
    pub postcodes: Vec<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    display_name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    postcodes: Vec<String>,
}

impl Profile {
    fn validate(&self) -> Result<(), String> {
        check_text("display_name", self.display_name.trim(), 1, 200)?;
        check_text("bio", &self.bio, 0, 4000)?;
        let language_ok = |l: &String| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase());
        if self.languages.len() > 10 || !self.languages.iter().all(language_ok) {
            return Err("languages are up to 10 ISO 639 codes such as nl, en".into());
        }
        let postcode_ok = |p: &String| p.len() == 4 && p.chars().all(|c| c.is_ascii_digit()) && !p.starts_with('0');
        if self.postcodes.len() > 500 || !self.postcodes.iter().all(postcode_ok) {
            return Err("postcodes are up to 500 four-digit postcode areas such as 1011".into());
        }
        Ok(())
    }
}

fn require_pro(member: &TerritoryMember) -> Result<(), ApiError> {
    if member.roles.contains(&Role::Pro) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "not-a-pro", "Forbidden", "this endpoint is for the territory's pros"))
    }
}

/// A pro sets its profile; a new profile waits for the franchisee's approval.
#[put("/pro/profile")]
async fn put_profile(member: TerritoryMember, body: web::Json<Profile>) -> Result<HttpResponse, ApiError> {
    require_pro(&member)?;
    body.validate().map_err(|e| ApiError::unprocessable("invalid-profile", e))?;
    let mut conn = member.territory.connection().await?;
    let pro: Pro = diesel::insert_into(pros::table)
        .values((
            pros::account_id.eq(member.auth.account.id),
            pros::display_name.eq(body.display_name.trim()),
            pros::bio.eq(&body.bio),
            pros::languages.eq(&body.languages),
            pros::postcodes.eq(&body.postcodes),
        ))
        .on_conflict(pros::account_id)
        .do_update()
        .set((
            pros::display_name.eq(body.display_name.trim()),
            pros::bio.eq(&body.bio),
            pros::languages.eq(&body.languages),
            pros::postcodes.eq(&body.postcodes),
            pros::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Pro::as_returning())
        .get_result(&mut *conn)
        .await?;
    Ok(HttpResponse::Ok().json(pro))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Offering {
    #[serde(default, with = "rust_decimal::serde::str_option")]
    price: Option<Decimal>,
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
    Ok(HttpResponse::Ok().json(serde_json::json!({ "service": service.code, "price": body.price.map(Money::euros) })))
}

/// A pro stops offering a service.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceQuery {
    service: String,
}

/// id, display name, bio, languages, postcodes and own price of a listed pro.
type PublicProRow = (Uuid, String, String, Vec<String>, Vec<String>, Option<Decimal>);

/// A pro as the public sees it.
#[derive(Serialize)]
struct PublicPro {
    id: Uuid,
    display_name: String,
    bio: String,
    languages: Vec<String>,
    postcodes: Vec<String>,
    price: Option<Money>,
}

/// The territory's active pros for a service, public fields only.
#[get("/pros")]
async fn public_pros(current: CurrentTerritory, query: web::Query<ServiceQuery>) -> Result<HttpResponse, ApiError> {
    let mut conn = current.connection().await?;
    let service = store::service(&mut conn, &query.service)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown-service", format!("there is no service {:?}", query.service)))?;
    let rows: Vec<PublicProRow> = pros::table
        .inner_join(pro_offerings::table)
        .filter(pros::status.eq("active"))
        .filter(pro_offerings::service_code.eq(&service.code))
        .order(pros::display_name)
        .select((pros::id, pros::display_name, pros::bio, pros::languages, pros::postcodes, pro_offerings::price))
        .load(&mut *conn)
        .await?;
    let pros: Vec<PublicPro> = rows
        .into_iter()
        .map(|(id, display_name, bio, languages, postcodes, price)| PublicPro {
            id,
            display_name,
            bio,
            languages,
            postcodes,
            price: price.map(Money::euros),
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "service": service.code, "pros": pros })))
}

/// Every pro of the territory with its status, for the franchisee.
#[get("/pros/all")]
async fn manage_pros(franchisee: TerritoryFranchisee) -> Result<HttpResponse, ApiError> {
    let mut conn = franchisee.territory.connection().await?;
    let all: Vec<Pro> = pros::table.order(pros::created_at).select(Pro::as_select()).load(&mut *conn).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "pros": all })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum ProStatus {
    Active,
    Paused,
    Offboarded,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: ProStatus,
}

/// The franchisee approves (active), pauses or offboards a pro.
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
