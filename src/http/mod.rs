//! The HTTP edge: problem+json errors, health checks and the error handlers
//! that keep every answer, even to a malformed request, a problem document.

pub mod client_ip;
pub mod dates;
pub mod errors;
pub mod health;
pub mod json_body;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod security;

pub use problem::ApiError;
