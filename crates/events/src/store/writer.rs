//! The writer thread: concurrent requests grouped into one log append and one fsync (group
//! commit), each answered only after that fsync, their events then added to the tail; and
//! the log's rotation to a new generation when the compactor asks.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Shared, Stored, StoredEvent, wal_path};
use crate::EventStoreError;
use crate::collection::CollectionName;
use crate::event::PreparedEvent;
use crate::wal::Wal;

/// Most requests folded into one group commit.
const MAX_GROUP: usize = 1024;

pub(crate) struct Job {
    pub(super) batch: Vec<(CollectionName, Vec<PreparedEvent>)>,
    pub(super) now_ms: i64,
    pub(super) reply: oneshot::Sender<Result<Stored, EventStoreError>>,
}

/// What the writer thread is asked to do.
pub(crate) enum Message {
    Write(Job),
    /// Start a new log generation and seal the tail written so far; answers the new
    /// generation.
    Rotate(mpsc::Sender<io::Result<u64>>),
}

pub(super) fn write_loop(
    mut wal: Wal,
    mut generation: u64,
    receiver: mpsc::Receiver<Message>,
    shared: &Shared,
) {
    let mut broken = false;
    while let Ok(first) = receiver.recv() {
        let mut jobs = Vec::new();
        let mut rotate = None;
        match first {
            Message::Write(job) => jobs.push(job),
            Message::Rotate(reply) => rotate = Some(reply),
        }
        while rotate.is_none() && jobs.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(Message::Write(job)) => jobs.push(job),
                Ok(Message::Rotate(reply)) => rotate = Some(reply),
                Err(_) => break,
            }
        }
        if broken {
            for job in jobs {
                let message = "the event log could not be repaired after a failed write; restart the server";
                let _ = job.reply.send(Err(EventStoreError::Unavailable(message.into())));
            }
        } else if !jobs.is_empty() {
            broken = !commit(&mut wal, jobs, shared);
        }
        if let Some(reply) = rotate {
            let rotated = if broken {
                Err(io::Error::other("the event log is broken"))
            } else {
                rotate_log(&shared.dir, generation + 1, shared).map(|new| {
                    wal = new;
                    generation += 1;
                    generation
                })
            };
            let _ = reply.send(rotated);
        }
    }
}

/// Opens log generation `generation` and seals the tail written to the earlier ones.
fn rotate_log(dir: &Path, generation: u64, shared: &Shared) -> io::Result<Wal> {
    let (wal, _) = Wal::open(&wal_path(dir, generation))?;
    for collection in shared.write().collections.values_mut() {
        collection.sealed = collection.events.len();
    }
    Ok(wal)
}

/// One group commit: decide duplicates, append one frame per request, fsync once, then make
/// the events visible and answer every request. Returns false if a failed write could not be
/// cut off the log, after which the log must not be written again.
pub(super) fn commit(wal: &mut Wal, jobs: Vec<Job>, shared: &Shared) -> bool {
    let mut outcomes: Vec<Stored> = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    {
        let state = shared.read();
        let current = &state.collections;
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
    let mut state = shared.write();
    let current = &mut state.collections;
    for (job, stored) in jobs.into_iter().zip(outcomes) {
        for ((name, events), flags) in job.batch.into_iter().zip(&stored) {
            let collection = current.entry(name).or_default();
            for (event, kept) in events.into_iter().zip(flags) {
                if *kept {
                    let token = event.uniqueness_token.map(|t| (t, event.received_ms));
                    let stored = StoredEvent { timestamp_ms: event.timestamp_ms, json: event.json };
                    shared.tail_bytes.fetch_add(stored.json.len(), Ordering::Relaxed);
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
