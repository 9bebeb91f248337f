//! The SHA-256 of an upload, computed on a blocking thread beside the request: hashing
//! takes about as long as writing the bytes, so done inline it would halve the rate at
//! which a body streams into the object store; beside it, the two overlap.

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks queued for the hashing thread before the request waits on it.
const QUEUED_CHUNKS: usize = 256;

/// A running digest: feed it chunks in order, then [`finish`](Self::finish) it.
pub(crate) struct BackgroundDigest {
    chunks: mpsc::Sender<bytes::Bytes>,
    hashing: JoinHandle<[u8; 32]>,
}

impl BackgroundDigest {
    pub fn start() -> Self {
        let (chunks, mut queued) = mpsc::channel::<bytes::Bytes>(QUEUED_CHUNKS);
        let hashing = tokio::task::spawn_blocking(move || {
            let mut hasher = Sha256::new();
            while let Some(chunk) = queued.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher.finalize().into()
        });
        Self { chunks, hashing }
    }

    /// Queues the next chunk (a reference-counted clone, not a copy).
    pub async fn update(&self, chunk: bytes::Bytes) {
        // The receiver lives until the sender is dropped: sending cannot fail.
        let sent = self.chunks.send(chunk).await;
        debug_assert!(sent.is_ok(), "the hashing thread ended early");
    }

    /// The digest of every chunk queued, as lowercase hex.
    pub async fn finish(self) -> Result<String, tokio::task::JoinError> {
        drop(self.chunks);
        Ok(hex::encode(self.hashing.await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn equals_the_digest_of_the_whole() {
        let whole: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let digest = BackgroundDigest::start();
        for chunk in whole.chunks(4_096) {
            digest.update(bytes::Bytes::copy_from_slice(chunk)).await;
        }
        assert_eq!(digest.finish().await.unwrap(), hex::encode(Sha256::digest(&whole)));
    }
}
