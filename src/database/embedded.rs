//! The embedded default: a private PostgreSQL cluster in the data directory,
//! made with the machine's own `initdb` on first use, listening only on a Unix
//! socket inside that directory (no TCP port), reachable by this OS user only.
//!
//! PostgreSQL refuses to run as root; run as root, the cluster belongs to the
//! unprivileged `postgres` user that PostgreSQL's packages create.
//!
//! One process owns the cluster: the one holding an exclusive lock on
//! `DATA_DIR/owner.lock` ([`EmbeddedCluster::try_own`]). Only the owner stops
//! it. The kernel drops the lock when its holder dies, even by SIGKILL, while
//! the postmaster (detached by `pg_ctl`) keeps running; the next process to
//! take the lock adopts that postmaster and stops it when it exits. The
//! lock's file descriptor is close-on-exec, so the postmaster never inherits it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{Context, bail};
use tokio::process::Command;
use tokio_postgres::NoTls;

use super::url::socket_url;

/// The port number in the socket's name; nothing listens on TCP.
const SOCKET_PORT: u16 = 5432;
/// The cluster's superuser, used only to create the application's role.
const SUPERUSER: &str = "postgres";
/// The application's login role and database in the embedded cluster.
const APP_ROLE: &str = "careservice";
const APP_DATABASE: &str = "careservice";

/// A private cluster under `DATA_DIR/pgdata`, with its socket in `DATA_DIR/run`.
pub struct EmbeddedCluster {
    bin_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    owner_lock: PathBuf,
    run_as: Option<nix::unistd::User>,
}

/// The right to stop the cluster, held until dropped (or the process dies).
pub struct Ownership {
    _lock: File,
}

impl EmbeddedCluster {
    /// Finds the PostgreSQL binaries and lays out the cluster's directories.
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir().ok_or_else(missing_binaries)?;
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name(SUPERUSER)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "PostgreSQL refuses to run as root and there is no unprivileged 'postgres' user: \
                     create one (useradd --system postgres) or run careservice as a normal user"
                )
            })?;
            Some(user)
        } else {
            None
        };
        let cluster = Self {
            bin_dir,
            pgdata: data_dir.join("pgdata"),
            socket_dir: data_dir.join("run"),
            owner_lock: data_dir.join("owner.lock"),
            run_as,
        };
        let socket = cluster.socket_dir.join(format!(".s.PGSQL.{SOCKET_PORT}"));
        if socket.as_os_str().len() > 100 {
            bail!(
                "the data directory's path is too long for a Unix socket ({}): choose a shorter --data-dir",
                socket.display()
            );
        }
        Ok(cluster)
    }

    /// Takes the ownership of the cluster, unless another live process holds
    /// it. The lock file names the owner's process id, for a reader.
    pub fn try_own(&self) -> anyhow::Result<Option<Ownership>> {
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.owner_lock)
            .with_context(|| format!("cannot open {}", self.owner_lock.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", self.owner_lock.display()));
            }
        }
        lock.set_len(0)?;
        writeln!(lock, "{}", std::process::id())?;
        Ok(Some(Ownership { _lock: lock }))
    }

    /// Whether the cluster's postmaster is running.
    pub async fn is_running(&self) -> anyhow::Result<bool> {
        Ok(self.pg_ctl(&["status"]).await?.status.success())
    }

    /// Starts the cluster (creating it on first use). Returns false when it was
    /// already running, started by another careservice process.
    pub async fn ensure_running(&self) -> anyhow::Result<bool> {
        if !self.pgdata.join("PG_VERSION").exists() {
            self.init().await?;
        }
        if self.is_running().await? {
            return Ok(false);
        }
        let log = self.pgdata.join("server.log");
        let log = log.to_string_lossy();
        let output = self.pg_ctl(&["-l", &log, "-w", "-t", "60", "start"]).await?;
        if !output.status.success() {
            // Another careservice process found it down at the same moment
            // and started it first.
            if self.is_running().await? {
                return Ok(false);
            }
            bail!(
                "the embedded PostgreSQL did not start ({}); see {log}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        tracing::info!(pgdata = %self.pgdata.display(), "embedded PostgreSQL started");
        Ok(true)
    }

    /// Makes sure the application's role and database exist; returns the URL
    /// to connect with.
    pub async fn bootstrap(&self) -> anyhow::Result<String> {
        let admin_url = socket_url(&self.socket_dir, SOCKET_PORT, SUPERUSER, "postgres");
        let (client, connection) =
            tokio_postgres::connect(&admin_url, NoTls).await.context("cannot connect to the embedded PostgreSQL")?;
        let driver = tokio::spawn(connection);
        // NOINHERIT: the login role holds no privilege of the roles it may become.
        client
            .batch_execute(&format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                     CREATE ROLE {APP_ROLE} LOGIN NOINHERIT CREATEROLE;
                   END IF;
                 END $$;"
            ))
            .await?;
        let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&APP_DATABASE]).await?;
        drop(client);
        driver.abort();
        if exists.is_none() {
            self.create_app_database().await?;
        }
        Ok(socket_url(&self.socket_dir, SOCKET_PORT, APP_ROLE, APP_DATABASE))
    }

    /// Creates the application's database. Its role is NOINHERIT, so it does
    /// not inherit pg_database_owner's rights on schema public, where diesel
    /// keeps its migration table: it gets them directly.
    async fn create_app_database(&self) -> anyhow::Result<()> {
        let admin_url = socket_url(&self.socket_dir, SOCKET_PORT, SUPERUSER, "postgres");
        let (client, connection) = tokio_postgres::connect(&admin_url, NoTls).await?;
        let driver = tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")).await?;
        drop(client);
        driver.abort();
        let app_url = socket_url(&self.socket_dir, SOCKET_PORT, SUPERUSER, APP_DATABASE);
        let (client, connection) = tokio_postgres::connect(&app_url, NoTls).await?;
        let driver = tokio::spawn(connection);
        client.batch_execute(&format!("GRANT USAGE, CREATE ON SCHEMA public TO {APP_ROLE}")).await?;
        drop(client);
        driver.abort();
        Ok(())
    }

    /// Stops the cluster, letting running queries finish quickly; a cluster
    /// that is not running (stopped by hand) is left as it is.
    pub async fn stop(&self) -> anyhow::Result<()> {
        if !self.is_running().await? {
            return Ok(());
        }
        let output = self.pg_ctl(&["-m", "fast", "-w", "stop"]).await?;
        if !output.status.success() {
            bail!("the embedded PostgreSQL did not stop: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    async fn init(&self) -> anyhow::Result<()> {
        for dir in [&self.pgdata, &self.socket_dir] {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        if let Some(user) = &self.run_as {
            self.hand_over_to(user)?;
        }
        let pgdata = self.pgdata.to_string_lossy();
        let output = self
            .command("initdb")
            .args(["-D", &pgdata, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale"])
            .output()
            .await
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        let settings = format!(
            "\n# careservice: a private cluster, reachable on its socket only\n\
             listen_addresses = ''\n\
             port = {SOCKET_PORT}\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n",
            self.socket_dir.to_string_lossy().replace('\'', "''")
        );
        let conf = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str(&settings);
        std::fs::write(&conf, text)?;
        tracing::info!(pgdata = %self.pgdata.display(), "embedded PostgreSQL cluster created");
        Ok(())
    }

    /// As root: gives the cluster's directories to the unprivileged user and
    /// checks that it can reach them.
    fn hand_over_to(&self, user: &nix::unistd::User) -> anyhow::Result<()> {
        for dir in [&self.pgdata, &self.socket_dir] {
            nix::unistd::chown(dir.as_path(), Some(user.uid), Some(user.gid))?;
        }
        let mut ancestor = self.pgdata.parent();
        while let Some(dir) = ancestor {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o001 == 0 {
                if dir == self.pgdata.parent().unwrap_or(dir) {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o711))?;
                } else {
                    bail!(
                        "the user 'postgres' cannot reach {} (mode {:o}): choose a --data-dir outside it",
                        dir.display(),
                        mode & 0o777
                    );
                }
            }
            ancestor = dir.parent();
        }
        Ok(())
    }

    async fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<Output> {
        let pgdata = self.pgdata.to_string_lossy();
        self.command("pg_ctl").args(["-D", &pgdata]).args(args).output().await.context("cannot run pg_ctl")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some(user) = &self.run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw()).current_dir("/");
        }
        command
    }
}

/// The directory of `initdb` and `pg_ctl`: on PATH, else the newest
/// /usr/lib/postgresql/*/bin.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn missing_binaries() -> anyhow::Error {
    anyhow::anyhow!(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found on PATH or in \
         /usr/lib/postgresql/*/bin. Install them: `apt-get install postgresql` on Debian or \
         Ubuntu, `dnf install postgresql-server` on Fedora, `brew install postgresql@16` on macOS; \
         or set DATABASE_URL to use a server you already have."
    )
}
