//! Getting rec files to the dataflow: replay listings of a directory or object-store
//! prefix, and spooling objects that are not on local disk. (The upload API, the Kafka
//! producer and consumer, and the in-process queue of the live service join them here.)

pub mod dir_feed;
pub mod object_store;
pub mod spool;
pub mod store_feed;

pub use dir_feed::DirFeed;
pub use object_store::{StoreAt, StoreUrlError, open_url};
pub use spool::SpoolResolver;
pub use store_feed::StoreFeed;
