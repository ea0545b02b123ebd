//! Fiscal retention: bookings are kept for 7 years after they end (Dutch
//! fiscal law), with their customer as a pseudonym. Once that time is over,
//! a daily job removes what is left of the person: the link to the account,
//! and any address or notes still there. The amounts, and the ledger, which
//! names no person, stay.

use chrono::{DateTime, Months, Utc};
use diesel::sql_types::Timestamptz;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::tenancy::{TenancyPool, store};

/// How long fiscal records keep their link to a person.
pub const FISCAL_RETENTION_YEARS: u32 = 7;

/// Schedules the retention job unless one is waiting.
pub async fn ensure_scheduled(pool: &TenancyPool, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut conn = pool.hq().await?;
    diesel::sql_query(
        "INSERT INTO hq.jobs (kind, payload, run_at) SELECT 'privacy.retention', '{}', $1
          WHERE NOT EXISTS (SELECT FROM hq.jobs WHERE kind = 'privacy.retention' AND finished_at IS NULL
                              AND failed_at IS NULL)",
    )
    .bind::<Timestamptz, _>(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Unlinks every territory's bookings whose retention has ended; returns how
/// many, and schedules the next run a day later.
pub async fn run(pool: &TenancyPool, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let cutoff = now.checked_sub_months(Months::new(12 * FISCAL_RETENTION_YEARS)).unwrap_or(now);
    let territories = {
        let mut conn = pool.hq().await?;
        store::list(&mut conn).await?
    };
    let mut unlinked = 0;
    for territory in &territories {
        let mut conn = pool.territory(territory).await?;
        unlinked += diesel::sql_query(
            "UPDATE bookings SET customer_account_id = '00000000-0000-0000-0000-000000000000',
                    address = '', notes = '', postcode = '', updated_at = $2
              WHERE ends_at < $1 AND customer_account_id <> '00000000-0000-0000-0000-000000000000'",
        )
        .bind::<Timestamptz, _>(cutoff)
        .bind::<Timestamptz, _>(now)
        .execute(&mut *conn)
        .await?;
    }
    let mut conn = pool.hq().await?;
    crate::jobs::enqueue(&mut conn, "privacy.retention", None, json!({}), now + chrono::Duration::days(1)).await?;
    if unlinked > 0 {
        tracing::info!(bookings = unlinked, "fiscal retention ended: bookings unlinked from their customers");
    }
    Ok(unlinked)
}
