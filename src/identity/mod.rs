//! Identity: accounts (argon2id), sessions, memberships and roles, MFA,
//! invitations, rate limits. Everything lives in hq: one login across
//! territories.

pub mod common_passwords;
pub mod email;
pub mod guards;
pub mod invitations;
pub mod lockout;
pub mod mail;
pub mod mfa;
pub mod mfa_routes;
pub mod model;
pub mod password;
pub mod ratelimit;
pub mod reset_mail;
pub mod role;
pub mod routes;
pub mod sealing;
pub mod session;
pub mod state;
pub mod store;
pub mod token;

use actix_web::web;

pub use guards::{HqAdmin, TerritoryFranchisee, TerritoryMember};
pub use role::Role;
pub use session::Authenticated;
pub use state::IdentityState;

/// Registers every identity route (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(routes::configure).configure(mfa_routes::configure).configure(invitations::configure);
}
