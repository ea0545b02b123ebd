//! Accounts and sessions, from the outside, as users and attackers would try.

use std::time::Instant;

use careservice::config::ServerSettings;
use careservice::identity::Role;
use careservice::identity::ratelimit::{Limit, Limits};
use careservice::identity::token::hash_secret;
use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{fresh_database, spawn_app, spawn_app_on, unix_now};

const PASSWORD: &str = "fiets-kaas-molen-regen";

#[tokio::test]
async fn sign_up_answers_the_same_for_a_known_and_an_unknown_email() {
    // Room for every sign-up below: a rate-limited answer takes no hashing
    // and would pass for a fast path.
    let limits = Limits { sign_up_per_ip: Limit::per(100, 3600), ..Limits::default() };
    let app = spawn_app_on(fresh_database().await, ServerSettings { limits, ..ServerSettings::default() }).await;
    app.onboard("amsterdam").await;
    let host = "amsterdam.localhost";
    let body = |email: &str| json!({ "email": email, "password": PASSWORD, "display_name": "Anna" });

    let first = app.post(host, "/api/v1/auth/sign-up", &body("anna@voorbeeld.nl"), None).await;
    let (first_status, first_body) = (first.status(), first.text().await.unwrap());
    let again = app.post(host, "/api/v1/auth/sign-up", &body("ANNA@voorbeeld.nl"), None).await;
    let (again_status, again_body) = (again.status(), again.text().await.unwrap());
    assert_eq!(first_status, 202);
    assert_eq!((first_status, first_body), (again_status, again_body));

    // Both paths hash a password: their median times are within a factor
    // of two (skipping the hash on one made it some ten times faster).
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..9 {
        let started = Instant::now();
        let answer = app.post(host, "/api/v1/auth/sign-up", &body("anna@voorbeeld.nl"), None).await;
        known.push(started.elapsed());
        assert_eq!(answer.status(), 202, "round {round}, known address");
        let started = Instant::now();
        let answer = app.post(host, "/api/v1/auth/sign-up", &body(&format!("new{round}@voorbeeld.nl")), None).await;
        unknown.push(started.elapsed());
        assert_eq!(answer.status(), 202, "round {round}, new address");
    }
    known.sort();
    unknown.sort();
    let ratio = known[4].as_secs_f64() / unknown[4].as_secs_f64();
    assert!((0.5..2.0).contains(&ratio), "median times differ by {ratio:.2}x: {known:?} vs {unknown:?}");
}

#[tokio::test]
async fn sign_up_on_a_territory_host_makes_a_customer_who_verifies_and_signs_in() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let host = "amsterdam.localhost";
    let signed_up = app
        .post(
            host,
            "/api/v1/auth/sign-up",
            &json!({ "email": "bo@voorbeeld.nl", "password": PASSWORD, "display_name": "Bo" }),
            None,
        )
        .await;
    assert_eq!(signed_up.status(), 202);
    let token = app.mailed_token("bo@voorbeeld.nl").await;
    assert_eq!(app.post(host, "/api/v1/auth/verify-email", &json!({ "token": token }), None).await.status(), 204);
    // Single use.
    assert_eq!(app.post(host, "/api/v1/auth/verify-email", &json!({ "token": token }), None).await.status(), 400);

    let session = app.sign_in(host, "BO@voorbeeld.nl", PASSWORD).await;
    let me: Value =
        app.call(Method::GET, host, "/api/v1/auth/session", None, Some(&session)).await.json().await.unwrap();
    assert_eq!(me["account"]["email_verified"], true);
    assert_eq!(me["memberships"], json!([{ "role": "customer", "territory": "amsterdam" }]));
}

#[tokio::test]
async fn a_body_that_tries_to_set_a_role_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let response = app
        .post(
            "amsterdam.localhost",
            "/api/v1/auth/sign-up",
            &json!({ "email": "eve@voorbeeld.nl", "password": PASSWORD, "display_name": "Eve", "role": "hq_admin" }),
            None,
        )
        .await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:careservice:problem:malformed-body");
    let mut conn = app.db.admin().await;
    let count: i64 = careservice::schema::accounts::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn weak_or_malformed_input_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let host = "hq.localhost";
    for (email, password, code) in [
        ("a@b.nl", "password123", "weak-password"),
        ("a@b.nl", "kort", "weak-password"),
        ("a@b.nl", &"x".repeat(129), "weak-password"),
        ("not-an-email", PASSWORD, "invalid-email"),
    ] {
        let response = app
            .post(
                host,
                "/api/v1/auth/sign-up",
                &json!({ "email": email, "password": password, "display_name": "X" }),
                None,
            )
            .await;
        assert_eq!(response.status(), 422, "{email} {password}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code);
    }
    let malformed = app
        .client
        .post(format!("{}/api/v1/auth/sign-in", app.address))
        .header("host", host)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let oversized = app
        .post(host, "/api/v1/auth/sign-in", &json!({ "email": "a@b.nl", "password": "x".repeat(100_000) }), None)
        .await;
    assert_eq!(oversized.status(), 413);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_get_the_same_401() {
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let wrong = app
        .post(
            "hq.localhost",
            "/api/v1/auth/sign-in",
            &json!({ "email": "anna@voorbeeld.nl", "password": "wrong-password" }),
            None,
        )
        .await;
    let unknown = app
        .post(
            "hq.localhost",
            "/api/v1/auth/sign-in",
            &json!({ "email": "nobody@voorbeeld.nl", "password": "wrong-password" }),
            None,
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
}

#[tokio::test]
async fn the_session_cookie_is_host_only_secure_and_http_only_and_the_token_is_stored_hashed() {
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let response = app
        .post(
            "hq.localhost",
            "/api/v1/auth/sign-in",
            &json!({ "email": "anna@voorbeeld.nl", "password": PASSWORD }),
            None,
        )
        .await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["__Host-session=", "Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();

    let mut conn = app.db.admin().await;
    let stored: Vec<Vec<u8>> = careservice::schema::sessions::table
        .select(careservice::schema::sessions::token_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, vec![hash_secret(token)]);
    assert!(!stored[0].windows(token.len()).any(|w| w == token.as_bytes()));
}

#[tokio::test]
async fn a_cookie_session_changes_state_only_from_its_own_origin() {
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let token = app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    let sign_out = |origin: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}/api/v1/auth/sign-out", app.address))
            .header("host", "hq.localhost:8080")
            .header("cookie", format!("__Host-session={token}"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(sign_out(None).await.unwrap().status(), 403);
    assert_eq!(sign_out(Some("https://evil.example")).await.unwrap().status(), 403);
    assert_eq!(sign_out(Some("http://hq.localhost:8080")).await.unwrap().status(), 204);
    // Reading with the cookie needs no Origin; the session is gone now.
    let me = app
        .client
        .get(format!("{}/api/v1/auth/session", app.address))
        .header("host", "hq.localhost")
        .header("cookie", format!("__Host-session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn a_user_lists_and_revokes_its_own_sessions_only() {
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    app.account("bert@voorbeeld.nl", PASSWORD, &[]).await;
    let laptop = app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    let phone = app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    let bert = app.sign_in("hq.localhost", "bert@voorbeeld.nl", PASSWORD).await;

    let listed: Value =
        app.call(Method::GET, "hq.localhost", "/api/v1/auth/sessions", None, Some(&laptop)).await.json().await.unwrap();
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let phone_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();

    // Bert cannot revoke Anna's session: it is not his.
    let path = format!("/api/v1/auth/sessions/{phone_id}");
    assert_eq!(app.call(Method::DELETE, "hq.localhost", &path, None, Some(&bert)).await.status(), 404);
    assert_eq!(app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(&phone)).await.status(), 200);
    assert_eq!(app.call(Method::DELETE, "hq.localhost", &path, None, Some(&laptop)).await.status(), 204);
    assert_eq!(app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(&phone)).await.status(), 401);
    assert_eq!(app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(&laptop)).await.status(), 200);
}

#[tokio::test]
async fn a_password_reset_ends_every_session_and_its_token_works_once() {
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let sessions = [
        app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await,
        app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await,
    ];
    let requested = app
        .post("hq.localhost", "/api/v1/auth/password-reset/request", &json!({ "email": "anna@voorbeeld.nl" }), None)
        .await;
    let unknown = app
        .post("hq.localhost", "/api/v1/auth/password-reset/request", &json!({ "email": "x@voorbeeld.nl" }), None)
        .await;
    assert_eq!(requested.status(), 202);
    assert_eq!(requested.text().await.unwrap(), unknown.text().await.unwrap());

    let token = app.mailed_token_soon("anna@voorbeeld.nl").await;
    let new_password = "nieuw-wachtwoord-lang";
    let confirm = json!({ "token": token, "password": new_password });
    assert_eq!(app.post("hq.localhost", "/api/v1/auth/password-reset/confirm", &confirm, None).await.status(), 204);
    assert_eq!(app.post("hq.localhost", "/api/v1/auth/password-reset/confirm", &confirm, None).await.status(), 400);
    for session in &sessions {
        assert_eq!(
            app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(session)).await.status(),
            401
        );
    }
    app.sign_in("hq.localhost", "anna@voorbeeld.nl", new_password).await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while_but_not_for_ever() {
    let clock = std::sync::Arc::new(careservice::clock::ManualClock::new(chrono::Utc::now()));
    let settings = careservice::config::ServerSettings { clock: clock.clone(), ..Default::default() };
    let app = crate::helpers::spawn_app_on(crate::helpers::fresh_database().await, settings).await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    for _ in 0..10 {
        let wrong = app
            .post(
                "hq.localhost",
                "/api/v1/auth/sign-in",
                &json!({ "email": "anna@voorbeeld.nl", "password": "wrong-password" }),
                None,
            )
            .await;
        assert_eq!(wrong.status(), 401);
    }
    let locked = app
        .post(
            "hq.localhost",
            "/api/v1/auth/sign-in",
            &json!({ "email": "anna@voorbeeld.nl", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // When the lock runs out, the right password works again.
    clock.advance(chrono::Duration::seconds(61));
    app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
}

#[tokio::test]
async fn sign_in_rehashes_a_password_stored_with_old_parameters() {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let old = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    let mut conn = app.db.admin().await;
    diesel::update(careservice::schema::accounts::table)
        .set(careservice::schema::accounts::password_hash.eq(&old))
        .execute(&mut conn)
        .await
        .unwrap();
    app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    let stored: String = careservice::schema::accounts::table
        .select(careservice::schema::accounts::password_hash)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
}

#[tokio::test]
async fn a_replayed_totp_code_is_refused_and_backup_codes_work_once() {
    let app = spawn_app().await;
    app.account("hq@voorbeeld.nl", PASSWORD, &[(Role::HqAdmin, None)]).await;
    let first = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    let enrolled: Value =
        app.post("hq.localhost", "/api/v1/auth/mfa/enrol", &json!({}), Some(&first)).await.json().await.unwrap();
    let secret = enrolled["secret"].as_str().unwrap().to_owned();
    let code = careservice::identity::mfa::code_at(&secret, unix_now()).unwrap();
    let confirmed: Value = app
        .post("hq.localhost", "/api/v1/auth/mfa/confirm", &json!({ "code": code }), Some(&first))
        .await
        .json()
        .await
        .unwrap();
    let backup = confirmed["backup_codes"][0].as_str().unwrap().to_owned();

    let second = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    let replay = app.post("hq.localhost", "/api/v1/auth/mfa/verify", &json!({ "code": code }), Some(&second)).await;
    assert_eq!(replay.status(), 401, "a replayed code was accepted");
    let with_backup =
        app.post("hq.localhost", "/api/v1/auth/mfa/verify", &json!({ "backup_code": backup }), Some(&second)).await;
    assert_eq!(with_backup.status(), 204);
    let third = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    let reused =
        app.post("hq.localhost", "/api/v1/auth/mfa/verify", &json!({ "backup_code": backup }), Some(&third)).await;
    assert_eq!(reused.status(), 401, "a backup code worked twice");
}

#[tokio::test]
async fn answers_carry_the_security_headers() {
    let app = spawn_app().await;
    let response = app.get("hq.localhost", "/api/v1/auth/session").await;
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers.get("strict-transport-security").is_none(), "HSTS on plain HTTP");
}

#[tokio::test]
async fn a_disabled_account_loses_its_sessions() {
    let app = spawn_app().await;
    let anna = app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    app.account("hq@voorbeeld.nl", PASSWORD, &[(Role::HqAdmin, None)]).await;
    let session = app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    let admin = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    app.enable_mfa("hq.localhost", &admin).await;
    let disabled = app
        .call(
            Method::PATCH,
            "hq.localhost",
            &format!("/api/v1/hq/accounts/{anna}"),
            Some(&json!({ "status": "disabled" })),
            Some(&admin),
        )
        .await;
    assert_eq!(disabled.status(), 204);
    assert_eq!(app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(&session)).await.status(), 401);
    let again = app
        .post(
            "hq.localhost",
            "/api/v1/auth/sign-in",
            &json!({ "email": "anna@voorbeeld.nl", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(again.status(), 401);
}

#[tokio::test]
async fn sessions_expire_when_idle_even_if_the_absolute_limit_is_far() {
    let app = spawn_app().await;
    app.account("anna@voorbeeld.nl", PASSWORD, &[]).await;
    let session = app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    app.db
        .admin()
        .await
        .batch_execute("UPDATE hq.sessions SET last_seen_at = now() - interval '25 hours'")
        .await
        .unwrap();
    assert_eq!(app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(&session)).await.status(), 401);
    let fresh = app.sign_in("hq.localhost", "anna@voorbeeld.nl", PASSWORD).await;
    app.db
        .admin()
        .await
        .batch_execute("UPDATE hq.sessions SET absolute_expires_at = now() - interval '1 second'")
        .await
        .unwrap();
    assert_eq!(app.call(Method::GET, "hq.localhost", "/api/v1/auth/session", None, Some(&fresh)).await.status(), 401);
}
