//! `EventStore`: one workspace's events. Writes go through a single writer thread that groups
//! concurrent requests into one log append and one fsync (group commit) and answers each only
//! after that fsync; the events then join the in-memory tail that queries scan, so an
//! acknowledged event is visible at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::collection::CollectionName;
use crate::event::PreparedEvent;
use crate::query::filter::Filter;
use crate::query::timeframe::TimeRange;
use crate::timestamp::parse_keen_timestamp;
use crate::wal::Wal;
use crate::{EventStoreError, schema};

/// How long a `keen.uniqueness_token` keeps later events with the same token out: 31 days.
pub const UNIQUENESS_WINDOW_MS: i64 = 31 * 24 * 3600 * 1000;
/// Most requests folded into one group commit.
const MAX_GROUP: usize = 1024;
/// The most JSON text one request may store: keeps every log frame well below the size that
/// replay accepts.
pub const MAX_REQUEST_BYTES: usize = crate::wal::MAX_FRAME / 2;

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
}

#[derive(Default)]
struct Collection {
    events: Vec<StoredEvent>,
    /// Uniqueness token → when its event was received (Unix ms).
    tokens: HashMap<String, i64>,
    schema: BTreeMap<String, &'static str>,
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
        self.events.push(event);
    }

    /// Adds an event read back from the log.
    fn add_replayed(&mut self, body: &Value) {
        let keen = &body["keen"];
        let timestamp_ms = keen["timestamp"].as_str().and_then(parse_keen_timestamp).unwrap_or_default();
        let token =
            keen["uniqueness_token"].as_str().zip(keen["created_at"].as_str().and_then(parse_keen_timestamp));
        let json: Arc<str> = serde_json::to_string(body).expect("JSON values serialise").into();
        let token = token.map(|(t, at)| (t.to_owned(), at));
        self.add(StoredEvent { timestamp_ms, json }, token, schema::shape(body));
    }

    fn holds_token(&self, token: &str, now_ms: i64) -> bool {
        self.tokens.get(token).is_some_and(|at| now_ms - at < UNIQUENESS_WINDOW_MS)
    }
}

/// Per-request outcome of a write: for each collection in the request, for each event,
/// `true` if stored, `false` if dropped as a duplicate of a uniqueness token.
pub type Stored = Vec<Vec<bool>>;

struct Job {
    batch: Vec<(CollectionName, Vec<PreparedEvent>)>,
    now_ms: i64,
    reply: oneshot::Sender<Result<Stored, EventStoreError>>,
}

type Tail = Arc<RwLock<BTreeMap<CollectionName, Collection>>>;

/// One workspace's event store. Cheap to share behind an `Arc`.
pub struct EventStore {
    tail: Tail,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl EventStore {
    /// Opens the store in `dir` (created if missing), replaying its log. Blocking: call it
    /// off the async reactor.
    pub fn open(dir: &Path) -> Result<EventStore, EventStoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| EventStoreError::Unavailable(format!("cannot create event folder: {e}")))?;
        let (wal, replay) = Wal::open(&dir.join("events.wal"))
            .map_err(|e| EventStoreError::Unavailable(format!("cannot open the event log: {e}")))?;
        tracing::info!(dir = %dir.display(), frames = replay.frames.len(), cut_bytes = replay.cut_bytes, "event log replayed");
        let mut collections: BTreeMap<CollectionName, Collection> = BTreeMap::new();
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
        let tail: Tail = Arc::new(RwLock::new(collections));
        let (sender, receiver) = mpsc::channel();
        let writer_tail = tail.clone();
        let writer = std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || write_loop(wal, receiver, writer_tail))
            .map_err(|e| EventStoreError::Unavailable(format!("cannot start the event writer: {e}")))?;
        Ok(EventStore { tail, sender: Mutex::new(Some(sender)), writer: Mutex::new(Some(writer)) })
    }

    /// Stores prepared events durably; answers after the fsync that covers them.
    pub async fn write(
        &self,
        batch: Vec<(CollectionName, Vec<PreparedEvent>)>,
        now_ms: i64,
    ) -> Result<Stored, EventStoreError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let sender =
            sender.ok_or_else(|| EventStoreError::Unavailable("the event store is closed".into()))?;
        sender
            .send(Job { batch, now_ms, reply })
            .map_err(|_| EventStoreError::Unavailable("the event writer stopped".into()))?;
        answer.await.map_err(|_| EventStoreError::Unavailable("the event writer stopped".into()))?
    }

    /// The collections with their event counts, by name.
    pub fn collections(&self) -> Vec<(CollectionName, usize)> {
        self.read().iter().map(|(name, c)| (name.clone(), c.events.len())).collect()
    }

    /// A collection's schema (dot path → Keen type name), if it has events.
    pub fn schema(&self, collection: &CollectionName) -> Option<BTreeMap<String, &'static str>> {
        self.read().get(collection).map(|c| c.schema.clone())
    }

    /// How many events of `collection` fall in `range` and pass every filter. CPU-bound:
    /// call it off the async reactor.
    pub fn count(&self, collection: &CollectionName, range: Option<TimeRange>, filters: &[Filter]) -> u64 {
        let tail = self.read();
        let Some(collection) = tail.get(collection) else { return 0 };
        let in_range = |e: &StoredEvent| range.is_none_or(|r| r.contains(e.timestamp_ms));
        let passes = |e: &StoredEvent| {
            filters.is_empty() || {
                let body = e.body();
                filters.iter().all(|f| f.matches(&body))
            }
        };
        collection.events.iter().filter(|e| in_range(e) && passes(e)).count() as u64
    }

    /// The events of `collection` in `range` that pass every filter, parsed, as (timestamp,
    /// event). CPU-bound: call it off the async reactor.
    pub fn matching(
        &self,
        collection: &CollectionName,
        range: Option<TimeRange>,
        filters: &[Filter],
    ) -> Vec<(i64, Value)> {
        let tail = self.read();
        let Some(collection) = tail.get(collection) else { return Vec::new() };
        collection
            .events
            .iter()
            .filter(|e| range.is_none_or(|r| r.contains(e.timestamp_ms)))
            .map(|e| (e.timestamp_ms, e.body()))
            .filter(|(_, body)| filters.iter().all(|f| f.matches(body)))
            .collect()
    }

    /// The `limit` events most recently stored in a collection, newest first.
    pub fn latest(&self, collection: &CollectionName, limit: usize) -> Vec<StoredEvent> {
        self.read()
            .get(collection)
            .map(|c| c.events.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// A collection's events in the order they were stored.
    pub fn events(&self, collection: &CollectionName) -> Vec<StoredEvent> {
        self.read().get(collection).map(|c| c.events.clone()).unwrap_or_default()
    }

    /// Stops the writer after the requests already queued; later writes fail.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<CollectionName, Collection>> {
        self.tail.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for EventStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_loop(mut wal: Wal, receiver: mpsc::Receiver<Job>, tail: Tail) {
    let mut broken = false;
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if broken {
            for job in jobs {
                let message = "the event log could not be repaired after a failed write; restart the server";
                let _ = job.reply.send(Err(EventStoreError::Unavailable(message.into())));
            }
            continue;
        }
        broken = !commit(&mut wal, jobs, &tail);
    }
}

/// One group commit: decide duplicates, append one frame per request, fsync once, then make
/// the events visible and answer every request. Returns false if a failed write could not be
/// cut off the log, after which the log must not be written again.
fn commit(wal: &mut Wal, jobs: Vec<Job>, tail: &Tail) -> bool {
    let mut outcomes: Vec<Stored> = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    {
        let current = tail.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut fresh_tokens: HashSet<(CollectionName, String)> = HashSet::new();
        for job in &jobs {
            let mut stored = Vec::with_capacity(job.batch.len());
            for (name, events) in &job.batch {
                let flags: Vec<bool> = events
                    .iter()
                    .map(|event| {
                        !event.uniqueness_token.as_ref().is_some_and(|token| {
                            current.get(name).is_some_and(|c| c.holds_token(token, job.now_ms))
                                || !fresh_tokens.insert((name.clone(), token.clone()))
                        })
                    })
                    .collect();
                stored.push(flags);
            }
            if let Some(payload) = frame(&job.batch, &stored) {
                payloads.push(payload);
            }
            outcomes.push(stored);
        }
    }
    let before = wal.len();
    if let Err(error) = wal.append(&payloads).and_then(|()| wal.sync()) {
        tracing::error!(%error, "event log write failed; nothing in this group was acknowledged");
        let repaired = match wal.truncate(before) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "could not cut the failed write off the event log; writes stop");
                false
            }
        };
        for job in jobs {
            let _ = job
                .reply
                .send(Err(EventStoreError::Unavailable(format!("cannot write the event log: {error}"))));
        }
        return repaired;
    }
    let mut current = tail.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (job, stored) in jobs.into_iter().zip(outcomes) {
        for ((name, events), flags) in job.batch.into_iter().zip(&stored) {
            let collection = current.entry(name).or_default();
            for (event, kept) in events.into_iter().zip(flags) {
                if *kept {
                    let token = event.uniqueness_token.map(|t| (t, event.received_ms));
                    let stored = StoredEvent { timestamp_ms: event.timestamp_ms, json: event.json };
                    collection.add(stored, token, event.shape);
                }
            }
        }
        let _ = job.reply.send(Ok(stored));
    }
    true
}

/// A request's log frame, `{"collection": [event, …], …}`, built from the events' JSON text
/// without parsing it again; `None` when every event was a duplicate.
fn frame(batch: &[(CollectionName, Vec<PreparedEvent>)], kept: &[Vec<bool>]) -> Option<Vec<u8>> {
    let mut payload =
        Vec::with_capacity(batch.iter().flat_map(|(_, e)| e).map(|e| e.json.len() + 1).sum::<usize>() + 64);
    payload.push(b'{');
    let mut any = false;
    for ((name, events), flags) in batch.iter().zip(kept) {
        let mut kept_events = events.iter().zip(flags).filter(|(_, kept)| **kept).map(|(e, _)| e).peekable();
        if kept_events.peek().is_none() {
            continue;
        }
        if any {
            payload.push(b',');
        }
        any = true;
        payload.extend(serde_json::to_vec(name.as_str()).expect("strings serialise"));
        payload.extend_from_slice(b":[");
        for (i, event) in kept_events.enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            payload.extend_from_slice(event.json.as_bytes());
        }
        payload.push(b']');
    }
    payload.push(b'}');
    any.then_some(payload)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{EventContext, prepare};

    fn event(value: Value) -> PreparedEvent {
        prepare(value, &EventContext::new(String::new(), String::new(), 1_700_000_000_000)).unwrap()
    }

    fn purchases() -> CollectionName {
        CollectionName::parse("purchases").unwrap()
    }

    #[tokio::test]
    async fn writes_are_visible_at_once_and_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path()).unwrap();
        let stored =
            store.write(vec![(purchases(), vec![event(json!({"n": 1})), event(json!({"n": 2}))])], 0).await;
        assert_eq!(stored.unwrap(), vec![vec![true, true]]);
        assert_eq!(store.count(&purchases(), None, &[]), 2);
        store.close();
        let reopened = EventStore::open(dir.path()).unwrap();
        let ns: Vec<_> = reopened.events(&purchases()).iter().map(|e| e.body()["n"].clone()).collect();
        assert_eq!(ns, [json!(1), json!(2)]);
    }

    #[tokio::test]
    async fn concurrent_duplicates_of_a_uniqueness_token_store_one_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EventStore::open(dir.path()).unwrap());
        let writes = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let token = event(json!({"keen": {"uniqueness_token": "t"}}));
                store.write(vec![(purchases(), vec![token])], 1_700_000_000_000).await.unwrap()
            })
        });
        let mut stored = 0;
        for write in writes {
            stored += write.await.unwrap()[0].iter().filter(|kept| **kept).count();
        }
        assert_eq!(stored, 1);
        assert_eq!(store.count(&purchases(), None, &[]), 1);
        let later = 1_700_000_000_000 + UNIQUENESS_WINDOW_MS;
        let again =
            store.write(vec![(purchases(), vec![event(json!({"keen": {"uniqueness_token": "t"}}))])], later);
        assert_eq!(again.await.unwrap(), vec![vec![true]], "a token expires after 31 days");
    }

    #[tokio::test]
    async fn one_group_with_two_requests_for_one_token_stores_one_event() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(&dir.path().join("events.wal")).unwrap();
        let tail: Tail = Arc::default();
        let (jobs, answers): (Vec<Job>, Vec<_>) = (0..2)
            .map(|_| {
                let (reply, answer) = oneshot::channel();
                let batch = vec![(purchases(), vec![event(json!({"keen": {"uniqueness_token": "t"}}))])];
                (Job { batch, now_ms: 0, reply }, answer)
            })
            .unzip();
        assert!(commit(&mut wal, jobs, &tail));
        let mut kept = Vec::new();
        for answer in answers {
            kept.push(answer.await.unwrap().unwrap()[0][0]);
        }
        assert_eq!(kept, [true, false], "the second request in the same group is the duplicate");
        assert_eq!(tail.read().unwrap()[&purchases()].events.len(), 1);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_full_disk_refuses_the_write_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // Writes to /dev/full fail with ENOSPC, exactly as on a full disk.
        std::os::unix::fs::symlink("/dev/full", dir.path().join("events.wal")).unwrap();
        let store = EventStore::open(dir.path()).unwrap();
        let error = store.write(vec![(purchases(), vec![event(json!({"n": 1}))])], 0).await.unwrap_err();
        assert!(error.to_string().contains("cannot write the event log"), "{error}");
        assert_eq!(store.count(&purchases(), None, &[]), 0, "nothing unacknowledged is visible");
    }
}
