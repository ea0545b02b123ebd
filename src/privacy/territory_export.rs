//! A franchisee's export of its territory's data. It reads the territory's
//! schema through the territory-bound connection only, so nothing of another
//! territory can be in it.

use diesel::sql_types::Jsonb;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use super::keys::{Keyring, Place};
use crate::http::ApiError;
use crate::tenancy::Territory;

const TABLES: &[(&str, &str)] = &[
    (
        "bookings",
        "SELECT id, customer_account_id, pro_id, service_code, starts_at, ends_at, status, price, vat_rate, postcode,
                address, notes, cancellation_fee, created_at FROM bookings ORDER BY starts_at",
    ),
    ("pros", "SELECT id, account_id, display_name, status, created_at FROM pros ORDER BY created_at"),
    ("pro_offerings", "SELECT pro_id, service_code, price FROM pro_offerings"),
    (
        "payments",
        "SELECT id, booking_id, pro_id, status, amount, refunded, created_at FROM payments ORDER BY created_at",
    ),
    ("refunds", "SELECT id, payment_id, amount, reason, created_at FROM refunds ORDER BY created_at"),
    ("payouts", "SELECT id, cutoff, total, status, created_at, paid_at FROM payouts ORDER BY created_at"),
];

#[derive(diesel::QueryableByName)]
struct Rows {
    #[diesel(sql_type = Jsonb)]
    rows: Value,
}

/// Opens the sealed address and notes of the `bookings` rows in `tables`
/// (`null` for a value that does not open here).
pub(super) fn open_bookings(keys: &Keyring, territory: &Territory, tables: &mut serde_json::Map<String, Value>) {
    let scope = territory.sealing_scope();
    let Some(Value::Array(bookings)) = tables.get_mut("bookings") else { return };
    for booking in bookings {
        let id = booking["id"].as_str().unwrap_or_default().to_owned();
        for column in ["address", "notes"] {
            let stored = booking[column].as_str().unwrap_or_default().to_owned();
            let place = Place { scope: &scope, table: "bookings", column, row: &id };
            booking[column] = json!(keys.open(&stored, &place).ok());
        }
    }
}

/// The territory's data, sealed fields opened.
pub async fn build(conn: &mut AsyncPgConnection, keys: &Keyring, territory: &Territory) -> Result<Value, ApiError> {
    let mut tables = serde_json::Map::new();
    for (name, query) in TABLES {
        let rows: Rows =
            diesel::sql_query(format!("SELECT coalesce(jsonb_agg(r), '[]'::jsonb) AS rows FROM ({query}) r"))
                .get_result(conn)
                .await?;
        tables.insert((*name).to_owned(), rows.rows);
    }
    open_bookings(keys, territory, &mut tables);
    Ok(json!({ "territory": territory.slug, "tables": tables }))
}
