//! Streaming one file into the object store: the body goes through in parts (never
//! whole in memory), hashed and counted on the way, into a multipart upload that becomes
//! visible only when it completes. A body over the limit, a broken connection or a
//! dropped request aborts the upload, so no partial object is ever left.

use std::fmt::Display;

use futures::{Stream, StreamExt};
use object_store::WriteMultipart;
use object_store::path::Path as ObjectPath;

use crate::digest::BackgroundDigest;
use crate::error::ApiError;
use crate::state::AppState;

/// A file now complete in the object store.
#[derive(Debug)]
pub struct StoredObject {
    pub size: u64,
    pub sha256: String,
}

/// Parts the store may be writing while the next one fills.
const PARTS_IN_FLIGHT: usize = 2;

/// A multipart upload that aborts itself unless it was finished.
struct PartialObject(Option<WriteMultipart>);

impl PartialObject {
    async fn abort(mut self) {
        if let Some(upload) = self.0.take() {
            if let Err(error) = upload.abort().await {
                tracing::warn!(%error, "aborting a partial upload failed");
            }
        }
    }
}

impl Drop for PartialObject {
    fn drop(&mut self) {
        let Some(upload) = self.0.take() else { return };
        // The request went away mid-body: abort off this (sync) drop.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = upload.abort().await {
                    tracing::warn!(%error, "aborting a dropped upload failed");
                }
            });
        }
    }
}

/// Streams `body` to `path`, at most `state.config().max_file_size` bytes.
pub async fn stream_to_store<S, E>(
    state: &AppState,
    path: &ObjectPath,
    mut body: S,
) -> Result<StoredObject, ApiError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: Display,
{
    let limit = state.config().max_file_size;
    let upload = state.objects().store.put_multipart(path).await.map_err(|e| {
        tracing::warn!(%path, error = %e, "object store refused the upload");
        ApiError::Unavailable("object store")
    })?;
    let mut object = PartialObject(Some(WriteMultipart::new_with_chunk_size(
        upload,
        state.config().upload_part_size.max(1 << 20),
    )));
    let digest = BackgroundDigest::start();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                object.abort().await;
                return Err(ApiError::BadRequest(format!("the body broke off: {error}")));
            }
        };
        size += chunk.len() as u64;
        if size > limit {
            object.abort().await;
            return Err(ApiError::PayloadTooLarge { limit });
        }
        digest.update(chunk.clone()).await;
        metrics::counter!("argus_api_upload_bytes_total").increment(chunk.len() as u64);
        let Some(writer) = object.0.as_mut() else { break };
        writer.put(chunk);
        if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            object.abort().await;
            tracing::warn!(%path, %error, "object store failed mid-upload");
            return Err(ApiError::Unavailable("object store"));
        }
    }
    let Some(writer) = object.0.take() else {
        return Err(ApiError::Internal("upload finished twice".into()));
    };
    writer.finish().await.map_err(|error| {
        tracing::warn!(%path, %error, "object store failed completing the upload");
        ApiError::Unavailable("object store")
    })?;
    let sha256 =
        digest.finish().await.map_err(|error| ApiError::Internal(format!("hashing the upload: {error}")))?;
    Ok(StoredObject { size, sha256 })
}
