//! The catalog: HQ's services, categories and dated VAT rates; each
//! territory's tailoring of them; pros and their offerings; territory settings.

pub mod cache;
pub mod effective;
pub mod hq_routes;
pub mod model;
pub mod prices;
pub mod profiles;
pub mod pros;
pub mod routes;
pub mod settings;
pub mod store;

use actix_web::web;

/// Registers every catalog route (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(routes::configure)
        .configure(hq_routes::configure)
        .configure(pros::configure)
        .configure(profiles::configure)
        .configure(settings::configure);
}
