//! `territory verify`: every tenant schema must be identical to a fresh schema
//! at the same version. A drifted schema breaks cached statements ("cached plan
//! must not change result type") and hides bugs, so it is found, not guessed.

use std::collections::{BTreeMap, BTreeSet};

use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use scoped_futures::ScopedFutureExt;
use serde::Serialize;

use super::connection::{OWNER_ROLE, TenancyPool, set_config};
use super::migrate::{MigrateError, apply_steps};
use super::sql::quote_ident;
use super::store;
use super::templates::Steps;

/// A schema that differs from a fresh one at its version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Drift {
    pub slug: String,
    pub version: i32,
    /// Structure a fresh schema has and this one lacks.
    pub missing: Vec<String>,
    /// Structure this schema has and a fresh one lacks.
    pub unexpected: Vec<String>,
}

#[derive(diesel::QueryableByName)]
struct StructureItem {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    item: String,
}

/// Columns (in order, with type, nullability and default), indexes,
/// constraints and triggers of the given schemas, one line each.
const STRUCTURE_SQL: &str = "
SELECT n.nspname::text AS schema,
       'column ' || c.relname || '.' || a.attname || ' #'
         || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
         || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
         || CASE WHEN a.attidentity::text <> '' THEN ' identity ' || a.attidentity::text ELSE '' END AS item
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE n.nspname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
   AND c.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT n.nspname::text, 'relation ' || c.relname || ' ' || c.relkind::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
UNION ALL
SELECT n.nspname::text, 'index ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1)
UNION ALL
SELECT n.nspname::text, 'constraint ' || c.relname || '.' || con.conname || ' ' || pg_get_constraintdef(con.oid)
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1)
UNION ALL
SELECT n.nspname::text, 'trigger ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1) AND NOT t.tgisinternal";

/// Compares every territory's schema with a fresh one at its version and
/// returns those that differ.
pub async fn verify_all(pool: &TenancyPool, steps: &Steps) -> Result<(usize, Vec<Drift>), MigrateError> {
    let mut conn = pool.owner().await?;
    let territories = store::list(&mut conn).await?;
    let schemas: Vec<String> = territories.iter().map(|t| t.schema_name.clone()).collect();
    let schemas_ref = &schemas;
    let actual = conn
        .transaction::<_, MigrateError, _>(|conn| async move { structure(conn, schemas_ref).await }.scope_boxed())
        .await?;

    let versions: BTreeSet<i32> = territories.iter().map(|t| t.schema_version).collect();
    let mut references = BTreeMap::new();
    for version in versions {
        references.insert(version, reference_structure(&mut conn, steps, version).await?);
    }

    let empty = BTreeSet::new();
    let mut drifts = Vec::new();
    for territory in &territories {
        let Some(reference) = references.get(&territory.schema_version) else {
            continue;
        };
        let found = actual.get(&territory.schema_name).unwrap_or(&empty);
        if found != reference {
            drifts.push(Drift {
                slug: territory.slug.clone(),
                version: territory.schema_version,
                missing: reference.difference(found).cloned().collect(),
                unexpected: found.difference(reference).cloned().collect(),
            });
        }
    }
    Ok((territories.len(), drifts))
}

/// The structure of a fresh schema at `version`, built in a transaction that
/// is rolled back.
async fn reference_structure(
    conn: &mut AsyncPgConnection,
    steps: &Steps,
    version: i32,
) -> Result<BTreeSet<String>, MigrateError> {
    let schema = format!("verify_reference_v{version}");
    let mut reference = BTreeSet::new();
    let reference_ref = &mut reference;
    let schema_ref = &schema;
    let outcome = conn
        .transaction::<(), MigrateError, _>(|conn| {
            async move {
                // Schemas are created by the login role (it owns the database)
                // for the owner role, which then fills them.
                diesel::select(set_config("role", "none", true)).execute(conn).await?;
                conn.batch_execute(&format!("CREATE SCHEMA {} AUTHORIZATION {OWNER_ROLE}", quote_ident(schema_ref)))
                    .await?;
                diesel::select((
                    set_config("role", OWNER_ROLE, true),
                    set_config("search_path", &quote_ident(schema_ref), true),
                ))
                .execute(conn)
                .await?;
                apply_steps(conn, steps.up_to(version)).await?;
                let mut found = structure(conn, std::slice::from_ref(schema_ref)).await?;
                *reference_ref = found.remove(schema_ref).unwrap_or_default();
                Err(MigrateError::Database(diesel::result::Error::RollbackTransaction))
            }
            .scope_boxed()
        })
        .await;
    match outcome {
        Err(MigrateError::Database(diesel::result::Error::RollbackTransaction)) | Ok(()) => Ok(reference),
        Err(other) => Err(other),
    }
}

/// Structure lines per schema, with the schema's own name written as `<schema>`
/// so that schemas compare.
async fn structure(
    conn: &mut AsyncPgConnection,
    schemas: &[String],
) -> Result<BTreeMap<String, BTreeSet<String>>, MigrateError> {
    // With an empty search_path the catalog functions qualify every name, so
    // the text does not depend on who asks. The caller holds a transaction.
    diesel::select(set_config("search_path", "", true)).execute(conn).await?;
    let rows: Vec<StructureItem> = diesel::sql_query(STRUCTURE_SQL).bind::<Array<Text>, _>(schemas).load(conn).await?;
    let mut by_schema: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let item = row.item.replace(&format!("{}.", row.schema), "<schema>.");
        by_schema.entry(row.schema).or_default().insert(item);
    }
    Ok(by_schema)
}
