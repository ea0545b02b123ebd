//! What the benchmarks share: URLs on the benchmark's server, a fresh
//! migrated database, percentiles, and the quick mode that checks a benchmark
//! without measuring it.

use std::time::Duration;

use careservice::database::migrations::migrate_hq;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

/// `base` (a superuser URL) pointed at `database` as `user`, with `extra`
/// query parameters appended.
pub fn url_with(base: &str, database: &str, user: &str, extra: &str) -> String {
    let (prefix, query) = base.split_once('?').unwrap_or((base, ""));
    let server = prefix.rsplit_once('/').map_or(prefix, |(server, _)| server);
    let query: Vec<&str> = query.split('&').filter(|p| !p.starts_with("user=") && !p.is_empty()).collect();
    format!("{server}/{database}?{}&user={user}{extra}", query.join("&"))
}

/// A new database `name` owned by the NOINHERIT login role `cs_bench`, with
/// hq migrated; returns the URL the application connects with.
pub async fn fresh_database(admin: &str, name: &str) -> anyhow::Result<String> {
    let mut root = AsyncPgConnection::establish(&url_with(admin, "postgres", "postgres", "")).await?;
    root.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await?;
    root.batch_execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cs_bench') THEN
           CREATE ROLE cs_bench LOGIN NOINHERIT CREATEROLE; END IF; END $$;",
    )
    .await?;
    root.batch_execute(&format!("CREATE DATABASE {name} OWNER cs_bench")).await?;
    AsyncPgConnection::establish(&url_with(admin, name, "postgres", ""))
        .await?
        .batch_execute("GRANT USAGE, CREATE ON SCHEMA public TO cs_bench")
        .await?;
    let url = url_with(admin, name, "cs_bench", "");
    migrate_hq(&url).await?;
    Ok(url)
}

/// The `q` quantile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
}

/// Whether `BENCH_QUICK=1` asked for a quick run: small sizes and short
/// windows, to check that the benchmark works, not to measure.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|value| value == "1")
}

/// `full` in a real run, `small` in a quick one.
pub fn sized<T>(full: T, small: T) -> T {
    if quick() { small } else { full }
}
