//! Acknowledgements of batch writes. The batch sink hands every finished batch to its
//! writers together with a [`BatchAck`] each, and keeps the batch's time open until every
//! ack came back as durable. A writer may complete its ack from any thread (a database
//! transaction committing on an async runtime, say): the ack travels over a channel and
//! wakes the worker through a timely `SyncActivator`, so the worker never waits for it.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::Duration;

use timely::scheduling::SyncActivator;

use crate::sink::SinkError;

/// Which batch handed to the writers an acknowledgement answers.
pub(crate) type Ticket = u64;

/// What a writer said about one batch.
pub(crate) struct Acked {
    pub ticket: Ticket,
    pub outcome: Result<(), SinkError>,
}

/// The promise a writer makes for one batch: complete it with [`BatchAck::durable`] once
/// the batch is durably stored, or with [`BatchAck::fail`] when it never will be. Until
/// then the batch's time stays open, so nothing downstream (Kafka offsets, the source's
/// backpressure, the end of the run) treats the batch as written. Dropping the ack
/// without completing it counts as a failure: a lost write must not hang the run.
#[must_use = "a batch stays pending until its ack is completed"]
#[derive(Debug)]
pub struct BatchAck {
    ticket: Ticket,
    /// `None` once completed.
    to: Option<Sender<Acked>>,
    /// `None` for a standalone ack, which nobody schedules on.
    wake: Option<SyncActivator>,
    /// Alive as long as the sink waits for acks (the dataflow runs).
    sink: Weak<()>,
}

impl BatchAck {
    /// An ack outside any dataflow and the [`AckWatch`] that sees it completed: to drive a
    /// writer by hand (its tests, tools that store a batch directly).
    pub fn standalone() -> (BatchAck, AckWatch) {
        let (tx, rx) = mpsc::channel();
        let alive = Arc::new(());
        let ack = BatchAck { ticket: 0, to: Some(tx), wake: None, sink: Arc::downgrade(&alive) };
        (ack, AckWatch { rx, _alive: alive })
    }

    /// The batch is durably stored: its time may pass once every writer said so.
    pub fn durable(mut self) {
        self.complete(Ok(()));
    }

    /// The batch cannot be stored, and trying again will not help (the store refuses it):
    /// the run stops with `error`, and the batch's time never becomes durable. Transient
    /// failures are the writer's to retry; they must not end up here.
    pub fn fail(mut self, error: SinkError) {
        self.complete(Err(error));
    }

    /// Whether the dataflow still waits for this ack. False once the run stopped (a fatal
    /// error elsewhere, or the process shutting down): a writer retrying a failed write
    /// may give up then.
    pub fn is_awaited(&self) -> bool {
        self.sink.strong_count() > 0
    }

    fn complete(&mut self, outcome: Result<(), SinkError>) {
        let Some(to) = self.to.take() else { return };
        // Both fail only when the dataflow is gone, and then nobody waits for the answer.
        if to.send(Acked { ticket: self.ticket, outcome }).is_ok() {
            if let Some(wake) = &self.wake {
                let _ = wake.activate();
            }
        }
    }
}

impl Drop for BatchAck {
    fn drop(&mut self) {
        if self.to.is_some() {
            self.complete(Err("the writer dropped the batch without acknowledging it".into()));
        }
    }
}

/// The sink's end: hands out acks and collects what comes back.
pub(crate) struct AckInbox {
    tx: Sender<Acked>,
    rx: Receiver<Acked>,
    wake: SyncActivator,
    alive: Arc<()>,
    next: Ticket,
}

impl AckInbox {
    /// `wake` must activate the operator that drains this inbox.
    pub fn new(wake: SyncActivator) -> Self {
        let (tx, rx) = mpsc::channel();
        Self { tx, rx, wake, alive: Arc::new(()), next: 0 }
    }

    /// A fresh ticket for the next batch.
    pub fn ticket(&mut self) -> Ticket {
        self.next += 1;
        self.next
    }

    /// One writer's ack for the batch of `ticket`.
    pub fn ack(&self, ticket: Ticket) -> BatchAck {
        BatchAck {
            ticket,
            to: Some(self.tx.clone()),
            wake: Some(self.wake.clone()),
            sink: Arc::downgrade(&self.alive),
        }
    }

    /// The acks that came back since the last call, without waiting.
    pub fn drain(&self) -> impl Iterator<Item = Acked> + '_ {
        self.rx.try_iter()
    }
}

/// Sees a [`BatchAck::standalone`] completed; while it lives, the ack is awaited.
#[derive(Debug)]
pub struct AckWatch {
    rx: Receiver<Acked>,
    _alive: Arc<()>,
}

impl AckWatch {
    /// The ack's outcome, once completed within `timeout`; `None` while it is not. A
    /// dropped ack is completed as a failure.
    pub fn wait(&self, timeout: Duration) -> Option<Result<(), SinkError>> {
        match self.rx.recv_timeout(timeout) {
            Ok(acked) => Some(acked.outcome),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }
}
