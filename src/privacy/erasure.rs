//! The right to erasure. Personal data goes, in every territory where the
//! account is a member and in hq; what the law requires to keep (bookings'
//! fiscal fields, payments, the ledger, 7 years) stays under the pseudonym,
//! the account id. Sessions are revoked; the audit records name only the
//! pseudonym. Runs as a job, and may run again: every step is idempotent.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;
use serde_json::json;
use uuid::Uuid;

use super::export::member_territories;
use super::keys::Keyring;
use crate::tenancy::{TenancyPool, Territory};

/// Schedules the erasure of `account` and revokes its sessions at once, in
/// the caller's transaction.
pub async fn request(conn: &mut AsyncPgConnection, account: Uuid, now: DateTime<Utc>) -> diesel::QueryResult<()> {
    crate::identity::store::revoke_all_sessions(conn, account).await?;
    crate::jobs::enqueue(conn, "privacy.erase", None, json!({ "account": account }), now).await
}

/// Erases `account` everywhere.
pub async fn erase(pool: &TenancyPool, keys: &Keyring, account: Uuid, now: DateTime<Utc>) -> anyhow::Result<()> {
    let territories = {
        let mut conn = pool.hq().await?;
        member_territories(&mut conn, account).await?
    };
    for territory in &territories {
        erase_in_territory(pool, territory, account, now).await?;
    }
    let mut conn = pool.hq().await?;
    erase_in_hq(&mut conn, keys, account, now).await?;
    tracing::info!(account.pseudonym = %account, territories = territories.len(), "personal data erased");
    Ok(())
}

async fn erase_in_territory(
    pool: &TenancyPool,
    territory: &Territory,
    account: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut conn = pool.territory(territory).await?;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        async move {
            let scrubbed = diesel::sql_query(
                "UPDATE bookings SET address = '', notes = '', postcode = '', updated_at = $2
                  WHERE customer_account_id = $1 AND (address <> '' OR notes <> '' OR postcode <> '')",
            )
            .bind::<SqlUuid, _>(account)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
            diesel::sql_query("DELETE FROM idempotency_keys WHERE account_id = $1")
                .bind::<SqlUuid, _>(account)
                .execute(conn)
                .await?;
            for table in ["pro_offerings", "availability_rules", "availability_exceptions"] {
                diesel::sql_query(format!(
                    "DELETE FROM {table} WHERE pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
                ))
                .bind::<SqlUuid, _>(account)
                .execute(conn)
                .await?;
            }
            diesel::sql_query(
                "UPDATE pros SET display_name = 'Erased', bio = '', languages = '{}', postcodes = '{}',
                        pending_display_name = NULL, pending_bio = NULL, pending_since = NULL,
                        status = 'offboarded', updated_at = $2
                  WHERE account_id = $1 AND (display_name <> 'Erased' OR pending_since IS NOT NULL)",
            )
            .bind::<SqlUuid, _>(account)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
            let payload = json!({ "pseudonym": account, "bookings_scrubbed": scrubbed });
            crate::audit::append(conn, "privacy.erased", "system", &payload, now).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    Ok(())
}

async fn erase_in_hq(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    account: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let pseudonym_email = format!("erased-{account}@erased.invalid");
    // Invitations and mail are found by the address's keyed hash.
    let email = match crate::identity::store::account(conn, keys, account).await {
        Ok(found) if found.status != "erased" => found.email.to_lowercase(),
        Ok(_) | Err(diesel::result::Error::NotFound) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        async move {
            let email_lookup = crate::identity::sealing::address_lookup(keys, &email);
            for statement in [
                "DELETE FROM hq.sessions WHERE account_id = $1",
                "DELETE FROM hq.one_time_tokens WHERE account_id = $1",
                "DELETE FROM hq.mfa_backup_codes WHERE account_id = $1",
                "DELETE FROM hq.memberships WHERE account_id = $1",
                "DELETE FROM hq.privacy_exports WHERE account_id = $1",
            ] {
                diesel::sql_query(statement).bind::<SqlUuid, _>(account).execute(conn).await?;
            }
            for statement in [
                "DELETE FROM hq.invitations WHERE email_normalized = $1",
                "DELETE FROM hq.mail_outbox WHERE to_lookup = $1",
            ] {
                diesel::sql_query(statement).bind::<Text, _>(&email_lookup).execute(conn).await?;
            }
            let erased = diesel::sql_query(
                "UPDATE hq.accounts SET email = $2, email_normalized = $2, display_name = 'Erased',
                        password_hash = '!erased', totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
                        status = 'erased', erased_at = $3, updated_at = $3
                  WHERE id = $1 AND status <> 'erased'",
            )
            .bind::<SqlUuid, _>(account)
            .bind::<Text, _>(&pseudonym_email)
            .bind::<Timestamptz, _>(now)
            .execute(conn)
            .await?;
            // A concurrent erasure that got here first has recorded it.
            if erased == 1 {
                crate::audit::append_hq(conn, "privacy.erased", "system", &json!({ "pseudonym": account }), now)
                    .await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    Ok(())
}
