//! Configuration, from the environment and the command line (12-factor), with
//! defaults that run on one laptop.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::clock::SharedClock;
use crate::identity::ratelimit::Limits;
use crate::tenancy::connection::PoolSettings;
use crate::tenancy::resolver::CacheSettings;

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    /// `DATABASE_URL`: use that server, never start one.
    Url(String),
    /// The private cluster in the data directory, started on demand.
    Embedded { data_dir: PathBuf },
}

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Territories are `SLUG.BASE_DOMAIN`; HQ is `hq.BASE_DOMAIN`.
    pub base_domain: String,
    /// Proxies whose X-Forwarded-Host (and, later, X-Forwarded-For) is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Database pool.
    pub pool: PoolSettings,
    /// Host cache.
    pub cache: CacheSettings,
    /// Redis for shared rate-limit counters; in process when None.
    pub redis_url: Option<String>,
    /// PEM certificate chain and key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Rate limits of the identity endpoints.
    pub limits: Limits,
    /// Where "now" comes from (tests move it by hand).
    pub clock: SharedClock,
    /// Whether this process runs the job worker too.
    pub run_worker: bool,
    /// SMTP server for the mail outbox (smtp:// or smtps://); the log when None.
    pub smtp_url: Option<String>,
    /// The sender of outgoing mail.
    pub mail_from: String,
    /// The secret the payment provider signs its webhooks with.
    pub payment_webhook_secret: String,
    /// The keys personal fields are encrypted with.
    pub keys: crate::privacy::Keyring,
    /// Who holds and moves the money (the simulated provider by default).
    pub payment_provider: std::sync::Arc<dyn crate::payments::provider::Provider>,
    /// Points where a test makes a request stop as if its connection died;
    /// none are armed outside tests.
    pub faults: crate::faults::Faults,
    /// Where `/metrics` answers (nowhere by default).
    pub metrics: crate::http::metrics::MetricsAccess,
}

/// The webhook secret of the demo and the tests; `config check` says so.
pub const DEMO_WEBHOOK_SECRET: &str = "careservice-demo-webhook-secret-not-for-production";

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_domain: "localhost".to_owned(),
            trusted_proxies: Vec::new(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pool: PoolSettings::default(),
            cache: CacheSettings::default(),
            redis_url: None,
            tls: None,
            limits: Limits::default(),
            clock: crate::clock::system(),
            run_worker: true,
            smtp_url: None,
            mail_from: "CareService <no-reply@careservice.localhost>".to_owned(),
            payment_webhook_secret: DEMO_WEBHOOK_SECRET.to_owned(),
            keys: crate::privacy::Keyring::demo(),
            payment_provider: std::sync::Arc::new(crate::payments::provider::Simulated),
            faults: crate::faults::Faults::default(),
            metrics: crate::http::metrics::MetricsAccess::default(),
        }
    }
}

/// Parses a comma-separated list of IP addresses and CIDR networks.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is not an IP address or CIDR network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let nets = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8,::1").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("proxy.local").is_err());
    }
}
