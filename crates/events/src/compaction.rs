//! The compactor: a background thread per store that moves the tail into Parquet parts and
//! merges small parts into larger ones.
//!
//! Compaction: the writer starts a new log generation and seals the tail written so far; the
//! sealed events are sorted by `keen.timestamp` and written as parts (synced); a manifest
//! naming the new parts and the new generation as `wal_start` replaces the old one; only then
//! do queries switch from the sealed tail to the parts (one write lock, so each event is seen
//! exactly once), and the compacted log generations are removed. A crash before the manifest
//! switch leaves the old manifest, whose log still holds every sealed event (the new parts
//! are leftovers, removed on open); a crash after it leaves the new one.
//!
//! Merging picks a collection's small parts, streams their events in timestamp order into
//! one part, and switches the manifest the same way; the merged parts' files are removed
//! after the switch (scans that already opened them keep reading them).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::collection::CollectionName;
use crate::manifest::{Manifest, PartEntry, sync_dir};
use crate::part::{PartBuilder, PartFile};
use crate::store::{Message, PARTS, Part, Shared, StoredEvent, wal_generations, wal_path};

/// Most events in one part.
pub(crate) const PART_ROWS: usize = 1_000_000;
/// Most bytes of string values in one part (compaction cuts parts by the events' JSON size,
/// which is larger): far below Arrow's 2 GiB per string array.
const PART_STRING_BYTES: u64 = 512 * 1024 * 1024;
/// Parts with fewer events than this are merged: parts from size-triggered compactions (64 MiB
/// of JSON is about 200,000 events) compress as well as larger ones and are left alone, so a
/// busy store writes each event once; the small parts of quiet stores (time-triggered
/// compactions) are merged.
const SMALL_PART_ROWS: u64 = 128 * 1024;
/// Parts with more string bytes than this are not small, whatever their rows (events of a
/// megabyte each must not be merged over and over).
const SMALL_PART_STRING_BYTES: u64 = PART_STRING_BYTES / 8;
/// How many small parts a collection gathers before they are merged.
const MERGE_AT: usize = 4;
/// How often the compactor looks at the tail.
const TICK: Duration = Duration::from_millis(100);
/// How long the compactor waits after a failed compaction or merge before trying again.
const BACKOFF: Duration = Duration::from_secs(5);

/// The compactor's loop, until `stop` is dropped.
pub(crate) fn run(shared: &Shared, writer: &mpsc::Sender<Message>, stop: &mpsc::Receiver<()>) {
    let mut last_compaction = Instant::now();
    let mut failed_at: Option<Instant> = None;
    let mut first = true;
    loop {
        // The first look is at once: a tail replayed after a crash may be due already.
        let wait = if first { Duration::ZERO } else { TICK };
        first = false;
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if failed_at.is_some_and(|at| at.elapsed() < BACKOFF) {
            continue;
        }
        failed_at = None;
        if compaction_due(shared, last_compaction) {
            match guarded(|| compact(shared, writer)) {
                Ok(()) => last_compaction = Instant::now(),
                Err(error) => {
                    tracing::error!(dir = %shared.dir.display(), %error, "event compaction failed; the log keeps the events");
                    failed_at = Some(Instant::now());
                    continue;
                }
            }
        }
        loop {
            match guarded(|| merge_once(shared)) {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::error!(dir = %shared.dir.display(), %error, "merging event parts failed");
                    failed_at = Some(Instant::now());
                    break;
                }
            }
        }
    }
}

/// Runs a compaction or merge, turning a panic (a bug, or a damaged part the decoder chokes
/// on) into an error, so the compactor keeps running and the failure is logged.
fn guarded<T>(work: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(io::Error::other("the compactor panicked; see the log")))
}

fn compaction_due(shared: &Shared, last: Instant) -> bool {
    let state = shared.read();
    let (bytes, events, sealed) = state
        .collections
        .values()
        .fold((0, 0, 0), |(b, e, s), c| (b + c.tail_bytes, e + c.events.len(), s + c.sealed));
    sealed > 0
        || (events > 0 && (bytes >= shared.options.tail_bytes || last.elapsed() >= shared.options.tail_age))
}

/// Asks the writer for a new log generation; the tail written before it is sealed.
fn rotate(writer: &mpsc::Sender<Message>) -> io::Result<u64> {
    let (reply, answer) = mpsc::channel();
    writer.send(Message::Rotate(reply)).map_err(|_| io::Error::other("the event writer stopped"))?;
    answer.recv().map_err(|_| io::Error::other("the event writer stopped"))?
}

/// Writes `builder` as part number `number` and opens it.
fn write_part(dir: &Path, number: u64, builder: PartBuilder) -> io::Result<Arc<Part>> {
    let file = format!("{number:010}.parquet");
    let path = dir.join(PARTS).join(&file);
    let info = builder.write(&path)?;
    let opened = PartFile::open(&path).inspect_err(|_| {
        let _ = std::fs::remove_file(&path);
    })?;
    Ok(Arc::new(Part { entry: PartEntry { file, info }, file: opened }))
}

/// Moves the sealed tail into parts (see the module documentation).
fn compact(shared: &Shared, writer: &mpsc::Sender<Message>) -> io::Result<()> {
    let generation = rotate(writer)?;
    let (sealed, mut manifest) = {
        let state = shared.read();
        let sealed: Vec<(CollectionName, Vec<StoredEvent>)> = state
            .collections
            .iter()
            .filter(|(_, c)| c.sealed > 0)
            .map(|(name, c)| (name.clone(), c.events[..c.sealed].to_vec()))
            .collect();
        (sealed, state.manifest.clone())
    };
    let mut written: Vec<(CollectionName, Arc<Part>)> = Vec::new();
    let outcome = write_sealed(shared, sealed, &mut manifest, &mut written);
    if let Err(error) = outcome {
        for (_, part) in &written {
            let _ = std::fs::remove_file(shared.dir.join(PARTS).join(&part.entry.file));
        }
        // Part numbers are never reused, even those of parts removed here.
        shared.write().manifest.next_part = manifest.next_part;
        return Err(error);
    }
    manifest.wal_start = generation;
    {
        let state = shared.read();
        for (name, collection) in &state.collections {
            if collection.sealed > 0 {
                let schema = collection.schema.iter().map(|(p, k)| (p.clone(), (*k).to_owned())).collect();
                manifest.collections.entry(name.as_str().to_owned()).or_default().schema = schema;
            }
        }
    }
    if let Err(error) = manifest.store(&shared.dir) {
        // The new manifest may or may not be on disk: keep the parts it may name, and let
        // the next open sort it out; the sealed events stay in the tail and the log.
        shared.write().manifest.next_part = manifest.next_part;
        return Err(error);
    }
    let count = written.len();
    {
        let mut state = shared.write();
        for (name, part) in written {
            let collection = state.collections.entry(name).or_default();
            collection.parts.push(part);
            collection.version += 1;
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let gone: usize = state.collections.values_mut().map(|c| c.drop_sealed(now_ms)).sum();
        shared.tail_bytes.fetch_sub(gone, Ordering::Relaxed);
        state.manifest = manifest;
    }
    for old in wal_generations(&shared.dir)?.into_iter().filter(|g| *g < generation) {
        std::fs::remove_file(wal_path(&shared.dir, old))?;
    }
    tracing::debug!(dir = %shared.dir.display(), parts = count, generation, "compacted the event tail");
    Ok(())
}

fn write_sealed(
    shared: &Shared,
    sealed: Vec<(CollectionName, Vec<StoredEvent>)>,
    manifest: &mut Manifest,
    written: &mut Vec<(CollectionName, Arc<Part>)>,
) -> io::Result<()> {
    for (name, mut events) in sealed {
        events.sort_by_key(|e| e.timestamp_ms);
        let mut rest = events.as_slice();
        while !rest.is_empty() {
            let mut builder = PartBuilder::new();
            let (mut json_bytes, mut taken) = (0, 0);
            for event in rest.iter().take(PART_ROWS) {
                if taken > 0 && json_bytes + event.json.len() as u64 > PART_STRING_BYTES {
                    break;
                }
                json_bytes += event.json.len() as u64;
                builder.push(event.timestamp_ms, &event.body());
                taken += 1;
            }
            rest = &rest[taken..];
            let number = manifest.next_part;
            manifest.next_part += 1;
            let part = write_part(&shared.dir, number, builder)?;
            manifest.collections.entry(name.as_str().to_owned()).or_default().parts.push(part.entry.clone());
            written.push((name.clone(), part));
        }
    }
    sync_dir(&shared.dir.join(PARTS))
}

/// The small parts of one collection worth merging, oldest first.
fn merge_candidates(shared: &Shared) -> Option<(CollectionName, Vec<Arc<Part>>)> {
    let state = shared.read();
    state.collections.iter().find_map(|(name, collection)| {
        let small_part = |p: &&Arc<Part>| {
            p.entry.info.rows < SMALL_PART_ROWS && p.entry.info.string_bytes < SMALL_PART_STRING_BYTES
        };
        let mut small: Vec<Arc<Part>> = collection.parts.iter().filter(small_part).cloned().collect();
        if small.len() < MERGE_AT {
            return None;
        }
        small.sort_by_key(|p| p.entry.info.min_ts);
        let (mut rows, mut strings) = (0, 0);
        let chosen: Vec<Arc<Part>> = small
            .into_iter()
            .take_while(|p| {
                rows += p.entry.info.rows;
                strings += p.entry.info.string_bytes;
                rows <= PART_ROWS as u64 && strings <= PART_STRING_BYTES
            })
            .collect();
        (chosen.len() >= 2).then(|| (name.clone(), chosen))
    })
}

/// Merges one collection's small parts; false when none needed merging.
fn merge_once(shared: &Shared) -> io::Result<bool> {
    let Some((name, inputs)) = merge_candidates(shared) else { return Ok(false) };
    let number = {
        let mut state = shared.write();
        state.manifest.next_part += 1;
        state.manifest.next_part - 1
    };
    let mut builder = PartBuilder::new();
    let mut streams = inputs.iter().map(|p| p.file.events(None)).collect::<io::Result<Vec<_>>>()?;
    let mut heads = BinaryHeap::new();
    for (i, stream) in streams.iter_mut().enumerate() {
        if let Some(event) = stream.next() {
            let (ts, body) = event?;
            heads.push(Reverse((ts, i, Ordered(body))));
        }
    }
    while let Some(Reverse((ts, i, Ordered(body)))) = heads.pop() {
        builder.push(ts, &body);
        if let Some(event) = streams[i].next() {
            let (ts, body) = event?;
            heads.push(Reverse((ts, i, Ordered(body))));
        }
    }
    let merged = write_part(&shared.dir, number, builder)?;
    sync_dir(&shared.dir.join(PARTS))?;
    let gone: Vec<&str> = inputs.iter().map(|p| p.entry.file.as_str()).collect();
    let mut manifest = shared.read().manifest.clone();
    let parts = &mut manifest.collections.entry(name.as_str().to_owned()).or_default().parts;
    parts.retain(|p| !gone.contains(&p.file.as_str()));
    parts.push(merged.entry.clone());
    manifest.store(&shared.dir)?;
    {
        let mut state = shared.write();
        let collection = state.collections.entry(name).or_default();
        collection.parts.retain(|p| !gone.contains(&p.entry.file.as_str()));
        collection.parts.push(merged);
        collection.version += 1;
        state.manifest = manifest;
    }
    for file in gone {
        std::fs::remove_file(shared.dir.join(PARTS).join(file))?;
    }
    sync_dir(&shared.dir.join(PARTS))?;
    Ok(true)
}

/// An event in the merge heap: ordered by (timestamp, input) only, never by its body.
struct Ordered(serde_json::Value);

impl PartialEq for Ordered {
    fn eq(&self, _: &Ordered) -> bool {
        true
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Ordered) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, _: &Ordered) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}
