//! Every JSON body of this API is an object. serde also fills a struct from
//! an array of its fields in order (`["a@b.nl", "secret"]` for a sign-in), a
//! shape no client is told about; this refuses such bodies before any
//! handler sees them.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use super::ApiError;

/// Whether the request says its body is JSON.
fn is_json(request: &ServiceRequest) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| media == "application/json" || media.ends_with("+json"))
}

/// Refuses a JSON body whose top level is not an object (400 malformed-body).
pub async fn objects_only(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    if is_json(&request) {
        let body = match request.extract::<web::Bytes>().await {
            Ok(body) => body,
            Err(error) => {
                let refusal = if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body-too-large",
                        "Payload too large",
                        "the request body is larger than this endpoint accepts",
                    )
                } else {
                    ApiError::bad_request("malformed-body", "the request body could not be read")
                };
                return Ok(request.into_response(refusal.error_response()).map_into_right_body());
            }
        };
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
        if first.is_some_and(|byte| *byte != b'{') {
            let refusal = ApiError::bad_request("malformed-body", "the JSON body must be an object");
            return Ok(request.into_response(refusal.error_response()).map_into_right_body());
        }
        request.set_payload(Payload::from(body));
    }
    Ok(next.call(request).await?.map_into_left_body())
}
