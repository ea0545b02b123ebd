//! What the identity handlers share: the password hasher, the rate limiter,
//! the limits and the session lifetimes.

use super::model::SessionPolicy;
use super::password::PasswordHasherPool;
use super::ratelimit::{Limits, RateLimiter};

/// Identity settings and services, shared by every worker.
#[derive(Clone)]
pub struct IdentityState {
    pub hasher: PasswordHasherPool,
    pub limiter: RateLimiter,
    pub limits: Limits,
    pub everyday_sessions: SessionPolicy,
    pub privileged_sessions: SessionPolicy,
    /// Accounts' addresses and names are sealed with these.
    pub keys: crate::privacy::Keyring,
}

impl IdentityState {
    /// Defaults, with `limiter` and at most `hashing_threads` hashes at once.
    pub fn new(limiter: RateLimiter, hashing_threads: usize) -> Self {
        Self {
            hasher: PasswordHasherPool::new(hashing_threads),
            limiter,
            limits: Limits::default(),
            everyday_sessions: SessionPolicy::EVERYDAY,
            privileged_sessions: SessionPolicy::PRIVILEGED,
            keys: crate::privacy::Keyring::demo(),
        }
    }
}
