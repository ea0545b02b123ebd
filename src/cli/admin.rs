//! `careservice admin create EMAIL`: bootstraps an HQ admin. The password is
//! read from standard input, never from the command line.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;

use super::args::GlobalArgs;
use crate::database::Database;
use crate::database::migrations::migrate_hq;
use crate::identity::email::Email;
use crate::identity::password::{Password, PasswordHasherPool};
use crate::identity::{Role, store};
use crate::tenancy::TenancyPool;
use crate::tenancy::connection::PoolSettings;

/// Creates the account (or takes the existing one) and makes it an HQ admin.
pub async fn create(global: &GlobalArgs, email: &str, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let email = Email::parse(email).map_err(anyhow::Error::msg)?;
    eprintln!("password for {email} (read from standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password")?;
    let password = Password::parse(line.trim_end_matches(['\r', '\n'])).map_err(anyhow::Error::msg)?;
    let hash = PasswordHasherPool::new(1).hash(password.expose()).await?;

    let database = Database::open(&global.database_source()).await?;
    let outcome = async {
        migrate_hq(database.url()).await?;
        let pool = TenancyPool::new(database.url(), &PoolSettings { max_size: 1, ..PoolSettings::default() })?;
        let mut conn = pool.hq().await?;
        let name = name.unwrap_or("HQ admin");
        let keys = global.keyring()?;
        let account = match store::insert_account(&mut conn, &keys, email.as_str(), email.normalized(), &hash, name)
            .await?
        {
            Some(account) => account,
            None => store::account_by_email(&mut conn, &keys, email.normalized()).await?.context("account vanished")?,
        };
        store::mark_email_verified(&mut conn, account.id).await?;
        store::add_membership(&mut conn, account.id, None, Role::HqAdmin).await?;
        println!("{email} is an HQ admin; sign in on the hq host and enrol in MFA");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    }
    .await;
    database.close().await?;
    outcome
}
