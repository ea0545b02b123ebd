//! Tenant migrations: O(1) when idle, per-territory transactions, resumable,
//! checksummed; and verify finds drifted schemas.

use std::time::Duration;

use careservice::tenancy::migrate::{MigrateError, MigrateOptions, migrate_all};
use careservice::tenancy::provision::drop_archived;
use careservice::tenancy::templates::Steps;
use careservice::tenancy::verify::verify_all;
use careservice::tenancy::{TerritoryStatus, store};
use diesel_async::{AnsiTransactionManager, SimpleAsyncConnection, TransactionManager};

use crate::helpers::{onboard, spawn_app};

const EXTRA_STEP: &str = "ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
                          CREATE INDEX outbox_attempts ON outbox (attempts);";

#[tokio::test]
async fn a_run_with_nothing_to_do_migrates_nothing() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    let results = migrate_all(&app.pool, &app.steps, &MigrateOptions::default(), |_, _| {}).await.unwrap();
    assert!(results.is_empty(), "{results:?}");
}

#[tokio::test]
async fn a_new_step_reaches_every_territory_and_leaves_them_identical() {
    let app = spawn_app().await;
    for slug in ["amsterdam", "utrecht", "rotterdam"] {
        app.onboard(slug).await;
    }
    let steps = app.steps.clone().with_extra("outbox_attempts", EXTRA_STEP);
    let mut seen = 0;
    let results = migrate_all(&app.pool, &steps, &MigrateOptions::default(), |_, total| {
        seen += 1;
        assert_eq!(total, 3);
    })
    .await
    .unwrap();
    assert_eq!(seen, 3);
    assert!(results.iter().all(|r| r.error.is_none() && r.to_version == Some(steps.latest())), "{results:?}");

    let mut hq = app.pool.hq().await.unwrap();
    for territory in store::list(&mut hq).await.unwrap() {
        assert_eq!(territory.schema_version, steps.latest());
    }
    let (checked, drifted) = verify_all(&app.pool, &steps).await.unwrap();
    assert_eq!((checked, drifted.len()), (3, 0), "{drifted:?}");
    // Nothing left to do afterwards.
    assert!(migrate_all(&app.pool, &steps, &MigrateOptions::default(), |_, _| {}).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_locked_territory_fails_alone_and_the_next_run_resumes_with_it() {
    let app = spawn_app().await;
    let amsterdam = app.onboard("amsterdam").await;
    app.onboard("utrecht").await;
    let steps = app.steps.clone().with_extra("outbox_attempts", EXTRA_STEP);

    // Someone holds a lock on Amsterdam's outbox.
    let mut blocker = app.db.admin().await;
    AnsiTransactionManager::begin_transaction(&mut blocker).await.unwrap();
    blocker.batch_execute(&format!("LOCK TABLE {}.outbox IN ACCESS SHARE MODE", amsterdam.schema_name)).await.unwrap();

    let options = MigrateOptions { lock_timeout: Duration::from_millis(200), ..MigrateOptions::default() };
    let results = migrate_all(&app.pool, &steps, &options, |_, _| {}).await.unwrap();
    let failed: Vec<_> = results.iter().filter(|r| r.error.is_some()).map(|r| r.slug.as_str()).collect();
    let done: Vec<_> = results.iter().filter(|r| r.error.is_none()).map(|r| r.slug.as_str()).collect();
    assert_eq!((failed, done), (vec!["amsterdam"], vec!["utrecht"]));
    let mut hq = app.pool.hq().await.unwrap();
    let amsterdam_now = store::find_by_slug(&mut hq, "amsterdam").await.unwrap().unwrap();
    assert_eq!(amsterdam_now.schema_version, app.steps.latest(), "a failed territory keeps its version");

    AnsiTransactionManager::rollback_transaction(&mut blocker).await.unwrap();
    let resumed = migrate_all(&app.pool, &steps, &options, |_, _| {}).await.unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].slug, "amsterdam");
    assert!(resumed[0].error.is_none(), "{resumed:?}");
}

#[tokio::test]
async fn an_applied_step_whose_text_changed_is_an_error_not_a_skip() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let original = app.steps.clone().with_extra("outbox_attempts", EXTRA_STEP);
    migrate_all(&app.pool, &original, &MigrateOptions::default(), |_, _| {}).await.unwrap();

    let edited = app.steps.clone().with_extra("outbox_attempts", "ALTER TABLE outbox ADD COLUMN attempts bigint;");
    let error = migrate_all(&app.pool, &edited, &MigrateOptions::default(), |_, _| {}).await.unwrap_err();
    let expected = format!("{:04}_outbox_attempts.sql", app.steps.latest() + 1);
    assert!(matches!(error, MigrateError::ChangedStep { ref name, .. } if *name == expected), "{error}");
}

#[tokio::test]
async fn verify_names_a_schema_that_drifted() {
    let app = spawn_app().await;
    app.onboard("amsterdam").await;
    let utrecht = app.onboard("utrecht").await;
    app.db
        .admin()
        .await
        .batch_execute(&format!(
            "ALTER TABLE {0}.settings ADD COLUMN rogue text; DROP INDEX {0}.outbox_undrained;",
            utrecht.schema_name
        ))
        .await
        .unwrap();

    let (checked, drifted) = verify_all(&app.pool, &Steps::embedded().unwrap()).await.unwrap();
    assert_eq!(checked, 2);
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    assert_eq!(drifted[0].slug, "utrecht");
    assert!(drifted[0].unexpected.iter().any(|item| item.contains("settings.rogue")), "{drifted:?}");
    assert!(drifted[0].missing.iter().any(|item| item.contains("outbox_undrained")), "{drifted:?}");
}

#[tokio::test]
async fn only_an_archived_territory_can_be_dropped_and_dropping_removes_everything() {
    let app = spawn_app().await;
    let territory = app.onboard("amsterdam").await;
    assert!(drop_archived(&app.pool, &territory).await.is_err(), "an active territory was dropped");

    let mut admin = app.db.admin().await;
    store::change_status(&mut admin, territory.id, &[TerritoryStatus::Active], TerritoryStatus::Archived)
        .await
        .unwrap();
    drop_archived(&app.pool, &territory).await.unwrap();
    let mut hq = app.pool.hq().await.unwrap();
    assert!(store::find_by_slug(&mut hq, "amsterdam").await.unwrap().is_none());
    // The slug, schema and role are free again.
    onboard(&app.pool, &app.steps, "amsterdam").await;
}
