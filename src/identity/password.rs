//! Passwords: the policy (8 to 128 characters, no composition rules, the most
//! common ones refused) and argon2id hashing off the async workers, on a few
//! threads of their own that run at a lower CPU priority: a flood of sign-ins
//! queues there, and the scheduler still serves other requests first.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

/// OWASP's argon2id minimum: 19 MiB, two passes, one lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// A password that passed the policy.
pub struct Password(String);

impl Password {
    /// Checks the policy: 8 to 128 characters, not among the most common.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let length = raw.chars().count();
        if length < 8 {
            return Err("a password has at least 8 characters".into());
        }
        if length > 128 {
            return Err("a password has at most 128 characters".into());
        }
        if super::common_passwords::is_common(raw) {
            return Err("this password is one of the most common ones; choose another".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Why hashing failed (only a broken environment or a corrupt stored hash).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Argon2(String),
    #[error("password hashing was interrupted")]
    Interrupted,
}

/// What verifying a password found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password.
    No,
    /// Right password, hash current.
    Yes,
    /// Right password; the hash used old parameters: store this new one.
    YesRehashed(String),
}

/// Hashes and verifies on its own threads, `limit` at a time, niced so that
/// request handling wins the CPU when both want it.
#[derive(Clone)]
pub struct PasswordHasherPool {
    threads: Option<Arc<rayon::ThreadPool>>,
}

/// The nice value of hashing threads (0 is normal, 19 the lowest priority).
const HASHING_NICENESS: libc::c_int = 19;

fn lower_this_threads_priority() {
    // SAFETY: setpriority has no memory-safety preconditions. On Linux, with
    // `who` 0 it applies to the calling thread only. A failure (not permitted)
    // leaves the thread at normal priority, which is still correct.
    let outcome = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICENESS) };
    if outcome != 0 {
        tracing::debug!("could not lower the priority of a password-hashing thread");
    }
}

impl PasswordHasherPool {
    /// At most `limit` hashes run at once.
    pub fn new(limit: usize) -> Self {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(limit.max(1))
            .thread_name(|index| format!("password-hash-{index}"))
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .map_err(|error| tracing::error!(%error, "cannot start the password-hashing threads"))
            .ok()
            .map(Arc::new);
        Self { threads }
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move || hash_now(&password)).await
    }

    /// Checks `password` against `stored`; when it matches but the stored
    /// hash is not argon2id with the current parameters, also returns a new hash.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, HashError> {
        let (password, stored) = (password.to_owned(), stored.to_owned());
        self.run(move || verify_now(&password, &stored)).await
    }

    /// Spends the same work as a verification, for answers that must not
    /// reveal whether an account exists.
    pub async fn waste_equivalent_work(&self) -> Result<(), HashError> {
        self.hash("not-a-password-at-all").await.map(|_| ())
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let threads = self.threads.as_ref().ok_or(HashError::Interrupted)?;
        let (sender, receiver) = oneshot::channel();
        threads.spawn(move || {
            let _ = sender.send(work());
        });
        receiver.await.map_err(|_| HashError::Interrupted)?
    }
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

fn verify_now(password: &str, stored: &str) -> Result<Verified, HashError> {
    let parsed = PasswordHash::new(stored).map_err(|e| HashError::Argon2(e.to_string()))?;
    // Verification follows the parameters in the stored string.
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Ok(Verified::No);
    }
    let current = parsed.algorithm == Algorithm::Argon2id.ident()
        && Params::try_from(&parsed).is_ok_and(|params| {
            params.m_cost() == MEMORY_KIB && params.t_cost() == ITERATIONS && params.p_cost() == PARALLELISM
        });
    if current { Ok(Verified::Yes) } else { Ok(Verified::YesRehashed(hash_now(password)?)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_characters_not_bytes_and_refuses_common_passwords() {
        assert!(Password::parse("kort").is_err());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("password123").is_err());
        assert!(Password::parse("12345678").is_err());
        assert!(Password::parse("fiets-kaas-molen-regen").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_owasp_parameters() {
        let pool = PasswordHasherPool::new(1);
        let hash = pool.hash("fiets-kaas-molen").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert_eq!(pool.verify("fiets-kaas-molen", &hash).await.unwrap(), Verified::Yes);
        assert_eq!(pool.verify("fiets-kaas-molem", &hash).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn a_hash_with_old_parameters_is_replaced_on_a_correct_password() {
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap())
            .hash_password(b"fiets-kaas-molen", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let pool = PasswordHasherPool::new(1);
        match pool.verify("fiets-kaas-molen", &old).await.unwrap() {
            Verified::YesRehashed(new) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(pool.verify("wrong-password", &old).await.unwrap(), Verified::No);
    }
}
