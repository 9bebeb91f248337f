//! Keeps the store's fleet rows (`fleet_reports`) at the dataflow's latest fleet report
//! without blocking the worker: each report is written by a task on the store's runtime,
//! and a write that a newer report has overtaken is skipped, so the rows end at the
//! latest report whatever order the tasks run in. The rows are derived state: a restart
//! re-seeds the fleet from the stored batches and writes them again, so a write lost in
//! a crash costs nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argus_pipeline::report::FleetReport;
use tokio::runtime::Handle;
use tokio::sync::Mutex;

use crate::retry::Backoff;
use crate::store::{FleetView, Store};

/// The latest-wins writer of one fleet view.
#[derive(Debug, Clone)]
pub struct FleetRowWriter {
    store: Store,
    view: FleetView,
    handle: Handle,
    /// The generation of the newest report handed over.
    issued: Arc<AtomicU64>,
    /// Serialises the writes; holds the generation last written.
    written: Arc<Mutex<u64>>,
    backoff: Backoff,
}

impl FleetRowWriter {
    pub fn new(store: Store, view: FleetView, handle: Handle, backoff: Backoff) -> Self {
        Self { store, view, handle, issued: Arc::default(), written: Arc::default(), backoff }
    }

    /// Hands over a new report; returns at once.
    pub fn write(&self, report: &FleetReport) {
        let generation = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let this = self.clone();
        let report = report.clone();
        self.handle.spawn(async move {
            let mut written = this.written.lock().await;
            let mut delay = this.backoff.first;
            // Retried while no newer report waits behind it (which would write anyway).
            while generation == this.issued.load(Ordering::SeqCst) {
                match this.store.put_fleet_report(this.view, &report).await {
                    Ok(()) => {
                        *written = generation;
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, view = ?this.view, "fleet report not stored, retrying")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(this.backoff.max);
            }
        });
    }
}
