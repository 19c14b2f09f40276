//! `EventStore`: one workspace's events.
//!
//! Writes go through a single writer thread that groups concurrent requests into one log
//! append and one fsync (group commit) and answers each only after that fsync; the events
//! then join the in-memory tail, so an acknowledged event is visible at once. In the
//! background the compactor (`compaction.rs`) moves the tail into Parquet parts and merges
//! small parts; queries read the parts and the tail, and see every event exactly once.
//!
//! Folder layout: `LOCK` (held while the store is open), `manifest.json` (see
//! `manifest.rs`), `wal-<generation>.log` (the write-ahead log, a new generation per
//! compaction) and `parts/<number>.parquet`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::collection::CollectionName;
use crate::event::PreparedEvent;
use crate::manifest::{Manifest, PartEntry};
use crate::part::PartFile;
use crate::query::engine::PartialCache;
use crate::query::timeframe::TimeRange;
use crate::timestamp::parse_keen_timestamp;
use crate::wal::Wal;
use crate::{EventStoreError, compaction, schema};
use open::{adopt_single_file_log, load_parts, remove_leftovers};
pub(crate) use writer::Message;
use writer::{Job, write_loop};

/// How long a `keen.uniqueness_token` keeps later events with the same token out: 31 days.
pub const UNIQUENESS_WINDOW_MS: i64 = 31 * 24 * 3600 * 1000;
/// The most JSON text one request may store: keeps every log frame well below the size that
/// replay accepts.
pub const MAX_REQUEST_BYTES: usize = crate::wal::MAX_FRAME / 2;
pub(crate) const PARTS: &str = "parts";
/// Writes wait while the tail holds more than this many times `tail_bytes` (compaction has
/// fallen behind), and at least this many bytes…
const BACKLOG_FACTOR: usize = 4;
const BACKLOG_FLOOR: usize = 256 * 1024 * 1024;
/// …for at most this long, then answer 503 (Keen clients retry it).
const BACKLOG_WAIT: Duration = Duration::from_secs(10);

/// When the tail is compacted into parts.
#[derive(Debug, Clone, Copy)]
pub struct EventStoreOptions {
    /// Compact once the tail holds this much event JSON (bytes).
    pub tail_bytes: usize,
    /// Compact a tail that holds any event at least this often.
    pub tail_age: Duration,
}

impl Default for EventStoreOptions {
    fn default() -> EventStoreOptions {
        EventStoreOptions { tail_bytes: 64 * 1024 * 1024, tail_age: Duration::from_secs(600) }
    }
}

/// An event as stored: its time for range scans, and its JSON text (parsed only when a query
/// needs its properties, which keeps the tail near the size of the log).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub timestamp_ms: i64,
    pub json: Arc<str>,
}

impl StoredEvent {
    /// The event as a JSON value.
    pub fn body(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    pub(crate) fn from_value(timestamp_ms: i64, body: &Value) -> StoredEvent {
        StoredEvent { timestamp_ms, json: serde_json::to_string(body).expect("JSON values serialise").into() }
    }
}

/// A part of a collection: its manifest entry and its open file.
pub(crate) struct Part {
    pub entry: PartEntry,
    pub file: PartFile,
}

impl Part {
    fn overlaps(&self, range: Option<TimeRange>) -> bool {
        range.is_none_or(|r| self.entry.info.min_ts < r.end_ms && self.entry.info.max_ts >= r.start_ms)
    }
}

#[derive(Default)]
pub(crate) struct Collection {
    pub parts: Vec<Arc<Part>>,
    /// The tail: events in the log and in no part, in the order they were stored.
    pub events: Vec<StoredEvent>,
    /// `events[..sealed]` are in log generations before the current one, being compacted.
    pub sealed: usize,
    /// JSON bytes in `events`.
    pub tail_bytes: usize,
    /// Raised by every change to `parts` or `events`: answers cached under a version are exact
    /// for as long as it lasts.
    pub version: u64,
    /// Uniqueness token → when its event was received (Unix ms).
    tokens: HashMap<String, i64>,
    pub schema: BTreeMap<String, &'static str>,
    /// Event shapes already learnt into the schema.
    shapes: HashSet<u64>,
}

impl Collection {
    /// Adds an event; `token` is its uniqueness token and receive time, `shape` its shape hash.
    fn add(&mut self, event: StoredEvent, token: Option<(String, i64)>, shape: u64) {
        if let Some((token, received_ms)) = token {
            self.tokens.insert(token, received_ms);
        }
        if self.shapes.insert(shape) {
            schema::learn(&mut self.schema, &schema::properties(&event.body()));
        }
        self.tail_bytes += event.json.len();
        self.events.push(event);
        self.version += 1;
    }

    /// Adds an event read back from the log.
    fn add_replayed(&mut self, body: &Value) {
        let keen = &body["keen"];
        let timestamp_ms = keen["timestamp"].as_str().and_then(parse_keen_timestamp).unwrap_or_default();
        let token =
            keen["uniqueness_token"].as_str().zip(keen["created_at"].as_str().and_then(parse_keen_timestamp));
        let token = token.map(|(t, at)| (t.to_owned(), at));
        self.add(StoredEvent::from_value(timestamp_ms, body), token, schema::shape(body));
    }

    fn holds_token(&self, token: &str, now_ms: i64) -> bool {
        self.tokens.get(token).is_some_and(|at| now_ms - at < UNIQUENESS_WINDOW_MS)
    }

    /// Drops the sealed events, now in parts, and the uniqueness tokens past their window;
    /// returns the JSON bytes dropped.
    pub(crate) fn drop_sealed(&mut self, now_ms: i64) -> usize {
        let gone: usize = self.events[..self.sealed].iter().map(|e| e.json.len()).sum();
        self.events.drain(..self.sealed);
        self.version += 1;
        self.tail_bytes -= gone;
        self.sealed = 0;
        self.tokens.retain(|_, at| now_ms.saturating_sub(*at) < UNIQUENESS_WINDOW_MS);
        gone
    }

    fn count(&self) -> usize {
        self.events.len() + self.parts.iter().map(|p| p.entry.info.rows as usize).sum::<usize>()
    }
}

/// Everything queries and the compactor share.
pub(crate) struct State {
    pub collections: BTreeMap<CollectionName, Collection>,
    /// The manifest as last stored.
    pub manifest: Manifest,
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: EventStoreOptions,
    pub state: RwLock<State>,
    /// JSON bytes in every collection's tail, for the backlog limit on writes.
    pub tail_bytes: AtomicUsize,
}

impl Shared {
    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Per-request outcome of a write: for each collection in the request, for each event,
/// `true` if stored, `false` if dropped as a duplicate of a uniqueness token.
pub type Stored = Vec<Vec<bool>>;

/// The log file of a generation.
pub(crate) fn wal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("wal-{generation:010}.log"))
}

/// The generations of the log files in `dir`, in order.
pub(crate) fn wal_generations(dir: &Path) -> io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let number = name.strip_prefix("wal-").and_then(|n| n.strip_suffix(".log"));
        if let Some(Ok(generation)) = number.map(str::parse) {
            found.push(generation);
        }
    }
    found.sort_unstable();
    Ok(found)
}

fn unavailable(what: &str) -> impl Fn(io::Error) -> EventStoreError + '_ {
    move |e| EventStoreError::Unavailable(format!("{what}: {e}"))
}

/// One workspace's event store. Cheap to share behind an `Arc`.
pub struct EventStore {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<Message>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    compactor: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    /// Held while open: a second process must not compact or write the same folder.
    lock: Mutex<Option<File>>,
    /// Partial aggregates of queries, per part.
    partials: Mutex<PartialCache>,
}

impl EventStore {
    /// Opens the store in `dir` (created if missing): reads the manifest and opens its parts,
    /// removes leftovers of an interrupted compaction, and replays the log. Blocking: call it
    /// off the async reactor.
    pub fn open(dir: &Path, options: EventStoreOptions) -> Result<EventStore, EventStoreError> {
        std::fs::create_dir_all(dir.join(PARTS)).map_err(unavailable("cannot create the event folder"))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))
            .map_err(unavailable("cannot open the event store's lock"))?;
        lock.try_lock().map_err(|_| {
            EventStoreError::Unavailable("the event store is in use by another process".into())
        })?;
        adopt_single_file_log(dir).map_err(unavailable("cannot rename the event log"))?;
        let manifest = Manifest::load(dir).map_err(unavailable("cannot read the event manifest"))?;
        // Parts without a manifest are either a first compaction cut short (the log's first
        // generation is still there: the parts are leftovers, removed below) or a lost manifest
        // (the log has moved on, so the parts hold events found nowhere else).
        let first_compaction_cut_short = wal_generations(dir)
            .map_err(unavailable("cannot list the event log"))?
            .contains(&Manifest::default().wal_start);
        if manifest == Manifest::default()
            && !first_compaction_cut_short
            && std::fs::read_dir(dir.join(PARTS)).is_ok_and(|mut d| d.next().is_some())
        {
            return Err(EventStoreError::Unavailable(format!(
                "{} holds event parts but no manifest.json: restore the manifest (a backup of the folder) \
                 rather than start without those events",
                dir.display()
            )));
        }
        // The manifest read may have been renamed into place just before a crash: make it
        // durable before deleting what it no longer names.
        crate::manifest::sync_dir(dir).map_err(unavailable("cannot sync the event folder"))?;
        remove_leftovers(dir, &manifest).map_err(unavailable("cannot tidy the event folder"))?;
        let mut collections = load_parts(dir, &manifest)?;
        let mut generations: Vec<u64> = wal_generations(dir)
            .map_err(unavailable("cannot list the event log"))?
            .into_iter()
            .filter(|g| *g >= manifest.wal_start)
            .collect();
        if generations.is_empty() {
            generations.push(manifest.wal_start);
        }
        let mut current = None;
        for generation in &generations {
            let (wal, replay) =
                Wal::open(&wal_path(dir, *generation)).map_err(unavailable("cannot open the event log"))?;
            tracing::info!(dir = %dir.display(), generation, frames = replay.frames.len(), cut_bytes = replay.cut_bytes, "event log replayed");
            for frame in replay.frames {
                for (name, events) in frame {
                    let Ok(name) = CollectionName::parse(&name) else {
                        tracing::warn!(collection = %name, "skipped a collection the log holds under an invalid name");
                        continue;
                    };
                    let collection = collections.entry(name).or_default();
                    for body in events.as_array().into_iter().flatten() {
                        collection.add_replayed(body);
                    }
                }
            }
            current = Some((wal, *generation));
        }
        let (wal, generation) = current.expect("at least one generation");
        let tail_bytes = collections.values().map(|c| c.tail_bytes).sum();
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            options,
            state: RwLock::new(State { collections, manifest }),
            tail_bytes: AtomicUsize::new(tail_bytes),
        });
        let (sender, receiver) = mpsc::channel();
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || write_loop(wal, generation, receiver, &writer_shared))
            .map_err(unavailable("cannot start the event writer"))?;
        let (stop, stopped) = mpsc::channel();
        let compactor_shared = shared.clone();
        let rotate = sender.clone();
        let compactor = std::thread::Builder::new()
            .name("event-compactor".into())
            .spawn(move || compaction::run(&compactor_shared, &rotate, &stopped))
            .map_err(unavailable("cannot start the event compactor"))?;
        Ok(EventStore {
            shared,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            compactor: Mutex::new(Some((stop, compactor))),
            lock: Mutex::new(Some(lock)),
            partials: Mutex::default(),
        })
    }

    /// Stores prepared events durably; answers after the fsync that covers them.
    pub async fn write(
        &self,
        batch: Vec<(CollectionName, Vec<PreparedEvent>)>,
        now_ms: i64,
    ) -> Result<Stored, EventStoreError> {
        let backlog = self.shared.options.tail_bytes.saturating_mul(BACKLOG_FACTOR).max(BACKLOG_FLOOR);
        let waited = std::time::Instant::now();
        while self.shared.tail_bytes.load(Ordering::Relaxed) > backlog {
            if waited.elapsed() > BACKLOG_WAIT {
                return Err(EventStoreError::Unavailable(
                    "the event store is behind compacting its backlog; retry shortly".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let sender =
            sender.ok_or_else(|| EventStoreError::Unavailable("the event store is closed".into()))?;
        sender
            .send(Message::Write(Job { batch, now_ms, reply }))
            .map_err(|_| EventStoreError::Unavailable("the event writer stopped".into()))?;
        answer.await.map_err(|_| EventStoreError::Unavailable("the event writer stopped".into()))?
    }

    /// The collections with their event counts, by name.
    pub fn collections(&self) -> Vec<(CollectionName, usize)> {
        self.shared.read().collections.iter().map(|(name, c)| (name.clone(), c.count())).collect()
    }

    /// A collection's schema (dot path → Keen type name), if it has events.
    pub fn schema(&self, collection: &CollectionName) -> Option<BTreeMap<String, &'static str>> {
        self.shared.read().collections.get(collection).map(|c| c.schema.clone())
    }

    /// The parts of `collection` that may hold events in `range`, and its tail events in
    /// `range` (in the order stored), both taken at one instant so every event is seen exactly
    /// once. Only cheap clones happen under the lock, so queries never hold up writes.
    fn snapshot(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
    ) -> Option<(Vec<Arc<Part>>, Vec<StoredEvent>)> {
        self.versioned_snapshot(collection, range).map(|(parts, tail, _)| (parts, tail))
    }

    /// `snapshot`, with the collection's version at that instant.
    fn versioned_snapshot(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
    ) -> Option<(Vec<Arc<Part>>, Vec<StoredEvent>, u64)> {
        let state = self.shared.read();
        let collection = state.collections.get(collection)?;
        let parts = collection.parts.iter().filter(|p| p.overlaps(range)).cloned().collect();
        let tail = collection
            .events
            .iter()
            .filter(|e| range.is_none_or(|r| r.contains(e.timestamp_ms)))
            .cloned()
            .collect();
        Some((parts, tail, collection.version))
    }

    /// All of a collection's parts and its tail, at one instant (for SQL tables).
    pub(crate) fn table_snapshot(
        &self,
        collection: &CollectionName,
    ) -> Option<(Vec<Arc<Part>>, Vec<StoredEvent>)> {
        self.snapshot(collection, None)
    }

    /// The `limit` newest events of a collection (by `keen.timestamp`; among equal times, the
    /// tail's latest stored first), newest first.
    pub fn latest(
        &self,
        collection: &CollectionName,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, EventStoreError> {
        let Some((mut parts, tail)) = self.snapshot(collection, None) else { return Ok(Vec::new()) };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut newest: Vec<StoredEvent> = tail.into_iter().rev().collect();
        newest.sort_by_key(|e| std::cmp::Reverse(e.timestamp_ms));
        newest.truncate(limit);
        parts.sort_by_key(|p| std::cmp::Reverse(p.entry.info.max_ts));
        for part in parts {
            let beaten = newest.len() >= limit
                && newest.last().is_some_and(|oldest| oldest.timestamp_ms > part.entry.info.max_ts);
            if beaten {
                break;
            }
            let events = part.file.latest(limit).map_err(unreadable)?;
            newest.extend(events.iter().map(|(ts, body)| StoredEvent::from_value(*ts, body)));
            newest.sort_by_key(|e| std::cmp::Reverse(e.timestamp_ms));
            newest.truncate(limit);
        }
        Ok(newest)
    }

    /// All of a collection's events: the parts' in timestamp order, then the tail's in the
    /// order they were stored. Loads them all: for tests and small collections.
    pub fn events(&self, collection: &CollectionName) -> Result<Vec<StoredEvent>, EventStoreError> {
        let Some((parts, tail)) = self.snapshot(collection, None) else {
            return Ok(Vec::new());
        };
        let mut all = Vec::new();
        for part in parts {
            for event in part.file.events(None).map_err(unreadable)? {
                let (ts, body) = event.map_err(unreadable)?;
                all.push(StoredEvent::from_value(ts, &body));
            }
        }
        all.extend(tail);
        Ok(all)
    }

    /// Per collection: (parts, events in parts, events in the tail, bytes of parts).
    pub fn storage(&self) -> Vec<(CollectionName, usize, u64, usize, u64)> {
        let state = self.shared.read();
        state
            .collections
            .iter()
            .map(|(name, c)| {
                let rows = c.parts.iter().map(|p| p.entry.info.rows).sum();
                let bytes = c.parts.iter().map(|p| p.entry.info.bytes).sum();
                (name.clone(), c.parts.len(), rows, c.events.len(), bytes)
            })
            .collect()
    }

    /// Stops the compactor (after the compaction in progress) and the writer (after the
    /// requests already queued), and lets another process open the folder; later writes
    /// fail.
    pub fn close(&self) {
        let compactor = self.compactor.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some((stop, compactor)) = compactor {
            drop(stop);
            let _ = compactor.join();
        }
        self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }
}

impl Drop for EventStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn unreadable(error: io::Error) -> EventStoreError {
    EventStoreError::Unavailable(format!("cannot read an event part: {error}"))
}

mod open;
mod queries;
#[cfg(test)]
mod tests;
mod writer;
