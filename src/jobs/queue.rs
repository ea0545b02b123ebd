//! Enqueueing and claiming jobs.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

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
UPDATE hq.jobs SET locked_until = $1 + interval '5 minutes', attempts = attempts + 1
 WHERE id IN (SELECT id FROM hq.jobs
               WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= $1
                 AND (locked_until IS NULL OR locked_until < $1)
               ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING id, kind, territory_id, payload, attempts, max_attempts";

/// Claims up to `limit` jobs due at `now`; a claim lapses after 5 minutes
/// (a worker that died mid-job), so the job runs again.
pub async fn claim(conn: &mut AsyncPgConnection, now: DateTime<Utc>, limit: i32) -> diesel::QueryResult<Vec<Job>> {
    diesel::sql_query(CLAIM_SQL).bind::<Timestamptz, _>(now).bind::<Integer, _>(limit).load(conn).await
}

/// Marks a job done.
pub async fn finish(conn: &mut AsyncPgConnection, id: i64, now: DateTime<Utc>) -> diesel::QueryResult<()> {
    diesel::sql_query("UPDATE hq.jobs SET finished_at = $2, locked_until = NULL WHERE id = $1")
        .bind::<BigInt, _>(id)
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Records a failure: retried after 2^attempts seconds (at most an hour), or
/// kept as failed after its last attempt.
pub async fn fail(conn: &mut AsyncPgConnection, job: &Job, error: &str, now: DateTime<Utc>) -> diesel::QueryResult<()> {
    let backoff = chrono::Duration::seconds(1_i64 << job.attempts.clamp(0, 12)).min(chrono::Duration::hours(1));
    diesel::sql_query(
        "UPDATE hq.jobs SET last_error = $2, locked_until = NULL,
                run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE $3 END,
                failed_at = CASE WHEN attempts >= max_attempts THEN $4 ELSE NULL END
          WHERE id = $1",
    )
    .bind::<BigInt, _>(job.id)
    .bind::<Text, _>(error)
    .bind::<Timestamptz, _>(now + backoff)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await
    .map(|_| ())
}
