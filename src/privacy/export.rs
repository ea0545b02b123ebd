//! The right of access: a versioned JSON bundle of everything held about an
//! account, in hq and in every territory where it has a membership, built by
//! a job, sealed at rest, and downloadable with a token until it expires.

use chrono::{DateTime, Duration, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use super::keys::{Keyring, Place};
use super::registry::{PERSONAL_DATA, Scope};
use crate::identity::token::hash_secret;
use crate::tenancy::{TenancyPool, Territory, store};

/// How long a download link works after it was asked for.
pub const LINK_LIFETIME: Duration = Duration::hours(48);

/// The bundle's format version.
pub const FORMAT_VERSION: u32 = 1;

/// What each hq table holds about account `$1` (whose address has the keyed
/// hash `$2`).
fn hq_query(table: &str) -> Option<&'static str> {
    Some(match table {
        "accounts" => {
            "SELECT id, email, display_name, email_verified_at, status, created_at, updated_at,
                    totp_enabled_at IS NOT NULL AS mfa_enabled, erased_at FROM hq.accounts WHERE id = $1"
        }
        "memberships" => {
            "SELECT m.role, t.slug AS territory, m.created_at FROM hq.memberships m
               LEFT JOIN hq.territories t ON t.id = m.territory_id WHERE m.account_id = $1"
        }
        "sessions" => {
            "SELECT id, created_at, last_seen_at, absolute_expires_at, mfa_verified_at, revoked_at, user_agent,
                    ip_address FROM hq.sessions WHERE account_id = $1"
        }
        "one_time_tokens" => {
            "SELECT purpose, created_at, expires_at, used_at FROM hq.one_time_tokens WHERE account_id = $1"
        }
        "invitations" => {
            "SELECT i.id, i.role, t.slug AS territory, i.email, i.created_at, i.accepted_at,
                    i.invited_by = $1 AS sent_by_you
               FROM hq.invitations i JOIN hq.territories t ON t.id = i.territory_id
              WHERE i.email_normalized = $2 OR i.invited_by = $1 OR i.accepted_by = $1"
        }
        "mfa_backup_codes" => "SELECT used_at FROM hq.mfa_backup_codes WHERE account_id = $1",
        "mail_outbox" => "SELECT id, to_address, subject, created_at, sent_at FROM hq.mail_outbox WHERE to_lookup = $2",
        "consents" => {
            "SELECT c.purpose, t.slug AS territory, c.text_version, c.given, c.at FROM hq.consents c
               LEFT JOIN hq.territories t ON t.id = c.territory_id WHERE c.account_id = $1"
        }
        "privacy_exports" => {
            "SELECT id, status, requested_at, ready_at, expires_at FROM hq.privacy_exports WHERE account_id = $1"
        }
        "catalog_changes" => {
            "SELECT changed_at, entity, entity_code, action FROM hq.catalog_changes WHERE account_id = $1"
        }
        "audit_log" => {
            "SELECT seq, at, kind, actor, payload FROM hq.audit_log
              WHERE strpos(payload, $1::text) > 0 OR strpos(actor, $1::text) > 0"
        }
        _ => return None,
    })
}

/// What each territory table holds about account `$1`.
fn territory_query(table: &str) -> Option<&'static str> {
    Some(match table {
        "bookings" => {
            "SELECT id, service_code, starts_at, ends_at, status, price, vat_rate, postcode, address, notes,
                    cancellation_fee, created_at FROM bookings WHERE customer_account_id = $1"
        }
        "booking_events" => {
            "SELECT booking_id, from_status, to_status, actor, at FROM booking_events
              WHERE actor_account_id = $1 OR booking_id IN (SELECT id FROM bookings WHERE customer_account_id = $1)"
        }
        "idempotency_keys" => "SELECT key, state, created_at FROM idempotency_keys WHERE account_id = $1",
        "pros" => {
            "SELECT id, display_name, bio, languages, postcodes, status, created_at, pending_display_name, pending_bio,
                    pending_since FROM pros WHERE account_id = $1"
        }
        "pro_offerings" => {
            "SELECT service_code, price FROM pro_offerings WHERE pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        "availability_rules" => {
            "SELECT weekday, starts, ends FROM availability_rules
              WHERE pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        "availability_exceptions" => {
            "SELECT day, kind, starts, ends FROM availability_exceptions
              WHERE pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        "payments" => {
            "SELECT id, booking_id, status, amount, refunded, created_at FROM payments
              WHERE booking_id IN (SELECT id FROM bookings WHERE customer_account_id = $1)
                 OR pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        "refunds" => {
            "SELECT r.payment_id, r.amount, r.reason, r.created_at FROM refunds r JOIN payments p ON p.id = r.payment_id
              WHERE r.requested_by = $1
                 OR p.booking_id IN (SELECT id FROM bookings WHERE customer_account_id = $1)
                 OR p.pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        "payouts" => "SELECT id, total, status, created_at, paid_at FROM payouts WHERE created_by = $1",
        "payout_items" => {
            "SELECT payout_id, payment_id, amount FROM payout_items
              WHERE pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        "ledger_accounts" => {
            "SELECT a.code, coalesce((SELECT sum(e.amount) FROM ledger_entries e WHERE e.account_id = a.id), 0)
                    AS balance
               FROM ledger_accounts a WHERE a.pro_id IN (SELECT id FROM pros WHERE account_id = $1)"
        }
        // External ids name the franchisee of a goodwill refund and the pro of a payout.
        "ledger_transactions" => {
            "SELECT t.external_id, t.kind, t.effective_on FROM ledger_transactions t
              WHERE strpos(t.external_id, $1::text) > 0
                 OR EXISTS (SELECT 1 FROM pros p WHERE p.account_id = $1 AND strpos(t.external_id, p.id::text) > 0)"
        }
        "service_overrides" => "SELECT service_code, updated_at FROM service_overrides WHERE updated_by = $1",
        "audit_log" => {
            "SELECT seq, at, kind, actor, payload FROM audit_log
              WHERE strpos(payload, $1::text) > 0 OR strpos(actor, $1::text) > 0"
        }
        _ => return None,
    })
}

#[derive(diesel::QueryableByName)]
struct Rows {
    #[diesel(sql_type = Jsonb)]
    rows: Value,
}

async fn rows(conn: &mut AsyncPgConnection, query: &str, account: Uuid, email: &str) -> diesel::QueryResult<Value> {
    // Unused parameters are fine to PostgreSQL only if typed; every query
    // takes $1 (the account) and may take $2 (the normalised address).
    let sql = format!("SELECT coalesce(jsonb_agg(r), '[]'::jsonb) AS rows FROM ({query}) r WHERE $2::text IS NOT NULL");
    let result: Rows =
        diesel::sql_query(sql).bind::<SqlUuid, _>(account).bind::<Text, _>(email).get_result(conn).await?;
    Ok(result.rows)
}

/// Everything held about `account`: hq's tables and, for each territory
/// where it has (or had, as a booking's customer) a membership, that
/// territory's. Sealed fields are opened.
pub async fn bundle(pool: &TenancyPool, keys: &Keyring, account: Uuid, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let (hq_tables, territories) = {
        let mut conn = pool.hq().await?;
        let person = crate::identity::store::account(&mut conn, keys, account).await?;
        let lookup = crate::identity::sealing::address_lookup(keys, &person.email);
        let mut tables = serde_json::Map::new();
        for holding in PERSONAL_DATA.iter().filter(|holding| holding.scope == Scope::Hq) {
            let query = hq_query(holding.table).ok_or_else(|| anyhow::anyhow!("no export of hq.{}", holding.table))?;
            tables.insert(holding.table.to_owned(), rows(&mut conn, query, account, &lookup).await?);
        }
        open_sealed(keys, &mut tables, "invitations", "email", crate::identity::sealing::invitation_place);
        open_sealed(keys, &mut tables, "mail_outbox", "to_address", |row| {
            crate::identity::sealing::mail_place("to_address", row)
        });
        // The account's sealed fields, opened.
        if let Some(row) = tables.get_mut("accounts").and_then(|rows| rows.get_mut(0)) {
            row["email"] = json!(person.email);
            row["display_name"] = json!(person.display_name);
        }
        (tables, member_territories(&mut conn, account).await?)
    };
    let mut sections = Vec::new();
    for territory in &territories {
        sections.push(territory_section(pool, keys, territory, account).await?);
    }
    Ok(json!({
        "format": "careservice.personal-data-export",
        "version": FORMAT_VERSION,
        "generated_at": now,
        "account_id": account,
        "hq": hq_tables,
        "territories": sections,
    }))
}

/// Opens the sealed `column` of each exported row of `table` (found by its
/// `id`); a value that does not open is left out.
fn open_sealed(
    keys: &Keyring,
    tables: &mut serde_json::Map<String, Value>,
    table: &str,
    column: &str,
    place: impl for<'a> Fn(&'a str) -> Place<'a>,
) {
    let Some(rows) = tables.get_mut(table).and_then(Value::as_array_mut) else { return };
    for row in rows {
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        let sealed = row[column].as_str().unwrap_or_default().to_owned();
        row[column] = keys.open(&sealed, &place(&id)).map_or(Value::Null, Value::String);
    }
}

/// The territories where `account` has a membership.
pub async fn member_territories(conn: &mut AsyncPgConnection, account: Uuid) -> anyhow::Result<Vec<Territory>> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        territory_id: i64,
    }
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT DISTINCT territory_id FROM hq.memberships WHERE account_id = $1 AND territory_id IS NOT NULL",
    )
    .bind::<SqlUuid, _>(account)
    .load(conn)
    .await?;
    let mut territories = Vec::new();
    for Id { territory_id } in ids {
        if let Some(territory) = store::find_by_id(conn, territory_id).await? {
            territories.push(territory);
        }
    }
    Ok(territories)
}

async fn territory_section(
    pool: &TenancyPool,
    keys: &Keyring,
    territory: &Territory,
    account: Uuid,
) -> anyhow::Result<Value> {
    let mut conn = pool.territory(territory).await?;
    let mut tables = serde_json::Map::new();
    for holding in PERSONAL_DATA.iter().filter(|holding| holding.scope == Scope::Territory) {
        let query = territory_query(holding.table)
            .ok_or_else(|| anyhow::anyhow!("no export of the territory table {}", holding.table))?;
        tables.insert(holding.table.to_owned(), rows(&mut conn, query, account, "").await?);
    }
    super::territory_export::open_bookings(keys, territory, &mut tables);
    Ok(json!({ "territory": territory.slug, "tables": tables }))
}

fn place(row: &str) -> Place<'_> {
    Place { scope: "hq", table: "privacy_exports", column: "bundle", row }
}

/// Records a requested export and schedules the job that builds it, in one
/// transaction; returns the export's id.
pub async fn request(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    token: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<(Uuid, DateTime<Utc>)> {
    let id = Uuid::new_v4();
    let expires_at = now + LINK_LIFETIME;
    diesel::sql_query(
        "INSERT INTO hq.privacy_exports (id, account_id, token_hash, status, requested_at, expires_at)
         VALUES ($1, $2, $3, 'pending', $4, $5)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(account)
    .bind::<diesel::sql_types::Bytea, _>(hash_secret(token))
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(expires_at)
    .execute(conn)
    .await?;
    crate::jobs::enqueue(conn, "privacy.export", None, json!({ "export": id }), now).await?;
    Ok((id, expires_at))
}

/// The export job: builds the bundle and stores it sealed.
pub async fn build(pool: &TenancyPool, keys: &Keyring, export: Uuid, now: DateTime<Utc>) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Pending {
        #[diesel(sql_type = SqlUuid)]
        account_id: Uuid,
    }
    let pending: Option<Pending> = {
        let mut conn = pool.hq().await?;
        diesel::sql_query("SELECT account_id FROM hq.privacy_exports WHERE id = $1 AND status = 'pending'")
            .bind::<SqlUuid, _>(export)
            .get_result(&mut *conn)
            .await
            .optional()?
    };
    let Some(Pending { account_id }) = pending else { return Ok(()) };
    let bundle = bundle(pool, keys, account_id, now).await?;
    let row = export.to_string();
    let sealed = keys.seal(&bundle.to_string(), &place(&row));
    let mut conn = pool.hq().await?;
    diesel::sql_query(
        "UPDATE hq.privacy_exports SET status = 'ready', bundle = $2, ready_at = $3 WHERE id = $1 AND status = 'pending'",
    )
    .bind::<SqlUuid, _>(export)
    .bind::<Text, _>(sealed)
    .bind::<Timestamptz, _>(now)
    .execute(&mut *conn)
    .await?;
    tracing::info!(export.id = %export, "personal data export ready");
    Ok(())
}

/// What a download link gives.
pub enum Download {
    Ready(Value),
    Pending,
    Expired,
    Unknown,
}

/// The bundle behind a link, if the token matches and the link is alive.
pub async fn download(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    export: Uuid,
    token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Download> {
    #[derive(diesel::QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = Nullable<Text>)]
        bundle: Option<String>,
        #[diesel(sql_type = Timestamptz)]
        expires_at: DateTime<Utc>,
    }
    let stored: Option<Stored> = diesel::sql_query(
        "SELECT status, bundle, expires_at FROM hq.privacy_exports WHERE id = $1 AND token_hash = $2",
    )
    .bind::<SqlUuid, _>(export)
    .bind::<diesel::sql_types::Bytea, _>(hash_secret(token))
    .get_result(conn)
    .await
    .optional()?;
    let Some(stored) = stored else { return Ok(Download::Unknown) };
    if stored.expires_at <= now {
        return Ok(Download::Expired);
    }
    match (stored.status.as_str(), stored.bundle) {
        ("ready", Some(sealed)) => {
            let row = export.to_string();
            let plain = keys.open(&sealed, &place(&row))?;
            Ok(Download::Ready(serde_json::from_str(&plain)?))
        }
        _ => Ok(Download::Pending),
    }
}
