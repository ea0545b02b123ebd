//! The server survives its database restarting: while PostgreSQL is down,
//! requests that need it fail fast with 503 problem+json; once it is back they
//! succeed again, with no restart of the server. The test runs its own
//! embedded cluster (the one `careservice` starts without DATABASE_URL), so
//! that stopping it disturbs no other test.

use std::time::{Duration, Instant};

use careservice::config::ServerSettings;
use careservice::database::embedded::EmbeddedCluster;
use careservice::database::migrations::migrate_hq;

use crate::helpers::{TestDatabase, eventually, spawn_app_on};

#[tokio::test]
async fn requests_fail_fast_with_503_while_the_database_is_down_and_recover_after() {
    let dir = std::env::temp_dir().join(format!("cs-restart-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let cluster = EmbeddedCluster::new(&dir).unwrap();
    cluster.ensure_running().await.unwrap();
    let url = cluster.bootstrap().await.unwrap();
    migrate_hq(&url).await.unwrap();
    let app = spawn_app_on(TestDatabase { url: url.clone(), admin_url: url.clone() }, ServerSettings::default()).await;
    app.onboard("amsterdam").await;
    assert_eq!(app.get("amsterdam.localhost", "/api/v1/catalog").await.status(), 200);
    assert_eq!(app.get("localhost", "/readyz").await.status(), 200);

    cluster.stop().await.unwrap();
    let started = Instant::now();
    let down = app.get("localhost", "/readyz").await;
    assert_eq!(down.status(), 503);
    assert_eq!(down.headers()["content-type"], "application/problem+json");
    assert!(down.headers().get("retry-after").is_some());
    // A request that needs the database (no cached answer): 503, quickly.
    let uncached = app.get("amsterdam.localhost", "/api/v1/settings").await;
    assert_eq!(uncached.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5), "failing took {:?}", started.elapsed());

    cluster.ensure_running().await.unwrap();
    let back = eventually(Duration::from_secs(15), || async {
        app.get("amsterdam.localhost", "/api/v1/settings").await.status() == 200
    })
    .await;
    assert!(back.is_some(), "the server did not recover after the database came back");
    assert_eq!(app.get("localhost", "/readyz").await.status(), 200);
    cluster.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
