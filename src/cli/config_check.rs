//! `careservice config check`: what is set (and where: the environment or
//! the configuration file), what is defaulted and what is wrong, never
//! printing a secret.

use std::process::ExitCode;
use std::str::FromStr;

use super::config_file::ConfigFile;
use crate::config::parse_trusted_proxies;
use crate::http::security::tls_config;

/// One setting's verdict.
struct Line {
    name: &'static str,
    shown: String,
    problem: Option<String>,
}

/// Where settings come from: the environment over the file.
struct Sources<'a> {
    file: Option<&'a ConfigFile>,
}

impl Sources<'_> {
    /// A setting's value and where it came from.
    fn get(&self, name: &str) -> Option<(String, String)> {
        if let Some(value) = std::env::var(name).ok().filter(|value| !value.is_empty()) {
            return Some((value, "environment".to_owned()));
        }
        let file = self.file?;
        file.values.get(name).map(|value| (value.clone(), format!("file {}", file.path.display())))
    }

    fn value(&self, name: &str) -> Option<String> {
        self.get(name).map(|(value, _)| value)
    }
}

/// A URL with its password replaced by `***`.
fn masked(url: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(scheme, rest)| rest.split_once('@').map(|(credentials, host)| (scheme, credentials, host)))
    {
        Some((scheme, credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

/// Prints every setting with its source; exits 1 when something is wrong.
pub fn run(file: Option<&ConfigFile>) -> ExitCode {
    let sources = Sources { file };
    let check =
        |name: &'static str, default: &str, secret: bool, validate: &dyn Fn(&str) -> Result<(), String>| match sources
            .get(name)
        {
            None => Line { name, shown: format!("(default) {default}"), problem: None },
            Some((value, source)) => {
                let shown = if secret { masked(&value) } else { value.clone() };
                Line { name, shown: format!("({source}) {shown}"), problem: validate(&value).err() }
            }
        };
    let env = |name: &str| sources.value(name);
    let config_line = Line {
        name: "CARESERVICE_CONFIG",
        shown: file.map_or_else(|| "(default) none".to_owned(), |file| format!("(read) {}", file.path.display())),
        problem: None,
    };
    let lines = vec![
        config_line,
        check("DATABASE_URL", "unset: a private cluster in the data directory", true, &|url| {
            tokio_postgres::Config::from_str(url).map(|_| ()).map_err(|e| format!("not a PostgreSQL URL: {e}"))
        }),
        check("CARESERVICE_DATA_DIR", "./.careservice", false, &|_| Ok(())),
        check("CARESERVICE_BASE_DOMAIN", "localhost", false, &|domain| {
            crate::tenancy::resolver::normalize_host(domain).map(|_| ()).map_err(|e| e.to_string())
        }),
        check("CARESERVICE_BIND", "127.0.0.1:8080", false, &|bind| {
            std::net::SocketAddr::from_str(bind).map(|_| ()).map_err(|e| format!("not an address:port: {e}"))
        }),
        check("CARESERVICE_TRUSTED_PROXIES", "none", false, &|raw| parse_trusted_proxies(raw).map(|_| ())),
        check("CARESERVICE_WORKERS", "one per core", false, &|raw| {
            raw.parse::<usize>().ok().filter(|n| *n > 0).map(|_| ()).ok_or_else(|| "a positive number".to_owned())
        }),
        check("CARESERVICE_POOL_SIZE", "16", false, &|raw| {
            raw.parse::<usize>().ok().filter(|n| *n > 0).map(|_| ()).ok_or_else(|| "a positive number".to_owned())
        }),
        check("REDIS_URL", "unset: rate-limit counters in process", true, &|url| {
            redis::Client::open(url).map(|_| ()).map_err(|e| format!("not a Redis URL: {e}"))
        }),
        check("CARESERVICE_TLS_CERT", "unset: plain HTTP", false, &|cert| match env("CARESERVICE_TLS_KEY") {
            None => Err("CARESERVICE_TLS_KEY is not set".to_owned()),
            Some(key) => tls_config(cert.as_ref(), key.as_ref()).map(|_| ()).map_err(|e| format!("{e:#}")),
        }),
        check("CARESERVICE_TLS_KEY", "unset", true, &|_| {
            env("CARESERVICE_TLS_CERT").map(|_| ()).ok_or_else(|| "CARESERVICE_TLS_CERT is not set".to_owned())
        }),
        check("CARESERVICE_SMTP_URL", "unset: mail is logged", true, &|url| {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).map(|_| ()).map_err(|e| e.to_string())
        }),
        check(
            "CARESERVICE_PAYMENT_WEBHOOK_SECRET",
            "a demo secret: serve refuses it without --demo",
            true,
            &|secret| {
                if secret == crate::config::DEMO_WEBHOOK_SECRET {
                    Err("this is the demo secret published in the source".into())
                } else if secret.len() >= 32 {
                    Ok(())
                } else {
                    Err("use at least 32 characters".into())
                }
            },
        ),
        check("CARESERVICE_ENCRYPTION_KEYS", "the demo key: serve refuses it without --demo", true, &|spec| {
            crate::privacy::Keyring::parse(spec).map(|_| ()).map_err(|e| e.to_string())
        }),
        check("CARESERVICE_ENCRYPTION_KEY_FILE", "unset", false, &|path| {
            let spec = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
            crate::privacy::Keyring::parse(&spec).map(|_| ()).map_err(|e| e.to_string())
        }),
        check("CARESERVICE_METRICS_BIND", "unset: no metrics listener", false, &|bind| {
            std::net::SocketAddr::from_str(bind).map(|_| ()).map_err(|e| format!("not an address:port: {e}"))
        }),
        check("CARESERVICE_METRICS_TOKEN", "unset: /metrics is not served on the public listener", true, &|token| {
            super::serve::weak_metrics_token(token)
        }),
        check("CARESERVICE_MAIL_FROM", "CareService <no-reply@careservice.localhost>", false, &|from| {
            from.parse::<lettre::message::Mailbox>().map(|_| ()).map_err(|e| e.to_string())
        }),
        check("CARESERVICE_LOG_FORMAT", "text", false, &|format| match format {
            "json" | "text" => Ok(()),
            _ => Err("json or text".to_owned()),
        }),
        check("RUST_LOG", "info (serve), warn (other commands)", false, &|filter| {
            tracing_subscriber::EnvFilter::try_new(filter).map(|_| ()).map_err(|e| e.to_string())
        }),
    ];
    let width = lines.iter().map(|line| line.name.len()).max().unwrap_or(0);
    let mut wrong = 0;
    for line in &lines {
        match &line.problem {
            None => println!("ok     {:width$}  {}", line.name, line.shown),
            Some(problem) => {
                wrong += 1;
                println!("WRONG  {:width$}  {}: {problem}", line.name, line.shown);
            }
        }
    }
    println!("{} settings, {wrong} wrong", lines.len());
    if wrong == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn passwords_never_show() {
        assert_eq!(masked("postgresql://app:s3cret@db:5432/cs"), "postgresql://app:***@db:5432/cs");
        assert_eq!(masked("redis://:s3cret@cache:6379"), "redis://:***@cache:6379");
        assert_eq!(masked("postgresql:///cs?host=/run"), "postgresql:///cs?host=/run");
    }
}
