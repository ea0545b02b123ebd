//! `careservice audit verify [SLUG | --all]`.

use std::process::ExitCode;

use super::args::GlobalArgs;
use crate::audit::{Verification, verify as walk};
use crate::database::Database;
use crate::tenancy::connection::PoolSettings;
use crate::tenancy::{TenancyPool, store};

/// Walks the chosen chains, prints one line per chain, and exits 1 when any
/// is broken.
pub async fn verify(global: &GlobalArgs, slug: Option<&str>, all: bool) -> anyhow::Result<ExitCode> {
    let database = Database::open(&global.database_source()).await?;
    let outcome = verify_on(database.url(), slug, all).await;
    database.close().await?;
    outcome
}

async fn verify_on(database_url: &str, slug: Option<&str>, all: bool) -> anyhow::Result<ExitCode> {
    let pool = TenancyPool::new(database_url, &PoolSettings { max_size: 2, ..PoolSettings::default() })?;
    let territories = {
        let mut conn = pool.hq().await?;
        if all {
            store::list(&mut conn).await?
        } else {
            match slug {
                Some("hq") | None => Vec::new(),
                Some(slug) => match store::find_by_slug(&mut conn, slug).await? {
                    Some(territory) => vec![territory],
                    None => anyhow::bail!("there is no territory {slug:?}"),
                },
            }
        }
    };
    let mut broken = 0;
    if all || slug == Some("hq") {
        let mut conn = pool.hq().await?;
        broken += report("hq", &walk(&mut conn).await?);
    }
    for territory in &territories {
        let mut conn = pool.territory(territory).await?;
        broken += report(&territory.slug, &walk(&mut conn).await?);
    }
    Ok(if broken == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn report(chain: &str, verification: &Verification) -> usize {
    match &verification.first_broken {
        None => {
            println!(
                "{chain}: intact, {} entries, head {}",
                verification.entries,
                verification.head.as_deref().unwrap_or("-")
            );
            0
        }
        Some(link) => {
            println!(
                "{chain}: BROKEN at entry {} ({}); {} entries before it hold",
                link.seq, link.reason, verification.entries
            );
            1
        }
    }
}
