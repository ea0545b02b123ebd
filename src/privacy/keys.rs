//! Field encryption at rest: AES-256-GCM applied in the application. Each
//! value is bound, as associated data, to its scope (a territory or hq),
//! table, column and row, so a ciphertext copied to another row or column does
//! not decrypt. The key version travels with each value
//! (`enc:v2:BASE64(nonce || ciphertext)`), so keys can be rotated with the
//! service running: new values use the newest key, old ones stay readable
//! until `careservice keys rotate` has re-encrypted them.
//!
//! Keys come from configuration (`CARESERVICE_ENCRYPTION_KEYS`, or a key file),
//! never from the database. Besides the versioned keys, a `lookup:KEY` entry
//! keys the hash that stands beside a sealed value where it must be found
//! (an account by its email address); it does not rotate, since every stored
//! hash would have to be recomputed from the plaintext.

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The key of the demo and the tests: `config check` says so.
pub const DEMO_KEYS: &str =
    "1:ZGVtby1rZXktbm90LWZvci1wcm9kdWN0aW9uLTEyMzQ,lookup:ZGVtby1sb29rdXAta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg";

const PREFIX: &str = "enc:v";

/// Where a value lives: what its ciphertext is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place<'a> {
    /// `t{territory id}` or `hq`.
    pub scope: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl Place<'_> {
    fn associated_data(&self) -> String {
        format!("careservice/{}/{}/{}/{}", self.scope, self.table, self.column, self.row)
    }
}

/// Why keys or a value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("keys are VERSION:BASE64 pairs separated by commas; {0}")]
    Malformed(String),
    #[error("key {0} is not 32 bytes (base64 of 32 random bytes)")]
    WrongLength(u32),
    #[error("no lookup key: add lookup:BASE64 (32 random bytes, from `careservice keys generate`)")]
    NoLookupKey,
    #[error("the value was sealed with key version {0}, which is not configured")]
    UnknownVersion(u32),
    #[error("the value does not decrypt here (moved, changed or a wrong key)")]
    Undecryptable,
}

/// The configured keys; the newest seals, every one opens.
#[derive(Clone)]
pub struct Keyring {
    keys: Arc<BTreeMap<u32, Aes256Gcm>>,
    current: u32,
    lookup: Arc<[u8]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("versions", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

impl Keyring {
    /// Parses `1:BASE64,2:BASE64,lookup:BASE64` (base64 of 32 bytes each,
    /// URL-safe or standard, padding optional); the highest version seals.
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        let mut lookup = None;
        for entry in spec.split([',', '\n']).map(str::trim).filter(|entry| !entry.is_empty() && !entry.starts_with('#'))
        {
            let (version, key) =
                entry.split_once(':').ok_or_else(|| KeyError::Malformed(format!("{:?} has no ':'", redact(entry))))?;
            if version.trim() == "lookup" {
                let bytes = decode(key).map_err(|_| KeyError::Malformed("the lookup key is not base64".into()))?;
                if bytes.len() < 32 {
                    return Err(KeyError::Malformed("the lookup key is shorter than 32 bytes".into()));
                }
                lookup = Some(bytes);
                continue;
            }
            let version: u32 = version
                .trim()
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| KeyError::Malformed(format!("version {version:?} is not a positive number")))?;
            let bytes = decode(key).map_err(|_| KeyError::Malformed(format!("key {version} is not base64")))?;
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyError::WrongLength(version))?;
            keys.insert(version, cipher);
        }
        let current = *keys.keys().next_back().ok_or_else(|| KeyError::Malformed("no key given".into()))?;
        let lookup = lookup.ok_or(KeyError::NoLookupKey)?;
        Ok(Self { keys: Arc::new(keys), current, lookup: lookup.into() })
    }

    /// The keyed hash (HMAC-SHA256, hex) of `value`, stored beside a sealed
    /// value so that it can be found by equality without being readable.
    pub fn lookup(&self, value: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.lookup).unwrap_or_else(|_| unreachable!());
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The demo keys.
    pub fn demo() -> Self {
        Self::parse(DEMO_KEYS).unwrap_or_else(|_| unreachable!("the demo key is valid"))
    }

    /// The version new values are sealed with.
    pub fn current(&self) -> u32 {
        self.current
    }

    /// Encrypts `plaintext` for `place` with the newest key. The empty string
    /// stays empty (there is nothing to hide, and nothing to bind).
    pub fn seal(&self, plaintext: &str, place: &Place<'_>) -> String {
        if plaintext.is_empty() {
            return String::new();
        }
        let Some(cipher) = self.keys.get(&self.current) else { return String::new() };
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let aad = place.associated_data();
        let Ok(sealed) =
            cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() })
        else {
            return String::new();
        };
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}:{}", self.current, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Decrypts a value sealed for `place`. A value stored before encryption
    /// (no prefix) is returned as it is; `keys rotate` seals those too.
    pub fn open(&self, stored: &str, place: &Place<'_>) -> Result<String, KeyError> {
        let Some((version, body)) = split_sealed(stored) else { return Ok(stored.to_owned()) };
        let cipher = self.keys.get(&version).ok_or(KeyError::UnknownVersion(version))?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| KeyError::Undecryptable)?;
        if bytes.len() < 12 {
            return Err(KeyError::Undecryptable);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let aad = place.associated_data();
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
            .map_err(|_| KeyError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| KeyError::Undecryptable)
    }

    /// Whether a stored value should be re-sealed with the newest key.
    pub fn is_stale(&self, stored: &str) -> bool {
        !stored.is_empty() && split_sealed(stored).is_none_or(|(version, _)| version != self.current)
    }
}

/// The version and body of a sealed value, or `None` for plaintext.
fn split_sealed(stored: &str) -> Option<(u32, &str)> {
    let rest = stored.strip_prefix(PREFIX)?;
    let (version, body) = rest.split_once(':')?;
    Some((version.parse().ok()?, body))
}

fn decode(key: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let trimmed = key.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(trimmed.replace('+', "-").replace('/', "_"))
}

fn redact(entry: &str) -> String {
    entry.chars().take(4).chain("…".chars()).collect()
}

/// A new random key, as `keys generate` prints it.
pub fn generate_key() -> String {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    URL_SAFE_NO_PAD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKUP: &str = "lookup:ZGVtby1sb29rdXAta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg";

    fn place(row: &str) -> Place<'_> {
        Place { scope: "t1", table: "bookings", column: "address", row }
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place() {
        let keys = Keyring::demo();
        let sealed = keys.seal("Damrak 1, Amsterdam", &place("a"));
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains("Damrak"));
        assert_eq!(keys.open(&sealed, &place("a")).unwrap(), "Damrak 1, Amsterdam");
        assert_eq!(keys.open(&sealed, &place("b")), Err(KeyError::Undecryptable));
        let other_column = Place { column: "notes", ..place("a") };
        assert_eq!(keys.open(&sealed, &other_column), Err(KeyError::Undecryptable));
        let other_territory = Place { scope: "t2", ..place("a") };
        assert_eq!(keys.open(&sealed, &other_territory), Err(KeyError::Undecryptable));
        // Two seals of one value differ (random nonces).
        assert_ne!(sealed, keys.seal("Damrak 1, Amsterdam", &place("a")));
    }

    #[test]
    fn old_values_open_after_a_new_key_is_added_and_are_stale() {
        let old = Keyring::parse(&format!("1:{},{LOOKUP}", generate_key())).unwrap();
        let sealed = old.seal("notes", &place("a"));
        let spec = format!("{},2:{}", DEMO_KEYS.replacen("1:", "9:", 1), generate_key());
        assert!(Keyring::parse(&spec).unwrap().open(&sealed, &place("a")).is_err());
        let key_one = URL_SAFE_NO_PAD.encode([0u8; 32]);
        let both = Keyring::parse(&format!("1:{key_one},2:{},{LOOKUP}", generate_key())).unwrap();
        let first = Keyring::parse(&format!("1:{key_one},{LOOKUP}")).unwrap();
        let value = first.seal("notes", &place("a"));
        assert_eq!(both.current(), 2);
        assert_eq!(both.open(&value, &place("a")).unwrap(), "notes");
        assert!(both.is_stale(&value));
        assert!(!both.is_stale(&both.seal("notes", &place("a"))));
        assert!(both.is_stale("plain text from before"));
        assert_eq!(both.open("plain text from before", &place("a")).unwrap(), "plain text from before");
    }

    #[test]
    fn lookups_are_keyed_and_stable() {
        let keys = Keyring::demo();
        assert_eq!(keys.lookup("anna@example.nl"), keys.lookup("anna@example.nl"));
        assert_ne!(keys.lookup("anna@example.nl"), keys.lookup("bob@example.nl"));
        assert_eq!(keys.lookup("anna@example.nl").len(), 64);
        let other = Keyring::parse(&format!("1:{},lookup:{}", generate_key(), generate_key())).unwrap();
        assert_ne!(other.lookup("anna@example.nl"), keys.lookup("anna@example.nl"));
    }

    #[test]
    fn malformed_keys_are_refused_without_echoing_them() {
        assert!(matches!(Keyring::parse(""), Err(KeyError::Malformed(_))));
        assert!(matches!(Keyring::parse("abc"), Err(KeyError::Malformed(_))));
        assert_eq!(Keyring::parse("1:c2hvcnQ").err(), Some(KeyError::WrongLength(1)));
        assert_eq!(Keyring::parse(&format!("1:{}", generate_key())).err(), Some(KeyError::NoLookupKey));
        let error = Keyring::parse("secretsecret").err().unwrap().to_string();
        assert!(!error.contains("secretsecret"), "{error}");
    }
}
