//! The optional configuration file (`--config FILE` or `CARESERVICE_CONFIG`):
//! TOML, one key per setting, named as its environment variable without the
//! `CARESERVICE_` prefix, in lower case:
//!
//! ```toml
//! database_url = "postgresql://careservice:secret@db/careservice"
//! base_domain = "careservice.nl"
//! bind = "0.0.0.0:8080"
//! trusted_proxies = ["10.0.0.0/8"]
//! pool_size = 32
//! ```
//!
//! A value from the file is a default: the environment and the command line
//! override it (flags, then environment, then file, then built-in defaults).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Command;

/// The settings a file may hold, as (key, environment variable).
pub const KEYS: [(&str, &str); 17] = [
    ("database_url", "DATABASE_URL"),
    ("data_dir", "CARESERVICE_DATA_DIR"),
    ("base_domain", "CARESERVICE_BASE_DOMAIN"),
    ("bind", "CARESERVICE_BIND"),
    ("trusted_proxies", "CARESERVICE_TRUSTED_PROXIES"),
    ("workers", "CARESERVICE_WORKERS"),
    ("pool_size", "CARESERVICE_POOL_SIZE"),
    ("redis_url", "REDIS_URL"),
    ("tls_cert", "CARESERVICE_TLS_CERT"),
    ("tls_key", "CARESERVICE_TLS_KEY"),
    ("smtp_url", "CARESERVICE_SMTP_URL"),
    ("mail_from", "CARESERVICE_MAIL_FROM"),
    ("payment_webhook_secret", "CARESERVICE_PAYMENT_WEBHOOK_SECRET"),
    ("encryption_keys", "CARESERVICE_ENCRYPTION_KEYS"),
    ("encryption_key_file", "CARESERVICE_ENCRYPTION_KEY_FILE"),
    ("metrics_bind", "CARESERVICE_METRICS_BIND"),
    ("metrics_token", "CARESERVICE_METRICS_TOKEN"),
];

/// The environment variable naming the file.
pub const CONFIG_ENV: &str = "CARESERVICE_CONFIG";

/// A configuration file, read and checked.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its values, by environment variable name.
    pub values: BTreeMap<&'static str, String>,
}

/// The file named by `--config FILE` (or `--config=FILE`) in `args`, else by
/// `CARESERVICE_CONFIG`; none when neither is given. It must be found before
/// the command line is parsed, since its values become the parser's defaults.
pub fn named_in(args: &[String]) -> Option<PathBuf> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return rest.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var(CONFIG_ENV).ok().filter(|path| !path.is_empty()).map(PathBuf::from)
}

/// Reads and checks a file: TOML, known keys only, each a string, a number,
/// a boolean or (for `trusted_proxies`) a list of strings.
pub fn read(path: &Path) -> Result<ConfigFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<ConfigFile, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        let Some((_, env)) = KEYS.iter().find(|(known, _)| *known == key) else {
            let known: Vec<&str> = KEYS.iter().map(|(key, _)| *key).collect();
            return Err(format!("{}: unknown setting {key:?} (known: {})", path.display(), known.join(", ")));
        };
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            toml::Value::Array(items) if key == "trusted_proxies" => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{}: trusted_proxies is a list of strings", path.display()))?
                .join(","),
            other => return Err(format!("{}: {key} cannot be a {}", path.display(), other.type_str())),
        };
        values.insert(*env, text);
    }
    Ok(ConfigFile { path: path.to_owned(), values })
}

impl ConfigFile {
    /// `command` with the file's values as the defaults of the arguments read
    /// from the same environment variables, in every subcommand.
    pub fn as_defaults(&self, command: Command) -> Command {
        let found: Vec<(clap::Id, String)> = command
            .get_arguments()
            .filter_map(|arg| {
                let env = arg.get_env()?.to_str()?;
                self.values.get(env).map(|value| (arg.get_id().clone(), value.clone()))
            })
            .collect();
        let mut command = found
            .into_iter()
            .fold(command, |command, (id, value)| command.mut_arg(id, |arg| arg.default_value(value).required(false)));
        let subcommands: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_owned()).collect();
        for name in subcommands {
            command = command.mut_subcommand(name, |sub| self.as_defaults(sub));
        }
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_maps_keys_to_their_variables_and_refuses_unknown_ones() {
        let file = parse(
            Path::new("cs.toml"),
            "bind = \"0.0.0.0:9000\"\npool_size = 32\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
        )
        .unwrap();
        assert_eq!(file.values["CARESERVICE_BIND"], "0.0.0.0:9000");
        assert_eq!(file.values["CARESERVICE_POOL_SIZE"], "32");
        assert_eq!(file.values["CARESERVICE_TRUSTED_PROXIES"], "10.0.0.0/8,::1");
        assert!(parse(Path::new("cs.toml"), "bnid = \"x\"").unwrap_err().contains("unknown setting \"bnid\""));
        assert!(parse(Path::new("cs.toml"), "bind = [1]").unwrap_err().contains("bind cannot be a array"));
        assert!(parse(Path::new("cs.toml"), "bind = ").is_err());
    }

    #[test]
    fn the_file_is_named_by_the_flag_before_the_environment() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(named_in(&args(&["cs", "--config", "a.toml", "serve"])), Some(PathBuf::from("a.toml")));
        assert_eq!(named_in(&args(&["cs", "serve", "--config=b.toml"])), Some(PathBuf::from("b.toml")));
    }
}
