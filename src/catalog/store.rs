//! Queries on HQ's catalog (hq schema) and on a territory's tailoring of it
//! (tenant schema, through the territory-bound connection).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{NewService, Service, ServiceChange};
use crate::schema::tenant::service_overrides;
use crate::schema::{catalog_changes, service_categories, services, vat_categories, vat_rates};

/// Every service, active or not, by code.
pub async fn services(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Service>> {
    services::table.order(services::code).select(Service::as_select()).load(conn).await
}

/// One service.
pub async fn service(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<Service>> {
    services::table.find(code).select(Service::as_select()).first(conn).await.optional()
}

/// Whether a category and a VAT category exist.
pub async fn references_exist(
    conn: &mut AsyncPgConnection,
    category: &str,
    vat_category: &str,
) -> QueryResult<(bool, bool)> {
    let category: i64 =
        service_categories::table.filter(service_categories::code.eq(category)).count().get_result(conn).await?;
    let vat: i64 = vat_categories::table.filter(vat_categories::code.eq(vat_category)).count().get_result(conn).await?;
    Ok((category == 1, vat == 1))
}

/// Adds a service; false when the code is taken.
pub async fn insert_service(conn: &mut AsyncPgConnection, new: &NewService) -> QueryResult<bool> {
    let inserted = diesel::insert_into(services::table).values(new).on_conflict_do_nothing().execute(conn).await?;
    Ok(inserted == 1)
}

/// Changes a service.
pub async fn update_service(conn: &mut AsyncPgConnection, code: &str, change: &ServiceChange) -> QueryResult<Service> {
    diesel::update(services::table.find(code))
        .set((change, services::updated_at.eq(diesel::dsl::now)))
        .returning(Service::as_returning())
        .get_result(conn)
        .await
}

/// Adds a service category; false when the code is taken.
pub async fn insert_category(
    conn: &mut AsyncPgConnection,
    code: &str,
    name_nl: &str,
    name_en: &str,
    position: i32,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(service_categories::table)
        .values((
            service_categories::code.eq(code),
            service_categories::name_nl.eq(name_nl),
            service_categories::name_en.eq(name_en),
            service_categories::position.eq(position),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Adds a VAT rate from a date; false when the category is unknown or a
/// rate already starts that day.
pub async fn add_vat_rate(
    conn: &mut AsyncPgConnection,
    category: &str,
    effective_from: NaiveDate,
    rate: Decimal,
) -> QueryResult<bool> {
    let known: i64 = vat_categories::table.filter(vat_categories::code.eq(category)).count().get_result(conn).await?;
    if known == 0 {
        return Ok(false);
    }
    let inserted = diesel::insert_into(vat_rates::table)
        .values((
            vat_rates::category.eq(category),
            vat_rates::effective_from.eq(effective_from),
            vat_rates::rate.eq(rate),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Every VAT rate, by category and date.
pub async fn vat_rates(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, NaiveDate, Decimal)>> {
    vat_rates::table
        .order((vat_rates::category, vat_rates::effective_from))
        .select((vat_rates::category, vat_rates::effective_from, vat_rates::rate))
        .load(conn)
        .await
}

/// Records a catalog change for the record.
pub async fn record_change(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    entity: &str,
    code: &str,
    action: &str,
    after: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(catalog_changes::table)
        .values((
            catalog_changes::account_id.eq(account_id),
            catalog_changes::entity.eq(entity),
            catalog_changes::entity_code.eq(code),
            catalog_changes::action.eq(action),
            catalog_changes::after.eq(after),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// A territory's override of a service, as the franchisee sets it. Absent
/// fields take HQ's or the territory's defaults.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, Insertable, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = service_overrides, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Set from the path; a value in the body is ignored.
    #[serde(default)]
    #[schema(read_only)]
    pub service_code: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Including VAT, within HQ's bounds; at most 2 decimals.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "62.50")]
    pub price: Option<Decimal>,
    pub duration_minutes: Option<i32>,
    pub name_nl: Option<String>,
    pub name_en: Option<String>,
    pub description_nl: Option<String>,
    pub description_en: Option<String>,
    pub cancellation_free_hours: Option<i32>,
    /// 0 to 100.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>, example = "50")]
    pub cancellation_fee_percent: Option<Decimal>,
    pub min_notice_minutes: Option<i32>,
    #[serde(skip)]
    pub updated_by: Option<Uuid>,
}

fn enabled_by_default() -> bool {
    true
}

/// Sets (replaces) the territory's override of a service.
pub async fn put_override(conn: &mut AsyncPgConnection, tailoring: &Override) -> QueryResult<()> {
    diesel::insert_into(service_overrides::table)
        .values(tailoring)
        .on_conflict(service_overrides::service_code)
        .do_update()
        .set((tailoring, service_overrides::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Removes the territory's override: HQ's defaults apply again.
pub async fn delete_override(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<bool> {
    diesel::delete(service_overrides::table.find(code)).execute(conn).await.map(|n| n == 1)
}
