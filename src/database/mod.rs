//! Reaching PostgreSQL: the server named by `DATABASE_URL`, or the private
//! cluster in the data directory; and the hq migrations.

pub mod embedded;
pub mod migrations;
pub mod url;

use std::path::Path;

use crate::config::DatabaseSource;
use embedded::{EmbeddedCluster, Ownership};

/// An open database: its URL, and the private cluster if this process owns it.
pub struct Database {
    url: String,
    owned_cluster: Option<(EmbeddedCluster, Ownership)>,
}

impl Database {
    /// For every command but `serve`: uses `DATABASE_URL`, or attaches to the
    /// embedded cluster, starting it if it is down. It never stops the
    /// cluster, which may be serving a `careservice serve` started since; the
    /// owner (the next `serve`) adopts it and stops it.
    pub async fn open(source: &DatabaseSource) -> anyhow::Result<Self> {
        match source {
            DatabaseSource::Url(url) => Ok(Self { url: url.clone(), owned_cluster: None }),
            DatabaseSource::Embedded { data_dir } => open_embedded(data_dir, false).await,
        }
    }

    /// For `careservice serve`: like [`Database::open`], but the first
    /// `serve` on a data directory owns its embedded cluster: it starts it,
    /// or adopts one already running (left by an owner that was killed, or
    /// started by another command), and stops it on [`Database::close`]. A
    /// `serve` that finds another owner alive attaches like any command.
    pub async fn open_as_owner(source: &DatabaseSource) -> anyhow::Result<Self> {
        match source {
            DatabaseSource::Url(url) => Ok(Self { url: url.clone(), owned_cluster: None }),
            DatabaseSource::Embedded { data_dir } => open_embedded(data_dir, true).await,
        }
    }

    /// The URL the application connects with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the private cluster if this process owns it.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some((cluster, _ownership)) = self.owned_cluster {
            cluster.stop().await?;
        }
        Ok(())
    }
}

async fn open_embedded(data_dir: &Path, as_owner: bool) -> anyhow::Result<Database> {
    let cluster = EmbeddedCluster::new(data_dir)?;
    let ownership = if as_owner { cluster.try_own()? } else { None };
    if as_owner && ownership.is_none() {
        tracing::info!("another careservice serve owns the embedded PostgreSQL: attaching, it stops it");
    }
    let started = cluster.ensure_running().await?;
    match (&ownership, started) {
        (Some(_), false) => tracing::info!("adopted the running embedded PostgreSQL; it stops when this server does"),
        (None, true) => tracing::warn!(
            pgdata = %data_dir.join("pgdata").display(),
            "started the embedded PostgreSQL; it keeps running after this command (careservice serve adopts it and stops it on exit)"
        ),
        _ => {}
    }
    let url = cluster.bootstrap().await?;
    Ok(Database { url, owned_cluster: ownership.map(|ownership| (cluster, ownership)) })
}

/// What is wrong with the login role for tenant isolation: a superuser or an
/// INHERIT role holds, by itself, privileges of the roles it switches to.
pub async fn login_role_problems(database_url: &str) -> anyhow::Result<Vec<String>> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let row = client
        .query_one("SELECT rolname::text, rolsuper, rolinherit FROM pg_roles WHERE rolname = current_user", &[])
        .await?;
    drop(client);
    driver.abort();
    let (name, superuser, inherit): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    let mut problems = Vec::new();
    if superuser {
        problems.push(format!("the login role {name} is a superuser: it bypasses every tenant's privileges"));
    }
    if inherit {
        problems.push(format!(
            "the login role {name} is INHERIT: it holds every territory role's privileges by itself (ALTER ROLE {name} NOINHERIT)"
        ));
    }
    Ok(problems)
}
