//! Identity benchmark (run by `scripts/bench-identity`): sign-ins per second,
//! and the p99 latency of `GET /api/v1/territory` during a flood of 200
//! concurrent sign-ins as a ratio to its p99 with no flood, in the same run.
//! Needs BENCH_DATABASE_URL (a superuser).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use careservice::config::ServerSettings;
use careservice::identity::password::PasswordHasherPool;
use careservice::identity::ratelimit::{Limit, Limits};
use careservice::identity::store;
use careservice::startup::Application;
use careservice::tenancy::TenancyPool;
use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::provision::provision;
use careservice::tenancy::request::OnboardingRequest;
use careservice::tenancy::templates::Steps;
use common::{fresh_database, percentile_ms};

const FLOOD: usize = 200;
const PROBES: usize = 4;
const WINDOW: Duration = Duration::from_secs(8);
const PASSWORD: &str = "fiets-kaas-molen-regen";

/// Latencies of GET /api/v1/territory from PROBES clients until `stop`.
async fn probe(client: reqwest::Client, url: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let tasks: Vec<_> = (0..PROBES)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let response = client.get(&url).header("host", "amsterdam.localhost").send().await;
                    if response.map(|r| r.status().is_success()).unwrap_or(false) {
                        latencies.push(started.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    all.sort();
    all
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("BENCH_DATABASE_URL")?;
    let url = fresh_database(&admin, "careservice_bench_identity").await?;
    let pool = TenancyPool::new(&url, &PoolSettings::default())?;
    let request = OnboardingRequest { slug: "amsterdam".into(), name: "Amsterdam".into(), ..Default::default() };
    provision(&pool, &Steps::embedded()?, &request.validate("localhost").map_err(anyhow::Error::msg)?, None).await?;
    let hash = PasswordHasherPool::new(1).hash(PASSWORD).await?;
    {
        let mut conn = pool.hq().await?;
        for index in 0..FLOOD {
            let email = format!("user{index}@bench.nl");
            store::insert_account(&mut conn, &careservice::privacy::Keyring::demo(), &email, &email, &hash, "Bench")
                .await?;
        }
    }

    let unlimited = Limit::per(u32::MAX, 60);
    let settings = ServerSettings {
        bind: "127.0.0.1:0".parse()?,
        limits: Limits { sign_in_per_ip: unlimited, sign_in_per_account: unlimited, ..Limits::default() },
        ..ServerSettings::default()
    };
    let application = Application::build(&settings, &url).await?;
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let territory_url = format!("{base}/api/v1/territory");

    // Quiet: the probe alone.
    let stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(probe(client.clone(), territory_url.clone(), Arc::clone(&stop)));
    tokio::time::sleep(WINDOW).await;
    stop.store(true, Ordering::Relaxed);
    let quiet = quiet.await?;

    // Flood: 200 clients signing in over and over, and the probe.
    let stop = Arc::new(AtomicBool::new(false));
    let sign_ins = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..FLOOD)
        .map(|index| {
            let (client, stop, sign_ins) = (client.clone(), Arc::clone(&stop), Arc::clone(&sign_ins));
            let url = format!("{base}/api/v1/auth/sign-in");
            tokio::spawn(async move {
                let body = serde_json::json!({ "email": format!("user{index}@bench.nl"), "password": PASSWORD });
                while !stop.load(Ordering::Relaxed) {
                    let response = client.post(&url).header("host", "amsterdam.localhost").json(&body).send().await;
                    if response.map(|r| r.status().is_success()).unwrap_or(false) {
                        sign_ins.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let flooded = tokio::spawn(probe(client.clone(), territory_url, Arc::clone(&stop)));
    let started = Instant::now();
    tokio::time::sleep(WINDOW).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let flooded = flooded.await?;
    for flooder in flooders {
        let _ = flooder.await;
    }
    let rate = AtomicUsize::load(&sign_ins, Ordering::Relaxed) as f64 / elapsed.as_secs_f64();

    println!("sign-ins per second, {FLOOD} concurrent clients: {rate:.1}");
    println!(
        "GET /api/v1/territory, {PROBES} probing clients, {}s each: quiet p50 {:.2} ms p99 {:.2} ms ({} requests); during the flood p50 {:.2} ms p99 {:.2} ms ({} requests)",
        WINDOW.as_secs(),
        percentile_ms(&quiet, 0.5),
        percentile_ms(&quiet, 0.99),
        quiet.len(),
        percentile_ms(&flooded, 0.5),
        percentile_ms(&flooded, 0.99),
        flooded.len()
    );
    println!("p99 ratio flood / quiet: {:.2} (goal <= 2)", percentile_ms(&flooded, 0.99) / percentile_ms(&quiet, 0.99));
    Ok(())
}
