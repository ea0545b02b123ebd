//! Tenancy: territories, their schemas and roles, the host router and the
//! territory-bound connection. The contract lives in `../shared/DESIGN.md`.

pub mod connection;
pub mod context;
pub mod migrate;
pub mod model;
pub mod notify;
pub mod provision;
pub mod request;
pub mod resolver;
pub mod router;
pub mod routes;
pub mod settings;
pub mod slug;
pub mod sql;
pub mod store;
pub mod templates;
pub mod verify;

pub use connection::{BoundConnection, TenancyPool};
pub use context::CurrentTerritory;
pub use model::{Territory, TerritoryStatus};
pub use slug::TerritorySlug;
