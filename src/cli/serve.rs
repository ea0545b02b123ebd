//! `careservice serve`: migrate, then serve until SIGINT or SIGTERM, draining
//! in-flight requests, then stop the embedded cluster if this process started it.

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

use super::args::{GlobalArgs, ServeArgs};
use super::territory::migrate_on;
use crate::config::{ServerSettings, parse_trusted_proxies};
use crate::database::{Database, login_role_problems};
use crate::startup::Application;
use crate::tenancy::connection::PoolSettings;

/// Runs the server.
pub async fn serve(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let trusted_proxies = parse_trusted_proxies(&args.trusted_proxies).map_err(anyhow::Error::msg)?;
    let settings = ServerSettings {
        bind: args.bind,
        base_domain: global.base_domain.to_ascii_lowercase(),
        trusted_proxies,
        workers: args.workers.unwrap_or_else(|| ServerSettings::default().workers),
        pool: PoolSettings { max_size: args.pool_size.max(1), ..PoolSettings::default() },
        ..ServerSettings::default()
    };
    let database = Database::open(&global.database_source()).await?;
    let outcome = serve_on(&settings, database.url()).await;
    database.close().await?;
    outcome
}

async fn serve_on(settings: &ServerSettings, database_url: &str) -> anyhow::Result<ExitCode> {
    for problem in login_role_problems(database_url).await? {
        tracing::warn!("{problem}; tenant isolation then rests on the search_path alone");
    }
    let failed = migrate_on(database_url, false).await?;
    if failed > 0 {
        tracing::warn!(failed, "some territories could not be migrated; they keep their old version");
    }
    let application = Application::build(settings, database_url).await?;
    let handle = application.handle();
    let port = application.port();
    let host = settings.bind.ip();
    let base = &settings.base_domain;
    tracing::info!(%host, port, "serving");
    eprintln!(
        "CareService is serving on http://{host}:{port}\n  \
         a territory:  http://SLUG.{base}:{port}/api/v1/territory\n  \
         HQ console:   http://hq.{base}:{port}/\n  \
         health:       http://{host}:{port}/healthz"
    );
    let mut server = tokio::spawn(application.run_until_stopped());
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        outcome = &mut server => { outcome??; return Ok(ExitCode::SUCCESS); }
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, draining"),
        _ = terminate.recv() => tracing::info!("SIGTERM received, draining"),
    }
    handle.stop(true).await;
    server.await??;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `careservice worker`: runs due jobs until SIGINT or SIGTERM.
pub async fn worker(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let database = Database::open(&global.database_source()).await?;
    let pool = crate::tenancy::TenancyPool::new(database.url(), &PoolSettings::default())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tracing::info!("job worker running");
    tokio::select! {
        () = crate::jobs::run_worker(pool, crate::clock::system()) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    database.close().await?;
    Ok(ExitCode::SUCCESS)
}
