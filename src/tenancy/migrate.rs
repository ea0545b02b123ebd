//! Tenant migrations: bring every tenant schema to the latest template step.
//!
//! hq records each territory's version, so a run with nothing to do finds out
//! with one indexed query however many territories there are. A real run takes
//! one transaction per territory (with a lock timeout, so a busy table makes
//! that territory fail fast instead of queueing the API behind it), fans out
//! with bounded concurrency and reports per territory; a failed territory keeps
//! its old version and the next run resumes with it.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::StreamExt;
use scoped_futures::ScopedFutureExt;
use serde::Serialize;

use super::connection::{ConnectionFailure, TenancyPool, set_config};
use super::model::{Territory, TerritoryRow, TerritoryStatus};
use super::sql::quote_ident;
use super::templates::{Step, Steps};
use crate::schema::tenant::template_steps;
use crate::schema::{tenant_template_steps, territories};

/// Why a migration could not run or failed for a territory.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "tenant template {name} was changed after it was applied (recorded sha256 {recorded}, this binary has {embedded}): add a new step instead of editing an applied one"
    )]
    ChangedStep { name: String, recorded: String, embedded: String },
    #[error("the schema is at version {found}, newer than this binary's {latest}: run a newer careservice")]
    Ahead { found: i32, latest: i32 },
    #[error(transparent)]
    Connection(#[from] ConnectionFailure),
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Territories migrated at once.
    pub concurrency: usize,
    /// How long a territory waits for a lock before it fails (and is retried next run).
    pub lock_timeout: Duration,
    /// Only this territory, or all of them.
    pub only: Option<String>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self { concurrency: 4, lock_timeout: Duration::from_secs(5), only: None }
    }
}

/// What happened to one territory.
#[derive(Debug, Clone, Serialize)]
pub struct TerritoryMigration {
    pub slug: String,
    pub from_version: i32,
    pub to_version: Option<i32>,
    pub error: Option<String>,
    pub millis: u64,
}

/// Checks the embedded steps against the checksums hq recorded, then records
/// the new ones. A step edited after it shipped is an error, not a skip.
pub async fn check_step_ledger(conn: &mut AsyncPgConnection, steps: &Steps) -> Result<(), MigrateError> {
    let recorded: Vec<(i32, String, String)> = tenant_template_steps::table
        .select((tenant_template_steps::version, tenant_template_steps::name, tenant_template_steps::checksum))
        .load(conn)
        .await?;
    for (version, name, checksum) in &recorded {
        check_applied(steps, *version, checksum).inspect_err(|_| {
            tracing::warn!(step = %name, "hq records a tenant step this binary disagrees with");
        })?;
    }
    let new_rows: Vec<_> = steps
        .after(recorded.len().try_into().unwrap_or(i32::MAX))
        .iter()
        .map(|step| {
            (
                tenant_template_steps::version.eq(step.version),
                tenant_template_steps::name.eq(&step.name),
                tenant_template_steps::checksum.eq(&step.checksum),
            )
        })
        .collect();
    if !new_rows.is_empty() {
        diesel::insert_into(tenant_template_steps::table)
            .values(new_rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Territories below `latest` (one indexed query); archived ones are not served
/// and stay as they are.
pub async fn pending_territories(
    conn: &mut AsyncPgConnection,
    latest: i32,
    only: Option<&str>,
) -> QueryResult<Vec<Territory>> {
    let mut query = territories::table
        .filter(territories::schema_version.lt(latest))
        .filter(territories::status.ne(TerritoryStatus::Archived.as_str()))
        .select(TerritoryRow::as_select())
        .order(territories::id)
        .into_boxed();
    if let Some(slug) = only {
        query = query.filter(territories::slug.eq(slug.to_owned()));
    }
    Ok(query.load(conn).await?.into_iter().map(Territory::from).collect())
}

/// Migrates every pending territory (or `options.only`), calling `on_result`
/// as each finishes.
pub async fn migrate_all(
    pool: &TenancyPool,
    steps: &Steps,
    options: &MigrateOptions,
    mut on_result: impl FnMut(&TerritoryMigration, usize),
) -> Result<Vec<TerritoryMigration>, MigrateError> {
    let pending = {
        let mut conn = pool.owner().await?;
        check_step_ledger(&mut conn, steps).await?;
        pending_territories(&mut conn, steps.latest(), options.only.as_deref()).await?
    };
    let total = pending.len();
    let mut results = Vec::with_capacity(total);
    let mut runs = futures::stream::iter(pending)
        .map(|territory| async move {
            let started = Instant::now();
            let outcome = migrate_territory(pool, steps, &territory, options.lock_timeout).await;
            TerritoryMigration {
                slug: territory.slug.clone(),
                from_version: territory.schema_version,
                to_version: outcome.as_ref().ok().copied(),
                error: outcome.err().map(|error| error.to_string()),
                millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(result) = runs.next().await {
        match &result.error {
            None => {
                tracing::info!(territory = %result.slug, to = ?result.to_version, "territory migrated")
            }
            Some(error) => {
                tracing::warn!(territory = %result.slug, %error, "territory migration failed")
            }
        }
        on_result(&result, total);
        results.push(result);
    }
    Ok(results)
}

/// Brings one territory to the latest step in one transaction; returns the
/// version it reached.
pub async fn migrate_territory(
    pool: &TenancyPool,
    steps: &Steps,
    territory: &Territory,
    lock_timeout: Duration,
) -> Result<i32, MigrateError> {
    let mut conn = pool.owner().await?;
    let search_path = quote_ident(&territory.schema_name);
    let lock_timeout = format!("{}ms", lock_timeout.as_millis());
    let territory_id = territory.id;
    conn.transaction::<_, MigrateError, _>(|conn| {
        async move {
            diesel::select((
                set_config("search_path", &search_path, true),
                set_config("lock_timeout", &lock_timeout, true),
            ))
            .execute(conn)
            .await?;
            // Serialises concurrent runs on this territory; the ledger read
            // below then sees what the other run committed.
            territories::table.find(territory_id).select(territories::id).for_update().execute(conn).await?;
            let applied: Vec<(i32, String)> = template_steps::table
                .select((template_steps::version, template_steps::checksum))
                .order(template_steps::version)
                .load(conn)
                .await?;
            for (version, checksum) in &applied {
                check_applied(steps, *version, checksum)?;
            }
            let current = applied.last().map_or(0, |(version, _)| *version);
            apply_steps(conn, steps.after(current)).await?;
            diesel::update(territories::table.find(territory_id))
                .set(territories::schema_version.eq(steps.latest()))
                .execute(conn)
                .await?;
            Ok(steps.latest())
        }
        .scope_boxed()
    })
    .await
}

/// An applied step must be in this binary with the same checksum.
fn check_applied(steps: &Steps, version: i32, checksum: &str) -> Result<(), MigrateError> {
    match steps.all().iter().find(|step| step.version == version) {
        Some(step) if step.checksum != checksum => Err(MigrateError::ChangedStep {
            name: step.name.clone(),
            recorded: checksum.to_owned(),
            embedded: step.checksum.clone(),
        }),
        Some(_) => Ok(()),
        None => Err(MigrateError::Ahead { found: version, latest: steps.latest() }),
    }
}

/// Runs `steps` in the schema on the search_path and records them. The caller
/// holds the transaction and the owner role.
pub(crate) async fn apply_steps(conn: &mut AsyncPgConnection, steps: &[Step]) -> QueryResult<()> {
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS template_steps (
             version integer PRIMARY KEY,
             name text NOT NULL,
             checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    if steps.is_empty() {
        return Ok(());
    }
    for step in steps {
        conn.batch_execute(&step.sql).await?;
    }
    let rows: Vec<_> = steps
        .iter()
        .map(|step| {
            (
                template_steps::version.eq(step.version),
                template_steps::name.eq(&step.name),
                template_steps::checksum.eq(&step.checksum),
            )
        })
        .collect();
    diesel::insert_into(template_steps::table).values(rows).execute(conn).await?;
    Ok(())
}
