//! Addresses in invitations and in the mail outbox, as a reader of the
//! database sees them: sealed or hashed, before and after the mail is sent,
//! and invitations from before sealing converted in place.

use std::time::Duration;

use careservice::privacy::Keyring;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, spawn_app};

const HOST: &str = "amsterdam.localhost";
const PASSWORD: &str = "fiets-kaas-molen-regen";

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    row: String,
}

/// Every row of an hq table as text, as a reader of the database sees it.
async fn rows_of(app: &TestApp, table: &str) -> Vec<String> {
    let mut conn = app.db.admin().await;
    diesel::sql_query(format!("SELECT row_to_json(t)::text AS row FROM hq.{table} t"))
        .load::<Row>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.row)
        .collect()
}

async fn unsent_mails(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.admin().await;
    diesel::sql_query("SELECT count(*) AS n FROM hq.mail_outbox WHERE sent_at IS NULL")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

fn assert_no_address(rows: &[String], addresses: &[&str]) {
    for row in rows {
        for address in addresses {
            assert!(!row.to_lowercase().contains(&address.to_lowercase()), "{address} in clear: {row}");
        }
    }
}

#[tokio::test]
async fn invitations_and_mail_keep_no_address_or_token_in_clear_before_or_after_sending() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    let franchisee = app.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    let signed_up = app
        .post(
            HOST,
            "/api/v1/auth/sign-up",
            &json!({ "email": "Klant.Nieuw@Voorbeeld.nl", "password": PASSWORD, "display_name": "Klant" }),
            None,
        )
        .await;
    assert_eq!(signed_up.status(), 202);
    let invited =
        app.post(HOST, "/api/v1/invitations", &json!({ "email": "Pro.Nieuw@Voorbeeld.nl" }), Some(&franchisee)).await;
    assert_eq!(invited.status(), 201);
    let addresses = ["klant.nieuw@voorbeeld.nl", "pro.nieuw@voorbeeld.nl"];
    let token = app.mailed_token("pro.nieuw@voorbeeld.nl").await;

    // Queued: nothing in clear, the invitation found by the keyed hash.
    assert_no_address(&rows_of(&app, "mail_outbox").await, &addresses);
    assert_no_address(&rows_of(&app, "mail_outbox").await, &[&token]);
    let invitations = rows_of(&app, "invitations").await;
    assert_no_address(&invitations, &addresses);
    let hash = Keyring::demo().lookup("pro.nieuw@voorbeeld.nl");
    assert!(invitations[0].contains(&hash), "{invitations:?}");

    // Sent (to the log): still nothing in clear.
    let sent = eventually(Duration::from_secs(5), || async { unsent_mails(&app).await == 0 }).await;
    assert!(sent.is_some(), "the outbox was not delivered");
    assert_no_address(&rows_of(&app, "mail_outbox").await, &addresses);
    assert_no_address(&rows_of(&app, "mail_outbox").await, &[&token]);

    // The invitation still makes the invited account.
    let accept = json!({ "token": token, "display_name": "Pieter", "password": PASSWORD });
    let accepted = app.post(HOST, "/api/v1/auth/invitations/accept", &accept, None).await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.json::<Value>().await.unwrap()["role"], "pro");
    app.sign_in(HOST, "pro.nieuw@voorbeeld.nl", PASSWORD).await;
}

#[tokio::test]
async fn invitations_and_mail_from_before_sealing_are_converted_and_still_work() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    let token = "legacy-invitation-token-0123456789abcdefghij";
    let mut conn = app.db.admin().await;
    diesel::sql_query(
        "INSERT INTO hq.invitations (token_hash, email_normalized, territory_id, role, expires_at)
         VALUES ($1, 'oud@voorbeeld.nl', $2, 'pro', now() + interval '1 day')",
    )
    .bind::<diesel::sql_types::Bytea, _>(careservice::identity::token::hash_secret(token))
    .bind::<diesel::sql_types::BigInt, _>(amsterdam.id)
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO hq.mail_outbox (to_address, subject, body, sent_at)
         VALUES ('Oud@Voorbeeld.nl', 'Your CareService invitation', 'Accept with this token', now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let sealed = careservice::identity::sealing::seal_stored_rows_at(&app.db.url, &Keyring::demo()).await.unwrap();
    assert_eq!(sealed, 2);
    assert_no_address(&rows_of(&app, "invitations").await, &["oud@voorbeeld.nl"]);
    assert_no_address(&rows_of(&app, "mail_outbox").await, &["oud@voorbeeld.nl", "Accept with this token"]);
    // A second run has nothing left to do.
    assert_eq!(careservice::identity::sealing::seal_stored_rows_at(&app.db.url, &Keyring::demo()).await.unwrap(), 0);

    let accept = json!({ "token": token, "display_name": "Oud", "password": PASSWORD });
    let accepted = app.post(HOST, "/api/v1/auth/invitations/accept", &accept, None).await;
    assert_eq!(accepted.status(), 200);
    app.sign_in(HOST, "oud@voorbeeld.nl", PASSWORD).await;
}
