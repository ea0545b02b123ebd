//! Privacy from the outside: the export holds everything and nothing of
//! anyone else, erasure leaves no plaintext in a dump but keeps the books,
//! sealed values stay in their row, keys rotate under load, consent is
//! append-only, territories stay apart.

use std::collections::BTreeSet;
use std::sync::Arc;

use careservice::clock::{Clock, ManualClock, SharedClock};
use careservice::config::ServerSettings;
use careservice::jobs::run_due_jobs;
use careservice::privacy::Keyring;
use careservice::privacy::keys::{DEMO_KEYS, generate_key};
use careservice::privacy::registry::{COLUMNS, PERSONAL_DATA, Scope};
use careservice::privacy::rotate::{rotate_territory, stale_values};
use chrono::{Duration, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, PASSWORD, Scene, at_ten, book, populate, request, scene};
use crate::helpers::{assert_holds_none, fresh_database, spawn_app_on};

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn run_jobs(s: &Scene) {
    let clock: SharedClock = s.clock.clone();
    run_due_jobs(&s.app.jobs(&clock)).await.unwrap();
}

/// The customer of the scene joins Utrecht too and books there.
async fn customer_in_two_territories(s: &Scene) -> (String, String) {
    populate(&s.app, "utrecht").await;
    let joined = s.app.post("utrecht.localhost", "/api/v1/auth/join", &json!({}), Some(&s.customer)).await;
    assert!(joined.status().is_success(), "{}", joined.status());
    let amsterdam = json_of(book(s, &s.customer, "p1", &request(&at_ten(&s.clock, 2))).await).await;
    let mut in_utrecht = request(&at_ten(&s.clock, 3));
    in_utrecht["address"] = json!("Oudegracht 99, Utrecht");
    let utrecht = s.app.post_once("utrecht.localhost", "/api/v1/bookings", "p2", &in_utrecht, &s.customer).await;
    assert_eq!(utrecht.status(), 201);
    let utrecht = json_of(utrecht).await;
    (amsterdam["id"].as_str().unwrap().to_owned(), utrecht["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_export_holds_everything_about_the_person_from_every_territory_and_expires() {
    let s = scene().await;
    let (in_amsterdam, in_utrecht) = customer_in_two_territories(&s).await;
    s.app
        .post(
            HOST,
            "/api/v1/privacy/consents",
            &json!({ "purpose": "marketing", "text_version": "v1", "given": true }),
            Some(&s.customer),
        )
        .await;

    let wrong =
        s.app.post(HOST, "/api/v1/privacy/exports", &json!({ "password": "not it at all" }), Some(&s.customer)).await;
    assert_eq!(wrong.status(), 403);
    let anonymous = s.app.post(HOST, "/api/v1/privacy/exports", &json!({ "password": PASSWORD }), None).await;
    assert_eq!(anonymous.status(), 401);
    let ticket = s.app.post(HOST, "/api/v1/privacy/exports", &json!({ "password": PASSWORD }), Some(&s.customer)).await;
    assert_eq!(ticket.status(), 202);
    let ticket = json_of(ticket).await;
    let link = ticket["download_url"].as_str().unwrap().to_owned();
    assert_eq!(s.app.get(HOST, &link).await.status(), 409);
    run_jobs(&s).await;
    let downloaded = s.app.get(HOST, &link).await;
    assert_eq!(downloaded.status(), 200);
    let bundle = json_of(downloaded).await;
    assert_eq!(bundle["version"], 1);

    // Every table the registry lists is a section, in hq and per territory.
    for holding in PERSONAL_DATA.iter().filter(|h| h.scope == Scope::Hq) {
        assert!(bundle["hq"][holding.table].is_array(), "hq.{} missing", holding.table);
    }
    let territories: BTreeSet<&str> =
        bundle["territories"].as_array().unwrap().iter().map(|t| t["territory"].as_str().unwrap()).collect();
    assert_eq!(territories, BTreeSet::from(["amsterdam", "utrecht"]));
    for section in bundle["territories"].as_array().unwrap() {
        for holding in PERSONAL_DATA.iter().filter(|h| h.scope == Scope::Territory) {
            assert!(section["tables"][holding.table].is_array(), "{}.{} missing", section["territory"], holding.table);
        }
    }
    let text = bundle.to_string();
    assert!(text.contains("klant@amsterdam.nl"));
    assert!(text.contains("Damrak 1") && text.contains("Oudegracht 99, Utrecht") && text.contains("bel twee keer"));
    assert!(text.contains(&in_amsterdam) && text.contains(&in_utrecht));
    assert_eq!(bundle["hq"]["consents"][0]["purpose"], "marketing");
    // Nothing of the other people in those territories.
    for other in ["klant@utrecht.nl", "pro@amsterdam.nl", "fran@amsterdam.nl"] {
        assert!(!text.contains(other), "{other} is in the export");
    }

    let wrong_token = link.split("?token=").next().unwrap().to_owned() + "?token=guessed";
    assert_eq!(s.app.get(HOST, &wrong_token).await.status(), 404);
    s.clock.advance(Duration::hours(49));
    assert_eq!(s.app.get(HOST, &link).await.status(), 410);
}

/// What the registry leaves undecided about `schema` (read as `scope`): a
/// column it does not classify, one it names that is not there, a table with
/// a personal column that is not listed as personal data, or a listed table
/// with none.
async fn undecided(admin: &mut AsyncPgConnection, schema: &str, scope: Scope) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = $1",
    )
    .bind::<Text, _>(schema)
    .load(admin)
    .await
    .unwrap();
    assert!(!columns.is_empty(), "{schema} has no columns to check");
    let in_database: BTreeSet<(String, String)> = columns.into_iter().map(|c| (c.table_name, c.column_name)).collect();
    let mut problems = Vec::new();
    let mut decided = BTreeSet::new();
    for table in COLUMNS.iter().filter(|t| t.scope == scope) {
        for column in table.personal.iter().chain(table.other) {
            if !decided.insert((table.table.to_owned(), (*column).to_owned())) {
                problems.push(format!("{}.{column} is decided twice", table.table));
            }
        }
        let listed = PERSONAL_DATA.iter().any(|h| h.scope == scope && h.table == table.table);
        if !table.personal.is_empty() && !listed {
            problems.push(format!("{} has personal columns but is not in PERSONAL_DATA", table.table));
        }
        if table.personal.is_empty() && listed {
            problems.push(format!("{} is in PERSONAL_DATA but has no personal column", table.table));
        }
    }
    for holding in PERSONAL_DATA.iter().filter(|h| h.scope == scope) {
        if !COLUMNS.iter().any(|t| t.scope == scope && t.table == holding.table) {
            problems.push(format!("{} is in PERSONAL_DATA but its columns are not decided", holding.table));
        }
    }
    problems.extend(in_database.difference(&decided).map(|(table, column)| format!("{table}.{column} is undecided")));
    problems.extend(decided.difference(&in_database).map(|(table, column)| format!("{table}.{column} is not there")));
    problems
}

#[tokio::test]
async fn every_table_holding_personal_data_is_covered_by_export_and_erasure() {
    let s = scene().await;
    let mut admin = s.app.db.admin().await;
    assert_eq!(undecided(&mut admin, "hq", Scope::Hq).await, Vec::<String>::new());
    assert_eq!(undecided(&mut admin, "t_amsterdam", Scope::Territory).await, Vec::<String>::new());
    // Whatever its name, a new column or table is caught until it is decided.
    admin
        .batch_execute(
            "ALTER TABLE hq.accounts ADD COLUMN phone text;
             ALTER TABLE t_amsterdam.payouts ADD COLUMN iban text;
             CREATE TABLE t_amsterdam.pro_reviews (pro_id uuid, review text);",
        )
        .await
        .unwrap();
    assert_eq!(undecided(&mut admin, "hq", Scope::Hq).await, ["accounts.phone is undecided"]);
    assert_eq!(
        undecided(&mut admin, "t_amsterdam", Scope::Territory).await,
        ["payouts.iban is undecided", "pro_reviews.pro_id is undecided", "pro_reviews.review is undecided",]
    );
}

fn pg_dump(url: &str) -> String {
    // The server's own pg_dump when it has one, else the one on the PATH.
    let bin = std::env::var("PG_BIN_DIR")
        .map(|dir| format!("{dir}/pg_dump"))
        .ok()
        .filter(|path| std::path::Path::new(path).exists())
        .unwrap_or_else(|| "pg_dump".into());
    let output = std::process::Command::new(bin).args(["--no-owner", "--dbname", url]).output().expect("run pg_dump");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

async fn hq_totals(s: &Scene, token: &str) -> Value {
    let period = s.clock.now().with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m").to_string();
    let report = s
        .app
        .call(Method::GET, "hq.localhost", &format!("/api/v1/hq/commissions?period={period}"), None, Some(token))
        .await;
    json_of(report).await["total"].clone()
}

#[tokio::test]
async fn erasure_leaves_no_plaintext_in_a_dump_and_keeps_the_books() {
    let s = scene().await;
    let (in_amsterdam, _) = customer_in_two_territories(&s).await;
    s.app.post(HOST, &format!("/api/v1/bookings/{in_amsterdam}/accept"), &json!({}), Some(&s.pro)).await;
    let mut admin = s.app.db.admin().await;
    admin
        .batch_execute(&format!(
            "UPDATE hq.accounts SET display_name = 'Anneke Klantsma' WHERE email_normalized = '{}'",
            Keyring::demo().lookup("klant@amsterdam.nl")
        ))
        .await
        .unwrap();
    s.app
        .post(
            HOST,
            "/api/v1/privacy/consents",
            &json!({ "purpose": "marketing", "text_version": "v1", "given": true }),
            Some(&s.customer),
        )
        .await;
    s.app.post(HOST, "/api/v1/auth/password-reset/request", &json!({ "email": "klant@amsterdam.nl" }), None).await;
    run_jobs(&s).await;
    let hq_admin = s.app.hq_admin_token("hq@careservice.nl").await;
    let before = hq_totals(&s, &hq_admin).await;
    let dump = pg_dump(&s.app.db.admin_url);
    assert!(dump.contains("Anneke Klantsma"), "the dump check can see data");
    // Sealed at rest even before erasure: the booking's address and notes,
    // and the address the reset mail went to.
    assert!(!dump.contains("Damrak 1") && !dump.contains("Oudegracht 99") && !dump.contains("bel twee keer"));
    assert!(!dump.contains("klant@amsterdam.nl"), "the outbox keeps the address in clear");

    assert_eq!(
        s.app
            .post(HOST, "/api/v1/privacy/erasure", &json!({ "password": "wrong one" }), Some(&s.customer))
            .await
            .status(),
        403
    );
    let erased = s.app.post(HOST, "/api/v1/privacy/erasure", &json!({ "password": PASSWORD }), Some(&s.customer)).await;
    assert_eq!(erased.status(), 202);
    let pseudonym = json_of(erased).await["pseudonym"].as_str().unwrap().to_owned();
    // Sessions end at once.
    assert_eq!(s.app.call(Method::GET, HOST, "/api/v1/auth/session", None, Some(&s.customer)).await.status(), 401);
    run_jobs(&s).await;

    let dump = pg_dump(&s.app.db.admin_url);
    for personal in ["klant@amsterdam.nl", "Anneke Klantsma", "Damrak 1", "Oudegracht 99", "bel twee keer"] {
        assert!(!dump.contains(personal), "{personal} is still in the dump");
    }
    assert!(dump.contains(&pseudonym), "the fiscal records keep the pseudonym");
    // Signing in with the old address fails like any unknown address.
    let sign_in = s
        .app
        .post(HOST, "/api/v1/auth/sign-in", &json!({ "email": "klant@amsterdam.nl", "password": PASSWORD }), None)
        .await;
    assert_eq!(sign_in.status(), 401);

    // The books are untouched: balanced, HQ's totals unchanged, chains intact.
    assert_eq!(hq_totals(&s, &hq_admin).await, before);
    let balances =
        json_of(s.app.call(Method::GET, HOST, "/api/v1/ledger/balances", None, Some(&s.franchisee)).await).await;
    assert_eq!(balances["sum"], "0.00");
    assert!(balances["accounts"].as_array().unwrap().iter().any(|a| a["balance"] != "0"), "{balances}");
    for chain in ["amsterdam", "utrecht", "hq"] {
        let verified = json_of(
            s.app
                .call(Method::GET, "hq.localhost", &format!("/api/v1/hq/audit/{chain}/verify"), None, Some(&hq_admin))
                .await,
        )
        .await;
        assert_eq!(verified["verification"]["intact"], true, "{chain}: {verified}");
    }
    let erasure_record: String =
        diesel::dsl::sql::<Text>("SELECT payload FROM hq.audit_log WHERE kind = 'privacy.erased'")
            .get_result(&mut admin)
            .await
            .unwrap();
    assert!(erasure_record.contains(&pseudonym) && !erasure_record.contains('@'), "{erasure_record}");
    // Running the erasure again changes nothing.
    careservice::privacy::erasure::erase(&s.app.pool, &Keyring::demo(), pseudonym.parse().unwrap(), Utc::now())
        .await
        .unwrap();
    let erasures: i64 = diesel::dsl::sql::<BigInt>("SELECT count(*) FROM hq.audit_log WHERE kind = 'privacy.erased'")
        .get_result(&mut admin)
        .await
        .unwrap();
    assert_eq!(erasures, 1);
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_row_does_not_decrypt() {
    let s = scene().await;
    let a = json_of(book(&s, &s.customer, "s1", &request(&at_ten(&s.clock, 2))).await).await;
    let mut other = request(&at_ten(&s.clock, 3));
    other["address"] = json!("Keizersgracht 2");
    let b = json_of(book(&s, &s.customer, "s2", &other).await).await;
    assert_eq!(b["address"], "Keizersgracht 2");
    let mut admin = s.app.db.admin().await;
    let plaintext: i64 = diesel::dsl::sql::<BigInt>(
        "SELECT count(*) FROM t_amsterdam.bookings WHERE address LIKE '%gracht%' OR address LIKE '%Damrak%'",
    )
    .get_result(&mut admin)
    .await
    .unwrap();
    assert_eq!(plaintext, 0);
    // Accounts' addresses and names are sealed too, and found by a keyed hash.
    let clear_accounts: i64 = diesel::dsl::sql::<BigInt>(
        "SELECT count(*) FROM hq.accounts WHERE email LIKE '%@%' OR display_name = 'Test person'
            OR email_normalized LIKE '%@%'",
    )
    .get_result(&mut admin)
    .await
    .unwrap();
    assert_eq!(clear_accounts, 0);
    // So are TOTP secrets (the franchisee has one).
    let secrets: (i64, i64) = diesel::dsl::sql::<(BigInt, BigInt)>(
        "SELECT count(*) FILTER (WHERE totp_secret LIKE 'enc:v1:%'), count(*) FILTER (WHERE totp_secret NOT LIKE 'enc:v%')
           FROM hq.accounts",
    )
    .get_result(&mut admin)
    .await
    .unwrap();
    assert_eq!(secrets, (1, 0));
    admin
        .batch_execute(&format!(
            "UPDATE t_amsterdam.bookings SET address = (SELECT address FROM t_amsterdam.bookings WHERE id = '{}')
              WHERE id = '{}'",
            a["id"].as_str().unwrap(),
            b["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let moved = json_of(
        s.app
            .call(
                Method::GET,
                HOST,
                &format!("/api/v1/bookings/{}", b["id"].as_str().unwrap()),
                None,
                Some(&s.customer),
            )
            .await,
    )
    .await;
    assert_eq!(moved["address"], Value::Null, "{moved}");
    let intact = json_of(
        s.app
            .call(
                Method::GET,
                HOST,
                &format!("/api/v1/bookings/{}", a["id"].as_str().unwrap()),
                None,
                Some(&s.customer),
            )
            .await,
    )
    .await;
    assert_eq!(intact["address"], "Damrak 1");
}

#[tokio::test]
async fn keys_rotate_while_bookings_are_made_and_read_and_nothing_is_lost() {
    let both = Keyring::parse(&format!("{DEMO_KEYS},2:{}", generate_key())).unwrap();
    let old = Keyring::demo();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let shared: SharedClock = clock.clone();
    let app = spawn_app_on(
        fresh_database().await,
        ServerSettings { clock: shared, run_worker: false, keys: both.clone(), ..ServerSettings::default() },
    )
    .await;
    let people = populate(&app, "amsterdam").await;
    let scene = Scene {
        app,
        clock,
        franchisee: people.franchisee,
        pro: people.pro,
        pro_id: people.pro_id,
        customer: people.customer,
    };
    let mut expected = Vec::new();
    for n in 0..24 {
        let start = chrono::DateTime::parse_from_rfc3339(&at_ten(&scene.clock, 2 + n / 6)).unwrap()
            + Duration::minutes(75 * (n % 6) - 120);
        let mut body = request(&start.to_rfc3339());
        body["address"] = json!(format!("Damrak {n}"));
        let created = book(&scene, &scene.customer, &format!("k{n}"), &body).await;
        assert_eq!(created.status(), 201);
        expected.push(format!("Damrak {n}"));
    }
    let territory = {
        let mut conn = scene.app.pool.hq().await.unwrap();
        careservice::tenancy::store::find_by_slug(&mut conn, "amsterdam").await.unwrap().unwrap()
    };
    // The stored values as an instance with only the old key sealed them.
    {
        let mut conn = scene.app.pool.territory(&territory).await.unwrap();
        let rows: Vec<(uuid::Uuid, String)> =
            diesel::dsl::sql::<(diesel::sql_types::Uuid, Text)>("SELECT id, address FROM bookings")
                .load(&mut *conn)
                .await
                .unwrap();
        for (id, sealed) in rows {
            let row = id.to_string();
            let place = careservice::privacy::keys::Place {
                scope: &territory.sealing_scope(),
                table: "bookings",
                column: "address",
                row: &row,
            };
            let resealed = old.seal(&both.open(&sealed, &place).unwrap(), &place);
            diesel::sql_query("UPDATE bookings SET address = $1 WHERE id = $2")
                .bind::<Text, _>(resealed)
                .bind::<diesel::sql_types::Uuid, _>(id)
                .execute(&mut *conn)
                .await
                .unwrap();
        }
    }
    assert!(stale_values(&scene.app.pool, &territory, &both).await.unwrap() >= 24);

    let rotation = async {
        let accounts = careservice::privacy::rotate::rotate_accounts(&scene.app.pool, &both).await.unwrap();
        assert!(accounts >= 3, "{accounts}");
        rotate_territory(&scene.app.pool, &territory, &both).await
    };
    let traffic = async {
        for n in 24..32 {
            let start = chrono::DateTime::parse_from_rfc3339(&at_ten(&scene.clock, 6 + n / 6)).unwrap()
                + Duration::minutes(75 * (n % 6) - 120);
            let mut body = request(&start.to_rfc3339());
            body["address"] = json!(format!("Damrak {n}"));
            assert_eq!(book(&scene, &scene.customer, &format!("k{n}"), &body).await.status(), 201);
            let list =
                scene.app.call(Method::GET, HOST, "/api/v1/bookings?limit=200", None, Some(&scene.franchisee)).await;
            assert_eq!(list.status(), 200);
        }
    };
    let (rotated, ()) = tokio::join!(rotation, traffic);
    assert!(rotated.unwrap() >= 24);
    for n in 24..32 {
        expected.push(format!("Damrak {n}"));
    }
    assert_eq!(stale_values(&scene.app.pool, &territory, &both).await.unwrap(), 0);
    let list =
        json_of(scene.app.call(Method::GET, HOST, "/api/v1/bookings?limit=200", None, Some(&scene.franchisee)).await)
            .await;
    let mut addresses: Vec<String> = list["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["address"].as_str().unwrap_or("LOST").to_owned())
        .collect();
    addresses.sort();
    expected.sort();
    assert_eq!(addresses, expected);
    // Replayed idempotent answers were re-sealed too.
    let replay = book(&scene, &scene.customer, "k0", &{
        let start = chrono::DateTime::parse_from_rfc3339(&at_ten(&scene.clock, 2)).unwrap() + Duration::minutes(-120);
        let mut body = request(&start.to_rfc3339());
        body["address"] = json!("Damrak 0");
        body
    })
    .await;
    assert_eq!(json_of(replay).await["address"], "Damrak 0");
    // Accounts moved to the new key, and are still found by their address.
    let mut admin = scene.app.db.admin().await;
    let on_old_key: i64 = diesel::dsl::sql::<BigInt>("SELECT count(*) FROM hq.accounts WHERE email LIKE 'enc:v1:%'")
        .get_result(&mut admin)
        .await
        .unwrap();
    assert_eq!(on_old_key, 0);
    let token = scene.app.sign_in(HOST, "klant@amsterdam.nl", PASSWORD).await;
    let session = json_of(scene.app.call(Method::GET, HOST, "/api/v1/auth/session", None, Some(&token)).await).await;
    assert_eq!(session["account"]["email"], "klant@amsterdam.nl", "{session}");
}

#[tokio::test]
async fn consent_is_append_only_and_its_state_is_read_by_the_account_and_its_franchisee() {
    let s = scene().await;
    let utrecht = populate(&s.app, "utrecht").await;
    for given in [true, false] {
        let recorded = s
            .app
            .post(
                HOST,
                "/api/v1/privacy/consents",
                &json!({ "purpose": "marketing", "text_version": "2026-11", "given": given }),
                Some(&s.customer),
            )
            .await;
        assert_eq!(recorded.status(), 201);
    }
    let bad = s
        .app
        .post(
            HOST,
            "/api/v1/privacy/consents",
            &json!({ "purpose": "selling data", "text_version": "1", "given": true }),
            Some(&s.customer),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let mine = json_of(s.app.call(Method::GET, HOST, "/api/v1/privacy/consents", None, Some(&s.customer)).await).await;
    assert_eq!(mine["history"].as_array().unwrap().len(), 2);
    assert_eq!(mine["current"].as_array().unwrap().len(), 1);
    assert_eq!(mine["current"][0]["given"], false);
    assert_eq!(mine["current"][0]["territory"], "amsterdam");

    let seen = json_of(
        s.app.call(Method::GET, HOST, "/api/v1/territory/consents?purpose=marketing", None, Some(&s.franchisee)).await,
    )
    .await;
    assert_eq!(seen["consents"].as_array().unwrap().len(), 1);
    assert_eq!(seen["consents"][0]["given"], false);
    let pseudonym = seen["consents"][0]["account_id"].as_str().unwrap().to_owned();
    let elsewhere = json_of(
        s.app
            .call(
                Method::GET,
                "utrecht.localhost",
                "/api/v1/territory/consents?purpose=marketing",
                None,
                Some(&utrecht.franchisee),
            )
            .await,
    )
    .await;
    assert_eq!(elsewhere["consents"], json!([]));
    let by_customer =
        s.app.call(Method::GET, HOST, "/api/v1/territory/consents?purpose=marketing", None, Some(&s.customer)).await;
    assert_eq!(by_customer.status(), 403);
    assert_holds_none("a customer's consent list", &by_customer.text().await.unwrap(), &[&pseudonym, "2026-11"]);
    // Another territory's franchisee on this host is refused.
    let by_stranger = s
        .app
        .call(Method::GET, HOST, "/api/v1/territory/consents?purpose=marketing", None, Some(&utrecht.franchisee))
        .await;
    assert_eq!(by_stranger.status(), 403);
    assert_holds_none(
        "another franchisee's consent list",
        &by_stranger.text().await.unwrap(),
        &[&pseudonym, "2026-11"],
    );

    // HQ's role may only read and add consents...
    let mut conn = s.app.pool.hq().await.unwrap();
    for statement in ["UPDATE hq.consents SET given = true", "DELETE FROM hq.consents", "TRUNCATE hq.consents"] {
        let error = conn.batch_execute(statement).await.expect_err(statement).to_string();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
    // ...and the triggers refuse even the owner, who holds every right (the
    // two rows recorded above give the row triggers something to fire on).
    let mut owner = s.app.db.admin().await;
    owner.batch_execute("SET ROLE careservice_owner").await.unwrap();
    for statement in ["UPDATE hq.consents SET given = true", "DELETE FROM hq.consents", "TRUNCATE hq.consents"] {
        let error = owner.batch_execute(statement).await.expect_err(statement).to_string();
        assert!(error.contains("consents is insert-only"), "{statement} as the owner: {error}");
    }
}

#[tokio::test]
async fn a_territory_export_holds_nothing_of_other_territories_and_hq_reports_no_personal_data() {
    let s = scene().await;
    let utrecht = populate(&s.app, "utrecht").await;
    let own = json_of(book(&s, &s.customer, "b1", &request(&at_ten(&s.clock, 2))).await).await;
    let mut there = request(&at_ten(&s.clock, 2));
    there["address"] = json!("Oudegracht 1");
    let theirs = s.app.post_once("utrecht.localhost", "/api/v1/bookings", "b2", &there, &utrecht.customer).await;
    let theirs = json_of(theirs).await;
    let export = s.app.call(Method::GET, HOST, "/api/v1/territory/export", None, Some(&s.franchisee)).await;
    assert_eq!(export.status(), 200);
    let text = json_of(export).await.to_string();
    assert!(text.contains(own["id"].as_str().unwrap()) && text.contains("Damrak 1"));
    assert!(
        !text.contains(theirs["id"].as_str().unwrap())
            && !text.contains("Oudegracht")
            && !text.contains(&utrecht.pro_id)
    );
    let by_customer = s.app.call(Method::GET, HOST, "/api/v1/territory/export", None, Some(&s.customer)).await;
    assert_eq!(by_customer.status(), 403);
    assert_holds_none(
        "a customer's territory export",
        &by_customer.text().await.unwrap(),
        &[own["id"].as_str().unwrap(), "Damrak 1"],
    );

    // A capture in each territory, drained into hq, so that the commission
    // report of this month (the test clock's) has rows to look into.
    let accepted = s
        .app
        .post(HOST, &format!("/api/v1/bookings/{}/accept", own["id"].as_str().unwrap()), &json!({}), Some(&s.pro))
        .await;
    assert_eq!(accepted.status(), 200);
    let accepted = s
        .app
        .post(
            "utrecht.localhost",
            &format!("/api/v1/bookings/{}/accept", theirs["id"].as_str().unwrap()),
            &json!({}),
            Some(&utrecht.pro),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    run_jobs(&s).await;
    let period = s.clock.now().with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m").to_string();

    let admin = s.app.hq_admin_token("hq@careservice.nl").await;
    for (report, rows) in [
        ("/api/v1/hq/territories".to_owned(), "/items"),
        ("/api/v1/hq/territories/amsterdam".to_owned(), "/contracts"),
        (format!("/api/v1/hq/commissions?period={period}"), "/territories"),
    ] {
        let response = s.app.call(Method::GET, "hq.localhost", &report, None, Some(&admin)).await;
        assert_eq!(response.status(), 200, "{report}");
        let body = json_of(response).await;
        let listed = body.pointer(rows).and_then(Value::as_array).map_or(0, Vec::len);
        assert!(listed > 0, "{report} has no {rows} to look into: {body}");
        let body = body.to_string();
        for personal in ["@", "Damrak", "Oudegracht", "Sanne", "Test person"] {
            assert!(!body.contains(personal), "{report} shows {personal}: {body}");
        }
    }
}

#[tokio::test]
async fn bookings_past_fiscal_retention_lose_their_link_to_the_person() {
    let s = scene().await;
    let old = json_of(book(&s, &s.customer, "r1", &request(&at_ten(&s.clock, 2))).await).await;
    let recent = json_of(book(&s, &s.customer, "r2", &request(&at_ten(&s.clock, 3))).await).await;
    let mut admin = s.app.db.admin().await;
    admin
        .batch_execute(&format!(
            "UPDATE t_amsterdam.bookings SET status = 'completed', starts_at = now() - interval '7 years 2 days',
                    ends_at = now() - interval '7 years 1 day',
                    blocked = tstzrange(now() - interval '7 years 2 days', now() - interval '7 years 1 day')
              WHERE id = '{}'",
            old["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let unlinked = careservice::privacy::retention::run(&s.app.pool, Utc::now()).await.unwrap();
    assert_eq!(unlinked, 1);
    let links: Vec<(uuid::Uuid, String)> = diesel::dsl::sql::<(diesel::sql_types::Uuid, Text)>(
        "SELECT customer_account_id, address FROM t_amsterdam.bookings ORDER BY starts_at",
    )
    .load(&mut admin)
    .await
    .unwrap();
    assert_eq!(links[0], (uuid::Uuid::nil(), String::new()));
    assert_ne!(links[1].0, uuid::Uuid::nil());
    let price: String = diesel::dsl::sql::<Text>(&format!(
        "SELECT price::text FROM t_amsterdam.bookings WHERE id = '{}'",
        old["id"].as_str().unwrap()
    ))
    .get_result(&mut admin)
    .await
    .unwrap();
    assert_eq!(price, "58.00", "the fiscal amount stays");
    assert_ne!(recent["id"], old["id"]);
    // The next run is scheduled for tomorrow.
    let next: i64 = diesel::dsl::sql::<BigInt>(
        "SELECT count(*) FROM hq.jobs WHERE kind = 'privacy.retention' AND run_at > now() + interval '23 hours'",
    )
    .get_result(&mut admin)
    .await
    .unwrap();
    assert_eq!(next, 1);
}
