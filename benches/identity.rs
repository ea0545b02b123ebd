//! Identity benchmark (run by `scripts/bench-identity`): sign-ins per second,
//! and the p99 latency of `GET /api/v1/territory` during a flood of 200
//! concurrent sign-ins as a ratio to its p99 with no flood, in the same run.
//! Every answer is checked (a sign-in must return a session token, a read
//! Amsterdam's profile); failures are counted and printed, and left out of
//! the rate and the percentiles. Needs BENCH_DATABASE_URL (a superuser).

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
use common::{fresh_database, percentile_ms, sized};

const FLOOD: usize = 200;
const PROBES: usize = 4;
const PASSWORD: &str = "fiets-kaas-molen-regen";

/// What the probing clients saw: the latency of every answer that passed the
/// check, and how many did not (an error, another status, another territory).
struct Probed {
    latencies: Vec<Duration>,
    failed: usize,
}

/// One GET /api/v1/territory, timed to the end of its body; whether it was
/// Amsterdam's profile.
async fn territory_read(client: &reqwest::Client, url: &str) -> bool {
    let Ok(response) = client.get(url).header("host", "amsterdam.localhost").send().await else { return false };
    if response.status() != reqwest::StatusCode::OK {
        return false;
    }
    response.json::<serde_json::Value>().await.is_ok_and(|body| body["slug"] == "amsterdam")
}

/// One sign-in; whether it answered 200 with a session token.
async fn sign_in(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> bool {
    let Ok(response) = client.post(url).header("host", "amsterdam.localhost").json(body).send().await else {
        return false;
    };
    if response.status() != reqwest::StatusCode::OK {
        return false;
    }
    response
        .json::<serde_json::Value>()
        .await
        .is_ok_and(|body| body["token"].as_str().is_some_and(|token| !token.is_empty()))
}

/// Reads of GET /api/v1/territory from PROBES clients until `stop`.
async fn probe(client: reqwest::Client, url: String, stop: Arc<AtomicBool>) -> Probed {
    let tasks: Vec<_> = (0..PROBES)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut probed = Probed { latencies: Vec::new(), failed: 0 };
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if territory_read(&client, &url).await {
                        probed.latencies.push(started.elapsed());
                    } else {
                        probed.failed += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                probed
            })
        })
        .collect();
    let mut all = Probed { latencies: Vec::new(), failed: 0 };
    for task in tasks {
        let probed = task.await.unwrap_or(Probed { latencies: Vec::new(), failed: 1 });
        all.latencies.extend(probed.latencies);
        all.failed += probed.failed;
    }
    all.latencies.sort();
    all
}

/// The probe's figures for one window, failures counted beside them.
fn describe(probed: &Probed) -> String {
    format!(
        "p50 {:.2} ms p99 {:.2} ms ({} checked answers, {} failed and left out)",
        percentile_ms(&probed.latencies, 0.5),
        percentile_ms(&probed.latencies, 0.99),
        probed.latencies.len(),
        probed.failed
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // The server's warnings and errors go to stderr (RUST_LOG overrides):
    // a failed answer counted here has its cause logged beside it.
    careservice::telemetry::init("warn");
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

    let window = sized(Duration::from_secs(8), Duration::from_secs(2));

    // Quiet: the probe alone.
    let stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(probe(client.clone(), territory_url.clone(), Arc::clone(&stop)));
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let quiet = quiet.await?;

    // Flood: 200 clients signing in over and over, and the probe. The rate
    // counts the sign-ins that were checked before the clock stopped; those
    // still in flight then are neither counted nor timed.
    let stop = Arc::new(AtomicBool::new(false));
    let signed_in = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let flooders: Vec<_> = (0..FLOOD)
        .map(|index| {
            let (client, stop) = (client.clone(), Arc::clone(&stop));
            let (signed_in, failed) = (Arc::clone(&signed_in), Arc::clone(&failed));
            let url = format!("{base}/api/v1/auth/sign-in");
            tokio::spawn(async move {
                let body = serde_json::json!({ "email": format!("user{index}@bench.nl"), "password": PASSWORD });
                while !stop.load(Ordering::Relaxed) {
                    let counter = if sign_in(&client, &url, &body).await { &signed_in } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let flooded = tokio::spawn(probe(client.clone(), territory_url, Arc::clone(&stop)));
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let (signed_in_then, failed_then) = (signed_in.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let elapsed = started.elapsed();
    let flooded = flooded.await?;
    for flooder in flooders {
        let _ = flooder.await;
    }
    let in_flight = signed_in.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) - signed_in_then - failed_then;

    println!(
        "sign-ins per second, {FLOOD} concurrent clients: {:.1} ({signed_in_then} checked sign-ins in {:.2} s; {failed_then} failed and left out; {in_flight} in flight at the end not counted)",
        signed_in_then as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!("GET /api/v1/territory, {PROBES} probing clients, {}s windows:", window.as_secs());
    println!("  quiet:           {}", describe(&quiet));
    println!("  during the flood: {}", describe(&flooded));
    println!(
        "p99 ratio flood / quiet: {:.2} (goal <= 2)",
        percentile_ms(&flooded.latencies, 0.99) / percentile_ms(&quiet.latencies, 0.99)
    );
    Ok(())
}
