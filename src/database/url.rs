//! Connection URLs for a server on a Unix socket.

use std::path::Path;

/// `postgresql:///DATABASE?host=SOCKET_DIR&port=PORT&user=USER`.
pub fn socket_url(socket_dir: &Path, port: u16, user: &str, database: &str) -> String {
    format!(
        "postgresql:///{}?host={}&port={port}&user={}",
        encode(database),
        encode(&socket_dir.to_string_lossy()),
        encode(user)
    )
}

/// Percent-encodes everything but unreserved characters and '/'.
fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_urls_encode_odd_paths() {
        let url = socket_url(Path::new("/tmp/my dir"), 5432, "careservice", "careservice");
        assert_eq!(url, "postgresql:///careservice?host=/tmp/my%20dir&port=5432&user=careservice");
    }
}
