//! The franchisee's monthly statement, read from the ledger: a line per
//! payment with money moving in the month, and the month's totals.

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Numeric, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// One payment's money in the month. Fees and shares are net of refunds.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct Line {
    #[diesel(sql_type = SqlUuid)]
    pub payment_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub booking_id: Uuid,
    #[diesel(sql_type = BigInt)]
    #[serde(skip)]
    pub captures: i64,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub gross: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub refunds: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub vat: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub franchise_fee: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub hq_fee: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub pro_share: Decimal,
}

/// The month's totals. `net` is what the territory keeps: gross less
/// refunds, VAT, HQ's fee and the pros' shares, which is the franchise fee.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub bookings: i64,
    #[serde(with = "rust_decimal::serde::str")]
    pub gross: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub refunds: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub vat: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub franchise_fee: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub hq_fee: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub pro_share: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub pro_payouts: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub net: Decimal,
}

/// A month's statement.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub period: String,
    pub currency: &'static str,
    pub totals: Totals,
    pub lines: Vec<Line>,
}

const LINES_SQL: &str = "
SELECT t.payment_id, p.booking_id,
       count(DISTINCT t.id) FILTER (WHERE t.kind = 'capture') AS captures,
       coalesce(sum(e.amount) FILTER (WHERE a.code = 'provider_clearing' AND t.kind = 'capture'), 0) AS gross,
       coalesce(sum(e.amount) FILTER (WHERE a.code = 'refunds' AND e.amount > 0), 0) AS refunds,
       coalesce(-sum(e.amount) FILTER (WHERE a.code = 'vat_payable'), 0) AS vat,
       coalesce(-sum(e.amount) FILTER (WHERE a.code = 'franchise_revenue'), 0) AS franchise_fee,
       coalesce(-sum(e.amount) FILTER (WHERE a.code = 'hq_fee_payable'), 0) AS hq_fee,
       coalesce(-sum(e.amount) FILTER (WHERE a.pro_id IS NOT NULL), 0) AS pro_share
  FROM ledger_transactions t
  JOIN ledger_entries e ON e.transaction_id = t.id
  JOIN ledger_accounts a ON a.id = e.account_id
  JOIN payments p ON p.id = t.payment_id
 WHERE t.effective_on >= $1 AND t.effective_on < $2 AND t.kind IN ('capture', 'refund')
 GROUP BY t.payment_id, p.booking_id
 ORDER BY min(t.id)";

/// The statement of the month starting on `first_day`.
pub async fn for_month(conn: &mut AsyncPgConnection, first_day: NaiveDate) -> diesel::QueryResult<Statement> {
    let next = first_day.checked_add_months(chrono::Months::new(1)).unwrap_or(first_day);
    let lines: Vec<Line> =
        diesel::sql_query(LINES_SQL).bind::<Date, _>(first_day).bind::<Date, _>(next).load(conn).await?;
    #[derive(diesel::QueryableByName)]
    struct Paid {
        #[diesel(sql_type = Numeric)]
        total: Decimal,
    }
    let paid: Paid = diesel::sql_query(
        "SELECT coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) AS total
           FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
          WHERE t.kind = 'payout' AND t.effective_on >= $1 AND t.effective_on < $2",
    )
    .bind::<Date, _>(first_day)
    .bind::<Date, _>(next)
    .get_result(conn)
    .await?;
    let mut totals = Totals { pro_payouts: paid.total, ..Totals::default() };
    for line in &lines {
        totals.bookings += line.captures;
        totals.gross += line.gross;
        totals.refunds += line.refunds;
        totals.vat += line.vat;
        totals.franchise_fee += line.franchise_fee;
        totals.hq_fee += line.hq_fee;
        totals.pro_share += line.pro_share;
    }
    totals.net = totals.gross - totals.refunds - totals.vat - totals.hq_fee - totals.pro_share;
    Ok(Statement { period: first_day.format("%Y-%m").to_string(), currency: "EUR", totals, lines })
}

/// The statement as CSV: a line per payment, then the totals.
pub fn to_csv(statement: &Statement) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "period",
        "payment_id",
        "booking_id",
        "gross",
        "refunds",
        "vat",
        "franchise_fee",
        "hq_fee",
        "pro_share",
    ])?;
    for line in &statement.lines {
        writer.write_record([
            statement.period.clone(),
            line.payment_id.to_string(),
            line.booking_id.to_string(),
            format!("{:.2}", line.gross),
            format!("{:.2}", line.refunds),
            format!("{:.2}", line.vat),
            format!("{:.2}", line.franchise_fee),
            format!("{:.2}", line.hq_fee),
            format!("{:.2}", line.pro_share),
        ])?;
    }
    let t = &statement.totals;
    writer.write_record([
        statement.period.clone(),
        "total".into(),
        format!("{} bookings", t.bookings),
        format!("{:.2}", t.gross),
        format!("{:.2}", t.refunds),
        format!("{:.2}", t.vat),
        format!("{:.2}", t.franchise_fee),
        format!("{:.2}", t.hq_fee),
        format!("{:.2}", t.pro_share),
    ])?;
    writer.write_record([
        statement.period.clone(),
        "pro_payouts".into(),
        String::new(),
        format!("{:.2}", t.pro_payouts),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ])?;
    writer.write_record([
        statement.period.clone(),
        "net".into(),
        String::new(),
        format!("{:.2}", t.net),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ])?;
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}
