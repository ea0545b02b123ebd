//! The public catalog is read on almost every public request: its JSON is
//! cached per territory, local date and language, and forgotten on every
//! catalog change (on every instance, through LISTEN/NOTIFY).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use chrono::NaiveDate;
use moka::future::Cache;

use super::effective::Language;

type Key = (i64, NaiveDate, Language);

/// Cached public catalogs.
#[derive(Clone)]
pub struct EffectiveCatalogs {
    cache: Cache<Key, Bytes>,
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
            cache: Cache::builder()
                .max_capacity(50_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }

    /// The cached JSON, or the one `build` makes (once, however many ask at once).
    pub async fn get_or_build<E, F>(&self, key: Key, build: F) -> Result<Bytes, Arc<E>>
    where
        F: std::future::Future<Output = Result<Bytes, E>>,
        E: Send + Sync + 'static,
    {
        self.cache.try_get_with(key, build).await
    }

    /// Forgets every cached catalog.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}
