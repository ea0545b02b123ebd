//! HQ's catalog rows and the forms that create and change them, validated.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::schema::services;

/// A row of `hq.services`.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
pub struct Service {
    pub code: String,
    pub category: String,
    pub name_nl: String,
    pub name_en: String,
    pub description_nl: String,
    pub description_en: String,
    pub duration_minutes: i32,
    pub min_duration_minutes: i32,
    pub max_duration_minutes: i32,
    /// Including VAT, as a decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "62.00")]
    pub base_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "45.00")]
    pub min_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "95.00")]
    pub max_price: Decimal,
    pub vat_category: String,
    pub instant_booking: bool,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

/// A new service, as HQ posts it.
#[derive(Debug, Clone, Deserialize, Insertable, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = services)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "window-cleaning", "category": "cleaning", "name_nl": "Ramen lappen", "name_en": "Window cleaning",
    "duration_minutes": 60, "min_duration_minutes": 30, "max_duration_minutes": 180,
    "base_price": "45.00", "min_price": "35.00", "max_price": "80.00", "vat_category": "standard"
}))]
pub struct NewService {
    pub code: String,
    pub category: String,
    pub name_nl: String,
    pub name_en: String,
    #[serde(default)]
    pub description_nl: String,
    #[serde(default)]
    pub description_en: String,
    pub duration_minutes: i32,
    pub min_duration_minutes: i32,
    pub max_duration_minutes: i32,
    pub base_price: Decimal,
    pub min_price: Decimal,
    pub max_price: Decimal,
    pub vat_category: String,
    #[serde(default)]
    pub instant_booking: bool,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// Changes to a service; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, AsChangeset, utoipa::ToSchema)]
#[diesel(table_name = services)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"base_price": "49.00", "active": true}))]
pub struct ServiceChange {
    pub category: Option<String>,
    pub name_nl: Option<String>,
    pub name_en: Option<String>,
    pub description_nl: Option<String>,
    pub description_en: Option<String>,
    pub duration_minutes: Option<i32>,
    pub min_duration_minutes: Option<i32>,
    pub max_duration_minutes: Option<i32>,
    pub base_price: Option<Decimal>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    pub vat_category: Option<String>,
    pub instant_booking: Option<bool>,
    pub active: Option<bool>,
}

impl ServiceChange {
    /// `service` with these changes applied (for validating the result).
    pub fn applied_to(&self, service: &Service) -> NewService {
        NewService {
            code: service.code.clone(),
            category: self.category.clone().unwrap_or_else(|| service.category.clone()),
            name_nl: self.name_nl.clone().unwrap_or_else(|| service.name_nl.clone()),
            name_en: self.name_en.clone().unwrap_or_else(|| service.name_en.clone()),
            description_nl: self.description_nl.clone().unwrap_or_else(|| service.description_nl.clone()),
            description_en: self.description_en.clone().unwrap_or_else(|| service.description_en.clone()),
            duration_minutes: self.duration_minutes.unwrap_or(service.duration_minutes),
            min_duration_minutes: self.min_duration_minutes.unwrap_or(service.min_duration_minutes),
            max_duration_minutes: self.max_duration_minutes.unwrap_or(service.max_duration_minutes),
            base_price: self.base_price.unwrap_or(service.base_price),
            min_price: self.min_price.unwrap_or(service.min_price),
            max_price: self.max_price.unwrap_or(service.max_price),
            vat_category: self.vat_category.clone().unwrap_or_else(|| service.vat_category.clone()),
            instant_booking: self.instant_booking.unwrap_or(service.instant_booking),
            active: self.active.unwrap_or(service.active),
        }
    }
}

/// Checks a text's length in characters.
pub fn check_text(field: &str, value: &str, min: usize, max: usize) -> Result<(), String> {
    let length = value.chars().count();
    if (min..=max).contains(&length) { Ok(()) } else { Err(format!("{field} has {min} to {max} characters")) }
}

/// Checks a price: positive, at most 2 decimals, below a million.
pub fn check_price(field: &str, value: Decimal) -> Result<(), String> {
    if value <= Decimal::ZERO || value.normalize().scale() > 2 || value >= Decimal::from(1_000_000) {
        return Err(format!("{field} is a positive amount in euros with at most 2 decimals"));
    }
    Ok(())
}

impl NewService {
    /// Checks every field and the bounds between them.
    pub fn validate(&self) -> Result<(), String> {
        let code_ok = (2..=60).contains(&self.code.len())
            && self.code.starts_with(|c: char| c.is_ascii_lowercase())
            && self.code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !code_ok {
            return Err("code is 2 to 60 characters: a-z, 0-9 and '-', starting with a letter".into());
        }
        check_text("name_nl", &self.name_nl, 1, 200)?;
        check_text("name_en", &self.name_en, 1, 200)?;
        check_text("description_nl", &self.description_nl, 0, 4000)?;
        check_text("description_en", &self.description_en, 0, 4000)?;
        for (field, price) in
            [("base_price", self.base_price), ("min_price", self.min_price), ("max_price", self.max_price)]
        {
            check_price(field, price)?;
        }
        if !(self.min_price <= self.base_price && self.base_price <= self.max_price) {
            return Err("prices must satisfy min_price <= base_price <= max_price".into());
        }
        let durations = [self.min_duration_minutes, self.duration_minutes, self.max_duration_minutes];
        if durations.iter().any(|minutes| !(15..=720).contains(minutes)) || !durations.is_sorted() {
            return Err("durations are 15 to 720 minutes with min <= duration <= max".into());
        }
        Ok(())
    }
}
