//! What each money event posts: the ledger lines, the commission event for
//! HQ's outbox and the audit entry, all in the caller's transaction.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::sql_types::{Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::split::{Parts, to_euros};
use super::store::{Account, Kind, NewTransaction, post};

/// The lines of a capture of `parts` for `pro`: the provider holds the gross,
/// which customers paid and which splits into VAT, the two fees and the pro's
/// share.
pub fn capture_lines(parts: &Parts, pro: Uuid) -> Vec<(Account, Decimal)> {
    let gross = to_euros(parts.total());
    vec![
        (Account::ProviderClearing, gross),
        (Account::CustomerFunds, -gross),
        (Account::CustomerFunds, gross),
        (Account::VatPayable, -to_euros(parts.vat)),
        (Account::FranchiseRevenue, -to_euros(parts.franchise)),
        (Account::HqFeePayable, -to_euros(parts.hq)),
        (Account::ProPayable(pro), -to_euros(parts.pro)),
    ]
}

/// The lines of a refund taking back `parts` from `pro`'s booking: each part
/// gives back its share, and the provider pays the whole back out.
pub fn refund_lines(parts: &Parts, pro: Uuid) -> Vec<(Account, Decimal)> {
    let gross = to_euros(parts.total());
    vec![
        (Account::VatPayable, to_euros(parts.vat)),
        (Account::FranchiseRevenue, to_euros(parts.franchise)),
        (Account::HqFeePayable, to_euros(parts.hq)),
        (Account::ProPayable(pro), to_euros(parts.pro)),
        (Account::Refunds, -gross),
        (Account::Refunds, gross),
        (Account::ProviderClearing, -gross),
    ]
}

/// The first day of the month of `day`: the period HQ aggregates by.
pub fn period_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// A capture or refund, posted with its commission event and audit entry.
pub struct MoneyEvent<'a> {
    pub kind: Kind,
    pub external_id: String,
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub pro_id: Uuid,
    pub parts: Parts,
    pub effective_on: NaiveDate,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
}

/// Posts the event's ledger transaction, hands its commission to the outbox
/// for HQ and appends it to the audit chain, in the caller's transaction.
/// Returns false (and writes nothing) when it was posted before.
pub async fn record(conn: &mut AsyncPgConnection, event: &MoneyEvent<'_>) -> diesel::QueryResult<bool> {
    let (lines, sign, audit_kind) = match event.kind {
        Kind::Capture => (capture_lines(&event.parts, event.pro_id), Decimal::ONE, "payment.captured"),
        _ => (refund_lines(&event.parts, event.pro_id), Decimal::NEGATIVE_ONE, "payment.refunded"),
    };
    let transaction = NewTransaction {
        external_id: event.external_id.clone(),
        kind: event.kind,
        payment_id: Some(event.payment_id),
        effective_on: event.effective_on,
        posted_at: event.at,
        lines,
    };
    let Some(transaction_id) = post(conn, &transaction).await? else { return Ok(false) };
    let amounts = json!({
        "gross": (sign * to_euros(event.parts.total())).to_string(),
        "vat": (sign * to_euros(event.parts.vat)).to_string(),
        "franchise_fee": (sign * to_euros(event.parts.franchise)).to_string(),
        "hq_fee": (sign * to_euros(event.parts.hq)).to_string(),
        "pro_share": (sign * to_euros(event.parts.pro)).to_string(),
    });
    let mut commission = json!({
        "kind": if event.kind == Kind::Capture { "capture" } else { "refund" },
        "period": period_of(event.effective_on).to_string(),
        "occurred_at": event.at.to_rfc3339(),
    });
    merge(&mut commission, &amounts);
    diesel::sql_query("INSERT INTO outbox (event_id, kind, payload, created_at) VALUES ($1, $2, $3, $4)")
        .bind::<SqlUuid, _>(Uuid::new_v4())
        .bind::<Text, _>("commission")
        .bind::<Jsonb, _>(&commission)
        .bind::<diesel::sql_types::Timestamptz, _>(event.at)
        .execute(conn)
        .await?;
    let mut audit = json!({
        "ledger_transaction": transaction_id,
        "external_id": event.external_id,
        "payment": event.payment_id,
        "booking": event.booking_id,
        "pro": event.pro_id,
    });
    merge(&mut audit, &amounts);
    crate::audit::append(conn, audit_kind, event.actor, &audit, event.at).await?;
    Ok(true)
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (key, value) in from {
            into.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_and_refund_lines_balance() {
        let parts = Parts { vat: 479, franchise: 745, hq: 319, pro: 4257 };
        let pro = Uuid::new_v4();
        for lines in [capture_lines(&parts, pro), refund_lines(&parts, pro)] {
            assert_eq!(lines.iter().map(|(_, amount)| *amount).sum::<Decimal>(), Decimal::ZERO);
        }
        let pro_line = capture_lines(&parts, pro).into_iter().find(|(a, _)| *a == Account::ProPayable(pro));
        assert_eq!(pro_line.map(|(_, amount)| amount), Some(Decimal::new(-4257, 2)));
    }
}
