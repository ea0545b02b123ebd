//! The client's address: the peer, or, behind configured trusted proxies
//! only, the nearest untrusted address in X-Forwarded-For.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// Whether `ip` is one of them.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }
}

/// The client's address as a rate-limit key: IPv6 clients are grouped by
/// their /64, which one subscriber usually holds whole.
pub fn client_ip(request: &HttpRequest, trusted: &TrustedProxies) -> Option<String> {
    let peer = request.peer_addr()?.ip();
    let mut client = peer;
    if trusted.contains(&peer) {
        let forwarded = request.headers().get_all("x-forwarded-for").filter_map(|value| value.to_str().ok());
        let hops: Vec<IpAddr> =
            forwarded.flat_map(|value| value.split(',')).filter_map(|hop| hop.trim().parse().ok()).collect();
        // Walk back from the nearest hop; the first address we do not trust
        // is the client (anything further left could be forged by it).
        if let Some(hop) = hops.iter().rev().find(|hop| !trusted.contains(hop)) {
            client = *hop;
        }
    }
    Some(match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut builder = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(value) = forwarded {
            builder = builder.insert_header(("x-forwarded-for", value));
        }
        builder.to_http_request()
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let trusted = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = client_ip(&request("203.0.113.9:5000", Some("1.2.3.4")), &trusted);
        assert_eq!(ip.as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = client_ip(&request("10.0.0.2:5000", Some("6.6.6.6, 198.51.100.7, 10.0.0.1")), &trusted);
        assert_eq!(ip.as_deref(), Some("198.51.100.7"));
    }

    #[test]
    fn ipv6_clients_are_grouped_by_slash_64() {
        let ip = client_ip(&request("[2001:db8:1:2:aaaa::1]:5000", None), &TrustedProxies::default());
        assert_eq!(ip.as_deref(), Some("2001:db8:1:2::/64"));
    }
}
