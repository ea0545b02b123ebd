//! Every price a customer sees or pays is held within HQ's bounds, and a
//! service HQ made inactive is not offered anywhere.

use std::sync::Arc;

use careservice::clock::{ManualClock, SharedClock};
use careservice::config::ServerSettings;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, People, at_ten, populate, request};
use crate::helpers::{TestApp, fresh_database, spawn_app_on};

async fn amsterdam() -> (TestApp, Arc<ManualClock>, People, String) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let shared: SharedClock = clock.clone();
    let settings = ServerSettings { clock: shared, run_worker: false, ..ServerSettings::default() };
    let app = spawn_app_on(fresh_database().await, settings).await;
    let people = populate(&app, "amsterdam").await;
    let admin = app.hq_admin_token("admin@careservice.nl").await;
    (app, clock, people, admin)
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn after_hq_narrows_the_bounds_a_pros_own_price_is_held_within_them_everywhere() {
    let (app, clock, people, admin) = amsterdam().await;
    // Personal care: HQ's bounds 45.00 to 90.00. The pro asks 55.00, the
    // franchisee tailors the territory's price to 56.00.
    let own = json!({ "price": "55.00" });
    let offered =
        app.call(Method::PUT, HOST, "/api/v1/pro/offerings/personal-care", Some(&own), Some(&people.pro)).await;
    assert_eq!(offered.status(), 200);
    let tailoring = json!({ "price": "56.00" });
    let tailored = app
        .call(Method::PUT, HOST, "/api/v1/catalog/services/personal-care", Some(&tailoring), Some(&people.franchisee))
        .await;
    assert_eq!(tailored.status(), 200);

    let narrowed = app
        .call(
            Method::PATCH,
            "hq.localhost",
            "/api/v1/hq/catalog/services/personal-care",
            Some(&json!({ "base_price": "46.00", "max_price": "48.00" })),
            Some(&admin),
        )
        .await;
    assert_eq!(narrowed.status(), 200);

    // The pro list.
    let listed = json_of(app.get(HOST, "/api/v1/pros?service=personal-care").await).await;
    assert_eq!(listed["pros"][0]["id"], people.pro_id);
    assert_eq!(listed["pros"][0]["price"], json!({ "amount": "48.00", "currency": "EUR" }), "{listed}");

    // The slot search.
    let start = at_ten(&clock, 2);
    let day = chrono::DateTime::parse_from_rfc3339(&start).unwrap().date_naive();
    let slots = json_of(app.get(HOST, &format!("/api/v1/slots?service=personal-care&from={day}&to={day}")).await).await;
    assert_eq!(slots["prices"][&people.pro_id], json!({ "amount": "48.00", "currency": "EUR" }), "{slots}");

    // The booking and the money held for it.
    let booked = app.post_once(HOST, "/api/v1/bookings", "narrowed", &request(&start), &people.customer).await;
    assert_eq!(booked.status(), 201);
    let booking = json_of(booked).await;
    assert_eq!(booking["price"], json!({ "amount": "48.00", "currency": "EUR" }), "{booking}");
    let id = booking["id"].as_str().unwrap();
    let payment = json_of(
        app.call(Method::GET, HOST, &format!("/api/v1/bookings/{id}/payment"), None, Some(&people.franchisee)).await,
    )
    .await;
    assert_eq!(payment["amount"]["amount"], "48.00", "{payment}");
}

#[tokio::test]
async fn a_service_hq_made_inactive_lists_no_pros() {
    let (app, _clock, _people, admin) = amsterdam().await;
    let before = app.get(HOST, "/api/v1/pros?service=personal-care").await;
    assert_eq!(before.status(), 200);
    assert_eq!(json_of(before).await["pros"].as_array().unwrap().len(), 1);

    let deactivated = app
        .call(
            Method::PATCH,
            "hq.localhost",
            "/api/v1/hq/catalog/services/personal-care",
            Some(&json!({ "active": false })),
            Some(&admin),
        )
        .await;
    assert_eq!(deactivated.status(), 200);
    let after = app.get(HOST, "/api/v1/pros?service=personal-care").await;
    assert_eq!(after.status(), 404);
    assert_eq!(json_of(after).await["code"], "unknown-service");
}

#[tokio::test]
async fn a_service_the_territory_disabled_lists_no_pros() {
    let (app, _clock, people, _admin) = amsterdam().await;
    let disabled = app
        .call(
            Method::PUT,
            HOST,
            "/api/v1/catalog/services/house-cleaning",
            Some(&json!({ "enabled": false })),
            Some(&people.franchisee),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    let listed = app.get(HOST, "/api/v1/pros?service=house-cleaning").await;
    assert_eq!(listed.status(), 404);
}
