//! Identity under attack: privileged accounts that skipped MFA, account
//! discovery through reset timing and lockouts, locking other people out,
//! reset tokens that outlive a password, and booking before verifying.

use std::sync::Arc;
use std::time::{Duration, Instant};

use careservice::clock::{ManualClock, SharedClock};
use careservice::config::ServerSettings;
use careservice::identity::Role;
use careservice::identity::ratelimit::{Limit, Limits};
use careservice::jobs::run_due_jobs;
use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, at_ten, book, request, scene};
use crate::helpers::{TestApp, eventually, fresh_database, spawn_app_on, unix_now};

const PASSWORD: &str = "fiets-kaas-molen-regen";

async fn code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// An app that believes X-Forwarded-For from the test (so each test request
/// can come from a client of its choice), with a manual clock.
async fn app_behind_a_proxy(limits: Limits) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let shared: SharedClock = clock.clone();
    let settings = ServerSettings {
        clock: shared,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        limits,
        ..ServerSettings::default()
    };
    (spawn_app_on(fresh_database().await, settings).await, clock)
}

/// Limits per client address high enough not to interfere.
fn generous_per_client() -> Limits {
    Limits { sign_in_per_ip: Limit::per(10_000, 300), reset_per_ip: Limit::per(10_000, 900), ..Limits::default() }
}

/// POSTs `body` to `path` on `host` from client `ip`.
async fn post_from(app: &TestApp, ip: &str, host: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.address))
        .header(reqwest::header::HOST, host)
        .header("x-forwarded-for", ip)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A sign-in attempt's status and Retry-After.
async fn attempt(app: &TestApp, ip: &str, host: &str, body: &Value) -> (u16, Option<u64>) {
    let response = post_from(app, ip, host, "/api/v1/auth/sign-in", body).await;
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status().as_u16(), retry)
}

fn credentials(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

/// An HQ admin with MFA enrolled; returns its TOTP secret.
async fn hq_admin_with_mfa(app: &TestApp, email: &str) -> String {
    app.account(email, PASSWORD, &[(Role::HqAdmin, None)]).await;
    let token = app.sign_in("hq.localhost", email, PASSWORD).await;
    app.enable_mfa("hq.localhost", &token).await
}

/// A TOTP code the server has not seen yet (enrolment used the current one).
fn next_code(secret: &str) -> String {
    careservice::identity::mfa::code_at(secret, unix_now() + 30).unwrap()
}

#[tokio::test]
async fn a_franchisee_who_has_not_enrolled_mfa_sees_no_booking_and_cancels_nothing() {
    let s = scene().await;
    let booked = book(&s, &s.customer, "k1", &request(&at_ten(&s.clock, 3))).await;
    assert_eq!(booked.status(), 201);
    let booking: Value = booked.json().await.unwrap();
    let id = booking["id"].as_str().unwrap();
    let status = booking["status"].as_str().unwrap().to_owned();

    // HQ invites a second franchisee, who accepts and signs in.
    let admin = s.app.hq_admin_token("hq@careservice.nl").await;
    let invited = s
        .app
        .post(
            "hq.localhost",
            "/api/v1/hq/territories/amsterdam/invitations",
            &json!({ "email": "nieuw@amsterdam.nl" }),
            Some(&admin),
        )
        .await;
    assert_eq!(invited.status(), 201);
    let token = s.app.mailed_token("nieuw@amsterdam.nl").await;
    let accept = json!({ "token": token, "display_name": "Nieuw", "password": PASSWORD });
    assert_eq!(s.app.post("hq.localhost", "/api/v1/auth/invitations/accept", &accept, None).await.status(), 200);
    let signed_in: Value = s
        .app
        .post(HOST, "/api/v1/auth/sign-in", &credentials("nieuw@amsterdam.nl", PASSWORD), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((signed_in["mfa_required"].as_bool(), signed_in["mfa_enrolled"].as_bool()), (Some(true), Some(false)));
    let fran = signed_in["token"].as_str().unwrap().to_owned();

    for path in
        ["/api/v1/bookings".to_owned(), format!("/api/v1/bookings/{id}"), format!("/api/v1/bookings/{id}/payment")]
    {
        let response = s.app.call(Method::GET, HOST, &path, None, Some(&fran)).await;
        assert_eq!(code(response).await, (403, "mfa-required".into()), "GET {path}");
    }
    let cancel = s.app.post(HOST, &format!("/api/v1/bookings/{id}/cancel"), &json!({}), Some(&fran)).await;
    assert_eq!(code(cancel).await, (403, "mfa-required".into()));
    let seen: Value = s
        .app
        .call(Method::GET, HOST, &format!("/api/v1/bookings/{id}"), None, Some(&s.franchisee))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["status"].as_str(), Some(status.as_str()), "the booking was moved");

    // Once enrolled, the same session does the franchisee's work.
    s.app.enable_mfa(HOST, &fran).await;
    let listed: Value =
        s.app.call(Method::GET, HOST, "/api/v1/bookings", None, Some(&fran)).await.json().await.unwrap();
    assert_eq!(listed["bookings"].as_array().unwrap().len(), 1);
}

/// A documented path with its parameters (and required query) filled in.
fn concrete(path: &str) -> String {
    let id = if path.contains("/jobs/") { "1".to_owned() } else { uuid::Uuid::new_v4().to_string() };
    let query = match path {
        "/api/v1/hq/commissions" => "?period=2026-11",
        "/api/v1/territory/consents" => "?purpose=marketing",
        _ => "",
    };
    format!("{path}{query}")
        .replace("/api/v1", "")
        .replace("{id}", &id)
        .replace("{code}", "personal-care")
        .replace("{slug}", "amsterdam")
        .replace("{action}", "cancel")
        .replace("{period}", "2026-11")
        .replace("{provider}", "simulated")
}

/// The example the document gives for the operation's JSON body (so that the
/// body is well-formed and the guard, not the body, decides), or `{}`.
fn example(document: &Value, path: &str, operation: &Value) -> Value {
    // Bodies whose schema has no whole example.
    match path {
        "/auth/password" => return json!({ "current_password": PASSWORD, "new_password": "een-heel-ander-wachtwoord" }),
        p if p.starts_with("/pros/") && p.ends_with("/status") => return json!({ "status": "active" }),
        _ => {}
    }
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let named = schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/"));
    let example = named.map_or(&schema["example"], |name| &document["components"]["schemas"][name]["example"]);
    if example.is_null() { json!({}) } else { example.clone() }
}

#[tokio::test]
async fn every_route_that_needs_a_session_refuses_an_unenrolled_privileged_account_but_enrolment() {
    let s = scene().await;
    let territory = s.app.onboard("utrecht").await;
    s.app.account("fran@utrecht.nl", PASSWORD, &[(Role::Franchisee, Some(&territory))]).await;
    s.app.account("hq@careservice.nl", PASSWORD, &[(Role::HqAdmin, None)]).await;
    let fran = s.app.sign_in("utrecht.localhost", "fran@utrecht.nl", PASSWORD).await;
    let admin = s.app.sign_in("hq.localhost", "hq@careservice.nl", PASSWORD).await;
    let document: Value = s.app.get("hq.localhost", "/api/v1/openapi.json").await.json().await.unwrap();
    // What an unenrolled privileged session may still do.
    let allowed = ["/auth/mfa/enrol", "/auth/mfa/confirm", "/auth/sign-out", "/auth/session"];

    let mut checked = 0;
    let mut wrong = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            // Operations a session opens (not, say, /metrics with its own token).
            let secured = operation["security"].as_array().is_some_and(|schemes| {
                schemes.iter().any(|scheme| scheme.get("bearer").is_some() || scheme.get("session_cookie").is_some())
            });
            let path = concrete(path);
            if !secured || allowed.contains(&path.as_str()) {
                continue;
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let body =
                (method != Method::GET && method != Method::DELETE).then(|| example(&document, &path, operation));
            let (host, token) =
                if path.starts_with("/hq/") { ("hq.localhost", &admin) } else { ("utrecht.localhost", &fran) };
            let response =
                s.app.call(method.clone(), host, &format!("/api/v1{path}"), body.as_ref(), Some(token)).await;
            let answer = code(response).await;
            if answer != (403, "mfa-required".into()) {
                wrong.push(format!("{method} {path} on {host}: {answer:?}"));
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} secured operations in the document");
    assert!(wrong.is_empty(), "answered without MFA:\n{}", wrong.join("\n"));

    // The sessions still live, read themselves and can enrol.
    for (host, token) in [("utrecht.localhost", &fran), ("hq.localhost", &admin)] {
        assert_eq!(s.app.call(Method::GET, host, "/api/v1/auth/session", None, Some(token)).await.status(), 200);
        s.app.enable_mfa(host, token).await;
        assert_eq!(s.app.call(Method::GET, host, "/api/v1/auth/sessions", None, Some(token)).await.status(), 200);
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn a_reset_request_takes_as_long_for_an_unknown_address_as_for_an_account() {
    let limits = Limits {
        reset_per_ip: Limit::per(100_000, 900),
        reset_per_account: Limit::per(100_000, 1800),
        ..Limits::default()
    };
    let clock = careservice::clock::system();
    let settings = ServerSettings { limits, run_worker: false, clock: clock.clone(), ..ServerSettings::default() };
    let app = spawn_app_on(fresh_database().await, settings).await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let timed = |email: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let response =
                app.post("hq.localhost", "/api/v1/auth/password-reset/request", &json!({ "email": email }), None).await;
            let elapsed = started.elapsed();
            assert_eq!(response.status(), 202);
            elapsed
        }
    };
    for _ in 0..20 {
        timed("anna@voorbeeld.nl").await;
        timed("niemand@voorbeeld.nl").await;
    }
    // Interleaved, alternating which goes first, so that load on the machine
    // falls on both alike; medians, so that stray pauses do not count.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..300 {
        if round % 2 == 0 {
            known.push(timed("anna@voorbeeld.nl").await);
            unknown.push(timed("niemand@voorbeeld.nl").await);
        } else {
            unknown.push(timed("niemand@voorbeeld.nl").await);
            known.push(timed("anna@voorbeeld.nl").await);
        }
    }
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    println!("reset request medians: account {known:?}, unknown address {unknown:?}, ratio {ratio:.3}");
    assert!((0.8..1.25).contains(&ratio), "account {known:?} vs unknown {unknown:?} (ratio {ratio:.3})");

    // The account still gets its mail, the unknown address none.
    let context = app.jobs(&clock);
    while !run_due_jobs(&context).await.unwrap().is_empty() {}
    let token = app.mailed_token("anna@voorbeeld.nl").await;
    assert_eq!(token.len(), 43);
    assert!(app.mailed_tokens("niemand@voorbeeld.nl").await.is_empty());
    let confirm = json!({ "token": token, "password": "nieuw-wachtwoord-lang" });
    assert_eq!(app.post("hq.localhost", "/api/v1/auth/password-reset/confirm", &confirm, None).await.status(), 204);
}

/// Twelve wrong passwords for `email`, then the lock's end moved on: every
/// answer's status and Retry-After.
async fn lockout_story(app: &TestApp, clock: &ManualClock, email: &str) -> Vec<(u16, Option<u64>)> {
    let wrong = credentials(email, "wrong-password");
    let mut story = Vec::new();
    for _ in 0..12 {
        story.push(attempt(app, "203.0.113.9", "hq.localhost", &wrong).await);
    }
    clock.advance(chrono::Duration::seconds(30));
    story.push(attempt(app, "203.0.113.9", "hq.localhost", &wrong).await);
    // The lock is over: one more failure locks twice as long.
    clock.advance(chrono::Duration::seconds(31));
    story.push(attempt(app, "203.0.113.9", "hq.localhost", &wrong).await);
    story.push(attempt(app, "203.0.113.9", "hq.localhost", &wrong).await);
    story
}

#[tokio::test]
async fn the_lockout_answers_alike_for_an_account_and_an_unknown_address() {
    let (app, clock) = app_behind_a_proxy(generous_per_client()).await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let known = lockout_story(&app, &clock, "anna@voorbeeld.nl").await;
    let unknown = lockout_story(&app, &clock, "niemand@voorbeeld.nl").await;
    let mut expected = vec![(401, None); 10];
    expected.extend([(429, Some(60)), (429, Some(60)), (429, Some(30)), (401, None), (429, Some(120))]);
    assert_eq!(known, expected, "an account's lockout");
    assert_eq!(unknown, expected, "an unknown address's lockout");
}

#[tokio::test]
async fn wrong_passwords_from_one_client_lock_that_client_out_and_nobody_else() {
    let (app, _clock) = app_behind_a_proxy(generous_per_client()).await;
    app.onboard("amsterdam").await;
    hq_admin_with_mfa(&app, "hq@careservice.nl").await;
    let wrong = credentials("hq@careservice.nl", "wrong-password");
    for _ in 0..10 {
        assert_eq!(attempt(&app, "203.0.113.66", "amsterdam.localhost", &wrong).await.0, 401);
    }
    let right = credentials("hq@careservice.nl", PASSWORD);
    assert_eq!(attempt(&app, "203.0.113.66", "amsterdam.localhost", &right).await.0, 429);
    // The admin, from its own client, signs in as ever.
    assert_eq!(attempt(&app, "198.51.100.7", "hq.localhost", &right).await.0, 200);
}

#[tokio::test]
async fn with_redis_a_lock_made_through_one_instance_holds_on_the_other_for_that_client_only() {
    let redis = crate::authorization::start_redis();
    let settings = || ServerSettings {
        redis_url: Some(format!("redis://127.0.0.1:{}", redis.port)),
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        limits: generous_per_client(),
        ..ServerSettings::default()
    };
    let first = spawn_app_on(fresh_database().await, settings()).await;
    let second = spawn_app_on(
        crate::helpers::TestDatabase { url: first.db.url.clone(), admin_url: first.db.admin_url.clone() },
        settings(),
    )
    .await;
    first.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    for round in 0..10 {
        let app = if round % 2 == 0 { &first } else { &second };
        assert_eq!(
            attempt(app, "203.0.113.66", "hq.localhost", &credentials("anna@voorbeeld.nl", "wrong")).await.0,
            401
        );
    }
    let right = credentials("anna@voorbeeld.nl", PASSWORD);
    let (status, retry) = attempt(&second, "203.0.113.66", "hq.localhost", &right).await;
    assert_eq!(status, 429);
    assert!(retry.is_some_and(|seconds| (1..=60).contains(&seconds)), "{retry:?}");
    assert_eq!(attempt(&first, "203.0.113.66", "hq.localhost", &right).await.0, 429);
    assert_eq!(attempt(&second, "198.51.100.7", "hq.localhost", &right).await.0, 200);
}

#[tokio::test]
async fn the_right_password_with_a_passing_second_factor_signs_in_through_a_lock_and_nothing_less_does() {
    let (app, _clock) = app_behind_a_proxy(generous_per_client()).await;
    let secret = hq_admin_with_mfa(&app, "hq@careservice.nl").await;
    // The attacker shares the admin's client (one office, one address).
    let office = "192.0.2.10";
    for _ in 0..10 {
        attempt(&app, office, "hq.localhost", &credentials("hq@careservice.nl", "wrong-password")).await;
    }
    let code = next_code(&secret);
    let tries = [
        json!({ "email": "hq@careservice.nl", "password": PASSWORD }),
        json!({ "email": "hq@careservice.nl", "password": PASSWORD, "code": "000000" }),
        json!({ "email": "hq@careservice.nl", "password": "wrong-password", "code": code }),
        json!({ "email": "hq@careservice.nl", "password": PASSWORD, "backup_code": "not-a-backup-code" }),
    ];
    for body in &tries {
        assert_eq!(attempt(&app, office, "hq.localhost", body).await.0, 429, "{body}");
    }
    let both = json!({ "email": "hq@careservice.nl", "password": PASSWORD, "code": code });
    let response = post_from(&app, office, "hq.localhost", "/api/v1/auth/sign-in", &both).await;
    assert_eq!(response.status(), 200);
    let signed_in: Value = response.json().await.unwrap();
    assert_eq!(signed_in["mfa_required"].as_bool(), Some(false));
    let token = signed_in["token"].as_str().unwrap();
    let territories = app.call(Method::GET, "hq.localhost", "/api/v1/hq/territories", None, Some(token)).await;
    assert_eq!(territories.status(), 200, "the session passed MFA at sign-in");
    // And the lock is over for that client.
    assert_eq!(attempt(&app, office, "hq.localhost", &credentials("hq@careservice.nl", PASSWORD)).await.0, 200);
}

#[tokio::test]
async fn attempts_from_many_clients_fill_the_account_limit_but_the_second_factor_still_signs_in() {
    let (app, _clock) = app_behind_a_proxy(generous_per_client()).await;
    let secret = hq_admin_with_mfa(&app, "hq@careservice.nl").await;
    // `hq_admin_with_mfa` signed in once; twenty attempts fill the limit.
    for client in 0..19 {
        let ip = format!("203.0.113.{}", client + 1);
        attempt(&app, &ip, "hq.localhost", &credentials("hq@careservice.nl", "wrong-password")).await;
    }
    let right = credentials("hq@careservice.nl", PASSWORD);
    let (status, retry) = attempt(&app, "198.51.100.7", "hq.localhost", &right).await;
    assert_eq!(status, 429);
    assert!(retry.is_some_and(|seconds| (1..=900).contains(&seconds)), "{retry:?}");
    let both = json!({ "email": "hq@careservice.nl", "password": PASSWORD, "code": next_code(&secret) });
    assert_eq!(attempt(&app, "198.51.100.7", "hq.localhost", &both).await.0, 200);
}

#[tokio::test]
async fn reset_requests_by_others_neither_block_the_owners_reset_nor_mail_without_end() {
    let (app, _clock) = app_behind_a_proxy(generous_per_client()).await;
    app.account("klant@voorbeeld.nl", PASSWORD, &[]).await;
    let reset = json!({ "email": "klant@voorbeeld.nl" });
    for _ in 0..3 {
        let response =
            post_from(&app, "203.0.113.66", "hq.localhost", "/api/v1/auth/password-reset/request", &reset).await;
        assert_eq!(response.status(), 202);
    }
    // The owner mistypes its password ten times, then asks for a reset: the
    // same answer as ever.
    let home = "198.51.100.7";
    for _ in 0..10 {
        attempt(&app, home, "hq.localhost", &credentials("klant@voorbeeld.nl", "wrong-password")).await;
    }
    assert_eq!(attempt(&app, home, "hq.localhost", &credentials("klant@voorbeeld.nl", PASSWORD)).await.0, 429);
    let asked = post_from(&app, home, "hq.localhost", "/api/v1/auth/password-reset/request", &reset).await;
    assert_eq!(asked.status(), 202);
    // Three mails went out, not four, and each has a working token.
    let three =
        eventually(Duration::from_secs(10), || async { app.mailed_tokens("klant@voorbeeld.nl").await.len() >= 3 })
            .await;
    assert!(three.is_some(), "the reset mails did not arrive");
    let queued: i64 = {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut admin = app.db.admin().await;
        diesel::sql_query("SELECT count(*) AS n FROM hq.jobs WHERE kind = 'identity.password_reset_mail'")
            .get_result::<Count>(&mut admin)
            .await
            .unwrap()
            .n
    };
    assert_eq!(queued, 3);
    let tokens = app.mailed_tokens("klant@voorbeeld.nl").await;
    assert_eq!(tokens.len(), 3);
    // The owner resets with the newest; the reset also lets it in again
    // from the client it had locked out.
    let confirm = json!({ "token": tokens[2], "password": "nieuw-wachtwoord-lang" });
    let confirmed = post_from(&app, home, "hq.localhost", "/api/v1/auth/password-reset/confirm", &confirm).await;
    assert_eq!(confirmed.status(), 204);
    let again = attempt(&app, home, "hq.localhost", &credentials("klant@voorbeeld.nl", "nieuw-wachtwoord-lang")).await;
    assert_eq!(again.0, 200);
}

#[tokio::test]
async fn every_reset_token_dies_when_the_password_changes() {
    let (app, _clock) = app_behind_a_proxy(generous_per_client()).await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let reset = json!({ "email": "anna@voorbeeld.nl" });
    let ask = || app.post("hq.localhost", "/api/v1/auth/password-reset/request", &reset, None);
    assert_eq!(ask().await.status(), 202);
    assert_eq!(ask().await.status(), 202);
    let two =
        eventually(Duration::from_secs(10), || async { app.mailed_tokens("anna@voorbeeld.nl").await.len() == 2 }).await;
    assert!(two.is_some(), "two reset mails did not arrive");
    let tokens = app.mailed_tokens("anna@voorbeeld.nl").await;
    let app = &app;
    let confirm = |token: &str, password: &str| {
        let body = json!({ "token": token, "password": password });
        async move { app.post("hq.localhost", "/api/v1/auth/password-reset/confirm", &body, None).await }
    };
    assert_eq!(confirm(&tokens[1], "tweede-wachtwoord-lang").await.status(), 204);
    assert_eq!(code(confirm(&tokens[0], "derde-wachtwoord-lang").await).await, (400, "invalid-token".into()));

    // A change of password, with the current one, ends them too.
    assert_eq!(ask().await.status(), 202);
    let three =
        eventually(Duration::from_secs(10), || async { app.mailed_tokens("anna@voorbeeld.nl").await.len() == 3 }).await;
    assert!(three.is_some(), "the third reset mail did not arrive");
    let outstanding = app.mailed_tokens("anna@voorbeeld.nl").await[2].clone();
    let session = app.sign_in("hq.localhost", "anna@voorbeeld.nl", "tweede-wachtwoord-lang").await;
    let change = json!({ "current_password": "tweede-wachtwoord-lang", "new_password": "vierde-wachtwoord-lang" });
    assert_eq!(app.post("hq.localhost", "/api/v1/auth/password", &change, Some(&session)).await.status(), 204);
    assert_eq!(code(confirm(&outstanding, "vijfde-wachtwoord-lang").await).await, (400, "invalid-token".into()));
    app.sign_in("hq.localhost", "anna@voorbeeld.nl", "vierde-wachtwoord-lang").await;
}

#[tokio::test]
async fn an_account_books_only_once_its_address_is_verified() {
    let s = scene().await;
    let sign_up = json!({ "email": "nieuw@amsterdam.nl", "password": PASSWORD, "display_name": "Nieuw" });
    assert_eq!(s.app.post(HOST, "/api/v1/auth/sign-up", &sign_up, None).await.status(), 202);
    let token = s.app.sign_in(HOST, "nieuw@amsterdam.nl", PASSWORD).await;
    let start = at_ten(&s.clock, 3);
    let refused = book(&s, &token, "k1", &request(&start)).await;
    assert_eq!(code(refused).await, (403, "email-not-verified".into()));
    let customer = s.app.call(Method::GET, HOST, "/api/v1/bookings", None, Some(&s.franchisee)).await;
    let listed: Value = customer.json().await.unwrap();
    assert_eq!(listed["bookings"].as_array().unwrap().len(), 0, "a refused booking left something behind");

    let verification = s.app.mailed_token("nieuw@amsterdam.nl").await;
    let verified = s.app.post(HOST, "/api/v1/auth/verify-email", &json!({ "token": verification }), None).await;
    assert_eq!(verified.status(), 204);
    assert_eq!(book(&s, &token, "k2", &request(&start)).await.status(), 201);
}
