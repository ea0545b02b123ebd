//! Security middleware: response headers, CORS for the territory portals, and
//! TLS with rustls when a certificate is configured.

use std::path::Path;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, header};
use actix_web::middleware::DefaultHeaders;
use anyhow::Context;

use crate::tenancy::resolver::normalize_host;

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

/// CORS: a browser page may call a portal's API only from that portal's own
/// origin (https, or http under localhost): the host it calls. Any other
/// origin gets no CORS headers, so the browser withholds the answer.
pub fn portal_cors(base_domain: &str) -> Cors {
    let base_domain = base_domain.to_owned();
    Cors::default()
        .allowed_origin_fn(move |origin, request| {
            let Some(origin_host) = origin_host(origin, &base_domain) else {
                return false;
            };
            let request_host =
                request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).and_then(|h| normalize_host(h).ok());
            request_host.as_deref() == Some(origin_host.as_str())
        })
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .supports_credentials()
        .max_age(600)
}

/// The host of an `https://` origin (or `http://` under localhost).
fn origin_host(origin: &HeaderValue, base_domain: &str) -> Option<String> {
    let origin = origin.to_str().ok()?;
    if let Some(rest) = origin.strip_prefix("https://") {
        return normalize_host(rest).ok();
    }
    let host = normalize_host(origin.strip_prefix("http://")?).ok()?;
    let local = base_domain == "localhost" && (host == "localhost" || host.ends_with(".localhost"));
    local.then_some(host)
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
