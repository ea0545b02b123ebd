//! The password-reset mail, as a job. A reset request only queues this job,
//! whether or not the address has an account, so the request does the same
//! work either way and its timing tells nothing; the job finds the account,
//! makes its token and queues the mail.

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use scoped_futures::ScopedFutureExt;
use serde_json::json;

use super::store::{self, TokenPurpose};
use super::token::SecretToken;
use crate::privacy::Keyring;
use crate::tenancy::TenancyPool;

/// The job's kind in `hq.jobs`.
pub const JOB_KIND: &str = "identity.password_reset_mail";

/// How long a password-reset token works.
pub const RESET_LIFETIME: Duration = Duration::minutes(30);

/// Queues the reset mail for the address with keyed hash `lookup` (the
/// address itself is not written down).
pub async fn enqueue(conn: &mut AsyncPgConnection, lookup: &str, now: DateTime<Utc>) -> diesel::QueryResult<()> {
    crate::jobs::enqueue(conn, JOB_KIND, None, json!({ "address": lookup }), now).await
}

/// Runs the job: a token and its mail if an account has the address, nothing
/// otherwise.
pub async fn run(pool: &TenancyPool, keys: &Keyring, payload: &serde_json::Value) -> anyhow::Result<()> {
    let lookup = payload
        .get("address")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("a reset job without an address"))?
        .to_owned();
    let keys = keys.clone();
    let mut conn = pool.hq().await?;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        async move {
            let Some(account) = store::account_by_lookup(conn, &keys, &lookup).await? else { return Ok(()) };
            let token = SecretToken::generate();
            store::create_one_time_token(conn, &token.hash, account.id, TokenPurpose::PasswordReset, RESET_LIFETIME)
                .await?;
            let body = format!(
                "Reset your CareService password with this token:\n\n{}\n\nIt works once, for 30 minutes.",
                token.secret
            );
            store::enqueue_mail(conn, &keys, &account.email, "Reset your password", &body).await
        }
        .scope_boxed()
    })
    .await?;
    Ok(())
}
