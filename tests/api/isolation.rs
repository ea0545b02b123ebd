//! The tenancy contract's first rule, tried as an attacker and as bad luck
//! would: on a pool of ONE connection alternating territories, after failed
//! queries, rolled-back transactions, panics and cancelled requests, every
//! query sees its own territory only, and the database refuses the rest.

use std::time::Duration;

use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::{BoundConnection, TenancyPool, Territory};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;

use crate::helpers::{fresh_database, onboard};
use careservice::schema::tenant::outbox;
use careservice::tenancy::templates::Steps;

struct Two {
    pool: TenancyPool,
    a: Territory,
    b: Territory,
    url: String,
}

/// Two territories, each with a marker row, and a pool of one connection.
async fn two_territories_on_a_pool_of_one() -> Two {
    let db = fresh_database().await;
    let steps = Steps::embedded().unwrap();
    let setup = TenancyPool::new(&db.url, &PoolSettings::default()).unwrap();
    let a = onboard(&setup, &steps, "alpha").await;
    let b = onboard(&setup, &steps, "bravo").await;
    for territory in [&a, &b] {
        let mut conn = setup.territory(territory).await.unwrap();
        write_marker(&mut conn, &territory.slug).await;
    }
    let settings = PoolSettings { max_size: 1, wait_timeout: Duration::from_secs(5), ..PoolSettings::default() };
    Two { pool: TenancyPool::new(&db.url, &settings).unwrap(), a, b, url: db.url }
}

async fn write_marker(conn: &mut AsyncPgConnection, slug: &str) {
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(uuid::Uuid::new_v4()),
            outbox::kind.eq(format!("marker-{slug}")),
            outbox::payload.eq(serde_json::json!({ "territory": slug })),
        ))
        .execute(conn)
        .await
        .unwrap();
}

/// Every marker the connection can see.
async fn visible_markers(conn: &mut AsyncPgConnection) -> Vec<String> {
    outbox::table.select(outbox::kind).order(outbox::kind).load(conn).await.unwrap()
}

#[derive(QueryableByName)]
struct Identity {
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    path: String,
}

async fn assert_sees_only(conn: &mut BoundConnection, territory: &Territory) {
    let markers = visible_markers(conn).await;
    assert!(!markers.is_empty(), "{} sees no marker", territory.slug);
    assert!(
        markers.iter().all(|kind| *kind == format!("marker-{}", territory.slug)),
        "{} saw {markers:?}",
        territory.slug
    );
    let identity: Identity =
        diesel::sql_query("SELECT current_user::text AS role, current_setting('search_path') AS path")
            .get_result(&mut **conn)
            .await
            .unwrap();
    assert_eq!(identity.role, territory.role_name);
    assert!(identity.path.starts_with(&format!("\"{}\"", territory.schema_name)), "{}", identity.path);
}

#[tokio::test]
async fn alternating_territories_on_one_connection_never_leaks() {
    let two = two_territories_on_a_pool_of_one().await;
    for round in 0..200 {
        let territory = if round % 2 == 0 { &two.a } else { &two.b };
        let mut conn = two.pool.territory(territory).await.unwrap();
        assert_sees_only(&mut conn, territory).await;
    }
    // Same territory twice in a row: no rebinding needed, still right.
    for _ in 0..3 {
        let mut conn = two.pool.territory(&two.a).await.unwrap();
        assert_sees_only(&mut conn, &two.a).await;
    }
    assert_eq!(two.pool.status().size, 1, "the test must run on a single connection");
}

#[tokio::test]
async fn naming_another_territorys_schema_is_refused_by_the_database() {
    let two = two_territories_on_a_pool_of_one().await;
    let mut conn = two.pool.territory(&two.a).await.unwrap();
    for sql in [
        format!("SELECT kind FROM {}.outbox", two.b.schema_name),
        format!(
            "INSERT INTO {}.outbox (event_id, kind, payload) VALUES (gen_random_uuid(), 'x', '{{}}')",
            two.b.schema_name
        ),
        "SELECT slug FROM hq.territories".to_owned(),
        "SELECT role_prefix FROM hq.installation".to_owned(),
    ] {
        let error = diesel::sql_query(&sql).execute(&mut *conn).await.unwrap_err();
        assert!(error.to_string().contains("permission denied"), "{sql} was not refused as permission denied: {error}");
    }
}

#[tokio::test]
async fn the_login_role_by_itself_holds_nothing_of_any_territory() {
    let two = two_territories_on_a_pool_of_one().await;
    let mut raw = AsyncPgConnection::establish(&two.url).await.unwrap();
    for sql in [
        format!("SELECT kind FROM {}.outbox", two.a.schema_name),
        format!("SELECT kind FROM {}.outbox", two.b.schema_name),
        "SELECT slug FROM hq.territories".to_owned(),
    ] {
        let error = diesel::sql_query(&sql).execute(&mut raw).await.unwrap_err();
        assert!(error.to_string().contains("permission denied"), "{sql}: {error}");
    }
}

#[tokio::test]
async fn a_failed_query_does_not_leave_the_connection_bound_wrongly() {
    let two = two_territories_on_a_pool_of_one().await;
    {
        let mut conn = two.pool.territory(&two.a).await.unwrap();
        let duplicate = uuid::Uuid::new_v4();
        for _ in 0..2 {
            let _ = diesel::insert_into(outbox::table)
                .values((
                    outbox::event_id.eq(duplicate),
                    outbox::kind.eq("dup"),
                    outbox::payload.eq(serde_json::json!({})),
                ))
                .execute(&mut *conn)
                .await;
        }
        assert!(diesel::sql_query("SELEC nonsense").execute(&mut *conn).await.is_err());
    }
    let mut conn = two.pool.territory(&two.b).await.unwrap();
    assert_sees_only(&mut conn, &two.b).await;
}

#[tokio::test]
async fn a_rolled_back_transaction_does_not_undo_the_binding() {
    let two = two_territories_on_a_pool_of_one().await;
    for (first, second) in [(&two.a, &two.b), (&two.b, &two.a)] {
        {
            let mut conn = two.pool.territory(first).await.unwrap();
            let outcome = conn
                .transaction::<(), DieselError, _>(|conn| {
                    async move {
                        write_marker(conn, "rolled-back").await;
                        Err(DieselError::RollbackTransaction)
                    }
                    .scope_boxed()
                })
                .await;
            assert!(matches!(outcome, Err(DieselError::RollbackTransaction)));
            assert_sees_only(&mut conn, first).await;
        }
        let mut conn = two.pool.territory(second).await.unwrap();
        assert_sees_only(&mut conn, second).await;
    }
}

#[tokio::test]
async fn a_handler_that_panics_does_not_leak_its_territory() {
    let two = two_territories_on_a_pool_of_one().await;
    // Panics outside and inside a transaction, holding A's connection.
    for in_transaction in [false, true] {
        let pool = two.pool.clone();
        let a = two.a.clone();
        let outcome = tokio::spawn(async move {
            let mut conn = pool.territory(&a).await.unwrap();
            if in_transaction {
                let _ = conn
                    .transaction::<(), DieselError, _>(|conn| {
                        async move {
                            write_marker(conn, "never-committed").await;
                            panic!("handler bug inside a transaction");
                        }
                        .scope_boxed()
                    })
                    .await;
            }
            panic!("handler bug");
        })
        .await;
        assert!(outcome.unwrap_err().is_panic());

        let mut conn = two.pool.territory(&two.b).await.unwrap();
        assert_sees_only(&mut conn, &two.b).await;
        drop(conn);
        let mut conn = two.pool.territory(&two.a).await.unwrap();
        assert_sees_only(&mut conn, &two.a).await;
    }
}

#[tokio::test]
async fn a_request_cancelled_mid_query_does_not_leak_its_territory() {
    let two = two_territories_on_a_pool_of_one().await;
    for in_transaction in [false, true] {
        let cancelled = tokio::time::timeout(Duration::from_millis(100), async {
            let mut conn = two.pool.territory(&two.a).await.unwrap();
            if in_transaction {
                conn.transaction::<(), DieselError, _>(|conn| {
                    async move {
                        diesel::sql_query("SELECT pg_sleep(1)").execute(conn).await?;
                        Ok(())
                    }
                    .scope_boxed()
                })
                .await
                .unwrap();
            } else {
                diesel::sql_query("SELECT pg_sleep(1)").execute(&mut *conn).await.unwrap();
            }
        })
        .await;
        assert!(cancelled.is_err(), "the query should have been cancelled");

        let mut conn = two.pool.territory(&two.b).await.unwrap();
        assert_sees_only(&mut conn, &two.b).await;
    }
}

#[tokio::test]
async fn concurrent_requests_of_many_territories_each_see_their_own() {
    let db = fresh_database().await;
    let steps = Steps::embedded().unwrap();
    let setup = TenancyPool::new(&db.url, &PoolSettings::default()).unwrap();
    let mut territories = Vec::new();
    for index in 0..6 {
        let territory = onboard(&setup, &steps, &format!("city{index}")).await;
        let mut conn = setup.territory(&territory).await.unwrap();
        write_marker(&mut conn, &territory.slug).await;
        territories.push(territory);
    }
    let pool = TenancyPool::new(&db.url, &PoolSettings { max_size: 3, ..PoolSettings::default() }).unwrap();
    let tasks: Vec<_> = (0..300)
        .map(|index| {
            let pool = pool.clone();
            let territory = territories[index % territories.len()].clone();
            tokio::spawn(async move {
                let mut conn = pool.territory(&territory).await.unwrap();
                assert_sees_only(&mut conn, &territory).await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_territory_cannot_schedule_a_job_for_another_territory() {
    let two = two_territories_on_a_pool_of_one().await;
    let mut conn = two.pool.territory(&two.a).await.unwrap();
    let own = careservice::jobs::enqueue(
        &mut conn,
        "booking.complete",
        Some(two.a.id),
        serde_json::json!({}),
        chrono::Utc::now(),
    )
    .await;
    assert!(own.is_ok(), "{own:?}");
    let foreign = careservice::jobs::enqueue(
        &mut conn,
        "booking.complete",
        Some(two.b.id),
        serde_json::json!({}),
        chrono::Utc::now(),
    )
    .await;
    let error = foreign.unwrap_err().to_string();
    assert!(error.contains("only schedule its own jobs"), "{error}");
}
