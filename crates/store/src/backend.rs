//! Where databases live and how to connect: SQLite files in the data folder, or PostgreSQL
//! with one database for control and one per workspace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sb_config::{Database, DatabaseUrl};
use sb_types::WorkspaceId;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};

use crate::StoreError;

/// SQLite settings for every connection: WAL so the CLI and the server can work on the same
/// files at once, `synchronous = FULL` so a commit is on disk before it is acknowledged, and a
/// busy timeout long enough to ride out another process's write.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Workspace databases' SQLite settings besides `SQLITE_PRAGMAS`: the log is copied into the
/// database file beside the writers, not by whichever commit finds it long (see
/// `records/write_turn.rs`).
const WORKSPACE_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 0;";

/// The storage backend in use.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite { data_dir: PathBuf },
    Postgres { data_dir: PathBuf, url: DatabaseUrl },
}

impl Backend {
    /// Creates the data folder layout (`workspaces/` inside it) and picks the backend.
    pub(crate) fn prepare(data_dir: &Path, database: &Database) -> Result<Backend, StoreError> {
        std::fs::create_dir_all(data_dir.join("workspaces")).map_err(|e| {
            StoreError::Unavailable(format!("cannot create data folder {}: {e}", data_dir.display()))
        })?;
        sqlx::any::install_default_drivers();
        let data_dir = data_dir.to_owned();
        Ok(match database {
            Database::Sqlite => Backend::Sqlite { data_dir },
            Database::Postgres(url) => Backend::Postgres { data_dir, url: url.clone() },
        })
    }

    /// "sqlite" or "postgres".
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        match self {
            Backend::Sqlite { data_dir } | Backend::Postgres { data_dir, .. } => data_dir,
        }
    }

    /// A workspace's folder: events, search index and, on SQLite, its records database.
    pub fn workspace_dir(&self, id: WorkspaceId) -> PathBuf {
        self.data_dir().join("workspaces").join(id.to_string())
    }

    pub(crate) async fn open_control(&self) -> Result<AnyPool, StoreError> {
        match self {
            Backend::Sqlite { data_dir } => sqlite_pool(&data_dir.join("control.db"), 8, true, "").await,
            Backend::Postgres { url, .. } => postgres_pool(url.as_str(), 8).await,
        }
    }

    /// Creates the workspace's folder and empty records database, and opens it.
    pub(crate) async fn create_workspace_db(
        &self,
        control: &AnyPool,
        id: WorkspaceId,
    ) -> Result<AnyPool, StoreError> {
        let dir = self.workspace_dir(id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create workspace folder: {e}")))?;
        if let Backend::Postgres { url, .. } = self {
            let statement = format!("CREATE DATABASE \"{}\"", workspace_database(url, id));
            control.execute(statement.as_str()).await.map_err(StoreError::from_sqlx)?;
        }
        self.connect_workspace_db(id, true).await
    }

    /// Opens an existing workspace records database (or, with `create`, a new SQLite file).
    pub(crate) async fn connect_workspace_db(
        &self,
        id: WorkspaceId,
        create: bool,
    ) -> Result<AnyPool, StoreError> {
        match self {
            Backend::Sqlite { .. } => {
                sqlite_pool(&self.workspace_dir(id).join("records.db"), 4, create, WORKSPACE_PRAGMAS).await
            }
            Backend::Postgres { url, .. } => {
                postgres_pool(&url.with_database(&workspace_database(url, id)), 4).await
            }
        }
    }

    /// Removes the workspace's folder and, on PostgreSQL, its database.
    pub(crate) async fn drop_workspace_db(
        &self,
        control: &AnyPool,
        id: WorkspaceId,
    ) -> Result<(), StoreError> {
        if let Backend::Postgres { url, .. } = self {
            let statement =
                format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", workspace_database(url, id));
            control.execute(statement.as_str()).await.map_err(StoreError::from_sqlx)?;
        }
        match std::fs::remove_dir_all(self.workspace_dir(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::Unavailable(format!("cannot remove workspace folder: {e}")))
            }
            _ => Ok(()),
        }
    }
}

/// `<control database>_<workspace id>`: at most 63 bytes, see `DatabaseUrl`.
fn workspace_database(url: &DatabaseUrl, id: WorkspaceId) -> String {
    format!("{}_{id}", url.database())
}

/// A pooled connection idle this long is checked before use; a busy one is not.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// Settings both backends' pools share. sqlx would ping every connection it hands out, one
/// extra round trip per statement (to PostgreSQL, or to the SQLite connection's thread): here
/// only a connection that sat idle is checked, and a dead one is replaced.
fn pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .idle_timeout(Duration::from_secs(300))
        .acquire_timeout(Duration::from_secs(15))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// A pool of connections to the SQLite file `path`, each set up with `SQLITE_PRAGMAS` and
/// then `pragmas`.
async fn sqlite_pool(
    path: &Path,
    max: u32,
    create: bool,
    pragmas: &'static str,
) -> Result<AnyPool, StoreError> {
    // sqlx percent-decodes the file name, so the characters that would end it are encoded.
    let file = path.display().to_string().replace('%', "%25").replace('?', "%3F").replace('#', "%23");
    pool_options(max)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                if !pragmas.is_empty() {
                    conn.execute(pragmas).await?;
                }
                Ok(())
            })
        })
        .connect(&format!("sqlite://{file}?mode={}", if create { "rwc" } else { "rw" }))
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))
}

async fn postgres_pool(url: &str, max: u32) -> Result<AnyPool, StoreError> {
    pool_options(max)
        .connect(url)
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))
}
