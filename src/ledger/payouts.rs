//! Pro payouts: a batch of what each pro is owed for bookings that ended
//! past the dispute window, each payment paid out at most once, and marked
//! paid once (which posts the payout to the ledger).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Array, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::store::{Account, Kind, NewTransaction, post};

/// How long after a booking ends its customer may still dispute it.
pub const DISPUTE_WINDOW: Duration = Duration::days(14);

/// A payout batch.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct Payout {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub cutoff: DateTime<Utc>,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    pub paid_at: Option<DateTime<Utc>>,
}

/// One payment's pro share in a batch.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct Item {
    #[diesel(sql_type = SqlUuid)]
    pub payment_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub pro_id: Uuid,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

/// The pro's share (captures less refunds) of every payment whose booking is
/// over, ended before `$1`, and not paid out yet.
const OWED_SQL: &str = "
SELECT p.id AS payment_id, p.pro_id, -sum(e.amount) AS amount
  FROM payments p
  JOIN bookings b ON b.id = p.booking_id
  JOIN ledger_transactions t ON t.payment_id = p.id AND t.kind IN ('capture', 'refund')
  JOIN ledger_entries e ON e.transaction_id = t.id
  JOIN ledger_accounts a ON a.id = e.account_id AND a.pro_id = p.pro_id
 WHERE b.status IN ('completed', 'no_show', 'cancelled') AND b.ends_at <= $1
   AND NOT EXISTS (SELECT FROM payout_items i WHERE i.payment_id = p.id)
 GROUP BY p.id, p.pro_id
HAVING sum(e.amount) < 0
 ORDER BY p.pro_id, p.id";

const COLUMNS: &str = "id, cutoff, total, status, created_at, paid_at";

/// Gathers what is owed at `now` into a new batch; `None` when nobody is owed
/// anything. A concurrent batch taking the same payments makes this one fail
/// on the unique payment, not pay twice.
pub async fn create(
    conn: &mut AsyncPgConnection,
    created_by: Uuid,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<(Payout, Vec<Item>)>> {
    conn.transaction(|conn| {
        async move {
            let owed: Vec<Item> =
                diesel::sql_query(OWED_SQL).bind::<Timestamptz, _>(now - DISPUTE_WINDOW).load(conn).await?;
            if owed.is_empty() {
                return Ok(None);
            }
            let total: Decimal = owed.iter().map(|item| item.amount).sum();
            let payout: Payout = diesel::sql_query(format!(
                "INSERT INTO payouts (cutoff, total, status, created_by, created_at) VALUES ($1, $2, 'open', $3, $1)
                 RETURNING {COLUMNS}"
            ))
            .bind::<Timestamptz, _>(now)
            .bind::<Numeric, _>(total)
            .bind::<SqlUuid, _>(created_by)
            .get_result(conn)
            .await?;
            let payments: Vec<Uuid> = owed.iter().map(|item| item.payment_id).collect();
            let pros: Vec<Uuid> = owed.iter().map(|item| item.pro_id).collect();
            let amounts: Vec<Decimal> = owed.iter().map(|item| item.amount).collect();
            diesel::sql_query(
                "INSERT INTO payout_items (payout_id, payment_id, pro_id, amount)
                 SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::numeric[])",
            )
            .bind::<SqlUuid, _>(payout.id)
            .bind::<Array<SqlUuid>, _>(&payments)
            .bind::<Array<SqlUuid>, _>(&pros)
            .bind::<Array<Numeric>, _>(&amounts)
            .execute(conn)
            .await?;
            let payload = json!({ "payout": payout.id, "total": total.to_string(), "payments": payments.len() });
            crate::audit::append(conn, "payout.created", &format!("account:{created_by}"), &payload, now).await?;
            Ok(Some((payout, owed)))
        }
        .scope_boxed()
    })
    .await
}

/// Payout batches, newest first.
pub async fn list(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<Payout>> {
    diesel::sql_query(format!("SELECT {COLUMNS} FROM payouts ORDER BY created_at DESC, id LIMIT 200")).load(conn).await
}

/// One batch with its items.
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> diesel::QueryResult<Option<(Payout, Vec<Item>)>> {
    let payout: Option<Payout> = diesel::sql_query(format!("SELECT {COLUMNS} FROM payouts WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()?;
    let Some(payout) = payout else { return Ok(None) };
    let items = diesel::sql_query(
        "SELECT payment_id, pro_id, amount FROM payout_items WHERE payout_id = $1 ORDER BY pro_id, payment_id",
    )
    .bind::<SqlUuid, _>(id)
    .load(conn)
    .await?;
    Ok(Some((payout, items)))
}

/// Why a batch cannot be marked paid.
#[derive(Debug, thiserror::Error)]
pub enum PaidError {
    #[error("there is no such payout")]
    Unknown,
    #[error("the payout was marked paid before")]
    AlreadyPaid,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Marks a batch paid, once, posting each pro's payout: what the territory
/// owed the pro leaves the provider's account.
pub async fn mark_paid(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    by: Uuid,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Payout, PaidError> {
    conn.transaction(|conn| {
        async move {
            let paid: Option<Payout> = diesel::sql_query(format!(
                "UPDATE payouts SET status = 'paid', paid_at = $2 WHERE id = $1 AND status = 'open' RETURNING {COLUMNS}"
            ))
            .bind::<SqlUuid, _>(id)
            .bind::<Timestamptz, _>(now)
            .get_result(conn)
            .await
            .optional()?;
            let Some(paid) = paid else {
                return Err(match find(conn, id).await? {
                    Some(_) => PaidError::AlreadyPaid,
                    None => PaidError::Unknown,
                });
            };
            let Some((_, items)) = find(conn, id).await? else { return Err(PaidError::Unknown) };
            let mut per_pro: Vec<(Uuid, Decimal)> = Vec::new();
            for item in &items {
                match per_pro.iter_mut().find(|(pro, _)| *pro == item.pro_id) {
                    Some((_, sum)) => *sum += item.amount,
                    None => per_pro.push((item.pro_id, item.amount)),
                }
            }
            for (pro, amount) in &per_pro {
                let transaction = NewTransaction {
                    external_id: format!("payout:{id}:{pro}"),
                    kind: Kind::Payout,
                    payment_id: None,
                    effective_on: today,
                    posted_at: now,
                    lines: vec![(Account::ProPayable(*pro), *amount), (Account::ProviderClearing, -*amount)],
                };
                post(conn, &transaction).await?;
            }
            let payload = json!({ "payout": id, "total": paid.total.to_string(), "pros": per_pro.len() });
            crate::audit::append(conn, "payout.paid", &format!("account:{by}"), &payload, now).await?;
            Ok(paid)
        }
        .scope_boxed()
    })
    .await
}
