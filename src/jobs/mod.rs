//! The job queue in PostgreSQL: timers and background work. A job carries its
//! territory and runs on a connection bound to it; jobs are claimed with
//! `FOR UPDATE SKIP LOCKED` on a lease the worker renews while it runs (so a
//! dead worker's jobs run again within seconds; see `queue`), retried with
//! exponential backoff, idempotent, and kept when they fail for good, for
//! inspection.

pub mod queue;
pub mod routes;
pub mod worker;

pub use queue::{Job, enqueue};
pub use routes::configure;
pub use worker::{JobContext, JobOutcome, run_due_jobs, run_worker};
