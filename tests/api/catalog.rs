//! The catalog from the outside: HQ's bounds, regional tailoring, VAT by
//! date, public answers without personal data, and the cache across instances.

use std::time::Duration;

use careservice::config::ServerSettings;
use careservice::identity::Role;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestDatabase, eventually, spawn_app, spawn_app_on};

async fn catalog(app: &crate::helpers::TestApp, host: &str, language: Option<&str>) -> Value {
    let mut request = app.client.get(format!("{}/api/v1/catalog", app.address)).header("host", host);
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn service<'a>(catalog: &'a Value, code: &str) -> Option<&'a Value> {
    catalog["services"].as_array().unwrap().iter().find(|s| s["code"] == code)
}

#[tokio::test]
async fn the_public_catalog_has_prices_with_vat_in_the_asked_language() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let dutch = catalog(&app, "amsterdam.localhost", None).await;
    assert_eq!(dutch["language"], "nl");
    let cleaning = service(&dutch, "house-cleaning").unwrap();
    assert_eq!(cleaning["name"], "Huishoudelijke schoonmaak");
    assert_eq!(cleaning["price"], json!({ "amount": "62.00", "currency": "EUR" }));
    assert_eq!(cleaning["vat_rate"], "0.09");
    assert_eq!(cleaning["vat"], json!({ "amount": "5.12", "currency": "EUR" }));
    let windows = service(&dutch, "window-cleaning-outside").unwrap();
    assert_eq!(windows["vat_rate"], "0.21");
    assert_eq!(windows["vat"]["amount"], "7.81");

    let english = catalog(&app, "amsterdam.localhost", Some("en-GB,en;q=0.9")).await;
    assert_eq!(english["language"], "en");
    assert_eq!(service(&english, "house-cleaning").unwrap()["name"], "House cleaning");
}

#[tokio::test]
async fn a_franchisee_tailors_its_catalog_within_hq_bounds_and_nothing_else_changes() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    let token = app.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    let put = |body: Value, code: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(
                Method::PUT,
                "amsterdam.localhost",
                &format!("/api/v1/catalog/services/{code}"),
                Some(&body),
                Some(&token),
            )
            .await
        }
    };

    let tailored = put(json!({ "price": "70.00", "duration_minutes": 150, "name_nl": "Grote schoonmaak", "cancellation_fee_percent": "25" }), "house-cleaning").await;
    assert_eq!(tailored.status(), 200);
    let seen = eventually(Duration::from_secs(2), || async {
        service(&catalog(&app, "amsterdam.localhost", None).await, "house-cleaning").unwrap()["price"]["amount"]
            == "70.00"
    })
    .await;
    assert!(seen.is_some(), "the tailored price never showed");
    let ams = catalog(&app, "amsterdam.localhost", None).await;
    let cleaning = service(&ams, "house-cleaning").unwrap();
    assert_eq!(
        (cleaning["name"].clone(), cleaning["duration_minutes"].clone()),
        (json!("Grote schoonmaak"), json!(150))
    );
    assert_eq!(cleaning["cancellation"]["fee_percent"], "25");
    // Utrecht keeps HQ's price.
    assert_eq!(
        service(&catalog(&app, "utrecht.localhost", None).await, "house-cleaning").unwrap()["price"]["amount"],
        "62.00"
    );

    // Refusals: outside the bounds, negative, malformed, too long, unknown.
    for (body, status, code) in [
        (json!({ "price": "200.00" }), 422, "outside-hq-bounds"),
        (json!({ "price": "-5" }), 422, "outside-hq-bounds"),
        (json!({ "duration_minutes": 10 }), 422, "outside-hq-bounds"),
        (json!({ "name_nl": "x".repeat(201) }), 422, "outside-hq-bounds"),
        (json!({ "price": "12,50" }), 400, "malformed-body"),
        (json!({ "price": "70.00", "vat_rate": "0" }), 400, "malformed-body"),
    ] {
        let response = put(body.clone(), "house-cleaning").await;
        assert_eq!(response.status(), status, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{body}");
    }
    assert_eq!(put(json!({ "price": "70.00" }), "no-such-service").await.status(), 404);
    let after = catalog(&app, "amsterdam.localhost", None).await;
    assert_eq!(service(&after, "house-cleaning").unwrap()["price"]["amount"], "70.00");

    // Disabling hides the service.
    assert_eq!(put(json!({ "enabled": false }), "garden-maintenance").await.status(), 200);
    let hidden = eventually(Duration::from_secs(2), || async {
        service(&catalog(&app, "amsterdam.localhost", None).await, "garden-maintenance").is_none()
    })
    .await;
    assert!(hidden.is_some());
}

#[tokio::test]
async fn a_franchisee_cannot_change_another_territorys_catalog() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    let token = app.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    let response = app
        .call(
            Method::PUT,
            "utrecht.localhost",
            "/api/v1/catalog/services/house-cleaning",
            Some(&json!({ "price": "50.00" })),
            Some(&token),
        )
        .await;
    assert_eq!(response.status(), 403);
    let utrecht = catalog(&app, "utrecht.localhost", None).await;
    assert_eq!(service(&utrecht, "house-cleaning").unwrap()["price"]["amount"], "62.00");
}

#[tokio::test]
async fn a_new_vat_rate_applies_from_its_date_not_before() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let admin = app.hq_admin_token("hq@voorbeeld.nl").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive().to_string();
    let future = app
        .post(
            "hq.localhost",
            "/api/v1/hq/catalog/vat-categories/low/rates",
            &json!({ "rate": "0.21", "effective_from": tomorrow }),
            Some(&admin),
        )
        .await;
    assert_eq!(future.status(), 201);
    let today = catalog(&app, "amsterdam.localhost", None).await;
    assert_eq!(service(&today, "house-cleaning").unwrap()["vat_rate"], "0.09");

    // A rate that started yesterday applies now.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive().to_string();
    let past = app
        .post(
            "hq.localhost",
            "/api/v1/hq/catalog/vat-categories/low/rates",
            &json!({ "rate": "0.1", "effective_from": yesterday }),
            Some(&admin),
        )
        .await;
    assert_eq!(past.status(), 201);
    let changed = eventually(Duration::from_secs(2), || async {
        service(&catalog(&app, "amsterdam.localhost", None).await, "house-cleaning").unwrap()["vat"]["amount"] == "5.64"
    })
    .await;
    assert!(changed.is_some(), "the new VAT rate never applied");
    let bad = app
        .post(
            "hq.localhost",
            "/api/v1/hq/catalog/vat-categories/low/rates",
            &json!({ "rate": "21", "effective_from": yesterday }),
            Some(&admin),
        )
        .await;
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn hq_manages_services_with_validation_and_a_record_of_each_change() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let admin = app.hq_admin_token("hq@voorbeeld.nl").await;
    let new = json!({
        "code": "ironing", "category": "cleaning", "name_nl": "Strijken", "name_en": "Ironing",
        "duration_minutes": 60, "min_duration_minutes": 30, "max_duration_minutes": 180,
        "base_price": "40.00", "min_price": "30.00", "max_price": "60.00", "vat_category": "low"
    });
    assert_eq!(app.post("hq.localhost", "/api/v1/hq/catalog/services", &new, Some(&admin)).await.status(), 201);
    assert_eq!(app.post("hq.localhost", "/api/v1/hq/catalog/services", &new, Some(&admin)).await.status(), 409);
    let mut inverted = new.clone();
    inverted["code"] = json!("ironing-2");
    inverted["min_price"] = json!("50.00");
    assert_eq!(app.post("hq.localhost", "/api/v1/hq/catalog/services", &inverted, Some(&admin)).await.status(), 422);
    let mut unknown_vat = new.clone();
    unknown_vat["code"] = json!("ironing-3");
    unknown_vat["vat_category"] = json!("zero");
    let refused = app.post("hq.localhost", "/api/v1/hq/catalog/services", &unknown_vat, Some(&admin)).await;
    assert_eq!(refused.status(), 422);

    let seen = eventually(Duration::from_secs(2), || async {
        service(&catalog(&app, "amsterdam.localhost", None).await, "ironing").is_some()
    })
    .await;
    assert!(seen.is_some());
    let deactivated = app
        .call(
            Method::PATCH,
            "hq.localhost",
            "/api/v1/hq/catalog/services/ironing",
            Some(&json!({ "active": false })),
            Some(&admin),
        )
        .await;
    assert_eq!(deactivated.status(), 200);

    let mut conn = app.db.admin().await;
    let changes: Vec<(String, String)> = careservice::schema::catalog_changes::table
        .order(careservice::schema::catalog_changes::id)
        .select((careservice::schema::catalog_changes::entity_code, careservice::schema::catalog_changes::action))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(changes, vec![("ironing".into(), "create".into()), ("ironing".into(), "update".into())]);
}

#[tokio::test]
async fn public_pro_listings_carry_no_personal_data() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    let fran = app.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    let password = "fiets-kaas-molen-regen";
    app.account("pro.private@voorbeeld.nl", password, &[(Role::Pro, Some(&amsterdam))]).await;
    let pro = app.sign_in("amsterdam.localhost", "pro.private@voorbeeld.nl", password).await;
    let profile = json!({ "display_name": "Sanne", "bio": "Tien jaar ervaring", "languages": ["nl", "en"], "postcodes": ["1011", "1012"] });
    let created: Value = app
        .call(Method::PUT, "amsterdam.localhost", "/api/v1/pro/profile", Some(&profile), Some(&pro))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["status"], "pending_approval");
    let offered = app
        .call(
            Method::PUT,
            "amsterdam.localhost",
            "/api/v1/pro/offerings/house-cleaning",
            Some(&json!({ "price": "65.00" })),
            Some(&pro),
        )
        .await;
    assert_eq!(offered.status(), 200);
    let too_dear = app
        .call(
            Method::PUT,
            "amsterdam.localhost",
            "/api/v1/pro/offerings/house-cleaning",
            Some(&json!({ "price": "500.00" })),
            Some(&pro),
        )
        .await;
    assert_eq!(too_dear.status(), 422);

    // Not listed until the franchisee approves.
    let before: Value =
        app.get("amsterdam.localhost", "/api/v1/pros?service=house-cleaning").await.json().await.unwrap();
    assert_eq!(before["pros"], json!([]));
    let approve = app
        .post(
            "amsterdam.localhost",
            &format!("/api/v1/pros/{}/status", created["id"].as_str().unwrap()),
            &json!({ "status": "active" }),
            Some(&fran),
        )
        .await;
    assert_eq!(approve.status(), 200);
    let listing = app.get("amsterdam.localhost", "/api/v1/pros?service=house-cleaning").await.text().await.unwrap();
    assert!(listing.contains("Sanne") && listing.contains("65.00"), "{listing}");
    for private in ["pro.private", "voorbeeld.nl", "account_id", created["account_id"].as_str().unwrap()] {
        assert!(!listing.contains(private), "the public listing leaks {private}: {listing}");
    }
    // A customer is not a pro.
    app.account("klant@voorbeeld.nl", password, &[(Role::Customer, Some(&amsterdam))]).await;
    let customer = app.sign_in("amsterdam.localhost", "klant@voorbeeld.nl", password).await;
    let refused =
        app.call(Method::PUT, "amsterdam.localhost", "/api/v1/pro/profile", Some(&profile), Some(&customer)).await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn settings_stay_within_hq_limits_and_hq_can_override_them() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    let fran = app.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    let changed = app
        .call(
            Method::PATCH,
            "amsterdam.localhost",
            "/api/v1/settings",
            Some(&json!({ "portal_primary_color": "#0a7c3e", "min_notice_minutes": 240 })),
            Some(&fran),
        )
        .await;
    assert_eq!(changed.status(), 200);
    for bad in [
        json!({ "portal_primary_color": "green" }),
        json!({ "booking_horizon_days": 1000 }),
        json!({ "portal_logo_url": "javascript:alert(1)" }),
    ] {
        let refused = app.call(Method::PATCH, "amsterdam.localhost", "/api/v1/settings", Some(&bad), Some(&fran)).await;
        assert_eq!(refused.status(), 422, "{bad}");
    }
    let public: Value = app.get("amsterdam.localhost", "/api/v1/settings").await.json().await.unwrap();
    assert_eq!(
        (public["portal_primary_color"].clone(), public["min_notice_minutes"].clone()),
        (json!("#0a7c3e"), json!(240))
    );

    let admin = app.hq_admin_token("hq@voorbeeld.nl").await;
    let overridden = app
        .call(
            Method::PATCH,
            "hq.localhost",
            "/api/v1/hq/territories/amsterdam/settings",
            Some(&json!({ "min_notice_minutes": 60 })),
            Some(&admin),
        )
        .await;
    assert_eq!(overridden.status(), 200);
    let public: Value = app.get("amsterdam.localhost", "/api/v1/settings").await.json().await.unwrap();
    assert_eq!(public["min_notice_minutes"], 60);
}

#[tokio::test]
async fn a_catalog_change_through_one_instance_reaches_the_other_within_a_second() {
    let first = spawn_app().await;
    let second = spawn_app_on(
        TestDatabase { url: first.db.url.clone(), admin_url: first.db.admin_url.clone() },
        ServerSettings::default(),
    )
    .await;
    let amsterdam = first.onboard("amsterdam").await;
    let token = first.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    // The second instance caches the catalog.
    assert_eq!(
        service(&catalog(&second, "amsterdam.localhost", None).await, "house-cleaning").unwrap()["price"]["amount"],
        "62.00"
    );
    let changed = first
        .call(
            Method::PUT,
            "amsterdam.localhost",
            "/api/v1/catalog/services/house-cleaning",
            Some(&json!({ "price": "80.00" })),
            Some(&token),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let seen = eventually(Duration::from_secs(1), || async {
        service(&catalog(&second, "amsterdam.localhost", None).await, "house-cleaning").unwrap()["price"]["amount"]
            == "80.00"
    })
    .await;
    assert!(seen.is_some(), "the second instance served a stale catalog for over a second");
}

#[tokio::test]
async fn tailoring_made_before_hq_narrowed_its_bounds_is_held_within_them() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    let fran = app.franchisee_token("fran@amsterdam.nl", &amsterdam).await;
    let admin = app.hq_admin_token("hq@voorbeeld.nl").await;
    let tailored = app
        .call(
            Method::PUT,
            "amsterdam.localhost",
            "/api/v1/catalog/services/house-cleaning",
            Some(&json!({ "price": "90.00" })),
            Some(&fran),
        )
        .await;
    assert_eq!(tailored.status(), 200);
    let narrowed = app
        .call(
            Method::PATCH,
            "hq.localhost",
            "/api/v1/hq/catalog/services/house-cleaning",
            Some(&json!({ "max_price": "80.00" })),
            Some(&admin),
        )
        .await;
    assert_eq!(narrowed.status(), 200);
    let held = eventually(Duration::from_secs(2), || async {
        service(&catalog(&app, "amsterdam.localhost", None).await, "house-cleaning").unwrap()["price"]["amount"]
            == "80.00"
    })
    .await;
    assert!(held.is_some(), "a price above HQ's new ceiling was still served");
}
