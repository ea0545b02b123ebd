//! Invitations: HQ invites a territory's franchisee, a franchisee invites the
//! territory's pros. A single-use token, valid 48 hours, that creates the
//! account or attaches an existing one with that role.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::email::Email;
use super::guards::TerritoryFranchisee;
use super::password::Password;
use super::role::Role;
use super::sealing::invitation_place;
use super::state::IdentityState;
use super::store;
use super::token::{SecretToken, hash_secret};
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::privacy::keys::Keyring;
use crate::schema::{invitations, territories};
use crate::tenancy::TenancyPool;

/// How long an invitation works.
const INVITATION_LIFETIME: Duration = Duration::hours(48);

/// Registers the invitation routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(invite_pro).service(accept);
}

/// An invitation as its sender sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub territory: String,
    pub expires_at: DateTime<Utc>,
}

/// Creates an invitation and mails its token. The address is kept sealed,
/// found by its keyed hash.
pub async fn invite(
    conn: &mut AsyncPgConnection,
    keys: &Keyring,
    territory_id: i64,
    territory_slug: &str,
    email: &Email,
    role: Role,
    invited_by: Uuid,
) -> QueryResult<InvitationView> {
    let token = SecretToken::generate();
    let expires_at = Utc::now() + INVITATION_LIFETIME;
    let id = Uuid::new_v4();
    let row = id.to_string();
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(id),
            invitations::token_hash.eq(&token.hash),
            invitations::email_normalized.eq(keys.lookup(email.normalized())),
            invitations::email.eq(keys.seal(email.normalized(), &invitation_place(&row))),
            invitations::territory_id.eq(territory_id),
            invitations::role.eq(role.as_str()),
            invitations::invited_by.eq(invited_by),
            invitations::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    let body = format!(
        "You are invited to CareService {territory_slug} as {}. Accept with this token within 48 hours:\n\n{}",
        role.as_str(),
        token.secret
    );
    store::enqueue_mail(conn, keys, email.as_str(), "Your CareService invitation", &body).await?;
    Ok(InvitationView { id, email: email.as_str().to_owned(), role, territory: territory_slug.to_owned(), expires_at })
}

/// Whom to invite.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "pro@example.nl"}))]
struct InviteBody {
    email: String,
}

/// A territory's franchisee invites a pro to it.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "The invitation is mailed", body = InvitationView),
    (status = 422, description = "invalid-email", body = Problem),
))]
#[post("/invitations")]
async fn invite_pro(
    franchisee: TerritoryFranchisee,
    body: web::Json<InviteBody>,
    pool: web::Data<TenancyPool>,
    keys: web::Data<Keyring>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-email", "Invalid input", e))?;
    let territory = franchisee.territory.territory();
    let mut conn = pool.hq().await?;
    let view =
        invite(&mut conn, &keys, territory.id, &territory.slug, &email, Role::Pro, franchisee.auth.account.id).await?;
    Ok(HttpResponse::Created().json(view))
}

/// The mailed token; a name and password when the address has no verified
/// account yet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    token: String,
    display_name: Option<String>,
    password: Option<String>,
}

/// The role the account now holds.
#[derive(Serialize, ToSchema)]
pub struct InvitationAccepted {
    account_id: Uuid,
    role: Role,
    /// The territory's slug.
    territory: String,
}

enum Accepted {
    Done { account_id: Uuid, role: Role, territory: String },
    NeedsAccount,
    Invalid,
}

/// Accepts an invitation: attaches the role to the invited address's account,
/// creating it (with `display_name` and `password`) if there is none.
#[utoipa::path(tag = "auth", responses(
    (status = 200, body = InvitationAccepted),
    (status = 400, description = "invalid-token", body = Problem),
    (status = 422, description = "account-details-required, invalid-name or weak-password", body = Problem),
    (status = 429, description = "Too many attempts", body = Problem),
))]
#[post("/auth/invitations/accept")]
async fn accept(
    request: actix_web::HttpRequest,
    body: web::Json<AcceptBody>,
    pool: web::Data<TenancyPool>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::routes::caller_ip(&request);
    super::routes::limit(&state, "token:ip", &ip, state.limits.reset_per_ip).await?;
    let new_account = match (&body.display_name, &body.password) {
        (Some(name), Some(password)) => {
            let name = name.trim().to_owned();
            if !(1..=200).contains(&name.chars().count()) {
                return Err(ApiError::unprocessable("invalid-name", "a display name has 1 to 200 characters"));
            }
            let password = Password::parse(password).map_err(|e| ApiError::unprocessable("weak-password", e))?;
            Some((name, state.hasher.hash(password.expose()).await.map_err(|e| ApiError::internal(&e))?))
        }
        _ => None,
    };
    let token_hash = hash_secret(&body.token);
    let keys = state.keys.clone();
    let mut conn = pool.hq().await?;
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                let now = Utc::now();
                let found: Option<(Uuid, String, i64, String)> = invitations::table
                    .filter(invitations::token_hash.eq(&token_hash))
                    .filter(invitations::accepted_at.is_null())
                    .filter(invitations::expires_at.gt(now))
                    .select((invitations::id, invitations::email, invitations::territory_id, invitations::role))
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                let Some((id, sealed, territory_id, role)) = found else {
                    return Ok(Accepted::Invalid);
                };
                let email = match keys.open(&sealed, &invitation_place(&id.to_string())) {
                    Ok(email) if !email.is_empty() => email,
                    // Not sealed yet (`careservice migrate` seals it), or its
                    // key is gone: the invitation cannot say whom it is for.
                    _ => {
                        tracing::error!(invitation.id = %id, "an invitation's sealed address does not open");
                        return Ok(Accepted::Invalid);
                    }
                };
                let slug: String = territories::table.find(territory_id).select(territories::slug).first(conn).await?;
                let Some(role) = Role::from_stored(&role) else {
                    return Ok(Accepted::Invalid);
                };
                let account_id = match store::account_by_email(conn, &keys, &email).await? {
                    Some(account) if account.email_verified_at.is_some() => account.id,
                    // An unverified account with the invited address may have
                    // been made by someone else to catch the invitation: the
                    // invitee (who holds the mailed token) takes it over with a
                    // new password; its sessions and MFA go.
                    Some(account) => {
                        let Some((_, hash)) = &new_account else { return Ok(Accepted::NeedsAccount) };
                        store::set_password(conn, account.id, hash).await?;
                        store::clear_mfa(conn, account.id).await?;
                        store::mark_email_verified(conn, account.id).await?;
                        account.id
                    }
                    None => {
                        let Some((name, hash)) = &new_account else {
                            return Ok(Accepted::NeedsAccount);
                        };
                        let Some(account) = store::insert_account(conn, &keys, &email, &email, hash, name).await?
                        else {
                            return Ok(Accepted::Invalid);
                        };
                        // The token was mailed to this address: it is verified.
                        store::mark_email_verified(conn, account.id).await?;
                        account.id
                    }
                };
                store::add_membership(conn, account_id, Some(territory_id), role).await?;
                diesel::update(invitations::table.find(id))
                    .set((invitations::accepted_at.eq(now), invitations::accepted_by.eq(account_id)))
                    .execute(conn)
                    .await?;
                Ok(Accepted::Done { account_id, role, territory: slug })
            }
            .scope_boxed()
        })
        .await?;
    match outcome {
        Accepted::Done { account_id, role, territory } => {
            tracing::info!(account.id = %account_id, role = role.as_str(), %territory, "invitation accepted");
            Ok(HttpResponse::Ok().json(InvitationAccepted { account_id, role, territory }))
        }
        Accepted::NeedsAccount => Err(ApiError::unprocessable(
            "account-details-required",
            "no verified account has this address yet: give display_name and password",
        )),
        Accepted::Invalid => Err(ApiError::bad_request("invalid-token", "the invitation is unknown, used or expired")),
    }
}

/// The invitation operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(invite_pro, accept))]
pub struct Doc;
