//! Events: recording Keen-style events into the workspace's event store and asking it
//! questions. Event stores are opened on first use and kept open.

use std::collections::BTreeMap;
use std::sync::Arc;

use sb_events::{CollectionName, EventContext, EventStore, PreparedEvent, Rejection};
use sb_types::WorkspaceId;
use serde_json::Value;

use crate::{Access, CoreError, Permission, Switchboard};

/// For each collection of a request, in request order: each event's outcome.
pub type BatchOutcome = Vec<(String, Vec<Result<(), Rejection>>)>;

/// Checks every event of a request: the outcomes in request order, and the accepted events
/// grouped by collection.
fn prepare_batch(
    batch: Vec<(String, Vec<Value>)>,
    context: &EventContext,
) -> (BatchOutcome, Vec<(CollectionName, Vec<PreparedEvent>)>) {
    let mut outcome: BatchOutcome = Vec::with_capacity(batch.len());
    let mut accepted = Vec::new();
    for (name, events) in batch {
        let results: Vec<Result<(), Rejection>> = match CollectionName::parse(&name) {
            Err(description) => {
                let rejection = Rejection { name: "InvalidCollectionNameError", description };
                events.iter().map(|_| Err(rejection.clone())).collect()
            }
            Ok(collection) => {
                let mut good = Vec::new();
                let results = events
                    .into_iter()
                    .map(|raw| sb_events::prepare(raw, context).map(|e| good.push(e)))
                    .collect();
                if !good.is_empty() {
                    accepted.push((collection, good));
                }
                results
            }
        };
        outcome.push((name, results));
    }
    (outcome, accepted)
}

impl Switchboard {
    /// The workspace's event store, opened once: concurrent first requests wait for the one
    /// opening, so two replays never run on one log.
    pub(crate) async fn event_store(&self, workspace: WorkspaceId) -> Result<Arc<EventStore>, CoreError> {
        let cell = self.lock_event_stores().entry(workspace).or_default().clone();
        let dir = self.store().backend().workspace_dir(workspace).join("events");
        let options = self.event_options();
        let store = cell
            .get_or_try_init(|| async move {
                let opened = tokio::task::spawn_blocking(move || EventStore::open(&dir, options))
                    .await
                    .map_err(|_| CoreError::Secret("opening the event store was interrupted".into()))??;
                Ok::<_, CoreError>(Arc::new(opened))
            })
            .await?;
        Ok(store.clone())
    }

    /// Records a request's events: each event is checked on its own (a bad one fails alone),
    /// the good ones are written durably together, and the answer comes after the fsync.
    pub async fn record_events(
        &self,
        access: &Access,
        batch: Vec<(String, Vec<Value>)>,
        context: EventContext,
    ) -> Result<BatchOutcome, CoreError> {
        access.require(Permission::Write)?;
        let store = self.event_store(access.workspace()).await?;
        let now_ms = context.now_ms;
        // Checking and serialising thousands of events is CPU work: off the async reactor.
        let (outcome, accepted) =
            tokio::task::spawn_blocking(move || prepare_batch(batch, &context))
                .await
                .map_err(|_| CoreError::Secret("preparing events was interrupted".into()))?;
        let bytes: usize = accepted.iter().flat_map(|(_, events)| events).map(|e| e.json.len()).sum();
        if bytes > sb_events::MAX_REQUEST_BYTES {
            return Err(CoreError::Query {
                code: "InvalidBatchError",
                message: format!(
                    "the events of one request may take at most {} bytes once stored; send smaller batches",
                    sb_events::MAX_REQUEST_BYTES
                ),
            });
        }
        if !accepted.is_empty() {
            store.write(accepted, now_ms).await?;
        }
        Ok(outcome)
    }

    /// The workspace's collections with their event counts.
    pub async fn event_collections(
        &self,
        access: &Access,
    ) -> Result<Vec<(CollectionName, usize)>, CoreError> {
        access.require(Permission::Read)?;
        Ok(self.event_store(access.workspace()).await?.collections())
    }

    /// A collection's schema: property dot paths and Keen type names. Empty when the
    /// collection has no events.
    pub async fn event_schema(
        &self,
        access: &Access,
        collection: &str,
    ) -> Result<BTreeMap<String, &'static str>, CoreError> {
        access.require(Permission::Read)?;
        let collection = CollectionName::parse(collection)
            .map_err(|message| CoreError::Query { code: "InvalidCollectionNameError", message })?;
        Ok(self.event_store(access.workspace()).await?.schema(&collection).unwrap_or_default())
    }

    /// The `limit` events most recently stored in a collection, newest first.
    pub async fn latest_events(
        &self,
        access: &Access,
        collection: &str,
        limit: usize,
    ) -> Result<Vec<Value>, CoreError> {
        access.require(Permission::Read)?;
        let collection = CollectionName::parse(collection)
            .map_err(|message| CoreError::Query { code: "InvalidCollectionNameError", message })?;
        let store = self.event_store(access.workspace()).await?;
        let latest = tokio::task::spawn_blocking(move || store.latest(&collection, limit))
            .await
            .map_err(|_| CoreError::Secret("reading the latest events was interrupted".into()))??;
        Ok(latest.iter().map(sb_events::StoredEvent::body).collect())
    }

    /// Closes a workspace's event store (before its folder is removed, or at shutdown).
    pub(crate) async fn close_event_store(&self, workspace: WorkspaceId) {
        let cell = self.lock_event_stores().remove(&workspace);
        if let Some(store) = cell.and_then(|cell| cell.get().cloned()) {
            let _ = tokio::task::spawn_blocking(move || store.close()).await;
        }
    }
}
