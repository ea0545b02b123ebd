//! Every body of this API is a JSON object. serde also fills a struct from
//! an array of its fields in order (`["a@b.nl", "secret"]` for a sign-in), a
//! shape no client is told about; this refuses such bodies before any
//! handler sees them, whatever their Content-Type says: the booking actions
//! and the webhooks read their bodies themselves and would otherwise take a
//! `text/plain` array. Reading every body here also makes an oversized one a
//! problem document, whichever extractor the handler uses.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use super::ApiError;

/// Refuses a body that cannot be read (413 body-too-large, 400) or whose top
/// level is not a JSON object (400 malformed-body).
pub async fn objects_only(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
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
    Ok(next.call(request).await?.map_into_left_body())
}
