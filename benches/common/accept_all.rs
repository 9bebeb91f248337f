//! A queue for API benchmarks that measure reads or uploads, not publishing: it accepts
//! every event at once.

use argus_ingest::event::FileReadyEvent;
use argus_ingest::{Publish, PublishError};
use futures::future::BoxFuture;

#[derive(Debug)]
pub struct AcceptAll;

impl Publish for AcceptAll {
    fn publish<'a>(&'a self, _: &'a [FileReadyEvent]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async { Ok(()) })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async { Ok(()) })
    }
}
