//! Privacy by design: field encryption at rest, the right of access (export),
//! the right to erasure with fiscal retention, and consent records.

pub mod keys;
pub mod rotate;

pub use keys::Keyring;
