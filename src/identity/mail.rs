//! Delivery of the mail outbox: by SMTP when `CARESERVICE_SMTP_URL` is set
//! (smtp://, or smtps:// for TLS); otherwise written to the log, bodies
//! included only in the demo (`CARESERVICE_DEMO_MAIL=1`), since they carry
//! reset and invitation tokens. Addresses and bodies are sealed in the
//! outbox and opened only to be sent.

use std::time::Duration;

use diesel::sql_types::{Integer, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use super::sealing::mail_place;
use crate::privacy::keys::Keyring;
use crate::tenancy::TenancyPool;

/// A mail is given up after this many failed attempts (kept for inspection).
const MAX_ATTEMPTS: i32 = 5;

/// How mail leaves.
#[derive(Clone)]
pub enum MailTransport {
    /// No mail server: the log.
    Log { show_bodies: bool },
    /// An SMTP server.
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
}

impl MailTransport {
    /// SMTP at `smtp_url` from `from`, or the log when there is no URL.
    pub fn new(smtp_url: Option<&str>, from: &str) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Self::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build(),
                from: from.parse()?,
            }),
            None => Ok(Self::Log { show_bodies: std::env::var("CARESERVICE_DEMO_MAIL").is_ok_and(|v| v == "1") }),
        }
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        match self {
            Self::Log { show_bodies: true } => {
                tracing::info!(mail.to = %to, mail.subject = %subject, mail.body = %body, "demo mail");
                Ok(())
            }
            Self::Log { show_bodies: false } => {
                tracing::warn!(mail.to = %to, mail.subject = %subject, "mail not delivered: no SMTP server is configured");
                Ok(())
            }
            Self::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(to.parse().map_err(|e| format!("bad recipient: {e}"))?)
                    .subject(subject)
                    .body(body.to_owned())
                    .map_err(|e| e.to_string())?;
                transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Mail {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    to_address: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    body: String,
}

/// Claims up to 50 pending mails (SKIP LOCKED: several instances never take
/// the same one); a failed send puts the mail back with its error.
const CLAIM_SQL: &str = "
UPDATE hq.mail_outbox SET sent_at = now(), attempts = attempts + 1
 WHERE id IN (SELECT id FROM hq.mail_outbox WHERE sent_at IS NULL AND attempts < $1
               ORDER BY created_at LIMIT 50 FOR UPDATE SKIP LOCKED)
RETURNING id, to_address, subject, body";

/// Delivers pending mail; returns how many went out.
pub async fn deliver_pending(pool: &TenancyPool, transport: &MailTransport, keys: &Keyring) -> anyhow::Result<usize> {
    let claimed: Vec<Mail> = {
        let mut conn = pool.hq().await?;
        diesel::sql_query(CLAIM_SQL).bind::<Integer, _>(MAX_ATTEMPTS).load(&mut *conn).await?
    };
    let mut sent = 0;
    for mail in &claimed {
        let row = mail.id.to_string();
        let opened = keys
            .open(&mail.to_address, &mail_place("to_address", &row))
            .and_then(|to| Ok((to, keys.open(&mail.body, &mail_place("body", &row))?)));
        let outcome = match &opened {
            Ok((to, body)) => transport.send(to, &mail.subject, body).await,
            // Its key is gone: it fails like an unreachable server would,
            // and is given up after the last attempt.
            Err(error) => Err(format!("the sealed mail does not open: {error}")),
        };
        match outcome {
            Ok(()) => sent += 1,
            Err(error) => {
                tracing::warn!(mail.id = %mail.id, %error, "mail delivery failed; it will be retried");
                let mut conn = pool.hq().await?;
                diesel::sql_query("UPDATE hq.mail_outbox SET sent_at = NULL, last_error = $2 WHERE id = $1")
                    .bind::<SqlUuid, _>(mail.id)
                    .bind::<Text, _>(&error)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(sent)
}

/// Delivers the outbox every second until the process ends.
pub async fn run_delivery(pool: TenancyPool, transport: MailTransport, keys: Keyring) {
    loop {
        if let Err(error) = deliver_pending(&pool, &transport, &keys).await {
            tracing::warn!(%error, "mail delivery failed");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
