//! Bookings: their states, who may move them where, and the cancellation fee
//! of the snapshotted policy.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::Money;

/// Where a booking is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Held,
    AwaitingPro,
    Confirmed,
    Completed,
    Declined,
    Expired,
    Cancelled,
    NoShow,
    Rescheduled,
}

impl Status {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::AwaitingPro => "awaiting_pro",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::NoShow => "no_show",
            Self::Rescheduled => "rescheduled",
        }
    }

    /// Reads a stored value (the CHECK constraint keeps others out).
    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "held" => Self::Held,
            "awaiting_pro" => Self::AwaitingPro,
            "confirmed" => Self::Confirmed,
            "completed" => Self::Completed,
            "declined" => Self::Declined,
            "expired" => Self::Expired,
            "cancelled" => Self::Cancelled,
            "no_show" => Self::NoShow,
            _ => Self::Rescheduled,
        }
    }
}

/// Who acts on a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Customer,
    Pro,
    Franchisee,
    System,
}

impl Actor {
    /// As stored in booking_events.actor.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Pro => "pro",
            Self::Franchisee => "franchisee",
            Self::System => "system",
        }
    }
}

/// What can be done to a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Decline,
    Cancel,
    Reschedule,
    Complete,
    NoShow,
    ExpireHold,
    ExpireResponse,
}

/// Why an action is refused: not allowed to this actor (403) or not from
/// this state (409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotYours(&'static str),
    WrongState(Status),
}

/// The state `action` by `actor` leads to from `status`, or why not.
pub fn transition(status: Status, action: Action, actor: Actor) -> Result<Status, Refusal> {
    use Action as A;
    use Actor as W;
    use Status as S;
    let allowed_actors: &[Actor] = match action {
        A::Accept | A::Decline => &[W::Pro],
        A::Cancel => &[W::Customer, W::Pro, W::Franchisee],
        A::Reschedule => &[W::Customer, W::Franchisee],
        A::Complete | A::NoShow => &[W::Pro, W::Franchisee],
        A::ExpireHold | A::ExpireResponse => &[W::System],
    };
    if !allowed_actors.contains(&actor) {
        return Err(Refusal::NotYours("this action is not yours to take on this booking"));
    }
    match (action, status) {
        (A::Accept, S::AwaitingPro) => Ok(S::Confirmed),
        (A::Decline, S::AwaitingPro) => Ok(S::Declined),
        (A::Cancel, S::Held | S::AwaitingPro | S::Confirmed) => Ok(S::Cancelled),
        (A::Reschedule, S::AwaitingPro | S::Confirmed) => Ok(S::Rescheduled),
        (A::Complete, S::Confirmed) => Ok(S::Completed),
        (A::NoShow, S::Confirmed) => Ok(S::NoShow),
        (A::ExpireHold, S::Held) | (A::ExpireResponse, S::AwaitingPro) => Ok(S::Expired),
        (_, from) => Err(Refusal::WrongState(from)),
    }
}

/// The fee for cancelling at `now` a booking of `price` starting at
/// `starts_at`, under the snapshotted policy: free until `free_hours` before
/// the start, `fee_percent` of the price after that. A pro or franchisee who
/// cancels never charges the customer.
pub fn cancellation_fee(
    price: Decimal,
    starts_at: DateTime<Utc>,
    free_hours: i32,
    fee_percent: Decimal,
    now: DateTime<Utc>,
    actor: Actor,
) -> Money {
    if actor != Actor::Customer || now < starts_at - Duration::hours(i64::from(free_hours)) {
        return Money::euros(Decimal::ZERO);
    }
    Money::euros(price * fee_percent / Decimal::ONE_HUNDRED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn only_the_pro_accepts_and_only_while_it_awaits_the_pro() {
        assert_eq!(transition(Status::AwaitingPro, Action::Accept, Actor::Pro), Ok(Status::Confirmed));
        assert!(matches!(transition(Status::AwaitingPro, Action::Accept, Actor::Customer), Err(Refusal::NotYours(_))));
        assert_eq!(
            transition(Status::Confirmed, Action::Accept, Actor::Pro),
            Err(Refusal::WrongState(Status::Confirmed))
        );
    }

    #[test]
    fn finished_bookings_move_no_further() {
        for done in [
            Status::Completed,
            Status::Declined,
            Status::Expired,
            Status::Cancelled,
            Status::NoShow,
            Status::Rescheduled,
        ] {
            for (action, actor) in [
                (Action::Accept, Actor::Pro),
                (Action::Cancel, Actor::Customer),
                (Action::Complete, Actor::Pro),
                (Action::Reschedule, Actor::Customer),
                (Action::ExpireHold, Actor::System),
            ] {
                assert_eq!(transition(done, action, actor), Err(Refusal::WrongState(done)), "{done:?} {action:?}");
            }
        }
    }

    #[test]
    fn timers_only_expire_what_still_waits() {
        assert_eq!(transition(Status::Held, Action::ExpireHold, Actor::System), Ok(Status::Expired));
        assert_eq!(
            transition(Status::Confirmed, Action::ExpireHold, Actor::System),
            Err(Refusal::WrongState(Status::Confirmed))
        );
        assert!(matches!(transition(Status::Held, Action::ExpireHold, Actor::Customer), Err(Refusal::NotYours(_))));
    }

    #[test]
    fn the_fee_follows_the_snapshotted_policy() {
        let start = DateTime::parse_from_rfc3339("2026-06-10T10:00:00Z").unwrap().with_timezone(&Utc);
        let price = Decimal::from_str("62.00").unwrap();
        let fifty = Decimal::from(50);
        let early = start - Duration::hours(25);
        let late = start - Duration::hours(23);
        assert_eq!(cancellation_fee(price, start, 24, fifty, early, Actor::Customer).amount(), Decimal::ZERO);
        assert_eq!(cancellation_fee(price, start, 24, fifty, late, Actor::Customer).amount(), Decimal::from(31));
        assert_eq!(cancellation_fee(price, start, 24, fifty, late, Actor::Pro).amount(), Decimal::ZERO);
    }
}
