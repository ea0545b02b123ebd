//! Appending to a chain and walking it. Each row's hash is SHA-256 over the
//! previous row's hash and the row's own fields, so changing, removing or
//! inserting a row breaks the chain from there on; `verify` names the first
//! broken link.
//!
//! The same code serves every chain: a territory-bound connection sees its
//! schema's `audit_log` first, an HQ-bound one sees `hq.audit_log`.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{BigInt, Bytea, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The link before the first row.
const GENESIS: [u8; 32] = [0; 32];

/// One row of a chain.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Entry {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Bytea)]
    pub prev_hash: Vec<u8>,
    #[diesel(sql_type = Bytea)]
    pub hash: Vec<u8>,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub actor: String,
    #[diesel(sql_type = Text)]
    pub payload: String,
}

/// The hash of a row: its predecessor's hash, its sequence number, time
/// (microseconds, as stored), and its length-prefixed kind, actor and payload.
fn link_hash(prev: &[u8], seq: i64, at: DateTime<Utc>, kind: &str, actor: &str, payload: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    hasher.update(at.timestamp_micros().to_be_bytes());
    for field in [kind, actor, payload] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().to_vec()
}

#[derive(diesel::QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Bytea)]
    hash: Vec<u8>,
}

/// Appends an event to the chain of the connection's binding (its
/// territory's, or HQ's on an HQ-bound connection), in the caller's
/// transaction. Writers queue on a transaction-scoped lock per chain, so the
/// chain cannot fork; were the lock bypassed, the unique `prev_hash` would
/// still refuse a second row after the same link.
pub async fn append(
    conn: &mut AsyncPgConnection,
    kind: &str,
    actor: &str,
    payload: &Value,
    at: DateTime<Utc>,
) -> diesel::QueryResult<i64> {
    append_to(conn, "audit_log", "current_schema()", kind, actor, payload, at).await
}

/// Appends an event to HQ's chain whatever the connection's binding (the
/// owner during onboarding, HQ for accounts), in the caller's transaction.
pub async fn append_hq(
    conn: &mut AsyncPgConnection,
    kind: &str,
    actor: &str,
    payload: &Value,
    at: DateTime<Utc>,
) -> diesel::QueryResult<i64> {
    append_to(conn, "hq.audit_log", "'hq'", kind, actor, payload, at).await
}

async fn append_to(
    conn: &mut AsyncPgConnection,
    table: &'static str,
    schema: &'static str,
    kind: &str,
    actor: &str,
    payload: &Value,
    at: DateTime<Utc>,
) -> diesel::QueryResult<i64> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock(1096107092, hashtext({schema}))")).execute(conn).await?;
    let head: Option<Head> = diesel::sql_query(format!("SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"))
        .get_result(conn)
        .await
        .optional()?;
    let (seq, prev) = match head {
        Some(head) => (head.seq + 1, head.hash),
        None => (1, GENESIS.to_vec()),
    };
    let at = at.trunc_subsecs(6);
    let payload = payload.to_string();
    let hash = link_hash(&prev, seq, at, kind, actor, &payload);
    diesel::sql_query(format!(
        "INSERT INTO {table} (seq, prev_hash, hash, at, kind, actor, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind::<BigInt, _>(seq)
    .bind::<Bytea, _>(&prev)
    .bind::<Bytea, _>(&hash)
    .bind::<Timestamptz, _>(at)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(actor)
    .bind::<Text, _>(&payload)
    .execute(conn)
    .await?;
    Ok(seq)
}

/// What walking a chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Rows checked.
    pub entries: i64,
    /// The hash of the last row, hex (what an outside copy can be compared to).
    pub head: Option<String>,
    /// Whether every link holds.
    pub intact: bool,
    /// The first row whose link is broken, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<BrokenLink>,
}

/// A row where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: &'static str,
}

/// Walks the chain of the connection's binding from its first row, a page at
/// a time, and stops at the first broken link.
pub async fn verify(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Verification> {
    const PAGE: i64 = 5000;
    let mut prev = GENESIS.to_vec();
    let mut expected_seq = 1;
    let mut entries = 0;
    loop {
        let page: Vec<Entry> = diesel::sql_query(
            "SELECT seq, prev_hash, hash, at, kind, actor, payload FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind::<BigInt, _>(expected_seq)
        .bind::<BigInt, _>(PAGE)
        .load(conn)
        .await?;
        let done = (page.len() as i64) < PAGE;
        for entry in page {
            let reason = if entry.seq != expected_seq {
                Some("a row is missing before this one")
            } else if entry.prev_hash != prev {
                Some("it does not link to the row before it")
            } else if entry.hash != link_hash(&prev, entry.seq, entry.at, &entry.kind, &entry.actor, &entry.payload) {
                Some("its content does not match its hash")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Ok(Verification {
                    entries,
                    head: Some(hex::encode(&prev)),
                    intact: false,
                    first_broken: Some(BrokenLink { seq: expected_seq, reason }),
                });
            }
            entries += 1;
            expected_seq += 1;
            prev = entry.hash;
        }
        if done {
            let head = (entries > 0).then(|| hex::encode(&prev));
            return Ok(Verification { entries, head, intact: true, first_broken: None });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_hash() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_000).unwrap();
        let base = link_hash(&GENESIS, 1, at, "capture", "system", "{}");
        assert_eq!(base.len(), 32);
        assert_ne!(base, link_hash(&[1; 32], 1, at, "capture", "system", "{}"));
        assert_ne!(base, link_hash(&GENESIS, 2, at, "capture", "system", "{}"));
        assert_ne!(base, link_hash(&GENESIS, 1, at + chrono::Duration::microseconds(1), "capture", "system", "{}"));
        assert_ne!(base, link_hash(&GENESIS, 1, at, "refund", "system", "{}"));
        assert_ne!(base, link_hash(&GENESIS, 1, at, "capture", "pro", "{}"));
        assert_ne!(base, link_hash(&GENESIS, 1, at, "capture", "system", "{ }"));
        // Length prefixes keep fields from bleeding into each other.
        assert_ne!(link_hash(&GENESIS, 1, at, "ab", "c", "{}"), link_hash(&GENESIS, 1, at, "a", "bc", "{}"));
    }
}
