//! An onboarding request as the CLI, the CSV import and the HQ API receive it,
//! turned into a validated [`NewTerritory`].

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::model::ContractRates;
use super::provision::NewTerritory;
use super::settings::{CustomDomain, Locale, TimeZone};
use super::slug::TerritorySlug;

/// Raw onboarding fields; empty optional fields take the defaults.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"slug": "haarlem", "name": "Haarlem", "timezone": "Europe/Amsterdam", "locale": "nl-NL", "franchise_rate": "0.14", "hq_rate": "0.06"}))]
pub struct OnboardingRequest {
    pub slug: String,
    pub name: String,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub franchise_rate: Option<Decimal>,
    pub hq_rate: Option<Decimal>,
    pub contract_from: Option<NaiveDate>,
    #[serde(default)]
    pub domains: Vec<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

impl OnboardingRequest {
    /// Validates every field; the message says what is wrong.
    pub fn validate(&self, base_domain: &str) -> Result<NewTerritory, String> {
        let slug = TerritorySlug::parse(self.slug.trim()).map_err(|e| e.to_string())?;
        let name = self.name.trim().to_owned();
        if !(1..=200).contains(&name.chars().count()) {
            return Err("the territory's name has 1 to 200 characters".into());
        }
        let time_zone = present(&self.timezone).map(TimeZone::parse).transpose()?.unwrap_or_default();
        let locale = present(&self.locale).map(Locale::parse).transpose()?.unwrap_or_default();
        let rates = match (self.franchise_rate, self.hq_rate) {
            (Some(franchise), Some(hq)) => ContractRates::new(franchise, hq).map_err(|e| e.to_string())?,
            (None, None) => ContractRates::standard(),
            _ => return Err("give both the franchise rate and the HQ rate, or neither".into()),
        };
        let domains = self
            .domains
            .iter()
            .map(|domain| CustomDomain::parse(domain, base_domain))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NewTerritory {
            slug,
            name,
            time_zone,
            locale,
            rates,
            contract_from: self
                .contract_from
                .map(crate::http::dates::check)
                .transpose()?
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            domains,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn empty_fields_take_the_defaults() {
        let request = OnboardingRequest {
            slug: "leiden".into(),
            name: "Leiden".into(),
            timezone: Some(" ".into()),
            ..Default::default()
        };
        let new = request.validate("localhost").unwrap();
        assert_eq!(new.time_zone.as_str(), "Europe/Amsterdam");
        assert_eq!(new.locale.as_str(), "nl-NL");
        assert_eq!(new.rates, ContractRates::standard());
    }

    #[test]
    fn each_bad_field_is_named() {
        let base = OnboardingRequest { slug: "leiden".into(), name: "Leiden".into(), ..Default::default() };
        let bad_rate = OnboardingRequest { franchise_rate: Some(Decimal::from_str("0.2").unwrap()), ..base.clone() };
        assert!(bad_rate.validate("localhost").unwrap_err().contains("both"));
        let bad_zone = OnboardingRequest { timezone: Some("Nowhere/City".into()), ..base.clone() };
        assert!(bad_zone.validate("localhost").unwrap_err().contains("IANA"));
        let bad_name = OnboardingRequest { name: " ".into(), ..base.clone() };
        assert!(bad_name.validate("localhost").unwrap_err().contains("name"));
        let bad_domain = OnboardingRequest { domains: vec!["x.localhost".into()], ..base };
        assert!(bad_domain.validate("localhost").unwrap_err().contains("base domain"));
    }
}
