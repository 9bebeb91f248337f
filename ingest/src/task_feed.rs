//! The worker's side of a feed that a task on the tokio runtime fills (the Kafka
//! consumer, the object-store replay): a channel polled by the source operator without
//! blocking; commit points and the drained signal go back to the task, which acts on them
//! (the worker never waits on the store, the broker or an object store).

use std::sync::{Arc, Mutex};

use argus_pipeline::{Feed, FeedEvent, FeedState, Position};
use timely::scheduling::SyncActivator;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{Receiver, UnboundedSender};

/// What a worker's feed tells its task.
#[derive(Debug)]
pub enum Signal {
    /// Commit points of the worker's partitions moved forward.
    Commit(Vec<Position>),
    /// The worker's source finished and everything complete is durable.
    Drained,
}

/// Wakes the source of a worker when the task hands it events.
#[derive(Debug, Clone, Default)]
pub struct Waker(Arc<Mutex<Option<SyncActivator>>>);

impl Waker {
    pub fn wake(&self) {
        if let Some(activator) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = activator.activate(); // fails only once the worker is gone
        }
    }
}

/// A [`Feed`] over the events a task hands one worker (for Kafka: those of the
/// partitions the worker owns).
#[derive(Debug)]
pub struct TaskFeed {
    pub(crate) events: Receiver<FeedEvent>,
    pub(crate) signals: UnboundedSender<Signal>,
    pub(crate) waker: Waker,
}

impl Feed for TaskFeed {
    fn poll(&mut self, max: usize, out: &mut Vec<FeedEvent>) -> FeedState {
        for _ in 0..max {
            match self.events.try_recv() {
                Ok(event) => out.push(event),
                Err(TryRecvError::Empty) => return FeedState::Idle,
                Err(TryRecvError::Disconnected) => return FeedState::Finished,
            }
        }
        FeedState::Ready
    }

    fn commit(&mut self, points: &[Position]) {
        // The task outlives the dataflow; if it is gone the process is stopping anyway.
        let _ = self.signals.send(Signal::Commit(points.to_vec()));
    }

    fn wake_with(&mut self, activator: SyncActivator) {
        *self.waker.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(activator);
    }

    fn drained(&mut self) {
        let _ = self.signals.send(Signal::Drained);
    }
}
