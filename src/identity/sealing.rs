//! Where invitations and outgoing mail keep a person's address: sealed, with
//! its keyed hash beside it to find it by (as accounts do). A mail's body is
//! sealed too: it carries reset and invitation tokens. Rows written before
//! sealing, and rows sealed with an older key, are (re)sealed by
//! [`seal_stored_rows`], which `careservice migrate`, `serve` and
//! `keys rotate` run.

use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::privacy::keys::{Keyring, Place};
use crate::tenancy::TenancyPool;
use crate::tenancy::connection::PoolSettings;

const PAGE: i64 = 500;

/// Where a column of an outbox mail is sealed.
pub fn mail_place<'a>(column: &'a str, row: &'a str) -> Place<'a> {
    Place { scope: "hq", table: "mail_outbox", column, row }
}

/// Where an invitation's address is sealed.
pub fn invitation_place(row: &str) -> Place<'_> {
    Place { scope: "hq", table: "invitations", column: "email", row }
}

/// The keyed hash an address is found by, whatever its case.
pub fn address_lookup(keys: &Keyring, address: &str) -> String {
    keys.lookup(&address.trim().to_lowercase())
}

#[derive(diesel::QueryableByName)]
struct StoredInvitation {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    email_normalized: String,
}

#[derive(diesel::QueryableByName)]
struct StoredMail {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    to_address: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Text)]
    to_lookup: String,
}

/// [`seal_stored_rows`] on the database at `database_url`, after its hq
/// migrations.
pub async fn seal_stored_rows_at(database_url: &str, keys: &Keyring) -> anyhow::Result<usize> {
    let pool = TenancyPool::new(database_url, &PoolSettings { max_size: 1, ..PoolSettings::default() })?;
    let mut conn = pool.hq().await?;
    seal_stored_rows(&mut conn, keys).await
}

/// Seals what invitations and the outbox hold in clear (rows from before
/// sealing: an invitation with no sealed address still has it in
/// `email_normalized`; a mail with no `to_lookup` has its address and body in
/// clear), and re-seals values sealed with an older key. Each row is
/// rewritten only if it still holds what was read. Returns the rows
/// rewritten.
pub async fn seal_stored_rows(conn: &mut AsyncPgConnection, keys: &Keyring) -> anyhow::Result<usize> {
    Ok(seal_invitations(conn, keys).await? + seal_mail(conn, keys).await?)
}

async fn seal_invitations(conn: &mut AsyncPgConnection, keys: &Keyring) -> anyhow::Result<usize> {
    let mut rewritten = 0;
    let mut after = Uuid::nil();
    loop {
        let page: Vec<StoredInvitation> = diesel::sql_query(
            "SELECT id, email, email_normalized FROM hq.invitations WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind::<SqlUuid, _>(after)
        .bind::<BigInt, _>(PAGE)
        .load(conn)
        .await?;
        let Some(last) = page.last() else { return Ok(rewritten) };
        after = last.id;
        for row in &page {
            let id = row.id.to_string();
            let place = invitation_place(&id);
            let (email, lookup) = if row.email.is_empty() {
                // From before sealing: the lowercased address in clear.
                (keys.seal(&row.email_normalized, &place), address_lookup(keys, &row.email_normalized))
            } else if keys.is_stale(&row.email) {
                (keys.seal(&keys.open(&row.email, &place)?, &place), row.email_normalized.clone())
            } else {
                continue;
            };
            rewritten += diesel::sql_query(
                "UPDATE hq.invitations SET email = $2, email_normalized = $3
                  WHERE id = $1 AND email = $4 AND email_normalized = $5",
            )
            .bind::<SqlUuid, _>(row.id)
            .bind::<Text, _>(&email)
            .bind::<Text, _>(&lookup)
            .bind::<Text, _>(&row.email)
            .bind::<Text, _>(&row.email_normalized)
            .execute(conn)
            .await?;
        }
    }
}

async fn seal_mail(conn: &mut AsyncPgConnection, keys: &Keyring) -> anyhow::Result<usize> {
    let mut rewritten = 0;
    let mut after = Uuid::nil();
    loop {
        let page: Vec<StoredMail> = diesel::sql_query(
            "SELECT id, to_address, body, to_lookup FROM hq.mail_outbox WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind::<SqlUuid, _>(after)
        .bind::<BigInt, _>(PAGE)
        .load(conn)
        .await?;
        let Some(last) = page.last() else { return Ok(rewritten) };
        after = last.id;
        for row in &page {
            let id = row.id.to_string();
            let (to_place, body_place) = (mail_place("to_address", &id), mail_place("body", &id));
            let legacy = row.to_lookup.is_empty();
            if !legacy && !keys.is_stale(&row.to_address) && !keys.is_stale(&row.body) {
                continue;
            }
            // A value from before sealing opens as it is.
            let to = keys.open(&row.to_address, &to_place)?;
            let body = keys.open(&row.body, &body_place)?;
            let lookup = if legacy { address_lookup(keys, &to) } else { row.to_lookup.clone() };
            rewritten += diesel::sql_query(
                "UPDATE hq.mail_outbox SET to_address = $2, body = $3, to_lookup = $4
                  WHERE id = $1 AND to_address = $5 AND body = $6 AND to_lookup = $7",
            )
            .bind::<SqlUuid, _>(row.id)
            .bind::<Text, _>(keys.seal(&to, &to_place))
            .bind::<Text, _>(keys.seal(&body, &body_place))
            .bind::<Text, _>(&lookup)
            .bind::<Text, _>(&row.to_address)
            .bind::<Text, _>(&row.body)
            .bind::<Text, _>(&row.to_lookup)
            .execute(conn)
            .await?;
        }
    }
}
