//! The embedded deployment's queue (`argus serve` without Kafka): the upload API puts a
//! completed batch's file-ready events on it, and one task admits them through the same
//! [`Intake`] as the Kafka feed and hands them to the dataflow (one worker's feed: the
//! embedded service is one process). The store makes it durable: a batch is `uploaded`
//! before its events are queued, and at start the service queues again the events of every
//! batch that is not final; repeats change nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_pipeline::{FeedEvent, Position};
use futures::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{self, Sender, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::event::FileReadyEvent;
use crate::intake::{Admitted, Intake};
use crate::ledger::Ledger;
use crate::objects::ObjectRoot;
use crate::publish::{Publish, PublishError};
use crate::task_feed::{Signal, TaskFeed, Waker};

/// Events buffered for the dataflow before the queue stops admitting more.
const FEED_CAPACITY: usize = 1024;

/// Where the API puts events; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventQueue {
    tx: UnboundedSender<Vec<FileReadyEvent>>,
}

/// The queue is gone (the service is stopping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event queue is closed")]
pub struct QueueClosed;

impl EventQueue {
    /// Queues a batch's events; they are admitted in order.
    pub fn push(&self, events: Vec<FileReadyEvent>) -> Result<(), QueueClosed> {
        self.tx.send(events).map_err(|_| QueueClosed)
    }
}

impl Publish for EventQueue {
    fn publish<'a>(&'a self, events: &'a [FileReadyEvent]) -> BoxFuture<'a, Result<(), PublishError>> {
        let pushed =
            self.push(events.to_vec()).map_err(|closed| PublishError::Unavailable(closed.to_string()));
        Box::pin(std::future::ready(pushed))
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        let open = if self.tx.is_closed() {
            Err(PublishError::Unavailable(QueueClosed.to_string()))
        } else {
            Ok(())
        };
        Box::pin(std::future::ready(open))
    }
}

/// The running queue: the dataflow's feed (taken once) and the task behind it.
#[derive(Debug)]
pub struct QueueIngest {
    pub feed: Option<TaskFeed>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl QueueIngest {
    /// Starts the queue's task on `handle`.
    pub fn start<L: Ledger>(ledger: Arc<L>, root: ObjectRoot, handle: &Handle) -> (EventQueue, Self) {
        let (tx, queued) = mpsc::unbounded_channel();
        let (events, feed_events) = mpsc::channel(FEED_CAPACITY);
        let (signals, signal_rx) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let waker = Waker::default();
        let task = QueueTask {
            intake: Intake::new(ledger, root),
            queued,
            events: Some(events),
            waker: waker.clone(),
            signals: signal_rx,
            shutdown: shutdown_rx,
            next_offset: 0,
        };
        let task = handle.spawn(task.run());
        let feed = TaskFeed { events: feed_events, signals, waker };
        (EventQueue { tx }, Self { feed: Some(feed), shutdown, task })
    }

    /// Stops admitting events: the feed finishes, the dataflow writes the batches whose
    /// files are all in, and the task ends once the source has drained.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits for the task to end.
    pub async fn stopped(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "event queue task failed");
        }
    }
}

struct QueueTask<L> {
    intake: Intake<L>,
    queued: UnboundedReceiver<Vec<FileReadyEvent>>,
    /// `None` once the queue stopped admitting: the feed then finishes.
    events: Option<Sender<FeedEvent>>,
    waker: Waker,
    signals: UnboundedReceiver<Signal>,
    shutdown: watch::Receiver<bool>,
    /// The position of the next event (one partition, 0): commit points say which
    /// batches are durable, so that the intake forgets them.
    next_offset: i64,
}

impl<L: Ledger> QueueTask<L> {
    async fn run(mut self) {
        loop {
            let reading = self.events.is_some();
            tokio::select! {
                biased;
                signal = self.signals.recv() => match signal {
                    Some(Signal::Commit(points)) => {
                        let committed: BTreeMap<i32, i64> = points.iter().map(|p| (p.partition, p.offset)).collect();
                        self.intake.forget_committed(&committed).await;
                    }
                    // The dataflow wrote what was complete; nothing more will come back.
                    Some(Signal::Drained) | None => break,
                },
                changed = self.shutdown.changed(), if reading => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        self.stop_reading();
                    }
                }
                batch = self.queued.recv(), if reading => match batch {
                    Some(events) => {
                        for event in events {
                            self.admit(event).await;
                        }
                    }
                    None => self.stop_reading(), // every producer is gone
                },
            }
        }
        tracing::info!("event queue stopped");
    }

    async fn admit(&mut self, event: FileReadyEvent) {
        let at = Position { partition: 0, offset: self.next_offset };
        self.next_offset += 1;
        metrics::counter!("argus_queue_events_total").increment(1);
        let feed_event = match self.intake.admit(event, at).await {
            Admitted::File(file) => FeedEvent::File(file),
            Admitted::Passed => FeedEvent::Passed(at),
            Admitted::Poison(poison) => {
                // The API checked the event; what fails here (an object gone since) leaves
                // the batch short of files, to fail at its timeout naming the missing count.
                tracing::warn!(reason = %poison, "queued event rejected");
                metrics::counter!("argus_queue_rejected_total", "reason" => poison.kind()).increment(1);
                FeedEvent::Passed(at)
            }
        };
        let Some(events) = &self.events else { return };
        if events.send(feed_event).await.is_ok() {
            self.waker.wake();
        }
    }

    fn stop_reading(&mut self) {
        tracing::info!("event queue stops admitting");
        self.events = None;
        self.waker.wake();
    }
}
