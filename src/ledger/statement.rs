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
    let money = |amounts: [Decimal; 6]| amounts.map(|amount| format!("{amount:.2}"));
    let row = |first: String, second: String, amounts: [String; 6]| {
        [statement.period.clone(), first, second].into_iter().chain(amounts).collect::<Vec<String>>()
    };
    for line in &statement.lines {
        let amounts = [line.gross, line.refunds, line.vat, line.franchise_fee, line.hq_fee, line.pro_share];
        writer.write_record(row(line.payment_id.to_string(), line.booking_id.to_string(), money(amounts)))?;
    }
    let t = &statement.totals;
    let totals = [t.gross, t.refunds, t.vat, t.franchise_fee, t.hq_fee, t.pro_share];
    writer.write_record(row("total".into(), format!("{} bookings", t.bookings), money(totals)))?;
    // One amount each, in the gross column.
    for (label, amount) in [("pro_payouts", t.pro_payouts), ("net", t.net)] {
        let mut amounts: [String; 6] = Default::default();
        amounts[0] = format!("{amount:.2}");
        writer.write_record(row(label.into(), String::new(), amounts))?;
    }
    writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_line_per_payment_then_totals_payouts_and_net() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let (payment, booking) = (Uuid::nil(), Uuid::max());
        let line = Line {
            payment_id: payment,
            booking_id: booking,
            captures: 1,
            gross: d("58"),
            refunds: d("29"),
            vat: d("5.04"),
            franchise_fee: d("3.36"),
            hq_fee: d("1.44"),
            pro_share: d("19.16"),
        };
        let totals = Totals {
            bookings: 1,
            gross: d("58"),
            refunds: d("29"),
            vat: d("5.04"),
            franchise_fee: d("3.36"),
            hq_fee: d("1.44"),
            pro_share: d("19.16"),
            pro_payouts: d("19.16"),
            net: d("3.36"),
        };
        let statement = Statement { period: "2026-11".into(), currency: "EUR", totals, lines: vec![line] };
        let csv = String::from_utf8(to_csv(&statement).unwrap()).unwrap();
        assert_eq!(
            csv,
            format!(
                "period,payment_id,booking_id,gross,refunds,vat,franchise_fee,hq_fee,pro_share\n\
                 2026-11,{payment},{booking},58.00,29.00,5.04,3.36,1.44,19.16\n\
                 2026-11,total,1 bookings,58.00,29.00,5.04,3.36,1.44,19.16\n\
                 2026-11,pro_payouts,,19.16,,,,,\n\
                 2026-11,net,,3.36,,,,,\n"
            )
        );
    }
}
