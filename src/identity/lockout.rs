//! Sign-in lockouts, per address and client pair (the OWASP authentication
//! cheat sheet): wrong passwords from one client lock that client out of that
//! address, and nobody else, so an attacker cannot lock an account's owner
//! out from elsewhere. The key is the address as given, whether or not an
//! account has it, so the answers, counts and timers tell nothing about which
//! addresses exist. Kept beside the rate-limit counters: in process, or in
//! Redis shared by every instance.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;
use redis::aio::ConnectionManager;

/// Consecutive wrong passwords from one client after which the pair locks.
pub const THRESHOLD: u32 = 10;
/// The first lock, in seconds; each further failure doubles it.
const FIRST_LOCK_SECONDS: i64 = 60;
/// At most six doublings: 64 minutes.
const MAX_DOUBLINGS: u32 = 6;
/// A pair's count is forgotten after a day without a failure.
const OBSERVATION_SECONDS: u64 = 86_400;

/// How long the pair locks after its `failures`-th consecutive failure.
pub fn lock_after(failures: u32) -> Option<i64> {
    let doublings = failures.checked_sub(THRESHOLD)?.min(MAX_DOUBLINGS);
    Some(FIRST_LOCK_SECONDS << doublings)
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    locked_until: i64,
}

/// Consecutive failures and locks, by key (unix seconds throughout, from the
/// application's clock).
#[derive(Clone)]
pub struct Lockouts {
    local: Cache<String, Arc<Mutex<Failures>>>,
    redis: Option<ConnectionManager>,
}

const FAIL_SCRIPT: &str = "local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n";

fn redis_key(key: &str) -> String {
    format!("careservice:lock:{key}")
}

impl Lockouts {
    /// In process, or in Redis through `redis`.
    pub fn new(redis: Option<ConnectionManager>) -> Self {
        Self {
            local: Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(Duration::from_secs(OBSERVATION_SECONDS))
                .build(),
            redis,
        }
    }

    /// The seconds `key` stays locked after `now`, if it is locked.
    pub async fn locked(&self, key: &str, now: i64) -> Option<u64> {
        let until = match &self.redis {
            Some(manager) => {
                let mut connection = manager.clone();
                let read: redis::RedisResult<Option<i64>> =
                    redis::cmd("HGET").arg(redis_key(key)).arg("until").query_async(&mut connection).await;
                read.unwrap_or_else(|error| {
                    tracing::warn!(%error, "lockouts: Redis failed, reading in process");
                    self.local_until(key)
                })
            }
            None => self.local_until(key),
        }?;
        u64::try_from(until - now).ok().filter(|seconds| *seconds > 0)
    }

    fn local_until(&self, key: &str) -> Option<i64> {
        let entry = self.local.get(key)?;
        let failures = entry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(failures.locked_until)
    }

    /// Counts a failure for `key` at `now`; when it locks the key, the end of
    /// the lock.
    pub async fn fail(&self, key: &str, now: i64) -> Option<i64> {
        if let Some(manager) = &self.redis {
            let mut connection = manager.clone();
            let counted: redis::RedisResult<u32> = redis::Script::new(FAIL_SCRIPT)
                .key(redis_key(key))
                .arg(OBSERVATION_SECONDS)
                .invoke_async(&mut connection)
                .await;
            match counted {
                Ok(count) => {
                    let until = now + lock_after(count)?;
                    let stored: redis::RedisResult<()> = redis::cmd("HSET")
                        .arg(redis_key(key))
                        .arg("until")
                        .arg(until)
                        .query_async(&mut connection)
                        .await;
                    match stored {
                        Ok(()) => return Some(until),
                        Err(error) => tracing::warn!(%error, "lockouts: Redis failed, locking in process"),
                    }
                }
                Err(error) => tracing::warn!(%error, "lockouts: Redis failed, counting in process"),
            }
        }
        let entry = self.local.get_with(key.to_owned(), || Arc::new(Mutex::new(Failures::default())));
        let mut failures = entry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.count = failures.count.saturating_add(1);
        let until = now + lock_after(failures.count)?;
        failures.locked_until = until;
        Some(until)
    }

    /// Forgets `key`'s failures and lock (a sign-in or a reset succeeded).
    pub async fn clear(&self, key: &str) {
        if let Some(manager) = &self.redis {
            let mut connection = manager.clone();
            let deleted: redis::RedisResult<u32> =
                redis::cmd("DEL").arg(redis_key(key)).query_async(&mut connection).await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "lockouts: Redis failed, clearing in process only");
            }
        }
        self.local.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_the_tenth_failure_and_doubles_up_to_64_minutes() {
        assert_eq!(lock_after(9), None);
        assert_eq!(lock_after(10), Some(60));
        assert_eq!(lock_after(11), Some(120));
        assert_eq!(lock_after(16), Some(64 * 60));
        assert_eq!(lock_after(40), Some(64 * 60));
    }

    #[tokio::test]
    async fn a_lock_holds_for_its_key_only_and_ends_when_cleared() {
        let lockouts = Lockouts::new(None);
        for _ in 0..9 {
            assert_eq!(lockouts.fail("anna:1.2.3.4", 1000).await, None);
        }
        assert_eq!(lockouts.fail("anna:1.2.3.4", 1000).await, Some(1060));
        assert_eq!(lockouts.locked("anna:1.2.3.4", 1010).await, Some(50));
        assert_eq!(lockouts.locked("anna:1.2.3.4", 1060).await, None);
        assert_eq!(lockouts.locked("anna:5.6.7.8", 1010).await, None);
        lockouts.clear("anna:1.2.3.4").await;
        assert_eq!(lockouts.locked("anna:1.2.3.4", 1010).await, None);
    }
}
