//! Tenancy benchmarks (run by `scripts/bench-tenancy`): onboarding time,
//! no-op and real tenant migrations over 1,000 territories, and the overhead of
//! the territory-bound connection as ratios to a plain pooled connection
//! measured in the same run. The plain connection logs in as a role with
//! ordinary grants (no superuser, so it pays the permission checks too); every
//! read is checked, rates count only reads that succeeded and divide by the
//! time taken, and any failure fails the run. Needs BENCH_DATABASE_URL (a
//! superuser). Leaves the database and the plain role in place for the pgbench
//! runs of `scripts/bench-tenancy`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use careservice::schema::tenant::settings;
use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::migrate::{MigrateOptions, migrate_all};
use careservice::tenancy::model::ContractRates;
use careservice::tenancy::provision::{NewTerritory, provision};
use careservice::tenancy::settings::{Locale, TimeZone};
use careservice::tenancy::templates::Steps;
use careservice::tenancy::{TenancyPool, Territory, TerritorySlug};
use common::{fresh_database, percentile_ms, sized, url_with};
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

const CONCURRENCY: usize = 8;
/// The login role of the plain baseline: granted USAGE on every territory's
/// schema and SELECT on its settings table, nothing else.
const PLAIN_ROLE: &str = "cs_bench_plain";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("BENCH_DATABASE_URL")?;
    let (territory_count, first_count): (usize, usize) = sized((1000, 200), (20, 10));
    let window = sized(Duration::from_secs(4), Duration::from_secs(1));
    let url = fresh_database(&admin, "careservice_bench").await?;
    let pool = TenancyPool::new(&url, &PoolSettings { max_size: CONCURRENCY, ..PoolSettings::default() })?;
    let steps = Steps::embedded()?;

    // 1. Onboarding.
    let mut territories = Vec::with_capacity(territory_count);
    let mut timings = Vec::with_capacity(territory_count);
    let started = Instant::now();
    for index in 0..territory_count {
        let new = NewTerritory {
            slug: TerritorySlug::parse(&format!("bench-{index:04}"))?,
            name: format!("Bench {index}"),
            time_zone: TimeZone::default(),
            locale: Locale::default(),
            rates: ContractRates::standard(),
            contract_from: chrono::Utc::now().date_naive(),
            domains: Vec::new(),
        };
        let one = Instant::now();
        territories.push(provision(&pool, &steps, &new, None).await?);
        timings.push(one.elapsed());
    }
    let total = started.elapsed();
    let mut first: Vec<_> = timings[..first_count].to_vec();
    first.sort();
    let mut all = timings.clone();
    all.sort();
    println!(
        "onboarding, first {first_count}: p50 {:.1} ms, p95 {:.1} ms (goal p95 <= 250 ms)",
        percentile_ms(&first, 0.5),
        percentile_ms(&first, 0.95)
    );
    println!(
        "onboarding, all {territory_count}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms, total {:.1} s",
        percentile_ms(&all, 0.5),
        percentile_ms(&all, 0.95),
        ms(*all.last().unwrap_or(&Duration::ZERO)),
        total.as_secs_f64()
    );

    // 2. No-op migration, as the CLI runs it (process start included).
    let binary = std::env::var("CARESERVICE_BIN").unwrap_or_else(|_| "target/release/careservice".into());
    let noop = Instant::now();
    let output = std::process::Command::new(&binary)
        .env("DATABASE_URL", &url)
        .args(["territory", "migrate", "--all"])
        .output()?;
    let noop = noop.elapsed();
    anyhow::ensure!(output.status.success(), "no-op migrate failed: {}", String::from_utf8_lossy(&output.stderr));
    println!(
        "no-op `territory migrate --all`, {territory_count} territories: {:.0} ms wall, whole process (goal <= 2000 ms) [{}]",
        ms(noop),
        String::from_utf8_lossy(&output.stdout).trim()
    );

    // 3. A real migration: a column and an index in every territory.
    let extra = steps.clone().with_extra(
        "bench_attempts",
        "ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
         CREATE INDEX outbox_attempts ON outbox (attempts);",
    );
    let real = Instant::now();
    let results =
        migrate_all(&pool, &extra, &MigrateOptions { concurrency: 4, ..MigrateOptions::default() }, |_, _| {}).await?;
    let real = real.elapsed();
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    println!(
        "real migration (add column + index), {} territories, concurrency 4: {:.1} s, {failed} failed (goal <= 60 s)",
        results.len(),
        real.as_secs_f64()
    );

    // 4. Overhead of the territory-bound connection, against a plain pooled
    // connection that logs in as an ordinary role with its search_path preset.
    let mut superuser = AsyncPgConnection::establish(&url_with(&admin, "careservice_bench", "postgres", "")).await?;
    superuser
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PLAIN_ROLE}') THEN
                 CREATE ROLE {PLAIN_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
               END IF;
             END $$;
             DO $$ DECLARE schema text; BEGIN
               FOR schema IN SELECT schema_name FROM hq.territories LOOP
                 EXECUTE format('GRANT USAGE ON SCHEMA %I TO {PLAIN_ROLE}; GRANT SELECT ON %I.settings TO {PLAIN_ROLE}',
                                schema, schema);
               END LOOP;
             END $$;"
        ))
        .await?;
    let plain = simple_pool(url_with(
        &admin,
        "careservice_bench",
        PLAIN_ROLE,
        &format!("&options=-csearch_path%3D{}", territories[0].schema_name),
    ))?;
    // The naive pattern runs as the application's own login role, which may
    // become any territory's role, as the bound pool does.
    let application = simple_pool(url.clone())?;
    let territories = Arc::new(territories);
    let mut plain_runs = Vec::new();
    let mut same_runs = Vec::new();
    let mut round_runs = Vec::new();
    let mut naive_runs = Vec::new();
    for _ in 0..2 {
        let p = plain.clone();
        plain_runs.push(
            run(window, move |_| {
                let plain = p.clone();
                async move {
                    let mut conn = plain.get().await?;
                    check_currency(settings::table.select(settings::currency).first::<String>(&mut conn).await?)
                }
            })
            .await?,
        );
        let (p, t) = (pool.clone(), Arc::clone(&territories));
        same_runs.push(
            run(window, move |_| {
                let pool = p.clone();
                let t = Arc::clone(&t);
                async move {
                    let mut conn = pool.territory(&t[0]).await?;
                    check_currency(settings::table.select(settings::currency).first::<String>(&mut *conn).await?)
                }
            })
            .await?,
        );
        let (p, t) = (pool.clone(), Arc::clone(&territories));
        round_runs.push(
            run(window, move |i| {
                let pool = p.clone();
                let t = Arc::clone(&t);
                async move {
                    let mut conn = pool.territory(&t[i % t.len()]).await?;
                    check_currency(settings::table.select(settings::currency).first::<String>(&mut *conn).await?)
                }
            })
            .await?,
        );
        let (p, t) = (application.clone(), Arc::clone(&territories));
        naive_runs.push(
            run(window, move |i| {
                let application = p.clone();
                let t = Arc::clone(&t);
                async move {
                    let territory: &Territory = &t[i % t.len()];
                    let mut conn = application.get().await?;
                    naive_query(&mut conn, territory).await
                }
            })
            .await?,
        );
    }
    let mean = |runs: &[f64]| runs.iter().sum::<f64>() / runs.len() as f64;
    let base = mean(&plain_runs);
    println!(
        "tenancy overhead, {CONCURRENCY} concurrent clients, {}s windows x2, one-row read, every answer checked (any failure fails the run):",
        window.as_secs()
    );
    println!("  plain pooled connection as {PLAIN_ROLE}, no binding: {:>8.0} queries/s", base);
    println!(
        "  (a) bound, always the same territory:    {:>8.0} queries/s  ratio {:.2} (goal >= 0.9)",
        mean(&same_runs),
        mean(&same_runs) / base
    );
    println!(
        "  (b) bound, round-robin {territory_count} territories: {:>8.0} queries/s  ratio {:.2} (goal >= 0.5)",
        mean(&round_runs),
        mean(&round_runs) / base
    );
    println!(
        "  naive BEGIN/SET LOCAL/query/COMMIT, round-robin: {:>8.0} queries/s  ratio {:.2}",
        mean(&naive_runs),
        mean(&naive_runs) / base
    );
    Ok(())
}

/// A pool of plain connections to `url`, reset cheaply between checkouts.
fn simple_pool(url: String) -> anyhow::Result<Pool<AsyncPgConnection>> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    Ok(Pool::builder(manager).max_size(CONCURRENCY).build()?)
}

/// The check on every read: a territory's settings say EUR.
fn check_currency(currency: String) -> anyhow::Result<()> {
    anyhow::ensure!(currency == "EUR", "settings read back currency {currency:?}");
    Ok(())
}

diesel::define_sql_function! { fn set_config(name: diesel::sql_types::Text, value: diesel::sql_types::Text, is_local: diesel::sql_types::Bool) -> diesel::sql_types::Text; }

/// What the anchors do per request: a transaction with SET LOCAL.
async fn naive_query(conn: &mut AsyncPgConnection, territory: &Territory) -> anyhow::Result<()> {
    conn.batch_execute("BEGIN").await?;
    diesel::select((
        set_config("search_path", &format!("\"{}\", hq", territory.schema_name), true),
        set_config("role", &territory.role_name, true),
    ))
    .execute(conn)
    .await?;
    let currency = settings::table.select(settings::currency).first::<String>(conn).await?;
    conn.batch_execute("COMMIT").await?;
    check_currency(currency)
}

/// Checked queries per second of `query` from CONCURRENCY clients that start
/// queries for `window`: only queries that succeeded are counted, divided by
/// the time until the last client's last query ended. A failure fails the run.
async fn run<F, Fut>(window: Duration, query: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + window;
    let clients: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let query = query.clone();
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut succeeded = 0_usize;
                while Instant::now() < deadline {
                    query(next.fetch_add(1, Ordering::Relaxed)).await?;
                    succeeded += 1;
                }
                anyhow::Ok(succeeded)
            })
        })
        .collect();
    let mut succeeded = 0;
    for client in clients {
        succeeded += client.await??;
    }
    Ok(succeeded as f64 / started.elapsed().as_secs_f64())
}
