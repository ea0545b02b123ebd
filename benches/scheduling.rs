//! Scheduling benchmark (run by `scripts/bench-scheduling`): slot search for
//! one service with 50 pros over 30 days, each with a working week and
//! existing bookings; and bookings created per second by 8 concurrent
//! clients on distinct slots. Every timed answer is checked: a slot search
//! must list start times, a booking must come back as the booking asked for;
//! a failure alone fails the run, and among concurrent clients a refused slot
//! (409) and any other failure are counted apart and left out of the rate.
//! Needs BENCH_DATABASE_URL (a superuser).

mod common;

use std::sync::Arc;
use std::time::Instant;

use careservice::config::ServerSettings;
use careservice::identity::password::PasswordHasherPool;
use careservice::identity::{Role, store as accounts};
use careservice::startup::Application;
use careservice::tenancy::TenancyPool;
use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::provision::provision;
use careservice::tenancy::request::OnboardingRequest;
use careservice::tenancy::templates::Steps;
use chrono::{Datelike, NaiveTime, TimeZone, Utc};
use common::{fresh_database, percentile_ms, sized, url_with};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

const PROS: usize = 50;
const DAYS: i64 = 30;
const CLIENTS: usize = 8;
const PASSWORD: &str = "fiets-kaas-molen-regen";

/// How a booking request ended.
enum Booked {
    /// 201 with the booking asked for.
    Created,
    /// 409: the slot was taken or no pro was free for it.
    Refused,
    /// Anything else: another status, a body that is not the booking, no answer.
    Failed(String),
}

/// One POST /api/v1/bookings for `start`, timed by the caller; checks that a
/// 201 carries a booking of the service at that start.
async fn book(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    start: &chrono::DateTime<chrono_tz::Tz>,
) -> Booked {
    let body = serde_json::json!({ "service": "personal-care", "start": start.to_rfc3339(),
                                   "postcode": "1011 AB", "address": "Damrak 1" });
    let sent = client
        .post(format!("{base}/api/v1/bookings"))
        .header("host", "amsterdam.localhost")
        .header("idempotency-key", key)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Booked::Failed(error.to_string()),
    };
    let status = response.status();
    if status == reqwest::StatusCode::CONFLICT {
        return Booked::Refused;
    }
    let answer: serde_json::Value = match response.json().await {
        Ok(answer) => answer,
        Err(error) => return Booked::Failed(format!("{status}: {error}")),
    };
    let starts_at = answer["starts_at"].as_str().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
    if status == reqwest::StatusCode::CREATED
        && answer["service_code"] == "personal-care"
        && answer["id"].is_string()
        && starts_at.is_some_and(|at| at == *start)
    {
        Booked::Created
    } else {
        Booked::Failed(format!("{status}: {answer}"))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // The server's warnings and errors go to stderr (RUST_LOG overrides):
    // a failed answer counted here has its cause logged beside it.
    careservice::telemetry::init("warn");
    let admin = std::env::var("BENCH_DATABASE_URL")?;
    let searches: usize = sized(200, 20);
    let bookings_per_client: usize = sized(50, 10);
    let url = fresh_database(&admin, "careservice_bench_scheduling").await?;
    let mut superuser =
        AsyncPgConnection::establish(&url_with(&admin, "careservice_bench_scheduling", "postgres", "")).await?;
    let pool = TenancyPool::new(&url, &PoolSettings::default())?;
    let request = OnboardingRequest { slug: "amsterdam".into(), name: "Amsterdam".into(), ..Default::default() };
    let territory =
        provision(&pool, &Steps::embedded()?, &request.validate("localhost").map_err(anyhow::Error::msg)?, None)
            .await?;

    // 50 pros, Monday to Friday 08:00-18:00 and Saturday 09:00-13:00, each
    // with a booking on most working days in the next 30 days.
    superuser
        .batch_execute(&format!(
            "SET search_path = {schema};
             INSERT INTO pros (account_id, display_name, status, postcodes)
               SELECT gen_random_uuid(), 'Pro ' || i, 'active', '{{1011,1012}}' FROM generate_series(1, {PROS}) i;
             INSERT INTO pro_offerings (pro_id, service_code) SELECT id, 'personal-care' FROM pros;
             INSERT INTO availability_rules (pro_id, weekday, starts, ends)
               SELECT p.id, d, time '08:00', time '18:00' FROM pros p, generate_series(1, 5) d
               UNION ALL SELECT p.id, 6, time '09:00', time '13:00' FROM pros p;
             INSERT INTO bookings (customer_account_id, pro_id, service_code, starts_at, ends_at, buffer_minutes, blocked,
                                   status, price, vat_rate, cancellation_free_hours, cancellation_fee_percent, postcode, address)
               SELECT gen_random_uuid(), p.id, 'personal-care', s, s + interval '1 hour', 15,
                      tstzrange(s, s + interval '75 minutes'), 'confirmed', 58, 0.21, 24, 50, '1011AB', 'Damrak 1'
                 FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM pros) p,
                      generate_series(1, {DAYS}) day,
                      LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE 'Europe/Amsterdam') + day * interval '1 day'
                                       + (9 + (p.n + day) % 7) * interval '1 hour') AT TIME ZONE 'Europe/Amsterdam' AS s) t
                WHERE extract(isodow FROM s AT TIME ZONE 'Europe/Amsterdam') <= 5;",
            schema = territory.schema_name
        ))
        .await?;
    let hash = PasswordHasherPool::new(1).hash(PASSWORD).await?;
    {
        let mut conn = pool.hq().await?;
        for client in 0..CLIENTS {
            let email = format!("klant{client}@bench.nl");
            if let Some(account) = accounts::insert_account(
                &mut conn,
                &careservice::privacy::Keyring::demo(),
                &email,
                &email,
                &hash,
                "Klant",
            )
            .await?
            {
                accounts::add_membership(&mut conn, account.id, Some(territory.id), Role::Customer).await?;
            }
        }
    }

    let settings = ServerSettings { bind: "127.0.0.1:0".parse()?, run_worker: false, ..ServerSettings::default() };
    let application = Application::build(&settings, &url).await?;
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::new();

    let zone: chrono_tz::Tz = "Europe/Amsterdam".parse()?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let from = today.succ_opt().unwrap_or(today);
    let to = from + chrono::Duration::days(DAYS - 1);
    let search_url = format!("{base}/api/v1/slots?service=personal-care&from={from}&to={to}");
    let mut latencies = Vec::with_capacity(searches);
    let mut slots = 0;
    for index in 0..searches + 10 {
        let started = Instant::now();
        let response = client.get(&search_url).header("host", "amsterdam.localhost").send().await?;
        anyhow::ensure!(response.status() == reqwest::StatusCode::OK, "slot search failed: {}", response.status());
        let body: serde_json::Value = response.json().await?;
        if index >= 10 {
            latencies.push(started.elapsed());
        }
        let listed = body["slots"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(listed > 0 && (slots == 0 || listed == slots), "slot search listed {listed} start times");
        slots = listed;
    }
    latencies.sort();
    println!(
        "slot search, 1 service, {PROS} pros, {DAYS} days ({slots} start times): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {searches} checked requests (goal p95 <= 20 ms)",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.95),
        percentile_ms(&latencies, 1.0)
    );

    // Bookings: 8 clients, each on its own days and times.
    let mut tokens = Vec::new();
    for index in 0..CLIENTS {
        let body = serde_json::json!({ "email": format!("klant{index}@bench.nl"), "password": PASSWORD });
        let response = client
            .post(format!("{base}/api/v1/auth/sign-in"))
            .header("host", "amsterdam.localhost")
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(response.status() == reqwest::StatusCode::OK, "sign-in failed: {}", response.status());
        let signed: serde_json::Value = response.json().await?;
        let token = signed["token"].as_str().filter(|token| !token.is_empty());
        tokens.push(token.ok_or_else(|| anyhow::anyhow!("sign-in answered without a token"))?.to_owned());
    }
    let weekdays: Vec<chrono::NaiveDate> =
        (0..DAYS).map(|d| from + chrono::Duration::days(d)).filter(|d| d.weekday().number_from_monday() <= 5).collect();
    // One client alone first: the latency of a single booking.
    let mut alone = Vec::new();
    for n in 0..20 {
        let day = weekdays[weekdays.len() - 1 - n % 5];
        let time = NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default();
        let start = zone
            .from_local_datetime(&day.and_time(time))
            .single()
            .ok_or_else(|| anyhow::anyhow!("{day} 17:00 is not one local time"))?;
        let began = Instant::now();
        match book(&client, &base, &tokens[0], &format!("alone-{n}"), &start).await {
            Booked::Created => alone.push(began.elapsed()),
            Booked::Refused => anyhow::bail!("a booking alone at {start} was refused"),
            Booked::Failed(why) => anyhow::bail!("a booking alone at {start} failed: {why}"),
        }
    }
    alone.sort();
    println!(
        "one booking at a time: p50 {:.1} ms, p95 {:.1} ms over {} checked bookings",
        percentile_ms(&alone, 0.5),
        percentile_ms(&alone, 0.95),
        alone.len()
    );
    let weekdays = Arc::new(weekdays);
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(index, token)| {
            let (client, base, weekdays) = (client.clone(), base.clone(), Arc::clone(&weekdays));
            tokio::spawn(async move {
                let mut tally = Tally::default();
                for n in 0..bookings_per_client {
                    let day = weekdays[n % weekdays.len()];
                    let minutes = 8 * 60 + 15 * u32::try_from(index + CLIENTS * (n / weekdays.len())).unwrap_or(0);
                    let start = NaiveTime::from_hms_opt(minutes / 60 % 24, minutes % 60, 0)
                        .and_then(|time| zone.from_local_datetime(&day.and_time(time)).single());
                    let Some(start) = start else {
                        tally.failed.push(format!("no single local time for {day} + {minutes} minutes"));
                        continue;
                    };
                    match book(&client, &base, &token, &format!("bench-{index}-{n}"), &start).await {
                        Booked::Created => tally.created += 1,
                        Booked::Refused => tally.refused += 1,
                        Booked::Failed(why) => tally.failed.push(why),
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.created += tally.created;
        all.refused += tally.refused;
        all.failed.extend(tally.failed);
    }
    let elapsed = started.elapsed();
    println!(
        "bookings, {CLIENTS} concurrent clients on distinct slots: {} created and checked, {} refused (409), {} failed, in {:.2} s = {:.0} bookings/s",
        all.created,
        all.refused,
        all.failed.len(),
        elapsed.as_secs_f64(),
        f64::from(all.created) / elapsed.as_secs_f64()
    );
    for why in all.failed.iter().take(5) {
        println!("  failed: {why}");
    }
    Ok(())
}

/// What one concurrent client's bookings came to.
#[derive(Default)]
struct Tally {
    created: u32,
    refused: u32,
    failed: Vec<String>,
}
