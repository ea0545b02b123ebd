//! Onboarding a territory in one transaction: registry row, contract, domains,
//! role, schema, every template step, grants. A failure anywhere leaves nothing.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use scoped_futures::ScopedFutureExt;

use super::connection::{ConnectionFailure, OWNER_ROLE, TENANT_GROUP_ROLE, TenancyPool, set_config};
use super::migrate::apply_steps;
use super::model::{ContractRates, Territory, TerritoryRow, TerritoryStatus};
use super::settings::{CustomDomain, Locale, TimeZone};
use super::slug::TerritorySlug;
use super::sql::quote_ident;
use super::templates::Steps;
use crate::schema::{installation, territories, territory_contracts, territory_domains};

/// What a new territory is made of, validated.
#[derive(Debug, Clone)]
pub struct NewTerritory {
    pub slug: TerritorySlug,
    pub name: String,
    pub time_zone: TimeZone,
    pub locale: Locale,
    pub rates: ContractRates,
    pub contract_from: NaiveDate,
    pub domains: Vec<CustomDomain>,
}

/// The points of onboarding at which a test can make it fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnboardingStep {
    Registry,
    Role,
    Schema,
    Tables,
    Grants,
    Activation,
}

impl OnboardingStep {
    /// Every step, in the order they run.
    pub const ALL: [Self; 6] = [Self::Registry, Self::Role, Self::Schema, Self::Tables, Self::Grants, Self::Activation];
}

/// Why a territory was not onboarded.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("territory {0:?} already exists")]
    SlugTaken(String),
    #[error("domain {0:?} already belongs to a territory")]
    DomainTaken(String),
    #[error("the territory's display name must have 1 to 200 characters")]
    BadName,
    #[error("database role {0:?} already exists (left over from another database in this cluster?)")]
    RoleExists(String),
    #[error("onboarding failed on purpose after step {0:?}")]
    Injected(OnboardingStep),
    #[error(transparent)]
    Connection(#[from] ConnectionFailure),
    #[error("database error while onboarding: {0}")]
    Database(#[from] DieselError),
}

/// Onboards `new`; on any error nothing of it remains. `fail_after` makes it
/// fail on purpose after that step (tests of atomicity).
pub async fn provision(
    pool: &TenancyPool,
    steps: &Steps,
    new: &NewTerritory,
    fail_after: Option<OnboardingStep>,
) -> Result<Territory, ProvisionError> {
    let name_length = new.name.chars().count();
    if !(1..=200).contains(&name_length) {
        return Err(ProvisionError::BadName);
    }
    let mut conn = pool.owner().await?;
    let territory = conn
        .transaction::<_, ProvisionError, _>(|conn| {
            async move { provision_in_transaction(conn, steps, new, fail_after).await }.scope_boxed()
        })
        .await?;
    tracing::info!(territory = %territory.slug, version = territory.schema_version, "territory onboarded");
    Ok(territory)
}

async fn provision_in_transaction(
    conn: &mut AsyncPgConnection,
    steps: &Steps,
    new: &NewTerritory,
    fail_after: Option<OnboardingStep>,
) -> Result<Territory, ProvisionError> {
    let check = |step: OnboardingStep| match fail_after {
        Some(fail) if fail == step => Err(ProvisionError::Injected(step)),
        _ => Ok(()),
    };
    let slug = new.slug.as_str();
    let schema = new.slug.schema_name();
    let prefix: String = installation::table.select(installation::role_prefix).first(conn).await?;
    let role = format!("{prefix}{schema}");

    // Registry, contract and domains, as the owner of hq.
    let territory_id: i64 = diesel::insert_into(territories::table)
        .values((
            territories::slug.eq(slug),
            territories::display_name.eq(&new.name),
            territories::time_zone.eq(new.time_zone.as_str()),
            territories::locale.eq(new.locale.as_str()),
            territories::status.eq(TerritoryStatus::Provisioning.as_str()),
            territories::schema_name.eq(&schema),
            territories::role_name.eq(&role),
        ))
        .returning(territories::id)
        .get_result(conn)
        .await
        .map_err(|error| unique_violation_as(error, || ProvisionError::SlugTaken(slug.to_owned())))?;
    diesel::insert_into(territory_contracts::table)
        .values((
            territory_contracts::territory_id.eq(territory_id),
            territory_contracts::effective_from.eq(new.contract_from),
            territory_contracts::franchise_rate.eq(new.rates.franchise_rate()),
            territory_contracts::hq_rate.eq(new.rates.hq_rate()),
        ))
        .execute(conn)
        .await?;
    for domain in &new.domains {
        diesel::insert_into(territory_domains::table)
            .values((territory_domains::host.eq(domain.as_str()), territory_domains::territory_id.eq(territory_id)))
            .execute(conn)
            .await
            .map_err(|error| unique_violation_as(error, || ProvisionError::DomainTaken(domain.as_str().to_owned())))?;
    }
    check(OnboardingStep::Registry)?;

    // The role, created by the login role (the one with CREATEROLE), which is
    // NOINHERIT: it may become the territory's role but holds nothing by itself.
    diesel::select(set_config("role", "none", true)).execute(conn).await?;
    let create_role = format!(
        "CREATE ROLE {role} NOLOGIN IN ROLE {TENANT_GROUP_ROLE}; GRANT {role} TO CURRENT_USER;",
        role = quote_ident(&role)
    );
    conn.batch_execute(&create_role)
        .await
        .map_err(|error| duplicate_object_as(error, || ProvisionError::RoleExists(role.clone())))?;
    check(OnboardingStep::Role)?;

    conn.batch_execute(&format!("CREATE SCHEMA {} AUTHORIZATION {OWNER_ROLE}", quote_ident(&schema))).await?;
    check(OnboardingStep::Schema)?;

    // Tables, as the schema's owner, in the schema.
    diesel::select((set_config("role", OWNER_ROLE, true), set_config("search_path", &quote_ident(&schema), true)))
        .execute(conn)
        .await?;
    apply_steps(conn, steps.all()).await?;
    check(OnboardingStep::Tables)?;

    conn.batch_execute(&grants_sql(&schema, &role)).await?;
    check(OnboardingStep::Grants)?;

    let row: TerritoryRow = diesel::update(territories::table.find(territory_id))
        .set((territories::status.eq(TerritoryStatus::Active.as_str()), territories::schema_version.eq(steps.latest())))
        .returning(TerritoryRow::as_returning())
        .get_result(conn)
        .await?;
    let payload = serde_json::json!({ "territory_id": row.id, "slug": row.slug, "schema": schema });
    crate::audit::append_hq(conn, "territory.onboarded", "hq_admin", &payload, chrono::Utc::now()).await?;
    check(OnboardingStep::Activation)?;
    Ok(row.into())
}

/// What a territory's role may do: its own schema's rows (not the step ledger),
/// and reading what it is given of hq. Default privileges cover later steps.
pub(crate) fn grants_sql(schema: &str, role: &str) -> String {
    let (schema, role) = (quote_ident(schema), quote_ident(role));
    format!(
        "GRANT USAGE ON SCHEMA {schema} TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
         REVOKE INSERT, UPDATE, DELETE ON {schema}.template_steps FROM {role};
         ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA {schema}
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
         ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA {schema}
             GRANT USAGE, SELECT ON SEQUENCES TO {role};
         GRANT USAGE ON SCHEMA hq TO {role};"
    )
}

fn unique_violation_as(error: DieselError, make: impl FnOnce() -> ProvisionError) -> ProvisionError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => make(),
        other => ProvisionError::Database(other),
    }
}

fn duplicate_object_as(error: DieselError, make: impl FnOnce() -> ProvisionError) -> ProvisionError {
    match &error {
        DieselError::DatabaseError(_, info) if info.message().contains("already exists") => make(),
        _ => ProvisionError::Database(error),
    }
}

/// Drops an archived territory: its schema, its role and its registry rows.
pub async fn drop_archived(pool: &TenancyPool, territory: &Territory) -> Result<(), ProvisionError> {
    let mut conn = pool.owner().await?;
    let (schema, role) = (quote_ident(&territory.schema_name), quote_ident(&territory.role_name));
    let territory_id = territory.id;
    conn.transaction::<_, ProvisionError, _>(|conn| {
        async move {
            let deleted = diesel::delete(
                territories::table
                    .filter(territories::id.eq(territory_id))
                    .filter(territories::status.eq(TerritoryStatus::Archived.as_str())),
            )
            .execute(conn)
            .await?;
            if deleted != 1 {
                return Err(ProvisionError::Database(DieselError::NotFound));
            }
            conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE; REVOKE ALL ON SCHEMA hq FROM {role};")).await?;
            diesel::select(set_config("role", "none", true)).execute(conn).await?;
            conn.batch_execute(&format!("DROP ROLE {role}")).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await
}
