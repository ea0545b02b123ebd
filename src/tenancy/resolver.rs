//! Host -> territory, cached in process.
//!
//! A warm request resolves its territory with no query. Unknown hosts are
//! cached too, briefly, so random Host headers cannot each become a query.
//! Every server instance forgets its cache when hq's registry changes (see
//! [`super::notify`]); a positive entry also expires, as a safety net should a
//! notification be lost.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::connection::{ConnectionFailure, TenancyPool};
use super::model::Territory;
use super::slug::TerritorySlug;
use super::store;

/// What a request's host names.
#[derive(Debug, Clone)]
pub enum HostTarget {
    /// `hq.BASE_DOMAIN`: the HQ console.
    Hq,
    /// A territory portal.
    Territory(Arc<Territory>),
}

/// Why a host names nothing we serve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("the request has no Host header")]
    MissingHost,
    #[error("{0:?} is not a valid host name")]
    MalformedHost(String),
    #[error("no territory is served at {0:?}")]
    UnknownHost(String),
    #[error(transparent)]
    Database(#[from] Arc<ResolveFailure>),
}

/// A lookup that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ResolveFailure {
    #[error(transparent)]
    Connection(#[from] ConnectionFailure),
    #[error("territory lookup failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Cache lifetimes.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// How long a known host stays cached without a change notification.
    pub known_ttl: Duration,
    /// How long an unknown host is remembered as unknown.
    pub unknown_ttl: Duration,
    /// Most hosts remembered.
    pub capacity: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { known_ttl: Duration::from_secs(300), unknown_ttl: Duration::from_secs(5), capacity: 100_000 }
    }
}

type Cached = Option<Arc<Territory>>;
/// A looked-up value and the cache generation it was looked up in.
type Entry = (u64, Cached);

struct HostExpiry {
    known_ttl: Duration,
    unknown_ttl: Duration,
}

impl Expiry<String, Entry> for HostExpiry {
    fn expire_after_create(&self, _host: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(if value.1.is_some() { self.known_ttl } else { self.unknown_ttl })
    }
}

/// Resolves hosts to territories through the cache.
pub struct TerritoryResolver {
    base_domain: String,
    hq_host: String,
    cache: Cache<String, Entry>,
    /// Bumped by every invalidation: a lookup that started before one may
    /// have read the old registry, so its result is not trusted.
    generation: AtomicU64,
    /// The hosts that name a territory, and the generation they were read in.
    known: Mutex<Option<(u64, Arc<HashSet<String>>)>>,
    pool: TenancyPool,
}

impl TerritoryResolver {
    /// A resolver for hosts under `base_domain`.
    pub fn new(base_domain: &str, pool: TenancyPool, settings: &CacheSettings) -> Self {
        let base_domain = base_domain.trim_end_matches('.').to_ascii_lowercase();
        let cache = Cache::builder()
            .max_capacity(settings.capacity)
            .expire_after(HostExpiry { known_ttl: settings.known_ttl, unknown_ttl: settings.unknown_ttl })
            .build();
        Self {
            hq_host: format!("hq.{base_domain}"),
            base_domain,
            cache,
            generation: AtomicU64::new(0),
            known: Mutex::new(None),
            pool,
        }
    }

    /// What `raw_host` (a Host header value, port and case ignored) names.
    pub async fn resolve(&self, raw_host: Option<&str>) -> Result<HostTarget, ResolveError> {
        let host = normalize_host(raw_host.ok_or(ResolveError::MissingHost)?)?;
        if host == self.hq_host {
            return Ok(HostTarget::Hq);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let missed = std::sync::atomic::AtomicBool::new(false);
        let lookup = async {
            missed.store(true, Ordering::Relaxed);
            self.lookup(&host).await.map(|found| (generation, found))
        };
        let (looked_up_in, mut found) =
            self.cache.try_get_with_by_ref(&host, lookup).await.map_err(ResolveError::Database)?;
        crate::http::metrics::cache_lookup("hosts", !missed.load(Ordering::Relaxed));
        if looked_up_in != self.generation.load(Ordering::SeqCst) {
            // The registry changed while (or since) this was looked up.
            self.cache.invalidate(&host).await;
            found = self.lookup(&host).await.map_err(|e| ResolveError::Database(Arc::new(e)))?;
        }
        found.map(HostTarget::Territory).ok_or(ResolveError::UnknownHost(host))
    }

    /// Forgets every cached host (the registry changed).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    async fn lookup(&self, host: &str) -> Result<Cached, ResolveFailure> {
        // Hosts that name no territory are answered from the set of known
        // hosts: a flood of random Host headers costs one query in all.
        if !self.known_hosts().await?.contains(host) {
            return Ok(None);
        }
        let slug = host
            .strip_suffix(&self.base_domain)
            .and_then(|rest| rest.strip_suffix('.'))
            .map(|label| TerritorySlug::parse(label).ok());
        let mut conn = self.pool.hq().await?;
        let found = match slug {
            // A label under the base domain that no slug can be: nothing there.
            Some(None) => None,
            Some(Some(slug)) => store::find_by_slug(&mut conn, slug.as_str()).await?,
            None => store::find_by_domain(&mut conn, host).await?,
        };
        Ok(found.map(Arc::new))
    }

    /// Every host that names a territory (slug hosts and custom domains), as
    /// of the current cache generation.
    async fn known_hosts(&self) -> Result<Arc<HashSet<String>>, ResolveFailure> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Ok(known) = self.known.lock()
            && let Some((loaded_in, hosts)) = known.as_ref()
            && *loaded_in == generation
        {
            return Ok(Arc::clone(hosts));
        }
        let mut conn = self.pool.hq().await?;
        let hosts: HashSet<String> = store::all_hosts(&mut conn, &self.base_domain).await?.into_iter().collect();
        let hosts = Arc::new(hosts);
        if let Ok(mut known) = self.known.lock() {
            *known = Some((generation, Arc::clone(&hosts)));
        }
        Ok(hosts)
    }
}

/// Lowercases, drops the port and a trailing dot, and checks what is left is
/// a host name.
pub fn normalize_host(raw: &str) -> Result<String, ResolveError> {
    let malformed = || ResolveError::MalformedHost(raw.chars().take(100).collect());
    let without_port = match raw.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => host,
        Some(_) => return Err(malformed()),
        None => raw,
    };
    let host = without_port.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len()) && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid { Ok(host) } else { Err(malformed()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_port_case_and_trailing_dot() {
        assert_eq!(normalize_host("Amsterdam.LOCALHOST:8080").unwrap(), "amsterdam.localhost");
        assert_eq!(normalize_host("amsterdam.localhost.").unwrap(), "amsterdam.localhost");
    }

    #[test]
    fn malformed_hosts_are_refused() {
        for bad in ["", ":80", "ams terdam.localhost", "a..b", "host:port", "[::1]:80", "a/b", &"a".repeat(64)] {
            assert!(matches!(normalize_host(bad), Err(ResolveError::MalformedHost(_))), "{bad:?}");
        }
    }
}
