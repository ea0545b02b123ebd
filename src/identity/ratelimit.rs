//! Fixed-window rate limits on sign-in, sign-up, password reset and MFA, per
//! client address and per account, and the sign-in lockouts beside them.
//! Counters live in process by default and in Redis when REDIS_URL is set, so
//! that several instances share them; if Redis fails, the in-process counters
//! take over rather than letting everyone in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::sync::Cache;
use redis::aio::ConnectionManager;

use super::lockout::Lockouts;

/// At most `max` attempts per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    /// `max` per `seconds`.
    pub const fn per(max: u32, seconds: u64) -> Self {
        Self { max, window: Duration::from_secs(seconds) }
    }
}

/// The limits of each guarded action.
#[derive(Debug, Clone)]
pub struct Limits {
    pub sign_in_per_ip: Limit,
    pub sign_in_per_account: Limit,
    pub sign_up_per_ip: Limit,
    pub reset_per_ip: Limit,
    pub reset_per_account: Limit,
    pub mfa_per_account: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_per_ip: Limit::per(30, 300),
            sign_in_per_account: Limit::per(20, 900),
            sign_up_per_ip: Limit::per(10, 3600),
            reset_per_ip: Limit::per(10, 900),
            // The window is a reset token's lifetime: whenever a mail is held
            // back, one sent within the last 30 minutes still works.
            reset_per_account: Limit::per(3, 1800),
            mfa_per_account: Limit::per(10, 900),
        }
    }
}

/// Counts attempts; `check` says whether one more is allowed.
#[derive(Clone)]
pub struct RateLimiter {
    local: Cache<String, Arc<AtomicU32>>,
    redis: Option<ConnectionManager>,
    lockouts: Lockouts,
}

/// Refused: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

const INCREMENT_SCRIPT: &str = "local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n";

impl RateLimiter {
    /// Counters in this process only.
    pub fn in_process() -> Self {
        Self {
            local: Cache::builder().max_capacity(200_000).time_to_live(Duration::from_secs(3600)).build(),
            redis: None,
            lockouts: Lockouts::new(None),
        }
    }

    /// Counters in Redis at `url`, shared by every instance.
    pub async fn redis(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let manager = ConnectionManager::new(client).await?;
        Ok(Self { lockouts: Lockouts::new(Some(manager.clone())), redis: Some(manager), ..Self::in_process() })
    }

    /// The sign-in lockouts, kept where the counters are.
    pub fn lockouts(&self) -> &Lockouts {
        &self.lockouts
    }

    fn bucket(key: &str, limit: Limit) -> (String, u64) {
        let window = limit.window.as_secs().max(1);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        (format!("careservice:rl:{key}:{window}:{}", now / window), window - now % window)
    }

    /// Forgets the attempts counted under `key` in the current window (the
    /// owner proved who they are another way).
    pub async fn forget(&self, key: &str, limit: Limit) {
        let (bucket, _) = Self::bucket(key, limit);
        if let Some(manager) = &self.redis {
            let mut connection = manager.clone();
            let deleted: redis::RedisResult<u32> = redis::cmd("DEL").arg(&bucket).query_async(&mut connection).await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "rate limiter: Redis failed, forgetting in process only");
            }
        }
        self.local.invalidate(&bucket);
    }

    /// Counts an attempt under `key` and refuses it past the limit.
    pub async fn check(&self, key: &str, limit: Limit) -> Result<(), RetryAfter> {
        let window = limit.window.as_secs().max(1);
        let (bucket, retry_after) = Self::bucket(key, limit);
        let count = match &self.redis {
            Some(manager) => {
                let mut connection = manager.clone();
                let counted: redis::RedisResult<u32> =
                    redis::Script::new(INCREMENT_SCRIPT).key(&bucket).arg(window).invoke_async(&mut connection).await;
                match counted {
                    Ok(count) => count,
                    Err(error) => {
                        tracing::warn!(%error, "rate limiter: Redis failed, counting in process");
                        self.count_locally(bucket)
                    }
                }
            }
            None => self.count_locally(bucket),
        };
        if count > limit.max { Err(RetryAfter(retry_after)) } else { Ok(()) }
    }

    fn count_locally(&self, bucket: String) -> u32 {
        let counter = self.local.get_with(bucket, || Arc::new(AtomicU32::new(0)));
        counter.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_attempt_past_the_limit_is_refused_with_a_retry_time() {
        let limiter = RateLimiter::in_process();
        let limit = Limit::per(3, 60);
        for _ in 0..3 {
            assert!(limiter.check("sign-in:ip:1.2.3.4", limit).await.is_ok());
        }
        let RetryAfter(seconds) = limiter.check("sign-in:ip:1.2.3.4", limit).await.unwrap_err();
        assert!((1..=60).contains(&seconds));
        // Another key has its own count.
        assert!(limiter.check("sign-in:ip:5.6.7.8", limit).await.is_ok());
    }
}
