//! Cross-instance cache invalidation: every instance LISTENs on the channels
//! that triggers in the database NOTIFY (registry changes, catalog changes)
//! and tells the caches that subscribed to them.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel hq's registry triggers notify.
pub const TERRITORIES_CHANNEL: &str = "careservice_territories";
/// The channel catalog triggers notify; the payload is '*' or a tenant schema.
pub const CATALOG_CHANNEL: &str = "careservice_catalog";

/// What to do when a channel is notified, given the payload. It is also
/// called with "*" on every (re)connection, since changes made while the
/// listener was away were not heard.
pub type ChangeHandler = Arc<dyn Fn(&str) + Send + Sync>;

/// Listens until the process ends, reconnecting after failures.
pub async fn listen_for_changes(database_url: String, subscriptions: Vec<(&'static str, ChangeHandler)>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&database_url, &subscriptions).await {
            Ok(()) => tracing::warn!("change listener lost its connection"),
            Err(error) => tracing::warn!(%error, "change listener failed"),
        }
        forget_everything(&subscriptions);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn forget_everything(subscriptions: &[(&'static str, ChangeHandler)]) {
    for (_, handler) in subscriptions {
        handler("*");
    }
}

async fn listen_once(
    database_url: &str,
    subscriptions: &[(&'static str, ChangeHandler)],
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let (sender, mut notifications) = futures::channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    let event = (notification.channel().to_owned(), notification.payload().to_owned());
                    if sender.unbounded_send(event).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    });
    let mut channels: Vec<&str> = subscriptions.iter().map(|(channel, _)| *channel).collect();
    channels.dedup();
    let listen: String = channels.iter().map(|channel| format!("LISTEN {channel};")).collect();
    client.batch_execute(&listen).await?;
    forget_everything(subscriptions);
    tracing::debug!(?channels, "listening for changes");
    while let Some((channel, payload)) = notifications.next().await {
        for (subscribed, handler) in subscriptions {
            if *subscribed == channel {
                handler(&payload);
            }
        }
    }
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
