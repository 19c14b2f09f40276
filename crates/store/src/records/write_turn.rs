//! Group commit for a workspace's SQLite database. SQLite admits one writer at a time and
//! flushes the log to disk (fsync) on every commit, so writers one after another are bounded
//! by the disk's flush. Here this server's writers queue for the database's write turn in order
//! (instead of sleeping in SQLite's busy handler while holding a pooled connection), and take
//! turns inside one open transaction, each within a savepoint of its own: a writer that fails
//! or gives up rolls back to its savepoint and leaves the others' work alone. A flush queued
//! behind them commits the group, once, and only then is each writer's commit reported done:
//! acknowledged still means on disk, and the writers that queued while the disk flushed share
//! the next flush.
//!
//! SQLite would also copy the log into the database file (a checkpoint) inside the commit
//! that finds the log long, holding up every writer queued behind it: workspace databases
//! turn that off (`wal_autocheckpoint = 0`, see `backend.rs`), and here a checkpoint runs
//! beside the writers, on a connection of its own (`Turn::committed`).
//!
//! PostgreSQL orders concurrent writers itself; there every write transaction is its own.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, PoisonError};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};
use tokio::task::JoinHandle;

/// How a writer's part of a group ended, as told to it by the group's commit.
type Outcome = Result<(), String>;

/// The transaction open on a SQLite database, shared by the writers of one group. It is
/// begun and ended with plain statements (`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`), so sqlx
/// never believes the connection to be inside a transaction it is not in; a connection whose
/// transaction could not be ended cleanly is closed, never handed out again.
pub(crate) struct Group {
    connection: PoolConnection<Any>,
    /// The transaction is begun and not yet ended.
    open: bool,
    /// The writers that committed their part of the group, waiting for its commit.
    waiting: Vec<oneshot::Sender<Outcome>>,
    /// The writer before gave up, failed or was cancelled with its savepoint holding its
    /// work: that savepoint is rolled back before anything else runs in the group.
    abandoned: bool,
    /// The flush queued to commit the group.
    flush: Option<JoinHandle<()>>,
}

impl Group {
    async fn begin(pool: &AnyPool) -> Result<Group, sqlx::Error> {
        // Open until it ends: a start cancelled or failed around `BEGIN` closes the connection
        // rather than handing it out again perhaps inside a transaction.
        let connection = pool.acquire().await?;
        let mut group = Group { connection, open: true, waiting: Vec::new(), abandoned: false, flush: None };
        group.connection.execute("BEGIN IMMEDIATE").await?;
        Ok(group)
    }

    /// Ends the transaction with `statement` (`COMMIT` or `ROLLBACK`) and tells the waiting
    /// writers how it went; whether it ended.
    async fn end(mut self, statement: &str, failure: Option<&str>) -> bool {
        let ended = self.connection.execute(statement).await.map(drop).map_err(|e| e.to_string());
        if ended.is_ok() {
            self.open = false;
        }
        let outcome = match failure {
            Some(why) => Err(why.to_owned()),
            None => ended,
        };
        for waiting in std::mem::take(&mut self.waiting) {
            let _ = waiting.send(outcome.clone());
        }
        !self.open
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.open {
            self.connection.close_on_drop();
        }
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").field("waiting", &self.waiting.len()).finish_non_exhaustive()
    }
}

/// Group commits between two checkpoints: a group writes tens to hundreds of pages, SQLite's
/// own default is a checkpoint per 1,000.
const COMMITS_PER_CHECKPOINT: u32 = 16;

/// The write turn of one SQLite database: the open group, if any, and the checkpoints that
/// follow the groups' commits.
#[derive(Debug, Clone)]
pub(crate) struct Turn {
    group: Arc<Mutex<Option<Group>>>,
    pool: AnyPool,
    checkpoint: Arc<std::sync::Mutex<Checkpoint>>,
}

/// Commits since the last checkpoint began, and the checkpoint running beside the writers, if
/// any.
#[derive(Debug, Default)]
struct Checkpoint {
    commits: u32,
    running: Option<JoinHandle<()>>,
}

impl Turn {
    /// The write turn of the SQLite database `pool` opens.
    pub(crate) fn new(pool: AnyPool) -> Turn {
        Turn { group: Arc::default(), pool, checkpoint: Arc::default() }
    }

    /// After a group's commit, with the turn still held. Every `COMMITS_PER_CHECKPOINT`
    /// commits a checkpoint starts beside the writers: it copies what was committed when it
    /// began, without waiting for or holding up readers and writers (`PASSIVE`). The commit
    /// after it ends copies the little written meanwhile, while no one writes, so that the
    /// next writer can start the log over instead of making it ever longer.
    async fn committed(&self) {
        let catch_up = {
            let mut checkpoint = self.checkpoint.lock().unwrap_or_else(PoisonError::into_inner);
            checkpoint.commits += 1;
            match &checkpoint.running {
                Some(running) if running.is_finished() => {
                    checkpoint.running = None;
                    true
                }
                Some(_) => false,
                None if checkpoint.commits < COMMITS_PER_CHECKPOINT => false,
                None => {
                    checkpoint.commits = 0;
                    let pool = self.pool.clone();
                    checkpoint.running = Some(tokio::spawn(async move {
                        checkpoint_now(&pool).await;
                    }));
                    false
                }
            }
        };
        // A reader still reading the log when the next writer starts keeps it from starting
        // over; once it has grown long that way, the catch-up waits a moment for such readers.
        if catch_up && checkpoint_now(&self.pool).await > LONG_LOG_PAGES {
            restart_log(&self.pool).await;
        }
    }
}

/// The log's length, in pages, past which a catch-up waits for the readers still reading it.
const LONG_LOG_PAGES: i64 = 4096;

/// How long, in milliseconds, a catch-up waits for those readers.
const RESTART_WAIT_MS: i64 = 200;

/// Copies the committed log of the database `pool` opens into its file, as far as its
/// readers let it; the log's length in pages (0 if the checkpoint failed).
async fn checkpoint_now(pool: &AnyPool) -> i64 {
    let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await;
    match done {
        Ok((_, log, _)) => log,
        Err(sqlx::Error::PoolClosed) => 0,
        Err(error) => {
            tracing::warn!(%error, "checkpoint of a workspace database failed");
            0
        }
    }
}

/// Copies the rest of the log, waiting up to `RESTART_WAIT_MS` for the readers still reading
/// it (`RESTART`), so that the next writer starts it over. The connection gets its own busy
/// timeout back after, or is closed.
async fn restart_log(pool: &AnyPool) {
    let Ok(mut connection) = pool.acquire().await else { return };
    let restarted = async {
        let usual: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut *connection).await?;
        connection.execute(format!("PRAGMA busy_timeout = {RESTART_WAIT_MS}").as_str()).await?;
        let checkpoint = connection.execute("PRAGMA wal_checkpoint(RESTART)").await;
        connection.execute(format!("PRAGMA busy_timeout = {usual}").as_str()).await?;
        checkpoint.map(drop)
    }
    .await;
    if let Err(error) = restarted {
        connection.close_on_drop();
        tracing::warn!(%error, "checkpoint of a workspace database failed");
    }
}

/// A write transaction on a workspace database: statements run on it as on a connection
/// (`&mut *tx`). Without `commit`, nothing it wrote stays.
pub(crate) enum WriteTransaction {
    /// PostgreSQL: a transaction of its own (taken when it ends).
    Own(Option<Transaction<'static, Any>>),
    /// SQLite: a savepoint in the group's transaction, holding the turn until dropped.
    Grouped {
        turn: Turn,
        held: OwnedMutexGuard<Option<Group>>,
        /// Whether dropping the writer here must roll back its savepoint: not before the
        /// savepoint is made (a start cancelled while making it leaves at most an empty
        /// savepoint, which the group's commit ends harmlessly), nor once it has committed.
        undo_on_drop: bool,
    },
}

const SAVEPOINT: &str = "SAVEPOINT write_turn";
/// Undoes the newest writer's savepoint, and only it: those of the writers before it, which
/// committed, stay open (see `commit`).
const UNDO: &str = "ROLLBACK TO write_turn; RELEASE write_turn";

/// Begins a write transaction on `pool`; with `turn`, as a member of the open group (or of a
/// new one).
pub(crate) async fn begin(pool: &AnyPool, turn: Option<&Turn>) -> Result<WriteTransaction, sqlx::Error> {
    let Some(turn) = turn else {
        return Ok(WriteTransaction::Own(Some(pool.begin().await?)));
    };
    let held = turn.group.clone().lock_owned().await;
    // From here a cancelled or failed start still queues a flush (on drop) for the group.
    let mut writer = WriteTransaction::Grouped { turn: turn.clone(), held, undo_on_drop: false };
    let WriteTransaction::Grouped { held, undo_on_drop, .. } = &mut writer else { unreachable!() };
    settle(held).await;
    if held.is_none() {
        **held = Some(Group::begin(pool).await?);
    }
    let group = held.as_mut().expect("a group is open");
    if let Err(error) = group.connection.execute(SAVEPOINT).await {
        fail_group(held, &error.to_string()).await;
        return Err(error);
    }
    *undo_on_drop = true;
    Ok(writer)
}

/// Undoes what an abandoned writer left in the open group; if that fails, the whole group is
/// rolled back and its waiting writers told.
async fn settle(held: &mut Option<Group>) {
    let Some(group) = held.as_mut().filter(|g| g.abandoned) else { return };
    group.abandoned = false;
    if let Err(error) = group.connection.execute(UNDO).await {
        fail_group(held, &format!("could not undo an abandoned write: {error}")).await;
    }
}

/// Rolls the open group back and tells its waiting writers why.
async fn fail_group(held: &mut Option<Group>, why: &str) {
    if let Some(group) = held.take() {
        group.end("ROLLBACK", Some(why)).await;
    }
}

/// Commits the open group, if any, and tells its writers.
pub(crate) async fn flush(turn: Turn) {
    let mut held = turn.group.clone().lock_owned().await;
    settle(&mut held).await;
    if let Some(group) = held.take()
        && group.end("COMMIT", None).await
    {
        turn.committed().await;
    }
}

/// Queues a flush behind the writers already waiting for the turn, unless one is queued and
/// still to run. (Outside a runtime, at shutdown, nothing is queued: the group's connection
/// is closed with the pool, which rolls it back, and nobody is left waiting for it.)
fn queue_flush(turn: &Turn, group: &mut Group) {
    if group.flush.as_ref().is_some_and(|f| !f.is_finished()) {
        return;
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        group.flush = Some(runtime.spawn(flush(turn.clone())));
    }
}

impl WriteTransaction {
    /// Whether this is a SQLite transaction: there, statements joined with `;` in one query
    /// (their `$n` numbered across the whole text) run in one call to the connection's thread.
    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self, WriteTransaction::Grouped { .. })
    }

    /// Makes the writes durable: on SQLite, once the group they joined is committed.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let (turn, held, undo_on_drop) = match &mut self {
            WriteTransaction::Own(transaction) => return take(transaction).commit().await,
            WriteTransaction::Grouped { turn, held, undo_on_drop } => (turn, held, undo_on_drop),
        };
        // The savepoint stays open until the group commits: the next writers' savepoints nest
        // inside it, and undoing one of them (`UNDO`, to the newest `write_turn`) leaves it be.
        // Not releasing it saves a call to the connection's thread per writer.
        let group = held.as_mut().expect("a group is open");
        *undo_on_drop = false;
        let (told, outcome) = oneshot::channel();
        group.waiting.push(told);
        queue_flush(turn, group);
        // Hands the turn on; the flush commits after the writers queued before it.
        drop(self);
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(sqlx::Error::Protocol(format!("the commit failed: {why}"))),
            Err(_) => Err(sqlx::Error::Protocol("the commit was abandoned".into())),
        }
    }

    /// Undoes the writes (on SQLite, before the next writer's turn begins).
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        match &mut self {
            WriteTransaction::Own(transaction) => take(transaction).rollback().await,
            WriteTransaction::Grouped { .. } => Ok(()),
        }
    }
}

fn take(transaction: &mut Option<Transaction<'static, Any>>) -> Transaction<'static, Any> {
    transaction.take().expect("a transaction ends once")
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        if let WriteTransaction::Grouped { turn, held, undo_on_drop } = self
            && let Some(group) = held.as_mut()
        {
            group.abandoned |= *undo_on_drop;
            queue_flush(turn, group);
        }
    }
}

impl Deref for WriteTransaction {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTransaction::Own(transaction) => transaction.as_ref().expect("open until it ends"),
            WriteTransaction::Grouped { held, .. } => &held.as_ref().expect("a group is open").connection,
        }
    }
}

impl DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTransaction::Own(transaction) => transaction.as_mut().expect("open until it ends"),
            WriteTransaction::Grouped { held, .. } => &mut held.as_mut().expect("a group is open").connection,
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::any::AnyPoolOptions;

    use super::*;

    async fn database(name: &str) -> (AnyPool, std::path::PathBuf) {
        sqlx::any::install_default_drivers();
        let path = std::env::temp_dir().join(format!("sb-write-turn-{}-{name}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;",
                    )
                    .await
                    .map(drop)
                })
            })
            .connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        pool.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, filler TEXT)").await.unwrap();
        (pool, path)
    }

    async fn rows(pool: &AnyPool) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM t ORDER BY n").fetch_all(pool).await.unwrap()
    }

    async fn insert(tx: &mut WriteTransaction, n: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut **tx).await.map(drop)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_in_one_group_keep_exactly_what_each_committed() {
        let (pool, path) = database("group").await;
        let turn = Turn::new(pool.clone());
        let mut writers = tokio::task::JoinSet::new();
        for n in 0..90_i64 {
            let (pool, turn) = (pool.clone(), turn.clone());
            writers.spawn(async move {
                let mut tx = begin(&pool, Some(&turn)).await.unwrap();
                insert(&mut tx, n).await.unwrap();
                match n % 3 {
                    0 => tx.commit().await.unwrap(),
                    1 => tx.rollback().await.unwrap(),
                    // Gives up: an early return drops the transaction.
                    _ => drop(tx),
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done.unwrap();
        }
        // A writer whose request is cancelled while it holds the turn.
        let (started, running) = oneshot::channel();
        let cancelled = {
            let (pool, turn) = (pool.clone(), turn.clone());
            tokio::spawn(async move {
                let mut tx = begin(&pool, Some(&turn)).await.unwrap();
                insert(&mut tx, 1000).await.unwrap();
                let _ = started.send(());
                std::future::pending::<()>().await;
            })
        };
        running.await.unwrap();
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        let mut tx = begin(&pool, Some(&turn)).await.unwrap();
        insert(&mut tx, 2000).await.unwrap();
        // A failed statement leaves the writer's own earlier work to its choice, others' alone.
        assert!(insert(&mut tx, 2000).await.is_err(), "a duplicate key is refused");
        tx.commit().await.unwrap();

        let mut expected: Vec<i64> = (0..90).filter(|n| n % 3 == 0).collect();
        expected.push(2000);
        assert_eq!(rows(&pool).await, expected);
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    /// With SQLite's own checkpoints off, the turn's keep the log from growing: 600 commits
    /// of 8 KiB each would make it about 7 MiB, but it starts over after each catch-up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_keep_the_log_short() {
        let (pool, path) = database("checkpoints").await;
        let turn = Turn::new(pool.clone());
        for n in 0..600_i64 {
            let mut tx = begin(&pool, Some(&turn)).await.unwrap();
            sqlx::query("INSERT INTO t (n, filler) VALUES ($1, $2)")
                .bind(n)
                .bind("x".repeat(8192))
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let log = std::fs::metadata(format!("{}-wal", path.display())).unwrap().len();
        assert!(log < 2 << 20, "the log is {log} bytes long");
        assert_eq!(rows(&pool).await.len(), 600);
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
