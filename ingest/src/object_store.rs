//! Opening an object store from a URL (`s3://bucket/prefix`, `file:///dir`), with S3
//! settings taken from the usual `AWS_*` environment variables (endpoint, keys, region,
//! `AWS_ALLOW_HTTP` for a local server).

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use url::Url;

/// An object store and the prefix below which a URL points.
#[derive(Debug, Clone)]
pub struct StoreAt {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: ObjectPath,
    /// The URL without its path (`s3://bucket`), for messages.
    pub base: String,
}

/// Why an object-store URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreUrlError {
    #[error("not a URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("unsupported object store scheme {0:?} (use s3:// or file://)")]
    Scheme(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("object path: {0}")]
    Path(#[from] object_store::path::Error),
}

/// Opens the store a URL names.
pub fn open_url(url: &str) -> Result<StoreAt, StoreUrlError> {
    let parsed = Url::parse(url)?;
    let store: Arc<dyn ObjectStore> = match parsed.scheme() {
        "s3" => Arc::new(object_store::aws::AmazonS3Builder::from_env().with_url(url).build()?),
        "file" => Arc::new(object_store::local::LocalFileSystem::new()),
        other => return Err(StoreUrlError::Scheme(other.to_owned())),
    };
    let prefix = ObjectPath::from_url_path(parsed.path())?;
    let base = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
    Ok(StoreAt { store, prefix, base })
}
