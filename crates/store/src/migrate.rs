//! Versioned migrations, applied in order, each in its own transaction.
//!
//! The version row is inserted first, inside the migration's transaction: when the server and
//! the CLI start at the same moment, the second one to insert waits on the first one's lock
//! and then sees a duplicate version, so it skips instead of applying a migration twice.

use sqlx::AnyPool;

use crate::{StoreError, Timestamp, is_unique_violation};

/// One schema change. The SQL is portable; a change that needs backend-specific SQL gets a
/// second text field here.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The control database's migrations.
pub(crate) const CONTROL: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/control/0001_initial.sql") },
    Migration {
        version: 2,
        name: "imap_cursors",
        sql: include_str!("../migrations/control/0002_imap_cursors.sql"),
    },
];

/// Every workspace records database's migrations.
pub(crate) const WORKSPACE: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/workspace/0001_initial.sql") },
    Migration {
        version: 2,
        name: "saved_queries",
        sql: include_str!("../migrations/workspace/0002_saved_queries.sql"),
    },
    Migration { version: 3, name: "crm", sql: include_str!("../migrations/workspace/0003_crm.sql") },
    Migration {
        version: 4,
        name: "crm_contacts",
        sql: include_str!("../migrations/workspace/0004_crm_contacts.sql"),
    },
    Migration {
        version: 5,
        name: "crm_box_links",
        sql: include_str!("../migrations/workspace/0005_crm_box_links.sql"),
    },
    Migration {
        version: 6,
        name: "crm_tasks",
        sql: include_str!("../migrations/workspace/0006_crm_tasks.sql"),
    },
    Migration {
        version: 7,
        name: "crm_comments",
        sql: include_str!("../migrations/workspace/0007_crm_comments.sql"),
    },
    Migration {
        version: 8,
        name: "crm_threads",
        sql: include_str!("../migrations/workspace/0008_crm_threads.sql"),
    },
    Migration {
        version: 9,
        name: "audit_log",
        sql: include_str!("../migrations/workspace/0009_audit_log.sql"),
    },
    Migration {
        version: 10,
        name: "crm_box_followers_links_values",
        sql: include_str!("../migrations/workspace/0010_crm_box_followers_links_values.sql"),
    },
    Migration {
        version: 11,
        name: "webhooks",
        sql: include_str!("../migrations/workspace/0011_webhooks.sql"),
    },
    Migration {
        version: 12,
        name: "crm_imports",
        sql: include_str!("../migrations/workspace/0012_crm_imports.sql"),
    },
    Migration {
        version: 13,
        name: "crm_thread_lock_and_value_backfill",
        sql: include_str!("../migrations/workspace/0013_crm_thread_lock_and_value_backfill.sql"),
    },
    Migration { version: 14, name: "mail", sql: include_str!("../migrations/workspace/0014_mail.sql") },
    Migration {
        version: 15,
        name: "checkins",
        sql: include_str!("../migrations/workspace/0015_checkins.sql"),
    },
];

/// Applies what `pool` lacks of `migrations`.
pub(crate) async fn run(pool: &AnyPool, migrations: &[Migration]) -> Result<(), StoreError> {
    sqlx::Executor::execute(
        pool,
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        ),
    )
    .await
    .map_err(StoreError::from_sqlx)?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(pool)
        .await
        .map_err(StoreError::from_sqlx)?;
    for migration in migrations.iter().filter(|m| !applied.contains(&m.version)) {
        let mut tx = pool.begin().await.map_err(StoreError::from_sqlx)?;
        let claimed =
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(migration.version)
                .bind(migration.name)
                .bind(Timestamp::now().to_string())
                .execute(&mut *tx)
                .await;
        match claimed {
            Err(e) if is_unique_violation(&e) => continue,
            other => other.map_err(StoreError::from_sqlx)?,
        };
        // The `Executor` method, not `RawSql::execute`: that generic `async fn` makes this
        // future impossible for rustc to prove `Send` ("`Executor` is not general enough").
        sqlx::Executor::execute(&mut *tx, sqlx::raw_sql(migration.sql))
            .await
            .map_err(|e| StoreError::Migration { version: migration.version, message: e.to_string() })?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
    }
    Ok(())
}
