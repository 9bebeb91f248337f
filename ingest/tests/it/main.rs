//! The ingest crate's integration tests.

mod store_feed;
