#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test that cannot set up or assert should fail loudly")]

//! Integration tests: the real application over HTTP and the real database.

mod auth;
mod authorization;
mod bookings;
mod catalog;
mod cli;
mod conformance;
mod edge;
mod helpers;
mod isolation;
mod mail;
mod migrations;
mod money;
mod onboarding;
mod openapi;
mod privacy;
mod resilience;
mod routing;
