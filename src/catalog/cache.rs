//! The public catalog is read on almost every public request: its JSON is
//! cached per territory, local date and language, and forgotten on every
//! catalog change (on every instance, through LISTEN/NOTIFY).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::web::Bytes;
use chrono::NaiveDate;
use moka::future::Cache;

use super::effective::Language;

type Key = (i64, NaiveDate, Language);

/// Cached public catalogs.
#[derive(Clone)]
pub struct EffectiveCatalogs {
    cache: Cache<Key, (u64, Bytes)>,
    /// Bumped by every invalidation; an answer built before one is rebuilt.
    generation: Arc<AtomicU64>,
}

impl Default for EffectiveCatalogs {
    fn default() -> Self {
        Self::new()
    }
}

impl EffectiveCatalogs {
    /// An empty cache. Entries also expire after ten minutes, a safety net
    /// should a notification be lost.
    pub fn new() -> Self {
        Self {
            cache: Cache::builder().max_capacity(50_000).time_to_live(Duration::from_secs(600)).build(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The cached JSON, or the one `build` makes (once, however many ask at once).
    pub async fn get_or_build<E, F, B>(&self, key: Key, build: B) -> Result<Bytes, Arc<E>>
    where
        B: Fn() -> F,
        F: std::future::Future<Output = Result<Bytes, E>>,
        E: Send + Sync + 'static,
    {
        let generation = self.generation.load(Ordering::SeqCst);
        let missed = std::sync::atomic::AtomicBool::new(false);
        let first = async {
            missed.store(true, Ordering::Relaxed);
            build().await.map(|bytes| (generation, bytes))
        };
        let (built_in, bytes) = self.cache.try_get_with(key, first).await?;
        crate::http::metrics::cache_lookup("catalog", !missed.load(Ordering::Relaxed));
        if built_in == self.generation.load(Ordering::SeqCst) {
            return Ok(bytes);
        }
        // The catalog changed while (or since) this was built.
        self.cache.invalidate(&key).await;
        build().await.map_err(Arc::new)
    }

    /// Forgets every cached catalog.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }
}
