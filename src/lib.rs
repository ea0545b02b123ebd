//! CareService: the backend of a franchised home-care and home-services marketplace.
//!
//! Every territory lives in a PostgreSQL schema of its own, reached through its
//! subdomain; schema `hq` holds what crosses territories. Start at
//! [`startup::Application`] for the server and at [`tenancy`] for the contract
//! that keeps territories apart.

pub mod audit;
pub mod bookings;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod database;
pub mod faults;
pub mod hq;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod ledger;
pub mod money;
pub mod payments;
pub mod privacy;
pub mod scheduling;
pub mod schema;
pub mod startup;
pub mod telemetry;
pub mod tenancy;
