//! Payments, the ledger, payouts, HQ's commissions and the audit chain, from
//! the outside: figures computed by hand, webhooks as an attacker would send
//! them, the database refusing what the application must never do.

use std::collections::BTreeSet;

use careservice::clock::{Clock, SharedClock};
use careservice::jobs::run_due_jobs;
use careservice::payments::webhook::sign;
use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, Scene, at_ten, book, populate, request, scene};
use crate::helpers::TestApp;

const SECRET: &[u8] = careservice::config::DEMO_WEBHOOK_SECRET.as_bytes();

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn get(app: &TestApp, host: &str, path: &str, token: &str) -> Value {
    let response = app.call(Method::GET, host, path, None, Some(token)).await;
    assert_eq!(response.status(), 200, "GET {path}");
    json_of(response).await
}

async fn refund(s: &Scene, booking: &str, key: &str, amount: &str) -> reqwest::Response {
    s.app
        .post_once(
            HOST,
            &format!("/api/v1/bookings/{booking}/refunds"),
            key,
            &json!({ "amount": amount }),
            &s.franchisee,
        )
        .await
}

fn month(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m").to_string()
}

fn amount(value: &Value) -> rust_decimal::Decimal {
    value.as_str().unwrap().parse().unwrap()
}

/// Personal care, 58.00 with 21% VAT, 14% / 6% contract. By hand:
/// VAT 58 × 21/121 = 10.066 -> 10.07; net 47.93 -> 14% 6.7102, 6% 2.8758,
/// 80% 38.344; floors 6.71 + 2.87 + 38.34 leave a cent for the largest
/// remainder (HQ's .58): 6.71 / 2.88 / 38.34.
/// A goodwill refund of 10.00: the split of 10.00 is 1.74 / 1.16 / 0.49 / 6.61.
/// A cancellation 20 hours ahead keeps the 50% fee: 19.00 more comes back,
/// so 29.00 in all, whose split is 5.03 / 3.35 / 1.44 / 19.18; the fee left
/// is 5.04 VAT, 3.36 franchise fee, 1.44 HQ fee and 19.16 for the pro.
#[tokio::test]
async fn a_booking_is_captured_refunded_cancelled_and_paid_out_to_the_cent() {
    let s = scene().await;
    let booking = json_of(book(&s, &s.customer, "m1", &request(&at_ten(&s.clock, 2))).await).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let payment_path = format!("/api/v1/bookings/{id}/payment");
    let held = get(&s.app, HOST, &payment_path, &s.franchisee).await;
    assert_eq!(held["status"], "authorized");
    assert!(held.get("split").is_none());

    let accepted = s.app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&s.pro)).await;
    assert_eq!(accepted.status(), 200);
    let captured_at = s.clock.now();
    let captured = get(&s.app, HOST, &payment_path, &s.franchisee).await;
    assert_eq!(captured["status"], "captured");
    assert_eq!(captured["split"], json!({ "vat": 1007, "franchise": 671, "hq": 288, "pro": 3834 }));
    // The customer sees the payment, not how it splits.
    assert!(get(&s.app, HOST, &payment_path, &s.customer).await.get("split").is_none());

    let first = refund(&s, &id, "g1", "10.00").await;
    assert_eq!(first.status(), 201);
    // The same key again replays; too much is refused with nothing changed.
    assert_eq!(json_of(refund(&s, &id, "g1", "10.00").await).await["refunded"]["amount"], "10.00");
    assert_eq!(refund(&s, &id, "g2", "48.01").await.status(), 422);
    assert_eq!(refund(&s, &id, "g3", "-1").await.status(), 422);
    assert_eq!(refund(&s, &id, "g4", "1.001").await.status(), 422);
    // Only the franchisee refunds.
    let by_customer = s
        .app
        .post_once(HOST, &format!("/api/v1/bookings/{id}/refunds"), "c1", &json!({ "amount": "1.00" }), &s.customer)
        .await;
    assert_eq!(by_customer.status(), 403);

    let starts_at = chrono::DateTime::parse_from_rfc3339(booking["starts_at"].as_str().unwrap()).unwrap();
    s.clock.advance(starts_at.with_timezone(&Utc) - Duration::hours(20) - s.clock.now());
    let cancelled_at = s.clock.now();
    let cancelled =
        json_of(s.app.post(HOST, &format!("/api/v1/bookings/{id}/cancel"), &json!({}), Some(&s.customer)).await).await;
    assert_eq!(cancelled["cancellation_fee"]["amount"], "29.00");
    let after = get(&s.app, HOST, &payment_path, &s.franchisee).await;
    assert_eq!(after["refunded"]["amount"], "29.00");
    let refunds: Vec<(&str, &str)> = after["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["reason"].as_str().unwrap(), r["amount"]["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(refunds, [("goodwill", "10.00"), ("cancellation", "19.00")]);

    // The statements of the months involved, together.
    let months: BTreeSet<String> = [month(captured_at), month(cancelled_at)].into();
    let mut totals = [rust_decimal::Decimal::ZERO; 7];
    for period in &months {
        let statement = get(&s.app, HOST, &format!("/api/v1/statements/{period}"), &s.franchisee).await;
        let t = &statement["totals"];
        for (sum, field) in
            totals.iter_mut().zip(["gross", "refunds", "vat", "franchise_fee", "hq_fee", "pro_share", "net"])
        {
            *sum += amount(&t[field]);
        }
    }
    let expected: Vec<rust_decimal::Decimal> =
        ["58.00", "29.00", "5.04", "3.36", "1.44", "19.16", "3.36"].iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(totals.to_vec(), expected);
    let csv = s
        .app
        .call(
            Method::GET,
            HOST,
            &format!("/api/v1/statements/{}?format=csv", month(captured_at)),
            None,
            Some(&s.franchisee),
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("period,payment_id,booking_id,gross,refunds,vat,franchise_fee,hq_fee,pro_share\n"),
        "{csv}"
    );
    assert!(csv.contains(&id), "{csv}");

    // Payouts wait for the dispute window after the end.
    assert_eq!(s.app.post(HOST, "/api/v1/payouts", &json!({}), Some(&s.franchisee)).await.status(), 409);
    s.clock.advance(Duration::days(16));
    let created = s.app.post(HOST, "/api/v1/payouts", &json!({}), Some(&s.franchisee)).await;
    assert_eq!(created.status(), 201);
    let created = json_of(created).await;
    assert_eq!(created["payout"]["total"], "19.16");
    assert_eq!(created["items"][0]["pro_id"], s.pro_id);
    // A payment is paid out once.
    assert_eq!(s.app.post(HOST, "/api/v1/payouts", &json!({}), Some(&s.franchisee)).await.status(), 409);
    let payout = created["payout"]["id"].as_str().unwrap();
    let paid = s.app.post(HOST, &format!("/api/v1/payouts/{payout}/paid"), &json!({}), Some(&s.franchisee)).await;
    assert_eq!(paid.status(), 200);
    let again = s.app.post(HOST, &format!("/api/v1/payouts/{payout}/paid"), &json!({}), Some(&s.franchisee)).await;
    assert_eq!(again.status(), 409);

    let balances = get(&s.app, HOST, "/api/v1/ledger/balances", &s.franchisee).await;
    assert_eq!(balances["sum"], "0.00");
    let balance_of = |code: &str| {
        balances["accounts"].as_array().unwrap().iter().find(|a| a["account"] == code).unwrap()["balance"].clone()
    };
    assert_eq!(amount(&balance_of("provider_clearing")), "9.84".parse().unwrap());
    assert_eq!(amount(&balance_of("vat_payable")), "-5.04".parse().unwrap());
    assert_eq!(amount(&balance_of("franchise_revenue")), "-3.36".parse().unwrap());
    assert_eq!(amount(&balance_of("hq_fee_payable")), "-1.44".parse().unwrap());
    assert_eq!(amount(&balance_of(&format!("pro_payable:{}", s.pro_id))), "0".parse().unwrap());
    // Balances as of a day before the capture: nothing yet.
    let before = captured_at.with_timezone(&chrono_tz::Europe::Amsterdam).date_naive() - Duration::days(1);
    let earlier = get(&s.app, HOST, &format!("/api/v1/ledger/balances?at={before}"), &s.franchisee).await;
    assert!(earlier["accounts"].as_array().unwrap().iter().all(|a| amount(&a["balance"]).is_zero()), "{earlier}");

    // HQ sees the same fees, from hq alone, once the outbox is drained.
    let clock: SharedClock = s.clock.clone();
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    let admin = s.app.hq_admin_token("hq@careservice.nl").await;
    let mut hq_fee = rust_decimal::Decimal::ZERO;
    for period in &months {
        let report = get(&s.app, "hq.localhost", &format!("/api/v1/hq/commissions?period={period}"), &admin).await;
        hq_fee += amount(&report["total"]["hq_fee"]);
        assert!(!report.to_string().contains("@"), "no personal data in HQ reports: {report}");
    }
    assert_eq!(hq_fee, "1.44".parse().unwrap());
    let verified = get(&s.app, "hq.localhost", "/api/v1/hq/audit/amsterdam/verify", &admin).await;
    assert_eq!(verified["verification"]["intact"], true, "{verified}");
    // authorised, captured, two refunds, payout created and paid.
    assert!(verified["verification"]["entries"].as_i64().unwrap() >= 6, "{verified}");
}

async fn webhook(app: &TestApp, body: &Value, signature: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/payments/webhooks/simulated", app.address))
        .header("host", HOST)
        .header("careservice-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn webhooks_must_be_signed_and_fresh_and_apply_once() {
    let s = scene().await;
    let mut body = request(&at_ten(&s.clock, 2));
    body["payment_method"] = json!("sim-card-3ds");
    let created = book(&s, &s.customer, "w1", &body).await;
    assert_eq!(created.status(), 201);
    let booking = json_of(created).await;
    assert_eq!(booking["status"], "HELD");
    let id = booking["id"].as_str().unwrap();
    let event =
        json!({ "id": "evt_1", "type": "payment.authorized", "data": { "reference": format!("sim_booking_{id}") } });
    let now = s.clock.now().timestamp();
    let payload = event.to_string();

    assert_eq!(webhook(&s.app, &event, "t=1,v1=00").await.status(), 401);
    assert_eq!(webhook(&s.app, &event, &sign(b"a guess", now, payload.as_bytes())).await.status(), 401);
    assert_eq!(webhook(&s.app, &event, &sign(SECRET, now - 301, payload.as_bytes())).await.status(), 400);
    let forged = json!({ "id": "evt_1", "type": "payment.failed", "data": event["data"] });
    assert_eq!(webhook(&s.app, &forged, &sign(SECRET, now, payload.as_bytes())).await.status(), 401);
    let status = |token: String| {
        let path = format!("/api/v1/bookings/{id}");
        let app = &s.app;
        async move { get(app, HOST, &path, &token).await }
    };
    assert_eq!(status(s.customer.clone()).await["status"], "HELD");

    let first = webhook(&s.app, &event, &sign(SECRET, now, payload.as_bytes())).await;
    assert_eq!(first.status(), 200);
    assert_eq!(json_of(first).await["duplicate"], false);
    let moved = status(s.customer.clone()).await;
    assert_eq!(moved["status"], "AWAITING_PRO");
    let replay = webhook(&s.app, &event, &sign(SECRET, now + 5, payload.as_bytes())).await;
    assert_eq!(json_of(replay).await["duplicate"], true);
    assert_eq!(status(s.customer.clone()).await["events"], moved["events"]);
    // Another territory's host does not know the payment.
    let other = s
        .app
        .client
        .post(format!("{}/api/v1/payments/webhooks/simulated", s.app.address))
        .header("host", "utrecht.localhost")
        .header("careservice-signature", sign(SECRET, now, payload.as_bytes()))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn a_declined_card_answers_402_and_frees_the_slot() {
    let s = scene().await;
    let start = at_ten(&s.clock, 2);
    let mut body = request(&start);
    body["payment_method"] = json!("sim-card-declined");
    let declined = book(&s, &s.customer, "d1", &body).await;
    assert_eq!(declined.status(), 402);
    assert_eq!(json_of(declined).await["type"], "urn:careservice:problem:payment-declined");
    assert_eq!(book(&s, &s.customer, "d2", &request(&start)).await.status(), 201);
}

async fn tenant_conn(app: &TestApp, slug: &str) -> careservice::tenancy::BoundConnection {
    let territory = {
        let mut conn = app.pool.hq().await.unwrap();
        careservice::tenancy::store::find_by_slug(&mut conn, slug).await.unwrap().unwrap()
    };
    app.pool.territory(&territory).await.unwrap()
}

#[tokio::test]
async fn the_database_refuses_unbalanced_changed_or_deleted_money_records() {
    let s = scene().await;
    let booking = json_of(book(&s, &s.customer, "l1", &request(&at_ten(&s.clock, 2))).await).await;
    let id = booking["id"].as_str().unwrap();
    s.app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&s.pro)).await;
    let mut conn = tenant_conn(&s.app, "amsterdam").await;
    let unbalanced = conn
        .batch_execute(
            "BEGIN;
             INSERT INTO ledger_transactions (external_id, kind, effective_on, posted_at)
                  VALUES ('forged', 'reversal', current_date, now());
             INSERT INTO ledger_entries (transaction_id, account_id, amount)
                  SELECT currval(pg_get_serial_sequence('ledger_transactions', 'id')), id, 100 FROM ledger_accounts
                   WHERE code = 'franchise_revenue';
             COMMIT;",
        )
        .await;
    let _ = conn.batch_execute("ROLLBACK").await;
    assert!(unbalanced.unwrap_err().to_string().contains("does not balance"));
    for statement in [
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "DELETE FROM ledger_transactions",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "TRUNCATE ledger_entries",
    ] {
        let refused = conn.batch_execute(statement).await;
        assert!(refused.is_err(), "{statement} was allowed");
    }
    // The territory's role holds no TRUNCATE right, so the refusals above do
    // not prove the triggers. The owner holds every right: only a trigger
    // stops it, and the error must be the trigger's. (Rows are there, so row
    // triggers have something to fire on; a referenced table is truncated
    // with CASCADE, whose first table's trigger fires first.)
    let mut owner = s.app.db.admin().await;
    owner.batch_execute("SET ROLE careservice_owner").await.unwrap();
    for (statement, table) in [
        ("UPDATE t_amsterdam.ledger_entries SET amount = amount * 2", "ledger_entries"),
        ("DELETE FROM t_amsterdam.ledger_entries", "ledger_entries"),
        ("TRUNCATE t_amsterdam.ledger_entries", "ledger_entries"),
        ("UPDATE t_amsterdam.ledger_transactions SET kind = 'reversal'", "ledger_transactions"),
        ("DELETE FROM t_amsterdam.ledger_transactions", "ledger_transactions"),
        ("TRUNCATE t_amsterdam.ledger_transactions CASCADE", "ledger_transactions"),
        ("UPDATE t_amsterdam.audit_log SET actor = 'someone else'", "audit_log"),
        ("DELETE FROM t_amsterdam.audit_log", "audit_log"),
        ("TRUNCATE t_amsterdam.audit_log", "audit_log"),
    ] {
        let error = owner.batch_execute(statement).await.expect_err(statement).to_string();
        assert!(error.contains(&format!("{table} is insert-only")), "{statement} as the owner: {error}");
    }
    let count: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM ledger_entries")
        .get_result(&mut *conn)
        .await
        .unwrap();
    assert_eq!(count, 7);
}

#[tokio::test]
async fn fifty_concurrent_captures_keep_the_chain_unforked_and_the_ledger_balanced() {
    let s = scene().await;
    let mut ids = Vec::new();
    for n in 0..50 {
        // Seven a day from 08:00, an hour and a quarter apart.
        let day = 2 + n / 7;
        let start = chrono::DateTime::parse_from_rfc3339(&at_ten(&s.clock, day)).unwrap()
            + Duration::minutes(75 * (n % 7) - 120);
        let created = book(&s, &s.customer, &format!("c{n}"), &request(&start.to_rfc3339())).await;
        assert_eq!(created.status(), 201, "booking {n}");
        ids.push(json_of(created).await["id"].as_str().unwrap().to_owned());
    }
    let (paths, empty) = (ids.iter().map(|id| format!("/api/v1/bookings/{id}/accept")).collect::<Vec<_>>(), json!({}));
    let accepts = paths.iter().map(|path| s.app.post(HOST, path, &empty, Some(&s.pro)));
    let statuses: Vec<u16> = futures::future::join_all(accepts).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");

    let mut conn = tenant_conn(&s.app, "amsterdam").await;
    let captures: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM ledger_transactions WHERE kind = 'capture'",
    )
    .get_result(&mut *conn)
    .await
    .unwrap();
    assert_eq!(captures, 50);
    let sum: rust_decimal::Decimal =
        diesel::dsl::sql::<diesel::sql_types::Numeric>("SELECT coalesce(sum(amount), 0) FROM ledger_entries")
            .get_result(&mut *conn)
            .await
            .unwrap();
    assert!(sum.is_zero());
    let verification = careservice::audit::verify(&mut conn).await.unwrap();
    assert!(verification.intact, "{verification:?}");
    // 50 authorisations and 50 captures, in one line.
    assert_eq!(verification.entries, 100);
}

#[tokio::test]
async fn hq_totals_equal_the_territories_ledgers_and_each_event_counts_once() {
    let s = scene().await;
    let utrecht = populate(&s.app, "utrecht").await;
    for (n, (host, customer, pro)) in
        [(HOST, &s.customer, &s.pro), ("utrecht.localhost", &utrecht.customer, &utrecht.pro)].into_iter().enumerate()
    {
        for day in 2..5 {
            let body = request(&at_ten(&s.clock, day));
            let created = s.app.post_once(host, "/api/v1/bookings", &format!("h{n}-{day}"), &body, customer).await;
            let id = json_of(created).await["id"].as_str().unwrap().to_owned();
            s.app.post(host, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(pro)).await;
            if day == 3 {
                let franchisee = if n == 0 { &s.franchisee } else { &utrecht.franchisee };
                let path = format!("/api/v1/bookings/{id}/refunds");
                let refunded =
                    s.app.post_once(host, &path, &format!("r{n}"), &json!({ "amount": "7.77" }), franchisee).await;
                assert_eq!(refunded.status(), 201);
            }
        }
    }
    let clock: SharedClock = s.clock.clone();
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
    // An outbox replayed in full (as after a crash between hq's commit and
    // the outbox's) is counted once.
    let mut admin = s.app.db.admin().await;
    admin.batch_execute("UPDATE t_amsterdam.outbox SET drained_at = NULL").await.unwrap();
    let territory = {
        let mut conn = s.app.pool.hq().await.unwrap();
        careservice::tenancy::store::find_by_slug(&mut conn, "amsterdam").await.unwrap().unwrap()
    };
    careservice::ledger::commissions::drain(&s.app.pool, &territory, Utc::now()).await.unwrap();

    let period = month(s.clock.now());
    let token = s.app.hq_admin_token("hq@careservice.nl").await;
    let report = get(&s.app, "hq.localhost", &format!("/api/v1/hq/commissions?period={period}"), &token).await;
    let mut hq_total = rust_decimal::Decimal::ZERO;
    let rows = report["territories"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "a row per territory: {report}");
    for (slug, row) in ["amsterdam", "utrecht"].iter().zip(rows) {
        assert_eq!(row["territory"], *slug);
        assert_eq!(row["captures"], 3);
        assert_eq!(row["refunds"], 1);
        let mut conn = tenant_conn(&s.app, slug).await;
        let ledger_hq_fee: rust_decimal::Decimal = diesel::dsl::sql::<diesel::sql_types::Numeric>(
            "SELECT -coalesce(sum(e.amount), 0) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
              WHERE a.code = 'hq_fee_payable'",
        )
        .get_result(&mut *conn)
        .await
        .unwrap();
        assert_eq!(amount(&row["hq_fee"]), ledger_hq_fee, "{slug}");
        hq_total += ledger_hq_fee;
    }
    assert_eq!(amount(&report["total"]["hq_fee"]), hq_total);
    assert_eq!(amount(&report["total"]["refunded"]), "15.54".parse().unwrap());
}

#[tokio::test]
async fn a_tampered_audit_row_is_named_by_the_verifier() {
    let s = scene().await;
    for n in 0..3 {
        let booking = json_of(book(&s, &s.customer, &format!("t{n}"), &request(&at_ten(&s.clock, 2 + n))).await).await;
        let id = booking["id"].as_str().unwrap();
        s.app.post(HOST, &format!("/api/v1/bookings/{id}/accept"), &json!({}), Some(&s.pro)).await;
    }
    let token = s.app.hq_admin_token("hq@careservice.nl").await;
    let intact = get(&s.app, "hq.localhost", "/api/v1/hq/audit/amsterdam/verify", &token).await;
    assert_eq!(intact["verification"]["intact"], true);
    assert_eq!(intact["verification"]["entries"], 6);
    let hq_chain = get(&s.app, "hq.localhost", "/api/v1/hq/audit/hq/verify", &token).await;
    assert_eq!(hq_chain["verification"]["intact"], true, "{hq_chain}");

    // A superuser bypassing the triggers changes an amount in entry 4.
    let mut admin = s.app.db.admin().await;
    admin
        .transaction::<_, diesel::result::Error, _>(|conn| {
            Box::pin(async move {
                conn.batch_execute(
                    "SET LOCAL session_replication_role = replica;
                     UPDATE t_amsterdam.audit_log SET payload = replace(payload, '\"gross\":\"58.00\"', '\"gross\":\"5.80\"')
                      WHERE seq = 4;",
                )
                .await
            })
        })
        .await
        .unwrap();
    let broken = get(&s.app, "hq.localhost", "/api/v1/hq/audit/amsterdam/verify", &token).await;
    assert_eq!(broken["verification"]["intact"], false, "{broken}");
    assert_eq!(broken["verification"]["first_broken"]["seq"], 4, "{broken}");
    assert_eq!(broken["verification"]["entries"], 3);
    // Only HQ admins may ask.
    let customer =
        s.app.call(Method::GET, "hq.localhost", "/api/v1/hq/audit/amsterdam/verify", None, Some(&s.customer)).await;
    assert!(matches!(customer.status().as_u16(), 401 | 403), "{}", customer.status());
}
