//! `/api/v1/auth/...` on any host: sign-up, sign-in, sessions, password reset
//! and email verification.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, delete, get, post, web};
use chrono::DateTime;
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;
use scoped_futures::ScopedFutureExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::email::Email;
use super::mfa_routes::{self, SecondFactor};
use super::model::{AccountView, SessionPolicy, SessionView};
use super::password::{Password, Verified};
use super::ratelimit::{Limit, RetryAfter};
use super::reset_mail;
use super::role::{Membership, Role};
use super::session::{Authenticated, expired_session_cookie, session_cookie};
use super::state::IdentityState;
use super::store::{self, TokenPurpose};
use super::token::{SecretToken, hash_secret};
use crate::clock::SharedClock;
use crate::http::ApiError;
use crate::http::client_ip::{TrustedProxies, client_ip};
use crate::http::problem::Problem;
use crate::tenancy::TenancyPool;
use crate::tenancy::resolver::HostTarget;

/// How long an email-verification link works.
const VERIFY_LIFETIME: Duration = Duration::hours(24);

/// Registers the auth routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(sign_up)
        .service(sign_in)
        .service(sign_out)
        .service(current_session)
        .service(list_sessions)
        .service(revoke_session)
        .service(request_password_reset)
        .service(confirm_password_reset)
        .service(verify_email)
        .service(change_password)
        .service(join_territory);
}

/// 429 with Retry-After.
pub fn too_many(RetryAfter(seconds): RetryAfter) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many attempts",
        format!("too many attempts; retry in {seconds} seconds"),
    )
    .retry_after(u32::try_from(seconds).unwrap_or(u32::MAX))
}

/// An address as given at sign-in or reset, lowercased for lookup; text no
/// address can contain (control characters) is refused rather than looked up.
fn lookup_form(email: &str) -> Result<String, ApiError> {
    if email.chars().any(char::is_control) {
        return Err(invalid_input("invalid-email", "an email address has no control characters".into()));
    }
    Ok(email.trim().to_lowercase())
}

/// Counts an attempt against a limit keyed by `what` and `who`.
pub async fn limit(state: &IdentityState, what: &str, who: &str, limit: Limit) -> Result<(), ApiError> {
    state.limiter.check(&format!("{what}:{who}"), limit).await.map_err(too_many)
}

/// The caller's address as a rate-limit key.
pub fn caller_ip(request: &HttpRequest) -> String {
    let trusted = request.app_data::<web::Data<TrustedProxies>>().map(|t| t.get_ref().clone()).unwrap_or_default();
    client_ip(request, &trusted).unwrap_or_else(|| "unknown".to_owned())
}

fn invalid_input(code: &'static str, detail: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, "Invalid input", detail)
}

/// The answer of requests whose outcome is mailed (the same whether or not
/// an account exists).
#[derive(Serialize, ToSchema)]
pub struct AcceptedAnswer {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    status: &'static str,
    /// What happens next.
    detail: String,
}

fn accepted(detail: &str) -> HttpResponse {
    HttpResponse::Accepted().json(AcceptedAnswer { status: "accepted", detail: detail.to_owned() })
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "anna@example.nl", "password": "a long passphrase", "display_name": "Anna"}))]
struct SignUp {
    email: String,
    password: String,
    display_name: String,
}

/// Creates an account (with a customer membership when asked on a territory
/// host). The answer, and the work behind it, are the same whether or not the
/// email is already registered: an attacker learns nothing from it.
#[utoipa::path(tag = "auth", responses(
    (status = 202, description = "A verification token is mailed (or a notice, if the address has an account)", body = AcceptedAnswer),
    (status = 422, description = "invalid-email, weak-password or invalid-name", body = Problem),
    (status = 429, description = "Too many sign-ups from this address", body = Problem),
))]
#[post("/auth/sign-up")]
#[tracing::instrument(skip_all)]
async fn sign_up(
    request: HttpRequest,
    body: web::Json<SignUp>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, "sign-up:ip", &caller_ip(&request), state.limits.sign_up_per_ip).await?;
    let email = Email::parse(&body.email).map_err(|e| invalid_input("invalid-email", e))?;
    let password = Password::parse(&body.password).map_err(|e| invalid_input("weak-password", e))?;
    let display_name = body.display_name.trim().to_owned();
    if !(1..=200).contains(&display_name.chars().count()) {
        return Err(invalid_input("invalid-name", "a display name has 1 to 200 characters".into()));
    }
    let territory_id = match request.extensions().get::<HostTarget>() {
        Some(HostTarget::Territory(territory)) => Some(territory.id),
        _ => None,
    };
    let hash = state.hasher.hash(password.expose()).await.map_err(|e| ApiError::internal(&e))?;
    let verification = SecretToken::generate();
    let keys = state.keys.clone();
    let mut conn = pool.hq().await?;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        async move {
            match store::insert_account(conn, &keys, email.as_str(), email.normalized(), &hash, &display_name).await? {
                Some(account) => {
                    if let Some(territory_id) = territory_id {
                        store::add_membership(conn, account.id, Some(territory_id), Role::Customer).await?;
                    }
                    store::create_one_time_token(
                        conn,
                        &verification.hash,
                        account.id,
                        TokenPurpose::VerifyEmail,
                        VERIFY_LIFETIME,
                    )
                    .await?;
                    let body = format!(
                        "Welcome to CareService. Confirm your address with this token:\n\n{}\n\nIt works for 24 hours.",
                        verification.secret
                    );
                    store::enqueue_mail(conn, &keys, email.as_str(), "Confirm your email address", &body).await
                }
                None => {
                    let body = "Someone tried to create a CareService account with this address, which already \
                                has one. If it was you, sign in or reset your password.";
                    store::enqueue_mail(conn, &keys, email.as_str(), "You already have an account", body).await
                }
            }
        }
        .scope_boxed()
    })
    .await?;
    Ok(accepted("check your email to continue"))
}

/// Credentials; a second factor may come along, which lets the sign-in
/// through a lock (and passes MFA for the new session at once).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "anna@example.nl", "password": "a long passphrase"}))]
struct SignIn {
    email: String,
    password: String,
    /// A TOTP code from the account's authenticator.
    code: Option<String>,
    /// One of the account's backup codes (instead of `code`).
    backup_code: Option<String>,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid-credentials", "Unauthenticated", "wrong email or password")
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    /// The session token, for `Authorization: Bearer` (also set as the cookie).
    token: String,
    session_id: Uuid,
    expires_at: DateTime<Utc>,
    /// Whether the session must pass MFA before it can do anything else.
    mfa_required: bool,
    mfa_enrolled: bool,
    account: AccountView,
    memberships: Vec<Membership>,
}

/// Opens a session: a `__Host-session` cookie for portals, and the same token
/// in the body for scripts and apps (`Authorization: Bearer`).
///
/// Ten wrong passwords in a row for an address from one client lock that
/// client out of that address (1 minute, doubling with each further failure
/// up to 64 minutes); more than the per-account limit from all clients
/// together refuses everyone for the rest of the window. Either way, the
/// right password with a passing `code` or `backup_code` still signs in, and
/// the answers are the same whether or not the address has an account.
#[utoipa::path(tag = "auth", responses(
    (status = 200, description = "Signed in; `Set-Cookie` carries the same token", body = SignedIn),
    (status = 400, description = "malformed-body: both code and backup_code", body = Problem),
    (status = 401, description = "invalid-credentials, or invalid-mfa-code for a right password with a wrong code", body = Problem),
    (status = 422, description = "invalid-email: control characters in the address", body = Problem),
    (status = 429, description = "Too many attempts, or this client is locked out of the address for a while", body = Problem),
))]
#[post("/auth/sign-in")]
#[tracing::instrument(skip_all)]
async fn sign_in(
    request: HttpRequest,
    body: web::Json<SignIn>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    let ip = caller_ip(&request);
    limit(&state, "sign-in:ip", &ip, state.limits.sign_in_per_ip).await?;
    let normalized = lookup_form(&body.email)?;
    let factor = SecondFactor::given(body.code.as_deref(), body.backup_code.as_deref())?;
    // Everything below is keyed by the address as given, not by an account,
    // and does the same work whether or not one has it.
    let address = state.keys.lookup(&normalized);
    let pair = lockout_key(&address, &ip);
    let now = clock.now().timestamp();
    let over_account_limit = state
        .limiter
        .check(&format!("sign-in:account:{address}"), state.limits.sign_in_per_account)
        .await
        .err()
        .map(|RetryAfter(seconds)| seconds);
    let locked = state.limiter.lockouts().locked(&pair, now).await;
    let refused = locked.max(over_account_limit).map(RetryAfter);
    if let (Some(retry), None) = (refused, &factor) {
        return Err(too_many(retry));
    }

    let mut conn = pool.hq().await?;
    let found = store::account_by_email(&mut conn, &state.keys, &normalized).await?;
    let verified = match &found {
        Some(account) => state.hasher.verify(&body.password, &account.password_hash).await,
        None => state.hasher.waste_equivalent_work().await.map(|()| Verified::No),
    }
    .map_err(|e| ApiError::internal(&e))?;
    let (account, new_hash) = match (found, verified) {
        (Some(account), Verified::Yes) => (account, None),
        (Some(account), Verified::YesRehashed(hash)) => (account, Some(hash)),
        (found, _) => {
            if let Some(until) = state.limiter.lockouts().fail(&pair, now).await {
                record_lock(&mut conn, found.as_ref(), until).await?;
            }
            return Err(refused.map_or_else(invalid_credentials, too_many));
        }
    };
    let mfa_passed = match &factor {
        Some(factor) => {
            limit(&state, "mfa:account", &account.id.to_string(), state.limits.mfa_per_account).await?;
            let secret = account.totp_secret.as_deref().filter(|_| account.has_mfa());
            let passed = match secret {
                Some(secret) => mfa_routes::passes(&mut conn, account.id, secret, factor).await?,
                None => false,
            };
            if !passed {
                // Through a lock, a wrong code must not tell that the password was right.
                return Err(refused.map_or_else(wrong_mfa_code, too_many));
            }
            true
        }
        None => false,
    };
    if !account.is_active() {
        return Err(refused.map_or_else(invalid_credentials, too_many));
    }
    state.limiter.lockouts().clear(&pair).await;
    if let Some(hash) = &new_hash {
        store::store_rehashed_password(&mut conn, account.id, hash).await?;
    }
    let memberships = store::memberships(&mut conn, account.id).await?;
    let policy = if SessionPolicy::for_memberships(&memberships) == SessionPolicy::PRIVILEGED {
        state.privileged_sessions
    } else {
        state.everyday_sessions
    };
    let token = SecretToken::generate();
    let user_agent = request.headers().get("user-agent").and_then(|value| value.to_str().ok());
    let session_id = store::create_session(&mut conn, &token.hash, account.id, policy, user_agent, Some(&ip)).await?;
    if mfa_passed {
        store::mark_session_mfa_verified(&mut conn, session_id).await?;
    }
    tracing::info!(account.id = %account.id, session.id = %session_id, through_lock = refused.is_some(), "signed in");
    let mfa_required = !mfa_passed && (account.has_mfa() || memberships.iter().any(|m| m.role.is_privileged()));
    let cookie = session_cookie(&token.secret, policy.absolute);
    Ok(HttpResponse::Ok().cookie(cookie).json(SignedIn {
        token: token.secret,
        session_id,
        expires_at: Utc::now() + policy.absolute,
        mfa_required,
        mfa_enrolled: account.has_mfa(),
        account: AccountView::from(&account),
        memberships,
    }))
}

/// The lockout key of an address (its keyed hash) and a client.
fn lockout_key(address: &str, client: &str) -> String {
    format!("sign-in:{address}:{client}")
}

fn wrong_mfa_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid-mfa-code",
        "Unauthenticated",
        "the code is wrong, expired or already used",
    )
}

/// A client locked out of an account's address goes into HQ's audit chain.
async fn record_lock(
    conn: &mut diesel_async::AsyncPgConnection,
    account: Option<&super::model::Account>,
    until: i64,
) -> Result<(), ApiError> {
    let Some(account) = account else { return Ok(()) };
    let locked_until = DateTime::<Utc>::from_timestamp(until, 0);
    tracing::info!(account.id = %account.id, ?locked_until, "a client is locked out of the account for a while");
    let payload = serde_json::json!({ "account": account.id, "locked_until": locked_until });
    crate::audit::append_hq(conn, "account.locked", "system", &payload, Utc::now()).await?;
    Ok(())
}

/// Ends the current session.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses((status = 204, description = "Signed out; the cookie is removed")))]
#[post("/auth/sign-out")]
async fn sign_out(auth: Authenticated, pool: web::Data<TenancyPool>) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    store::revoke_session(&mut conn, auth.account.id, auth.session.id).await?;
    Ok(HttpResponse::NoContent().cookie(expired_session_cookie()).finish())
}

/// The session a request is made with.
#[derive(Serialize, ToSchema)]
pub struct ThisSession {
    id: Uuid,
    expires_at: DateTime<Utc>,
    mfa_verified: bool,
}

/// Who is signed in.
#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    account: AccountView,
    memberships: Vec<Membership>,
    session: ThisSession,
}

/// The signed-in account, its memberships and this session.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses((status = 200, body = CurrentSession)))]
#[get("/auth/session")]
async fn current_session(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(CurrentSession {
        account: AccountView::from(&auth.account),
        session: ThisSession {
            id: auth.session.id,
            expires_at: auth.session.absolute_expires_at,
            mfa_verified: auth.mfa_verified(),
        },
        memberships: auth.memberships,
    })
}

/// The account's live sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

/// The account's live sessions.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses((status = 200, body = SessionList)))]
#[get("/auth/sessions")]
async fn list_sessions(auth: Authenticated, pool: web::Data<TenancyPool>) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    let sessions: Vec<SessionView> = store::live_sessions(&mut conn, auth.account.id)
        .await?
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.absolute_expires_at,
            user_agent: s.user_agent,
            ip_address: s.ip_address,
            current: s.id == auth.session.id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList { sessions }))
}

/// Revokes one of the account's own sessions (404 for anyone else's).
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The session's id")), responses(
    (status = 204, description = "Revoked"),
    (status = 404, description = "no-such-session", body = Problem),
))]
#[delete("/auth/sessions/{id}")]
async fn revoke_session(
    auth: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = pool.hq().await?;
    if store::revoke_session(&mut conn, auth.account.id, path.into_inner()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("no-such-session", "this account has no live session with that id"))
    }
}

/// Whose password to reset.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "anna@example.nl"}))]
struct ResetRequest {
    email: String,
}

/// Mails a reset token if the account exists; answers the same either way,
/// after the same work: the request only queues the mail's job. At most
/// three reset mails go to an address per half hour (a token's lifetime); a
/// request past that is answered the same and mails nothing, so the owner's
/// own reset always has a working token in its inbox.
#[utoipa::path(tag = "auth", responses(
    (status = 202, body = AcceptedAnswer),
    (status = 422, description = "invalid-email: control characters in the address", body = Problem),
    (status = 429, description = "Too many requests from this client", body = Problem),
))]
#[post("/auth/password-reset/request")]
async fn request_password_reset(
    request: HttpRequest,
    body: web::Json<ResetRequest>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, "reset:ip", &caller_ip(&request), state.limits.reset_per_ip).await?;
    let normalized = lookup_form(&body.email)?;
    let address = state.keys.lookup(&normalized);
    if state.limiter.check(&format!("reset:account:{address}"), state.limits.reset_per_account).await.is_ok() {
        let mut conn = pool.hq().await?;
        reset_mail::enqueue(&mut conn, &address, clock.now()).await?;
    }
    Ok(accepted("if the address has an account, a reset link is on its way"))
}

/// The mailed token and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetConfirm {
    token: String,
    password: String,
}

fn invalid_token() -> ApiError {
    ApiError::bad_request("invalid-token", "the token is unknown, used or expired")
}

/// Sets a new password with a reset token; every session of the account ends.
#[utoipa::path(tag = "auth", responses(
    (status = 204, description = "The password is set; every session of the account is revoked"),
    (status = 400, description = "invalid-token", body = Problem),
    (status = 422, description = "weak-password", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem),
))]
#[post("/auth/password-reset/confirm")]
async fn confirm_password_reset(
    request: HttpRequest,
    body: web::Json<ResetConfirm>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, "token:ip", &caller_ip(&request), state.limits.reset_per_ip).await?;
    let password = Password::parse(&body.password).map_err(|e| invalid_input("weak-password", e))?;
    let hash = state.hasher.hash(password.expose()).await.map_err(|e| ApiError::internal(&e))?;
    let token_hash = hash_secret(&body.token);
    let mut conn = pool.hq().await?;
    let reset = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                let Some(account_id) =
                    store::consume_one_time_token(conn, &token_hash, TokenPurpose::PasswordReset).await?
                else {
                    return Ok(None);
                };
                store::set_password(conn, account_id, &hash).await?;
                Ok(Some(account_id))
            }
            .scope_boxed()
        })
        .await?;
    let account_id = reset.ok_or_else(invalid_token)?;
    // The forgotten-password path lets its owner back in: this client's
    // lockout and the address's sign-in count are forgotten.
    let address = store::account(&mut conn, &state.keys, account_id).await?.email_normalized;
    state.limiter.lockouts().clear(&lockout_key(&address, &caller_ip(&request))).await;
    state.limiter.forget(&format!("sign-in:account:{address}"), state.limits.sign_in_per_account).await;
    tracing::info!(account.id = %account_id, "password reset; every session and reset token revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// The mailed token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyEmail {
    token: String,
}

/// Confirms the account's email address with the mailed token.
#[utoipa::path(tag = "auth", responses(
    (status = 204, description = "Verified"),
    (status = 400, description = "invalid-token", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem),
))]
#[post("/auth/verify-email")]
async fn verify_email(
    request: HttpRequest,
    body: web::Json<VerifyEmail>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, "token:ip", &caller_ip(&request), state.limits.reset_per_ip).await?;
    let mut conn = pool.hq().await?;
    let account_id = store::consume_one_time_token(&mut conn, &hash_secret(&body.token), TokenPurpose::VerifyEmail)
        .await?
        .ok_or_else(invalid_token)?;
    store::mark_email_verified(&mut conn, account_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The current password, asked again, and the new one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the password (the current one is asked again); every session of
/// the account ends, this one included.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "Changed; every session is revoked"),
    (status = 401, description = "invalid-credentials: the current password is wrong", body = Problem),
    (status = 422, description = "weak-password", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem),
))]
#[post("/auth/password")]
async fn change_password(
    auth: Authenticated,
    body: web::Json<PasswordChange>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    let account = &auth.account;
    limit(&state, "sign-in:account", &account.email_normalized, state.limits.sign_in_per_account).await?;
    let new = Password::parse(&body.new_password).map_err(|e| invalid_input("weak-password", e))?;
    let verified = state
        .hasher
        .verify(&body.current_password, &account.password_hash)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if verified == Verified::No {
        return Err(invalid_credentials());
    }
    let hash = state.hasher.hash(new.expose()).await.map_err(|e| ApiError::internal(&e))?;
    let mut conn = pool.hq().await?;
    store::set_password(&mut conn, account.id, &hash).await?;
    tracing::info!(account.id = %account.id, "password changed; every session revoked");
    Ok(HttpResponse::NoContent().cookie(expired_session_cookie()).finish())
}

/// An account's memberships.
#[derive(Serialize, ToSchema)]
pub struct MembershipList {
    memberships: Vec<Membership>,
}

/// A signed-in account becomes a customer of the territory whose host it asks on.
#[utoipa::path(tag = "auth", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, body = MembershipList),
    (status = 404, description = "not-a-territory-host", body = Problem),
))]
#[post("/auth/join")]
async fn join_territory(
    request: HttpRequest,
    auth: Authenticated,
    pool: web::Data<TenancyPool>,
) -> Result<HttpResponse, ApiError> {
    let territory = match request.extensions().get::<HostTarget>() {
        Some(HostTarget::Territory(territory)) => std::sync::Arc::clone(territory),
        _ => {
            return Err(ApiError::not_found("not-a-territory-host", "join on the territory's own host"));
        }
    };
    let mut conn = pool.hq().await?;
    store::add_membership(&mut conn, auth.account.id, Some(territory.id), Role::Customer).await?;
    let memberships = store::memberships(&mut conn, auth.account.id).await?;
    Ok(HttpResponse::Ok().json(MembershipList { memberships }))
}

/// The auth operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    sign_up,
    sign_in,
    sign_out,
    current_session,
    list_sessions,
    revoke_session,
    request_password_reset,
    confirm_password_reset,
    verify_email,
    change_password,
    join_territory
))]
pub struct Doc;
