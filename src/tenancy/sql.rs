//! Small SQL helpers for names that cannot be bind parameters (DDL).

/// Quotes an identifier as PostgreSQL's `quote_ident` does when it must:
/// always in double quotes, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_doubles_embedded_quotes() {
        assert_eq!(quote_ident("t_amsterdam"), "\"t_amsterdam\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
