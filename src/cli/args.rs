//! The command line's shape.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rust_decimal::Decimal;

use crate::config::DatabaseSource;

/// CareService: a schema-per-tenant marketplace backend.
#[derive(Debug, Parser)]
#[command(name = "careservice", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// PostgreSQL to use; without it, a private cluster in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the private cluster lives when DATABASE_URL is not set.
    #[arg(long, env = "CARESERVICE_DATA_DIR", default_value = "./.careservice", global = true)]
    pub data_dir: PathBuf,
    /// Territories are SLUG.BASE_DOMAIN, the HQ console hq.BASE_DOMAIN.
    #[arg(long, env = "CARESERVICE_BASE_DOMAIN", default_value = "localhost", global = true)]
    pub base_domain: String,
    /// A TOML file of settings (keys as the variables, lower case, without CARESERVICE_); the environment and flags override it.
    #[arg(long, env = "CARESERVICE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The secret the payment provider signs its webhooks with.
    #[arg(long, env = "CARESERVICE_PAYMENT_WEBHOOK_SECRET", default_value = crate::config::DEMO_WEBHOOK_SECRET,
          global = true, hide_env_values = true, hide_default_value = true)]
    pub payment_webhook_secret: String,
    /// Keys for personal fields: VERSION:BASE64 pairs (32 bytes each), comma-separated; the highest seals.
    #[arg(long, env = "CARESERVICE_ENCRYPTION_KEYS", global = true, hide_env_values = true)]
    pub encryption_keys: Option<String>,
    /// A file holding the keys, one VERSION:BASE64 per line (instead of --encryption-keys).
    #[arg(long, env = "CARESERVICE_ENCRYPTION_KEY_FILE", global = true, conflicts_with = "encryption_keys")]
    pub encryption_key_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// The configured keys; the demo key when none are configured.
    pub fn keyring(&self) -> anyhow::Result<crate::privacy::Keyring> {
        match self.key_spec()? {
            Some(spec) => Ok(crate::privacy::Keyring::parse(&spec)?),
            None => Ok(crate::privacy::Keyring::demo()),
        }
    }

    /// The keys as configured (`--encryption-keys` or the key file), if any.
    fn key_spec(&self) -> anyhow::Result<Option<String>> {
        match (&self.encryption_keys, &self.encryption_key_file) {
            (Some(keys), _) if !keys.is_empty() => Ok(Some(keys.clone())),
            (_, Some(file)) => std::fs::read_to_string(file)
                .map(Some)
                .map_err(|error| anyhow::anyhow!("cannot read the key file {}: {error}", file.display())),
            _ => Ok(None),
        }
    }

    /// The settings still at the demo values published in the source, each
    /// as what to set instead: anyone could sign webhooks or read sealed
    /// fields with those.
    pub fn demo_secrets(&self) -> anyhow::Result<Vec<&'static str>> {
        let mut demo = Vec::new();
        if self.payment_webhook_secret == crate::config::DEMO_WEBHOOK_SECRET {
            demo.push("CARESERVICE_PAYMENT_WEBHOOK_SECRET (or --payment-webhook-secret): 32 or more random characters");
        }
        let demo_material: Vec<&str> = crate::privacy::keys::DEMO_KEYS
            .split(',')
            .filter_map(|entry| entry.split_once(':'))
            .map(|(_, key)| key)
            .collect();
        let uses_demo_key = self.key_spec()?.is_none_or(|spec| {
            spec.split([',', '\n'])
                .filter_map(|entry| entry.split_once(':'))
                .any(|(_, key)| demo_material.contains(&key.trim()))
        });
        if uses_demo_key {
            demo.push(
                "CARESERVICE_ENCRYPTION_KEYS or CARESERVICE_ENCRYPTION_KEY_FILE (or --encryption-keys, \
                 --encryption-key-file): keys from `careservice keys generate`",
            );
        }
        Ok(demo)
    }

    /// Where the database is.
    pub fn database_source(&self) -> DatabaseSource {
        match &self.database_url {
            Some(url) if !url.is_empty() => DatabaseSource::Url(url.clone()),
            _ => DatabaseSource::Embedded { data_dir: self.data_dir.clone() },
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (migrating first), until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Apply hq migrations, then bring every territory to the latest tenant version.
    Migrate,
    /// Onboard and manage territories.
    #[command(subcommand)]
    Territory(TerritoryCommand),
    /// Manage HQ admins.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run the job worker alone (serve runs one too unless --no-worker).
    Worker,
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the keys of personal fields.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new random key (add it as the next VERSION:KEY, then rotate).
    Generate,
    /// Re-encrypt every personal field with the newest configured key, with the service running.
    Rotate,
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk a chain (a territory's, or HQ's with `hq`) and name its first broken link; exits 1 if one is broken.
    Verify {
        /// The territory (or `hq`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        slug: Option<String>,
        /// Every territory's chain and HQ's.
        #[arg(long)]
        all: bool,
    },
}

/// `config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Report what is set, what is defaulted and what is wrong (secrets masked).
    Check,
}

/// `admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an HQ admin (or promote an existing account); the password is read from stdin.
    Create {
        email: String,
        /// Display name of a new account.
        #[arg(long)]
        name: Option<String>,
    },
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CARESERVICE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Comma-separated IPs or CIDR networks whose X-Forwarded-* headers are believed.
    #[arg(long, env = "CARESERVICE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CARESERVICE_WORKERS")]
    pub workers: Option<usize>,
    /// Database connections at most.
    #[arg(long, env = "CARESERVICE_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// Redis for rate-limit counters shared by every instance (default: in process).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// PEM certificate chain: serve HTTPS (with HSTS) instead of HTTP.
    #[arg(long, env = "CARESERVICE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// SMTP server for outgoing mail (smtp://user:pass@host:587?tls=required, smtps://...); without it mail is logged.
    #[arg(long, env = "CARESERVICE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of outgoing mail.
    #[arg(long, env = "CARESERVICE_MAIL_FROM", default_value = "CareService <no-reply@careservice.localhost>")]
    pub mail_from: String,
    /// Do not run the job worker in this process (run `careservice worker` instead).
    #[arg(long)]
    pub no_worker: bool,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CARESERVICE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve /metrics on a listener of its own at this address (keep it off the public network).
    #[arg(long, env = "CARESERVICE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Serve /metrics on the public listener to requests bearing this token (16 or more characters).
    #[arg(long, env = "CARESERVICE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// This is the demo: serve even with the webhook secret and encryption
    /// key published in the source (without it, serve refuses to start).
    #[arg(long)]
    pub demo: bool,
}

/// `territory ...`.
#[derive(Debug, Subcommand)]
pub enum TerritoryCommand {
    /// Onboard a territory in one transaction.
    Create(CreateArgs),
    /// Onboard every row of a CSV file (slug,name,timezone,locale,franchise_rate,hq_rate); rows already onboarded are skipped.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List territories.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one territory with its contracts and domains.
    Show {
        slug: String,
        #[arg(long)]
        json: bool,
    },
    /// Close a territory's portal for now.
    Suspend { slug: String },
    /// Reopen a suspended territory.
    Resume { slug: String },
    /// Stop serving a territory for good; its data is kept.
    Archive { slug: String },
    /// Delete an archived territory's schema, role and registry rows.
    Drop {
        slug: String,
        /// Confirms that the data goes.
        #[arg(long)]
        yes: bool,
    },
    /// Bring tenant schemas to the latest version.
    Migrate(MigrateArgs),
    /// Report tenant schemas whose structure differs from a fresh one.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

/// `territory create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Lowercase DNS label, 2-40 characters: the subdomain.
    pub slug: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// IANA time zone.
    #[arg(long, default_value = "Europe/Amsterdam")]
    pub timezone: String,
    /// Locale.
    #[arg(long, default_value = "nl-NL")]
    pub locale: String,
    /// The franchisee's share, as a fraction (0.14 is 14%).
    #[arg(long, requires = "hq_rate")]
    pub franchise_rate: Option<Decimal>,
    /// HQ's share, as a fraction.
    #[arg(long, requires = "franchise_rate")]
    pub hq_rate: Option<Decimal>,
    /// The contract's first day (default: today).
    #[arg(long)]
    pub contract_from: Option<chrono::NaiveDate>,
    /// A custom domain that also serves this territory (repeatable).
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// Print the territory as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `territory migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only this territory.
    #[arg(conflicts_with = "all", required_unless_present = "all")]
    pub slug: Option<String>,
    /// Every territory.
    #[arg(long)]
    pub all: bool,
    /// Territories migrated at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// How long one territory waits for a lock before it fails, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub lock_timeout_ms: u64,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}
