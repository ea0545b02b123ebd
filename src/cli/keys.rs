//! `careservice keys rotate`.

use std::process::ExitCode;

use super::args::GlobalArgs;
use crate::database::Database;
use crate::identity::sealing::seal_stored_rows;
use crate::privacy::rotate::{rotate_accounts, rotate_territory, stale_values};
use crate::tenancy::connection::PoolSettings;
use crate::tenancy::{TenancyPool, store};

/// Re-seals every territory's personal fields with the newest key, printing
/// a line per territory; exits 1 if any value could not be opened (a key
/// missing from the configuration).
pub async fn rotate(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let keys = global.keyring()?;
    let database = Database::open(&global.database_source()).await?;
    let pool = TenancyPool::new(database.url(), &PoolSettings { max_size: 2, ..PoolSettings::default() })?;
    let territories = {
        let mut conn = pool.hq().await?;
        store::list(&mut conn).await?
    };
    println!("sealing with key version {}", keys.current());
    let mut failed = 0;
    match rotate_accounts(&pool, &keys).await {
        Ok(rewritten) => println!("hq accounts: {rewritten} row(s) re-encrypted"),
        Err(error) => {
            failed += 1;
            println!("hq accounts: failed: {error}");
        }
    }
    let sealed = async { seal_stored_rows(&mut *pool.hq().await?, &keys).await };
    match sealed.await {
        Ok(rewritten) => println!("hq invitations and mail: {rewritten} row(s) re-encrypted"),
        Err(error) => {
            failed += 1;
            println!("hq invitations and mail: failed: {error}");
        }
    }
    for territory in &territories {
        match rotate_territory(&pool, territory, &keys).await {
            Ok(rewritten) => {
                let left = stale_values(&pool, territory, &keys).await?;
                println!("{}: {rewritten} value(s) re-encrypted, {left} left on older keys", territory.slug);
            }
            Err(error) => {
                failed += 1;
                println!("{}: failed: {error}", territory.slug);
            }
        }
    }
    database.close().await?;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
