//! The one place that decides what a customer sees and pays for a service
//! from a pro: the pro's own price, or the territory's, held within HQ's
//! bounds for the service, with the service looked up on the service date
//! (its VAT rate is the one in force then; HQ's bounds carry no dates, so
//! the bounds as they stand apply to every service date to come). A pro's
//! own price was within the bounds when it was set; when HQ narrows them
//! later the price follows, as the franchisee's tailoring does. The pro list,
//! the slot search and the booking all price through here.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::effective::EffectiveService;
use crate::schema::tenant::pro_offerings;

/// What a customer pays (VAT included) for `service` from a pro whose own
/// price is `own_price` (`None`: the territory's price).
pub fn customer_price(service: &EffectiveService, own_price: Option<Decimal>) -> Decimal {
    own_price.unwrap_or(service.price).clamp(service.min_price, service.max_price)
}

/// What a customer pays for `service` from each of `pros`, by pro; a pro
/// that does not offer the service is absent.
pub async fn pro_prices(
    conn: &mut AsyncPgConnection,
    service: &EffectiveService,
    pros: &[Uuid],
) -> QueryResult<HashMap<Uuid, Decimal>> {
    let own: Vec<(Uuid, Option<Decimal>)> = pro_offerings::table
        .filter(pro_offerings::service_code.eq(&service.code))
        .filter(pro_offerings::pro_id.eq_any(pros))
        .select((pro_offerings::pro_id, pro_offerings::price))
        .load(conn)
        .await?;
    Ok(own.into_iter().map(|(pro, price)| (pro, customer_price(service, price))).collect())
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::customer_price;
    use crate::catalog::effective::EffectiveService;

    fn service(price: i64, min: i64, max: i64) -> EffectiveService {
        EffectiveService {
            code: "house-cleaning".into(),
            category: "cleaning".into(),
            category_nl: String::new(),
            category_en: String::new(),
            name_nl: String::new(),
            name_en: String::new(),
            description_nl: String::new(),
            description_en: String::new(),
            duration_minutes: 60,
            price: Decimal::from(price),
            min_price: Decimal::from(min),
            max_price: Decimal::from(max),
            vat_rate: Decimal::new(21, 2),
            instant_booking: false,
            cancellation_free_hours: 24,
            cancellation_fee_percent: Decimal::from(50),
            min_notice_minutes: 120,
        }
    }

    #[test]
    fn a_price_is_held_within_hqs_bounds() {
        let narrowed = service(45, 30, 45);
        assert_eq!(customer_price(&narrowed, Some(Decimal::from(55))), Decimal::from(45));
        assert_eq!(customer_price(&narrowed, Some(Decimal::from(20))), Decimal::from(30));
        assert_eq!(customer_price(&narrowed, Some(Decimal::from(40))), Decimal::from(40));
        assert_eq!(customer_price(&narrowed, None), Decimal::from(45));
    }
}
