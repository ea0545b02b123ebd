//! The territory-bound connection: the only way code reaches tenant data.
//!
//! Every pooled connection remembers what it is bound to (a territory's schema
//! and role, hq, or the schema owner). Handing one out for a binding it already
//! has costs nothing; switching costs one statement, sent outside any
//! transaction so that a later rollback cannot undo it. The binding is a session
//! `ROLE`, so the database itself refuses another territory's schema; the login
//! role is `NOINHERIT` and holds no privilege on any tenant schema by itself.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult};
use diesel::ConnectionError;
use diesel::sql_types::{Bool, Text};
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::model::Territory;
use super::sql::quote_ident;

diesel::define_sql_function! {
    /// PostgreSQL's `set_config(name, value, is_local)`.
    fn set_config(name: Text, value: Text, is_local: Bool) -> Text;
}

/// The role that owns hq and every tenant schema; migrations run as it.
pub const OWNER_ROLE: &str = "careservice_owner";
/// The role of HQ requests: hq's tables, no tenant schema.
pub const HQ_ROLE: &str = "careservice_hq";
/// The group every territory's role is in: read access to HQ's catalog.
pub const TENANT_GROUP_ROLE: &str = "careservice_tenant";

/// What a connection is bound to: a search_path and a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    role: Arc<str>,
    search_path: Arc<str>,
}

impl Binding {
    /// A territory: its schema then hq, as its own role.
    pub fn territory(territory: &Territory) -> Self {
        Self {
            role: territory.role_name.as_str().into(),
            search_path: format!("{}, hq", quote_ident(&territory.schema_name)).into(),
        }
    }

    /// HQ requests: schema hq, as the HQ role.
    pub fn hq() -> Self {
        Self { role: HQ_ROLE.into(), search_path: "hq".into() }
    }

    /// Onboarding and migrations: schema hq, as the owner of every schema.
    pub fn owner() -> Self {
        Self { role: OWNER_ROLE.into(), search_path: "hq".into() }
    }

    /// The role this binding runs as.
    pub fn role(&self) -> &str {
        &self.role
    }
}

/// A pooled connection and the binding it currently has.
pub struct TrackedConnection {
    connection: AsyncPgConnection,
    binding: Option<Binding>,
}

/// The pool hook: opens connections, recycles healthy ones, and forgets
/// connections left inside a transaction (a panic or a cancelled request).
pub struct BindingManager {
    database_url: String,
    max_lifetime: Duration,
}

impl managed::Manager for BindingManager {
    type Type = TrackedConnection;
    type Error = ConnectionError;

    async fn create(&self) -> Result<TrackedConnection, ConnectionError> {
        let connection = AsyncPgConnection::establish(&self.database_url).await?;
        Ok(TrackedConnection { connection, binding: None })
    }

    async fn recycle(&self, tracked: &mut TrackedConnection, metrics: &Metrics) -> RecycleResult<ConnectionError> {
        // Open transaction or transaction error: the handler never finished.
        if tracked.connection.is_broken() {
            return Err(RecycleError::message("connection left in a transaction or closed"));
        }
        // Each backend caches the catalog of every schema it touched; a bounded
        // lifetime keeps that memory bounded with thousands of territories.
        if metrics.age() > self.max_lifetime {
            return Err(RecycleError::message("connection reached its maximum lifetime"));
        }
        Ok(())
    }
}

/// Why no bound connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionFailure {
    /// The pool had no connection in time or the database did not answer.
    #[error("database unavailable: {0}")]
    Unavailable(#[from] PoolError<ConnectionError>),
    /// The connection could not take the binding (a dropped role, a lost server).
    #[error("could not bind the connection: {0}")]
    Bind(#[from] diesel::result::Error),
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: usize,
    /// How long a request waits for a free connection before a 503.
    pub wait_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// A connection is closed after this long, whatever it served.
    pub max_lifetime: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_lifetime: Duration::from_secs(30 * 60),
        }
    }
}

/// The application's pool. It hands out only bound connections.
#[derive(Clone)]
pub struct TenancyPool {
    pool: Pool<BindingManager>,
}

impl TenancyPool {
    /// Builds a pool on `database_url`; no connection is opened yet.
    pub fn new(database_url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        let manager = BindingManager { database_url: database_url.to_owned(), max_lifetime: settings.max_lifetime };
        let pool = Pool::builder(manager)
            .max_size(settings.max_size)
            .wait_timeout(Some(settings.wait_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.connect_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()?;
        Ok(Self { pool })
    }

    /// A connection bound to `territory`: its schema, then hq, as its role.
    pub async fn territory(&self, territory: &Territory) -> Result<BoundConnection, ConnectionFailure> {
        self.bound(Binding::territory(territory)).await
    }

    /// A connection bound to hq as the HQ role.
    pub async fn hq(&self) -> Result<BoundConnection, ConnectionFailure> {
        self.bound(Binding::hq()).await
    }

    /// A connection bound as the owner of every schema, for onboarding and migrations.
    pub async fn owner(&self) -> Result<BoundConnection, ConnectionFailure> {
        self.bound(Binding::owner()).await
    }

    /// Open connections and idle ones, for readiness and metrics.
    pub fn status(&self) -> deadpool::Status {
        self.pool.status()
    }

    async fn bound(&self, binding: Binding) -> Result<BoundConnection, ConnectionFailure> {
        let mut object = self.pool.get().await?;
        if object.binding.as_ref() != Some(&binding) {
            // Unknown until the statement succeeds: a failure or a cancellation
            // half-way leaves a connection that the next checkout rebinds.
            object.binding = None;
            diesel::select((
                set_config("search_path", binding.search_path.as_ref(), false),
                set_config("role", binding.role.as_ref(), false),
            ))
            .execute(&mut object.connection)
            .await?;
            object.binding = Some(binding);
        }
        Ok(BoundConnection { object })
    }
}

/// A pooled connection bound to one territory, hq or the owner, for as long as
/// it is held. It dereferences to the diesel connection.
pub struct BoundConnection {
    object: Object<BindingManager>,
}

impl BoundConnection {
    /// The binding this connection serves.
    pub fn binding(&self) -> Option<&Binding> {
        self.object.binding.as_ref()
    }
}

impl Deref for BoundConnection {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        &self.object.connection
    }
}

impl DerefMut for BoundConnection {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.object.connection
    }
}
