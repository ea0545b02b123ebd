//! Refunds are claimed before the provider is asked: concurrent refunds that
//! together exceed what was captured reach the provider once.

use std::sync::Arc;

use careservice::clock::{ManualClock, SharedClock};
use careservice::config::ServerSettings;
use chrono::Utc;
use serde_json::{Value, json};

use crate::bookings::{HOST, at_ten, populate, request};
use crate::helpers::{fresh_database, spawn_app_on};
use crate::provider::CountingProvider;

#[tokio::test]
async fn racing_refunds_that_exceed_the_capture_reach_the_provider_once() {
    let provider = Arc::new(CountingProvider {
        refund_delay: std::time::Duration::from_millis(50),
        ..CountingProvider::default()
    });
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let shared: SharedClock = clock.clone();
    let settings = ServerSettings {
        clock: shared,
        run_worker: false,
        payment_provider: provider.clone(),
        ..ServerSettings::default()
    };
    let app = spawn_app_on(fresh_database().await, settings).await;
    let people = populate(&app, "amsterdam").await;
    let booked = app.post_once(HOST, "/api/v1/bookings", "b1", &request(&at_ten(&clock, 2)), &people.customer).await;
    assert_eq!(booked.status(), 201);
    let id = booked.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let accepted = app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&people.pro)).await;
    assert_eq!(accepted.status(), 200);

    // Eight refunds of 40.00 of a 58.00 payment at once: one fits.
    let path = format!("/api/v1/bookings/{id}/refunds");
    let attempts = (0..8).map(|n| {
        let (app, path, token) = (&app, &path, &people.franchisee);
        async move { app.post_once(HOST, path, &format!("race-{n}"), &json!({ "amount": "40.00" }), token).await }
    });
    let statuses: Vec<u16> =
        futures::future::join_all(attempts).await.iter().map(|response| response.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|status| **status == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|status| [201, 422].contains(status)), "{statuses:?}");
    assert_eq!(provider.refunds.lock().unwrap().len(), 1, "losers of the race reached the provider");

    let payment: Value = app
        .call(reqwest::Method::GET, HOST, &format!("/api/v1/bookings/{id}/payment"), None, Some(&people.franchisee))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["refunded"]["amount"], "40.00");
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 1);
}
