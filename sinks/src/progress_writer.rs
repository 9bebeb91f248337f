//! Commits files-parsed progress off the worker: the gather's calls go on a channel, and
//! one task on the store's runtime writes the newest figure of each batch. While a write
//! is in flight, later figures of the same batch collapse into one, so a batch of many
//! small files costs a few updates, not one per file.

use std::collections::HashMap;

use tokio::runtime::Handle;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::store::Store;

/// Files parsed of a batch, and of how many.
type Progress = (String, u32, u32);

/// The sending side; cheap to clone. The task ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct ProgressWriter {
    tx: UnboundedSender<Progress>,
}

impl ProgressWriter {
    pub fn new(store: Store, handle: &Handle) -> Self {
        let (tx, rx) = unbounded_channel();
        handle.spawn(write_progress(store, rx));
        Self { tx }
    }

    /// Hands over a figure; returns at once.
    pub fn file_parsed(&self, batch_id: &str, files_parsed: u32, file_count: u32) {
        // The task ends only with the last sender, so it is there to receive.
        let _ = self.tx.send((batch_id.to_owned(), files_parsed, file_count));
    }
}

async fn write_progress(store: Store, mut rx: UnboundedReceiver<Progress>) {
    let mut newest: HashMap<String, (u32, u32)> = HashMap::new();
    while let Some(first) = rx.recv().await {
        let mut add = |(batch_id, parsed, count): Progress| {
            let entry = newest.entry(batch_id).or_insert((parsed, count));
            *entry = (*entry).max((parsed, count));
        };
        add(first);
        while let Ok(more) = rx.try_recv() {
            add(more);
        }
        for (batch_id, (parsed, count)) in newest.drain() {
            // Progress is advisory: the batch's final write records the true figure.
            if let Err(error) = store.record_progress(&batch_id, parsed, count).await {
                tracing::debug!(%batch_id, %error, "progress not recorded");
            }
        }
    }
}
