//! Objects that are not on local disk are streamed to a spool file (never buffered whole
//! in memory) by the task that feeds the dataflow, then mapped like any other file. That
//! task owns the spool file and removes it once the commit points pass its batch.

use std::io;
use std::path::Path;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use tokio::io::AsyncWriteExt;

use crate::object_store::StoreAt;

/// Streams an object to `to` (through `to.part`, renamed once complete, so no reader ever
/// maps half a file), never holding it whole in memory.
pub async fn download(at: &StoreAt, path: &ObjectPath, to: &Path) -> io::Result<()> {
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
