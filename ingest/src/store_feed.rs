//! Replay from an object-store prefix. A task on the tokio runtime (never a timely
//! worker) walks the batches of the layout, streams each batch's objects to spool files
//! ahead of the dataflow, and hands their events to the source. The task owns the spool
//! files: each batch's go once the commit points pass it (it is durably written), and the
//! task stops reading ahead while too many bytes wait for that.

use std::collections::VecDeque;
use std::path::PathBuf;

use argus_pipeline::{FeedEvent, Position};
use object_store::path::Path as ObjectPath;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{Sender, UnboundedReceiver, channel, unbounded_channel};
use tokio::task::JoinHandle;

use crate::dir_feed::{ListedFile, batch_events};
use crate::object_listing::{batch_files, batch_prefixes};
use crate::object_store::StoreAt;
use crate::spool::download;
use crate::task_feed::{Signal, TaskFeed, Waker};

/// Where and how far ahead a replay spools.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// Where the spool files go (created if missing).
    pub dir: PathBuf,
    /// Bytes spooled for batches not yet durable before the task waits; one batch is
    /// always let through, however large. Default 8 GiB (the source's bytes in flight).
    pub max_bytes_ahead: u64,
}

impl SpoolConfig {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir, max_bytes_ahead: 8 << 30 }
    }
}

/// The batches of a replay root in an object store, listed and ready to be fed.
#[derive(Debug)]
pub struct StoreFeed {
    at: StoreAt,
    batches: Vec<(String, ObjectPath)>,
    config: SpoolConfig,
}

/// The files spooled for one batch, held until the commit points pass it.
#[derive(Debug)]
struct Held {
    /// One past the position of its last file.
    end: i64,
    paths: Vec<PathBuf>,
    bytes: u64,
}

impl StoreFeed {
    /// Lists the batch prefixes below the root (names only; each batch's files are listed
    /// when the task reaches it), so that a missing root fails before the run starts.
    pub async fn open(at: StoreAt, config: SpoolConfig) -> Result<Self, object_store::Error> {
        let batches = batch_prefixes(&at).await?;
        Ok(Self { at, batches, config })
    }

    /// Starts the spooling task on `handle`; returns the source's feed and the task, which
    /// ends once the dataflow dropped the feed and every spool file is removed.
    pub fn start(self, handle: &Handle) -> std::io::Result<(TaskFeed, JoinHandle<()>)> {
        std::fs::create_dir_all(&self.config.dir)?;
        let (event_tx, events) = channel(1024);
        let (signals, signal_rx) = unbounded_channel();
        let waker = Waker::default();
        let spooler = Spooler {
            at: self.at,
            config: self.config,
            signals: signal_rx,
            waker: waker.clone(),
            next_offset: 0,
            held: VecDeque::new(),
            bytes_ahead: 0,
        };
        let task = handle.spawn(spooler.run(self.batches, event_tx));
        Ok((TaskFeed { events, signals, waker }, task))
    }
}

struct Spooler {
    at: StoreAt,
    config: SpoolConfig,
    signals: UnboundedReceiver<Signal>,
    waker: Waker,
    /// The position of the next file event (one partition, 0).
    next_offset: i64,
    held: VecDeque<Held>,
    bytes_ahead: u64,
}

impl Spooler {
    async fn run(mut self, batches: Vec<(String, ObjectPath)>, events: Sender<FeedEvent>) {
        for (batch_id, prefix) in batches {
            while self.bytes_ahead >= self.config.max_bytes_ahead && !self.held.is_empty() {
                let Some(signal) = self.signals.recv().await else { break };
                self.on_signal(signal).await;
            }
            while let Ok(signal) = self.signals.try_recv() {
                self.on_signal(signal).await;
            }
            for event in self.spool_batch(&batch_id, &prefix).await {
                if events.send(event).await.is_err() {
                    break; // the dataflow is gone
                }
                self.waker.wake();
            }
        }
        drop(events); // the feed finishes once the source has read what is queued
        self.waker.wake();
        while let Some(signal) = self.signals.recv().await {
            self.on_signal(signal).await;
        }
        // The dataflow is over: what it did not pass (a run stopped early) goes too.
        for held in self.held.drain(..) {
            remove(&held.paths).await;
        }
    }

    /// Spools a batch's files and returns its events; a file that cannot be spooled is
    /// handed on anyway and reported unreadable, as a missing local file is.
    async fn spool_batch(&mut self, batch_id: &str, prefix: &ObjectPath) -> Vec<FeedEvent> {
        let files = batch_files(&self.at, prefix).await.unwrap_or_else(|error| {
            tracing::warn!(%batch_id, %error, "batch listing failed; reporting it as empty");
            Vec::new()
        });
        let first = self.next_offset;
        let (mut paths, mut bytes) = (Vec::with_capacity(files.len()), 0);
        let mut spooled = Vec::with_capacity(files.len());
        for file in files {
            let path = self.config.dir.join(format!("{:016x}.rec", self.next_offset));
            let object = ObjectPath::from(file.location.as_str());
            if let Err(error) = download(&self.at, &object, &path).await {
                tracing::warn!(%batch_id, file_id = %file.file_id, %error, "object not spooled");
            }
            bytes += file.size.unwrap_or(0);
            paths.push(path.clone());
            spooled.push(ListedFile { location: path.to_string_lossy().into_owned(), ..file });
            self.next_offset += 1;
        }
        let mut events = batch_events(batch_id, spooled);
        // Positions make the source report commit points, which say when a batch is durable.
        for (offset, event) in (first..).zip(&mut events) {
            if let FeedEvent::File(file) = event {
                file.position = Some(Position { partition: 0, offset });
            }
        }
        if !paths.is_empty() {
            self.bytes_ahead += bytes;
            self.held.push_back(Held { end: self.next_offset, paths, bytes });
        }
        events
    }

    async fn on_signal(&mut self, signal: Signal) {
        let Signal::Commit(points) = signal else { return };
        let Some(point) = points.iter().find(|p| p.partition == 0) else { return };
        while self.held.front().is_some_and(|h| h.end <= point.offset) {
            let Some(held) = self.held.pop_front() else { break };
            self.bytes_ahead -= held.bytes;
            remove(&held.paths).await;
        }
    }
}

async fn remove(paths: &[PathBuf]) {
    for path in paths {
        // A mapping made before this still reads the (unlinked) file.
        let _ = tokio::fs::remove_file(path).await;
    }
}
