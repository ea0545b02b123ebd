//! Privacy by design: field encryption at rest, the right of access (export),
//! the right to erasure with fiscal retention, and consent records.

pub mod consent;
pub mod erasure;
pub mod export;
pub mod keys;
pub mod registry;
pub mod retention;
pub mod rotate;
pub mod routes;
pub mod territory_export;

pub use keys::Keyring;
