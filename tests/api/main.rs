//! Integration tests: the real application over HTTP and the real database.

mod helpers;
mod isolation;
mod migrations;
mod onboarding;
mod routing;
mod cli;
