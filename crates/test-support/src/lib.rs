//! Test fixtures: a temporary data folder on a chosen database backend.
//!
//! PostgreSQL suites run when `SWITCHBOARD_TEST_POSTGRES` holds an administrator URL (for
//! example `postgres://postgres@127.0.0.1:5432/postgres`); each test then gets its own control
//! database, dropped with its workspace databases when the fixture is dropped. Without the
//! variable those tests print why they skipped and pass. This crate is a dev-dependency only;
//! it talks SQL to PostgreSQL solely to create and drop the test databases.

pub mod dovecot;
pub mod postfix;
pub mod smtp_sink;

use std::path::Path;

use rand::RngCore;
use sb_config::{Database, DatabaseUrl};
use sqlx::{Connection, Executor, PgConnection};

/// The environment variable that turns the PostgreSQL suites on.
pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// A temporary data folder and, on PostgreSQL, a private control database.
pub struct TestBackend {
    dir: tempfile::TempDir,
    database: Database,
    postgres_admin: Option<String>,
}

impl TestBackend {
    /// A fixture on `kind`, or `None` (having printed why) when PostgreSQL is not configured.
    pub async fn new(kind: BackendKind) -> Option<TestBackend> {
        let dir = tempfile::tempdir().expect("temporary folder");
        match kind {
            BackendKind::Sqlite => {
                Some(TestBackend { dir, database: Database::Sqlite, postgres_admin: None })
            }
            BackendKind::Postgres => {
                let Some(admin) = postgres_admin_url() else {
                    eprintln!("skipped: {POSTGRES_ENV} is not set, so this PostgreSQL test did not run");
                    return None;
                };
                let admin_url = DatabaseUrl::parse(&admin).expect("valid admin URL");
                let mut suffix = [0u8; 6];
                rand::thread_rng().fill_bytes(&mut suffix);
                let name = format!("sbtest_{}", hex::encode(suffix));
                let url = DatabaseUrl::parse(&admin_url.with_database(&name)).expect("valid URL");
                let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL reachable");
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .expect("create test database");
                Some(TestBackend { dir, database: Database::Postgres(url), postgres_admin: Some(admin) })
            }
        }
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database setting to open the store with.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// A configuration on this fixture's data folder and database, otherwise the defaults.
    pub fn config(&self) -> sb_config::Config {
        let options = sb_config::Options {
            data_dir: Some(self.data_dir().to_owned()),
            database_url: self.database_url(),
            ..sb_config::Options::default()
        };
        sb_config::Config::load(options).expect("test configuration is valid")
    }

    /// The `--database-url` value for the binary, if on PostgreSQL.
    pub fn database_url(&self) -> Option<String> {
        match &self.database {
            Database::Sqlite => None,
            Database::Postgres(url) => Some(url.as_str().to_owned()),
        }
    }
}

/// The administrator URL from the environment, if set.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|url| !url.trim().is_empty())
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        let (Some(admin), Database::Postgres(url)) = (self.postgres_admin.take(), &self.database) else {
            return;
        };
        let prefix = url.database().to_owned();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
        // own runtime drops the databases and is joined.
        let dropper = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(drop_databases(&admin, &prefix));
        });
        let _ = dropper.join();
    }
}

async fn drop_databases(admin: &str, prefix: &str) {
    let Ok(mut conn) = PgConnection::connect(admin).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $1 || '\\_%'")
            .bind(prefix)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in names {
        let _ = conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str()).await;
    }
}

/// Instantiates async test bodies once per backend: `backend_tests!(foo, bar)` turns each
/// `async fn foo(backend: &TestBackend)` in scope into tests `foo::sqlite` and `foo::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let backend = $crate::TestBackend::new($crate::BackendKind::Sqlite).await.expect("sqlite");
                    super::$name(&backend).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(backend) = $crate::TestBackend::new($crate::BackendKind::Postgres).await {
                        super::$name(&backend).await;
                    }
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    /// Says, in the test run's output, whether the PostgreSQL suites ran or were skipped
    /// (`.config/nextest.toml` shows this test's output even when it passes).
    #[test]
    fn postgres_suite_status() {
        match super::postgres_admin_url() {
            Some(_) => eprintln!("PostgreSQL suites: running (SWITCHBOARD_TEST_POSTGRES is set)"),
            None => eprintln!(
                "PostgreSQL suites: SKIPPED because SWITCHBOARD_TEST_POSTGRES is not set; set it to \
                 postgres://postgres@127.0.0.1:5432/postgres to run them"
            ),
        }
    }
}
