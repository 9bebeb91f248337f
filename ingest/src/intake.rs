//! What every live feed does with a file-ready event before the dataflow sees it, whoever
//! delivered it (the Kafka consumer, the embedded queue): passes over batches the store
//! already holds as final and files already seen, checks the event against its batch,
//! fetches the object (spooling it when it is not on local disk), and commits the
//! `scattering` and `gathering` steps. It runs on tokio, never on a timely worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_pipeline::{FileReady, Position};

use crate::event::{FileReadyEvent, Poison};
use crate::ledger::{BatchStep, Ledger};
use crate::objects::{FETCH_PATIENCE, FetchError, Fetched, ObjectRoot};
use crate::tracker::{BatchTracker, Seen};

/// What becomes of an event.
#[derive(Debug)]
pub enum Admitted {
    /// A new file for the dataflow.
    File(FileReady),
    /// Nothing for the dataflow (a repeat, a batch already final): only its position counts.
    Passed,
    /// A bad event: the caller dead-letters it (Kafka) or logs it (embedded queue).
    Poison(Poison),
}

/// The checks and bookkeeping between a delivered event and the dataflow.
pub struct Intake<L> {
    ledger: Arc<L>,
    root: ObjectRoot,
    tracker: BatchTracker,
}

impl<L: Ledger> Intake<L> {
    pub fn new(ledger: Arc<L>, root: ObjectRoot) -> Self {
        Self { ledger, root, tracker: BatchTracker::default() }
    }

    /// Admits the event delivered at `at`.
    pub async fn admit(&mut self, event: FileReadyEvent, at: Position) -> Admitted {
        let first = match self.tracker.known(&event.batch_id) {
            Some(true) => return Admitted::Passed,
            Some(false) => false,
            None => {
                if self.is_final(&event.batch_id).await {
                    tracing::debug!(batch_id = %event.batch_id, "batch already final in the store");
                    self.tracker.final_in_store(&event.batch_id, at);
                    return Admitted::Passed;
                }
                true
            }
        };
        if self.tracker.has_file(&event) {
            return Admitted::Passed; // delivered again: the first delivery holds it
        }
        if let Err(poison) = self.tracker.check(&event) {
            return Admitted::Poison(poison);
        }
        let fetched = match self.fetch(&event).await {
            Ok(fetched) => fetched,
            Err(poison) => return Admitted::Poison(poison),
        };
        let seen = self.tracker.record(&event, at, fetched.spooled.then(|| fetched.path.clone()));
        if first {
            self.step(&event, BatchStep::Scattering);
        }
        if seen == Seen::Complete {
            self.step(&event, BatchStep::Gathering);
        }
        Admitted::File(FileReady {
            batch_id: event.batch_id,
            file_id: event.file_id,
            location: fetched.path.to_string_lossy().into_owned(),
            file_count: event.file_count,
            size: Some(event.size),
            position: Some(at),
        })
    }

    /// Forgets the batches whose events all lie below the commit points, and removes
    /// their spooled copies.
    pub async fn forget_committed(&mut self, committed: &BTreeMap<i32, i64>) {
        for spooled in self.tracker.forget_committed(committed) {
            if let Err(error) = tokio::fs::remove_file(&spooled).await {
                tracing::warn!(%error, path = %spooled.display(), "spool file not removed");
            }
        }
        metrics::gauge!("argus_batches_open").set(self.tracker.len() as f64);
    }

    /// Asks the store, retrying while it is unreachable (the input waits meanwhile).
    async fn is_final(&self, batch_id: &str) -> bool {
        let mut backoff = Backoff::new();
        loop {
            match self.ledger.is_final(batch_id).await {
                Ok(is_final) => return is_final,
                Err(error) => tracing::warn!(%error, batch_id, "store not reachable, retrying"),
            }
            backoff.wait().await;
        }
    }

    async fn fetch(&self, event: &FileReadyEvent) -> Result<Fetched, Poison> {
        let started = Instant::now();
        let mut backoff = Backoff::new();
        loop {
            match self.root.fetch(event).await {
                Ok(fetched) => return Ok(fetched),
                Err(FetchError::Poison(poison)) => return Err(poison),
                Err(FetchError::Transient(reason)) if started.elapsed() >= FETCH_PATIENCE => {
                    return Err(Poison::ObjectUnreadable { uri: event.uri.clone(), reason });
                }
                Err(FetchError::Transient(reason)) => tracing::warn!(%reason, "object not fetched, retrying"),
            }
            backoff.wait().await;
        }
    }

    /// Commits a status step in a task of its own, so that the input never waits for it:
    /// steps only move forward in the store, so one that lands late (after the next step,
    /// or after the batch is final) changes nothing. A failure is logged, not retried: the
    /// final write walks the batch through every step anyway.
    fn step(&self, event: &FileReadyEvent, step: BatchStep) {
        let ledger = self.ledger.clone();
        let (batch_id, vin) = (event.batch_id.clone(), event.vin.clone());
        tokio::spawn(async move {
            if let Err(error) = ledger.batch_step(&batch_id, step, vin.as_deref()).await {
                tracing::warn!(%error, %batch_id, ?step, "status step not stored");
            }
        });
    }
}

/// Backoff for retries that hold the input: 100 ms doubling up to 10 s.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Self(Duration::from_millis(100))
    }

    pub async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
    }
}
