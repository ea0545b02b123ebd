//! Authorization, decided here and nowhere else: extractors that let a handler
//! run only for the right role, on the right host, in the right territory.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;

use super::model::has_role;
use super::role::Role;
use super::session::{Authenticated, on_hq_host};
use crate::http::ApiError;
use crate::tenancy::CurrentTerritory;

fn forbidden(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, "Forbidden", detail)
}

fn mfa_required() -> ApiError {
    forbidden("mfa-required", "this action needs a session that passed two-factor authentication")
}

/// An HQ admin, on the HQ host, in a session that passed MFA.
pub struct HqAdmin(pub Authenticated);

impl FromRequest for HqAdmin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let on_hq = on_hq_host(request);
        let authenticated = Authenticated::from_request(request, payload);
        Box::pin(async move {
            if !on_hq {
                return Err(ApiError::not_found("not-hq-host", "HQ endpoints are served on the HQ host only"));
            }
            let auth = authenticated.await?;
            if !has_role(&auth.memberships, Role::HqAdmin, None) {
                return Err(forbidden("not-hq-admin", "this endpoint is for HQ admins"));
            }
            if !auth.mfa_verified() {
                return Err(mfa_required());
            }
            Ok(Self(auth))
        })
    }
}

/// The franchisee of the territory whose host the request came on, in a
/// session that passed MFA.
pub struct TerritoryFranchisee {
    pub auth: Authenticated,
    pub territory: CurrentTerritory,
}

impl FromRequest for TerritoryFranchisee {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let territory = CurrentTerritory::from_request(request, payload);
        let authenticated = Authenticated::from_request(request, payload);
        Box::pin(async move {
            let territory = territory.await?;
            let auth = authenticated.await?;
            if !has_role(&auth.memberships, Role::Franchisee, Some(territory.territory().id)) {
                return Err(forbidden("not-franchisee", "this endpoint is for this territory's franchisee"));
            }
            if !auth.mfa_verified() {
                return Err(mfa_required());
            }
            Ok(Self { auth, territory })
        })
    }
}

/// Any member (customer, pro or franchisee) of the host's territory.
pub struct TerritoryMember {
    pub auth: Authenticated,
    pub territory: CurrentTerritory,
    pub roles: Vec<Role>,
}

impl FromRequest for TerritoryMember {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let territory = CurrentTerritory::from_request(request, payload);
        let authenticated = Authenticated::from_request(request, payload);
        Box::pin(async move {
            let territory = territory.await?;
            let auth = authenticated.await?;
            let id = Some(territory.territory().id);
            let roles: Vec<Role> = auth.memberships.iter().filter(|m| m.territory_id == id).map(|m| m.role).collect();
            if roles.is_empty() {
                return Err(forbidden("not-a-member", "this account has no role in this territory"));
            }
            Ok(Self { auth, territory, roles })
        })
    }
}
