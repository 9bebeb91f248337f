//! Where uploaded files go: an object store and the root below which the replay layout
//! lives (`batches/{batch_id}/{file_id}`, every `file_id` ending in `.rec`), so that
//! `argus replay ROOT/batches` reads exactly what the API took in.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

/// An object store and the root of the layout inside it.
#[derive(Debug, Clone)]
pub struct Objects {
    pub store: Arc<dyn ObjectStore>,
    pub root: ObjectPath,
}

impl Objects {
    /// A local directory (created if missing). Deleting a batch's last file removes its
    /// directory too.
    pub fn local(dir: &std::path::Path) -> Result<Self, object_store::Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| object_store::Error::Generic { store: "local", source: Box::new(e) })?;
        let store = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
        Ok(Self { store: Arc::new(store), root: ObjectPath::default() })
    }

    /// What `--object-store` names: a URL ([`Objects::from_url`]) or a local directory,
    /// created if missing.
    pub fn open(spec: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::open_with(spec, true)
    }

    /// [`Objects::open`] of a store that must exist: a missing directory is an error (for
    /// `argus prune`, to which a mistyped directory would look like a store whose objects
    /// are all gone already).
    pub fn open_existing(spec: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::open_with(spec, false)
    }

    fn open_with(spec: &str, create: bool) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if spec.contains("://") {
            return Ok(Self::from_url(spec)?);
        }
        let dir = std::path::Path::new(spec);
        if !create && !dir.is_dir() {
            return Err("no such directory".into());
        }
        Ok(Self::local(dir)?)
    }

    /// `s3://bucket/prefix` (settings from `AWS_*`) or `file:///dir`.
    pub fn from_url(url: &str) -> Result<Self, argus_ingest::StoreUrlError> {
        let at = argus_ingest::open_url(url)?;
        Ok(Self { store: at.store, root: at.prefix })
    }

    pub fn new(store: Arc<dyn ObjectStore>, root: ObjectPath) -> Self {
        Self { store, root }
    }

    /// The file's path relative to the root: what file-ready events carry as `uri`.
    pub fn relative_key(batch_id: &str, file_id: &str) -> String {
        format!("batches/{batch_id}/{file_id}")
    }

    /// Deletes the object of an upload's `uri` (relative to the root, as
    /// [`Objects::relative_key`] makes it); `Ok(false)` when the store says it was
    /// already gone (a local directory does; S3 answers a delete of a missing key as a
    /// success). The path is built segment by segment, as [`Objects::path`] built it for
    /// the upload.
    pub async fn delete_uri(&self, uri: &str) -> Result<bool, object_store::Error> {
        let path = uri.split('/').fold(self.root.clone(), |path, segment| path.child(segment));
        match self.store.delete(&path).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether any upload lies in the store, under `batches/` below the root.
    pub async fn holds_uploads(&self) -> Result<bool, object_store::Error> {
        use futures::StreamExt;
        let batches = self.root.child("batches");
        self.store.list(Some(&batches)).next().await.transpose().map(|first| first.is_some())
    }

    /// The file's full path in the store.
    pub fn path(&self, batch_id: &str, file_id: &str) -> ObjectPath {
        self.root.child("batches").child(batch_id).child(file_id)
    }
}

/// The file id of an uploaded name, as replay derives it from a file in the layout: the
/// file name itself, which must end in `.rec` (appended when the name lacks it).
pub fn file_id_of(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return None;
    }
    Some(if name.ends_with(".rec") { name.to_owned() } else { format!("{name}.rec") })
}

#[cfg(test)]
mod tests {
    use super::file_id_of;

    #[test]
    fn file_ids_are_replay_file_names() {
        assert_eq!(file_id_of("drive-01.rec").as_deref(), Some("drive-01.rec"));
        assert_eq!(file_id_of("drive_02").as_deref(), Some("drive_02.rec"));
        for bad in ["", ".rec", "../x.rec", "a/b.rec", "a\\b", "..", "x y.rec", "ä.rec", &"a".repeat(201)] {
            assert_eq!(file_id_of(bad), None, "{bad:?}");
        }
    }
}
