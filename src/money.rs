//! Money: exact decimals in euros, never floats; in JSON a string amount and
//! its currency, `{"amount":"12.50","currency":"EUR"}`.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

/// An amount in euros, to the cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"amount": "12.50", "currency": "EUR"}))]
pub struct Money {
    /// A decimal with exactly two decimals, as a string (never a float).
    #[serde(serialize_with = "two_decimals")]
    #[schema(value_type = String, pattern = "^-?[0-9]+\\.[0-9]{2}$", example = "12.50")]
    amount: Decimal,
    /// Always EUR for now.
    #[schema(value_type = String, pattern = "^EUR$", example = "EUR")]
    currency: &'static str,
}

impl Money {
    /// `amount` euros, rounded to the cent (half away from zero).
    pub fn euros(amount: Decimal) -> Self {
        Self { amount: amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero), currency: "EUR" }
    }

    /// The amount.
    pub fn amount(self) -> Decimal {
        self.amount
    }
}

fn two_decimals<S: serde::Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{amount:.2}"))
}

/// The VAT inside a price that includes it: price × rate / (1 + rate), to the cent.
pub fn vat_included(price: Decimal, rate: Decimal) -> Money {
    Money::euros(price * rate / (Decimal::ONE + rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn vat_inside_a_price_is_rounded_to_the_cent() {
        assert_eq!(vat_included(dec("62.00"), dec("0.09")).amount(), dec("5.12"));
        assert_eq!(vat_included(dec("121.00"), dec("0.21")).amount(), dec("21.00"));
        assert_eq!(vat_included(dec("10.00"), dec("0")).amount(), dec("0.00"));
    }

    #[test]
    fn money_serialises_as_a_string_amount_and_a_currency() {
        let json = serde_json::to_string(&Money::euros(dec("12.5"))).unwrap();
        assert_eq!(json, r#"{"amount":"12.50","currency":"EUR"}"#);
    }
}
