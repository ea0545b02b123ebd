//! The HTTP edge as an attacker meets it: the demo secrets, what reaches the
//! log, who can read /metrics, dates PostgreSQL cannot store, origins that
//! differ by a port, forwarded and absolute-form hosts, bodies that are not
//! JSON objects.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use careservice::config::{DEMO_WEBHOOK_SECRET, ServerSettings};
use careservice::http::metrics::MetricsAccess;
use careservice::identity::Role;
use careservice::payments::webhook::sign;
use careservice::privacy::keys::generate_key;
use careservice::startup::Application;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bookings::{HOST, PASSWORD, scene};
use crate::helpers::{fresh_database, spawn_app, spawn_app_on, unix_now};

/// A `careservice serve` process, killed when dropped.
struct ServeProcess {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Runs `careservice serve --bind 127.0.0.1:0 ARGS` on `database_url` with
/// only `env` of the settings: the process once it serves, or its exit code
/// and what it wrote when it stopped first.
fn serve(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> Result<ServeProcess, (Option<i32>, String)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_careservice"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CARESERVICE_") || name == "RUST_LOG" || name == "REDIS_URL" {
            command.env_remove(name);
        }
    }
    command.env("DATABASE_URL", database_url).envs(env.iter().copied());
    let mut child = command
        .args(["serve", "--bind", "127.0.0.1:0", "--no-worker"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start careservice serve");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (port_found, port) = mpsc::channel();
    let written = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            written.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(rest) = line.split("is serving on http://127.0.0.1:").nth(1) {
                let _ = port_found.send(rest.trim().parse::<u16>().ok());
            }
        }
        let _ = port_found.send(None);
    });
    match port.recv_timeout(Duration::from_secs(90)) {
        Ok(Some(port)) => Ok(ServeProcess { child, port, log }),
        outcome => {
            if outcome.is_err() {
                let _ = child.kill();
            }
            let status = child.wait().expect("wait for serve");
            // The reader has seen everything once the process is gone.
            std::thread::sleep(Duration::from_millis(100));
            let text = log.lock().unwrap().clone();
            Err((status.code(), text))
        }
    }
}

/// Keys that are not the demo's, as `keys generate` makes them.
fn own_keys() -> String {
    format!("1:{},lookup:{}", generate_key(), generate_key())
}

const OWN_SECRET: &str = "a-webhook-secret-that-only-this-test-knows";

#[tokio::test]
async fn serve_refuses_the_published_demo_secrets_and_names_the_settings_to_make() {
    let db = fresh_database().await;

    let (code, text) = serve(&db.url, &[], &[]).err().expect("serve started with the demo secrets");
    assert_eq!(code, Some(1), "{text}");
    for named in ["CARESERVICE_PAYMENT_WEBHOOK_SECRET", "CARESERVICE_ENCRYPTION_KEYS", "--demo"] {
        assert!(text.contains(named), "{named} not named: {text}");
    }

    // The demo key given explicitly is still the demo key.
    let demo_keys = careservice::privacy::keys::DEMO_KEYS;
    let env = [("CARESERVICE_PAYMENT_WEBHOOK_SECRET", OWN_SECRET), ("CARESERVICE_ENCRYPTION_KEYS", demo_keys)];
    let (code, text) = serve(&db.url, &env, &[]).err().expect("serve started with the demo key");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("CARESERVICE_ENCRYPTION_KEYS"), "{text}");
    assert!(!text.contains("CARESERVICE_PAYMENT_WEBHOOK_SECRET"), "a set secret was named: {text}");

    let keys = own_keys();
    let env = [("CARESERVICE_ENCRYPTION_KEYS", keys.as_str())];
    let (code, text) = serve(&db.url, &env, &[]).err().expect("serve started with the demo webhook secret");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("CARESERVICE_PAYMENT_WEBHOOK_SECRET"), "{text}");

    // Its own secrets, or the demo said out loud: it serves.
    let env = [("CARESERVICE_PAYMENT_WEBHOOK_SECRET", OWN_SECRET), ("CARESERVICE_ENCRYPTION_KEYS", keys.as_str())];
    let own = serve(&db.url, &env, &[]).map_err(|(_, text)| text).expect("serve with its own secrets");
    let health = reqwest::get(format!("http://127.0.0.1:{}/healthz", own.port)).await.unwrap();
    assert_eq!(health.status(), 200);
    drop(own);
    let demo = serve(&db.url, &[], &["--demo"]).map_err(|(_, text)| text).expect("serve --demo");
    let health = reqwest::get(format!("http://127.0.0.1:{}/healthz", demo.port)).await.unwrap();
    assert_eq!(health.status(), 200);
}

async fn webhook_at(app: &crate::helpers::TestApp, timestamp: i64) -> (u16, Value) {
    let body = json!({ "id": format!("evt_{timestamp}"), "type": "payment.authorized", "data": { "reference": "sim_booking_x" } })
        .to_string();
    let response = app
        .client
        .post(format!("{}/api/v1/payments/webhooks/simulated", app.address))
        .header("host", "amsterdam.localhost")
        .header("content-type", "application/json")
        .header("careservice-signature", sign(DEMO_WEBHOOK_SECRET.as_bytes(), timestamp, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_webhook_signed_more_than_a_minute_ahead_is_refused() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let now = i64::try_from(unix_now()).unwrap();
    let (status, problem) = webhook_at(&app, now + 3600).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("stale-webhook")), "{problem}");
    let (status, problem) = webhook_at(&app, now + 90).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("stale-webhook")), "{problem}");
    // A provider's clock a little fast is fine: past the signature, the
    // reference is simply unknown here.
    let (status, problem) = webhook_at(&app, now + 30).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("unknown-payment")), "{problem}");
}

#[tokio::test]
async fn an_export_link_token_never_reaches_the_log() {
    let db = fresh_database().await;
    let keys = own_keys();
    let env = [
        ("CARESERVICE_PAYMENT_WEBHOOK_SECRET", OWN_SECRET),
        ("CARESERVICE_ENCRYPTION_KEYS", keys.as_str()),
        ("RUST_LOG", "debug"),
    ];
    let server = serve(&db.url, &env, &[]).map_err(|(_, text)| text).expect("serve");
    let token = "secret-link-token-7f3a9c";
    let response = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/api/v1/privacy/exports/0b7f2a54-1111-4c4c-9999-123456789abc?token={token}",
            server.port
        ))
        .header("host", "hq.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // What the request logged is in the log (so the test sees its lines)...
    let logged = crate::helpers::eventually(Duration::from_secs(5), || {
        let log = server.log();
        async move { log.contains("/api/v1/privacy/exports/0b7f2a54-1111-4c4c-9999-123456789abc") }
    })
    .await;
    let log = server.log();
    assert!(logged.is_some(), "the request left no line: {log}");
    // ...and the token is not.
    assert!(!log.contains(token), "the token reached the log: {log}");
}

async fn metrics_status(address: &str, host: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{address}/metrics")).header("host", host);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_hosts_by_default() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    app.get("amsterdam.localhost", "/api/v1/territory").await;
    for host in ["evil.example", "localhost", "amsterdam.localhost", "hq.localhost", "127.0.0.1"] {
        let (status, text) = metrics_status(&app.address, host, None).await;
        assert_eq!(status, 404, "{host}: {text}");
        assert!(text.contains("metrics-not-served") && !text.contains("territory_requests_total"), "{host}: {text}");
    }
}

#[tokio::test]
async fn metrics_answer_the_configured_token_or_on_their_own_listener() {
    let token = "scraper-token-0123456789";
    let metrics = MetricsAccess { bind: None, token: Some(token.to_owned()) };
    let app = spawn_app_on(fresh_database().await, ServerSettings { metrics, ..ServerSettings::default() }).await;
    for (presented, expected) in [(None, 401), (Some("scraper-token-012345678"), 401), (Some(token), 200)] {
        let (status, text) = metrics_status(&app.address, "evil.example", presented).await;
        assert_eq!(status, expected, "{presented:?}: {text}");
    }

    let db = fresh_database().await;
    let metrics = MetricsAccess { bind: Some("127.0.0.1:0".parse().unwrap()), token: None };
    let settings =
        ServerSettings { bind: "127.0.0.1:0".parse().unwrap(), workers: 1, metrics, ..ServerSettings::default() };
    let application = Application::build(&settings, &db.url).await.unwrap();
    let public = format!("http://127.0.0.1:{}", application.port());
    let internal = format!("http://127.0.0.1:{}", application.metrics_port().expect("a metrics listener"));
    tokio::spawn(application.run_until_stopped());
    reqwest::Client::new().get(format!("{public}/healthz")).send().await.unwrap();
    let (status, text) = metrics_status(&internal, "anything", None).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("careservice_http_requests_total"), "{text}");
    assert_eq!(metrics_status(&public, "localhost", None).await.0, 404);
    // The metrics listener serves nothing else.
    let other = reqwest::Client::new().get(format!("{internal}/api/v1/territory")).send().await.unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn dates_postgresql_cannot_store_are_refused_with_422_everywhere_the_api_takes_one() {
    let s = scene().await;
    let app = &s.app;
    let refused = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["code"].as_str().map(str::to_owned), body)
    };
    let date_out_of_range = Some("date-out-of-range".to_owned());

    let id = "0b7f2a54-1111-4c4c-9999-123456789abc";
    for start in ["-4714-01-01T10:00:00Z", "0001-01-01T10:00:00Z", "+262142-01-01T10:00:00Z"] {
        let path = format!("/api/v1/bookings/{id}/reschedule");
        let (status, code, body) =
            refused(app.post(HOST, &path, &json!({ "start": start }), Some(&s.customer)).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "reschedule to {start}: {body}");
        let booking =
            json!({ "service": "personal-care", "start": start, "postcode": "1011 AB", "address": "Damrak 1" });
        let (status, code, body) =
            refused(app.post_once(HOST, "/api/v1/bookings", &format!("k{start}"), &booking, &s.customer).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "booking at {start}: {body}");
    }
    for at in ["-4714-11-23", "0001-01-01", "%2B262142-01-01"] {
        let path = format!("/api/v1/ledger/balances?at={at}");
        let (status, code, body) = refused(app.call(Method::GET, HOST, &path, None, Some(&s.franchisee)).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "balances at {at}: {body}");
        let path = format!("/api/v1/slots?service=personal-care&from={at}&to={at}");
        let (status, code, body) = refused(app.get(HOST, &path).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "slots on {at}: {body}");
    }
    for period in ["0001-01", "0999-12"] {
        let path = format!("/api/v1/statements/{period}");
        let (status, code, body) = refused(app.call(Method::GET, HOST, &path, None, Some(&s.franchisee)).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "statement of {period}: {body}");
    }
    let exception = json!({ "day": "-4714-11-23", "kind": "off" });
    let (status, code, body) =
        refused(app.post(HOST, "/api/v1/pro/availability/exceptions", &exception, Some(&s.pro)).await).await;
    assert_eq!((status, &code), (422, &date_out_of_range), "{body}");
    let leap = json!({ "buffer_minutes": 15, "weekly": [{ "weekday": 1, "starts": "08:00:00", "ends": "23:59:60" }] });
    let (status, code, body) =
        refused(app.call(Method::PUT, HOST, "/api/v1/pro/availability", Some(&leap), Some(&s.pro)).await).await;
    assert_eq!((status, &code), (422, &date_out_of_range), "{body}");

    let hq = app.hq_admin_token("hq@voorbeeld.nl").await;
    for day in ["-5000-01-01", "0001-01-01", "+262142-01-01"] {
        let rate = json!({ "rate": "0.09", "effective_from": day });
        let path = "/api/v1/hq/catalog/vat-categories/low/rates";
        let (status, code, body) = refused(app.post("hq.localhost", path, &rate, Some(&hq)).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "VAT rate from {day}: {body}");
        let change = json!({ "contract": { "franchise_rate": "0.14", "hq_rate": "0.06", "effective_from": day } });
        let path = "/api/v1/hq/territories/amsterdam";
        let (status, code, body) =
            refused(app.call(Method::PATCH, "hq.localhost", path, Some(&change), Some(&hq)).await).await;
        assert_eq!((status, &code), (422, &date_out_of_range), "contract from {day}: {body}");
        let onboarding = json!({ "slug": "haarlem", "name": "Haarlem", "contract_from": day });
        let (status, _, body) =
            refused(app.post("hq.localhost", "/api/v1/hq/territories", &onboarding, Some(&hq)).await).await;
        assert_eq!(status, 422, "territory contracted from {day}: {body}");
    }
    let path = "/api/v1/hq/commissions?period=0001-01";
    let (status, code, body) = refused(app.call(Method::GET, "hq.localhost", path, None, Some(&hq)).await).await;
    assert_eq!((status, &code), (422, &date_out_of_range), "{body}");
    // Nothing of it reached the database, which answers as before.
    assert_eq!(app.get("localhost", "/readyz").await.status(), 200);
}

/// A POST that signs out with the session cookie, from `origin`, to `host`.
async fn cookie_sign_out(app: &crate::helpers::TestApp, host: &str, origin: &str) -> u16 {
    let token = app.sign_in(host, "anna@voorbeeld.nl", PASSWORD).await;
    app.client
        .post(format!("{}/api/v1/auth/sign-out", app.address))
        .header("host", host)
        .header("origin", origin)
        .header("cookie", format!("__Host-session={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_origin_on_another_port_or_scheme_is_another_origin() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    for (host, origin, expected) in [
        ("amsterdam.localhost:8080", "http://amsterdam.localhost:9", 403),
        ("amsterdam.localhost:8080", "https://amsterdam.localhost:8080", 403),
        ("amsterdam.localhost:8080", "http://amsterdam.localhost", 403),
        ("amsterdam.localhost", "http://amsterdam.localhost:8080", 403),
        ("amsterdam.localhost", "http://amsterdam.localhost:80/", 403),
        ("amsterdam.localhost:8080", "http://amsterdam.localhost:8080", 204),
        ("amsterdam.localhost", "http://amsterdam.localhost", 204),
        ("amsterdam.localhost", "http://amsterdam.localhost:80", 204),
    ] {
        assert_eq!(cookie_sign_out(&app, host, origin).await, expected, "{origin} to {host}");
    }

    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, format!("{}/api/v1/bookings", app.address))
            .header("host", "amsterdam.localhost:8080")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    for origin in ["http://amsterdam.localhost:9", "https://amsterdam.localhost:8080", "http://amsterdam.localhost"] {
        let answer = preflight(origin).await.unwrap();
        assert!(answer.headers().get("access-control-allow-origin").is_none(), "{origin} was allowed");
    }
    let answer = preflight("http://amsterdam.localhost:8080").await.unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], "http://amsterdam.localhost:8080");
    assert_eq!(answer.headers()["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_proxys_own_forwarded_host_line_wins() {
    let settings =
        ServerSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..ServerSettings::default() };
    let app = spawn_app_on(fresh_database().await, settings).await;
    app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    // The client sent a line of its own; the proxy appended the host it was asked for.
    for lines in [
        &["utrecht.localhost", "amsterdam.localhost"][..],
        &["hq.localhost", "amsterdam.localhost"],
        &["utrecht.localhost, amsterdam.localhost"],
    ] {
        let mut request = app.client.get(format!("{}/api/v1/territory", app.address)).header("host", "internal:8080");
        for line in lines {
            request = request.header("x-forwarded-host", *line);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{lines:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["slug"], "amsterdam", "{lines:?}");
    }
}

/// Sends `raw` over a fresh connection and returns the whole answer.
async fn raw_request(address: &str, raw: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_absolute_request_uri_names_the_host_and_a_non_ascii_host_is_malformed() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    let answer = raw_request(
        &app.address,
        b"GET http://amsterdam.localhost/api/v1/territory HTTP/1.1\r\nHost: utrecht.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"slug\":\"amsterdam\""), "{answer}");

    let answer = raw_request(
        &app.address,
        b"GET /api/v1/territory HTTP/1.1\r\nHost: amsterd\xc3\xa4m.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"code\":\"malformed-host\""), "{answer}");
}

#[tokio::test]
async fn hq_cannot_give_a_territory_an_address_or_a_look_alike_slug() {
    let app = spawn_app().await;
    let hq = app.hq_admin_token("hq@voorbeeld.nl").await;
    for (onboarding, reason) in [
        (json!({ "slug": "haarlem", "name": "Haarlem", "domains": ["127.0.0.1"] }), "address"),
        (json!({ "slug": "haarlem", "name": "Haarlem", "domains": ["10.0.0.7"] }), "address"),
        (json!({ "slug": "xn--msterdam-9za", "name": "Amsterdam" }), "xn--"),
    ] {
        let response = app.post("hq.localhost", "/api/v1/hq/territories", &onboarding, Some(&hq)).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{onboarding}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(reason), "{body}");
    }
    let fine = json!({ "slug": "haarlem", "name": "Haarlem", "domains": ["zorg-haarlem.nl"] });
    assert_eq!(app.post("hq.localhost", "/api/v1/hq/territories", &fine, Some(&hq)).await.status(), 201);
}

#[tokio::test]
async fn raw_bodies_are_json_objects_and_an_oversized_one_is_a_problem_document() {
    let s = scene().await;
    let app = &s.app;
    let id = "0b7f2a54-1111-4c4c-9999-123456789abc";
    let send = |path: String, body: Vec<u8>, content_type: &'static str, token: Option<String>| {
        let mut request = app
            .client
            .post(format!("{}{path}", app.address))
            .header("host", HOST)
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let big = vec![b'x'; 300 * 1024];
    for path in [format!("/api/v1/bookings/{id}/cancel"), "/api/v1/payments/webhooks/simulated".to_owned()] {
        let answer = send(path.clone(), big.clone(), "text/plain", Some(s.customer.clone())).await.unwrap();
        assert_eq!(answer.status(), 413, "{path}");
        assert_eq!(answer.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "body-too-large", "{path}");
    }

    // An array fills a struct field by field; as text/plain it used to pass.
    let reschedule = br#"["2030-05-05T10:00:00+02:00"]"#.to_vec();
    let answer = send(format!("/api/v1/bookings/{id}/reschedule"), reschedule, "text/plain", Some(s.customer.clone()))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "malformed-body", "{body}");

    let event = br#"["evt_array", "payment.authorized", {"reference": "sim_booking_x"}]"#.to_vec();
    let signature = sign(DEMO_WEBHOOK_SECRET.as_bytes(), i64::try_from(unix_now()).unwrap(), &event);
    let answer = app
        .client
        .post(format!("{}/api/v1/payments/webhooks/simulated", app.address))
        .header("host", HOST)
        .header("content-type", "text/plain")
        .header("careservice-signature", signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "malformed-body", "{body}");
}
