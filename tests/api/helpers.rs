//! The test harness: a fresh database per test, cloned from a template that
//! holds the migrated hq schema, and the real application on port 0.

use std::sync::OnceLock;
use std::time::Duration;

use careservice::config::ServerSettings;
use careservice::database::migrations::migrate_hq;
use careservice::startup::Application;
use careservice::tenancy::connection::PoolSettings;
use careservice::tenancy::model::ContractRates;
use careservice::tenancy::provision::{NewTerritory, provision};
use careservice::tenancy::settings::{Locale, TimeZone};
use careservice::tenancy::templates::Steps;
use careservice::tenancy::{TenancyPool, Territory, TerritorySlug};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The application's login role in test databases: NOINHERIT, CREATEROLE,
/// like the role a production install runs as.
pub const APP_ROLE: &str = "cs_app";

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static LOGGING: OnceLock<()> = OnceLock::new();

/// One test's database.
pub struct TestDatabase {
    /// Connects as the application's login role.
    pub url: String,
    /// Connects as a superuser, for arranging what the application cannot do.
    pub admin_url: String,
}

impl TestDatabase {
    /// A superuser connection to this database.
    pub async fn admin(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.admin_url).await.expect("superuser connection")
    }
}

fn cluster_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a private PostgreSQL")
}

/// The same server, another database and user.
pub fn url_for(database: &str, user: &str) -> String {
    let base = cluster_url();
    let (prefix, query) = base.split_once('?').unwrap_or((base.as_str(), ""));
    let server = prefix.rsplit_once('/').map_or(prefix, |(server, _)| server);
    let query: Vec<&str> = query.split('&').filter(|part| !part.starts_with("user=") && !part.is_empty()).collect();
    format!("{server}/{database}?{}&user={user}", query.join("&"))
}

async fn superuser(database: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(&url_for(database, &admin_user())).await.expect("superuser connection")
}

fn admin_user() -> String {
    let base = cluster_url();
    base.split_once('?')
        .and_then(|(_, query)| query.split('&').find_map(|part| part.strip_prefix("user=")))
        .unwrap_or("postgres")
        .to_owned()
}

/// The template database: hq migrated, no territory. Named by a hash of the
/// migrations so an edited migration gets a new template.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut hash = Sha256::new();
            let mut files: Vec<_> = walk(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
            files.sort();
            for file in files {
                hash.update(std::fs::read(&file).expect("read migration"));
            }
            let name = format!("cs_template_{}", &hex::encode(hash.finalize())[..12]);
            let mut admin = superuser("postgres").await;
            admin.batch_execute("SELECT pg_advisory_lock(7201)").await.expect("lock");
            admin
                .batch_execute(&format!(
                    "DO $$ BEGIN
                       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                         CREATE ROLE {APP_ROLE} LOGIN NOINHERIT CREATEROLE;
                       END IF;
                     END $$;"
                ))
                .await
                .expect("create the app role");
            let exists = diesel_async::RunQueryDsl::execute(
                diesel::sql_query("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind::<diesel::sql_types::Text, _>(&name),
                &mut admin,
            )
            .await
            .expect("look for the template")
                == 1;
            if !exists {
                let building = format!("{name}_building");
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building}")).await.expect("drop");
                admin
                    .batch_execute(&format!("CREATE DATABASE {building} OWNER {APP_ROLE}"))
                    .await
                    .expect("create template");
                superuser(&building)
                    .await
                    .batch_execute(&format!("GRANT USAGE, CREATE ON SCHEMA public TO {APP_ROLE}"))
                    .await
                    .expect("grant public");
                migrate_hq(&url_for(&building, APP_ROLE)).await.expect("migrate the template");
                admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}")).await.expect("rename");
            }
            admin.batch_execute("SELECT pg_advisory_unlock(7201)").await.expect("unlock");
            name
        })
        .await
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path.to_string_lossy()));
        } else {
            out.push(path);
        }
    }
    out
}

/// A fresh database of its own for one test, with its own tenant role prefix
/// (roles are cluster-wide, databases are not).
pub async fn fresh_database() -> TestDatabase {
    let template = template().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("cs_test_{id}");
    superuser("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template} OWNER {APP_ROLE}"))
        .await
        .expect("clone the template");
    superuser(&name)
        .await
        .batch_execute(&format!("UPDATE hq.installation SET role_prefix = 'x{}_'", &id[..10]))
        .await
        .expect("set the role prefix");
    TestDatabase { url: url_for(&name, APP_ROLE), admin_url: url_for(&name, &admin_user()) }
}

/// Logs only when TEST_LOG is set.
pub fn init_logging() {
    LOGGING.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            careservice::telemetry::init("debug");
        }
    });
}

/// A running application on a fresh database.
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub pool: TenancyPool,
    pub client: reqwest::Client,
    pub steps: Steps,
}

/// Starts the application on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(fresh_database().await, ServerSettings::default()).await
}

/// Starts the application on `db` with `settings` (bind and workers are set here).
pub async fn spawn_app_on(db: TestDatabase, settings: ServerSettings) -> TestApp {
    init_logging();
    let settings = ServerSettings {
        bind: "127.0.0.1:0".parse().expect("address"),
        workers: 1,
        pool: PoolSettings { max_size: 4, ..PoolSettings::default() },
        ..settings
    };
    let application = Application::build(&settings, &db.url).await.expect("build the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let pool = TenancyPool::new(&db.url, &PoolSettings { max_size: 4, ..PoolSettings::default() }).expect("pool");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    TestApp { address, db, pool, client, steps: Steps::embedded().expect("steps") }
}

impl TestApp {
    /// What the job worker runs with, on `clock` and the demo webhook secret.
    pub fn jobs(&self, clock: &careservice::clock::SharedClock) -> careservice::jobs::JobContext {
        careservice::jobs::JobContext {
            pool: self.pool.clone(),
            clock: clock.clone(),
            payments: careservice::payments::Payments::simulated(careservice::config::DEMO_WEBHOOK_SECRET.as_bytes()),
            keys: careservice::privacy::Keyring::demo(),
        }
    }

    /// POST `body` to `path` on `host` with an `Idempotency-Key`, as the
    /// holder of `token`.
    pub async fn post_once(
        &self,
        host: &str,
        path: &str,
        key: &str,
        body: &serde_json::Value,
        token: &str,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header(reqwest::header::HOST, host)
            .header("idempotency-key", key)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GET `path` as if the browser asked for `host`.
    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header(reqwest::header::HOST, host)
            .send()
            .await
            .expect("request")
    }

    /// Onboards a territory with the default settings.
    pub async fn onboard(&self, slug: &str) -> Territory {
        onboard(&self.pool, &self.steps, slug).await
    }
}

/// Onboards `slug` with default settings.
pub async fn onboard(pool: &TenancyPool, steps: &Steps, slug: &str) -> Territory {
    provision(pool, steps, &new_territory(slug), None).await.expect("onboard")
}

/// The settings of a new territory named after its slug.
pub fn new_territory(slug: &str) -> NewTerritory {
    NewTerritory {
        slug: TerritorySlug::parse(slug).expect("slug"),
        name: format!("Territory {slug}"),
        time_zone: TimeZone::default(),
        locale: Locale::default(),
        rates: ContractRates::standard(),
        contract_from: chrono::Utc::now().date_naive(),
        domains: Vec::new(),
    }
}

/// Polls `check` every 20 ms until it is true or `limit` passes; returns how
/// long it took.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

impl TestApp {
    /// POSTs JSON to `path` on `host`, with a bearer token if given.
    pub async fn post(
        &self,
        host: &str,
        path: &str,
        body: &serde_json::Value,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request =
            self.client.post(format!("{}{path}", self.address)).header(reqwest::header::HOST, host).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// Sends `method` with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request =
            self.client.request(method, format!("{}{path}", self.address)).header(reqwest::header::HOST, host);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// Creates an active, email-verified account with `roles` (territory None: HQ-wide).
    pub async fn account(
        &self,
        email: &str,
        password: &str,
        roles: &[(careservice::identity::Role, Option<&Territory>)],
    ) -> uuid::Uuid {
        use careservice::identity::store;
        let hash = careservice::identity::password::PasswordHasherPool::new(1).hash(password).await.expect("hash");
        let mut conn = self.pool.hq().await.expect("conn");
        let account = store::insert_account(
            &mut conn,
            &careservice::privacy::Keyring::demo(),
            email,
            &email.to_lowercase(),
            &hash,
            "Test person",
        )
        .await
        .expect("insert")
        .expect("new account");
        store::mark_email_verified(&mut conn, account.id).await.expect("verified");
        for (role, territory) in roles {
            store::add_membership(&mut conn, account.id, territory.map(|t| t.id), *role).await.expect("membership");
        }
        account.id
    }

    /// Signs in and returns the session token.
    pub async fn sign_in(&self, host: &str, email: &str, password: &str) -> String {
        let response = self
            .post(host, "/api/v1/auth/sign-in", &serde_json::json!({ "email": email, "password": password }), None)
            .await;
        assert_eq!(response.status(), 200, "sign-in of {email} failed");
        let body: serde_json::Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Enrols the session's account in MFA and passes it; returns the secret.
    pub async fn enable_mfa(&self, host: &str, token: &str) -> String {
        let enrolled: serde_json::Value = self
            .post(host, "/api/v1/auth/mfa/enrol", &serde_json::json!({}), Some(token))
            .await
            .json()
            .await
            .expect("json");
        let secret = enrolled["secret"].as_str().expect("secret").to_owned();
        let code = careservice::identity::mfa::code_at(&secret, unix_now()).expect("code");
        let confirmed =
            self.post(host, "/api/v1/auth/mfa/confirm", &serde_json::json!({ "code": code }), Some(token)).await;
        assert_eq!(confirmed.status(), 200);
        secret
    }

    /// The token in the newest mail to `to` (found by the address's keyed
    /// hash, its sealed body opened with the demo keys the tests run with).
    pub async fn mailed_token(&self, to: &str) -> String {
        use careservice::identity::sealing::{address_lookup, mail_place};
        use careservice::schema::mail_outbox;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let keys = careservice::privacy::Keyring::demo();
        let mut conn = self.db.admin().await;
        let (id, sealed): (uuid::Uuid, String) = mail_outbox::table
            .filter(mail_outbox::to_lookup.eq(address_lookup(&keys, to)))
            .order(mail_outbox::created_at.desc())
            .select((mail_outbox::id, mail_outbox::body))
            .first(&mut conn)
            .await
            .expect("a mail");
        let body = keys.open(&sealed, &mail_place("body", &id.to_string())).expect("a mail that opens");
        body.lines()
            .map(str::trim)
            .find(|line| line.len() == 43 && !line.contains(' '))
            .expect("a token in the mail")
            .to_owned()
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

impl TestApp {
    /// A franchisee of `territory`, signed in with MFA passed.
    pub async fn franchisee_token(&self, email: &str, territory: &Territory) -> String {
        let password = "fiets-kaas-molen-regen";
        self.account(email, password, &[(careservice::identity::Role::Franchisee, Some(territory))]).await;
        let host = format!("{}.localhost", territory.slug);
        let token = self.sign_in(&host, email, password).await;
        self.enable_mfa(&host, &token).await;
        token
    }

    /// An HQ admin, signed in on the HQ host with MFA passed.
    pub async fn hq_admin_token(&self, email: &str) -> String {
        let password = "fiets-kaas-molen-regen";
        self.account(email, password, &[(careservice::identity::Role::HqAdmin, None)]).await;
        let token = self.sign_in("hq.localhost", email, password).await;
        self.enable_mfa("hq.localhost", &token).await;
        token
    }
}

/// Fails naming each of `secrets` that `body` (the answer to `what`) holds:
/// an answer that refuses or leaves out someone's data must not carry it.
pub fn assert_holds_none(what: &str, body: &str, secrets: &[&str]) {
    let found: Vec<&str> = secrets.iter().copied().filter(|secret| body.contains(secret)).collect();
    assert!(found.is_empty(), "{what} holds {found:?}: {body}");
}

impl TestApp {
    /// The tokens in every mail to `to`, oldest first (mails are sealed:
    /// found by the address's keyed hash, opened with the demo keys).
    pub async fn mailed_tokens(&self, to: &str) -> Vec<String> {
        use careservice::identity::sealing::{address_lookup, mail_place};
        use careservice::schema::mail_outbox;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let keys = careservice::privacy::Keyring::demo();
        let mut conn = self.db.admin().await;
        let mails: Vec<(uuid::Uuid, String)> = mail_outbox::table
            .filter(mail_outbox::to_lookup.eq(address_lookup(&keys, to)))
            .order(mail_outbox::created_at.asc())
            .select((mail_outbox::id, mail_outbox::body))
            .load(&mut conn)
            .await
            .expect("mails");
        mails
            .iter()
            .filter_map(|(id, sealed)| {
                let body = keys.open(sealed, &mail_place("body", &id.to_string())).expect("a mail that opens");
                body.lines().map(str::trim).find(|line| line.len() == 43 && !line.contains(' ')).map(str::to_owned)
            })
            .collect()
    }

    /// The token in the newest mail to `to`, waiting up to 10 s for the job
    /// worker to queue one (mails that a job writes).
    pub async fn mailed_token_soon(&self, to: &str) -> String {
        let arrived = eventually(Duration::from_secs(10), || async { !self.mailed_tokens(to).await.is_empty() }).await;
        assert!(arrived.is_some(), "no mail to {to} within 10 s");
        self.mailed_token(to).await
    }
}
