//! Security middleware: response headers, the request's own origin (for CORS
//! and the session's same-origin check), CORS for the territory portals, and
//! TLS with rustls when a certificate is configured.

use std::path::Path;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::RequestHead;
use actix_web::http::{Method, header};
use actix_web::middleware::DefaultHeaders;
use anyhow::Context;
use ipnet::IpNet;

use crate::tenancy::resolver::normalize_host;
use crate::tenancy::router::requested_host;

/// Headers on every answer; HSTS only when served over TLS.
pub fn security_headers(tls: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"));
    if tls { headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains")) } else { headers }
}

/// What makes up a request's own origin: the host it was sent to (see
/// [`requested_host`]) and the scheme it reached us by.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// The base domain: under `localhost` the portals are plain HTTP.
    pub base_domain: String,
    /// Whether this process terminates TLS itself.
    pub tls: bool,
    /// Proxies whose X-Forwarded-Host and X-Forwarded-Proto are believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// A web origin (RFC 6454): scheme, host and port, compared whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    secure: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// Reads an `Origin` header: `http://` or `https://`, a host name, an
    /// optional port and nothing else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.strip_prefix("https://") {
            Some(authority) => Self::at(true, authority),
            None => Self::at(false, raw.strip_prefix("http://")?),
        }
    }

    /// The origin of `authority` (`host[:port]`) under the scheme; the port
    /// defaults to the scheme's.
    fn at(secure: bool, authority: &str) -> Option<Self> {
        let host = normalize_host(authority).ok()?;
        let port = match authority.rsplit_once(':') {
            Some((_, port)) => port.parse().ok()?,
            None if secure => 443,
            None => 80,
        };
        Some(Self { secure, host, port })
    }
}

impl OriginPolicy {
    /// The origin of the page a request to this host would come from. The
    /// scheme is https under TLS, what a trusted proxy says in
    /// X-Forwarded-Proto, http under a `localhost` base domain, and
    /// otherwise https (a TLS proxy in front, as production runs).
    pub fn origin_of(&self, head: &RequestHead) -> Option<Origin> {
        let from_trusted_proxy =
            head.peer_addr.is_some_and(|peer| self.trusted_proxies.iter().any(|net| net.contains(&peer.ip())));
        let forwarded_proto = from_trusted_proxy
            .then(|| {
                head.headers()
                    .get_all("x-forwarded-proto")
                    .filter_map(|value| value.to_str().ok())
                    .flat_map(|value| value.split(','))
                    .map(str::trim)
                    .rfind(|value| !value.is_empty())
                    .map(|proto| proto.eq_ignore_ascii_case("https"))
            })
            .flatten();
        let secure = self.tls || forwarded_proto.unwrap_or(self.base_domain != "localhost");
        Origin::at(secure, &requested_host(head, &self.trusted_proxies)?)
    }

    /// Whether `origin` (an `Origin` header) is exactly the origin of the
    /// host `head` was sent to: same scheme, host and port.
    pub fn is_same_origin(&self, origin: &str, head: &RequestHead) -> bool {
        Origin::parse(origin).is_some_and(|origin| self.origin_of(head).as_ref() == Some(&origin))
    }
}

/// CORS: a browser page may call a portal's API only from that portal's own
/// origin, scheme, host and port alike. Any other origin gets no CORS
/// headers, so the browser withholds the answer.
pub fn portal_cors(policy: OriginPolicy) -> Cors {
    Cors::default()
        .allowed_origin_fn(move |origin, head| origin.to_str().is_ok_and(|origin| policy.is_same_origin(origin, head)))
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .supports_credentials()
        .max_age(600)
}

/// A rustls server configuration from PEM files.
pub fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let mut cert_reader =
        std::io::BufReader::new(std::fs::File::open(cert).with_context(|| format!("cannot read {}", cert.display()))?);
    let chain = rustls_pemfile::certs(&mut cert_reader).collect::<Result<Vec<_>, _>>()?;
    let mut key_reader =
        std::io::BufReader::new(std::fs::File::open(key).with_context(|| format!("cannot read {}", key.display()))?);
    let key = rustls_pemfile::private_key(&mut key_reader)?
        .with_context(|| format!("no private key in {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(config)
}
