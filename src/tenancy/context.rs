//! The request's territory, and the one way a handler reaches its data.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::connection::{BoundConnection, TenancyPool};
use super::model::Territory;
use super::resolver::HostTarget;
use crate::http::ApiError;

/// The territory whose host the request came on, with access to its data.
/// Extracting it on the hq host answers 404.
pub struct CurrentTerritory {
    territory: Arc<Territory>,
    pool: TenancyPool,
}

impl CurrentTerritory {
    /// The territory.
    pub fn territory(&self) -> &Territory {
        &self.territory
    }

    /// A connection bound to this territory's schema and role.
    pub async fn connection(&self) -> Result<BoundConnection, ApiError> {
        Ok(self.pool.territory(&self.territory).await?)
    }
}

impl FromRequest for CurrentTerritory {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let territory = match request.extensions().get::<HostTarget>() {
            Some(HostTarget::Territory(territory)) => Arc::clone(territory),
            Some(HostTarget::Hq) | None => {
                return ready(Err(ApiError::not_found(
                    "not-a-territory-host",
                    "this endpoint is served on a territory's host, not on the HQ host",
                )));
            }
        };
        let Some(pool) = request.app_data::<web::Data<TenancyPool>>() else {
            return ready(Err(ApiError::internal(&"the database pool is not configured")));
        };
        ready(Ok(Self { territory, pool: TenancyPool::clone(pool) }))
    }
}
