//! A payment provider for tests: the simulated one, keeping a list of what
//! it was asked, so a test can tell how often the provider was reached.

use std::sync::Mutex;
use std::time::Duration;

use careservice::payments::provider::{Authorization, Provider, ProviderError, Simulated};
use futures::future::BoxFuture;
use rust_decimal::Decimal;

/// The simulated provider, counting its calls.
#[derive(Debug, Default)]
pub(crate) struct CountingProvider {
    /// The idempotency key of every authorisation asked for.
    pub(crate) authorizations: Mutex<Vec<String>>,
    /// The reference of every capture.
    pub(crate) captures: Mutex<Vec<String>>,
    /// The reference of every release.
    pub(crate) voids: Mutex<Vec<String>>,
    /// The idempotency key of every refund.
    pub(crate) refunds: Mutex<Vec<String>>,
    /// How long a refund takes: long enough, when set, for racing requests
    /// to get past any check made before the provider was called.
    pub(crate) refund_delay: Duration,
}

impl CountingProvider {
    /// How many entries of `list` mention `about`.
    pub(crate) fn asked(list: &Mutex<Vec<String>>, about: &str) -> usize {
        list.lock().unwrap().iter().filter(|entry| entry.contains(about)).count()
    }
}

impl Provider for CountingProvider {
    fn name(&self) -> &'static str {
        Simulated.name()
    }

    fn authorize<'a>(
        &'a self,
        idempotency_key: &'a str,
        amount: Decimal,
        method: &'a str,
    ) -> BoxFuture<'a, Result<Authorization, ProviderError>> {
        self.authorizations.lock().unwrap().push(idempotency_key.to_owned());
        Simulated.authorize(idempotency_key, amount, method)
    }

    fn capture<'a>(&'a self, reference: &'a str, amount: Decimal) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.captures.lock().unwrap().push(reference.to_owned());
        Simulated.capture(reference, amount)
    }

    fn void<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.voids.lock().unwrap().push(reference.to_owned());
        Simulated.void(reference)
    }

    fn refund<'a>(
        &'a self,
        reference: &'a str,
        idempotency_key: &'a str,
        amount: Decimal,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.refunds.lock().unwrap().push(idempotency_key.to_owned());
        Box::pin(async move {
            tokio::time::sleep(self.refund_delay).await;
            Simulated.refund(reference, idempotency_key, amount).await
        })
    }
}
