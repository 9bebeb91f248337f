//! Objects that are not on local disk are streamed to a spool file (never buffered whole
//! in memory), then mapped like any other file; the spool file is removed once the
//! dataflow no longer needs it.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use argus_pipeline::FileResolver;
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

use crate::object_store::StoreAt;

/// Resolves object paths of one store to spooled local copies.
#[derive(Debug)]
pub struct SpoolResolver {
    at: StoreAt,
    runtime: Arc<Runtime>,
    dir: PathBuf,
    /// One slot per location, so two workers asking for one object download it once.
    slots: Mutex<HashMap<String, Arc<Mutex<Option<PathBuf>>>>>,
}

impl SpoolResolver {
    /// Spools into `dir` (created if missing).
    pub fn new(at: StoreAt, runtime: Arc<Runtime>, dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self { at, runtime, dir: dir.to_owned(), slots: Mutex::default() })
    }

    fn slot(&self, location: &str) -> Arc<Mutex<Option<PathBuf>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(location.to_owned()).or_default().clone()
    }

    async fn download(&self, location: &str, to: &Path) -> io::Result<()> {
        let path = ObjectPath::parse(location).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        download(&self.at, &path, to).await
    }
}

/// Streams an object to `to` (through `to.part`, renamed once complete, so no reader ever
/// maps half a file), never holding it whole in memory.
pub(crate) async fn download(at: &StoreAt, path: &ObjectPath, to: &Path) -> io::Result<()> {
    let result = at.store.get(path).await.map_err(store_error)?;
    let tmp = to.with_extension("part");
    let mut file = tokio::fs::File::create(&tmp).await?;
    let mut stream = result.into_stream();
    while let Some(bytes) = stream.next().await {
        file.write_all(&bytes.map_err(store_error)?).await?;
    }
    file.sync_data().await?;
    tokio::fs::rename(&tmp, to).await
}

fn store_error(error: object_store::Error) -> io::Error {
    let kind = match error {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

impl FileResolver for SpoolResolver {
    fn local_path(&self, location: &str) -> io::Result<PathBuf> {
        let slot = self.slot(location);
        let mut spooled = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = spooled.as_ref() {
            return Ok(path.clone());
        }
        let name = format!("{:016x}.rec", argus_pipeline::items::route(location));
        let path = self.dir.join(name);
        self.runtime.block_on(self.download(location, &path))?;
        *spooled = Some(path.clone());
        Ok(path)
    }

    fn release(&self, location: &str) {
        let slot = self.slots.lock().unwrap_or_else(|e| e.into_inner()).remove(location);
        let Some(slot) = slot else { return };
        if let Some(path) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // A mapping made before this still reads the (unlinked) file.
            let _ = std::fs::remove_file(path);
        }
    }
}
