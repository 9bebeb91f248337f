//! Replay from a local directory: every immediate sub-directory of ROOT is a batch (its
//! name the batch id), the `*.rec` files directly inside it are its files. Batches are
//! listed one at a time as the dataflow asks for them, never all up front.

use std::fs::ReadDir;
use std::io;
use std::path::Path;

use argus_pipeline::{Feed, FeedEvent, FeedState, FileReady};

/// A [`Feed`] over a replay root on local disk.
#[derive(Debug)]
pub struct DirFeed {
    entries: ReadDir,
}

impl DirFeed {
    /// Opens ROOT; fails clearly when it is missing or not a directory.
    pub fn open(root: &Path) -> io::Result<Self> {
        let entries = std::fs::read_dir(root)
            .map_err(|e| io::Error::new(e.kind(), format!("replay root {}: {e}", root.display())))?;
        Ok(Self { entries })
    }
}

/// A file of a batch, as a listing finds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListedFile {
    pub file_id: String,
    pub location: String,
    /// Its size, when the listing tells (it bounds the bytes in flight).
    pub size: Option<u64>,
}

/// The events of one batch directory: its files, or one empty-batch event.
pub fn batch_events(batch_id: &str, files: Vec<ListedFile>) -> Vec<FeedEvent> {
    if files.is_empty() {
        return vec![FeedEvent::EmptyBatch { batch_id: batch_id.to_owned() }];
    }
    let file_count = u32::try_from(files.len()).unwrap_or(u32::MAX);
    files
        .into_iter()
        .map(|ListedFile { file_id, location, size }| {
            FeedEvent::File(FileReady {
                batch_id: batch_id.to_owned(),
                file_id,
                location,
                file_count,
                size,
                position: None,
            })
        })
        .collect()
}

/// The `*.rec` files directly inside `dir`, sorted by id.
fn rec_files(dir: &Path) -> io::Result<Vec<ListedFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".rec") {
            continue;
        }
        // A directory named `x.rec` is no file; anything else `*.rec` is (an unreadable one is
        // reported as rejected by the parser, not silently skipped). Symbolic links are followed.
        let path = entry.path();
        let meta = std::fs::metadata(&path).ok();
        if meta.as_ref().is_some_and(|m| m.is_dir()) {
            continue;
        }
        files.push(ListedFile { file_id: name, location: path_string(&path), size: meta.map(|m| m.len()) });
    }
    files.sort();
    Ok(files)
}

fn path_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Feed for DirFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let before = out.len();
        while out.len() - before < max {
            let Some(entry) = self.entries.next() else { return FeedState::Finished };
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    tracing::warn!(%error, "skipping unreadable replay root entry");
                    continue;
                }
            };
            if !entry.path().is_dir() {
                continue;
            }
            let batch_id = entry.file_name().to_string_lossy().into_owned();
            let files = rec_files(&entry.path()).unwrap_or_else(|error| {
                tracing::warn!(%batch_id, %error, "batch directory unreadable; reporting it as empty");
                Vec::new()
            });
            out.extend(batch_events(&batch_id, files));
        }
        FeedState::Ready
    }
}
