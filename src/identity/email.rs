//! A validated email address.

use std::fmt;

/// An email address: trimmed, at most 254 characters, one '@' with text on
/// both sides and a dot in the domain. Compared by its lowercased form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    original: String,
    normalized: String,
}

impl Email {
    /// Validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let original = raw.trim();
        let invalid = || "give a valid email address, such as naam@voorbeeld.nl".to_owned();
        if original.len() < 3 || original.len() > 254 || original.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = original.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(invalid());
        }
        Ok(Self { original: original.to_owned(), normalized: original.to_lowercase() })
    }

    /// As given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Lowercased: the key accounts are unique on.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_compared_lowercased() {
        let email = Email::parse("  Anna@Voorbeeld.NL ").unwrap();
        assert_eq!(email.as_str(), "Anna@Voorbeeld.NL");
        assert_eq!(email.normalized(), "anna@voorbeeld.nl");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in ["", "anna", "anna@", "@voorbeeld.nl", "anna@localhost", "an na@x.nl", "a@b@c.nl", "anna@.nl"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@x.nl", "a".repeat(250))).is_err());
    }
}
