//! The effective catalog of a territory: HQ's active services merged with the
//! territory's overrides and defaults, priced with the VAT rate in force on a
//! date. One query, on the territory-bound connection.

use chrono::NaiveDate;
use diesel::sql_types::{Bool, Date, Integer, Numeric, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::{Money, vat_included};

/// One service as a territory offers it on a date.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct EffectiveService {
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub category: String,
    #[diesel(sql_type = Text)]
    pub category_nl: String,
    #[diesel(sql_type = Text)]
    pub category_en: String,
    #[diesel(sql_type = Text)]
    pub name_nl: String,
    #[diesel(sql_type = Text)]
    pub name_en: String,
    #[diesel(sql_type = Text)]
    pub description_nl: String,
    #[diesel(sql_type = Text)]
    pub description_en: String,
    #[diesel(sql_type = Integer)]
    pub duration_minutes: i32,
    /// Including VAT, held within HQ's bounds.
    #[diesel(sql_type = Numeric)]
    pub price: Decimal,
    /// HQ's lowest price for the service, VAT included.
    #[diesel(sql_type = Numeric)]
    pub min_price: Decimal,
    /// HQ's highest price for the service, VAT included.
    #[diesel(sql_type = Numeric)]
    pub max_price: Decimal,
    #[diesel(sql_type = Numeric)]
    pub vat_rate: Decimal,
    #[diesel(sql_type = Bool)]
    pub instant_booking: bool,
    #[diesel(sql_type = Integer)]
    pub cancellation_free_hours: i32,
    #[diesel(sql_type = Numeric)]
    pub cancellation_fee_percent: Decimal,
    #[diesel(sql_type = Integer)]
    pub min_notice_minutes: i32,
}

/// The query behind [`effective_catalog`], on the territory bound to the
/// connection (its `settings` and `service_overrides`, unqualified); public so
/// the binding benchmark runs exactly this text.
pub const EFFECTIVE_SQL: &str = "
SELECT s.code, s.category, c.name_nl AS category_nl, c.name_en AS category_en,
       coalesce(o.name_nl, s.name_nl) AS name_nl, coalesce(o.name_en, s.name_en) AS name_en,
       coalesce(o.description_nl, s.description_nl) AS description_nl,
       coalesce(o.description_en, s.description_en) AS description_en,
       -- Tailoring made before HQ narrowed its bounds is held within them.
       least(greatest(coalesce(o.duration_minutes, s.duration_minutes), s.min_duration_minutes),
             s.max_duration_minutes) AS duration_minutes,
       least(greatest(coalesce(o.price, s.base_price), s.min_price), s.max_price) AS price,
       s.min_price, s.max_price,
       r.rate AS vat_rate,
       s.instant_booking,
       coalesce(o.cancellation_free_hours, st.cancellation_free_hours) AS cancellation_free_hours,
       coalesce(o.cancellation_fee_percent, st.cancellation_fee_percent) AS cancellation_fee_percent,
       coalesce(o.min_notice_minutes, st.min_notice_minutes) AS min_notice_minutes
  FROM hq.services s
  JOIN hq.service_categories c ON c.code = s.category
  CROSS JOIN settings st
  LEFT JOIN service_overrides o ON o.service_code = s.code
  JOIN LATERAL (SELECT v.rate FROM hq.vat_rates v
                 WHERE v.category = s.vat_category AND v.effective_from <= $1
                 ORDER BY v.effective_from DESC LIMIT 1) r ON true
 WHERE s.active AND coalesce(o.enabled, true)
 ORDER BY c.position, c.code, s.code";

/// The services the territory on this connection offers on `date`.
pub async fn effective_catalog(
    conn: &mut AsyncPgConnection,
    date: NaiveDate,
) -> diesel::QueryResult<Vec<EffectiveService>> {
    diesel::sql_query(EFFECTIVE_SQL).bind::<Date, _>(date).load(conn).await
}

/// The language of a public answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Dutch,
    English,
}

impl Language {
    /// The first of nl or en in an Accept-Language header, else the
    /// territory's locale.
    pub fn negotiate(accept_language: Option<&str>, territory_locale: &str) -> Self {
        let mut ranges: Vec<(f32, &str)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|range| {
                let mut parts = range.trim().split(';');
                let tag = parts.next()?.trim();
                let quality =
                    parts.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
                Some((quality, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        let chosen = ranges.iter().filter(|(q, _)| *q > 0.0).find_map(|(_, tag)| Self::from_tag(tag));
        chosen.or_else(|| Self::from_tag(territory_locale)).unwrap_or(Self::Dutch)
    }

    fn from_tag(tag: &str) -> Option<Self> {
        match tag.split('-').next()?.to_ascii_lowercase().as_str() {
            "nl" => Some(Self::Dutch),
            "en" => Some(Self::English),
            _ => None,
        }
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Dutch => "nl",
            Self::English => "en",
        }
    }
}

/// A service in a public answer, in one language.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicService<'a> {
    pub code: &'a str,
    pub category: &'a str,
    pub category_name: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub duration_minutes: i32,
    /// Including VAT.
    pub price: Money,
    /// A fraction: 0.21 is 21%.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "0.21")]
    pub vat_rate: Decimal,
    /// The VAT inside the price.
    pub vat: Money,
    pub instant_booking: bool,
    pub min_notice_minutes: i32,
    pub cancellation: CancellationPolicy,
}

/// Free until some hours before the start; a share of the price after that.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct CancellationPolicy {
    pub free_until_hours_before: i32,
    /// Of the price, 0 to 100.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "50")]
    pub fee_percent: Decimal,
}

impl EffectiveService {
    /// This service in `language`.
    pub fn public(&self, language: Language) -> PublicService<'_> {
        let (category_name, name, description) = match language {
            Language::Dutch => (&self.category_nl, &self.name_nl, &self.description_nl),
            Language::English => (&self.category_en, &self.name_en, &self.description_en),
        };
        PublicService {
            code: &self.code,
            category: &self.category,
            category_name,
            name,
            description,
            duration_minutes: self.duration_minutes,
            price: Money::euros(self.price),
            vat_rate: self.vat_rate.normalize(),
            vat: vat_included(self.price, self.vat_rate),
            instant_booking: self.instant_booking,
            min_notice_minutes: self.min_notice_minutes,
            cancellation: CancellationPolicy {
                free_until_hours_before: self.cancellation_free_hours,
                fee_percent: self.cancellation_fee_percent.normalize(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Language::negotiate(Some("en-GB,en;q=0.9,nl;q=0.8"), "nl-NL"), Language::English);
        assert_eq!(Language::negotiate(Some("de-DE, nl;q=0.5, en;q=0.7"), "nl-NL"), Language::English);
        assert_eq!(Language::negotiate(Some("fr"), "nl-NL"), Language::Dutch);
        assert_eq!(Language::negotiate(None, "en-GB"), Language::English);
        assert_eq!(Language::negotiate(Some("en;q=0, nl"), "en-GB"), Language::Dutch);
    }
}
