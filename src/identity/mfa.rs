//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps) and backup codes.
//! A code is accepted once: the step it belongs to must be later than the
//! last step accepted for the account, so a replayed code fails.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP_SECONDS: u64 = 30;
const ISSUER: &str = "CareService";

/// A new TOTP secret (160 bits) in base32, as stored and as shown.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret_base32: &str, account_name: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS, bytes, Some(ISSUER.to_owned()), account_name.replace(':', "_")).ok()
}

/// The otpauth:// URL an authenticator app scans.
pub fn provisioning_url(secret_base32: &str, account_name: &str) -> Option<String> {
    totp(secret_base32, account_name).map(|totp| totp.get_url())
}

/// The step `code` is valid for at `unix_time` (one step of clock skew either
/// way), if any.
pub fn matching_step(secret_base32: &str, code: &str, unix_time: u64) -> Option<i64> {
    let totp = totp(secret_base32, "check")?;
    let current = unix_time / STEP_SECONDS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| totp.generate(step * STEP_SECONDS) == code.trim())
        .and_then(|step| i64::try_from(step).ok())
}

/// The code for `unix_time` (tests and the demo's tooling).
pub fn code_at(secret_base32: &str, unix_time: u64) -> Option<String> {
    totp(secret_base32, "check").map(|totp| totp.generate(unix_time))
}

/// Ten single-use backup codes of 80 random bits each.
pub fn new_backup_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let mut bytes = [0_u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            URL_SAFE_NO_PAD.encode(bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_own_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(matching_step(&secret, &code, now), Some((now / 30) as i64));
        assert!(matching_step(&secret, &code, now + 30).is_some());
        assert!(matching_step(&secret, &code, now + 120).is_none());
        assert!(matching_step(&secret, "000000x", now).is_none());
    }

    #[test]
    fn provisioning_urls_name_the_issuer() {
        let url = provisioning_url(&new_secret(), "anna@voorbeeld.nl").unwrap();
        assert!(url.starts_with("otpauth://totp/CareService:anna%40voorbeeld.nl?"), "{url}");
    }

    #[test]
    fn backup_codes_are_distinct() {
        let codes = new_backup_codes();
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
    }
}
