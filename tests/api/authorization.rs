//! Who may do what where: roles by territory, the HQ console, invitations,
//! and rate limits shared by two instances through Redis.

use careservice::config::ServerSettings;
use careservice::identity::Role;
use careservice::identity::ratelimit::{Limit, Limits};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_database, spawn_app, spawn_app_on};

const PASSWORD: &str = "fiets-kaas-molen-regen";

async fn code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// A franchisee of `slug` with MFA passed; returns its token.
async fn franchisee(app: &TestApp, email: &str, territory: &careservice::tenancy::Territory) -> String {
    app.account(email, PASSWORD, &[(Role::Franchisee, Some(territory))]).await;
    let host = format!("{}.localhost", territory.slug);
    let token = app.sign_in(&host, email, PASSWORD).await;
    app.enable_mfa(&host, &token).await;
    token
}

#[tokio::test]
async fn a_franchisee_acts_in_its_own_territory_only_whatever_host_it_tries() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    let utrecht = app.onboard("utrecht").await;
    let token = franchisee(&app, "fran@amsterdam.nl", &amsterdam).await;
    let invite = json!({ "email": "pro@voorbeeld.nl" });

    let own = app.post("amsterdam.localhost", "/api/v1/invitations", &invite, Some(&token)).await;
    assert_eq!(own.status(), 201);
    // Amsterdam's franchisee through Utrecht's host: nothing.
    let other = app.post("utrecht.localhost", "/api/v1/invitations", &invite, Some(&token)).await;
    assert_eq!(code(other).await, (403, "not-franchisee".into()));
    // Nor on the HQ host.
    let hq = app.post("hq.localhost", "/api/v1/invitations", &invite, Some(&token)).await;
    assert_eq!(hq.status(), 404);
    let _ = utrecht;
}

#[tokio::test]
async fn a_customer_cannot_call_a_franchisee_endpoint() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("klant@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    let token = app.sign_in("amsterdam.localhost", "klant@voorbeeld.nl", PASSWORD).await;
    let response = app
        .post("amsterdam.localhost", "/api/v1/invitations", &json!({ "email": "x@voorbeeld.nl" }), Some(&token))
        .await;
    assert_eq!(code(response).await, (403, "not-franchisee".into()));
}

#[tokio::test]
async fn a_franchisee_without_mfa_is_stopped_until_it_passes_it() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("fran@amsterdam.nl", PASSWORD, &[(Role::Franchisee, Some(&amsterdam))]).await;
    let token = app.sign_in("amsterdam.localhost", "fran@amsterdam.nl", PASSWORD).await;
    let response = app
        .post("amsterdam.localhost", "/api/v1/invitations", &json!({ "email": "x@voorbeeld.nl" }), Some(&token))
        .await;
    assert_eq!(code(response).await, (403, "mfa-required".into()));
}

#[tokio::test]
async fn privileged_roles_get_shorter_sessions() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("klant@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    app.account("fran@voorbeeld.nl", PASSWORD, &[(Role::Franchisee, Some(&amsterdam))]).await;
    async fn expiry(app: &TestApp, email: &str) -> chrono::DateTime<chrono::FixedOffset> {
        let body: Value = app
            .post("amsterdam.localhost", "/api/v1/auth/sign-in", &json!({ "email": email, "password": PASSWORD }), None)
            .await
            .json()
            .await
            .unwrap();
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap()
    }
    let customer = expiry(&app, "klant@voorbeeld.nl").await;
    let franchisee = expiry(&app, "fran@voorbeeld.nl").await;
    assert!(customer - franchisee > chrono::Duration::days(1), "{customer} vs {franchisee}");
}

#[tokio::test]
async fn hq_endpoints_answer_only_an_hq_admin_who_passed_mfa_on_the_hq_host() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("hq@voorbeeld.nl", PASSWORD, &[(Role::HqAdmin, None)]).await;
    let fran = franchisee(&app, "fran@amsterdam.nl", &amsterdam).await;

    let admin = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    let without_mfa = app.call(Method::GET, "hq.localhost", "/api/v1/hq/territories", None, Some(&admin)).await;
    assert_eq!(code(without_mfa).await, (403, "mfa-required".into()));
    app.enable_mfa("hq.localhost", &admin).await;

    let listed = app.call(Method::GET, "hq.localhost", "/api/v1/hq/territories", None, Some(&admin)).await;
    assert_eq!(listed.status(), 200);
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["items"][0]["slug"], "amsterdam");

    let by_franchisee = app.call(Method::GET, "hq.localhost", "/api/v1/hq/territories", None, Some(&fran)).await;
    assert_eq!(code(by_franchisee).await, (403, "not-hq-admin".into()));
    let on_territory_host =
        app.call(Method::GET, "amsterdam.localhost", "/api/v1/hq/territories", None, Some(&admin)).await;
    assert_eq!(code(on_territory_host).await, (404, "not-hq-host".into()));
    let anonymous = app.call(Method::GET, "hq.localhost", "/api/v1/hq/territories", None, None).await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_hq_console_onboards_suspends_and_changes_contracts() {
    let app = spawn_app().await;
    app.account("hq@voorbeeld.nl", PASSWORD, &[(Role::HqAdmin, None)]).await;
    let admin = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    app.enable_mfa("hq.localhost", &admin).await;

    let created = app
        .post(
            "hq.localhost",
            "/api/v1/hq/territories",
            &json!({ "slug": "leiden", "name": "Leiden", "domains": ["zorg-leiden.nl"] }),
            Some(&admin),
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["contracts"][0]["franchise_rate"], "0.14");
    assert_eq!(app.get("zorg-leiden.nl", "/api/v1/territory").await.status(), 200);

    let duplicate = app
        .post("hq.localhost", "/api/v1/hq/territories", &json!({ "slug": "leiden", "name": "Again" }), Some(&admin))
        .await;
    assert_eq!(code(duplicate).await, (409, "territory-exists".into()));
    let invalid = app
        .post("hq.localhost", "/api/v1/hq/territories", &json!({ "slug": "hq", "name": "Nope" }), Some(&admin))
        .await;
    assert_eq!(code(invalid).await, (422, "invalid-territory".into()));
    let sneaky = app
        .post(
            "hq.localhost",
            "/api/v1/hq/territories",
            &json!({ "slug": "delft", "name": "D", "status": "active" }),
            Some(&admin),
        )
        .await;
    assert_eq!(sneaky.status(), 400);

    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive().to_string();
    let patch = json!({ "status": "suspended", "contract": { "franchise_rate": "0.15", "hq_rate": "0.05", "effective_from": tomorrow } });
    let changed =
        app.call(Method::PATCH, "hq.localhost", "/api/v1/hq/territories/leiden", Some(&patch), Some(&admin)).await;
    assert_eq!(changed.status(), 200);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["status"], "suspended");
    assert_eq!(body["contracts"].as_array().unwrap().len(), 2);
    let suspended = crate::helpers::eventually(std::time::Duration::from_secs(2), || async {
        app.get("leiden.localhost", "/api/v1/territory").await.status() == 403
    })
    .await;
    assert!(suspended.is_some());
    let bad_rates = json!({ "contract": { "franchise_rate": "0.9", "hq_rate": "0.2", "effective_from": tomorrow } });
    let refused =
        app.call(Method::PATCH, "hq.localhost", "/api/v1/hq/territories/leiden", Some(&bad_rates), Some(&admin)).await;
    assert_eq!(code(refused).await, (422, "invalid-rates".into()));
}

#[tokio::test]
async fn an_invitation_creates_the_account_once_and_attaches_an_existing_one() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("hq@voorbeeld.nl", PASSWORD, &[(Role::HqAdmin, None)]).await;
    let admin = app.sign_in("hq.localhost", "hq@voorbeeld.nl", PASSWORD).await;
    app.enable_mfa("hq.localhost", &admin).await;

    let invited = app
        .post(
            "hq.localhost",
            "/api/v1/hq/territories/amsterdam/invitations",
            &json!({ "email": "new@franchise.nl" }),
            Some(&admin),
        )
        .await;
    assert_eq!(invited.status(), 201);
    let token = app.mailed_token("new@franchise.nl").await;
    let without_details =
        app.post("amsterdam.localhost", "/api/v1/auth/invitations/accept", &json!({ "token": token }), None).await;
    assert_eq!(code(without_details).await, (422, "account-details-required".into()));
    let accept = json!({ "token": token, "display_name": "Nieuwe Franchisenemer", "password": PASSWORD });
    let accepted = app.post("amsterdam.localhost", "/api/v1/auth/invitations/accept", &accept, None).await;
    assert_eq!(accepted.status(), 200);
    let again = app.post("amsterdam.localhost", "/api/v1/auth/invitations/accept", &accept, None).await;
    assert_eq!(code(again).await, (400, "invalid-token".into()));

    // The franchisee invites a pro who already has an account: it is attached.
    let fran = app.sign_in("amsterdam.localhost", "new@franchise.nl", PASSWORD).await;
    app.enable_mfa("amsterdam.localhost", &fran).await;
    app.account("existing@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    app.post("amsterdam.localhost", "/api/v1/invitations", &json!({ "email": "existing@voorbeeld.nl" }), Some(&fran))
        .await;
    let token = app.mailed_token("existing@voorbeeld.nl").await;
    let attached =
        app.post("amsterdam.localhost", "/api/v1/auth/invitations/accept", &json!({ "token": token }), None).await;
    assert_eq!(attached.status(), 200);
    let pro = app.sign_in("amsterdam.localhost", "existing@voorbeeld.nl", PASSWORD).await;
    let me: Value = app
        .call(Method::GET, "amsterdam.localhost", "/api/v1/auth/session", None, Some(&pro))
        .await
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = me["memberships"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["customer", "pro"]);
}

/// A redis-server of this test's own, on a free port; stopped on drop.
pub(crate) struct Redis {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_redis() -> Redis {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Redis { child, port };
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server did not start");
}

#[tokio::test]
async fn two_instances_sharing_redis_enforce_one_sign_in_limit() {
    let redis = start_redis();
    let settings = || ServerSettings {
        redis_url: Some(format!("redis://127.0.0.1:{}", redis.port)),
        limits: Limits { sign_in_per_ip: Limit::per(4, 600), ..Limits::default() },
        ..ServerSettings::default()
    };
    let first = spawn_app_on(fresh_database().await, settings()).await;
    let second = spawn_app_on(
        crate::helpers::TestDatabase { url: first.db.url.clone(), admin_url: first.db.admin_url.clone() },
        settings(),
    )
    .await;
    let attempt = json!({ "email": "nobody@voorbeeld.nl", "password": "wrong-password" });
    let mut statuses = Vec::new();
    for round in 0..6 {
        let app = if round % 2 == 0 { &first } else { &second };
        statuses.push(app.post("hq.localhost", "/api/v1/auth/sign-in", &attempt, None).await.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 429, 429]);
    let limited = second.post("hq.localhost", "/api/v1/auth/sign-in", &attempt, None).await;
    assert!(limited.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn an_account_squatting_an_invited_address_is_taken_over_by_the_invitee_not_the_squatter() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let admin = app.hq_admin_token("hq@voorbeeld.nl").await;
    // The attacker registers the future franchisee's address first and signs in.
    let squat = json!({ "email": "future@franchise.nl", "password": "aanvaller-wachtwoord", "display_name": "X" });
    assert_eq!(app.post("hq.localhost", "/api/v1/auth/sign-up", &squat, None).await.status(), 202);
    let attacker = app.sign_in("amsterdam.localhost", "future@franchise.nl", "aanvaller-wachtwoord").await;

    app.post(
        "hq.localhost",
        "/api/v1/hq/territories/amsterdam/invitations",
        &json!({ "email": "future@franchise.nl" }),
        Some(&admin),
    )
    .await;
    let token = app.mailed_token("future@franchise.nl").await;
    let attach_only =
        app.post("amsterdam.localhost", "/api/v1/auth/invitations/accept", &json!({ "token": token }), None).await;
    assert_eq!(code(attach_only).await, (422, "account-details-required".into()));
    let accept = json!({ "token": token, "display_name": "Echte Franchisenemer", "password": PASSWORD });
    assert_eq!(app.post("amsterdam.localhost", "/api/v1/auth/invitations/accept", &accept, None).await.status(), 200);

    // The squatter's session and password are dead; the invitee's work.
    assert_eq!(
        app.call(Method::GET, "amsterdam.localhost", "/api/v1/auth/session", None, Some(&attacker)).await.status(),
        401
    );
    let again = app
        .post(
            "amsterdam.localhost",
            "/api/v1/auth/sign-in",
            &json!({ "email": "future@franchise.nl", "password": "aanvaller-wachtwoord" }),
            None,
        )
        .await;
    assert_eq!(again.status(), 401);
    app.sign_in("amsterdam.localhost", "future@franchise.nl", PASSWORD).await;
}

#[tokio::test]
async fn a_session_of_an_mfa_account_reaches_nothing_before_it_passes_mfa() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.account("klant@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    let first = app.sign_in("amsterdam.localhost", "klant@voorbeeld.nl", PASSWORD).await;
    let secret = app.enable_mfa("amsterdam.localhost", &first).await;
    let second = app.sign_in("amsterdam.localhost", "klant@voorbeeld.nl", PASSWORD).await;

    let sessions = app.call(Method::GET, "amsterdam.localhost", "/api/v1/auth/sessions", None, Some(&second)).await;
    assert_eq!(code(sessions).await, (403, "mfa-required".into()));
    let profile = app
        .call(
            Method::PUT,
            "amsterdam.localhost",
            "/api/v1/pro/profile",
            Some(&json!({ "display_name": "X" })),
            Some(&second),
        )
        .await;
    assert_eq!(profile.status(), 403);
    // Passing MFA opens the session. The code of the next step: the current one was used.
    let next = careservice::identity::mfa::code_at(&secret, crate::helpers::unix_now() + 30).unwrap();
    let verified =
        app.post("amsterdam.localhost", "/api/v1/auth/mfa/verify", &json!({ "code": next }), Some(&second)).await;
    assert_eq!(verified.status(), 204);
    assert_eq!(
        app.call(Method::GET, "amsterdam.localhost", "/api/v1/auth/sessions", None, Some(&second)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_password_change_ends_every_session_and_an_account_joins_another_territory() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    app.account("klant@voorbeeld.nl", PASSWORD, &[(Role::Customer, Some(&amsterdam))]).await;
    let laptop = app.sign_in("amsterdam.localhost", "klant@voorbeeld.nl", PASSWORD).await;
    let phone = app.sign_in("amsterdam.localhost", "klant@voorbeeld.nl", PASSWORD).await;

    let joined: Value =
        app.post("utrecht.localhost", "/api/v1/auth/join", &json!({}), Some(&laptop)).await.json().await.unwrap();
    let territories: Vec<&str> =
        joined["memberships"].as_array().unwrap().iter().map(|m| m["territory"].as_str().unwrap()).collect();
    assert_eq!(territories, vec!["amsterdam", "utrecht"]);

    let wrong = app
        .post(
            "amsterdam.localhost",
            "/api/v1/auth/password",
            &json!({ "current_password": "wrong-password", "new_password": "nieuw-en-lang-genoeg" }),
            Some(&laptop),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let changed = app
        .post(
            "amsterdam.localhost",
            "/api/v1/auth/password",
            &json!({ "current_password": PASSWORD, "new_password": "nieuw-en-lang-genoeg" }),
            Some(&laptop),
        )
        .await;
    assert_eq!(changed.status(), 204);
    for session in [&laptop, &phone] {
        assert_eq!(
            app.call(Method::GET, "amsterdam.localhost", "/api/v1/auth/session", None, Some(session)).await.status(),
            401
        );
    }
}

#[tokio::test]
async fn text_with_nul_characters_is_refused_with_a_reason_not_a_500() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let mut answers = Vec::new();
    for (path, body) in [
        ("/api/v1/auth/sign-in", json!({ "email": "a\u{0}@b.nl", "password": "whatever-long" })),
        ("/api/v1/auth/password-reset/request", json!({ "email": "a\u{0}@b.nl" })),
    ] {
        answers.push((path, code(app.post("amsterdam.localhost", path, &body, None).await).await));
    }
    let path = "/api/v1/pros?service=%00";
    answers.push((path, code(app.get("amsterdam.localhost", path).await).await));
    // Each is refused for what it is: no address has a NUL in it, and no
    // service's code does.
    assert_eq!(
        answers,
        [
            ("/api/v1/auth/sign-in", (422, "invalid-email".to_owned())),
            ("/api/v1/auth/password-reset/request", (422, "invalid-email".to_owned())),
            // The pro list looks the service up in the territory's catalog
            // before it queries pros: a code with a NUL in it is no service.
            ("/api/v1/pros?service=%00", (404, "unknown-service".to_owned())),
        ]
    );
}
