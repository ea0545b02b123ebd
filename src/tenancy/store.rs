//! Queries on the territory registry in hq.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;
use serde_json::json;

use super::model::{Contract, Territory, TerritoryReport, TerritoryRow, TerritoryStatus};
use crate::schema::{territories, territory_contracts, territory_domains};

/// The territory with this slug, whatever its status.
pub async fn find_by_slug(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<Territory>> {
    territories::table
        .filter(territories::slug.eq(slug))
        .select(TerritoryRow::as_select())
        .first(conn)
        .await
        .optional()
        .map(|row| row.map(Territory::from))
}

/// The territory a custom domain belongs to.
pub async fn find_by_domain(conn: &mut AsyncPgConnection, host: &str) -> QueryResult<Option<Territory>> {
    territory_domains::table
        .inner_join(territories::table)
        .filter(territory_domains::host.eq(host))
        .select(TerritoryRow::as_select())
        .first(conn)
        .await
        .optional()
        .map(|row| row.map(Territory::from))
}

/// Every territory, by slug.
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Territory>> {
    let rows = territories::table.order(territories::slug).select(TerritoryRow::as_select()).load(conn).await?;
    Ok(rows.into_iter().map(Territory::from).collect())
}

/// A territory's contracts, oldest first.
pub async fn contracts(conn: &mut AsyncPgConnection, territory_id: i64) -> QueryResult<Vec<Contract>> {
    territory_contracts::table
        .filter(territory_contracts::territory_id.eq(territory_id))
        .order(territory_contracts::effective_from)
        .select(Contract::as_select())
        .load::<Contract>(conn)
        .await
        .map(|contracts| {
            contracts
                .into_iter()
                .map(|c| Contract { franchise_rate: c.franchise_rate.normalize(), hq_rate: c.hq_rate.normalize(), ..c })
                .collect()
        })
}

/// A territory's custom domains.
pub async fn domains(conn: &mut AsyncPgConnection, territory_id: i64) -> QueryResult<Vec<String>> {
    territory_domains::table
        .filter(territory_domains::territory_id.eq(territory_id))
        .order(territory_domains::host)
        .select(territory_domains::host)
        .load(conn)
        .await
}

/// Moves a territory to `to` if it is in one of `from`; returns whether it moved.
pub async fn change_status(
    conn: &mut AsyncPgConnection,
    territory_id: i64,
    from: &[TerritoryStatus],
    to: TerritoryStatus,
) -> QueryResult<bool> {
    let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
    conn.transaction(|conn| {
        async move {
            let changed = diesel::update(territories::table)
                .filter(territories::id.eq(territory_id))
                .filter(territories::status.eq_any(from))
                .set((territories::status.eq(to.as_str()), territories::updated_at.eq(Utc::now())))
                .execute(conn)
                .await?;
            if changed == 1 {
                let payload = json!({ "territory_id": territory_id, "status": to.as_str() });
                crate::audit::append_hq(conn, "territory.status_changed", "hq_admin", &payload, Utc::now()).await?;
            }
            Ok(changed == 1)
        }
        .scope_boxed()
    })
    .await
}

/// A territory with its contracts and domains.
pub async fn report(conn: &mut AsyncPgConnection, territory: Territory) -> QueryResult<TerritoryReport> {
    Ok(TerritoryReport {
        schema_version: territory.schema_version,
        contracts: contracts(conn, territory.id).await?,
        domains: domains(conn, territory.id).await?,
        territory,
    })
}

/// Territories by slug after `after`, at most `limit` (a cursor page).
pub async fn page(conn: &mut AsyncPgConnection, after: Option<&str>, limit: i64) -> QueryResult<Vec<Territory>> {
    let mut query =
        territories::table.order(territories::slug).limit(limit).select(TerritoryRow::as_select()).into_boxed();
    if let Some(after) = after {
        query = query.filter(territories::slug.gt(after.to_owned()));
    }
    Ok(query.load(conn).await?.into_iter().map(Territory::from).collect())
}

/// Adds a contract from `effective_from`; false when one already starts that day.
pub async fn add_contract(
    conn: &mut AsyncPgConnection,
    territory_id: i64,
    effective_from: chrono::NaiveDate,
    rates: super::model::ContractRates,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(territory_contracts::table)
        .values((
            territory_contracts::territory_id.eq(territory_id),
            territory_contracts::effective_from.eq(effective_from),
            territory_contracts::franchise_rate.eq(rates.franchise_rate()),
            territory_contracts::hq_rate.eq(rates.hq_rate()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        let payload = json!({
            "territory_id": territory_id,
            "effective_from": effective_from,
            "franchise_rate": rates.franchise_rate().to_string(),
            "hq_rate": rates.hq_rate().to_string(),
        });
        crate::audit::append_hq(conn, "territory.contract_added", "hq_admin", &payload, Utc::now()).await?;
    }
    Ok(inserted == 1)
}

/// The territory with this id.
pub async fn find_by_id(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Territory>> {
    territories::table
        .find(id)
        .select(TerritoryRow::as_select())
        .first(conn)
        .await
        .optional()
        .map(|row| row.map(Territory::from))
}

/// Every host that names a territory: `SLUG.base_domain` and custom domains.
pub async fn all_hosts(conn: &mut AsyncPgConnection, base_domain: &str) -> QueryResult<Vec<String>> {
    let slugs: Vec<String> = territories::table.select(territories::slug).load(conn).await?;
    let domains: Vec<String> = territory_domains::table.select(territory_domains::host).load(conn).await?;
    Ok(slugs.into_iter().map(|slug| format!("{slug}.{base_domain}")).chain(domains).collect())
}
