//! Bookings: the state machine, idempotent creation, policies, and the
//! timers that move bookings nobody moves.

pub mod idempotency;
pub mod lifecycle;
pub mod model;
pub mod opening;
pub mod routes;
pub mod store;
pub mod timers;

pub use routes::configure;
