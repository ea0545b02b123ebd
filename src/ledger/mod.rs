//! The money of a territory: a double-entry ledger in its schema, the exact
//! split of each booking, pro payouts, monthly statements, and the commission
//! events that HQ aggregates from every territory's outbox.

pub mod commissions;
pub mod payouts;
pub mod posting;
pub mod routes;
pub mod split;
pub mod statement;
pub mod store;

pub use routes::configure;
