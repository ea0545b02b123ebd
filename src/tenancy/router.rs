//! The tenant router: middleware that resolves the request's territory from
//! its Host (or, from a trusted proxy only, X-Forwarded-Host) and refuses
//! hosts we do not serve with a problem document.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{RequestHead, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HOST;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use ipnet::IpNet;
use tracing_actix_web::RootSpan;

use super::model::TerritoryStatus;
use super::resolver::{HostTarget, ResolveError, TerritoryResolver};

use crate::http::ApiError;

/// What the router needs: the resolver and who may speak for the client.
pub struct HostRouter {
    resolver: Arc<TerritoryResolver>,
    trusted_proxies: Vec<IpNet>,
}

impl HostRouter {
    /// A router resolving through `resolver`, honouring X-Forwarded-Host from
    /// `trusted_proxies` only.
    pub fn new(resolver: Arc<TerritoryResolver>, trusted_proxies: Vec<IpNet>) -> Self {
        Self { resolver, trusted_proxies }
    }

    fn host_of(&self, request: &ServiceRequest) -> Option<String> {
        requested_host(request.head(), &self.trusted_proxies)
    }
}

/// The host the client asked for, as sent (port included): from a trusted
/// proxy, the X-Forwarded-Host it set; else the authority of an
/// absolute-form request URI, which RFC 9112 (3.2.2) puts before Host; else
/// Host. A value that is not visible ASCII comes back as it is (lossily), so
/// that it is refused as malformed rather than taken for a missing Host.
pub fn requested_host(head: &RequestHead, trusted_proxies: &[IpNet]) -> Option<String> {
    let from_trusted_proxy = head
        .peer_addr
        .map(|peer| peer.ip())
        .is_some_and(|ip: IpAddr| trusted_proxies.iter().any(|net| net.contains(&ip)));
    if from_trusted_proxy {
        // A client may send X-Forwarded-Host lines of its own, which the
        // proxy appends to (a new line or after a comma): the last value is
        // the one the nearest proxy set.
        let forwarded = head
            .headers()
            .get_all("x-forwarded-host")
            .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
            .map(|value| String::from_utf8_lossy(value).trim().to_owned())
            .rfind(|value| !value.is_empty());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    if let Some(authority) = head.uri.authority() {
        return Some(authority.as_str().to_owned());
    }
    head.headers().get(HOST).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// Resolves the territory and stores the [`HostTarget`] in the request.
pub async fn route_by_host(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(router) = request.app_data::<web::Data<HostRouter>>().cloned() else {
        let error = ApiError::internal(&"the host router is not configured");
        return Ok(request.error_response(error).map_into_right_body());
    };
    let host = router.host_of(&request);
    let resolved = router.resolver.resolve(host.as_deref()).await;
    let target = match resolved.map_err(refusal).and_then(|target| serving(&target).map(|()| target)) {
        Ok(target) => target,
        Err(error) => return Ok(request.error_response(error).map_into_right_body()),
    };
    if let (HostTarget::Territory(territory), Some(span)) = (&target, request.extensions().get::<RootSpan>()) {
        span.record("territory", territory.slug.as_str());
    }
    request.extensions_mut().insert(target);
    next.call(request).await.map(ServiceResponse::map_into_left_body)
}

fn refusal(error: ResolveError) -> ApiError {
    match error {
        ResolveError::MissingHost => ApiError::bad_request("missing-host", "the request has no Host header"),
        ResolveError::MalformedHost(_) => ApiError::bad_request("malformed-host", error.to_string()),
        ResolveError::UnknownHost(_) => ApiError::not_found("unknown-territory", error.to_string()),
        ResolveError::Database(failure) => {
            tracing::warn!(error = %failure, "territory lookup failed");
            ApiError::unavailable("the territory registry is not reachable right now; retry shortly")
        }
    }
}

fn serving(target: &HostTarget) -> Result<(), ApiError> {
    let HostTarget::Territory(territory) = target else {
        return Ok(());
    };
    match territory.status {
        TerritoryStatus::Active => Ok(()),
        TerritoryStatus::Suspended => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "territory-suspended",
            "Territory suspended",
            format!("territory {:?} is suspended; its portal is closed for now", territory.slug),
        )),
        TerritoryStatus::Archived => Err(ApiError::new(
            StatusCode::GONE,
            "territory-archived",
            "Territory archived",
            format!("territory {:?} is archived and no longer served", territory.slug),
        )),
        TerritoryStatus::Provisioning => {
            Err(ApiError::not_found("unknown-territory", format!("territory {:?} is not open yet", territory.slug)))
        }
    }
}
