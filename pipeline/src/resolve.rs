//! From a file's location to its mapped bytes, mapping each file once per process.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use argus_parser::RecFile;

use crate::items::Time;

/// Turns a location into a local path that can be mapped. The default understands plain
/// paths and `file://` URLs. Objects that are not on local disk are spooled by the feed
/// before their events reach the dataflow (the feed owns those files); resolving never
/// waits on the network.
pub trait FileResolver: Send + Sync {
    fn local_path(&self, location: &str) -> io::Result<PathBuf>;
}

/// Resolves plain paths and `file://` URLs.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalResolver;

impl FileResolver for LocalResolver {
    fn local_path(&self, location: &str) -> io::Result<PathBuf> {
        Ok(PathBuf::from(location.strip_prefix("file://").unwrap_or(location)))
    }
}

/// The files of this process that are mapped, shared by its workers, so that the ranges
/// of one file parsed by several workers use one mapping. An entry is dropped once the
/// dataflow's frontier passes the time of the batch that needed it; a worker still
/// parsing a range holds its own `Arc`, so the mapping lives until it is done.
#[derive(Clone)]
pub struct MapCache {
    resolver: Arc<dyn FileResolver>,
    files: Arc<Mutex<Mapped>>,
}

/// Mapped files by location, with the latest time of a batch that opened them.
type Mapped = HashMap<String, (Time, Arc<RecFile>)>;

impl std::fmt::Debug for MapCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapCache").finish_non_exhaustive()
    }
}

impl MapCache {
    pub fn new(resolver: Arc<dyn FileResolver>) -> Self {
        Self { resolver, files: Arc::default() }
    }

    /// The mapped file at `location`, needed by a batch at `time`.
    pub fn open(&self, location: &str, time: Time) -> io::Result<Arc<RecFile>> {
        if let Some((needed_until, file)) = self.lock().get_mut(location) {
            // A later batch needs the same file: keep it until that batch is done too.
            *needed_until = (*needed_until).max(time);
            return Ok(file.clone());
        }
        // Open and map outside the lock, which guards only the table. Two workers racing
        // here both map; the second insert wins and the first mapping is dropped.
        let path = self.resolver.local_path(location)?;
        let file = Arc::new(RecFile::open(&path)?);
        let mut files = self.lock();
        let (needed_until, file) = files.entry(location.to_owned()).or_insert((time, file));
        *needed_until = (*needed_until).max(time);
        Ok(file.clone())
    }

    /// Unmaps the files of batches before `frontier` (a worker still parsing one holds
    /// its own `Arc`).
    pub fn evict_before(&self, frontier: Time) {
        self.lock().retain(|_, (time, _)| *time >= frontier);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mapped> {
        // A poisoned lock means a worker panicked; the map itself is still consistent.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}
