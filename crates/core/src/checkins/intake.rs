//! Group commit for received mail: a message to store joins the queue of its workspace, and
//! whoever holds the workspace's write turn stores everything queued in one transaction.
//! Replies arriving together (a team answering at the end of the day) then share one commit
//! instead of each waiting for its own flush to disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sb_store::{EntryRecord, InboundRecord, InboundStored, WorkspaceDb};
use sb_types::WorkspaceId;
use tokio::sync::oneshot;

use crate::CoreError;

type Reply = oneshot::Sender<Result<InboundStored, String>>;
/// A message with its entries, and where its result goes.
type Queued = ((InboundRecord, Vec<EntryRecord>), Reply);

/// One workspace's queue and write turn.
#[derive(Default)]
struct Lane {
    queued: Mutex<Vec<Queued>>,
    turn: tokio::sync::Mutex<()>,
}

/// The queues of every workspace.
#[derive(Default)]
pub(crate) struct Intake {
    lanes: Mutex<HashMap<WorkspaceId, Arc<Lane>>>,
}

impl Intake {
    /// Stores `mail` with `entries` in `db`, with whatever else is queued for its workspace.
    pub(crate) async fn store(
        &self,
        db: &WorkspaceDb,
        mail: InboundRecord,
        entries: Vec<EntryRecord>,
    ) -> Result<InboundStored, CoreError> {
        let lane = self
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(db.workspace())
            .or_default()
            .clone();
        let (reply, result) = oneshot::channel();
        lane.queued.lock().unwrap_or_else(PoisonError::into_inner).push(((mail, entries), reply));
        {
            let _turn = lane.turn.lock().await;
            let batch = std::mem::take(&mut *lane.queued.lock().unwrap_or_else(PoisonError::into_inner));
            if !batch.is_empty() {
                // A task of its own: a caller that goes away (its client hung up) must not
                // cancel the others' write.
                let db = db.clone();
                let write = tokio::spawn(async move {
                    let (received, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                    match db.record_inbound(&received).await {
                        Ok(stored) => {
                            for (reply, stored) in replies.into_iter().zip(stored) {
                                let _ = reply.send(Ok(stored));
                            }
                        }
                        Err(error) => {
                            let text = error.to_string();
                            for reply in replies {
                                let _ = reply.send(Err(text.clone()));
                            }
                        }
                    }
                });
                let _ = write.await;
            }
        }
        match result.await {
            Ok(Ok(stored)) => Ok(stored),
            Ok(Err(error)) => Err(CoreError::Unavailable(format!("cannot store the message: {error}"))),
            Err(_) => Err(CoreError::Unavailable("the message's write was abandoned".into())),
        }
    }
}
