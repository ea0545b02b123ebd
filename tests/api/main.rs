#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test that cannot set up or assert should fail loudly")]

//! Integration tests: the real application over HTTP and the real database.

mod auth;
mod authorization;
mod bookings;
mod catalog;
mod catalog_prices;
mod catalog_review;
mod cli;
mod cluster_owner;
mod conformance;
mod cross_territory;
mod edge;
mod helpers;
mod identity_hardening;
mod isolation;
mod job_recovery;
mod mail;
mod migrations;
mod money;
mod onboarding;
mod openapi;
mod personal_data_at_rest;
mod privacy;
mod process;
mod provider;
mod refund_claims;
mod resilience;
mod resume;
mod routing;
