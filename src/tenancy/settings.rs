//! Validated territory settings given at onboarding: time zone, locale, domains.

use std::str::FromStr;

/// An IANA time zone name known to the tz database (`Europe/Amsterdam`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone(String);

impl TimeZone {
    /// Validates an IANA zone name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        chrono_tz::Tz::from_str(raw)
            .map(|zone| Self(zone.name().to_owned()))
            .map_err(|_| format!("{raw:?} is not an IANA time zone (for example Europe/Amsterdam)"))
    }

    /// The zone name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        Self("Europe/Amsterdam".to_owned())
    }
}

/// A locale as language and optional region (`nl-NL`, `en`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    /// Validates `ll` or `ll-RR`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = match raw.split_once('-') {
            None => is_language(raw),
            Some((language, region)) => {
                is_language(language) && region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase())
            }
        };
        if valid { Ok(Self(raw.to_owned())) } else { Err(format!("{raw:?} is not a locale such as nl-NL or en")) }
    }

    /// The locale tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_language(raw: &str) -> bool {
    (2..=3).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_lowercase())
}

impl Default for Locale {
    fn default() -> Self {
        Self("nl-NL".to_owned())
    }
}

/// A custom domain of a territory: a lowercase host name outside the base domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain(String);

impl CustomDomain {
    /// Validates a host name; it may not sit under `base_domain`, where only
    /// slugs live.
    pub fn parse(raw: &str, base_domain: &str) -> Result<Self, String> {
        let host = raw.trim_end_matches('.').to_ascii_lowercase();
        let labels_ok = host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !labels_ok || !host.contains('.') || host.len() > 253 {
            return Err(format!("{raw:?} is not a host name such as zorg-amsterdam.nl"));
        }
        // An address is not a domain (and no top-level domain is numeric):
        // `127.0.0.1` would hand the loopback host to a territory.
        if host.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
            return Err(format!("{raw:?} is an address, not a host name such as zorg-amsterdam.nl"));
        }
        if host == base_domain || host.ends_with(&format!(".{base_domain}")) {
            return Err(format!("{raw:?} is under the base domain {base_domain}, where hosts are territory slugs"));
        }
        Ok(Self(host))
    }

    /// The host name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_must_be_iana_names() {
        assert_eq!(TimeZone::parse("Europe/Amsterdam").unwrap().as_str(), "Europe/Amsterdam");
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert!(TimeZone::parse("CEST+2").is_err());
    }

    #[test]
    fn locales_are_language_and_region() {
        assert!(Locale::parse("nl-NL").is_ok());
        assert!(Locale::parse("en").is_ok());
        for bad in ["NL", "nl_NL", "nl-nl", "dutch", ""] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_domains_are_lowercased_and_kept_off_the_base_domain() {
        assert_eq!(CustomDomain::parse("Zorg-Amsterdam.NL.", "localhost").unwrap().as_str(), "zorg-amsterdam.nl");
        assert!(CustomDomain::parse("ams.careservice.nl", "careservice.nl").is_err());
        assert!(CustomDomain::parse("nodot", "localhost").is_err());
        assert!(CustomDomain::parse("bad_host.nl", "localhost").is_err());
    }
}
