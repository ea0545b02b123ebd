//! Cross-instance cache invalidation: every instance LISTENs on the channel a
//! trigger on hq's registry notifies, and forgets its host cache when told.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::resolver::TerritoryResolver;

/// The channel hq's registry triggers notify.
pub const CHANNEL: &str = "careservice_territories";

/// Listens until the process ends, reconnecting after failures. While it is
/// disconnected nothing is cached for long: it forgets everything on every
/// (re)connection, so no change made meanwhile is missed.
pub async fn listen_for_changes(database_url: String, resolver: Arc<TerritoryResolver>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&database_url, &resolver).await {
            Ok(()) => tracing::warn!("territory change listener lost its connection"),
            Err(error) => tracing::warn!(%error, "territory change listener failed"),
        }
        resolver.invalidate_all();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen_once(
    database_url: &str,
    resolver: &TerritoryResolver,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let (sender, mut notifications) = futures::channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if sender.unbounded_send(()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    resolver.invalidate_all();
    tracing::debug!("listening for territory changes");
    while notifications.next().await.is_some() {
        resolver.invalidate_all();
    }
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
