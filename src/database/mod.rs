//! Reaching PostgreSQL: the server named by `DATABASE_URL`, or the private
//! cluster in the data directory; and the hq migrations.

pub mod embedded;
pub mod migrations;
pub mod url;

use crate::config::DatabaseSource;
use embedded::EmbeddedCluster;

/// An open database: its URL, and the private cluster if this process started it.
pub struct Database {
    url: String,
    started_cluster: Option<EmbeddedCluster>,
}

impl Database {
    /// Uses `DATABASE_URL`, or the embedded cluster, starting it if it is not
    /// already running (for instance under `careservice serve`).
    pub async fn open(source: &DatabaseSource) -> anyhow::Result<Self> {
        match source {
            DatabaseSource::Url(url) => Ok(Self { url: url.clone(), started_cluster: None }),
            DatabaseSource::Embedded { data_dir } => {
                let cluster = EmbeddedCluster::new(data_dir)?;
                let started = cluster.ensure_running().await?;
                let url = cluster.bootstrap().await?;
                Ok(Self { url, started_cluster: started.then_some(cluster) })
            }
        }
    }

    /// The URL the application connects with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the private cluster if this process started it.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(cluster) = self.started_cluster {
            cluster.stop().await?;
        }
        Ok(())
    }
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
