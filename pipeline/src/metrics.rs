//! Counters of a running dataflow, shared by all workers of a process (progress bars,
//! logs, and later the Prometheus endpoint read them).

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide pipeline counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Files of durably stored batches that could not be read at all (bad header,
    /// unreadable).
    pub files_rejected: AtomicU64,
    /// Files of durably stored batches read with damage skipped (salvaged).
    pub files_partial: AtomicU64,
    pub ranges_parsed: AtomicU64,
    pub bytes_parsed: AtomicU64,
    pub records_parsed: AtomicU64,
    /// Batches durably stored (acknowledged by every writer).
    pub batches_finished: AtomicU64,
    /// Of those, batches whose report says `failed`.
    pub batches_failed: AtomicU64,
    /// Store writes (and status steps) that failed transiently and were tried again; a
    /// store writer given these metrics counts them. Rising steadily: the store is down.
    pub store_write_retries: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
