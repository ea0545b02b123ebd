//! Delivery of the mail outbox. No SMTP transport is wired yet: in the demo
//! (CARESERVICE_DEMO_MAIL=1) mail is written to the log, so it works with no
//! mail server; elsewhere only the recipient and subject are logged.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use crate::tenancy::TenancyPool;

#[derive(diesel::QueryableByName)]
struct Mail {
    #[diesel(sql_type = Text)]
    to_address: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    body: String,
}

/// Claims up to 50 pending mails (SKIP LOCKED: several instances never take
/// the same one) and marks them sent in one statement.
const CLAIM_SQL: &str = "
UPDATE hq.mail_outbox SET sent_at = now(), attempts = attempts + 1
 WHERE id IN (SELECT id FROM hq.mail_outbox WHERE sent_at IS NULL
               ORDER BY created_at LIMIT 50 FOR UPDATE SKIP LOCKED)
RETURNING to_address, subject, body";

/// Delivers pending mail; returns how many went out.
pub async fn deliver_pending(pool: &TenancyPool) -> anyhow::Result<usize> {
    let mut conn = pool.hq().await?;
    let sent: Vec<Mail> = diesel::sql_query(CLAIM_SQL).load(&mut *conn).await?;
    // Bodies carry reset and invitation tokens: they reach the log only in
    // the demo (CARESERVICE_DEMO_MAIL=1), where there is no mail server.
    let show_bodies = std::env::var("CARESERVICE_DEMO_MAIL").is_ok_and(|value| value == "1");
    for mail in &sent {
        if show_bodies {
            tracing::info!(mail.to = %mail.to_address, mail.subject = %mail.subject, mail.body = %mail.body, "demo mail");
        } else {
            tracing::warn!(mail.to = %mail.to_address, mail.subject = %mail.subject, "mail not delivered: no SMTP server is configured");
        }
    }
    Ok(sent.len())
}

/// Delivers the outbox every second until the process ends.
pub async fn run_delivery(pool: TenancyPool) {
    loop {
        if let Err(error) = deliver_pending(&pool).await {
            tracing::warn!(%error, "mail delivery failed");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
