//! A worker killed mid-batch: its claimed jobs run again within seconds on
//! another worker, and never while the worker that claimed them is alive.
//! Both workers are the real `careservice worker` process; the first is
//! caught mid-batch by holding a lock its jobs wait for, then killed with
//! SIGKILL.

use std::time::{Duration, Instant};

use careservice::jobs::queue::{LEASE, RENEW_EVERY};
use diesel::sql_types::{BigInt, Integer, Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::helpers::fresh_database;
use crate::process::Process;

#[derive(diesel::QueryableByName, Debug)]
struct JobState {
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    claimed_by: Option<uuid::Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn states(conn: &mut AsyncPgConnection, ids: &[i64]) -> Vec<JobState> {
    diesel::sql_query("SELECT attempts, claimed_by, finished_at FROM hq.jobs WHERE id = ANY($1) ORDER BY id")
        .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
        .load(conn)
        .await
        .expect("read the jobs")
}

/// Polls the jobs until `done` holds for each of them; how long that took.
async fn until_each(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    limit: Duration,
    done: fn(&JobState) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if states(conn, ids).await.iter().all(done) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[tokio::test]
async fn a_killed_workers_jobs_run_again_within_seconds_and_never_while_it_is_alive() {
    let db = fresh_database().await;
    let mut reader = db.admin().await;
    // Three HQ jobs due now. Each begins by listing the territories, so a
    // lock on that table holds the worker inside its batch, as a slow job would.
    let ids: Vec<i64> = diesel::sql_query(
        "INSERT INTO hq.jobs (kind, payload, run_at)
         SELECT 'privacy.retention', '{}', now() FROM generate_series(1, 3) RETURNING id",
    )
    .load::<Id>(&mut reader)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.id)
    .collect();
    let mut blocker = db.admin().await;
    blocker.batch_execute("BEGIN; LOCK TABLE hq.territories IN ACCESS EXCLUSIVE MODE").await.unwrap();

    let mut first = Process::start(&["worker"], &[("DATABASE_URL", &db.url)]);
    let claimed = until_each(&mut reader, &ids, Duration::from_secs(30), |job| job.attempts == 1).await;
    assert!(claimed.is_some(), "the first worker did not claim the jobs:\n{}", first.stderr());
    let holder = states(&mut reader, &ids).await[0].claimed_by;

    // A second worker polls every second while the first is alive and its
    // jobs outlast a lease: it must not take them.
    let mut second = Process::start(&["worker"], &[("DATABASE_URL", &db.url)]);
    second.wait_for("job worker running", Duration::from_secs(30)).await;
    tokio::time::sleep(LEASE + RENEW_EVERY * 2).await;
    let alive = states(&mut reader, &ids).await;
    assert!(
        alive.iter().all(|job| job.attempts == 1 && job.claimed_by == holder && job.finished_at.is_none()),
        "a job was claimed again while its worker was alive: {alive:?}"
    );

    first.kill();
    let killed = Instant::now();
    blocker.batch_execute("COMMIT").await.unwrap();
    let recovered =
        until_each(&mut reader, &ids, LEASE + Duration::from_secs(20), |job| job.finished_at.is_some()).await;
    let after = states(&mut reader, &ids).await;
    assert!(recovered.is_some(), "the dead worker's jobs did not run again: {after:?}\n{}", second.stderr());
    let waited = killed.elapsed();
    eprintln!("a dead worker's jobs ran again {waited:?} after it was killed (lease {LEASE:?})");
    assert!(waited < LEASE + Duration::from_secs(5), "recovery took {waited:?}");
    assert!(
        after.iter().all(|job| job.attempts == 2 && job.claimed_by != holder),
        "each job runs once more, on the second worker: {after:?}"
    );
    second.signal("INT");
    assert!(second.exit(Duration::from_secs(10)).await.success());
}
