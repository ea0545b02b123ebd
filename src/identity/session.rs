//! Who is asking: the session behind a request's cookie or bearer token.
//!
//! Tokens are 256-bit random strings, stored only as SHA-256. A cookie-borne
//! session may change state only from the same origin (CSRF); a bearer token
//! is not sent by browsers on their own, so it needs no such check.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{Duration, Utc};
use futures::future::LocalBoxFuture;

use super::model::{Account, SessionPolicy, SessionRow};
use super::role::Membership;
use super::state::IdentityState;
use super::store;
use super::token::hash_secret;
use crate::http::ApiError;
use crate::http::security::OriginPolicy;
use crate::tenancy::TenancyPool;
use crate::tenancy::resolver::HostTarget;

/// What a session that has not passed its account's MFA may still do.
const MFA_PENDING_PATHS: [&str; 3] = ["/api/v1/auth/mfa/verify", "/api/v1/auth/sign-out", "/api/v1/auth/session"];

/// What a session of a privileged account that has not enrolled in MFA yet
/// may still do: enrol (which passes MFA for the session), and no more.
const MFA_ENROLMENT_PATHS: [&str; 4] =
    ["/api/v1/auth/mfa/enrol", "/api/v1/auth/mfa/confirm", "/api/v1/auth/sign-out", "/api/v1/auth/session"];

/// The session cookie. `__Host-` binds it to this host, over HTTPS, path /.
pub const SESSION_COOKIE: &str = "__Host-session";

/// A request made with a live session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub account: Account,
    pub session: SessionRow,
    pub memberships: Vec<Membership>,
}

impl Authenticated {
    /// Whether the session passed MFA.
    pub fn mfa_verified(&self) -> bool {
        self.session.mfa_verified_at.is_some()
    }

    /// Refuses an account whose email address is not verified yet. Booking
    /// needs it: a booking sends someone to an address and holds money, its
    /// confirmations and refunds are mailed, and an unverified account may
    /// have been made by someone other than the address's owner.
    pub fn require_verified_email(&self) -> Result<(), ApiError> {
        if self.account.email_verified_at.is_some() {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "email-not-verified",
            "Forbidden",
            "confirm your email address first (the token mailed at sign-up, POST /api/v1/auth/verify-email)",
        ))
    }
}

/// The cookie that carries a new session token.
pub fn session_cookie(token: &str, lifetime: Duration) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(lifetime.num_seconds()))
        .finish()
}

/// The cookie that removes the session cookie.
pub fn expired_session_cookie() -> Cookie<'static> {
    let mut cookie = session_cookie("", Duration::zero());
    cookie.make_removal();
    cookie
}

fn mfa_required(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "mfa-required", "Forbidden", detail)
}

fn unauthenticated(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated", detail)
}

/// The token the request presents, and whether it came in a cookie.
pub fn presented_token(request: &HttpRequest) -> Option<(String, bool)> {
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| (token.trim().to_owned(), false));
    bearer.or_else(|| request.cookie(SESSION_COOKIE).map(|cookie| (cookie.value().to_owned(), true)))
}

/// A state-changing request carried by a cookie must come from a page of the
/// same origin: its Origin header must name the scheme, host and port the
/// request was sent to.
fn check_same_origin(request: &HttpRequest) -> Result<(), ApiError> {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-origin-request",
            "Cross-origin request refused",
            "a request changing state with the session cookie must come from the portal's own origin",
        )
    };
    let origin = request.headers().get("origin").and_then(|value| value.to_str().ok()).ok_or_else(refused)?;
    let policy = request.app_data::<web::Data<OriginPolicy>>().ok_or_else(refused)?;
    if policy.is_same_origin(origin, request.head()) { Ok(()) } else { Err(refused()) }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            if let Some(found) = request.extensions().get::<Authenticated>() {
                return Ok(found.clone());
            }
            let (token, via_cookie) = presented_token(&request).ok_or_else(|| unauthenticated("sign in first"))?;
            if via_cookie {
                check_same_origin(&request)?;
            }
            let pool = request
                .app_data::<web::Data<TenancyPool>>()
                .ok_or_else(|| ApiError::internal(&"the database pool is not configured"))?;
            let identity = request
                .app_data::<web::Data<IdentityState>>()
                .ok_or_else(|| ApiError::internal(&"the identity state is not configured"))?;
            let mut conn = pool.hq().await?;
            let (session, account) = store::session_by_token(&mut conn, &identity.keys, &hash_secret(&token))
                .await?
                .ok_or_else(|| unauthenticated("the session is unknown or has ended; sign in again"))?;
            let now = Utc::now();
            if !session.is_live(now) || !account.is_active() {
                return Err(unauthenticated("the session has ended; sign in again"));
            }
            let memberships = store::memberships(&mut conn, account.id).await?;
            // A role gained after sign-in brings its shorter lifetimes at once.
            if SessionPolicy::for_memberships(&memberships) == SessionPolicy::PRIVILEGED {
                let policy = SessionPolicy::PRIVILEGED;
                if now >= session.last_seen_at + policy.idle || now >= session.created_at + policy.absolute {
                    return Err(unauthenticated("the session has ended; sign in again"));
                }
            }
            // An account with MFA gets nothing but MFA itself until the session
            // passed it; an account with a privileged role must use MFA, so
            // until it has enrolled it gets nothing but the enrolment. Decided
            // here, once, rather than in each guard: a route that reads the
            // roles itself (bookings, payments) cannot forget it.
            if session.mfa_verified_at.is_none() {
                let path = request.path();
                if account.has_mfa() && !MFA_PENDING_PATHS.contains(&path) {
                    return Err(mfa_required(
                        "this account uses two-factor authentication: pass it first (/api/v1/auth/mfa/verify)",
                    ));
                }
                let privileged = memberships.iter().any(|m| m.role.is_privileged());
                if !account.has_mfa() && privileged && !MFA_ENROLMENT_PATHS.contains(&path) {
                    return Err(mfa_required(
                        "this account's role needs two-factor authentication: enrol first (/api/v1/auth/mfa/enrol)",
                    ));
                }
            }
            // Sliding the idle timeout needs a write; once a minute is enough.
            if now - session.last_seen_at > Duration::seconds(60) {
                store::touch_session(&mut conn, session.id, now).await?;
            }
            let authenticated = Authenticated { account, session, memberships };
            request.extensions_mut().insert(authenticated.clone());
            Ok(authenticated)
        })
    }
}

/// Whether the request came on the HQ host.
pub fn on_hq_host(request: &HttpRequest) -> bool {
    matches!(request.extensions().get::<HostTarget>(), Some(HostTarget::Hq))
}
