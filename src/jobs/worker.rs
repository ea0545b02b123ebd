//! Running due jobs: in `careservice serve` by default, alone as
//! `careservice worker`, or step by step from a test with a moved clock.

use std::time::Duration;

use super::queue::{self, Job};
use crate::clock::SharedClock;
use crate::payments::flow::Payments;
use crate::tenancy::{TenancyPool, store};

/// What jobs run with: the database, the clock and the payment provider.
#[derive(Clone)]
pub struct JobContext {
    pub pool: TenancyPool,
    pub clock: SharedClock,
    pub payments: Payments,
}

/// What one job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    Failed(String),
}

/// Claims and runs every job due now (by the context's clock); returns what
/// each did.
pub async fn run_due_jobs(context: &JobContext) -> anyhow::Result<Vec<(Job, JobOutcome)>> {
    let (pool, clock) = (&context.pool, &context.clock);
    let now = clock.now();
    let jobs = {
        let mut conn = pool.hq().await?;
        queue::claim(&mut conn, now, 50).await?
    };
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let outcome = match run_one(context, &job).await {
            Ok(()) => JobOutcome::Done,
            Err(error) => JobOutcome::Failed(error.to_string()),
        };
        let mut conn = pool.hq().await?;
        match &outcome {
            JobOutcome::Done => queue::finish(&mut conn, job.id, clock.now()).await?,
            JobOutcome::Failed(error) => {
                tracing::warn!(job.id = job.id, job.kind = %job.kind, %error, "job failed");
                queue::fail(&mut conn, &job, error, clock.now()).await?;
            }
        }
        outcomes.push((job, outcome));
    }
    Ok(outcomes)
}

async fn run_one(context: &JobContext, job: &Job) -> anyhow::Result<()> {
    let pool = &context.pool;
    let Some(territory_id) = job.territory_id else {
        anyhow::bail!("job kind {:?} has no territory and no HQ handler", job.kind);
    };
    let territory = {
        let mut conn = pool.hq().await?;
        store::find_by_id(&mut conn, territory_id).await?
    };
    let Some(territory) = territory else { return Ok(()) };
    let now = context.clock.now();
    if job.kind == "ledger.drain_outbox" {
        let moved = crate::ledger::commissions::drain(pool, &territory, now).await?;
        tracing::debug!(territory = %territory.slug, events = moved, "commissions drained into hq");
        return Ok(());
    }
    let mut conn = pool.territory(&territory).await?;
    crate::bookings::timers::handle(&mut conn, &context.payments, &territory, job, now).await
}

/// Runs due jobs every second until the process ends.
pub async fn run_worker(context: JobContext) {
    loop {
        match run_due_jobs(&context).await {
            Ok(ran) if !ran.is_empty() => tracing::debug!(jobs = ran.len(), "jobs run"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "job worker failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
