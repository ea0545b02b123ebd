//! The OpenAPI document: served on every host, valid OpenAPI 3.1, and
//! complete: every route the code registers is documented, and every
//! documented operation is routable.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::helpers::spawn_app;

/// Routes that are deliberately not operations of the API.
const NOT_OPERATIONS: [(&str, &str); 1] = [
    // The document itself.
    ("get", "/api/v1/openapi.json"),
];

/// Every `#[get("...")]`-style route attribute under `src/`, as (method, path).
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut pending = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line = line.trim();
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let route = rest.split('"').next().unwrap();
                        routes.insert((method.to_owned(), route.to_owned()));
                    }
                }
            }
        }
    }
    routes
}

/// Every documented operation, as (method, path).
fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
            if item.get(method).is_some() {
                operations.insert((method.to_owned(), path.clone()));
            }
        }
    }
    operations
}

async fn document(app: &crate::helpers::TestApp, host: &str) -> Value {
    let response = app.get(host, "/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200, "{host}");
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_registered_route_is_documented_and_nothing_else() {
    let app = spawn_app().await;
    let document = document(&app, "hq.localhost").await;
    let documented = documented_operations(&document);
    let excluded: BTreeSet<(String, String)> =
        NOT_OPERATIONS.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();

    // Routes under /api/v1 are registered without the prefix; /healthz,
    // /readyz and /metrics with none.
    let undocumented: Vec<_> = registered_routes()
        .into_iter()
        .filter(|route| !excluded.contains(route))
        .filter(|(method, path)| {
            !documented.contains(&(method.clone(), path.clone()))
                && !documented.contains(&(method.clone(), format!("/api/v1{path}")))
        })
        .collect();
    assert!(undocumented.is_empty(), "routes without a #[utoipa::path] in a Doc: {undocumented:?}");
    assert!(documented.len() >= 55, "only {} operations documented", documented.len());
}

/// A value a path parameter of this schema accepts.
fn example_for(parameter: &Value) -> String {
    let schema = &parameter["schema"];
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.as_str().unwrap().to_owned();
    }
    if schema["$ref"].is_string() {
        // The booking action, the only referenced path parameter schema.
        return "accept".to_owned();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (_, Some("uuid")) => uuid::Uuid::nil().to_string(),
        (Some("integer"), _) => "1".to_owned(),
        _ => "anything".to_owned(),
    }
}

#[tokio::test]
async fn every_documented_operation_is_routable() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let document = document(&app, "amsterdam.localhost").await;
    let client = reqwest::Client::new();
    for (method, path) in documented_operations(&document) {
        let operation = &document["paths"][&path][&method];
        let mut url = path.clone();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().unwrap();
                url = url.replace(&format!("{{{name}}}"), &example_for(parameter));
            }
        }
        let response = client
            .request(method.to_uppercase().parse().unwrap(), format!("{}{url}", app.address))
            .header("host", "amsterdam.localhost")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(body["code"], "no-such-route", "{method} {path} is documented but not routed ({url})");
        assert!(status < 500, "{method} {url} answered {status}");
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_problems_security_schemes_and_money() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let document = document(&app, "amsterdam.localhost").await;
    // The same document on every host, even one that serves no territory.
    assert_eq!(document, self::document(&app, "hq.localhost").await);
    assert_eq!(document, self::document(&app, "nowhere.localhost").await);

    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
    let components = &document["components"];
    assert_eq!(components["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(components["securitySchemes"]["session_cookie"]["in"], "cookie");
    assert_eq!(components["securitySchemes"]["session_cookie"]["name"], "__Host-session");
    assert_eq!(components["schemas"]["Money"]["properties"]["amount"]["type"], "string");
    assert_eq!(components["schemas"]["Problem"]["properties"]["type"]["type"], "string");

    // Every error answer of every operation is a problem document.
    for (method, path) in documented_operations(&document) {
        for (status, response) in document["paths"][&path][&method]["responses"].as_object().unwrap() {
            let content = response["content"].as_object();
            if status.starts_with('4') || status.starts_with('5') {
                let content = content.unwrap_or_else(|| panic!("{method} {path} {status} has no content"));
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
                assert_eq!(content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
            }
        }
    }
    // What an answer carries is in its schema, even when a request may not set it.
    assert_eq!(components["schemas"]["Override"]["properties"]["service_code"]["readOnly"], true);
    // Operation ids are unique (code generators name functions after them).
    let mut ids = BTreeSet::new();
    for (method, path) in documented_operations(&document) {
        let id = document["paths"][&path][&method]["operationId"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "operationId {id} is used twice");
    }
    // Every reference leads somewhere (a missing component breaks clients).
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let pointer = reference.split('"').next().unwrap().trim_start_matches('#');
        assert!(document.pointer(pointer).is_some(), "dangling reference {pointer}");
    }
    // A signed-in operation says how to sign in; the catalog is public.
    assert!(document["paths"]["/api/v1/bookings"]["get"]["security"].is_array());
    assert!(document["paths"]["/api/v1/catalog"]["get"].get("security").is_none());
}

#[tokio::test]
async fn the_documentation_page_is_served_from_the_binary() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect =
        client.get(format!("{}/api/v1/docs", app.address)).header("host", "hq.localhost").send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/api/v1/docs/");

    let page = app.get("hq.localhost", "/api/v1/docs/").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("http"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Nothing from a CDN: every script and stylesheet is relative to this host.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");

    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"] {
        let response = app.get("hq.localhost", &format!("/api/v1/docs/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
    }
    let initializer = app.get("hq.localhost", "/api/v1/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(initializer.contains("/api/v1/openapi.json"), "{initializer}");
}
