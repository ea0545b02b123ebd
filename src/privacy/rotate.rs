//! `careservice keys rotate`: re-encrypts every sealed value with the newest
//! key, a page at a time, with the service running. Each row is rewritten
//! only if it still holds what was read, so a value the service changed
//! meanwhile is left to it (it is already sealed with the newest key).

use diesel::sql_types::{Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::keys::{KeyError, Keyring, Place};
use crate::tenancy::{TenancyPool, Territory};

const PAGE: i64 = 500;

#[derive(diesel::QueryableByName)]
struct Sealed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    address: String,
    #[diesel(sql_type = Text)]
    notes: String,
}

#[derive(diesel::QueryableByName)]
struct Answer {
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Jsonb)]
    response_body: serde_json::Value,
}

/// Re-seals `stored` with the newest key when it is stale.
fn reseal(keys: &Keyring, stored: &str, place: &Place<'_>) -> Result<Option<String>, KeyError> {
    if !keys.is_stale(stored) {
        return Ok(None);
    }
    Ok(Some(keys.seal(&keys.open(stored, place)?, place)))
}

/// Re-seals one territory's values; returns how many were rewritten.
pub async fn rotate_territory(pool: &TenancyPool, territory: &Territory, keys: &Keyring) -> anyhow::Result<usize> {
    let scope = territory.sealing_scope();
    let mut conn = pool.territory(territory).await?;
    let mut rewritten = rotate_bookings(&mut conn, keys, &scope).await?;
    rewritten += rotate_answers(&mut conn, keys, &scope).await?;
    Ok(rewritten)
}

async fn rotate_bookings(conn: &mut AsyncPgConnection, keys: &Keyring, scope: &str) -> anyhow::Result<usize> {
    let mut rewritten = 0;
    let mut after = Uuid::nil();
    loop {
        let page: Vec<Sealed> =
            diesel::sql_query("SELECT id, address, notes FROM bookings WHERE id > $1 ORDER BY id LIMIT $2")
                .bind::<SqlUuid, _>(after)
                .bind::<diesel::sql_types::BigInt, _>(PAGE)
                .load(conn)
                .await?;
        let Some(last) = page.last() else { return Ok(rewritten) };
        after = last.id;
        for row in &page {
            let id = row.id.to_string();
            let place = |column| Place { scope, table: "bookings", column, row: &id };
            let address = reseal(keys, &row.address, &place("address"))?;
            let notes = reseal(keys, &row.notes, &place("notes"))?;
            if address.is_none() && notes.is_none() {
                continue;
            }
            rewritten += diesel::sql_query(
                "UPDATE bookings SET address = $2, notes = $3 WHERE id = $1 AND address = $4 AND notes = $5",
            )
            .bind::<SqlUuid, _>(row.id)
            .bind::<Text, _>(address.as_deref().unwrap_or(&row.address))
            .bind::<Text, _>(notes.as_deref().unwrap_or(&row.notes))
            .bind::<Text, _>(&row.address)
            .bind::<Text, _>(&row.notes)
            .execute(conn)
            .await?;
        }
    }
}

async fn rotate_answers(conn: &mut AsyncPgConnection, keys: &Keyring, scope: &str) -> anyhow::Result<usize> {
    let answers: Vec<Answer> = diesel::sql_query(
        "SELECT account_id, key, response_body FROM idempotency_keys WHERE state = 'done' AND response_body IS NOT NULL",
    )
    .load(conn)
    .await?;
    let mut rewritten = 0;
    for answer in answers {
        let Some(stored) = answer.response_body.as_str() else { continue };
        let row = format!("{}/{}", answer.account_id, answer.key);
        let place = Place { scope, table: "idempotency_keys", column: "response_body", row: &row };
        let Some(fresh) = reseal(keys, stored, &place)? else { continue };
        rewritten += diesel::sql_query(
            "UPDATE idempotency_keys SET response_body = $3 WHERE account_id = $1 AND key = $2 AND response_body = $4",
        )
        .bind::<SqlUuid, _>(answer.account_id)
        .bind::<Text, _>(&answer.key)
        .bind::<Jsonb, _>(serde_json::Value::String(fresh))
        .bind::<Jsonb, _>(&answer.response_body)
        .execute(conn)
        .await?;
    }
    Ok(rewritten)
}

#[derive(diesel::QueryableByName)]
struct SealedAccount {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Text)]
    totp_secret: String,
}

/// Re-seals accounts' addresses, names and TOTP secrets (hq); returns how
/// many rows were rewritten.
pub async fn rotate_accounts(pool: &TenancyPool, keys: &Keyring) -> anyhow::Result<usize> {
    let mut conn = pool.hq().await?;
    let mut rewritten = 0;
    let mut after = Uuid::nil();
    loop {
        let page: Vec<SealedAccount> = diesel::sql_query(
            "SELECT id, email, display_name, coalesce(totp_secret, '') AS totp_secret FROM hq.accounts
              WHERE id > $1 AND status <> 'erased' ORDER BY id LIMIT $2",
        )
        .bind::<SqlUuid, _>(after)
        .bind::<diesel::sql_types::BigInt, _>(PAGE)
        .load(&mut *conn)
        .await?;
        let Some(last) = page.last() else { return Ok(rewritten) };
        after = last.id;
        for row in &page {
            let id = row.id.to_string();
            let place = |column| Place { scope: "hq", table: "accounts", column, row: &id };
            let email = reseal(keys, &row.email, &place("email"))?;
            let name = reseal(keys, &row.display_name, &place("display_name"))?;
            let totp = reseal(keys, &row.totp_secret, &place("totp_secret"))?;
            if email.is_none() && name.is_none() && totp.is_none() {
                continue;
            }
            rewritten += diesel::sql_query(
                "UPDATE hq.accounts SET email = $2, display_name = $3, totp_secret = NULLIF($6, '')
                  WHERE id = $1 AND email = $4 AND display_name = $5 AND coalesce(totp_secret, '') = $7",
            )
            .bind::<SqlUuid, _>(row.id)
            .bind::<Text, _>(email.as_deref().unwrap_or(&row.email))
            .bind::<Text, _>(name.as_deref().unwrap_or(&row.display_name))
            .bind::<Text, _>(&row.email)
            .bind::<Text, _>(&row.display_name)
            .bind::<Text, _>(totp.as_deref().unwrap_or(&row.totp_secret))
            .bind::<Text, _>(&row.totp_secret)
            .execute(&mut *conn)
            .await?;
        }
    }
}

/// Whether any value of the territory is still sealed with an older key (or
/// not sealed at all).
pub async fn stale_values(pool: &TenancyPool, territory: &Territory, keys: &Keyring) -> anyhow::Result<usize> {
    let mut conn = pool.territory(territory).await?;
    let rows: Vec<Sealed> = diesel::sql_query("SELECT id, address, notes FROM bookings").load(&mut *conn).await?;
    Ok(rows.iter().map(|row| usize::from(keys.is_stale(&row.address)) + usize::from(keys.is_stale(&row.notes))).sum())
}
