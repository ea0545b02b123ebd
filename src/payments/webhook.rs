//! Webhook signatures: `CareService-Signature: t=UNIX,v1=HEX`, where HEX is
//! HMAC-SHA256 under the shared secret over `"{t}.{body}"`. A signature older
//! than five minutes is refused, so a captured request cannot be replayed
//! later; a replay within that time is caught by the event id. A signature
//! dated more than a minute ahead is refused too: clocks drift by seconds, and
//! a far-future one would stay fresh for as long as its date lies ahead.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How old a signature may be.
pub const TOLERANCE_SECONDS: i64 = 300;

/// How far ahead of our clock a signature may be dated (the provider's clock
/// may run a little fast).
pub const FUTURE_TOLERANCE_SECONDS: i64 = 60;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "careservice-signature";

/// Why a webhook is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature is {0} seconds old, more than 300")]
    Stale(i64),
    #[error("the signature is dated {0} seconds ahead, more than 60")]
    FromTheFuture(i64),
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks `header` against `body` and the time `now` (unix seconds), in
/// constant time.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else { return Err(SignatureError::Malformed) };
    mac(secret, timestamp, body).verify_slice(&signature).map_err(|_| SignatureError::Mismatch)?;
    let age = now.saturating_sub(timestamp);
    if age > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale(age));
    }
    if age < -FUTURE_TOLERANCE_SECONDS {
        return Err(SignatureError::FromTheFuture(age.saturating_neg()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_any_change_is_refused() {
        let header = sign(b"secret", 1_700_000_000, b"{\"id\":1}");
        assert_eq!(verify(b"secret", &header, b"{\"id\":1}", 1_700_000_010), Ok(()));
        assert_eq!(verify(b"secret", &header, b"{\"id\":2}", 1_700_000_010), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"other", &header, b"{\"id\":1}", 1_700_000_010), Err(SignatureError::Mismatch));
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(verify(b"secret", &moved, b"{\"id\":1}", 1_700_000_010), Err(SignatureError::Mismatch));
    }

    #[test]
    fn old_or_malformed_signatures_are_refused() {
        let header = sign(b"secret", 1_700_000_000, b"{}");
        assert_eq!(verify(b"secret", &header, b"{}", 1_700_000_301), Err(SignatureError::Stale(301)));
        assert_eq!(verify(b"secret", "v1=00", b"{}", 0), Err(SignatureError::Malformed));
        assert_eq!(verify(b"secret", "t=1,v1=zz", b"{}", 1), Err(SignatureError::Malformed));
    }
}
