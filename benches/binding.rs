//! Binding benchmark (run by `scripts/bench-binding`): the same two reads
//! (the settings row; the slot search's reads) under each way of binding a
//! connection to a territory, on one territory, round-robin over 1,000 and a
//! Zipf(1) mix over as many as were onboarded in the time given, from 8
//! concurrent tasks, each answer checked. After each strategy's round-robin
//! runs, the private memory of its server backends. Needs BENCH_DATABASE_URL
//! (a superuser, for set-up and for reading pg_stat_activity only; the
//! requests run as the application's NOINHERIT login role).
//!
//! Environment (defaults in brackets): BINDING_SECONDS per measured cell [10],
//! BINDING_WARMUP_SECONDS before it [3], BINDING_ROUND_ROBIN territories [1000],
//! BINDING_ZIPF_TARGET territories [10000], BINDING_ONBOARD_SECONDS, the time
//! onboarding may take in all [900].

#[expect(dead_code, reason = "the shared module's percentiles are for latency benchmarks; this one counts rates")]
mod common;
#[path = "binding/generated.rs"]
mod generated;
#[path = "binding/strategy.rs"]
mod strategy;
#[path = "binding/workload.rs"]
mod workload;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::model::ContractRates;
use careservice::tenancy::provision::{NewTerritory, provision};
use careservice::tenancy::settings::{Locale, TimeZone};
use careservice::tenancy::sql::quote_ident;
use careservice::tenancy::templates::Steps;
use careservice::tenancy::{TenancyPool, TerritorySlug};
use common::{fresh_database, url_with};
use diesel::sql_types::{Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use rand::{Rng, SeedableRng};
use strategy::{Session, Strategy};
use tokio::sync::Mutex;
use workload::{Fixture, Statements, Workload, seed_sql};

const DATABASE: &str = "careservice_bench_binding";
const TASKS: usize = 8;

/// Which territories the requests go to.
enum Mix {
    One,
    RoundRobin(usize),
    /// Zipf(1) over the first `cdf.len()` territories: the k-th is asked
    /// 1/k as often as the first.
    Zipf(Arc<Vec<f64>>),
}

impl Mix {
    fn zipf(territories: usize) -> Self {
        let mut sum = 0.0;
        let cdf = (1..=territories)
            .map(|rank| {
                sum += 1.0 / rank as f64;
                sum
            })
            .collect();
        Self::Zipf(Arc::new(cdf))
    }

    fn label(&self) -> String {
        match self {
            Self::One => "one territory".into(),
            Self::RoundRobin(n) => format!("round-robin over {}", thousands(*n as f64)),
            Self::Zipf(cdf) => format!("Zipf(1) over {}", thousands(cdf.len() as f64)),
        }
    }
}

/// What the measured tasks share.
struct Bench {
    fixtures: Vec<Fixture>,
    unqualified: Statements,
    day: chrono::NaiveDate,
}

/// The outcome of one cell.
struct Tally {
    good: u64,
    errors: u64,
    seconds: f64,
    first_error: Option<String>,
}

impl Tally {
    fn rate(&self) -> f64 {
        self.good as f64 / self.seconds
    }
}

fn setting(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => Ok(value.parse()?),
        Err(_) => Ok(default),
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("BENCH_DATABASE_URL")?;
    let seconds = setting("BINDING_SECONDS", 10)? as f64;
    let warmup = setting("BINDING_WARMUP_SECONDS", 3)? as f64;
    let round_robin = setting("BINDING_ROUND_ROBIN", 1000)? as usize;
    let zipf_target = (setting("BINDING_ZIPF_TARGET", 10_000)? as usize).max(round_robin);
    let onboard_budget = Duration::from_secs(setting("BINDING_ONBOARD_SECONDS", 900)?);

    let url = fresh_database(&admin, DATABASE).await?;
    let mut root = AsyncPgConnection::establish(&url_with(&admin, DATABASE, "postgres", "")).await?;
    print_settings(&mut root).await?;
    let pool = TenancyPool::new(&url, &PoolSettings { max_size: 1, ..PoolSettings::default() })?;
    let steps = Steps::embedded()?;
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    let mut bench = Bench { fixtures: Vec::new(), unqualified: Statements::new("", "")?, day };

    let first = onboard(&pool, &steps, &mut root, &mut bench, round_robin, None).await?;
    let mut results: BTreeMap<(&str, Workload, usize), f64> = BTreeMap::new();
    let mut memory: BTreeMap<(&str, Workload), String> = BTreeMap::new();
    let mixes = [Mix::One, Mix::RoundRobin(round_robin)];
    let bench_ref = Arc::new(bench);
    for strategy in Strategy::ALL {
        let app = strategy.application_name("rr");
        let sessions = open_sessions(strategy, &admin, &app).await?;
        for workload in Workload::ALL {
            for (column, mix) in mixes.iter().enumerate() {
                let rate = cell(strategy, &sessions, &bench_ref, workload, mix, warmup, seconds).await;
                results.insert((strategy.code(), workload, column), rate);
            }
            let line = backend_memory(&mut root, &app).await?;
            println!("    backends of {} after {}, round-robin: {line}", strategy.code(), workload.label());
            memory.insert((strategy.code(), workload), line);
        }
    }

    let mut bench = Arc::into_inner(bench_ref).ok_or_else(|| anyhow::anyhow!("bench still shared"))?;
    let budget = onboard_budget.saturating_sub(first);
    onboard(&pool, &steps, &mut root, &mut bench, zipf_target, Some(budget)).await?;
    let zipf = Mix::zipf(bench.fixtures.len());
    let zipf_label = zipf.label();
    let bench = Arc::new(bench);
    for strategy in Strategy::ALL {
        let app = strategy.application_name("zipf");
        let sessions = open_sessions(strategy, &admin, &app).await?;
        for workload in Workload::ALL {
            let rate = cell(strategy, &sessions, &bench, workload, &zipf, warmup, seconds).await;
            results.insert((strategy.code(), workload, 2), rate);
        }
        let line = backend_memory(&mut root, &app).await?;
        println!("    backends of {} after both Zipf runs: {line}", strategy.code());
    }

    print_table(&results, &memory, round_robin, &zipf_label);
    Ok(())
}

async fn print_settings(root: &mut AsyncPgConnection) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        setting: String,
    }
    let rows: Vec<Setting> = diesel::sql_query(
        "SELECT name, current_setting(name) AS setting FROM pg_settings
          WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers',
                         'max_connections', 'plan_cache_mode', 'work_mem', 'jit')
          ORDER BY name",
    )
    .load(root)
    .await?;
    let line: Vec<String> = rows.iter().map(|s| format!("{} = {}", s.name, s.setting)).collect();
    println!("database settings: {}", line.join(", "));
    Ok(())
}

/// Onboards territories with the application's onboarding until there are
/// `target`, or until `budget` has passed; seeds each. Returns the time taken.
async fn onboard(
    pool: &TenancyPool,
    steps: &Steps,
    root: &mut AsyncPgConnection,
    bench: &mut Bench,
    target: usize,
    budget: Option<Duration>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut batch = Instant::now();
    let mut spent = Duration::ZERO;
    while bench.fixtures.len() < target {
        if budget.is_some_and(|budget| started.elapsed() >= budget) {
            println!("onboarding stopped by its time budget at {} territories", bench.fixtures.len());
            break;
        }
        let index = bench.fixtures.len();
        let new = NewTerritory {
            slug: TerritorySlug::parse(&format!("bind-{index:05}"))?,
            name: format!("Binding {index}"),
            time_zone: TimeZone::default(),
            locale: Locale::default(),
            rates: ContractRates::standard(),
            contract_from: chrono::Utc::now().date_naive(),
            domains: Vec::new(),
        };
        let one = Instant::now();
        let territory = provision(pool, steps, &new, None).await?;
        spent += one.elapsed();
        let (pros, horizon) = (1 + index % 3, 1 + i32::try_from(index % 365)?);
        root.batch_execute(&seed_sql(&territory.schema_name, &territory.slug, pros, horizon, bench.day)).await?;
        let mut hasher = DefaultHasher::new();
        territory.schema_name.hash(&mut hasher);
        let schema = quote_ident(&territory.schema_name);
        bench.fixtures.push(Fixture {
            search_path: format!("{schema}, hq"),
            qualified: Statements::new("", &format!("{schema}."))?,
            keyed: Statements::new(&format!("/* {} */ ", territory.schema_name), "")?,
            slug: territory.slug,
            role: territory.role_name,
            pros,
            horizon,
            connection: (hasher.finish() % TASKS as u64) as usize,
        });
        if bench.fixtures.len().is_multiple_of(250) {
            println!(
                "onboarded {} territories: the last 250 took {:.0} ms each in provision() ({:.1} s with seeding), {:.0} s since the start",
                bench.fixtures.len(),
                spent.as_secs_f64() * 1000.0 / 250.0,
                batch.elapsed().as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
            (batch, spent) = (Instant::now(), Duration::ZERO);
        }
    }
    println!("{} territories onboarded ({:.0} s in this step)", bench.fixtures.len(), started.elapsed().as_secs_f64());
    Ok(started.elapsed())
}

async fn open_sessions(strategy: Strategy, admin: &str, app: &str) -> anyhow::Result<Arc<Vec<Mutex<Session>>>> {
    let url = url_with(admin, DATABASE, "cs_bench", &format!("&application_name={app}"));
    let mut sessions = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        sessions.push(Mutex::new(Session::open(strategy, &url).await?));
    }
    Ok(Arc::new(sessions))
}

/// A warm-up, then the measured run; prints both and returns the measured rate.
async fn cell(
    strategy: Strategy,
    sessions: &Arc<Vec<Mutex<Session>>>,
    bench: &Arc<Bench>,
    workload: Workload,
    mix: &Mix,
    warmup: f64,
    seconds: f64,
) -> f64 {
    let cold = drive(strategy, sessions, bench, workload, mix, warmup).await;
    let warm = drive(strategy, sessions, bench, workload, mix, seconds).await;
    let first_error = warm.first_error.clone().or_else(|| cold.first_error.clone());
    println!(
        "{:<3} {:<14} {:<26} first {warmup:.0} s {:>7}/s | next {seconds:.0} s {:>7} ops/s, {} errors ({} + {} in the warm-up){}",
        strategy.code(),
        workload.label(),
        mix.label(),
        thousands(cold.rate()),
        thousands(warm.rate()),
        warm.errors + cold.errors,
        warm.errors,
        cold.errors,
        first_error.map(|e| format!("; first: {e}")).unwrap_or_default()
    );
    warm.rate()
}

/// TASKS tasks serving requests for `seconds`; good answers per second.
async fn drive(
    strategy: Strategy,
    sessions: &Arc<Vec<Mutex<Session>>>,
    bench: &Arc<Bench>,
    workload: Workload,
    mix: &Mix,
    seconds: f64,
) -> Tally {
    let counter = Arc::new(AtomicUsize::new(0));
    let (good, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (sessions, bench) = (Arc::clone(sessions), Arc::clone(bench));
            let (counter, good, errors, first_error) =
                (Arc::clone(&counter), Arc::clone(&good), Arc::clone(&errors), Arc::clone(&first_error));
            let mix = match mix {
                Mix::One => Mix::One,
                Mix::RoundRobin(n) => Mix::RoundRobin(*n),
                Mix::Zipf(cdf) => Mix::Zipf(Arc::clone(cdf)),
            };
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(task as u64);
                while Instant::now() < deadline {
                    let index = match &mix {
                        Mix::One => 0,
                        Mix::RoundRobin(n) => counter.fetch_add(1, Ordering::Relaxed) % n,
                        Mix::Zipf(cdf) => {
                            let point = rng.r#gen::<f64>() * cdf.last().copied().unwrap_or(1.0);
                            cdf.partition_point(|&c| c < point).min(cdf.len() - 1)
                        }
                    };
                    let fixture = &bench.fixtures[index];
                    let slot = if strategy == Strategy::Affinity { fixture.connection } else { task };
                    let mut session = sessions[slot].lock().await;
                    match session.serve(strategy, index, fixture, &bench.unqualified, workload, bench.day).await {
                        Ok(()) => good.fetch_add(1, Ordering::Relaxed),
                        Err(error) => {
                            let mut first = first_error.lock().unwrap_or_else(|e| e.into_inner());
                            first.get_or_insert_with(|| format!("{error:#}"));
                            errors.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let first_error = first_error.lock().unwrap_or_else(|e| e.into_inner()).take();
    Tally {
        good: AtomicU64::load(&good, Ordering::Relaxed),
        errors: AtomicU64::load(&errors, Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        first_error,
    }
}

/// Private memory (Private_Clean + Private_Dirty of smaps_rollup) of the
/// backends whose application_name is `app`: max and sum in MiB, then each.
async fn backend_memory(root: &mut AsyncPgConnection, app: &str) -> anyhow::Result<String> {
    #[derive(diesel::QueryableByName)]
    struct Backend {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let backends: Vec<Backend> =
        diesel::sql_query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid")
            .bind::<Text, _>(app)
            .load(root)
            .await?;
    let mut each = Vec::with_capacity(backends.len());
    for backend in &backends {
        let rollup = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", backend.pid))?;
        let kib: u64 = rollup
            .lines()
            .filter(|line| line.starts_with("Private_Clean:") || line.starts_with("Private_Dirty:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        each.push(kib as f64 / 1024.0);
    }
    let max = each.iter().copied().fold(0.0, f64::max);
    let sum: f64 = each.iter().sum();
    let list: Vec<String> = each.iter().map(|mib| format!("{mib:.1}")).collect();
    Ok(format!("max {max:.1} MiB, sum {sum:.1} MiB over {} backends [{}]", each.len(), list.join(", ")))
}

fn print_table(
    results: &BTreeMap<(&str, Workload, usize), f64>,
    memory: &BTreeMap<(&str, Workload), String>,
    round_robin: usize,
    zipf: &str,
) {
    let rr = format!("round-robin {}", thousands(round_robin as f64));
    println!();
    println!("ops/s (ratio to A on one territory, same workload, this run); {TASKS} tasks");
    println!();
    println!(
        "| strategy | settings: one | settings: {rr} | settings: {zipf} | slots: one | slots: {rr} | slots: {zipf} |"
    );
    println!("|---|---|---|---|---|---|---|");
    for strategy in Strategy::ALL {
        let mut row = format!("| {} {} |", strategy.code(), strategy.describe());
        for workload in Workload::ALL {
            let base = results.get(&("A", workload, 0)).copied().unwrap_or(f64::NAN);
            for column in 0..3 {
                let rate = results.get(&(strategy.code(), workload, column)).copied().unwrap_or(f64::NAN);
                row.push_str(&format!(" {} ({:.2}) |", thousands(rate), rate / base));
            }
        }
        println!("{row}");
    }
    println!();
    println!("backend private memory after the round-robin runs:");
    println!();
    println!("| strategy | after settings reads | after slot searches |");
    println!("|---|---|---|");
    for strategy in Strategy::ALL {
        let get = |w| memory.get(&(strategy.code(), w)).map_or("", String::as_str);
        println!("| {} | {} | {} |", strategy.code(), get(Workload::Settings), get(Workload::Slots));
    }
}
