//! The audit trail: a hash-chained, insert-only log of financial and security
//! events, one chain per territory (in its schema) and one for HQ. An event is
//! written in the same transaction as the change it records.

pub mod chain;
pub mod routes;

pub use chain::{Verification, append, append_hq, verify};
pub use routes::configure;
