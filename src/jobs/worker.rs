//! Running due jobs: in `careservice serve` by default, alone as
//! `careservice worker`, or step by step from a test with a moved clock.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use uuid::Uuid;

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
    pub keys: crate::privacy::Keyring,
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
    let batch = Uuid::new_v4();
    let jobs = {
        let mut conn = pool.hq().await?;
        queue::claim(&mut conn, now, 50, batch).await?
    };
    let _heartbeat = Heartbeat::start(pool.clone(), batch, jobs.iter().map(|job| job.id).collect());
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let outcome = match run_one(context, &job).await {
            Ok(()) => JobOutcome::Done,
            Err(error) => JobOutcome::Failed(error.to_string()),
        };
        let mut conn = pool.hq().await?;
        match &outcome {
            JobOutcome::Done => queue::finish(&mut conn, &job, clock.now()).await?,
            JobOutcome::Failed(error) => {
                tracing::warn!(job.id = job.id, job.kind = %job.kind, %error, "job failed");
                queue::fail(&mut conn, &job, error, clock.now()).await?;
            }
        }
        outcomes.push((job, outcome));
    }
    Ok(outcomes)
}

/// Renews a batch's leases while the batch runs; dropping it (the batch is
/// over, or its future was dropped) stops the renewals, and a process that
/// dies takes it along, so its leases lapse.
struct Heartbeat(Option<JoinHandle<()>>);

impl Heartbeat {
    fn start(pool: TenancyPool, batch: Uuid, ids: Vec<i64>) -> Self {
        if ids.is_empty() {
            return Self(None);
        }
        Self(Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(queue::RENEW_EVERY);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            // The first tick is immediate, and the claim has just been made.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let renewed = async {
                    let mut conn = pool.hq().await?;
                    anyhow::Ok(queue::renew(&mut conn, batch, &ids).await?)
                };
                if let Err(error) = renewed.await {
                    tracing::warn!(%error, jobs = ids.len(), "job leases could not be renewed");
                }
            }
        })))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn run_one(context: &JobContext, job: &Job) -> anyhow::Result<()> {
    let pool = &context.pool;
    let Some(territory_id) = job.territory_id else { return run_hq_job(context, job).await };
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

/// Runs a job that belongs to no territory.
async fn run_hq_job(context: &JobContext, job: &Job) -> anyhow::Result<()> {
    let now = context.clock.now();
    let id = |field: &str| -> anyhow::Result<uuid::Uuid> {
        job.payload
            .get(field)
            .and_then(|value| value.as_str())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("job {} has no {field}", job.id))
    };
    match job.kind.as_str() {
        "privacy.export" => crate::privacy::export::build(&context.pool, &context.keys, id("export")?, now).await,
        "privacy.erase" => crate::privacy::erasure::erase(&context.pool, &context.keys, id("account")?, now).await,
        "privacy.retention" => crate::privacy::retention::run(&context.pool, now).await.map(|_| ()),
        crate::identity::reset_mail::JOB_KIND => {
            crate::identity::reset_mail::run(&context.pool, &context.keys, &job.payload).await
        }
        other => anyhow::bail!("job kind {other:?} has no territory and no HQ handler"),
    }
}

/// Runs due jobs every second until the process ends; keeps the daily
/// retention job scheduled.
pub async fn run_worker(context: JobContext) {
    if let Err(error) = crate::privacy::retention::ensure_scheduled(&context.pool, context.clock.now()).await {
        tracing::warn!(%error, "the retention job could not be scheduled");
    }
    loop {
        match run_due_jobs(&context).await {
            Ok(ran) if !ran.is_empty() => tracing::debug!(jobs = ran.len(), "jobs run"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "job worker failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
