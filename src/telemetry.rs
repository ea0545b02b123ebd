//! Structured logs: a sentence plus fields, with each request's id and territory.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` filters (default `info`),
/// `CARESERVICE_LOG_FORMAT=json` writes JSON lines. Logs go to stderr.
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("CARESERVICE_LOG_FORMAT").is_ok_and(|format| format == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = if json { builder.json().try_init() } else { builder.compact().try_init() };
}

/// The root span of every request: the request id, method, route template,
/// host, target, status and the territory the router resolves. The target
/// is the path with every query value masked: links carry secrets there
/// (`/privacy/exports/{id}?token=...`), and no secret goes into a log line.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "default".to_owned());
        let request_id = request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
        let peer = request.peer_addr().map(|peer| peer.ip().to_string()).unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.host = %request.connection_info().host(),
            http.peer_ip = %peer,
            http.target = %masked_target(request.uri()),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            territory = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// The path, and the query with each value replaced by `***`.
fn masked_target(uri: &Uri) -> String {
    match uri.query() {
        None => uri.path().to_owned(),
        Some(query) => {
            let names: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) => format!("{name}=***"),
                    None => pair.to_owned(),
                })
                .collect();
            format!("{}?{}", uri.path(), names.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::masked_target;

    #[test]
    fn query_values_never_reach_the_target() {
        let uri = "/api/v1/privacy/exports/1?token=s3cret&x".parse().unwrap();
        assert_eq!(masked_target(&uri), "/api/v1/privacy/exports/1?token=***&x");
        assert_eq!(masked_target(&"/healthz".parse().unwrap()), "/healthz");
    }
}
