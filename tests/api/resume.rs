//! A booking request cut off half-way (the client's connection dropped, the
//! server or the database died) is finished by its retry with the same
//! Idempotency-Key, never run twice: one booking, one hold at the provider,
//! one capture. Each test stops the request at the point that matters with
//! the application's fault points, the way a crash there would.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use careservice::bookings::idempotency::LEASE;
use careservice::clock::{ManualClock, SharedClock};
use careservice::config::ServerSettings;
use careservice::faults::Faults;
use careservice::jobs::{JobContext, run_due_jobs};
use careservice::payments::Payments;
use careservice::startup::Application;
use chrono::{Duration, Utc};
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, People, at_ten, populate, request};
use crate::helpers::{TestApp, eventually, fresh_database, spawn_app_on};
use crate::provider::CountingProvider;

struct Stage {
    app: TestApp,
    settings: ServerSettings,
    clock: Arc<ManualClock>,
    provider: Arc<CountingProvider>,
    faults: Faults,
    people: People,
}

async fn stage() -> Stage {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let provider = Arc::new(CountingProvider::default());
    let faults = Faults::default();
    let settings = ServerSettings {
        clock: clock.clone(),
        run_worker: false,
        payment_provider: provider.clone(),
        faults: faults.clone(),
        ..ServerSettings::default()
    };
    let app = spawn_app_on(fresh_database().await, settings.clone()).await;
    let people = populate(&app, "amsterdam").await;
    Stage { app, settings, clock, provider, faults, people }
}

/// House cleaning, which is confirmed and captured at once: the whole path.
fn instant(start: &str) -> Value {
    let mut body = request(start);
    body["service"] = json!("house-cleaning");
    body
}

impl Stage {
    /// Sends the booking to a server of its own, on the same database, and
    /// kills that server (its in-flight requests die with it) once the
    /// request has reached its fault point: a crash exactly there.
    async fn crash_at(&self, point: &str, key: &str, body: &Value) {
        let settings = ServerSettings { bind: "127.0.0.1:0".parse().unwrap(), workers: 1, ..self.settings.clone() };
        let victim = Application::build(&settings, &self.app.db.url).await.unwrap();
        let (address, handle) = (format!("http://127.0.0.1:{}", victim.port()), victim.handle());
        tokio::spawn(victim.run_until_stopped());
        self.faults.cut(point);
        let sent = {
            let request = self
                .app
                .client
                .post(format!("{address}/api/v1/bookings"))
                .header(reqwest::header::HOST, HOST)
                .header("idempotency-key", key)
                .bearer_auth(&self.people.customer)
                .json(body);
            tokio::spawn(request.send())
        };
        let reached = eventually(StdDuration::from_secs(10), || async { !self.faults.is_armed(point) }).await;
        assert!(reached.is_some(), "{point}: the request never reached its fault point");
        handle.stop(false).await;
        let answer = sent.await.unwrap();
        assert!(
            answer.is_err(),
            "{point}: the request was meant to die, but was answered: {:?}",
            answer.map(|r| r.status())
        );
    }

    async fn book(&self, key: &str, body: &Value) -> reqwest::Response {
        self.app.post_once(HOST, "/api/v1/bookings", key, body, &self.people.customer).await
    }

    async fn bookings_of_the_customer(&self) -> Vec<Value> {
        let listed: Value = self
            .app
            .call(Method::GET, HOST, "/api/v1/bookings", None, Some(&self.people.customer))
            .await
            .json()
            .await
            .unwrap();
        listed["bookings"].as_array().unwrap().clone()
    }

    async fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.app.db.admin().await;
        diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap().n
    }
}

#[tokio::test]
async fn a_booking_cut_off_at_any_commit_point_is_finished_by_its_retry_and_charged_once() {
    let s = stage().await;
    let points = [
        "booking.claimed",
        "booking.held",
        "booking.authorized",
        "booking.recorded",
        "booking.settled",
        "booking.answered",
    ];
    for (day, point) in (2..).zip(points) {
        let key = format!("cut-at-{point}");
        let body = instant(&at_ten(&s.clock, day));
        s.crash_at(point, &key, &body).await;

        // Until its lease runs out the cut-off request may still be running:
        // a retry is told to come back (unless its answer was kept already).
        let early = s.book(&key, &body).await;
        if point == "booking.answered" {
            assert_eq!(early.status(), 201, "{point}: the kept answer is replayed at once");
        } else {
            assert_eq!(early.status(), 409, "{point}");
            assert_eq!(early.json::<Value>().await.unwrap()["code"], "idempotency-key-in-flight", "{point}");
        }
        s.clock.advance(LEASE + Duration::seconds(1));
        let retried = s.book(&key, &body).await;
        assert_eq!(retried.status(), 201, "{point}: the retry did not finish the booking");
        let booking: Value = retried.json().await.unwrap();
        assert_eq!(booking["status"], "CONFIRMED", "{point}");
        let id = booking["id"].as_str().unwrap().to_owned();

        // One booking at that start, one payment, captured once, posted once.
        let at_start: Vec<Value> =
            s.bookings_of_the_customer().await.into_iter().filter(|b| b["starts_at"] == booking["starts_at"]).collect();
        assert_eq!(at_start.len(), 1, "{point}: the retry made a second booking: {at_start:?}");
        let payments =
            s.count(&format!("SELECT count(*) AS n FROM t_amsterdam.payments WHERE booking_id = '{id}'")).await;
        assert_eq!(payments, 1, "{point}");
        let captured = s
            .count(&format!(
                "SELECT count(*) AS n FROM t_amsterdam.payments WHERE booking_id = '{id}' AND status = 'captured'"
            ))
            .await;
        assert_eq!(captured, 1, "{point}: the payment was not captured");
        let posted = s
            .count(&format!(
                "SELECT count(*) AS n FROM t_amsterdam.ledger_transactions t JOIN t_amsterdam.payments p
                   ON p.id = t.payment_id WHERE p.booking_id = '{id}' AND t.kind = 'capture'"
            ))
            .await;
        assert_eq!(posted, 1, "{point}: the capture was posted {posted} times");
        // The provider was asked to hold this booking's money (under the one
        // key of its purpose), and captured it once.
        assert!(CountingProvider::asked(&s.provider.authorizations, &id) >= 1, "{point}");
        assert_eq!(CountingProvider::asked(&s.provider.captures, &id), 1, "{point}: captured more than once");

        // And from now on the same answer, whatever the retries.
        let again: Value = s.book(&key, &body).await.json().await.unwrap();
        assert_eq!(again["id"], booking["id"], "{point}");
    }
    // Every authorisation key was the purpose of one of the six bookings:
    // none was asked for a booking that does not exist.
    let keys = s.provider.authorizations.lock().unwrap().clone();
    let bookings = s.bookings_of_the_customer().await;
    assert_eq!(bookings.len(), points.len());
    for key in &keys {
        assert!(bookings.iter().any(|b| key == &format!("booking_{}", b["id"].as_str().unwrap())), "{key}");
    }
}

#[tokio::test]
async fn a_hold_whose_request_died_after_the_provider_answered_is_released_by_its_timer() {
    let s = stage().await;
    s.crash_at("booking.authorized", "never-retried", &request(&at_ten(&s.clock, 3))).await;
    // The customer never comes back; the HELD booking still blocks the pro
    // and the provider holds the money, unrecorded.
    let held = s.bookings_of_the_customer().await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["status"], "HELD");
    let id = held[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(CountingProvider::asked(&s.provider.authorizations, &id), 1);

    s.clock.advance(Duration::minutes(16));
    let clock: SharedClock = s.clock.clone();
    let context = JobContext {
        pool: s.app.pool.clone(),
        clock,
        payments: Payments::new(s.provider.clone(), careservice::config::DEMO_WEBHOOK_SECRET.as_bytes()),
        keys: careservice::privacy::Keyring::demo(),
    };
    let ran = run_due_jobs(&context).await.unwrap();
    assert!(ran.iter().any(|(job, _)| job.kind == "booking.expire_hold"), "{ran:?}");
    assert_eq!(s.bookings_of_the_customer().await[0]["status"], "EXPIRED");
    // What the provider held is released, under the reference it gave.
    assert_eq!(CountingProvider::asked(&s.provider.voids, &id), 1, "the provider's hold was never released");
    let voided = s
        .count(&format!(
            "SELECT count(*) AS n FROM t_amsterdam.payments WHERE booking_id = '{id}' AND status = 'voided'"
        ))
        .await;
    assert_eq!(voided, 1);
}

#[tokio::test]
async fn a_database_connection_lost_mid_booking_answers_503_and_the_retry_finishes_it() {
    let s = stage().await;
    let body = instant(&at_ten(&s.clock, 2));
    let gate = s.faults.hold("booking.held");
    let request = {
        let client = s.app.client.clone();
        let url = format!("{}/api/v1/bookings", s.app.address);
        let (token, body) = (s.people.customer.clone(), body.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .header(reqwest::header::HOST, HOST)
                .header("idempotency-key", "lost-connection")
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        })
    };
    gate.reached().await;
    // The booking is held; now every server connection of this database dies,
    // as in a crash of PostgreSQL.
    let killed = s
        .count(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
    assert!(killed >= 1);
    gate.release();
    let answer = request.await.unwrap();
    assert_eq!(answer.status(), 503, "a lost connection is not the server's bug");
    assert!(answer.headers().get("retry-after").is_some());
    assert_eq!(answer.headers()["content-type"], "application/problem+json");

    // The key could not be released on the dead connection; once its lease
    // has run out a retry finishes the booking that was held.
    s.clock.advance(LEASE + Duration::seconds(1));
    let done =
        eventually(StdDuration::from_secs(10), || async { s.book("lost-connection", &body).await.status() == 201 })
            .await;
    assert!(done.is_some(), "the retry never finished the booking");
    let bookings = s.bookings_of_the_customer().await;
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    assert_eq!(bookings[0]["status"], "CONFIRMED");
}
