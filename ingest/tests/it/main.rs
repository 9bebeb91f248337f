//! The ingest crate's integration tests.

mod queue;
mod store_feed;
