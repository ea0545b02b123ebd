//! The command line: `serve`, `migrate` and `territory ...`.

mod admin;
mod args;
mod audit;
mod config_check;
mod keys;
mod serve;
mod territory;

use std::process::ExitCode;

use clap::Parser;

pub use args::{AdminCommand, AuditCommand, Cli, Command, ConfigCommand, GlobalArgs, KeysCommand};

/// Exit code of `territory create` when the territory already exists, so that
/// onboarding scripts can skip it.
pub const EXIT_ALREADY_EXISTS: u8 = 3;

/// Parses the command line, runs the command and turns its outcome into an
/// exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init(if matches!(cli.command, Command::Serve(_) | Command::Worker) {
        "info,tokio_postgres=warn"
    } else {
        "warn"
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(&cli.global, &args).await,
        Command::Migrate => territory::migrate_everything(&cli.global).await,
        Command::Territory(command) => territory::run(&cli.global, command).await,
        Command::Worker => serve::worker(&cli.global).await,
        Command::Config(ConfigCommand::Check) => Ok(config_check::run()),
        Command::Audit(AuditCommand::Verify { slug, all }) => audit::verify(&cli.global, slug.as_deref(), all).await,
        Command::Keys(KeysCommand::Generate) => {
            println!("{}", crate::privacy::keys::generate_key());
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::Rotate) => keys::rotate(&cli.global).await,
        Command::Admin(AdminCommand::Create { email, name }) => {
            admin::create(&cli.global, &email, name.as_deref()).await
        }
    }
}
