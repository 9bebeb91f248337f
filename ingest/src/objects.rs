//! Where the files an event names are: a local directory (mapped in place) or an object
//! store (streamed to a spool file first, so that the dataflow maps a local file and
//! never blocks a worker on the network). The check that the object exists with the
//! event's size happens here, before the event enters the dataflow.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use object_store::path::Path as ObjectPath;

use crate::event::{FileReadyEvent, Poison};
use crate::object_store::{StoreAt, open_url};

/// The configured object store events' `uri`s are relative to.
#[derive(Debug, Clone)]
pub enum ObjectRoot {
    /// A local directory: files are read where they are.
    Dir(PathBuf),
    /// An object store: objects are spooled into `spool` before they are parsed.
    Store { at: StoreAt, spool: PathBuf },
}

/// A file ready for the dataflow: its local path, and whether it is a spool copy to
/// remove once the dataflow is done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    pub spooled: bool,
}

/// Whether a failed fetch is worth trying again.
#[derive(Debug)]
pub enum FetchError {
    Poison(Poison),
    Transient(String),
}

impl ObjectRoot {
    /// Opens `--object-store`: a directory path, `file:///dir`, or `s3://bucket/prefix`.
    pub fn open(url: &str, spool: &Path) -> Result<Self, String> {
        if let Some(dir) = url.strip_prefix("file://") {
            return Ok(ObjectRoot::Dir(PathBuf::from(dir)));
        }
        if !url.contains("://") {
            return Ok(ObjectRoot::Dir(PathBuf::from(url)));
        }
        let at = open_url(url).map_err(|e| format!("opening {url}: {e}"))?;
        std::fs::create_dir_all(spool).map_err(|e| format!("creating spool {}: {e}", spool.display()))?;
        Ok(ObjectRoot::Store { at, spool: spool.to_owned() })
    }

    /// Checks that the event's object exists with its size and makes it a local file.
    pub async fn fetch(&self, event: &FileReadyEvent) -> Result<Fetched, FetchError> {
        match self {
            ObjectRoot::Dir(dir) => {
                let path = match event.uri.strip_prefix("file://") {
                    Some(absolute) => PathBuf::from(absolute),
                    None if event.uri.contains("://") => return Err(unsupported(event)),
                    None => dir.join(relative(&event.uri)?),
                };
                let metadata = tokio::fs::metadata(&path).await.map_err(|e| io_error(event, e))?;
                check_size(event, metadata.len())?;
                Ok(Fetched { path, spooled: false })
            }
            ObjectRoot::Store { at, spool } => {
                let key = object_key(at, &event.uri)?;
                let head = at.store.head(&key).await.map_err(|e| store_error(event, e))?;
                check_size(event, head.size)?;
                let path = spool.join(format!(
                    "{:016x}.rec",
                    argus_pipeline::items::route(&(&event.batch_id, &event.file_id))
                ));
                crate::spool::download(at, &key, &path).await.map_err(|e| io_error(event, e))?;
                let size = tokio::fs::metadata(&path).await.map_err(|e| io_error(event, e))?.len();
                check_size(event, size)?;
                Ok(Fetched { path, spooled: true })
            }
        }
    }
}

/// A relative `uri` as a path below the root: no `..`, no absolute path.
fn relative(uri: &str) -> Result<&Path, FetchError> {
    let path = Path::new(uri);
    let escapes = path.components().any(|c| !matches!(c, std::path::Component::Normal(_)));
    if escapes {
        return Err(FetchError::Poison(Poison::BadField(format!("uri {uri:?} leaves the object store"))));
    }
    Ok(path)
}

fn object_key(at: &StoreAt, uri: &str) -> Result<ObjectPath, FetchError> {
    let key = match uri.strip_prefix(&format!("{}/", at.base)) {
        Some(key) => key.to_owned(),
        None if uri.contains("://") => {
            return Err(FetchError::Poison(Poison::BadField(format!(
                "uri {uri:?} is outside the object store {}",
                at.base
            ))));
        }
        None => {
            relative(uri)?;
            let prefix = at.prefix.as_ref();
            if prefix.is_empty() { uri.to_owned() } else { format!("{prefix}/{uri}") }
        }
    };
    ObjectPath::parse(&key).map_err(|e| FetchError::Poison(Poison::BadField(format!("uri {uri:?}: {e}"))))
}

fn check_size(event: &FileReadyEvent, actual: u64) -> Result<(), FetchError> {
    if actual == event.size {
        return Ok(());
    }
    Err(FetchError::Poison(Poison::SizeMismatch { uri: event.uri.clone(), declared: event.size, actual }))
}

fn unsupported(event: &FileReadyEvent) -> FetchError {
    FetchError::Poison(Poison::BadField(format!("uri {:?}: only file:// or a relative path here", event.uri)))
}

fn io_error(event: &FileReadyEvent, error: io::Error) -> FetchError {
    match error.kind() {
        io::ErrorKind::NotFound => FetchError::Poison(Poison::ObjectMissing(event.uri.clone())),
        io::ErrorKind::PermissionDenied | io::ErrorKind::IsADirectory => {
            FetchError::Poison(Poison::ObjectUnreadable { uri: event.uri.clone(), reason: error.to_string() })
        }
        _ => FetchError::Transient(format!("{}: {error}", event.uri)),
    }
}

fn store_error(event: &FileReadyEvent, error: object_store::Error) -> FetchError {
    match error {
        object_store::Error::NotFound { .. } => FetchError::Poison(Poison::ObjectMissing(event.uri.clone())),
        other => FetchError::Transient(format!("{}: {other}", event.uri)),
    }
}

/// How long to keep retrying a fetch that fails for reasons that may pass (network,
/// server errors) before the event is dead-lettered as unreadable.
pub const FETCH_PATIENCE: Duration = Duration::from_secs(60);
