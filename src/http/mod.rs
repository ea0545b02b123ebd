//! The HTTP edge: problem+json errors, health checks and the error handlers
//! that keep every answer, even to a malformed request, a problem document.

pub mod errors;
pub mod health;
pub mod problem;

pub use problem::ApiError;
