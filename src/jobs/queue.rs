//! Enqueueing and claiming jobs.
//!
//! A claim is a lease, not a lock held by the worker's session: the claim
//! names the batch that took it (`claimed_by`) and holds until
//! `locked_until`, which the worker renews every [`RENEW_EVERY`] while the
//! batch runs. A worker that dies (killed, its machine gone) stops renewing,
//! so its jobs are claimed again [`LEASE`] later, within seconds; a job whose
//! worker is alive is never claimed by another, however long it runs. A lock
//! tied to the session (an advisory lock, a transaction held open for the
//! batch) would free a dead worker's jobs at once, but it needs a session
//! that outlives a transaction, which a pooler in transaction mode
//! (PgBouncer) does not give. Leases are in the database's time (`now()`),
//! so they measure how long a worker has been silent whatever clock the
//! jobs themselves are due by.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Double, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// How long a claim holds without being renewed: how soon a dead worker's
/// jobs run again.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often a running worker renews its claims: several renewals fit in one
/// lease, so a slow or failed renewal does not lose it.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);

/// A claimed job.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Job {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub territory_id: Option<i64>,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    /// The batch that claimed it; only that batch renews or settles it.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub claimed_by: Uuid,
}

/// Schedules a job, in the caller's transaction (so a timer exists exactly
/// when the change that needs it was committed).
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    kind: &str,
    territory_id: Option<i64>,
    payload: serde_json::Value,
    run_at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    diesel::sql_query("INSERT INTO hq.jobs (kind, territory_id, payload, run_at) VALUES ($1, $2, $3, $4)")
        .bind::<Text, _>(kind)
        .bind::<Nullable<BigInt>, _>(territory_id)
        .bind::<Jsonb, _>(payload)
        .bind::<Timestamptz, _>(run_at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Schedules a job unless an equal one is already waiting, in the caller's
/// transaction. "Equal" is what a partial unique index on `hq.jobs` says for
/// the kind (see `jobs_one_waiting_drain`); a kind without one is always
/// enqueued.
pub async fn enqueue_unless_waiting(
    conn: &mut AsyncPgConnection,
    kind: &str,
    territory_id: Option<i64>,
    payload: serde_json::Value,
    run_at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO hq.jobs (kind, territory_id, payload, run_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind::<Text, _>(kind)
    .bind::<Nullable<BigInt>, _>(territory_id)
    .bind::<Jsonb, _>(payload)
    .bind::<Timestamptz, _>(run_at)
    .execute(conn)
    .await
    .map(|_| ())
}

const CLAIM_SQL: &str = "
UPDATE hq.jobs SET locked_until = now() + make_interval(secs => $3), claimed_by = $4, attempts = attempts + 1
 WHERE id IN (SELECT id FROM hq.jobs
               WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= $1
                 AND (locked_until IS NULL OR locked_until < now())
               ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING id, kind, territory_id, payload, attempts, max_attempts, claimed_by";

/// Claims up to `limit` jobs due at `now` for the batch `batch`, on a lease
/// of [`LEASE`] that [`renew`] extends.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i32,
    batch: Uuid,
) -> diesel::QueryResult<Vec<Job>> {
    diesel::sql_query(CLAIM_SQL)
        .bind::<Timestamptz, _>(now)
        .bind::<Integer, _>(limit)
        .bind::<Double, _>(LEASE.as_secs_f64())
        .bind::<diesel::sql_types::Uuid, _>(batch)
        .load(conn)
        .await
}

/// Extends the leases of `batch` on the jobs `ids` that it still holds and
/// has not settled; returns how many.
pub async fn renew(conn: &mut AsyncPgConnection, batch: Uuid, ids: &[i64]) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "UPDATE hq.jobs SET locked_until = now() + make_interval(secs => $3)
          WHERE id = ANY($1) AND claimed_by = $2 AND locked_until IS NOT NULL",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<diesel::sql_types::Uuid, _>(batch)
    .bind::<Double, _>(LEASE.as_secs_f64())
    .execute(conn)
    .await
}

/// Marks a job done, if its claim is still the caller's (a worker whose
/// lease lapsed leaves the job to the one that claimed it since).
pub async fn finish(conn: &mut AsyncPgConnection, job: &Job, now: DateTime<Utc>) -> diesel::QueryResult<()> {
    diesel::sql_query("UPDATE hq.jobs SET finished_at = $2, locked_until = NULL WHERE id = $1 AND claimed_by = $3")
        .bind::<BigInt, _>(job.id)
        .bind::<Timestamptz, _>(now)
        .bind::<diesel::sql_types::Uuid, _>(job.claimed_by)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Records a failure: retried after 2^attempts seconds (at most an hour), or
/// kept as failed after its last attempt; like [`finish`], only on the
/// caller's own claim.
pub async fn fail(conn: &mut AsyncPgConnection, job: &Job, error: &str, now: DateTime<Utc>) -> diesel::QueryResult<()> {
    let backoff = chrono::Duration::seconds(1_i64 << job.attempts.clamp(0, 12)).min(chrono::Duration::hours(1));
    diesel::sql_query(
        "UPDATE hq.jobs SET last_error = $2, locked_until = NULL,
                run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE $3 END,
                failed_at = CASE WHEN attempts >= max_attempts THEN $4 ELSE NULL END
          WHERE id = $1 AND claimed_by = $5",
    )
    .bind::<BigInt, _>(job.id)
    .bind::<Text, _>(error)
    .bind::<Timestamptz, _>(now + backoff)
    .bind::<Timestamptz, _>(now)
    .bind::<diesel::sql_types::Uuid, _>(job.claimed_by)
    .execute(conn)
    .await
    .map(|_| ())
}
