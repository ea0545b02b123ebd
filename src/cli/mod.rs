//! The command line: `serve`, `migrate` and `territory ...`.

mod admin;
mod args;
mod audit;
mod config_check;
pub mod config_file;
mod keys;
mod serve;
mod territory;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

pub use args::{AdminCommand, AuditCommand, Cli, Command, ConfigCommand, GlobalArgs, KeysCommand};

/// Exit code of `territory create` when the territory already exists, so that
/// onboarding scripts can skip it.
pub const EXIT_ALREADY_EXISTS: u8 = 3;

/// Parses the command line (over the configuration file's values, if one is
/// named), runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let readable: Vec<String> = args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
    let file = match config_file::named_in(&readable).map(|path| config_file::read(&path)).transpose() {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = match &file {
        Some(file) => file.as_defaults(Cli::command()),
        None => Cli::command(),
    };
    let cli = match Cli::from_arg_matches(&command.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
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
    match runtime.block_on(run(cli, file)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, file: Option<config_file::ConfigFile>) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(&cli.global, &args).await,
        Command::Migrate => territory::migrate_everything(&cli.global).await,
        Command::Territory(command) => territory::run(&cli.global, command).await,
        Command::Worker => serve::worker(&cli.global).await,
        Command::Config(ConfigCommand::Check) => Ok(config_check::run(file.as_ref())),
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
