//! The payment provider interface, and the built-in `simulated` provider used
//! by the demo and the tests.
//!
//! Every call carries an idempotency key derived from what it is for
//! (`capture:{payment}`), so a call retried after a crash does nothing twice
//! at the provider.

use futures::future::BoxFuture;
use rust_decimal::Decimal;

/// The outcome of asking the provider to hold money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Held; capture or void it later.
    Authorized { reference: String },
    /// The customer still has to act (3-D Secure); a webhook will tell.
    Pending { reference: String },
    /// Refused by the customer's bank.
    Declined { reference: String, reason: String },
}

/// The provider could not be reached or failed; the caller retries later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("payment provider failed: {0}")]
pub struct ProviderError(pub String);

/// A payment provider: hold, capture, release and give back money.
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// The name webhooks are addressed by (`/payments/webhooks/{name}`).
    fn name(&self) -> &'static str;

    /// Holds `amount` of the customer's `method`.
    fn authorize<'a>(
        &'a self,
        idempotency_key: &'a str,
        amount: Decimal,
        method: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, ProviderError>>;

    /// Takes `amount` of a held payment.
    fn capture<'a>(&'a self, reference: &'a str, amount: Decimal) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Releases a held payment.
    fn void<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Gives back `amount` of a captured payment.
    fn refund<'a>(
        &'a self,
        reference: &'a str,
        idempotency_key: &'a str,
        amount: Decimal,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
}

/// Test cards of the simulated provider.
pub mod test_cards {
    /// Authorised at once.
    pub const OK: &str = "sim-card";
    /// Declined by the bank.
    pub const DECLINED: &str = "sim-card-declined";
    /// Needs 3-D Secure: pending until a `payment.authorized` or
    /// `payment.failed` webhook.
    pub const THREE_D_SECURE: &str = "sim-card-3ds";
    /// The provider is down.
    pub const UNAVAILABLE: &str = "sim-card-unavailable";
}

/// A provider that answers from the card name alone; references derive from
/// the idempotency key, so repeating a call gives the same answer.
#[derive(Debug, Clone, Default)]
pub struct Simulated;

impl Provider for Simulated {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn authorize<'a>(
        &'a self,
        idempotency_key: &'a str,
        _amount: Decimal,
        method: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, ProviderError>> {
        Box::pin(async move {
            let reference = format!("sim_{idempotency_key}");
            match method {
                test_cards::OK => Ok(Authorization::Authorized { reference }),
                test_cards::THREE_D_SECURE => Ok(Authorization::Pending { reference }),
                test_cards::DECLINED => Ok(Authorization::Declined { reference, reason: "card declined".into() }),
                test_cards::UNAVAILABLE => Err(ProviderError("simulated outage".into())),
                _ => Ok(Authorization::Declined { reference, reason: "unknown payment method".into() }),
            }
        })
    }

    fn capture<'a>(&'a self, _reference: &'a str, _amount: Decimal) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }

    fn void<'a>(&'a self, _reference: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }

    fn refund<'a>(
        &'a self,
        _reference: &'a str,
        _idempotency_key: &'a str,
        _amount: Decimal,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Ok(()) })
    }
}
