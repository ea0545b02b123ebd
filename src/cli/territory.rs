//! `careservice migrate` and `careservice territory ...`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::EXIT_ALREADY_EXISTS;
use super::args::{CreateArgs, GlobalArgs, MigrateArgs, TerritoryCommand};
use crate::database::Database;
use crate::database::migrations::migrate_hq;
use crate::identity::sealing::seal_stored_rows_at;
use crate::tenancy::connection::PoolSettings;
use crate::tenancy::migrate::{MigrateOptions, TerritoryMigration, migrate_all};
use crate::tenancy::provision::{ProvisionError, drop_archived, provision};
use crate::tenancy::request::OnboardingRequest;
use crate::tenancy::templates::Steps;
use crate::tenancy::verify::verify_all;
use crate::tenancy::{TenancyPool, Territory, TerritoryStatus, store};

/// `careservice migrate`: hq, then every territory.
pub async fn migrate_everything(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let keys = global.keyring()?;
    let database = Database::open(&global.database_source()).await?;
    let outcome = migrate_on(database.url(), true).await;
    let sealed = match &outcome {
        Ok(_) => seal_stored_rows_at(database.url(), &keys).await.map(Some),
        Err(_) => Ok(None),
    };
    database.close().await?;
    if let Some(rows) = sealed? {
        println!("hq: {rows} invitation and mail row(s) sealed");
    }
    Ok(if outcome? == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Applies hq migrations and migrates every territory; returns how many failed.
pub async fn migrate_on(database_url: &str, verbose: bool) -> anyhow::Result<usize> {
    let applied = migrate_hq(database_url).await?;
    if verbose {
        println!("hq: {} migration(s) applied", applied.len());
    }
    let pool = TenancyPool::new(database_url, &PoolSettings { max_size: 5, ..PoolSettings::default() })?;
    let steps = Steps::embedded()?;
    let results = migrate_all(&pool, &steps, &MigrateOptions::default(), |result, _| {
        if verbose {
            print_migration(result);
        }
    })
    .await?;
    Ok(results.iter().filter(|result| result.error.is_some()).count())
}

/// Runs a `territory` subcommand against the configured database.
pub async fn run(global: &GlobalArgs, command: TerritoryCommand) -> anyhow::Result<ExitCode> {
    let database = Database::open(&global.database_source()).await?;
    let outcome = run_on(global, database.url(), command).await;
    database.close().await?;
    outcome
}

async fn run_on(global: &GlobalArgs, database_url: &str, command: TerritoryCommand) -> anyhow::Result<ExitCode> {
    migrate_hq(database_url).await?;
    let concurrency = match &command {
        TerritoryCommand::Migrate(args) => usize::from(args.concurrency),
        _ => 1,
    };
    let pool = TenancyPool::new(database_url, &PoolSettings { max_size: concurrency + 1, ..PoolSettings::default() })?;
    let steps = Steps::embedded()?;
    match command {
        TerritoryCommand::Create(args) => create(global, &pool, &steps, &args).await,
        TerritoryCommand::Import { file, json } => import(global, &pool, &steps, &file, json).await,
        TerritoryCommand::List { json } => list(&pool, json).await,
        TerritoryCommand::Show { slug, json } => show(&pool, &slug, json).await,
        TerritoryCommand::Suspend { slug } => {
            change_status(&pool, &slug, &[TerritoryStatus::Active], TerritoryStatus::Suspended).await
        }
        TerritoryCommand::Resume { slug } => {
            change_status(&pool, &slug, &[TerritoryStatus::Suspended], TerritoryStatus::Active).await
        }
        TerritoryCommand::Archive { slug } => {
            let from = [TerritoryStatus::Active, TerritoryStatus::Suspended];
            change_status(&pool, &slug, &from, TerritoryStatus::Archived).await
        }
        TerritoryCommand::Drop { slug, yes } => drop(&pool, &slug, yes).await,
        TerritoryCommand::Migrate(args) => migrate(&pool, &steps, &args).await,
        TerritoryCommand::Verify { json } => verify(&pool, &steps, json).await,
    }
}

async fn create(global: &GlobalArgs, pool: &TenancyPool, steps: &Steps, args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let request = OnboardingRequest {
        slug: args.slug.clone(),
        name: args.name.clone(),
        timezone: Some(args.timezone.clone()),
        locale: Some(args.locale.clone()),
        franchise_rate: args.franchise_rate,
        hq_rate: args.hq_rate,
        contract_from: args.contract_from,
        domains: args.domains.clone(),
    };
    let new = request.validate(&global.base_domain).map_err(anyhow::Error::msg)?;
    match provision(pool, steps, &new, None).await {
        Ok(territory) => {
            print_territory(pool, &territory, args.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ ProvisionError::SlugTaken(_)) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(EXIT_ALREADY_EXISTS))
        }
        Err(error) => Err(error.into()),
    }
}

/// A row of an onboarding CSV file; empty cells take the defaults.
#[derive(Debug, Deserialize)]
struct OnboardingRow {
    slug: String,
    name: String,
    timezone: Option<String>,
    locale: Option<String>,
    franchise_rate: Option<Decimal>,
    hq_rate: Option<Decimal>,
}

impl OnboardingRow {
    fn into_request(self) -> OnboardingRequest {
        OnboardingRequest {
            slug: self.slug,
            name: self.name,
            timezone: self.timezone,
            locale: self.locale,
            franchise_rate: self.franchise_rate,
            hq_rate: self.hq_rate,
            ..OnboardingRequest::default()
        }
    }
}

#[derive(Serialize)]
struct ImportResult {
    line: u64,
    slug: String,
    outcome: &'static str,
    detail: Option<String>,
}

async fn import(
    global: &GlobalArgs,
    pool: &TenancyPool,
    steps: &Steps,
    file: &std::path::Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut results = Vec::new();
    for (index, record) in reader.deserialize::<OnboardingRow>().enumerate() {
        let line = u64::try_from(index).unwrap_or(u64::MAX) + 2;
        let (slug, outcome, detail) = match record {
            Err(error) => (String::new(), "failed", Some(error.to_string())),
            Ok(row) => {
                let request = row.into_request();
                match request.validate(&global.base_domain) {
                    Err(error) => (request.slug, "failed", Some(error)),
                    Ok(new) => match provision(pool, steps, &new, None).await {
                        Ok(_) => (request.slug, "onboarded", None),
                        Err(ProvisionError::SlugTaken(_)) => {
                            (request.slug, "skipped", Some("already onboarded".into()))
                        }
                        Err(error) => (request.slug, "failed", Some(error.to_string())),
                    },
                }
            }
        };
        if !json {
            match &detail {
                Some(detail) => println!("line {line}: {slug}: {outcome} ({detail})"),
                None => println!("line {line}: {slug}: {outcome}"),
            }
        }
        results.push(ImportResult { line, slug, outcome, detail });
    }
    let failed = results.iter().filter(|result| result.outcome == "failed").count();
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        let count = |what| results.iter().filter(|result| result.outcome == what).count();
        println!("{} onboarded, {} skipped, {failed} failed", count("onboarded"), count("skipped"));
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn list(pool: &TenancyPool, json: bool) -> anyhow::Result<ExitCode> {
    let mut conn = pool.hq().await?;
    let territories = store::list(&mut conn).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&territories)?);
    } else {
        println!("{:<24} {:<11} {:>7}  {:<20} name", "slug", "status", "version", "timezone");
        for t in &territories {
            println!("{:<24} {:<11} {:>7}  {:<20} {}", t.slug, t.status.as_str(), t.schema_version, t.timezone, t.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(pool: &TenancyPool, slug: &str, json: bool) -> anyhow::Result<ExitCode> {
    let territory = find(pool, slug).await?;
    print_territory(pool, &territory, json).await?;
    Ok(ExitCode::SUCCESS)
}

async fn print_territory(pool: &TenancyPool, territory: &Territory, json: bool) -> anyhow::Result<()> {
    let mut conn = pool.hq().await?;
    let report = store::report(&mut conn, territory.clone()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("territory  {} ({})", territory.slug, territory.name);
    println!("status     {}", territory.status.as_str());
    println!("timezone   {}   locale {}", territory.timezone, territory.locale);
    println!("schema     {} at version {}", territory.schema_name, territory.schema_version);
    for contract in &report.contracts {
        println!(
            "contract   from {}: franchise {} / HQ {}",
            contract.effective_from, contract.franchise_rate, contract.hq_rate
        );
    }
    for domain in &report.domains {
        println!("domain     {domain}");
    }
    Ok(())
}

async fn find(pool: &TenancyPool, slug: &str) -> anyhow::Result<Territory> {
    let mut conn = pool.hq().await?;
    store::find_by_slug(&mut conn, slug).await?.with_context(|| format!("there is no territory {slug:?}"))
}

async fn change_status(
    pool: &TenancyPool,
    slug: &str,
    from: &[TerritoryStatus],
    to: TerritoryStatus,
) -> anyhow::Result<ExitCode> {
    let territory = find(pool, slug).await?;
    let mut conn = pool.owner().await?;
    if !store::change_status(&mut conn, territory.id, from, to).await? {
        bail!("territory {slug:?} is {}; it cannot become {}", territory.status.as_str(), to.as_str());
    }
    println!("{slug}: {} -> {}", territory.status.as_str(), to.as_str());
    Ok(ExitCode::SUCCESS)
}

async fn drop(pool: &TenancyPool, slug: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let territory = find(pool, slug).await?;
    if territory.status != TerritoryStatus::Archived {
        bail!("territory {slug:?} is {}: archive it before dropping it", territory.status.as_str());
    }
    if !yes {
        bail!("dropping {slug:?} deletes its data for good: add --yes to confirm");
    }
    drop_archived(pool, &territory).await?;
    println!("{slug}: dropped");
    Ok(ExitCode::SUCCESS)
}

async fn migrate(pool: &TenancyPool, steps: &Steps, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    if let Some(slug) = &args.slug {
        find(pool, slug).await?;
    }
    let options = MigrateOptions {
        concurrency: usize::from(args.concurrency),
        lock_timeout: Duration::from_millis(args.lock_timeout_ms),
        only: args.slug.clone(),
    };
    let bar = ProgressBar::hidden();
    if std::io::stderr().is_terminal() && !args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} territories {elapsed_precise} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let json = args.json;
    let results = migrate_all(pool, steps, &options, |result, total| {
        bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
        bar.inc(1);
        if !json {
            bar.suspend(|| print_migration(result));
        }
    })
    .await?;
    bar.finish_and_clear();
    let failed = results.iter().filter(|result| result.error.is_some()).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else if results.is_empty() {
        println!("every territory is at version {}: nothing to do", steps.latest());
    } else {
        println!("{} migrated, {failed} failed (rerun to retry the failed ones)", results.len() - failed);
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_migration(result: &TerritoryMigration) {
    match (&result.to_version, &result.error) {
        (Some(to), _) => {
            println!("{}: {} -> {} ({} ms)", result.slug, result.from_version, to, result.millis)
        }
        (None, Some(error)) => println!("{}: FAILED at version {}: {error}", result.slug, result.from_version),
        (None, None) => println!("{}: unchanged", result.slug),
    }
}

async fn verify(pool: &TenancyPool, steps: &Steps, json: bool) -> anyhow::Result<ExitCode> {
    let (checked, drifts) = verify_all(pool, steps).await?;
    if json {
        println!("{}", serde_json::json!({ "checked": checked, "drifted": drifts }));
    } else if drifts.is_empty() {
        println!("{checked} territory schema(s) checked: all identical to a fresh schema at their version");
    } else {
        for drift in &drifts {
            println!("{} (version {}) differs from a fresh schema:", drift.slug, drift.version);
            for item in &drift.missing {
                println!("  missing     {item}");
            }
            for item in &drift.unexpected {
                println!("  unexpected  {item}");
            }
        }
        println!("{checked} checked, {} drifted", drifts.len());
    }
    Ok(if drifts.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
