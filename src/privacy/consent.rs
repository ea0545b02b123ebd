//! Consent records: append-only (purpose, version of the text, given or
//! withdrawn, when); the latest record per purpose is the current state.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a consent is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Newsletters and offers, from HQ or the territory.
    Marketing,
    /// Keeping notes about the person's care needs (health data).
    CareNotes,
    /// Publishing the person's reviews.
    Reviews,
}

impl Purpose {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::CareNotes => "care_notes",
            Self::Reviews => "reviews",
        }
    }
}

/// One consent record.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct Consent {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Nullable<BigInt>)]
    #[serde(skip)]
    pub territory_id: Option<i64>,
    /// The territory the consent was given in; none for HQ.
    #[diesel(sql_type = Nullable<Text>)]
    pub territory: Option<String>,
    #[diesel(sql_type = Text)]
    pub purpose: String,
    #[diesel(sql_type = Text)]
    pub text_version: String,
    #[diesel(sql_type = Bool)]
    pub given: bool,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

const COLUMNS: &str =
    "c.id, c.account_id, c.territory_id, t.slug AS territory, c.purpose, c.text_version, c.given, c.at";

/// Records consent given or withdrawn.
pub async fn record(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    territory_id: Option<i64>,
    purpose: Purpose,
    text_version: &str,
    given: bool,
    at: DateTime<Utc>,
) -> diesel::QueryResult<Consent> {
    diesel::sql_query(format!(
        "WITH c AS (INSERT INTO hq.consents (account_id, territory_id, purpose, text_version, given, at)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)
         SELECT {COLUMNS} FROM c LEFT JOIN hq.territories t ON t.id = c.territory_id"
    ))
    .bind::<SqlUuid, _>(account)
    .bind::<Nullable<BigInt>, _>(territory_id)
    .bind::<Text, _>(purpose.as_str())
    .bind::<Text, _>(text_version)
    .bind::<Bool, _>(given)
    .bind::<Timestamptz, _>(at)
    .get_result(conn)
    .await
}

/// Every record of an account, oldest first.
pub async fn history(conn: &mut AsyncPgConnection, account: Uuid) -> diesel::QueryResult<Vec<Consent>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM hq.consents c LEFT JOIN hq.territories t ON t.id = c.territory_id
          WHERE c.account_id = $1 ORDER BY c.id"
    ))
    .bind::<SqlUuid, _>(account)
    .load(conn)
    .await
}

/// The current state of each purpose (and territory) of an account.
pub async fn current(conn: &mut AsyncPgConnection, account: Uuid) -> diesel::QueryResult<Vec<Consent>> {
    diesel::sql_query(format!(
        "SELECT DISTINCT ON (c.purpose, c.territory_id) {COLUMNS}
           FROM hq.consents c LEFT JOIN hq.territories t ON t.id = c.territory_id
          WHERE c.account_id = $1 ORDER BY c.purpose, c.territory_id, c.id DESC"
    ))
    .bind::<SqlUuid, _>(account)
    .load(conn)
    .await
}

/// The current state of `purpose` for every account that recorded one in
/// the territory: what its franchisee may rely on (and nothing else).
pub async fn in_territory(
    conn: &mut AsyncPgConnection,
    territory_id: i64,
    purpose: Purpose,
) -> diesel::QueryResult<Vec<Consent>> {
    diesel::sql_query(format!(
        "SELECT DISTINCT ON (c.account_id) {COLUMNS}
           FROM hq.consents c LEFT JOIN hq.territories t ON t.id = c.territory_id
          WHERE c.territory_id = $1 AND c.purpose = $2 ORDER BY c.account_id, c.id DESC"
    ))
    .bind::<BigInt, _>(territory_id)
    .bind::<Text, _>(purpose.as_str())
    .load(conn)
    .await
}
