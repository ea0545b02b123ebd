//! The tenant router, from the outside: hosts, statuses, proxies, errors, cache.

use std::time::Duration;

use careservice::config::ServerSettings;
use careservice::tenancy::TerritoryStatus;
use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::provision::provision;
use careservice::tenancy::resolver::{CacheSettings, HostTarget, ResolveError, TerritoryResolver};
use careservice::tenancy::settings::CustomDomain;
use careservice::tenancy::{TenancyPool, store};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{eventually, fresh_database, new_territory, spawn_app, spawn_app_on};

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_territory_host_gets_its_public_profile_whatever_the_case_and_port() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    app.onboard("utrecht").await;

    for host in ["amsterdam.localhost", "AMSTERDAM.Localhost:8080", "amsterdam.localhost."] {
        let response = app.get(host, "/api/v1/territory").await;
        assert_eq!(response.status(), 200, "{host}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["slug"], "amsterdam");
        assert_eq!(body["name"], "Territory amsterdam");
        assert_eq!(body["timezone"], "Europe/Amsterdam");
        assert_eq!(body["locale"], "nl-NL");
        assert_eq!(body["status"], "active");
        assert!(body.get("schema_name").is_none() && body.get("role_name").is_none());
    }
    let body: Value = app.get("utrecht.localhost", "/api/v1/territory").await.json().await.unwrap();
    assert_eq!(body["slug"], "utrecht");
}

#[tokio::test]
async fn a_registered_custom_domain_reaches_its_territory() {
    let app = spawn_app().await;
    let mut new = new_territory("haarlem");
    new.domains = vec![CustomDomain::parse("zorg-haarlem.nl", "localhost").unwrap()];
    provision(&app.pool, &app.steps, &new, None).await.unwrap();

    let body: Value = app.get("Zorg-Haarlem.nl:443", "/api/v1/territory").await.json().await.unwrap();
    assert_eq!(body["slug"], "haarlem");
}

#[tokio::test]
async fn unknown_territories_and_hosts_get_404_problem_documents() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;

    for host in ["nowhere.localhost", "www.localhost", "localhost", "example.com", "a.b.localhost"] {
        let (status, body) = problem(app.get(host, "/api/v1/territory").await).await;
        assert_eq!(status, 404, "{host}");
        assert_eq!(body["type"], "urn:careservice:problem:unknown-territory", "{host}");
    }
}

#[tokio::test]
async fn a_malformed_host_gets_400() {
    let app = spawn_app().await;
    for host in ["bad host", "amsterdam.localhost:port", "a..localhost", "ams_terdam.localhost"] {
        let (status, body) = problem(app.get(host, "/api/v1/territory").await).await;
        assert_eq!(status, 400, "{host}");
        assert_eq!(body["type"], "urn:careservice:problem:malformed-host");
    }
}

#[tokio::test]
async fn a_request_without_host_gets_400() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /api/v1/territory HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 400") || answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("urn:careservice:problem:missing-host"), "{answer}");
}

#[tokio::test]
async fn suspended_and_archived_territories_say_so() {
    let app = spawn_app().await;
    let territory = app.onboard("amsterdam").await;
    let mut conn = app.db.admin().await;

    store::change_status(&mut conn, territory.id, &[TerritoryStatus::Active], TerritoryStatus::Suspended)
        .await
        .unwrap();
    let suspended = eventually(Duration::from_secs(2), || async {
        app.get("amsterdam.localhost", "/api/v1/territory").await.status() == 403
    })
    .await;
    assert!(suspended.is_some(), "suspension not seen");
    let (_, body) = problem(app.get("amsterdam.localhost", "/api/v1/territory").await).await;
    assert_eq!(body["type"], "urn:careservice:problem:territory-suspended");

    store::change_status(&mut conn, territory.id, &[TerritoryStatus::Suspended], TerritoryStatus::Archived)
        .await
        .unwrap();
    let archived = eventually(Duration::from_secs(2), || async {
        app.get("amsterdam.localhost", "/api/v1/territory").await.status() == 410
    })
    .await;
    assert!(archived.is_some(), "archival not seen");
    let (_, body) = problem(app.get("amsterdam.localhost", "/api/v1/territory").await).await;
    assert_eq!(body["type"], "urn:careservice:problem:territory-archived");
}

#[tokio::test]
async fn the_hq_host_is_not_a_territory() {
    let app = spawn_app().await;
    let (status, body) = problem(app.get("hq.localhost", "/api/v1/territory").await).await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "urn:careservice:problem:not-a-territory-host");
}

#[tokio::test]
async fn a_forged_forwarded_host_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    app.onboard("utrecht").await;

    let body: Value = app
        .client
        .get(format!("{}/api/v1/territory", app.address))
        .header("host", "amsterdam.localhost")
        .header("x-forwarded-host", "utrecht.localhost")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["slug"], "amsterdam");
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_host() {
    let settings =
        ServerSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..ServerSettings::default() };
    let app = spawn_app_on(fresh_database().await, settings).await;
    app.onboard("amsterdam").await;

    let body: Value = app
        .client
        .get(format!("{}/api/v1/territory", app.address))
        .header("host", "internal-upstream")
        .header("x-forwarded-host", "forged.localhost, amsterdam.localhost")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["slug"], "amsterdam");
}

#[tokio::test]
async fn health_and_readiness_answer_on_any_host_and_unknown_routes_get_problems() {
    let app = spawn_app().await;
    assert_eq!(app.get("127.0.0.1", "/healthz").await.status(), 200);
    assert_eq!(app.get("127.0.0.1", "/readyz").await.status(), 200);
    app.onboard("amsterdam").await;
    let (status, body) = problem(app.get("amsterdam.localhost", "/api/v1/no-such-thing").await).await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "urn:careservice:problem:no-such-route");
}

/// A resolver whose pool has one connection, held by the test: any lookup that
/// needs the database times out quickly instead.
async fn resolver_with_blockable_pool(url: &str) -> (TerritoryResolver, TenancyPool) {
    let settings = PoolSettings { max_size: 1, wait_timeout: Duration::from_millis(200), ..PoolSettings::default() };
    let pool = TenancyPool::new(url, &settings).unwrap();
    (TerritoryResolver::new("localhost", pool.clone(), &CacheSettings::default()), pool)
}

#[tokio::test]
async fn a_warm_host_resolves_with_no_database_query() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    let (resolver, pool) = resolver_with_blockable_pool(&app.db.url).await;

    assert!(matches!(resolver.resolve(Some("amsterdam.localhost")).await, Ok(HostTarget::Territory(_))));
    let _only_connection = pool.hq().await.unwrap();
    for _ in 0..100 {
        match resolver.resolve(Some("Amsterdam.localhost:8080")).await {
            Ok(HostTarget::Territory(territory)) => assert_eq!(territory.slug, "amsterdam"),
            other => panic!("a warm host needed the database: {other:?}"),
        }
    }
    // And a cold territory does need it: the held connection really blocks.
    assert!(matches!(resolver.resolve(Some("utrecht.localhost")).await, Err(ResolveError::Database(_))));
}

#[tokio::test]
async fn random_unknown_hosts_cost_no_query_each() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let (resolver, pool) = resolver_with_blockable_pool(&app.db.url).await;

    assert!(matches!(resolver.resolve(Some("ghost.localhost")).await, Err(ResolveError::UnknownHost(_))));
    let _only_connection = pool.hq().await.unwrap();
    for index in 0..50 {
        for host in [format!("ghost{index}.localhost"), format!("www.random{index}.example")] {
            let answer = resolver.resolve(Some(&host)).await;
            assert!(matches!(answer, Err(ResolveError::UnknownHost(_))), "{host}: {answer:?}");
        }
    }
}

#[tokio::test]
async fn suspending_through_one_instance_takes_effect_on_another_within_a_second() {
    let first = spawn_app().await;
    let second = spawn_app_on(
        crate::helpers::TestDatabase { url: first.db.url.clone(), admin_url: first.db.admin_url.clone() },
        ServerSettings::default(),
    )
    .await;
    let territory = first.onboard("amsterdam").await;
    // Both instances have the territory cached.
    assert_eq!(first.get("amsterdam.localhost", "/api/v1/territory").await.status(), 200);
    assert_eq!(second.get("amsterdam.localhost", "/api/v1/territory").await.status(), 200);

    let mut owner = first.db.admin().await;
    store::change_status(&mut owner, territory.id, &[TerritoryStatus::Active], TerritoryStatus::Suspended)
        .await
        .unwrap();

    let seen = eventually(Duration::from_secs(1), || async {
        second.get("amsterdam.localhost", "/api/v1/territory").await.status() == 403
    })
    .await;
    assert!(seen.is_some(), "the second instance still served a suspended territory after 1 s");
}

#[tokio::test]
async fn a_new_territory_is_served_at_once_even_after_its_host_was_cached_as_unknown() {
    let app = spawn_app().await;
    assert_eq!(app.get("leiden.localhost", "/api/v1/territory").await.status(), 404);
    app.onboard("leiden").await;
    let seen = eventually(Duration::from_secs(1), || async {
        app.get("leiden.localhost", "/api/v1/territory").await.status() == 200
    })
    .await;
    assert!(seen.is_some(), "a new territory stayed unknown");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_territory_without_raw_paths() {
    let metrics =
        careservice::http::metrics::MetricsAccess { bind: None, token: Some("a-token-for-the-scraper".into()) };
    let app = spawn_app_on(fresh_database().await, ServerSettings { metrics, ..ServerSettings::default() }).await;
    app.onboard("amsterdam").await;
    for _ in 0..3 {
        assert_eq!(app.get("amsterdam.localhost", "/api/v1/territory").await.status(), 200);
    }
    app.get("amsterdam.localhost", "/api/v1/catalog").await;
    app.get("amsterdam.localhost", "/api/v1/catalog").await;
    app.get("amsterdam.localhost", "/api/v1/bookings/0b7f2a54-1111-4c4c-9999-123456789abc").await;
    app.get("amsterdam.localhost", "/api/v1/no/such/path/8f3e").await;
    let scrape = app.client.get(format!("{}/metrics", app.address)).header("host", "localhost");
    let text = scrape.bearer_auth("a-token-for-the-scraper").send().await.unwrap().text().await.unwrap();
    let line = |needle: &str| text.lines().find(|l| l.starts_with(needle) || l.contains(needle)).map(str::to_owned);
    let requests = line(r#"careservice_http_requests_total{method="GET",route="/api/v1/territory",status="200"}"#);
    assert!(requests.is_some_and(|l| l.ends_with(" 3")), "{text}");
    assert!(line(r#"territory="amsterdam""#).is_some(), "{text}");
    assert!(line(r#"route="/api/v1/bookings/{id}""#).is_some(), "{text}");
    assert!(line(r#"cache_lookups_total{cache="catalog",outcome="hit"}"#).is_some(), "{text}");
    assert!(line("careservice_db_pool_connections").is_some() && line("careservice_jobs_due").is_some(), "{text}");
    for raw in ["0b7f2a54", "8f3e", "no/such"] {
        assert!(!text.contains(raw), "a raw path reached the labels: {raw}");
    }
}
