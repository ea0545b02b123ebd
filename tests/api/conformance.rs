//! Answers to inputs the OpenAPI document rules out, as schemathesis
//! (scripts/fuzz-api) found them: each fixed bug keeps a test here.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_json_array_where_an_object_is_expected_is_refused_with_400() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    // The password hq_admin_token gives its account.
    let password = "fiets-kaas-molen-regen";
    let hq = app.hq_admin_token("hq@voorbeeld.nl").await;

    // serde fills a struct from an array of its fields in order: the
    // territory was suspended (or not) by `[null, null]` with a 200.
    let patched = app
        .call(
            reqwest::Method::PATCH,
            "hq.localhost",
            "/api/v1/hq/territories/amsterdam",
            Some(&json!([null, null])),
            Some(&hq),
        )
        .await;
    assert_eq!(patched.status(), 400);
    assert_eq!(patched.headers()["content-type"], "application/problem+json");
    let problem: Value = patched.json().await.unwrap();
    assert_eq!(problem["code"], "malformed-body");

    // Credentials as an array are no sign-in either.
    let signed_in =
        app.post("amsterdam.localhost", "/api/v1/auth/sign-in", &json!(["hq@voorbeeld.nl", password]), None).await;
    assert_eq!(signed_in.status(), 400);

    // An object still works, with whitespace before it.
    let response = app
        .client
        .post(format!("{}/api/v1/auth/sign-in", app.address))
        .header("host", "amsterdam.localhost")
        .header("content-type", "application/json")
        .body(format!("\n  {}", json!({ "email": "hq@voorbeeld.nl", "password": password })))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
