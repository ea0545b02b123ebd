//! Reads across territories, over HTTP and from the outside: Amsterdam's
//! bookings, payment, refund, payout, statement, ledger, export, consents and
//! audit asked for through Utrecht's host, by a customer with a session in
//! each territory, by Utrecht's franchisee and by Utrecht's pro. Each answer
//! is checked for its status and for holding none of Amsterdam's data (ids,
//! addresses, amounts), and an answer that lists Utrecht's own data must list
//! some, so that the check has something to look into.

use careservice::clock::{Clock, SharedClock};
use careservice::jobs::run_due_jobs;
use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, PASSWORD, People, Scene, at_ten, book, populate, request, scene};

const UTRECHT: &str = "utrecht.localhost";

/// Amsterdam with its data, Utrecht with its own, and the Amsterdam customer
/// who joined Utrecht, signed in on each host.
struct World {
    s: Scene,
    utrecht: People,
    /// The Amsterdam customer's sessions: signed in on Amsterdam's host and on Utrecht's.
    customer_sessions: [String; 2],
    /// A completed, captured, partly refunded and paid-out booking of Amsterdam.
    done: String,
    /// An Amsterdam booking waiting for its pro.
    waiting: String,
    payout: String,
    /// The month of the captures.
    period: String,
    /// What no answer through Utrecht's host may hold.
    secrets: Vec<String>,
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn get(s: &Scene, host: &str, path: &str, token: &str) -> Value {
    let response = s.app.call(Method::GET, host, path, None, Some(token)).await;
    assert_eq!(response.status(), 200, "GET {host}{path}");
    json_of(response).await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// A booking on Utrecht's host of house cleaning (instantly confirmed and
/// captured) at `address`, `days` from now.
async fn book_in_utrecht(s: &Scene, token: &str, key: &str, days: i64, address: &str) -> Value {
    let mut body = request(&at_ten(&s.clock, days));
    body["service"] = json!("house-cleaning");
    body["address"] = json!(address);
    body["notes"] = json!("achterdeur");
    let created = s.app.post_once(UTRECHT, "/api/v1/bookings", key, &body, token).await;
    assert_eq!(created.status(), 201);
    let created = json_of(created).await;
    assert_eq!(created["status"], "CONFIRMED");
    created
}

async fn world() -> World {
    let s = scene().await;
    let utrecht = populate(&s.app, "utrecht").await;
    let joined = s.app.post(UTRECHT, "/api/v1/auth/join", &json!({}), Some(&s.customer)).await;
    assert!(joined.status().is_success(), "{}", joined.status());
    let in_utrecht = s.app.sign_in(UTRECHT, "klant@amsterdam.nl", PASSWORD).await;

    // Amsterdam: a booking captured, partly refunded, and (below) paid out.
    let done = id(&json_of(book(&s, &s.customer, "a1", &request(&at_ten(&s.clock, 2))).await).await);
    let accepted = s.app.post(HOST, &format!("/api/v1/bookings/{done}/accept"), &json!({}), Some(&s.pro)).await;
    assert_eq!(accepted.status(), 200);
    let refunded = s
        .app
        .post_once(
            HOST,
            &format!("/api/v1/bookings/{done}/refunds"),
            "a-refund",
            &json!({ "amount": "3.21" }),
            &s.franchisee,
        )
        .await;
    assert_eq!(refunded.status(), 201);
    let payment = get(&s, HOST, &format!("/api/v1/bookings/{done}/payment"), &s.franchisee).await;
    let consent = json!({ "purpose": "marketing", "text_version": "ams-v1", "given": true });
    assert_eq!(s.app.post(HOST, "/api/v1/privacy/consents", &consent, Some(&s.customer)).await.status(), 201);

    // Utrecht: its own customer's booking and the joined customer's, and a consent.
    book_in_utrecht(&s, &utrecht.customer, "u1", 2, "Oudegracht 1").await;
    book_in_utrecht(&s, &in_utrecht, "u2", 3, "Oudegracht 99").await;
    let consent = json!({ "purpose": "marketing", "text_version": "utr-v1", "given": false });
    assert_eq!(s.app.post(UTRECHT, "/api/v1/privacy/consents", &consent, Some(&in_utrecht)).await.status(), 201);
    let period = s.clock.now().with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m").to_string();

    // Past the dispute window: the bookings complete, each territory pays out.
    s.clock.advance(Duration::days(17));
    let clock: SharedClock = s.clock.clone();
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    let payout = s.app.post(HOST, "/api/v1/payouts", &json!({}), Some(&s.franchisee)).await;
    assert_eq!(payout.status(), 201);
    let payout = json_of(payout).await;
    assert_eq!(s.app.post(UTRECHT, "/api/v1/payouts", &json!({}), Some(&utrecht.franchisee)).await.status(), 201);
    let waiting = id(&json_of(book(&s, &s.customer, "a2", &request(&at_ten(&s.clock, 2))).await).await);

    let secrets = vec![
        done.clone(),
        waiting.clone(),
        id(&payment),
        payment["refunds"][0]["id"].as_str().unwrap().to_owned(),
        id(&payout["payout"]),
        s.pro_id.clone(),
        "Damrak 1".to_owned(),
        "bel twee keer".to_owned(),
        "58.00".to_owned(),
        "3.21".to_owned(),
        payout["payout"]["total"].as_str().unwrap().to_owned(),
        "ams-v1".to_owned(),
    ];
    let payout = id(&payout["payout"]);
    let customer_sessions = [s.customer.clone(), in_utrecht];
    World { s, utrecht, customer_sessions, done, waiting, payout, period, secrets }
}

/// What went wrong over all the reads of one test, reported at once.
struct Findings<'a> {
    secrets: &'a [String],
    found: Vec<String>,
}

impl<'a> Findings<'a> {
    fn new(world: &'a World) -> Self {
        Self { secrets: &world.secrets, found: Vec::new() }
    }

    /// Records a wrong status, any of Amsterdam's data in the body, and, when
    /// `rows` names a list (a JSON pointer, or `csv` for CSV lines), an empty one.
    async fn check(&mut self, what: &str, response: reqwest::Response, status: u16, rows: Option<&str>) {
        let actual = response.status().as_u16();
        let body = response.text().await.unwrap();
        if actual != status {
            self.found.push(format!("{what}: status {actual}, not {status}: {body}"));
        }
        for secret in self.secrets {
            if body.contains(secret.as_str()) {
                self.found.push(format!("{what}: holds Amsterdam's {secret}: {body}"));
            }
        }
        let listed = match rows {
            None => return,
            Some("csv") => body.lines().count().saturating_sub(1),
            Some(pointer) => serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|value| value.pointer(pointer).and_then(Value::as_array).map(Vec::len))
                .unwrap_or(0),
        };
        if listed == 0 {
            self.found.push(format!("{what}: nothing listed at {rows:?} to look into: {body}"));
        }
    }

    fn assert_none(self) {
        assert!(self.found.is_empty(), "{:#?}", self.found);
    }
}

/// Reads of one Amsterdam booking and its payment that must all be 404 on
/// Utrecht's host.
async fn booking_reads(w: &World, findings: &mut Findings<'_>, who: &str, token: &str) {
    for booking in [&w.done, &w.waiting] {
        for path in [
            format!("/api/v1/bookings/{booking}"),
            format!("/api/v1/bookings/{booking}/payment"),
            format!("/api/v1/bookings/{booking}/cancellation"),
        ] {
            let response = w.s.app.call(Method::GET, UTRECHT, &path, None, Some(token)).await;
            findings.check(&format!("{who} GET {path}"), response, 404, None).await;
        }
    }
}

/// Amsterdam's bookings are as they were left, seen on Amsterdam's host.
async fn amsterdam_is_untouched(w: &World) {
    let done = get(&w.s, HOST, &format!("/api/v1/bookings/{}", w.done), &w.s.franchisee).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let waiting = get(&w.s, HOST, &format!("/api/v1/bookings/{}", w.waiting), &w.s.franchisee).await;
    assert_eq!(waiting["status"], "AWAITING_PRO", "{waiting}");
    let payment = get(&w.s, HOST, &format!("/api/v1/bookings/{}/payment", w.done), &w.s.franchisee).await;
    assert_eq!(payment["refunded"]["amount"], "3.21", "{payment}");
    let payout = get(&w.s, HOST, &format!("/api/v1/payouts/{}", w.payout), &w.s.franchisee).await;
    assert_eq!(payout["payout"]["status"], "open", "{payout}");
}

#[tokio::test]
async fn a_customer_of_both_territories_sees_nothing_of_amsterdam_through_utrecht() {
    let w = world().await;
    let mut findings = Findings::new(&w);
    for (n, token) in w.customer_sessions.iter().enumerate() {
        let who = ["the customer's Amsterdam session", "the customer's Utrecht session"][n];
        booking_reads(&w, &mut findings, who, token).await;
        let list = w.s.app.call(Method::GET, UTRECHT, "/api/v1/bookings", None, Some(token)).await;
        findings.check(&format!("{who} GET /api/v1/bookings"), list, 200, Some("/bookings")).await;
        for (action, body) in [("cancel", json!({})), ("reschedule", json!({ "start": at_ten(&w.s.clock, 4) }))] {
            let path = format!("/api/v1/bookings/{}/{action}", w.waiting);
            let response = w.s.app.post(UTRECHT, &path, &body, Some(token)).await;
            findings.check(&format!("{who} POST {path}"), response, 404, None).await;
        }
        let export = w.s.app.call(Method::GET, UTRECHT, "/api/v1/territory/export", None, Some(token)).await;
        findings.check(&format!("{who} GET /api/v1/territory/export"), export, 403, None).await;
    }
    findings.assert_none();
    amsterdam_is_untouched(&w).await;
}

#[tokio::test]
async fn utrecht_franchisee_sees_and_moves_nothing_of_amsterdam_through_its_host() {
    let w = world().await;
    let token = w.utrecht.franchisee.as_str();
    let who = "Utrecht's franchisee";
    let mut findings = Findings::new(&w);
    booking_reads(&w, &mut findings, who, token).await;
    let refund_path = format!("/api/v1/bookings/{}/refunds", w.done);
    let refund = w.s.app.post_once(UTRECHT, &refund_path, "u-refund", &json!({ "amount": "1.00" }), token).await;
    findings.check(&format!("{who} POST {refund_path}"), refund, 404, None).await;
    let payout_path = format!("/api/v1/payouts/{}", w.payout);
    let payout = w.s.app.call(Method::GET, UTRECHT, &payout_path, None, Some(token)).await;
    findings.check(&format!("{who} GET {payout_path}"), payout, 404, None).await;
    let paid_path = format!("/api/v1/payouts/{}/paid", w.payout);
    let paid = w.s.app.post(UTRECHT, &paid_path, &json!({}), Some(token)).await;
    findings.check(&format!("{who} POST {paid_path}"), paid, 404, None).await;
    // Utrecht's own lists: each holds Utrecht's rows and none of Amsterdam's.
    let statement = format!("/api/v1/statements/{}", w.period);
    for (path, rows) in [
        ("/api/v1/bookings".to_owned(), "/bookings"),
        (statement.clone(), "/lines"),
        (format!("{statement}?format=csv"), "csv"),
        ("/api/v1/ledger/balances".to_owned(), "/accounts"),
        ("/api/v1/payouts".to_owned(), "/payouts"),
        ("/api/v1/territory/export".to_owned(), "/tables/bookings"),
        ("/api/v1/territory/consents?purpose=marketing".to_owned(), "/consents"),
        ("/api/v1/pros/all".to_owned(), "/pros"),
    ] {
        let response = w.s.app.call(Method::GET, UTRECHT, &path, None, Some(token)).await;
        findings.check(&format!("{who} GET {path}"), response, 200, Some(rows)).await;
    }
    // Audit chains are HQ's to read, on the HQ host only.
    let audit = w.s.app.call(Method::GET, UTRECHT, "/api/v1/hq/audit/amsterdam/verify", None, Some(token)).await;
    findings.check(&format!("{who} GET /api/v1/hq/audit/amsterdam/verify"), audit, 404, None).await;
    findings.assert_none();
    amsterdam_is_untouched(&w).await;
}

#[tokio::test]
async fn utrecht_pro_sees_and_moves_nothing_of_amsterdam() {
    let w = world().await;
    let token = w.utrecht.pro.as_str();
    let who = "Utrecht's pro";
    let mut findings = Findings::new(&w);
    booking_reads(&w, &mut findings, who, token).await;
    for action in ["accept", "decline"] {
        let path = format!("/api/v1/bookings/{}/{action}", w.waiting);
        let response = w.s.app.post(UTRECHT, &path, &json!({}), Some(token)).await;
        findings.check(&format!("{who} POST {path}"), response, 404, None).await;
    }
    let list = w.s.app.call(Method::GET, UTRECHT, "/api/v1/bookings", None, Some(token)).await;
    findings.check(&format!("{who} GET /api/v1/bookings"), list, 200, Some("/bookings")).await;
    let statement =
        w.s.app.call(Method::GET, UTRECHT, &format!("/api/v1/statements/{}", w.period), None, Some(token)).await;
    findings.check(&format!("{who} GET the statement"), statement, 403, None).await;
    findings.assert_none();
    amsterdam_is_untouched(&w).await;
}
