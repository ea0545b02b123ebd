//! Scheduling: pros' availability and the slot search shared by the slot
//! list and by booking.

pub mod routes;
pub mod slots;
pub mod store;

pub use routes::configure;
