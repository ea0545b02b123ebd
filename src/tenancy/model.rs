//! The territory as the registry in `hq` knows it.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::schema::{territories, territory_contracts};

/// Where a territory is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TerritoryStatus {
    /// Being onboarded; never visible outside the onboarding transaction.
    Provisioning,
    /// Serving requests.
    Active,
    /// Temporarily closed: the portal answers 403, data untouched.
    Suspended,
    /// Closed for good: the portal answers 410, data kept until dropped.
    Archived,
}

impl TerritoryStatus {
    /// The value stored in `hq.territories.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Archived => "archived",
        }
    }

    /// Reads a stored status; the table's CHECK constraint keeps others out.
    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "archived" => Self::Archived,
            _ => Self::Provisioning,
        }
    }
}

/// A row of `hq.territories`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = territories, check_for_backend(diesel::pg::Pg))]
pub struct TerritoryRow {
    pub id: i64,
    pub slug: String,
    pub display_name: String,
    pub time_zone: String,
    pub locale: String,
    pub status: String,
    pub schema_name: String,
    pub role_name: String,
    pub schema_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A territory: what the router resolves a host to and what binds a connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"slug": "amsterdam", "name": "Amsterdam", "timezone": "Europe/Amsterdam", "locale": "nl-NL", "status": "active"}))]
pub struct Territory {
    #[serde(skip)]
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub locale: String,
    pub status: TerritoryStatus,
    #[serde(skip)]
    pub schema_name: String,
    #[serde(skip)]
    pub role_name: String,
    #[serde(skip)]
    pub schema_version: i32,
}

impl Territory {
    /// The territory's time zone (validated at onboarding; Amsterdam should a
    /// stored name ever not parse).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Amsterdam)
    }

    /// What encrypted values of this territory are bound to: its id, which
    /// (unlike the slug) never changes.
    pub fn sealing_scope(&self) -> String {
        format!("t{}", self.id)
    }
}

impl From<TerritoryRow> for Territory {
    fn from(row: TerritoryRow) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.display_name,
            timezone: row.time_zone,
            locale: row.locale,
            status: TerritoryStatus::from_stored(&row.status),
            schema_name: row.schema_name,
            role_name: row.role_name,
            schema_version: row.schema_version,
        }
    }
}

/// The franchise contract in force from a date: the shares of each booking's
/// amount (excluding VAT) that go to the franchisee and to HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, Insertable, utoipa::ToSchema)]
#[diesel(table_name = territory_contracts, check_for_backend(diesel::pg::Pg))]
pub struct Contract {
    #[serde(skip)]
    pub territory_id: i64,
    pub effective_from: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub franchise_rate: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub hq_rate: Decimal,
}

/// Franchise rates as agreed, validated: each within [0, 1] and together at most 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractRates {
    franchise_rate: Decimal,
    hq_rate: Decimal,
}

/// Why a pair of rates is not a contract.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RatesError {
    #[error("a rate is a fraction between 0 and 1 (0.14 for 14%), got {0}")]
    OutOfRange(Decimal),
    #[error("the franchise rate and the HQ rate together exceed 1: {0} + {1}")]
    SumAboveOne(Decimal, Decimal),
    #[error("a rate has at most 6 decimal places, got {0}")]
    TooPrecise(Decimal),
}

impl ContractRates {
    /// 14% to the franchisee and 6% to HQ: the default contract for a new territory.
    pub fn standard() -> Self {
        Self { franchise_rate: Decimal::new(14, 2), hq_rate: Decimal::new(6, 2) }
    }

    /// Validates a pair of rates.
    pub fn new(franchise_rate: Decimal, hq_rate: Decimal) -> Result<Self, RatesError> {
        for rate in [franchise_rate, hq_rate] {
            if rate < Decimal::ZERO || rate > Decimal::ONE {
                return Err(RatesError::OutOfRange(rate));
            }
            if rate.normalize().scale() > 6 {
                return Err(RatesError::TooPrecise(rate));
            }
        }
        if franchise_rate + hq_rate > Decimal::ONE {
            return Err(RatesError::SumAboveOne(franchise_rate, hq_rate));
        }
        Ok(Self { franchise_rate, hq_rate })
    }

    /// The franchisee's share.
    pub fn franchise_rate(self) -> Decimal {
        self.franchise_rate
    }

    /// HQ's share.
    pub fn hq_rate(self) -> Decimal {
        self.hq_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn standard_contract_is_fourteen_and_six_percent() {
        let rates = ContractRates::standard();
        assert_eq!((rates.franchise_rate(), rates.hq_rate()), (dec("0.14"), dec("0.06")));
    }

    #[test]
    fn rates_out_of_range_or_summing_above_one_are_refused() {
        assert_eq!(ContractRates::new(dec("14"), dec("0.06")), Err(RatesError::OutOfRange(dec("14"))));
        assert_eq!(ContractRates::new(dec("-0.1"), dec("0")), Err(RatesError::OutOfRange(dec("-0.1"))));
        assert_eq!(ContractRates::new(dec("0.6"), dec("0.5")), Err(RatesError::SumAboveOne(dec("0.6"), dec("0.5"))));
        assert!(matches!(ContractRates::new(dec("0.1234567"), dec("0")), Err(RatesError::TooPrecise(_))));
        assert!(ContractRates::new(dec("0.15"), dec("0.05")).is_ok());
    }
}

/// A territory with its contracts and domains, as HQ sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TerritoryReport {
    #[serde(flatten)]
    pub territory: Territory,
    pub schema_version: i32,
    pub contracts: Vec<Contract>,
    pub domains: Vec<String>,
}
