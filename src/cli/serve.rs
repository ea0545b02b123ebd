//! `careservice serve`: migrate, then serve until SIGINT or SIGTERM, draining
//! in-flight requests, then stop the embedded cluster if this process owns it
//! (see `Database::open_as_owner`).

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

use super::args::{GlobalArgs, ServeArgs};
use super::territory::migrate_on;
use crate::config::{ServerSettings, parse_trusted_proxies};
use crate::database::{Database, login_role_problems};
use crate::http::metrics::MetricsAccess;
use crate::startup::Application;
use crate::tenancy::connection::PoolSettings;

/// The server settings the command line asks for.
pub fn server_settings(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<ServerSettings> {
    let trusted_proxies = parse_trusted_proxies(&args.trusted_proxies).map_err(anyhow::Error::msg)?;
    let metrics_token = args.metrics_token.clone().filter(|token| !token.is_empty());
    if let Some(reason) = metrics_token.as_deref().and_then(|token| weak_metrics_token(token).err()) {
        anyhow::bail!("CARESERVICE_METRICS_TOKEN (--metrics-token): {reason}");
    }
    let defaults = ServerSettings::default();
    Ok(ServerSettings {
        bind: args.bind,
        base_domain: global.base_domain.to_ascii_lowercase(),
        trusted_proxies,
        workers: args.workers.unwrap_or(defaults.workers),
        pool: PoolSettings { max_size: args.pool_size.max(1), ..PoolSettings::default() },
        redis_url: args.redis_url.clone().filter(|url| !url.is_empty()),
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        run_worker: !args.no_worker,
        smtp_url: args.smtp_url.clone().filter(|url| !url.is_empty()),
        mail_from: args.mail_from.clone(),
        payment_webhook_secret: global.payment_webhook_secret.clone(),
        keys: global.keyring()?,
        metrics: MetricsAccess { bind: args.metrics_bind, token: metrics_token },
        ..defaults
    })
}

/// A metrics token is a secret: long enough not to be guessed.
pub fn weak_metrics_token(token: &str) -> Result<(), String> {
    if token.chars().count() >= 16 { Ok(()) } else { Err("use 16 or more random characters".to_owned()) }
}

/// Runs the server.
pub async fn serve(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let demo_secrets = global.demo_secrets()?;
    if !demo_secrets.is_empty() {
        if !args.demo {
            anyhow::bail!(
                "refusing to serve with the demo secrets published in the source (anyone could sign a payment \
                 webhook or read sealed fields); set:\n  {}\nor pass --demo if this is the demo",
                demo_secrets.join("\n  ")
            );
        }
        tracing::warn!("serving the demo: the webhook secret and encryption key are the published demo values");
    }
    let settings = server_settings(global, args)?;
    let database = Database::open_as_owner(&global.database_source()).await?;
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
    let sealed = crate::identity::sealing::seal_stored_rows_at(database_url, &settings.keys).await?;
    if sealed > 0 {
        tracing::info!(rows = sealed, "invitations and mail sealed");
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
         API docs:     http://hq.{base}:{port}/api/v1/docs/\n  \
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

/// `careservice worker`: runs due jobs until SIGINT or SIGTERM; it never
/// stops the embedded cluster, which a server may be using.
pub async fn worker(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let database = Database::open(&global.database_source()).await?;
    let pool = crate::tenancy::TenancyPool::new(database.url(), &PoolSettings::default())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tracing::info!("job worker running");
    tokio::select! {
        () = crate::jobs::run_worker(crate::jobs::JobContext {
            pool,
            clock: crate::clock::system(),
            payments: crate::payments::Payments::simulated(global.payment_webhook_secret.as_bytes()),
            keys: global.keyring()?,
        }) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    database.close().await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::server_settings;
    use crate::cli::{Cli, Command};

    #[test]
    fn every_serve_flag_reaches_the_server_settings() {
        let cli = Cli::parse_from([
            "careservice",
            "--base-domain",
            "CareService.NL",
            "serve",
            "--bind",
            "0.0.0.0:9000",
            "--trusted-proxies",
            "10.0.0.0/8",
            "--workers",
            "3",
            "--pool-size",
            "7",
            "--redis-url",
            "redis://127.0.0.1:6390",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--no-worker",
            "--smtp-url",
            "smtp://127.0.0.1:2525",
            "--mail-from",
            "Zorg <a@b.nl>",
            "--metrics-bind",
            "127.0.0.1:9464",
            "--metrics-token",
            "a-metrics-token-of-some-length",
        ]);
        let Command::Serve(args) = &cli.command else { panic!("not serve") };
        let settings = server_settings(&cli.global, args).unwrap();
        assert_eq!(settings.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(settings.base_domain, "careservice.nl");
        assert_eq!(settings.trusted_proxies.len(), 1);
        assert_eq!((settings.workers, settings.pool.max_size), (3, 7));
        assert_eq!(settings.redis_url.as_deref(), Some("redis://127.0.0.1:6390"));
        assert_eq!(settings.tls, Some(("c.pem".into(), "k.pem".into())));
        assert!(!settings.run_worker);
        assert_eq!(settings.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
        assert_eq!(settings.mail_from, "Zorg <a@b.nl>");
        assert_eq!(settings.metrics.bind.map(|bind| bind.to_string()).as_deref(), Some("127.0.0.1:9464"));
        assert_eq!(settings.metrics.token.as_deref(), Some("a-metrics-token-of-some-length"));
    }
}
