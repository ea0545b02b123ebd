//! A pro's edits of its public text wait for the franchisee's review: the
//! public keeps seeing the approved text, the pro sees its edit, and a
//! review decides on the revision the franchisee saw.

use reqwest::Method;
use serde_json::{Value, json};

use crate::bookings::{HOST, populate};
use crate::helpers::{TestApp, spawn_app};

const LISTING: &str = "/api/v1/pros?service=house-cleaning";

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn edit(app: &TestApp, pro: &str, name: &str, bio: &str) -> Value {
    let profile = json!({ "display_name": name, "bio": bio, "postcodes": ["1011"] });
    let response = app.call(Method::PUT, HOST, "/api/v1/pro/profile", Some(&profile), Some(pro)).await;
    assert_eq!(response.status(), 200);
    json_of(response).await
}

async fn review(app: &TestApp, token: &str, pro_id: &str, revision: &Value, decision: &str) -> reqwest::Response {
    let body = json!({ "revision": revision, "decision": decision });
    app.post(HOST, &format!("/api/v1/pros/{pro_id}/profile/review"), &body, Some(token)).await
}

async fn public_pro(app: &TestApp) -> Value {
    json_of(app.get(HOST, LISTING).await).await["pros"][0].clone()
}

#[tokio::test]
async fn an_approved_pros_edit_stays_private_until_the_franchisee_approves_it() {
    let app = spawn_app().await;
    let people = populate(&app, "amsterdam").await;
    assert_eq!(public_pro(&app).await["display_name"], "Sanne");

    let spam = "Betaal contant, sla het platform over";
    let markup = "<img src=x onerror=alert(1)>";
    let edited = edit(&app, &people.pro, spam, markup).await;
    assert_eq!(edited["display_name"], "Sanne");
    assert_eq!(edited["pending_display_name"], spam);
    assert_eq!(edited["pending_bio"], markup);

    // The public sees the approved text only.
    let listing = app.get(HOST, LISTING).await.text().await.unwrap();
    assert!(!listing.contains("contant") && !listing.contains("onerror"), "{listing}");
    assert_eq!(public_pro(&app).await["display_name"], "Sanne");
    // The pro and the franchisee see the edit.
    let own = json_of(app.call(Method::GET, HOST, "/api/v1/pro/profile", None, Some(&people.pro)).await).await;
    assert_eq!(own["pending_display_name"], spam);
    let all = json_of(app.call(Method::GET, HOST, "/api/v1/pros/all", None, Some(&people.franchisee)).await).await;
    assert_eq!(all["pros"][0]["pending_bio"], markup);

    // Only the franchisee reviews; a rejected edit leaves the approved text.
    assert_eq!(review(&app, &people.pro, &people.pro_id, &edited["profile_revision"], "approve").await.status(), 403);
    let rejected = review(&app, &people.franchisee, &people.pro_id, &edited["profile_revision"], "reject").await;
    assert_eq!(rejected.status(), 200);
    let rejected = json_of(rejected).await;
    assert_eq!(rejected["pending_display_name"], Value::Null);
    assert_eq!(public_pro(&app).await["display_name"], "Sanne");
}

#[tokio::test]
async fn a_review_decides_on_the_revision_the_franchisee_saw() {
    let app = spawn_app().await;
    let people = populate(&app, "amsterdam").await;
    let seen = edit(&app, &people.pro, "Sanne de Vries", "<b>Tien jaar</b> ervaring").await;
    // The pro edits again after the franchisee looked: approving what it saw
    // approves nothing.
    let later = edit(&app, &people.pro, "Sanne de Vries", "Bel me: 06 12345678").await;
    assert_ne!(later["profile_revision"], seen["profile_revision"]);
    let stale = review(&app, &people.franchisee, &people.pro_id, &seen["profile_revision"], "approve").await;
    assert_eq!(stale.status(), 409);
    assert_eq!(json_of(stale).await["code"], "no-pending-edit");
    assert_eq!(public_pro(&app).await["bio"], "");

    let back = edit(&app, &people.pro, "Sanne de Vries", "<b>Tien jaar</b> ervaring").await;
    let approved = review(&app, &people.franchisee, &people.pro_id, &back["profile_revision"], "approve").await;
    assert_eq!(approved.status(), 200);
    // Public text is JSON text: served as application/json, the markup a
    // plain string, exactly as written.
    let response = app.get(HOST, LISTING).await;
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let pro = json_of(response).await["pros"][0].clone();
    assert_eq!(pro["display_name"], "Sanne de Vries");
    assert_eq!(pro["bio"], "<b>Tien jaar</b> ervaring");
    // Nothing is pending any more: a second approval finds nothing.
    let again = review(&app, &people.franchisee, &people.pro_id, &back["profile_revision"], "approve").await;
    assert_eq!(again.status(), 409);
}
