//! Payments: the provider interface and its simulated provider, how a
//! booking's payment follows the booking, refunds, and signed webhooks.

pub mod flow;
pub mod provider;
pub mod refunds;
pub mod routes;
pub mod store;
pub mod webhook;

pub use flow::Payments;
pub use routes::configure;
