//! Posting balanced transactions and reading balances (tenant schema).
//!
//! A transaction posts once per external id, ever: posting it again returns
//! `None` and changes nothing. The database refuses an unbalanced or empty
//! transaction at commit, and any UPDATE or DELETE at all.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::OptionalExtension;
use diesel::sql_types::{Array, BigInt, Date, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// A ledger account, by its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// Money held by the payment provider for the territory.
    ProviderClearing,
    /// What customers paid, passed on in full to the split at capture.
    CustomerFunds,
    /// The franchisee's fee.
    FranchiseRevenue,
    /// HQ's fee, owed to HQ.
    HqFeePayable,
    /// VAT owed to the tax office.
    VatPayable,
    /// What was given back to customers, passed on in full to the provider.
    Refunds,
    /// What the territory owes one pro.
    ProPayable(Uuid),
}

impl Account {
    /// The stored code.
    pub fn code(&self) -> String {
        match self {
            Self::ProviderClearing => "provider_clearing".into(),
            Self::CustomerFunds => "customer_funds".into(),
            Self::FranchiseRevenue => "franchise_revenue".into(),
            Self::HqFeePayable => "hq_fee_payable".into(),
            Self::VatPayable => "vat_payable".into(),
            Self::Refunds => "refunds".into(),
            Self::ProPayable(pro) => format!("pro_payable:{pro}"),
        }
    }
}

/// What a ledger transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Capture,
    Refund,
    Payout,
    Reversal,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Refund => "refund",
            Self::Payout => "payout",
            Self::Reversal => "reversal",
        }
    }
}

/// A transaction to post: debits positive, credits negative, zero lines left out.
#[derive(Debug, Clone)]
pub struct NewTransaction {
    pub external_id: String,
    pub kind: Kind,
    pub payment_id: Option<Uuid>,
    pub effective_on: NaiveDate,
    pub posted_at: DateTime<Utc>,
    pub lines: Vec<(Account, Decimal)>,
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Posts `transaction` in the caller's database transaction; `None` when its
/// external id was posted before.
pub async fn post(conn: &mut AsyncPgConnection, transaction: &NewTransaction) -> diesel::QueryResult<Option<i64>> {
    let lines: Vec<&(Account, Decimal)> = transaction.lines.iter().filter(|(_, amount)| !amount.is_zero()).collect();
    for (account, _) in &lines {
        if let Account::ProPayable(pro) = account {
            diesel::sql_query("INSERT INTO ledger_accounts (code, pro_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind::<Text, _>(account.code())
                .bind::<SqlUuid, _>(pro)
                .execute(conn)
                .await?;
        }
    }
    let id: Option<Id> = diesel::sql_query(
        "INSERT INTO ledger_transactions (external_id, kind, payment_id, effective_on, posted_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (external_id) DO NOTHING RETURNING id",
    )
    .bind::<Text, _>(&transaction.external_id)
    .bind::<Text, _>(transaction.kind.as_str())
    .bind::<Nullable<SqlUuid>, _>(transaction.payment_id)
    .bind::<Date, _>(transaction.effective_on)
    .bind::<diesel::sql_types::Timestamptz, _>(transaction.posted_at)
    .get_result(conn)
    .await
    .optional()?;
    let Some(Id { id }) = id else { return Ok(None) };
    let codes: Vec<String> = lines.iter().map(|(account, _)| account.code()).collect();
    let amounts: Vec<Decimal> = lines.iter().map(|(_, amount)| *amount).collect();
    diesel::sql_query(
        "INSERT INTO ledger_entries (transaction_id, account_id, amount)
         SELECT $1, a.id, l.amount FROM unnest($2::text[], $3::numeric[]) WITH ORDINALITY AS l(code, amount, n)
         JOIN ledger_accounts a ON a.code = l.code ORDER BY l.n",
    )
    .bind::<BigInt, _>(id)
    .bind::<Array<Text>, _>(&codes)
    .bind::<Array<Numeric>, _>(&amounts)
    .execute(conn)
    .await?;
    Ok(Some(id))
}

/// An account's balance: debits minus credits.
#[derive(Debug, Clone, Serialize, diesel::QueryableByName)]
pub struct Balance {
    #[diesel(sql_type = Text)]
    pub account: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pro_id: Option<Uuid>,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "rust_decimal::serde::str")]
    pub balance: Decimal,
}

/// Every account's balance over the transactions effective on or before `day`.
pub async fn balances(conn: &mut AsyncPgConnection, day: NaiveDate) -> diesel::QueryResult<Vec<Balance>> {
    diesel::sql_query(
        "SELECT a.code AS account, a.pro_id, coalesce(sum(e.amount), 0) AS balance
           FROM ledger_accounts a
           LEFT JOIN (ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id AND t.effective_on <= $1)
                  ON e.account_id = a.id
          GROUP BY a.id ORDER BY a.id",
    )
    .bind::<Date, _>(day)
    .load(conn)
    .await
}

/// The sum of every entry: zero whenever the ledger balances.
pub async fn trial_balance(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Decimal> {
    #[derive(diesel::QueryableByName)]
    struct Sum {
        #[diesel(sql_type = Numeric)]
        total: Decimal,
    }
    let sum: Sum =
        diesel::sql_query("SELECT coalesce(sum(amount), 0) AS total FROM ledger_entries").get_result(conn).await?;
    Ok(sum.total)
}
