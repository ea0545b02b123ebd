//! Money benchmark: captures per second, each with its split, ledger
//! transaction, outbox event and audit entry in one database transaction, in
//! one territory and spread over 8; then the time to aggregate 100,000
//! commission events into hq. Every capture is checked: a failed one fails
//! the run, and each round counts the payments the database holds as captured
//! against the captures it timed. Needs BENCH_DATABASE_URL (a superuser) on a
//! durable cluster (`scripts/bench-money`).

mod common;

use std::sync::Arc;
use std::time::Instant;

use careservice::bookings::store as bookings;
use careservice::ledger::commissions::drain;
use careservice::payments::Payments;
use careservice::payments::flow::settle;
use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::provision::provision;
use careservice::tenancy::request::OnboardingRequest;
use careservice::tenancy::templates::Steps;
use careservice::tenancy::{TenancyPool, Territory};
use chrono::Utc;
use common::{fresh_database, percentile_ms, sized, url_with};
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

const TERRITORIES: usize = 8;
const CLIENTS: usize = 8;

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Confirmed bookings with authorised payments, ready to capture.
async fn seed(
    superuser: &mut AsyncPgConnection,
    territory: &Territory,
    count: usize,
    first: usize,
) -> anyhow::Result<()> {
    superuser
        .batch_execute(&format!(
            "SET search_path = {schema}, hq;
             INSERT INTO pros (account_id, display_name, status)
               SELECT gen_random_uuid(), 'Pro', 'active' WHERE NOT EXISTS (SELECT FROM pros);
             INSERT INTO bookings (customer_account_id, pro_id, service_code, starts_at, ends_at, buffer_minutes,
                                   blocked, status, price, vat_rate, cancellation_free_hours, cancellation_fee_percent,
                                   postcode, address)
               SELECT gen_random_uuid(), (SELECT id FROM pros), 'personal-care', s, s + interval '1 hour', 0,
                      tstzrange(s, s + interval '1 hour'), 'confirmed', 58 + (i % 37) * 0.01, 0.21, 24, 50,
                      '1011AB', 'Damrak 1'
                 FROM generate_series({first}, {first} + {count} - 1) i,
                      LATERAL (SELECT now() + i * interval '2 hours' AS s) t;
             INSERT INTO payments (booking_id, pro_id, provider, provider_ref, status, amount, vat_rate,
                                   franchise_rate, hq_rate, created_at, updated_at)
               SELECT id, pro_id, 'simulated', 'sim_booking_' || id, 'authorized', price, vat_rate, 0.14, 0.06,
                      now(), now() FROM bookings b WHERE NOT EXISTS (SELECT FROM payments p WHERE p.booking_id = b.id);
             RESET search_path;",
            schema = territory.schema_name
        ))
        .await?;
    Ok(())
}

/// The payments of `territories` that the database holds as captured.
async fn captured(pool: &TenancyPool, territories: &[Territory]) -> anyhow::Result<i64> {
    let mut total = 0;
    for territory in territories {
        let mut conn = pool.territory(territory).await?;
        total +=
            diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM payments WHERE status = 'captured'")
                .get_result::<i64>(&mut *conn)
                .await?;
    }
    Ok(total)
}

async fn booking_ids(pool: &TenancyPool, territory: &Territory) -> anyhow::Result<Vec<Uuid>> {
    let mut conn = pool.territory(territory).await?;
    let ids: Vec<Id> =
        diesel::sql_query("SELECT booking_id AS id FROM payments WHERE status = 'authorized'").load(&mut *conn).await?;
    Ok(ids.into_iter().map(|row| row.id).collect())
}

/// Captures `work` (territory, booking) with `CLIENTS` concurrent tasks;
/// returns captures per second and the p50 and p95 of one capture in ms.
/// Fails if a capture fails, or if `territories` do not hold exactly one more
/// captured payment per capture afterwards.
async fn capture_all(
    pool: &TenancyPool,
    payments: &Payments,
    territories: &[Territory],
    work: Vec<(Territory, Uuid)>,
) -> anyhow::Result<(f64, f64, f64)> {
    let count = work.len();
    let before = captured(pool, territories).await?;
    let queue = Arc::new(tokio::sync::Mutex::new(work));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (pool, payments, queue) = (pool.clone(), payments.clone(), Arc::clone(&queue));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some((territory, id)) = queue.lock().await.pop() else { return anyhow::Ok(latencies) };
                let one = Instant::now();
                let mut conn = pool.territory(&territory).await?;
                let booking = bookings::find(&mut conn, id).await?.ok_or_else(|| anyhow::anyhow!("lost booking"))?;
                settle(&mut conn, &payments, &territory, &booking, Utc::now()).await?;
                latencies.push(one.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let after = captured(pool, territories).await?;
    anyhow::ensure!(
        usize::try_from(after - before) == Ok(count),
        "{count} captures timed, but {} payments captured in the database",
        after - before
    );
    latencies.sort();
    Ok((rate, percentile_ms(&latencies, 0.5), percentile_ms(&latencies, 0.95)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("BENCH_DATABASE_URL")?;
    let captures: usize = sized(800, 80);
    let events: usize = sized(100_000, 8_000);
    let url = fresh_database(&admin, "careservice_bench_money").await?;
    let mut superuser =
        AsyncPgConnection::establish(&url_with(&admin, "careservice_bench_money", "postgres", "")).await?;
    let pool = TenancyPool::new(&url, &PoolSettings { max_size: CLIENTS + 2, ..PoolSettings::default() })?;
    let steps = Steps::embedded()?;
    let mut territories = Vec::new();
    for n in 0..TERRITORIES {
        let request = OnboardingRequest { slug: format!("t{n}"), name: format!("T{n}"), ..Default::default() };
        let new = request.validate("localhost").map_err(anyhow::Error::msg)?;
        territories.push(provision(&pool, &steps, &new, None).await?);
    }
    let payments = Payments::simulated(b"bench");

    // One territory takes every capture.
    seed(&mut superuser, &territories[0], captures, 0).await?;
    let work = booking_ids(&pool, &territories[0]).await?.into_iter().map(|id| (territories[0].clone(), id)).collect();
    let (one, one_p50, one_p95) = capture_all(&pool, &payments, &territories[..1], work).await?;

    // The same number spread over the other 7 territories and the first
    // (whose bookings are used up, so it gets new ones).
    let per = captures / TERRITORIES;
    let mut work = Vec::new();
    for territory in &territories {
        seed(&mut superuser, territory, per, captures).await?;
        let ids = booking_ids(&pool, territory).await?;
        work.extend(ids.into_iter().take(per).map(|id| (territory.clone(), id)));
    }
    let spread_count = work.len();
    let (spread, spread_p50, spread_p95) = capture_all(&pool, &payments, &territories, work).await?;
    println!(
        "captures (split, ledger, outbox, audit in one transaction), {CLIENTS} concurrent clients, each checked (0 failed):"
    );
    println!("  {captures} in one territory:   {one:.0}/s, p50 {one_p50:.1} ms, p95 {one_p95:.1} ms");
    println!(
        "  {spread_count} over {TERRITORIES} territories: {spread:.0}/s, p50 {spread_p50:.1} ms, p95 {spread_p95:.1} ms"
    );
    println!("  ratio 8 territories / one: {:.2}", spread / one);

    // 100,000 commission events, spread over the territories' outboxes.
    let events_per = events / TERRITORIES;
    for territory in &territories {
        superuser
            .batch_execute(&format!(
                "INSERT INTO {}.outbox (event_id, kind, payload, created_at)
                 SELECT gen_random_uuid(), 'commission', jsonb_build_object(
                     'kind', 'capture', 'period', '2026-11-01', 'occurred_at', now(),
                     'gross', '58.00', 'vat', '10.07', 'franchise_fee', '6.71', 'hq_fee', '2.88', 'pro_share', '38.34'), now()
                   FROM generate_series(1, {events_per})",
                territory.schema_name
            ))
            .await?;
    }
    let started = Instant::now();
    let mut moved = 0;
    for territory in &territories {
        moved += drain(&pool, territory, Utc::now()).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "aggregation: {moved} commission events (incl. {} from the captures) drained into hq in {:.2} s ({:.0} events/s)",
        moved.saturating_sub(events_per * TERRITORIES),
        elapsed.as_secs_f64(),
        moved as f64 / elapsed.as_secs_f64()
    );
    let mut hq = pool.hq().await?;
    let counted: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT coalesce(sum(captures + refunds), 0)::bigint FROM hq.commission_totals",
    )
    .get_result(&mut *hq)
    .await?;
    anyhow::ensure!(counted as usize == moved, "hq counted {counted} events of {moved}");
    let expected = events_per * TERRITORIES + captures + spread_count;
    anyhow::ensure!(moved == expected, "drained {moved} commission events, expected {expected}");
    Ok(())
}
