//! The API's OpenAPI 3.1 document, assembled from the `#[utoipa::path]`
//! annotations that sit next to each handler, and the documentation page
//! (Swagger UI, shipped inside the binary: it works with no internet).
//!
//! Each domain lists its operations in a `Doc` next to its routes; this file
//! only nests them under `/api/v1` and adds what every operation shares: the
//! security schemes, and the problem+json answers any request can get.

use std::sync::LazyLock;

use actix_web::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, get, web};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::problem::Problem;
use crate::identity::session::SESSION_COOKIE;
use crate::money::Money;

/// Where the document is served (on every host).
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where the documentation page is served.
pub const DOCS_PATH: &str = "/api/v1/docs/";
/// The media type of every error answer.
const PROBLEM_JSON: &str = "application/problem+json";

/// What is outside `/api/v1`, and what the whole document shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "CareService API",
        description = "The API of a franchised home-care and home-services marketplace. Every territory is \
                       served on its own host (`SLUG.BASE_DOMAIN`), HQ on `hq.BASE_DOMAIN`; the same paths \
                       answer on each, and the host decides which territory's data a request reaches.\n\n\
                       Errors are RFC 9457 problem documents (`application/problem+json`) with a stable \
                       `code`. Money is a string decimal and a currency: `{\"amount\":\"12.50\",\"currency\":\"EUR\"}`. \
                       Times are RFC 3339 with an offset.\n\n\
                       Sign in with `POST /api/v1/auth/sign-in`: the answer sets the `__Host-session` cookie \
                       (for portals) and holds the same token for `Authorization: Bearer`. A cookie-borne \
                       request that changes state must send an `Origin` naming its host. Franchisee and HQ \
                       endpoints need a session that passed MFA (`POST /api/v1/auth/mfa/verify`).",
        version = env!("CARGO_PKG_VERSION"),
    ),
    paths(super::health::healthz, super::health::readyz, super::metrics::export),
    components(schemas(Problem, Money)),
    tags(
        (name = "operations", description = "Health, readiness and metrics, outside `/api/v1`"),
        (name = "territory", description = "The territory a host serves"),
        (name = "auth", description = "Accounts, sessions, passwords, MFA and invitations"),
        (name = "catalog", description = "The effective catalog of a territory and its tailoring"),
        (name = "pros", description = "Pros, their profiles and the services they offer"),
        (name = "settings", description = "A territory's branding and default policies"),
        (name = "scheduling", description = "Availability and free slots"),
        (name = "bookings", description = "Bookings and their state machine"),
        (name = "payments", description = "Payments of bookings, refunds and the provider's webhooks"),
        (name = "ledger", description = "A territory's ledger: balances, statements and payouts"),
        (name = "hq", description = "The HQ console: territories, accounts, the shared catalog, jobs"),
    ),
)]
struct RootDoc;

/// The whole document: every domain's operations under `/api/v1`, with the
/// shared security schemes and error answers.
pub fn document() -> utoipa::openapi::OpenApi {
    // One entry per `Doc` next to a `configure`: a new routes file adds its own.
    let v1 = [
        crate::tenancy::routes::Doc::openapi(),
        crate::identity::routes::Doc::openapi(),
        crate::identity::mfa_routes::Doc::openapi(),
        crate::identity::invitations::Doc::openapi(),
        crate::hq::routes::Doc::openapi(),
        crate::catalog::routes::Doc::openapi(),
        crate::catalog::hq_routes::Doc::openapi(),
        crate::catalog::pros::Doc::openapi(),
        crate::catalog::profiles::Doc::openapi(),
        crate::catalog::settings::Doc::openapi(),
        crate::scheduling::routes::Doc::openapi(),
        crate::bookings::routes::Doc::openapi(),
        crate::payments::routes::Doc::openapi(),
        crate::ledger::routes::Doc::openapi(),
        crate::audit::routes::Doc::openapi(),
        crate::privacy::routes::Doc::openapi(),
        crate::jobs::routes::Doc::openapi(),
    ];
    let mut doc = v1.into_iter().fold(RootDoc::openapi(), |doc, domain| doc.nest("/api/v1", domain));
    SharedAnswers.modify(&mut doc);
    doc
}

/// The document, serialised once.
static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| document().to_pretty_json().map_err(|e| e.to_string()));

/// Adds the security schemes, and to every operation the error answers that
/// any request can get (a bad host, a malformed body, an unavailable
/// database, no session), and sends every problem as problem+json.
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `token` of `POST /api/v1/auth/sign-in`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "Set by `POST /api/v1/auth/sign-in`; a state-changing request must also send an `Origin` \
                 naming the host",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`CARESERVICE_METRICS_TOKEN`, for `/metrics` on the public listener (none is needed on \
                         the metrics listener, `CARESERVICE_METRICS_BIND`)",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let in_api = path.starts_with("/api/v1/");
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                if in_api {
                    add_shared_answers(operation);
                }
                // Handlers are named within their module (two `list`s):
                // the tag makes each operation id unique, as 3.1 requires.
                if let (Some(id), Some(tag)) =
                    (&operation.operation_id, operation.tags.as_ref().and_then(|t| t.first()))
                {
                    operation.operation_id = Some(format!("{tag}_{id}"));
                }
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        as_problem_json(response);
                    }
                }
            }
        }
    }
}

fn add_shared_answers(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let mut shared = vec![
        ("400", "Malformed request: no or a malformed host, or an invalid path, query or body"),
        ("404", "The host serves no territory, or there is no such resource"),
        ("503", "The database is unavailable; retry after `Retry-After` seconds"),
    ];
    if secured {
        shared.push(("401", "No live session, or the session has not passed MFA"));
        shared.push(("403", "The account may not do this here, or the territory is suspended"));
    } else {
        shared.push(("403", "The territory is suspended"));
    }
    if has_body || operation.parameters.as_ref().is_some_and(|parameters| !parameters.is_empty()) {
        shared.push((
            "422",
            "Invalid input: a date or time outside years 1900 to 9999 (date-out-of-range), or a value refused",
        ));
    }
    if has_body {
        shared.push(("413", "The body is larger than the endpoint accepts"));
        shared.push(("415", "The body is not sent as application/json"));
    }
    shared.push(("410", "The territory is archived"));
    for (status, description) in shared {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| problem_answer(status, description));
    }
}

/// A problem answer; 429 and 503 carry Retry-After.
fn problem_answer(status: &str, description: &str) -> RefOr<Response> {
    let mut builder = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))));
    if status == "429" || status == "503" {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait"))
                .build(),
        );
    }
    RefOr::T(builder.build())
}

/// Handlers write `body = Problem`; on the wire it is problem+json, with
/// Retry-After where the status promises one.
fn as_problem_json(response: &mut Response) {
    let is_problem = |content: &Content| matches!(&content.schema, Some(RefOr::Ref(reference)) if reference.ref_location.ends_with("/Problem"));
    if let Some(content) = response.content.shift_remove("application/json") {
        if is_problem(&content) {
            response.content.insert(PROBLEM_JSON.to_owned(), content);
        } else {
            response.content.insert("application/json".to_owned(), content);
        }
    }
}

/// Registers `GET /api/v1/openapi.json` and the documentation page. They are
/// the same on every host, so they sit outside the host router.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json).route("/api/v1/docs", web::get().to(docs_redirect)).service(
        web::scope("/api/v1/docs")
            // Swagger UI needs its own scripts, styles and inline images;
            // everything still comes from this host.
            .wrap(DefaultHeaders::new().add((
                CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                 connect-src 'self'; frame-ancestors 'none'",
            )))
            .service(SwaggerUi::new("/{_:.*}").config(Config::new([DOCUMENT_PATH]).try_it_out_enabled(true))),
    );
}

/// The OpenAPI 3.1 document of this API.
#[get("/api/v1/openapi.json")]
async fn openapi_json() -> HttpResponse {
    match DOCUMENT.as_ref() {
        Ok(json) => HttpResponse::Ok().insert_header((CONTENT_TYPE, "application/json")).body(json.clone()),
        Err(error) => actix_web::ResponseError::error_response(&super::ApiError::internal(error)),
    }
}

/// The page's assets are relative: it must be served with its trailing slash.
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((LOCATION, DOCS_PATH)).finish()
}
