//! Malformed JSON, paths and queries, and unknown routes, as problem documents.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, dates};

/// Extractor configurations whose errors are problem documents.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(json_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(query_error));
}

fn json_error(error: JsonPayloadError, _request: &HttpRequest) -> actix_web::Error {
    let api_error = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Payload too large",
            "the request body is larger than this endpoint accepts",
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        ),
        JsonPayloadError::Deserialize(error) => json_refusal(error),
        other => ApiError::bad_request("malformed-body", format!("the JSON body is invalid: {other}")),
    };
    api_error.into()
}

/// The answer to a JSON body serde could not read: 422 for a date out of
/// range (see [`dates`]), 400 for anything else. For handlers that parse
/// their body themselves, so that they answer as `web::Json` does.
pub fn json_refusal(error: &serde_json::Error) -> ApiError {
    if dates::is_out_of_range(&error.to_string()) {
        return ApiError::unprocessable(dates::OUT_OF_RANGE, format!("the JSON body is invalid: {error}"));
    }
    ApiError::bad_request("malformed-body", format!("the JSON body is invalid: {error}"))
}

fn path_error(error: PathError, _request: &HttpRequest) -> actix_web::Error {
    if dates::is_out_of_range(&error.to_string()) {
        return ApiError::unprocessable(dates::OUT_OF_RANGE, format!("the path is invalid: {error}")).into();
    }
    ApiError::bad_request("malformed-path", format!("the path is invalid: {error}")).into()
}

fn query_error(error: QueryPayloadError, _request: &HttpRequest) -> actix_web::Error {
    if dates::is_out_of_range(&error.to_string()) {
        return ApiError::unprocessable(dates::OUT_OF_RANGE, format!("the query string is invalid: {error}")).into();
    }
    ApiError::bad_request("malformed-query", format!("the query string is invalid: {error}")).into()
}

/// The answer for a route that does not exist.
pub async fn no_such_route() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found("no-such-route", "there is no such endpoint"))
}
