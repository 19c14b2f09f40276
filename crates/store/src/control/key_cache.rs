//! API keys remembered between requests, on SQLite, while the control database is unchanged:
//! the active key of a secret's hash (every Keen request), and a workspace's keys (a Keen
//! scoped key is opened with one of its master keys). A request then authenticates without a
//! round trip to the database.
//!
//! The admin CLI writes the control database from another process, and a key it revokes must
//! be refused on the server's next request. So the folder holding `control.db` is watched with
//! inotify, and every request first reads the watch's events without waiting: the kernel
//! queues an event within the `write` of any commit (SQLite in WAL mode appends each commit
//! to `control.db-wal`), so a commit that returned before the request began is always seen,
//! and any change to the database's files forgets every remembered key. Keys looked up
//! across a change are not remembered (`generation`), and neither is a hash that no active
//! key has. Where inotify is not available, nothing is remembered. A writer on another machine
//! (a network filesystem) would not be seen, but SQLite's WAL mode does not support one either.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rustix::fd::OwnedFd;
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use sb_types::WorkspaceId;

use super::keys::ApiKeyRecord;

/// The lookups remembered at most; past it, all are forgotten and made again.
const MAX_LOOKUPS: usize = 4096;

/// The file names of the control database: the database, its WAL, its shared memory index
/// and a rollback journal.
const CONTROL_FILES: &[u8] = b"control.db";

pub(crate) struct KeyCache(Mutex<State>);

struct State {
    watch: OwnedFd,
    /// False once the watch can no longer tell changes (its folder went away): nothing is
    /// remembered from then on.
    watching: bool,
    /// Counts the changes seen: a key read from the database is remembered only if none came
    /// between the lookup that missed and its reading.
    generation: u64,
    lookups: HashMap<Subject, Vec<ApiKeyRecord>>,
}

/// What keys are looked up by.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    /// The active key whose secret hashes to this (one key, or none).
    Hash(String),
    /// The workspace's keys, revoked ones included.
    Workspace(WorkspaceId),
}

/// What `KeyCache::get` found.
pub(crate) enum Lookup {
    Remembered(Vec<ApiKeyRecord>),
    /// Not remembered: read them from the database, then `remember` them with this
    /// generation.
    Missing(u64),
}

impl KeyCache {
    /// Watches `folder`, which holds `control.db`; None where it cannot be watched.
    pub(crate) fn watching(folder: &Path) -> Option<KeyCache> {
        let watch = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).ok()?;
        let changes = WatchFlags::MODIFY
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF;
        inotify::add_watch(&watch, folder, changes).ok()?;
        let state = State { watch, watching: true, generation: 0, lookups: HashMap::new() };
        Some(KeyCache(Mutex::new(state)))
    }

    /// The keys of `subject`, if remembered and the control database has not changed since.
    pub(crate) fn get(&self, subject: &Subject) -> Lookup {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.catch_up();
        match state.lookups.get(subject) {
            Some(records) => Lookup::Remembered(records.clone()),
            None => Lookup::Missing(state.generation),
        }
    }

    /// Remembers the keys of `subject`, read from the database after `get` gave
    /// `generation`, unless the control database changed in between.
    pub(crate) fn remember(&self, subject: &Subject, records: &[ApiKeyRecord], generation: u64) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.catch_up();
        if !state.watching || state.generation != generation {
            return;
        }
        if state.lookups.len() >= MAX_LOOKUPS {
            state.lookups.clear();
        }
        state.lookups.insert(subject.clone(), records.to_vec());
    }
}

impl State {
    /// Reads the events queued so far; any change to the control database's files (or a
    /// lost event) forgets every key.
    fn catch_up(&mut self) {
        let mut buffer = [MaybeUninit::<u8>::uninit(); 4096];
        let mut events = inotify::Reader::new(&self.watch, &mut buffer);
        let mut changed = false;
        loop {
            match events.next() {
                Ok(event) => {
                    let flags = event.events();
                    if flags.intersects(ReadFlags::IGNORED | ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF) {
                        self.watching = false;
                    }
                    let named =
                        event.file_name().is_some_and(|name| name.to_bytes().starts_with(CONTROL_FILES));
                    changed |= named || flags.contains(ReadFlags::QUEUE_OVERFLOW);
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(_) => {
                    self.watching = false;
                    break;
                }
            }
        }
        if changed || !self.watching {
            self.generation += 1;
            self.lookups.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use sb_config::Database;
    use sb_types::{KeyKind, WorkspaceName};

    use super::*;
    use crate::{NewApiKey, Store};

    fn new_key(workspace: WorkspaceId, hash: &str) -> NewApiKey {
        NewApiKey {
            workspace,
            kind: KeyKind::Read,
            name: "dashboards".into(),
            secret_hash: hash.into(),
            prefix: "ABCD1234".into(),
            sealed_secret: None,
            created_by: "cli".into(),
        }
    }

    /// A key found is remembered; any commit to the control database, from another connection
    /// as from the CLI's process, forgets it; a key read across such a commit is not
    /// remembered; a folder that went away stops the remembering.
    #[tokio::test]
    async fn keys_are_remembered_only_while_the_control_database_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (server, cli) = (
            Store::open(dir.path(), &Database::Sqlite).await.unwrap(),
            Store::open(dir.path(), &Database::Sqlite).await.unwrap(),
        );
        let keys = server.keys.as_ref().expect("SQLite on Linux remembers keys");
        let h1 = Subject::Hash("h1".into());
        let acme = cli.create_workspace(&WorkspaceName::parse("Acme").unwrap(), None).await.unwrap();
        let key = cli.insert_api_key(new_key(acme.id, "h1")).await.unwrap();
        assert!(matches!(keys.get(&h1), Lookup::Missing(_)));
        assert_eq!(server.active_api_key_by_hash("h1").await.unwrap(), Some(key.clone()));
        assert!(matches!(keys.get(&h1), Lookup::Remembered(found) if found == [key.clone()]));

        cli.insert_api_key(new_key(acme.id, "h2")).await.unwrap();
        let Lookup::Missing(before) = keys.get(&h1) else { panic!("a commit forgets every key") };
        cli.insert_api_key(new_key(acme.id, "h3")).await.unwrap();
        keys.remember(&h1, std::slice::from_ref(&key), before);
        assert!(matches!(keys.get(&h1), Lookup::Missing(_)), "read across a commit: not remembered");
        assert_eq!(server.active_api_key_by_hash("h1").await.unwrap(), Some(key.clone()));
        assert!(matches!(keys.get(&h1), Lookup::Remembered(_)));

        let moved = tempfile::tempdir().unwrap();
        std::fs::rename(dir.path(), moved.path().join("elsewhere")).unwrap();
        let Lookup::Missing(now) = keys.get(&h1) else { panic!("the folder moved: nothing remembered") };
        keys.remember(&h1, std::slice::from_ref(&key), now);
        assert!(matches!(keys.get(&h1), Lookup::Missing(_)), "nor remembered again");
    }
}
