//! Onboarding is one transaction: all of it, or nothing of it.

use std::str::FromStr;

use careservice::tenancy::model::ContractRates;
use careservice::tenancy::provision::{OnboardingStep, ProvisionError, provision};
use careservice::tenancy::settings::CustomDomain;
use careservice::tenancy::store;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;

use crate::helpers::{new_territory, spawn_app};

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Leftovers {
    #[diesel(sql_type = BigInt)]
    registry: i64,
    #[diesel(sql_type = BigInt)]
    domains: i64,
    #[diesel(sql_type = BigInt)]
    schemas: i64,
    #[diesel(sql_type = BigInt)]
    roles: i64,
}

/// Everything an onboarding of `slug` could leave behind, counted as a superuser.
async fn leftovers(admin: &mut AsyncPgConnection, slug: &str) -> Leftovers {
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM hq.territories WHERE slug = $1) AS registry,
                (SELECT count(*) FROM hq.territory_domains d
                   WHERE NOT EXISTS (SELECT FROM hq.territories t WHERE t.id = d.territory_id)
                      OR d.host LIKE $1 || '%') AS domains,
                (SELECT count(*) FROM pg_namespace WHERE nspname = 't_' || replace($1, '-', '_')) AS schemas,
                (SELECT count(*) FROM pg_roles
                   WHERE rolname = (SELECT role_prefix FROM hq.installation) || 't_' || replace($1, '-', '_')) AS roles",
    )
    .bind::<Text, _>(slug)
    .get_result(admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn onboarding_creates_registry_contract_role_schema_and_tables() {
    let app = spawn_app().await;
    let territory = app.onboard("amsterdam").await;
    let mut admin = app.db.admin().await;

    assert_eq!(leftovers(&mut admin, "amsterdam").await, Leftovers { registry: 1, domains: 0, schemas: 1, roles: 1 });
    assert_eq!(territory.schema_version, app.steps.latest());
    let mut hq = app.pool.hq().await.unwrap();
    let contracts = store::contracts(&mut hq, territory.id).await.unwrap();
    assert_eq!(contracts.len(), 1);
    assert_eq!(contracts[0].franchise_rate, Decimal::from_str("0.14").unwrap());
    assert_eq!(contracts[0].hq_rate, Decimal::from_str("0.06").unwrap());
    // The territory's own role reads its tables.
    let mut conn = app.pool.territory(&territory).await.unwrap();
    let currency: String = diesel::sql_query("SELECT currency AS value FROM settings")
        .get_result::<Value>(&mut *conn)
        .await
        .unwrap()
        .value;
    assert_eq!(currency, "EUR");
}

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

#[tokio::test]
async fn a_failure_at_any_step_of_onboarding_leaves_nothing_behind() {
    let app = spawn_app().await;
    let mut admin = app.db.admin().await;
    for step in OnboardingStep::ALL {
        let mut new = new_territory("rotterdam");
        new.domains = vec![CustomDomain::parse("rotterdam-zorg.nl", "localhost").unwrap()];
        let error = provision(&app.pool, &app.steps, &new, Some(step)).await.unwrap_err();
        assert!(matches!(error, ProvisionError::Injected(failed) if failed == step), "{error}");
        assert_eq!(
            leftovers(&mut admin, "rotterdam").await,
            Leftovers { registry: 0, domains: 0, schemas: 0, roles: 0 },
            "after a failure at {step:?}"
        );
    }
    // And with nothing injected the same territory onboards.
    let mut new = new_territory("rotterdam");
    new.domains = vec![CustomDomain::parse("rotterdam-zorg.nl", "localhost").unwrap()];
    provision(&app.pool, &app.steps, &new, None).await.unwrap();
    assert_eq!(leftovers(&mut admin, "rotterdam").await, Leftovers { registry: 1, domains: 1, schemas: 1, roles: 1 });
}

#[tokio::test]
async fn a_duplicate_slug_or_domain_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mut first = new_territory("amsterdam");
    first.domains = vec![CustomDomain::parse("zorg.nl", "localhost").unwrap()];
    provision(&app.pool, &app.steps, &first, None).await.unwrap();

    let again = provision(&app.pool, &app.steps, &new_territory("amsterdam"), None).await.unwrap_err();
    assert!(matches!(again, ProvisionError::SlugTaken(ref slug) if slug == "amsterdam"), "{again}");

    let mut thief = new_territory("utrecht");
    thief.domains = vec![CustomDomain::parse("zorg.nl", "localhost").unwrap()];
    let stolen = provision(&app.pool, &app.steps, &thief, None).await.unwrap_err();
    assert!(matches!(stolen, ProvisionError::DomainTaken(ref host) if host == "zorg.nl"), "{stolen}");

    let mut admin = app.db.admin().await;
    assert_eq!(leftovers(&mut admin, "utrecht").await, Leftovers { registry: 0, domains: 0, schemas: 0, roles: 0 });
}

#[tokio::test]
async fn contract_rates_are_per_territory() {
    let app = spawn_app().await;
    let mut new = new_territory("zwolle");
    new.rates = ContractRates::new(Decimal::from_str("0.15").unwrap(), Decimal::from_str("0.05").unwrap()).unwrap();
    let territory = provision(&app.pool, &app.steps, &new, None).await.unwrap();
    let standard = app.onboard("delft").await;

    let mut hq = app.pool.hq().await.unwrap();
    let zwolle = store::contracts(&mut hq, territory.id).await.unwrap();
    let delft = store::contracts(&mut hq, standard.id).await.unwrap();
    assert_eq!(zwolle[0].franchise_rate, Decimal::from_str("0.15").unwrap());
    assert_eq!(delft[0].franchise_rate, Decimal::from_str("0.14").unwrap());
}
