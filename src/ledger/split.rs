//! Splitting a booking's gross amount into VAT, franchise fee, HQ fee and the
//! pro's share so that the parts always sum exactly to the whole, to the cent.
//!
//! Rounding each part on its own fails to add up for about a quarter of all
//! amounts (14/6/80: €0.03 becomes 0 + 0 + 2). The net is split by largest
//! remainder with a fixed tie order instead; refunds move each part towards
//! its share of the total refunded so far, so repeated refunds never drift.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::vat_included;

/// An amount in euro cents.
pub type Cents = i64;

/// The rates a split applies: the VAT rate inside the gross amount and the
/// contract's franchise and HQ rates on the net.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitRates {
    pub vat: Decimal,
    pub franchise: Decimal,
    pub hq: Decimal,
}

/// What a gross amount becomes. Every part is at least zero and the parts sum
/// to the gross amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Parts {
    pub vat: Cents,
    pub franchise: Cents,
    pub hq: Cents,
    pub pro: Cents,
}

/// The order in which tied remainders get their cent: the pro, who did the
/// work, first; then the franchisee; then HQ.
const TIE_ORDER: [usize; 3] = [2, 0, 1];

impl Parts {
    /// The sum of the parts.
    pub fn total(&self) -> Cents {
        self.vat + self.franchise + self.hq + self.pro
    }

    fn to_array(self) -> [Cents; 4] {
        [self.vat, self.franchise, self.hq, self.pro]
    }

    fn from_array([vat, franchise, hq, pro]: [Cents; 4]) -> Self {
        Self { vat, franchise, hq, pro }
    }

    /// Part by part, `self - other`.
    pub fn minus(&self, other: &Parts) -> Parts {
        let (a, b) = (self.to_array(), other.to_array());
        Self::from_array(std::array::from_fn(|i| a[i] - b[i]))
    }

    /// Part by part, `self + other`.
    pub fn plus(&self, other: &Parts) -> Parts {
        let (a, b) = (self.to_array(), other.to_array());
        Self::from_array(std::array::from_fn(|i| a[i] + b[i]))
    }
}

/// Splits `gross` cents (VAT included): the VAT inside it, rounded to the
/// cent as on the invoice, then the net by largest remainder.
pub fn split(gross: Cents, rates: &SplitRates) -> Parts {
    let vat = to_cents(vat_included(to_euros(gross), rates.vat).amount()).clamp(0, gross.max(0));
    let net = gross - vat;
    let pro_rate = Decimal::ONE - rates.franchise - rates.hq;
    let [franchise, hq, pro] = largest_remainder(net, [rates.franchise, rates.hq, pro_rate]);
    Parts { vat, franchise, hq, pro }
}

/// Divides `whole` cents by `weights` (summing to one): each part its share
/// rounded down, then the cents left over to the largest remainders, ties in
/// [`TIE_ORDER`].
fn largest_remainder(whole: Cents, weights: [Decimal; 3]) -> [Cents; 3] {
    let whole_decimal = Decimal::from(whole);
    let exact: [Decimal; 3] = weights.map(|weight| whole_decimal * weight);
    let mut parts: [Cents; 3] = exact.map(|share| i64::try_from(share.floor()).unwrap_or(0));
    let left = whole - parts.iter().sum::<Cents>();
    let mut order = TIE_ORDER;
    // A stable sort keeps the tie order among equal remainders.
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).cmp(&(exact[a] - exact[a].floor())));
    for &index in order.iter().take(usize::try_from(left).unwrap_or(0)) {
        parts[index] += 1;
    }
    parts
}

/// Why a refund cannot be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("a refund is at least one cent")]
    NotPositive,
    #[error("a refund of {asked} cents is more than the {left} cents left to refund")]
    MoreThanLeft { asked: Cents, left: Cents },
}

/// The parts a refund of `refund` cents takes back, given what was captured
/// and what earlier refunds took. The parts refunded so far move towards the
/// split of the total refunded so far, never below what earlier refunds took
/// and never above what was captured, so no part is ever negative, no part is
/// refunded beyond its capture, and a full refund returns exactly the capture.
pub fn refund_parts(
    captured: &Parts,
    refunded_before: &Parts,
    refund: Cents,
    rates: &SplitRates,
) -> Result<Parts, RefundError> {
    let left = captured.total() - refunded_before.total();
    if refund <= 0 {
        return Err(RefundError::NotPositive);
    }
    if refund > left {
        return Err(RefundError::MoreThanLeft { asked: refund, left });
    }
    let total_after = refunded_before.total() + refund;
    let target = if refund == left { *captured } else { split(total_after, rates) }.to_array();
    let (low, high) = (refunded_before.to_array(), captured.to_array());
    let mut after: [Cents; 4] = std::array::from_fn(|i| target[i].clamp(low[i], high[i]));
    // Clamping may leave the sum a few cents off; move single cents where the
    // gap to the target is largest (ties to the lower index: VAT first).
    let mut gap = total_after - after.iter().sum::<Cents>();
    while gap != 0 {
        let step = gap.signum();
        let room = |i: usize| if step > 0 { after[i] < high[i] } else { after[i] > low[i] };
        let want = |i: usize| (target[i] - after[i]) * step;
        let Some(index) = (0..4).filter(|&i| room(i)).max_by_key(|&i| (want(i), std::cmp::Reverse(i))) else {
            break;
        };
        after[index] += step;
        gap -= step;
    }
    Ok(Parts::from_array(after).minus(refunded_before))
}

/// Euros (two decimals) to cents.
pub fn to_cents(amount: Decimal) -> Cents {
    i64::try_from((amount * Decimal::ONE_HUNDRED).round()).unwrap_or(0)
}

/// Cents to euros.
pub fn to_euros(cents: Cents) -> Decimal {
    Decimal::new(cents, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn standard(vat: &str) -> SplitRates {
        SplitRates { vat: dec(vat), franchise: dec("0.14"), hq: dec("0.06") }
    }

    #[test]
    fn three_cents_do_not_vanish() {
        // Independent rounding of 0.42 + 0.18 + 2.4 gives 0 + 0 + 2 = 2 of 3
        // cents; the missing cent goes to the largest remainder, the .42.
        let parts = split(3, &standard("0"));
        assert_eq!(parts, Parts { vat: 0, franchise: 1, hq: 0, pro: 2 });
    }

    #[test]
    fn a_booking_of_58_euros_at_9_percent_vat_splits_as_by_hand() {
        // VAT 5800 × 9/109 = 478.9 -> 479 cents; net 5321; 14% = 744.94,
        // 6% = 319.26, 80% = 4256.8: floors 744 + 319 + 4256 = 5319 leave
        // two cents, for the largest remainders .94 and .8.
        let parts = split(5800, &standard("0.09"));
        assert_eq!(parts, Parts { vat: 479, franchise: 745, hq: 319, pro: 4257 });
        assert_eq!(parts.total(), 5800);
    }

    #[test]
    fn ties_go_to_the_pro_then_the_franchisee() {
        // 50/50 between franchisee and HQ, nothing to the pro: 1 cent ties.
        let rates = SplitRates { vat: dec("0"), franchise: dec("0.5"), hq: dec("0.5") };
        assert_eq!(split(1, &rates), Parts { vat: 0, franchise: 1, hq: 0, pro: 0 });
        let thirds = SplitRates { vat: dec("0"), franchise: dec("0.333333"), hq: dec("0.333333") };
        assert_eq!(split(1, &thirds).pro, 1);
    }

    #[test]
    fn refunds_outside_what_is_left_are_refused() {
        let rates = standard("0.21");
        let captured = split(1000, &rates);
        assert_eq!(refund_parts(&captured, &Parts::default(), 0, &rates), Err(RefundError::NotPositive));
        assert_eq!(
            refund_parts(&captured, &Parts::default(), 1001, &rates),
            Err(RefundError::MoreThanLeft { asked: 1001, left: 1000 })
        );
    }

    fn rates_strategy() -> impl Strategy<Value = SplitRates> {
        (0u32..=3000, 0u32..=1_000_000, 0u32..=1_000_000).prop_filter_map("rates sum to at most 1", |(v, f, h)| {
            (f + h <= 1_000_000).then(|| SplitRates {
                vat: Decimal::new(i64::from(v), 4),
                franchise: Decimal::new(i64::from(f), 6),
                hq: Decimal::new(i64::from(h), 6),
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn a_split_sums_exactly_and_each_part_is_within_a_cent_of_its_share(
            gross in 0i64..=100_000_000, rates in rates_strategy()
        ) {
            let parts = split(gross, &rates);
            prop_assert_eq!(parts.total(), gross);
            prop_assert!(parts.to_array().iter().all(|&part| part >= 0), "{:?}", parts);
            let net = Decimal::from(gross - parts.vat);
            for (part, rate) in [(parts.franchise, rates.franchise), (parts.hq, rates.hq),
                                 (parts.pro, Decimal::ONE - rates.franchise - rates.hq)] {
                prop_assert!((Decimal::from(part) - net * rate).abs() < Decimal::ONE, "{:?}", parts);
            }
        }

        #[test]
        fn refunds_never_drift_never_go_negative_and_never_exceed_the_capture(
            gross in 1i64..=10_000_000,
            rates in rates_strategy(),
            fractions in prop::collection::vec(1u32..=1000, 1..8),
        ) {
            let captured = split(gross, &rates);
            let mut refunded = Parts::default();
            for fraction in fractions {
                let left = gross - refunded.total();
                if left == 0 { break; }
                let refund = (left * i64::from(fraction) / 1000).max(1);
                let parts = refund_parts(&captured, &refunded, refund, &rates).unwrap();
                prop_assert_eq!(parts.total(), refund);
                prop_assert!(parts.to_array().iter().all(|&part| part >= 0), "{:?}", parts);
                refunded = refunded.plus(&parts);
                let (so_far, cap) = (refunded.to_array(), captured.to_array());
                prop_assert!((0..4).all(|i| so_far[i] <= cap[i]), "{:?} above {:?}", refunded, captured);
                // The refunded parts stay within two cents of the split of
                // the total refunded: nothing drifts.
                let ideal = split(refunded.total(), &rates).to_array();
                prop_assert!((0..4).all(|i| (so_far[i] - ideal[i]).abs() <= 2), "{:?} vs {:?}", refunded, ideal);
            }
            let rest = gross - refunded.total();
            if rest > 0 {
                let last = refund_parts(&captured, &refunded, rest, &rates).unwrap();
                prop_assert_eq!(refunded.plus(&last), captured);
            } else {
                prop_assert_eq!(refunded, captured);
            }
        }
    }
}
