//! Slots and bookings from the outside: one answer for "free", idempotency,
//! a race that cannot double-book, every transition and refusal, policy
//! snapshots, timers under a clock the test moves.

use std::sync::Arc;

use careservice::clock::{Clock, ManualClock, SharedClock};
use careservice::config::ServerSettings;
use careservice::identity::Role;
use careservice::jobs::{JobOutcome, run_due_jobs};
use chrono::{Duration, NaiveTime, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_holds_none, fresh_database, spawn_app_on};

pub(crate) const PASSWORD: &str = "fiets-kaas-molen-regen";
pub(crate) const HOST: &str = "amsterdam.localhost";

pub(crate) struct Scene {
    pub(crate) app: TestApp,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) franchisee: String,
    pub(crate) pro: String,
    pub(crate) pro_id: String,
    pub(crate) customer: String,
}

/// The people of one territory of a scene.
pub(crate) struct People {
    pub(crate) franchisee: String,
    pub(crate) pro: String,
    pub(crate) pro_id: String,
    pub(crate) customer: String,
}

/// Amsterdam with one approved pro (08:00-18:00 every day, 15 min buffer,
/// offering personal care, 60 minutes at 58.00 and not instantly bookable,
/// and house cleaning, which is), its franchisee and a customer; the clock
/// stands still until the test moves it.
pub(crate) async fn scene() -> Scene {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let shared: SharedClock = clock.clone();
    let app = spawn_app_on(
        fresh_database().await,
        ServerSettings { clock: shared, run_worker: false, ..ServerSettings::default() },
    )
    .await;
    let People { franchisee, pro, pro_id, customer } = populate(&app, "amsterdam").await;
    Scene { app, clock, franchisee, pro, pro_id, customer }
}

/// Onboards `slug` with the scene's franchisee, pro and customer.
pub(crate) async fn populate(app: &TestApp, slug: &str) -> People {
    let territory = app.onboard(slug).await;
    let host = format!("{slug}.localhost");
    let franchisee = app.franchisee_token(&format!("fran@{slug}.nl"), &territory).await;
    let pro_email = format!("pro@{slug}.nl");
    app.account(&pro_email, PASSWORD, &[(Role::Pro, Some(&territory))]).await;
    let pro = app.sign_in(&host, &pro_email, PASSWORD).await;
    let profile: Value = app
        .call(
            Method::PUT,
            &host,
            "/api/v1/pro/profile",
            Some(&json!({ "display_name": "Sanne", "postcodes": ["1011"] })),
            Some(&pro),
        )
        .await
        .json()
        .await
        .unwrap();
    let pro_id = profile["id"].as_str().unwrap().to_owned();
    app.post(&host, &format!("/api/v1/pros/{pro_id}/status"), &json!({ "status": "active" }), Some(&franchisee)).await;
    app.call(Method::PUT, &host, "/api/v1/pro/offerings/house-cleaning", Some(&json!({})), Some(&pro)).await;
    app.call(Method::PUT, &host, "/api/v1/pro/offerings/personal-care", Some(&json!({})), Some(&pro)).await;
    let weekly: Vec<Value> =
        (1..=7).map(|d| json!({ "weekday": d, "starts": "08:00:00", "ends": "18:00:00" })).collect();
    let set = app
        .call(
            Method::PUT,
            &host,
            "/api/v1/pro/availability",
            Some(&json!({ "buffer_minutes": 15, "weekly": weekly })),
            Some(&pro),
        )
        .await;
    assert_eq!(set.status(), 204);
    app.account(&format!("klant@{slug}.nl"), PASSWORD, &[(Role::Customer, Some(&territory))]).await;
    let customer = app.sign_in(&host, &format!("klant@{slug}.nl"), PASSWORD).await;
    People { franchisee, pro, pro_id, customer }
}

/// 10:00 Amsterdam time, `days` from now, as RFC 3339.
pub(crate) fn at_ten(clock: &ManualClock, days: i64) -> String {
    let zone: chrono_tz::Tz = "Europe/Amsterdam".parse().unwrap();
    let day = (clock.now() + Duration::days(days)).with_timezone(&zone).date_naive();
    zone.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap())).single().unwrap().to_rfc3339()
}

pub(crate) fn request(start: &str) -> Value {
    json!({ "service": "personal-care", "start": start, "postcode": "1011 AB", "address": "Damrak 1", "notes": "bel twee keer" })
}

pub(crate) async fn book(scene: &Scene, token: &str, key: &str, body: &Value) -> reqwest::Response {
    scene.app.post_once(HOST, "/api/v1/bookings", key, body, token).await
}

#[tokio::test]
async fn the_slot_list_and_booking_agree_and_a_taken_slot_disappears() {
    let s = scene().await;
    let day = chrono::DateTime::parse_from_rfc3339(&at_ten(&s.clock, 3)).unwrap().date_naive();
    let path = format!("/api/v1/slots?service=personal-care&from={day}&to={day}&postcode=1011AB");
    let slots: Value = s.app.get(HOST, &path).await.json().await.unwrap();
    let starts: Vec<String> =
        slots["slots"].as_array().unwrap().iter().map(|slot| slot["start"].as_str().unwrap().to_owned()).collect();
    // 08:00 to 17:00 (one-hour service) every 15 minutes: 37 starts.
    assert_eq!(starts.len(), 37, "{starts:?}");
    assert!(starts[0].ends_with("08:00:00+01:00") || starts[0].ends_with("08:00:00+02:00"), "{}", starts[0]);

    let created = book(&s, &s.customer, "k1", &request(&starts[8])).await;
    assert_eq!(created.status(), 201);
    let booking: Value = created.json().await.unwrap();
    assert_eq!(booking["status"], "AWAITING_PRO");
    assert_eq!(booking["pro_id"], s.pro_id);
    assert_eq!(booking["price"], json!({ "amount": "58.00", "currency": "EUR" }));

    // Every start whose appointment plus buffer would overlap is gone; the
    // booking check refuses exactly what the list no longer shows.
    let after: Value = s.app.get(HOST, &path).await.json().await.unwrap();
    let left: Vec<String> =
        after["slots"].as_array().unwrap().iter().map(|slot| slot["start"].as_str().unwrap().to_owned()).collect();
    // Booked 10:00-11:00 plus 15 minutes: starts from 09:00 (whose own buffer
    // runs to 10:15) to 11:00 collide; 08:45 and 11:15 do not.
    for (index, start) in starts.iter().enumerate() {
        let listed = left.contains(start);
        let expected = !(4..=12).contains(&index);
        assert_eq!(listed, expected, "slot {index} {start}");
    }
    let refused = book(&s, &s.customer, "k2", &request(&starts[10])).await;
    assert_eq!(refused.status(), 409);
    let allowed = book(&s, &s.customer, "k3", &request(&starts[13])).await;
    assert_eq!(allowed.status(), 201);

    // An instantly bookable service is confirmed at once.
    let mut instant = request(&starts[24]);
    instant["service"] = json!("house-cleaning");
    let confirmed: Value = book(&s, &s.customer, "k4", &instant).await.json().await.unwrap();
    assert_eq!(confirmed["status"], "CONFIRMED");
}

#[tokio::test]
async fn an_idempotency_key_replays_refuses_another_body_and_needs_a_key() {
    let s = scene().await;
    let body = request(&at_ten(&s.clock, 2));
    let first = book(&s, &s.customer, "same-key", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = book(&s, &s.customer, "same-key", &body).await;
    assert_eq!(replay.status(), 201);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], first["id"], "the replay made a second booking");
    let other = book(&s, &s.customer, "same-key", &request(&at_ten(&s.clock, 4))).await;
    assert_eq!(other.status(), 409);
    assert_eq!(other.json::<Value>().await.unwrap()["code"], "idempotency-key-reused");
    let keyless = s.app.post(HOST, "/api/v1/bookings", &body, Some(&s.customer)).await;
    assert_eq!(keyless.status(), 400);
    let listed: Value =
        s.app.call(Method::GET, HOST, "/api/v1/bookings", None, Some(&s.customer)).await.json().await.unwrap();
    assert_eq!(listed["bookings"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_still_running_gets_a_retryable_409() {
    let s = scene().await;
    // A request with this key is in flight (its row says so).
    let mut conn = s.app.db.admin().await;
    let account: uuid::Uuid = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        careservice::schema::accounts::table
            .filter(
                careservice::schema::accounts::email_normalized
                    .eq(careservice::privacy::Keyring::demo().lookup("klant@amsterdam.nl")),
            )
            .select(careservice::schema::accounts::id)
            .first(&mut conn)
            .await
            .unwrap()
    };
    let body = request(&at_ten(&s.clock, 2));
    let hash = careservice::bookings::idempotency::request_hash(&body);
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        &format!("INSERT INTO t_amsterdam.idempotency_keys (account_id, key, request_hash, state) VALUES ('{account}', 'busy', '{hash}', 'running')"),
    )
    .await
    .unwrap();
    let response = book(&s, &s.customer, "busy", &body).await;
    assert_eq!(response.status(), 409);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "idempotency-key-in-flight");
}

#[tokio::test]
async fn a_hundred_concurrent_requests_for_one_slot_make_exactly_one_booking() {
    let s = scene().await;
    let body = request(&at_ten(&s.clock, 2));
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..100)
        .map(|index| {
            let s = Arc::clone(&s);
            let body = body.clone();
            tokio::spawn(async move { book(&s, &s.customer, &format!("race-{index}"), &body).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, conflicts), (1, 99), "{statuses:?}");
}

#[tokio::test]
async fn transitions_follow_the_rules_and_are_recorded() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "t1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    let action = |name: &str| format!("/api/v1/bookings/{id}/{name}");

    // The customer cannot accept; the pro can, once.
    assert_eq!(s.app.post(HOST, &action("accept"), &json!({}), Some(&s.customer)).await.status(), 403);
    assert_eq!(s.app.post(HOST, &action("accept"), &json!({}), Some(&s.pro)).await.status(), 200);
    assert_eq!(s.app.post(HOST, &action("accept"), &json!({}), Some(&s.pro)).await.status(), 409);
    assert_eq!(s.app.post(HOST, &action("decline"), &json!({}), Some(&s.pro)).await.status(), 409);
    // Not before the start.
    assert_eq!(s.app.post(HOST, &action("complete"), &json!({}), Some(&s.pro)).await.status(), 409);
    s.clock.advance(Duration::days(2) + Duration::hours(13));
    assert_eq!(s.app.post(HOST, &action("complete"), &json!({}), Some(&s.pro)).await.status(), 200);
    assert_eq!(s.app.post(HOST, &action("cancel"), &json!({}), Some(&s.customer)).await.status(), 409);

    let shown: Value = s
        .app
        .call(Method::GET, HOST, &format!("/api/v1/bookings/{id}"), None, Some(&s.franchisee))
        .await
        .json()
        .await
        .unwrap();
    let path: Vec<(Value, Value)> =
        shown["events"].as_array().unwrap().iter().map(|e| (e["to_status"].clone(), e["actor"].clone())).collect();
    assert_eq!(
        path,
        vec![
            (json!("held"), json!("customer")),
            (json!("awaiting_pro"), json!("system")),
            (json!("confirmed"), json!("pro")),
            (json!("completed"), json!("pro")),
        ]
    );
}

#[tokio::test]
async fn a_booking_keeps_the_price_and_policy_it_was_made_under() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "p1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    // The franchisee changes price and policy afterwards.
    let changed = s
        .app
        .call(
            Method::PUT,
            HOST,
            "/api/v1/catalog/services/personal-care",
            Some(&json!({ "price": "80.00", "cancellation_fee_percent": "100", "cancellation_free_hours": 1 })),
            Some(&s.franchisee),
        )
        .await;
    assert_eq!(changed.status(), 200);
    // Within the free window of the snapshot (24 h): free.
    let preview: Value = s
        .app
        .call(Method::GET, HOST, &format!("/api/v1/bookings/{id}/cancellation"), None, Some(&s.customer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["fee"]["amount"], "0.00");
    // 20 hours before the start: the snapshot's 50% of 58.00, not 100% of 80.00.
    let starts_at =
        chrono::DateTime::parse_from_rfc3339(booking["starts_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    s.clock.advance(starts_at - Duration::hours(20) - s.clock.now());
    let preview: Value = s
        .app
        .call(Method::GET, HOST, &format!("/api/v1/bookings/{id}/cancellation"), None, Some(&s.customer))
        .await
        .json()
        .await
        .unwrap();
    let cancelled: Value = s
        .app
        .post(HOST, &format!("/api/v1/bookings/{id}/cancel"), &json!({}), Some(&s.customer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["cancelled_by"], "customer");
    assert_eq!(cancelled["cancellation_fee"], json!({ "amount": "29.00", "currency": "EUR" }));
    assert_eq!(preview["fee"]["amount"], "29.00");
    assert_eq!(cancelled["price"]["amount"], "58.00");
}

#[tokio::test]
async fn who_sees_what() {
    let s = scene().await;
    let amsterdam = {
        let mut conn = s.app.pool.hq().await.unwrap();
        careservice::tenancy::store::find_by_slug(&mut conn, "amsterdam").await.unwrap().unwrap()
    };
    let booking: Value = book(&s, &s.customer, "v1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let path = format!("/api/v1/bookings/{}", booking["id"].as_str().unwrap());
    s.app.account("ander@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    let other = s.app.sign_in(HOST, "ander@voorbeeld.nl", PASSWORD).await;
    // What the other customer must not learn of the booking.
    let id = booking["id"].as_str().unwrap();
    let secrets = [id, "Damrak 1", "bel twee keer", s.pro_id.as_str()];
    let refused = s.app.call(Method::GET, HOST, &path, None, Some(&other)).await;
    assert_eq!(refused.status(), 404);
    assert_holds_none("another customer's GET", &refused.text().await.unwrap(), &secrets);
    let list: Value = s.app.call(Method::GET, HOST, "/api/v1/bookings", None, Some(&other)).await.json().await.unwrap();
    assert_eq!(list["bookings"], json!([]));
    assert_holds_none("another customer's list", &list.to_string(), &secrets);
    assert_eq!(s.app.call(Method::GET, HOST, &path, None, Some(&s.pro)).await.status(), 200);
    assert_eq!(s.app.call(Method::GET, HOST, &path, None, Some(&s.franchisee)).await.status(), 200);
    let cancel = s.app.post(HOST, &format!("{path}/cancel"), &json!({}), Some(&other)).await;
    assert_eq!(cancel.status(), 404);
    assert_holds_none("another customer's cancel", &cancel.text().await.unwrap(), &secrets);
}

#[tokio::test]
async fn timers_expire_unanswered_requests_and_complete_finished_work() {
    let s = scene().await;
    let unanswered: Value = book(&s, &s.customer, "x1", &request(&at_ten(&s.clock, 3))).await.json().await.unwrap();
    let accepted: Value = book(&s, &s.customer, "x2", &request(&at_ten(&s.clock, 4))).await.json().await.unwrap();
    s.app
        .post(HOST, &format!("/api/v1/bookings/{}/accept", accepted["id"].as_str().unwrap()), &json!({}), Some(&s.pro))
        .await;

    let status = |id: &Value| {
        let path = format!("/api/v1/bookings/{}", id.as_str().unwrap());
        let app = &s.app;
        let token = s.customer.clone();
        async move {
            app.call(Method::GET, HOST, &path, None, Some(&token)).await.json::<Value>().await.unwrap()["status"]
                .clone()
        }
    };
    let clock: SharedClock = s.clock.clone();
    let kinds = |ran: &[(careservice::jobs::Job, JobOutcome)]| {
        assert!(ran.iter().all(|(_, outcome)| *outcome == JobOutcome::Done), "{ran:?}");
        let mut kinds: Vec<String> = ran.iter().map(|(job, _)| job.kind.clone()).collect();
        kinds.sort();
        kinds
    };
    // Nothing is due yet but the drain of the accepted booking's capture
    // into hq; the hold timers and the settlement recovery come later.
    let early = run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    assert_eq!(kinds(&early), ["ledger.drain_outbox"]);
    s.clock.advance(Duration::minutes(16));
    let holds = run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    assert_eq!(kinds(&holds), ["booking.expire_hold", "booking.expire_hold", "payments.settle"]);
    assert_eq!(status(&unanswered["id"]).await, "AWAITING_PRO");

    s.clock.advance(Duration::hours(24));
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    assert_eq!(status(&unanswered["id"]).await, "EXPIRED");
    assert_eq!(status(&accepted["id"]).await, "CONFIRMED");

    s.clock.advance(Duration::days(4));
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    assert_eq!(status(&accepted["id"]).await, "COMPLETED");
    // Running again changes nothing.
    assert!(run_due_jobs(&s.app.jobs(&clock)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reschedule_moves_the_booking_and_links_the_two() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "r1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    // Half an hour later overlaps the booking itself, which must not block it.
    let new_start = chrono::DateTime::parse_from_rfc3339(&at_ten(&s.clock, 2)).unwrap() + Duration::minutes(30);
    let moved = s
        .app
        .post(
            HOST,
            &format!("/api/v1/bookings/{id}/reschedule"),
            &json!({ "start": new_start.to_rfc3339() }),
            Some(&s.customer),
        )
        .await;
    assert_eq!(moved.status(), 201);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["rescheduled_from"], id);
    let old: Value = s
        .app
        .call(Method::GET, HOST, &format!("/api/v1/bookings/{id}"), None, Some(&s.customer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["status"], "RESCHEDULED");
    assert_eq!(old["rescheduled_to"], moved["id"]);
}

#[tokio::test]
async fn a_job_that_fails_for_good_is_kept_listed_for_hq_and_can_be_retried() {
    let s = scene().await;
    let territory_id = {
        let mut conn = s.app.pool.hq().await.unwrap();
        careservice::tenancy::store::find_by_slug(&mut conn, "amsterdam").await.unwrap().unwrap().id
    };
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut s.app.db.admin().await,
        &format!(
            "INSERT INTO hq.jobs (kind, territory_id, payload, run_at, max_attempts)
             VALUES ('booking.expire_hold', {territory_id}, '{{}}', now() - interval '1 minute', 2)"
        ),
    )
    .await
    .unwrap();
    let clock: SharedClock = s.clock.clone();
    let first = run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    assert!(matches!(first[0].1, JobOutcome::Failed(_)), "{first:?}");
    // Retried after its backoff, then kept as failed.
    assert!(run_due_jobs(&s.app.jobs(&clock)).await.unwrap().is_empty(), "retried before its backoff");
    s.clock.advance(Duration::seconds(5));
    assert_eq!(run_due_jobs(&s.app.jobs(&clock)).await.unwrap().len(), 1);
    s.clock.advance(Duration::hours(2));
    assert!(run_due_jobs(&s.app.jobs(&clock)).await.unwrap().is_empty(), "a failed job ran again");

    let admin = s.app.hq_admin_token("hq@voorbeeld.nl").await;
    let failed: Value = s
        .app
        .call(Method::GET, "hq.localhost", "/api/v1/hq/jobs/failed", None, Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let job = &failed["jobs"][0];
    assert_eq!((job["territory"].clone(), job["attempts"].clone()), (json!("amsterdam"), json!(2)));
    assert!(job["last_error"].as_str().unwrap().contains("no booking id"), "{job}");
    let retry =
        s.app.post("hq.localhost", &format!("/api/v1/hq/jobs/{}/retry", job["id"]), &json!({}), Some(&admin)).await;
    assert_eq!(retry.status(), 204);
    // The retry is due at the real time now; the test clock is ahead of it.
    assert_eq!(run_due_jobs(&s.app.jobs(&clock)).await.unwrap().len(), 1);
    let by_customer = s.app.call(Method::GET, "hq.localhost", "/api/v1/hq/jobs/failed", None, Some(&s.customer)).await;
    assert_eq!(by_customer.status(), 403);
}

#[tokio::test]
async fn dates_far_away_and_odd_postcodes_are_refused_not_crashed_on() {
    let s = scene().await;
    for path in [
        "/api/v1/slots?service=personal-care&from=%2B262142-12-31&to=%2B262142-12-31",
        "/api/v1/slots?service=personal-care&from=-5000-01-01&to=-5000-01-01",
    ] {
        assert_eq!(s.app.get(HOST, path).await.status(), 422, "{path}");
    }
    let far = book(&s, &s.customer, "far", &request("+262142-12-31T10:00:00Z")).await;
    assert_eq!(far.status(), 422);
    let mut odd = request(&at_ten(&s.clock, 2));
    odd["postcode"] = json!("123é5");
    for _ in 0..2 {
        // The key is not left "running": the same request gets the same answer.
        let refused = book(&s, &s.customer, "odd", &odd).await;
        assert_eq!(refused.status(), 422);
    }
    let exception = s
        .app
        .post(
            HOST,
            "/api/v1/pro/availability/exceptions",
            &json!({ "day": "-5000-01-01", "kind": "off" }),
            Some(&s.pro),
        )
        .await;
    assert_eq!(exception.status(), 422);
    // The server is still there.
    assert_eq!(s.app.get("localhost", "/healthz").await.status(), 200);
}

#[tokio::test]
async fn an_offboarded_pro_sees_and_moves_no_booking() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "o1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    let offboarded = s
        .app
        .post(
            HOST,
            &format!("/api/v1/pros/{}/status", s.pro_id),
            &json!({ "status": "offboarded" }),
            Some(&s.franchisee),
        )
        .await;
    assert_eq!(offboarded.status(), 200);
    let list: Value = s.app.call(Method::GET, HOST, "/api/v1/bookings", None, Some(&s.pro)).await.json().await.unwrap();
    assert_eq!(list["bookings"], json!([]));
    let accept = s.app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&s.pro)).await;
    assert_eq!(accept.status(), 404);
    assert_holds_none("the offboarded pro's accept", &accept.text().await.unwrap(), &[id, "Damrak 1", "bel twee keer"]);
}

#[tokio::test]
async fn no_moving_inside_the_fee_window_and_no_cancelling_what_has_started() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "w1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    s.app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&s.pro)).await;
    let starts_at =
        chrono::DateTime::parse_from_rfc3339(booking["starts_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    s.clock.advance(starts_at - Duration::hours(3) - s.clock.now());
    let later = (starts_at + Duration::days(7)).to_rfc3339();
    let moved = s
        .app
        .post(HOST, &format!("/api/v1/bookings/{id}/reschedule"), &json!({ "start": later }), Some(&s.customer))
        .await;
    assert_eq!(moved.json::<Value>().await.unwrap()["code"], "reschedule-window-closed");
    s.clock.advance(Duration::hours(4));
    let cancelled = s.app.post(HOST, &format!("/api/v1/bookings/{id}/cancel"), &json!({}), Some(&s.customer)).await;
    assert_eq!(cancelled.json::<Value>().await.unwrap()["code"], "already-started");
    assert_eq!(
        s.app.post(HOST, &format!("/api/v1/bookings/{id}/no-show"), &json!({}), Some(&s.pro)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_pro_with_its_own_price_is_booked_at_that_price() {
    let s = scene().await;
    let priced = s
        .app
        .call(
            Method::PUT,
            HOST,
            "/api/v1/pro/offerings/personal-care",
            Some(&json!({ "price": "64.50" })),
            Some(&s.pro),
        )
        .await;
    assert_eq!(priced.status(), 200);
    let booking: Value = book(&s, &s.customer, "own-price", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    assert_eq!(booking["price"], json!({ "amount": "64.50", "currency": "EUR" }));
}

#[tokio::test]
async fn a_no_show_can_be_recorded_after_the_end_before_completion_kicks_in() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "ns1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    s.app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&s.pro)).await;
    let ends_at =
        chrono::DateTime::parse_from_rfc3339(booking["ends_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    s.clock.advance(ends_at + Duration::hours(1) - s.clock.now());
    let clock: SharedClock = s.clock.clone();
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    let recorded = s.app.post(HOST, &format!("/api/v1/bookings/{id}/no-show"), &json!({}), Some(&s.pro)).await;
    assert_eq!(recorded.status(), 200, "the booking completed itself before a no-show could be recorded");
}

#[tokio::test]
async fn a_replayed_error_is_problem_json_like_the_first_answer() {
    let s = scene().await;
    let mut unknown = request(&at_ten(&s.clock, 2));
    unknown["service"] = json!("no-such-service");
    let first = book(&s, &s.customer, "e1", &unknown).await;
    let replay = book(&s, &s.customer, "e1", &unknown).await;
    assert_eq!(first.status(), 404);
    assert_eq!(replay.status(), 404);
    for answer in [&first, &replay] {
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(first.json::<Value>().await.unwrap(), replay.json::<Value>().await.unwrap());
}

#[tokio::test]
async fn an_action_with_a_body_it_cannot_read_is_refused_and_changes_nothing() {
    let s = scene().await;
    let booking: Value = book(&s, &s.customer, "u1", &request(&at_ten(&s.clock, 2))).await.json().await.unwrap();
    let path = format!("/api/v1/bookings/{}", booking["id"].as_str().unwrap());
    for body in [json!({ "unexpected": 1 }), json!({ "start": "not a time" }), json!([1, 2])] {
        let refused = s.app.post(HOST, &format!("{path}/cancel"), &body, Some(&s.customer)).await;
        assert_eq!(refused.status(), 400, "{body}");
    }
    let unchanged: Value = s.app.call(Method::GET, HOST, &path, None, Some(&s.customer)).await.json().await.unwrap();
    assert_eq!(unchanged["status"], "AWAITING_PRO");
    // No body at all is still fine.
    let cancelled = s
        .app
        .client
        .post(format!("{}{path}/cancel", s.app.address))
        .header("host", HOST)
        .bearer_auth(&s.customer)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
}

#[tokio::test]
async fn concurrent_requests_for_overlapping_starts_are_each_booked_or_refused_never_failed() {
    let s = scene().await;
    let zone: chrono_tz::Tz = "Europe/Amsterdam".parse().unwrap();
    let day = (s.clock.now() + Duration::days(2)).with_timezone(&zone).date_naive();
    // Every 15 minutes from 08:00: each start overlaps its neighbours, so the
    // database's exclusion constraint sees inserts that clash both ways.
    let starts: Vec<String> = (0..36)
        .map(|quarter| {
            let time = NaiveTime::from_hms_opt(8, 0, 0).unwrap() + Duration::minutes(15 * quarter);
            zone.from_local_datetime(&day.and_time(time)).single().unwrap().to_rfc3339()
        })
        .collect();
    // A server of its own with a pool as large as in production, so that
    // as many inserts clash at once as would there.
    let settings = ServerSettings {
        bind: "127.0.0.1:0".parse().unwrap(),
        clock: s.clock.clone(),
        run_worker: false,
        ..ServerSettings::default()
    };
    let server = careservice::startup::Application::build(&settings, &s.app.db.url).await.unwrap();
    let address = format!("http://127.0.0.1:{}", server.port());
    tokio::spawn(server.run_until_stopped());
    let s = Arc::new(s);
    let tasks: Vec<_> = starts
        .iter()
        .enumerate()
        .map(|(index, start)| {
            let s = Arc::clone(&s);
            let body = request(start);
            let url = format!("{address}/api/v1/bookings");
            tokio::spawn(async move {
                let answer = s
                    .app
                    .client
                    .post(url)
                    .header(reqwest::header::HOST, HOST)
                    .header("idempotency-key", format!("overlap-{index}"))
                    .bearer_auth(&s.customer)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                (status, answer.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let failed: Vec<&(u16, String)> = answers.iter().filter(|(status, _)| ![201, 409].contains(status)).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    assert!(created >= 1, "{answers:?}");
    // What was booked never overlaps (an hour plus the 15-minute buffer).
    let listed: Value =
        s.app.call(Method::GET, HOST, "/api/v1/bookings", None, Some(&s.customer)).await.json().await.unwrap();
    let mut booked: Vec<chrono::DateTime<chrono::FixedOffset>> = listed["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| chrono::DateTime::parse_from_rfc3339(b["starts_at"].as_str().unwrap()).unwrap())
        .collect();
    booked.sort();
    assert_eq!(booked.len(), created);
    for pair in booked.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::minutes(75), "{pair:?}");
    }
}
