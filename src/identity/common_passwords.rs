//! The most common passwords, from zxcvbn's frequency list (the 30,000 most
//! used in leaks), so that no dictionary of our own has to be kept.

use zxcvbn::matching::patterns::MatchPattern;

/// How far down the frequency list a password counts as common.
const COMMON_RANK: usize = 10_000;

/// Whether the whole password (ignoring case and l33t substitutions) is one
/// of the 10,000 most common.
pub fn is_common(password: &str) -> bool {
    let length = password.chars().count();
    let estimate = zxcvbn::zxcvbn(password, &[]);
    match estimate.sequence() {
        [only] if only.i == 0 && only.j + 1 == length => match &only.pattern {
            // zxcvbn does not export its dictionary enum; its default is
            // the passwords list.
            MatchPattern::Dictionary(word) => word.dictionary_name == Default::default() && word.rank <= COMMON_RANK,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_common;

    #[test]
    fn leaked_favourites_are_common_and_passphrases_are_not() {
        for common in ["password", "12345678", "password123", "qwertyuiop", "P@ssw0rd", "iloveyou"] {
            assert!(is_common(common), "{common}");
        }
        for fine in ["fiets-kaas-molen", "correct horse battery staple", "Zuiderzee1932!veld"] {
            assert!(!is_common(fine), "{fine}");
        }
    }
}
