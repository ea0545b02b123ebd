//! Secret tokens (sessions, resets, invitations): 256 random bits, handed to
//! the client once, stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly generated secret and the hash that is stored.
pub struct SecretToken {
    /// What the client gets (base64url, 43 characters).
    pub secret: String,
    /// What the database keeps.
    pub hash: Vec<u8>,
}

impl SecretToken {
    /// 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_secret(&secret);
        Self { secret, hash }
    }
}

/// The stored form of a secret presented by a client.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_256_bit_and_stored_hashed() {
        let (a, b) = (SecretToken::generate(), SecretToken::generate());
        assert_ne!(a.secret, b.secret);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.secret).unwrap().len(), 32);
        assert_eq!(a.hash, hash_secret(&a.secret));
        assert_ne!(a.hash, a.secret.as_bytes());
    }
}
