//! Errors at the HTTP edge, as RFC 9457 `application/problem+json`.
//!
//! Domain code returns its own error types; this is the one place that turns
//! them into a status, a stable `type` and a sentence for the client. Nothing
//! from the database (SQL, constraint names) leaves through here.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::tenancy::connection::ConnectionFailure;

/// The prefix of every problem `type`; the code after it is stable.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:careservice:problem:";

/// An error answer: status, stable code, title and detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    retry_after_seconds: Option<u32>,
}

/// An error answer as the client receives it: an RFC 9457 problem document,
/// sent as `application/problem+json`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "urn:careservice:problem:unknown-territory",
    "title": "Not found",
    "status": 404,
    "detail": "no territory is served at nowhere.localhost",
    "code": "unknown-territory"
}))]
pub struct Problem<'a> {
    /// `urn:careservice:problem:` followed by the stable code.
    #[serde(rename = "type")]
    #[schema(pattern = "^urn:careservice:problem:[a-z0-9-]+$")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: &'a str,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong this time, for a human; never SQL or a stack trace.
    pub detail: &'a str,
    /// The stable, machine-readable code.
    #[schema(pattern = "^[a-z0-9-]+$")]
    pub code: &'a str,
}

impl ApiError {
    /// An error with this status, stable code, title and detail.
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, title, detail: detail.into(), retry_after_seconds: None }
    }

    /// Adds `Retry-After`.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    /// 409: the request clashes with the current state.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    /// 422: well-formed, but a value is not acceptable.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, "Invalid input", detail)
    }

    /// 404: nothing here.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not found", detail)
    }

    /// 503: the database is unavailable; retry shortly.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail).retry_after(2)
    }

    /// 500 with no detail for the client; the cause goes to the log.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "an unexpected error occurred")
    }

    /// The problem document as JSON (for storing an answer to replay).
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        })
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = Problem {
            kind: format!("{PROBLEM_TYPE_PREFIX}{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
        };
        let mut response = HttpResponse::build(self.status);
        response.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header((RETRY_AFTER, seconds.to_string()));
        }
        response.json(body)
    }
}

impl From<ConnectionFailure> for ApiError {
    fn from(failure: ConnectionFailure) -> Self {
        tracing::warn!(error = %failure, "no database connection");
        Self::unavailable("the database is not reachable right now; retry shortly")
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => Self::not_found("not-found", "no such resource"),
            diesel::result::Error::BrokenTransactionManager => Self::unavailable("the database connection broke"),
            error if is_connection_lost(&error) => {
                tracing::warn!(%error, "the database connection was lost");
                Self::unavailable("the database connection was lost; retry shortly")
            }
            // PostgreSQL refuses NUL characters and invalid text: the input's fault.
            diesel::result::Error::DatabaseError(_, info)
                if info.message().contains("invalid byte sequence") || info.message().contains("null character") =>
            {
                Self::bad_request("invalid-text", "the request contains characters that text cannot hold (such as NUL)")
            }
            other => Self::internal(&other),
        }
    }
}

/// Whether `error` says the connection to the database is gone (the server
/// restarted, crashed or was shut down), which a retry on a new connection
/// may not meet: a 503, not a 500.
fn is_connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind::{ClosedConnection, UnableToSendCommand, Unknown};
    let diesel::result::Error::DatabaseError(kind, info) = error else { return false };
    match kind {
        // The socket is gone: diesel-async reports a connection error without
        // a SQLSTATE this way.
        ClosedConnection | UnableToSendCommand => true,
        // The server said so before it went (SQLSTATE 57P01 admin_shutdown,
        // 57P02 crash_shutdown, 57P03 cannot_connect_now). diesel does not
        // expose the SQLSTATE of these, so their fixed texts are matched.
        Unknown => {
            let message = info.message();
            message.starts_with("terminating connection due to")
                || message.starts_with("the database system is")
                || message.contains("server closed the connection")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_503_with_retry_after_and_other_database_errors_are_500() {
        use diesel::result::{DatabaseErrorKind, Error};
        let lost = |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_owned()));
        for error in [
            lost(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            lost(DatabaseErrorKind::ClosedConnection, "closed"),
            lost(DatabaseErrorKind::Unknown, "terminating connection due to unexpected postmaster exit"),
            lost(DatabaseErrorKind::Unknown, "terminating connection due to administrator command"),
            lost(DatabaseErrorKind::Unknown, "the database system is shutting down"),
        ] {
            let answer = ApiError::from(error);
            assert_eq!(answer.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(answer.error_response().headers().contains_key(RETRY_AFTER));
        }
        let other = ApiError::from(lost(DatabaseErrorKind::Unknown, "division by zero"));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
