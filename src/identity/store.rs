//! Queries on accounts, memberships, sessions and one-time tokens (all in hq).

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;
use serde_json::json;
use uuid::Uuid;

use super::model::{Account, SessionPolicy, SessionRow};
use super::role::{Membership, Role};
use super::sealing::{address_lookup, mail_place};
use crate::privacy::keys::{Keyring, Place};
use crate::schema::{accounts, mail_outbox, memberships, one_time_tokens, sessions, territories};

fn sealed_at<'a>(column: &'a str, row: &'a str) -> Place<'a> {
    Place { scope: "hq", table: "accounts", column, row }
}

/// An account as stored, with its email address, name and TOTP secret
/// opened. An address or name that does not open (moved, or its key is gone)
/// reads as empty, and is logged: the account still works by id, and its
/// owner can set them again. A TOTP secret that does not open reads as none:
/// MFA cannot pass with it, so the account has to enrol again.
pub fn opened(keys: &Keyring, mut account: Account) -> Account {
    let row = account.id.to_string();
    if let Some(sealed) = account.totp_secret.take() {
        match keys.open(&sealed, &sealed_at("totp_secret", &row)) {
            Ok(secret) => account.totp_secret = Some(secret),
            Err(error) => tracing::error!(account.id = %account.id, %error, "a sealed TOTP secret does not open"),
        }
    }
    for (column, value) in [("email", &mut account.email), ("display_name", &mut account.display_name)] {
        match keys.open(value, &sealed_at(column, &row)) {
            Ok(plain) => *value = plain,
            Err(error) => {
                tracing::error!(account.id = %account.id, column, %error, "a sealed account field does not open");
                value.clear();
            }
        }
    }
    account
}

/// The account with this (lowercased) email, found by its keyed hash.
pub async fn account_by_email(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    normalized: &str,
) -> QueryResult<Option<Account>> {
    account_by_lookup(conn, keys, &keys.lookup(normalized)).await
}

/// The account whose address has this keyed hash.
pub async fn account_by_lookup(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    lookup: &str,
) -> QueryResult<Option<Account>> {
    let found = accounts::table
        .filter(accounts::email_normalized.eq(lookup))
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|account| opened(keys, account)))
}

/// The account with this id.
pub async fn account(conn: &mut AsyncPgConnection, keys: &Keyring, id: Uuid) -> QueryResult<Account> {
    let account = accounts::table.find(id).select(Account::as_select()).first(conn).await?;
    Ok(opened(keys, account))
}

/// Creates an account, its address and name sealed and the address's keyed
/// hash beside them; None when the email is taken.
pub async fn insert_account(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    email: &str,
    normalized: &str,
    password_hash: &str,
    display_name: &str,
) -> QueryResult<Option<Account>> {
    let id = Uuid::new_v4();
    let row = id.to_string();
    let inserted = diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(id),
            accounts::email.eq(keys.seal(email, &sealed_at("email", &row))),
            accounts::email_normalized.eq(keys.lookup(normalized)),
            accounts::password_hash.eq(password_hash),
            accounts::display_name.eq(keys.seal(display_name, &sealed_at("display_name", &row))),
        ))
        .on_conflict(accounts::email_normalized)
        .do_nothing()
        .returning(Account::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    Ok(inserted.map(|account| opened(keys, account)))
}

/// Every membership of an account, with territory slugs.
pub async fn memberships(conn: &mut AsyncPgConnection, account_id: Uuid) -> QueryResult<Vec<Membership>> {
    let rows: Vec<(String, Option<i64>, Option<String>)> = memberships::table
        .left_join(territories::table)
        .filter(memberships::account_id.eq(account_id))
        .order((memberships::territory_id.asc(), memberships::role.asc()))
        .select((memberships::role, memberships::territory_id, territories::slug.nullable()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, territory_id, territory)| {
            Role::from_stored(&role).map(|role| Membership { role, territory, territory_id })
        })
        .collect())
}

/// Grants `role` (in `territory_id`, or HQ-wide), recorded in HQ's audit
/// chain; a no-op if already granted.
pub async fn add_membership(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    territory_id: Option<i64>,
    role: Role,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        async move {
            let granted = diesel::insert_into(memberships::table)
                .values((
                    memberships::account_id.eq(account_id),
                    memberships::territory_id.eq(territory_id),
                    memberships::role.eq(role.as_str()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if granted == 1 {
                let payload = json!({ "account": account_id, "role": role.as_str(), "territory_id": territory_id });
                crate::audit::append_hq(conn, "account.role_granted", "system", &payload, Utc::now()).await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await
}

/// Opens a session and returns its id.
pub async fn create_session(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    account_id: Uuid,
    policy: SessionPolicy,
    user_agent: Option<&str>,
    ip_address: Option<&str>,
) -> QueryResult<Uuid> {
    let now = Utc::now();
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash),
            sessions::account_id.eq(account_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::idle_timeout_seconds.eq(i32::try_from(policy.idle.num_seconds()).unwrap_or(i32::MAX)),
            sessions::absolute_expires_at.eq(now + policy.absolute),
            sessions::user_agent.eq(user_agent.map(|ua| ua.chars().take(300).collect::<String>())),
            sessions::ip_address.eq(ip_address),
        ))
        .returning(sessions::id)
        .get_result(conn)
        .await
}

/// The session with this token hash and its account.
pub async fn session_by_token(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    token_hash: &[u8],
) -> QueryResult<Option<(SessionRow, Account)>> {
    let found: Option<(SessionRow, Account)> = sessions::table
        .inner_join(accounts::table)
        .filter(sessions::token_hash.eq(token_hash))
        .select((SessionRow::as_select(), Account::as_select()))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(session, account)| (session, opened(keys, account))))
}

/// Marks the session used now (sliding its idle timeout).
pub async fn touch_session(conn: &mut AsyncPgConnection, session_id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id)).set(sessions::last_seen_at.eq(now)).execute(conn).await.map(|_| ())
}

/// Records that the session passed MFA.
pub async fn mark_session_mfa_verified(conn: &mut AsyncPgConnection, session_id: Uuid) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::mfa_verified_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(|_| ())
}

/// An account's live sessions, newest first.
pub async fn live_sessions(conn: &mut AsyncPgConnection, account_id: Uuid) -> QueryResult<Vec<SessionRow>> {
    let now = Utc::now();
    let rows: Vec<SessionRow> = sessions::table
        .filter(sessions::account_id.eq(account_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::absolute_expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter(|session| session.is_live(now)).collect())
}

/// Revokes one session of an account; false when it has none by that id.
pub async fn revoke_session(conn: &mut AsyncPgConnection, account_id: Uuid, session_id: Uuid) -> QueryResult<bool> {
    let revoked = diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(revoked == 1)
}

/// Revokes every session of an account.
pub async fn revoke_all_sessions(conn: &mut AsyncPgConnection, account_id: Uuid) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::account_id.eq(account_id)).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await
}

/// Stores a password's new hash (its parameters changed) after it was
/// verified at sign-in.
pub async fn store_rehashed_password(conn: &mut AsyncPgConnection, account_id: Uuid, hash: &str) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set(accounts::password_hash.eq(hash))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Replaces the password, revokes every session and ends every reset token
/// still outstanding: a link mailed before the change must not undo it.
pub async fn set_password(conn: &mut AsyncPgConnection, account_id: Uuid, hash: &str) -> QueryResult<()> {
    let now = Utc::now();
    diesel::update(accounts::table.find(account_id))
        .set((accounts::password_hash.eq(hash), accounts::updated_at.eq(now)))
        .execute(conn)
        .await?;
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::account_id.eq(account_id))
            .filter(one_time_tokens::purpose.eq(TokenPurpose::PasswordReset.as_str()))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(now))
    .execute(conn)
    .await?;
    revoke_all_sessions(conn, account_id).await.map(|_| ())
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
    VerifyEmail,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
        }
    }
}

/// Stores a one-time token valid for `lifetime`.
pub async fn create_one_time_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    account_id: Uuid,
    purpose: TokenPurpose,
    lifetime: Duration,
) -> QueryResult<()> {
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::token_hash.eq(token_hash),
            one_time_tokens::account_id.eq(account_id),
            one_time_tokens::purpose.eq(purpose.as_str()),
            one_time_tokens::expires_at.eq(Utc::now() + lifetime),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Uses a one-time token: the account it was for, once, before it expires.
pub async fn consume_one_time_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    purpose: TokenPurpose,
) -> QueryResult<Option<Uuid>> {
    let now = Utc::now();
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(token_hash))
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now)),
    )
    .set(one_time_tokens::used_at.eq(now))
    .returning(one_time_tokens::account_id)
    .get_result(conn)
    .await
    .optional()
}

/// Marks the account's email verified.
pub async fn mark_email_verified(conn: &mut AsyncPgConnection, account_id: Uuid) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id).filter(accounts::email_verified_at.is_null()))
        .set(accounts::email_verified_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Queues a mail for delivery, its address and body sealed (the body carries
/// tokens) and the address's keyed hash beside them.
pub async fn enqueue_mail(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    to: &str,
    subject: &str,
    body: &str,
) -> QueryResult<()> {
    let id = Uuid::new_v4();
    let row = id.to_string();
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(id),
            mail_outbox::to_address.eq(keys.seal(to, &mail_place("to_address", &row))),
            mail_outbox::to_lookup.eq(address_lookup(keys, to)),
            mail_outbox::subject.eq(subject),
            mail_outbox::body.eq(keys.seal(body, &mail_place("body", &row))),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Stores a TOTP secret awaiting confirmation (replacing an unconfirmed
/// one), sealed: whoever reads the database cannot compute the codes.
pub async fn set_pending_totp(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    account_id: Uuid,
    secret: &str,
) -> QueryResult<()> {
    let sealed = keys.seal(secret, &sealed_at("totp_secret", &account_id.to_string()));
    diesel::update(accounts::table.find(account_id).filter(accounts::totp_enabled_at.is_null()))
        .set((accounts::totp_secret.eq(sealed), accounts::totp_last_step.eq(None::<i64>)))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Accepts a TOTP step for the account if it is later than the last one
/// accepted; false for a replay.
pub async fn accept_totp_step(conn: &mut AsyncPgConnection, account_id: Uuid, step: i64) -> QueryResult<bool> {
    let updated = diesel::update(
        accounts::table
            .find(account_id)
            .filter(accounts::totp_last_step.is_null().or(accounts::totp_last_step.lt(step))),
    )
    .set(accounts::totp_last_step.eq(step))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Turns MFA on and stores the backup codes' hashes.
pub async fn enable_totp(
    conn: &mut AsyncPgConnection,
    account_id: Uuid,
    backup_code_hashes: &[Vec<u8>],
) -> QueryResult<()> {
    use crate::schema::mfa_backup_codes;
    diesel::update(accounts::table.find(account_id))
        .set(accounts::totp_enabled_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    diesel::delete(mfa_backup_codes::table.filter(mfa_backup_codes::account_id.eq(account_id))).execute(conn).await?;
    let rows: Vec<_> = backup_code_hashes
        .iter()
        .map(|hash| (mfa_backup_codes::account_id.eq(account_id), mfa_backup_codes::code_hash.eq(hash)))
        .collect();
    diesel::insert_into(mfa_backup_codes::table).values(rows).execute(conn).await.map(|_| ())
}

/// Uses a backup code once; false if unknown or used.
pub async fn use_backup_code(conn: &mut AsyncPgConnection, account_id: Uuid, code_hash: &[u8]) -> QueryResult<bool> {
    use crate::schema::mfa_backup_codes;
    let used = diesel::update(
        mfa_backup_codes::table
            .filter(mfa_backup_codes::account_id.eq(account_id))
            .filter(mfa_backup_codes::code_hash.eq(code_hash))
            .filter(mfa_backup_codes::used_at.is_null()),
    )
    .set(mfa_backup_codes::used_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(used == 1)
}

/// Disables or re-enables an account; disabling revokes every session.
pub async fn set_account_active(conn: &mut AsyncPgConnection, account_id: Uuid, active: bool) -> QueryResult<bool> {
    let status = if active { "active" } else { "disabled" };
    conn.transaction(|conn| {
        async move {
            let changed = diesel::update(accounts::table.find(account_id))
                .set((accounts::status.eq(status), accounts::updated_at.eq(Utc::now())))
                .execute(conn)
                .await?;
            if !active {
                revoke_all_sessions(conn, account_id).await?;
            }
            if changed == 1 {
                let payload = json!({ "account": account_id, "status": status });
                crate::audit::append_hq(conn, "account.status_changed", "hq_admin", &payload, Utc::now()).await?;
            }
            Ok(changed == 1)
        }
        .scope_boxed()
    })
    .await
}

/// Removes MFA from an account (its TOTP secret and backup codes).
pub async fn clear_mfa(conn: &mut AsyncPgConnection, account_id: Uuid) -> QueryResult<()> {
    use crate::schema::mfa_backup_codes;
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::totp_secret.eq(None::<String>),
            accounts::totp_enabled_at.eq(None::<DateTime<Utc>>),
            accounts::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)
        .await?;
    diesel::delete(mfa_backup_codes::table.filter(mfa_backup_codes::account_id.eq(account_id)))
        .execute(conn)
        .await
        .map(|_| ())
}
