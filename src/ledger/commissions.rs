//! HQ's commissions, aggregated without crossing schemas: each territory
//! writes commission events to its own outbox in the same transaction as its
//! ledger entries; this drain copies them into hq once each (idempotent on the
//! event id) and keeps hq's totals per territory and month with them.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Jsonb, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use crate::tenancy::{TenancyPool, Territory};

/// Events moved per round trip.
pub const BATCH: i64 = 2000;

#[derive(diesel::QueryableByName)]
struct OutboxEvent {
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Jsonb)]
    payload: Value,
}

const STORE_SQL: &str = "
WITH incoming AS (
    SELECT * FROM jsonb_to_recordset($2) AS e(event_id uuid, kind text, period date, gross numeric, vat numeric,
        franchise_fee numeric, hq_fee numeric, pro_share numeric, occurred_at timestamptz)
), inserted AS (
    INSERT INTO hq.commission_events (event_id, territory_id, period, kind, gross, vat, franchise_fee, hq_fee,
        pro_share, occurred_at)
    SELECT event_id, $1, period, kind, gross, vat, franchise_fee, hq_fee, pro_share, occurred_at FROM incoming
    ON CONFLICT (event_id) DO NOTHING
    RETURNING period, kind, gross, vat, franchise_fee, hq_fee, pro_share
)
INSERT INTO hq.commission_totals AS t (territory_id, period, captures, refunds, gross, refunded, vat, franchise_fee,
    hq_fee, pro_share)
SELECT $1, period, count(*) FILTER (WHERE kind = 'capture'), count(*) FILTER (WHERE kind = 'refund'),
       coalesce(sum(gross) FILTER (WHERE kind = 'capture'), 0), coalesce(-sum(gross) FILTER (WHERE kind = 'refund'), 0),
       sum(vat), sum(franchise_fee), sum(hq_fee), sum(pro_share)
  FROM inserted GROUP BY period
ON CONFLICT (period, territory_id) DO UPDATE SET
    captures = t.captures + excluded.captures, refunds = t.refunds + excluded.refunds,
    gross = t.gross + excluded.gross, refunded = t.refunded + excluded.refunded, vat = t.vat + excluded.vat,
    franchise_fee = t.franchise_fee + excluded.franchise_fee, hq_fee = t.hq_fee + excluded.hq_fee,
    pro_share = t.pro_share + excluded.pro_share";

/// Schedules the drain of the territory's outbox into hq, in the caller's
/// transaction, unless one is already waiting: it drains everything there is.
pub async fn schedule_drain(
    conn: &mut AsyncPgConnection,
    territory_id: i64,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    crate::jobs::queue::enqueue_unless_waiting(
        conn,
        "ledger.drain_outbox",
        Some(territory_id),
        serde_json::json!({}),
        now,
    )
    .await
}

/// Drains `territory`'s outbox into hq, a batch at a time, until it is empty;
/// returns how many events were moved. Safe to run concurrently and to repeat:
/// an event already in hq is neither stored nor counted again.
pub async fn drain(pool: &TenancyPool, territory: &Territory, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut moved = 0;
    loop {
        let events: Vec<OutboxEvent> = {
            let mut conn = pool.territory(territory).await?;
            diesel::sql_query(
                "SELECT event_id, payload FROM outbox WHERE drained_at IS NULL AND kind = 'commission'
                  ORDER BY created_at, event_id LIMIT $1",
            )
            .bind::<BigInt, _>(BATCH)
            .load(&mut *conn)
            .await?
        };
        if events.is_empty() {
            return Ok(moved);
        }
        let ids: Vec<Uuid> = events.iter().map(|event| event.event_id).collect();
        let batch: Vec<Value> = events
            .into_iter()
            .map(|event| {
                let mut payload = event.payload;
                payload["event_id"] = Value::String(event.event_id.to_string());
                payload
            })
            .collect();
        {
            let mut hq = pool.hq().await?;
            store_batch(&mut hq, territory.id, Value::Array(batch)).await?;
        }
        let mut conn = pool.territory(territory).await?;
        diesel::sql_query("UPDATE outbox SET drained_at = $2 WHERE event_id = ANY($1)")
            .bind::<Array<SqlUuid>, _>(&ids)
            .bind::<Timestamptz, _>(now)
            .execute(&mut *conn)
            .await?;
        moved += ids.len();
    }
}

/// Stores a batch and its totals in one statement, so the two never disagree.
async fn store_batch(conn: &mut AsyncPgConnection, territory_id: i64, batch: Value) -> diesel::QueryResult<()> {
    diesel::sql_query(STORE_SQL).bind::<BigInt, _>(territory_id).bind::<Jsonb, _>(batch).execute(conn).await.map(|_| ())
}
