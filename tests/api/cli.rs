//! The CLI as the onboarding scripts call it: exit codes and messages.

use std::process::{Command, Output};

use crate::helpers::fresh_database;

fn careservice(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_careservice"))
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run careservice")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn territory_create_refuses_bad_reserved_and_duplicate_slugs_with_clear_messages() {
    let db = fresh_database().await;
    let created = careservice(&db.url, &["territory", "create", "amsterdam", "--name", "Amsterdam", "--json"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let json: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(json["slug"], "amsterdam");
    assert_eq!(json["contracts"][0]["franchise_rate"], "0.14");

    let duplicate = careservice(&db.url, &["territory", "create", "amsterdam", "--name", "Again"]);
    assert_eq!(duplicate.status.code(), Some(3));
    assert!(text(&duplicate.stderr).contains("already exists"));

    for (slug, message) in [("hq", "reserved"), ("Amsterdam", "lowercase"), ("a", "2 to 40"), ("x_y", "lowercase")] {
        let refused = careservice(&db.url, &["territory", "create", slug, "--name", "X"]);
        assert_eq!(refused.status.code(), Some(1), "{slug}");
        assert!(text(&refused.stderr).contains(message), "{slug}: {}", text(&refused.stderr));
    }
    let bad_rates = careservice(
        &db.url,
        &["territory", "create", "delft", "--name", "D", "--franchise-rate", "14", "--hq-rate", "6"],
    );
    assert_eq!(bad_rates.status.code(), Some(1));
    assert!(text(&bad_rates.stderr).contains("between 0 and 1"), "{}", text(&bad_rates.stderr));
    let bad_zone = careservice(&db.url, &["territory", "create", "delft", "--name", "D", "--timezone", "Mars/Base"]);
    assert!(text(&bad_zone.stderr).contains("IANA"), "{}", text(&bad_zone.stderr));
}

#[tokio::test]
async fn importing_a_csv_twice_skips_what_is_already_onboarded() {
    let db = fresh_database().await;
    let file = std::env::temp_dir().join(format!("territories-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "slug,name,timezone,locale,franchise_rate,hq_rate\n\
         amsterdam,Amsterdam,Europe/Amsterdam,nl-NL,0.14,0.06\n\
         \"den-haag\",\"Den Haag, Scheveningen\",,,,\n",
    )
    .unwrap();
    let path = file.to_string_lossy().into_owned();

    let first = careservice(&db.url, &["territory", "import", &path]);
    assert!(first.status.success(), "{}{}", text(&first.stdout), text(&first.stderr));
    assert!(text(&first.stdout).contains("2 onboarded, 0 skipped, 0 failed"), "{}", text(&first.stdout));

    let second = careservice(&db.url, &["territory", "import", &path]);
    assert!(second.status.success());
    assert!(text(&second.stdout).contains("0 onboarded, 2 skipped, 0 failed"), "{}", text(&second.stdout));

    let list = careservice(&db.url, &["territory", "list", "--json"]);
    let territories: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(territories[1]["name"], "Den Haag, Scheveningen");
    std::fs::remove_file(file).ok();
}

#[tokio::test]
async fn migrate_with_nothing_to_do_says_so_and_verify_passes() {
    let db = fresh_database().await;
    careservice(&db.url, &["territory", "create", "amsterdam", "--name", "Amsterdam"]);
    let migrate = careservice(&db.url, &["territory", "migrate", "--all"]);
    assert!(migrate.status.success());
    assert!(text(&migrate.stdout).contains("nothing to do"), "{}", text(&migrate.stdout));
    let verify = careservice(&db.url, &["territory", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}

#[tokio::test]
async fn suspend_resume_archive_and_drop_follow_the_lifecycle() {
    let db = fresh_database().await;
    careservice(&db.url, &["territory", "create", "amsterdam", "--name", "Amsterdam"]);
    assert!(careservice(&db.url, &["territory", "resume", "amsterdam"]).status.code() == Some(1));
    assert!(careservice(&db.url, &["territory", "suspend", "amsterdam"]).status.success());
    assert!(careservice(&db.url, &["territory", "resume", "amsterdam"]).status.success());
    let early_drop = careservice(&db.url, &["territory", "drop", "amsterdam", "--yes"]);
    assert!(text(&early_drop.stderr).contains("archive it"), "{}", text(&early_drop.stderr));
    assert!(careservice(&db.url, &["territory", "archive", "amsterdam"]).status.success());
    let unconfirmed = careservice(&db.url, &["territory", "drop", "amsterdam"]);
    assert!(text(&unconfirmed.stderr).contains("--yes"));
    assert!(careservice(&db.url, &["territory", "drop", "amsterdam", "--yes"]).status.success());
    let show = careservice(&db.url, &["territory", "show", "amsterdam"]);
    assert!(text(&show.stderr).contains("no territory"), "{}", text(&show.stderr));
}

#[test]
fn config_check_names_what_is_wrong_and_never_prints_a_secret() {
    let output = Command::new(env!("CARGO_BIN_EXE_careservice"))
        .env("DATABASE_URL", "postgresql://app:hunter2-secret@db.internal/cs")
        .env("REDIS_URL", "redis://:another-secret@cache:6379")
        .env("CARESERVICE_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("WRONG  CARESERVICE_TRUSTED_PROXIES"), "{stdout}");
    assert!(stdout.contains("ok     DATABASE_URL"), "{stdout}");
    assert!(!stdout.contains("hunter2-secret") && !stdout.contains("another-secret"), "{stdout}");
}

#[tokio::test]
async fn a_config_file_supplies_settings_the_environment_overrides_and_config_check_names_each_source() {
    let db = fresh_database().await;
    let dir = std::env::temp_dir().join(format!("cs-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("careservice.toml");
    std::fs::write(
        &file,
        format!(
            "database_url = {:?}\npool_size = 7\nbase_domain = \"file.example\"\nredis_url = \"redis://:file-secret@cache:6379\"\n",
            db.url
        ),
    )
    .unwrap();

    // The database comes from the file alone: the command reaches it.
    let listed = Command::new(env!("CARGO_BIN_EXE_careservice"))
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .args(["--config", file.to_str().unwrap(), "territory", "create", "haarlem", "--name", "Haarlem"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", text(&listed.stderr));

    let checked = Command::new(env!("CARGO_BIN_EXE_careservice"))
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("CARESERVICE_CONFIG", &file)
        .env("CARESERVICE_BASE_DOMAIN", "env.example")
        .env_remove("CARESERVICE_POOL_SIZE")
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = text(&checked.stdout);
    assert!(checked.status.success(), "{stdout}");
    let shown = format!("(file {})", file.display());
    let line = |name: &str| {
        stdout.lines().find(|line| line.split_whitespace().nth(1) == Some(name)).unwrap_or_default().to_owned()
    };
    assert!(line("CARESERVICE_POOL_SIZE").ends_with(&format!("{shown} 7")), "{stdout}");
    assert!(line("CARESERVICE_BASE_DOMAIN").ends_with("(environment) env.example"), "{stdout}");
    assert!(line("CARESERVICE_WORKERS").contains("(default)"), "{stdout}");
    assert!(line("REDIS_URL").ends_with(&format!("{shown} redis://:***@cache:6379")), "{stdout}");
    assert!(!stdout.contains("file-secret"), "{stdout}");

    // A misspelt key is an error that names it.
    std::fs::write(&file, "pool_sise = 7\n").unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_careservice"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("unknown setting \"pool_sise\""), "{}", text(&refused.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn audit_verify_reports_intact_chains_and_names_a_broken_link() {
    use diesel_async::SimpleAsyncConnection;
    let db = fresh_database().await;
    for slug in ["amsterdam", "utrecht"] {
        assert!(careservice(&db.url, &["territory", "create", slug, "--name", slug]).status.success());
    }
    careservice(&db.url, &["territory", "suspend", "utrecht"]);
    let intact = careservice(&db.url, &["audit", "verify", "--all"]);
    assert!(intact.status.success(), "{}{}", text(&intact.stdout), text(&intact.stderr));
    // Two onboardings and a suspension in HQ's chain.
    assert!(text(&intact.stdout).contains("hq: intact, 3 entries"), "{}", text(&intact.stdout));
    assert!(text(&intact.stdout).contains("amsterdam: intact, 0 entries"), "{}", text(&intact.stdout));

    db.admin()
        .await
        .batch_execute(
            "BEGIN; SET LOCAL session_replication_role = replica;
             UPDATE hq.audit_log SET actor = 'nobody' WHERE seq = 3; COMMIT;",
        )
        .await
        .unwrap();
    let broken = careservice(&db.url, &["audit", "verify", "hq"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(text(&broken.stdout).contains("hq: BROKEN at entry 3"), "{}", text(&broken.stdout));
    let unknown = careservice(&db.url, &["audit", "verify", "nowhere"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no territory"), "{}", text(&unknown.stderr));
}
