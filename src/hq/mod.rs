//! The HQ console API, on the hq host, for HQ admins who passed MFA.

pub mod routes;

pub use routes::configure;
