//! Replay from an object-store prefix: the same layout as a directory, listed with
//! delimiters (batches first, then each batch's files when the dataflow asks for it).

use std::collections::VecDeque;
use std::sync::Arc;

use argus_pipeline::{Feed, FeedEvent, FeedState};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use tokio::runtime::Runtime;

use crate::dir_feed::{ListedFile, batch_events};
use crate::object_store::StoreAt;

/// A [`Feed`] over a replay root in an object store.
#[derive(Debug)]
pub struct StoreFeed {
    at: StoreAt,
    runtime: Arc<Runtime>,
    batches: VecDeque<(String, ObjectPath)>,
}

impl StoreFeed {
    /// Lists the batch prefixes below the root (names only; files are listed later).
    pub fn open(at: StoreAt, runtime: Arc<Runtime>) -> Result<Self, object_store::Error> {
        let listing = runtime.block_on(at.store.list_with_delimiter(Some(&at.prefix)))?;
        let mut batches: Vec<(String, ObjectPath)> =
            listing.common_prefixes.into_iter().filter_map(|p| Some((p.filename()?.to_owned(), p))).collect();
        batches.sort();
        Ok(Self { at, runtime, batches: batches.into() })
    }

    fn files_of(&self, batch: &ObjectPath) -> Result<Vec<ListedFile>, object_store::Error> {
        let store = self.at.store.clone();
        let batch = batch.clone();
        self.runtime.block_on(async move {
            let listing = store.list_with_delimiter(Some(&batch)).await?;
            let mut files: Vec<ListedFile> = listing
                .objects
                .into_iter()
                .filter_map(|o| {
                    let file_id = o.location.filename()?.to_owned();
                    file_id.ends_with(".rec").then(|| ListedFile {
                        file_id,
                        location: o.location.to_string(),
                        size: Some(o.size),
                    })
                })
                .collect();
            files.sort();
            Ok(files)
        })
    }
}

impl Feed for StoreFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let before = out.len();
        while out.len() - before < max {
            let Some((batch_id, prefix)) = self.batches.pop_front() else { return FeedState::Finished };
            let files = self.files_of(&prefix).unwrap_or_else(|error| {
                tracing::warn!(%batch_id, %error, "batch listing failed; reporting it as empty");
                Vec::new()
            });
            out.extend(batch_events(&batch_id, files));
        }
        FeedState::Ready
    }
}

/// Lists every object below a prefix (for tests and tools).
pub async fn list_all(at: &StoreAt) -> Result<Vec<String>, object_store::Error> {
    let objects: Vec<_> = at.store.list(Some(&at.prefix)).try_collect().await?;
    Ok(objects.into_iter().map(|o| o.location.to_string()).collect())
}
