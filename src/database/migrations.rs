//! The hq schema's migrations, embedded in the binary and run without libpq
//! through diesel-async's connection wrapper on a blocking thread.

use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const HQ_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies pending hq migrations; returns the versions applied.
pub async fn migrate_hq(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        let applied = conn
            .run_pending_migrations(HQ_MIGRATIONS)
            .map_err(|error| anyhow::anyhow!("hq migration failed: {error}"))?;
        Ok(applied.into_iter().map(|version| version.to_string()).collect())
    })
    .await?
}
