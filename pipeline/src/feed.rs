//! The source boundary: a [`Feed`] tells the source operator which files of which batches
//! are ready. Replay lists a directory or object-store prefix; the live service feeds
//! Kafka events or an in-process queue. The operator around it is the same.

use std::sync::mpsc::{Receiver, TryRecvError};

use timely::scheduling::SyncActivator;

use crate::items::{FileReady, Position};

/// An event a feed produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A file is ready (repeats are expected and ignored).
    File(FileReady),
    /// A batch that has no files at all (an empty archived batch): reported as failed.
    EmptyBatch { batch_id: String },
    /// Input the feed consumed that carries nothing for the dataflow (a message sent to
    /// the dead-letter topic, an event of a batch the store already holds): only its
    /// position counts, so that commit points move past it.
    Passed(Position),
}

impl FeedEvent {
    /// The batch the event belongs to.
    pub fn batch_id(&self) -> Option<&str> {
        match self {
            FeedEvent::File(file) => Some(&file.batch_id),
            FeedEvent::EmptyBatch { batch_id } => Some(batch_id),
            FeedEvent::Passed(_) => None,
        }
    }
}

/// Whether a feed may produce more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// More events may be ready right now: poll again soon.
    Ready,
    /// Nothing ready now; more may come later.
    Idle,
    /// Nothing more will ever come.
    Finished,
}

/// A source of file-ready events, polled by the source operator on the worker that owns it.
pub trait Feed {
    /// Appends about `max` ready events to `out` without blocking for long. A feed that
    /// lists whole batches may complete the batch it started, so `poll(1, ..)` may give
    /// all the files of one batch; the source asks for one batch at a time this way.
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState;

    /// Every batch that entered the dataflow before `time` is durably written. Called on
    /// every activation of the source (monitoring, tests); a feed that acknowledges its
    /// input uses [`Feed::commit`] instead. Default: nothing to do.
    fn durable_before(&mut self, _time: u64) {}

    /// New commit points: for each partition, the lowest position whose batch is not yet
    /// durably written (or the next position to read when there is none). Everything
    /// below a commit point is in the store; a feed that acknowledges its input records
    /// them. Called only when a point moved forward. Default: nothing to do.
    fn commit(&mut self, _points: &[Position]) {}

    /// Called once, when the source is built: a feed filled from another thread wakes
    /// the source with this when events arrive, instead of waiting for its idle tick.
    fn wake_with(&mut self, _activator: SyncActivator) {}

    /// Called once the feed has finished and every batch whose files all arrived is
    /// durable: what remains open is incomplete, and its events stay below the commit
    /// points, to be read again after a restart. A service that is shutting down may stop
    /// here. Default: nothing to do.
    fn drained(&mut self) {}
}

/// An in-process queue: events sent on the channel enter the dataflow; dropping every
/// sender finishes the feed. It serves the embedded service and tests.
#[derive(Debug)]
pub struct ChannelFeed {
    rx: Receiver<FeedEvent>,
}

impl ChannelFeed {
    pub fn new(rx: Receiver<FeedEvent>) -> Self {
        Self { rx }
    }
}

impl Feed for ChannelFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        for _ in 0..max {
            match self.rx.try_recv() {
                Ok(event) => out.push(event),
                Err(TryRecvError::Empty) => return FeedState::Idle,
                Err(TryRecvError::Disconnected) => return FeedState::Finished,
            }
        }
        FeedState::Ready
    }
}

/// A feed over a fixed list of events (tests, small replays).
#[derive(Debug, Default)]
pub struct VecFeed {
    events: std::collections::VecDeque<FeedEvent>,
}

impl VecFeed {
    pub fn new(events: impl IntoIterator<Item = FeedEvent>) -> Self {
        Self { events: events.into_iter().collect() }
    }
}

impl Feed for VecFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        let n = max.min(self.events.len());
        out.extend(self.events.drain(..n));
        if self.events.is_empty() { FeedState::Finished } else { FeedState::Ready }
    }
}
