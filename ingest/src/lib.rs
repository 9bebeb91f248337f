//! Getting rec files to the dataflow: replay listings of a directory or object-store
//! prefix, spooling objects that are not on local disk, and the Kafka feed of the
//! streaming pipeline with its producer. The upload API publishes
//! through [`Publish`].

pub mod dir_feed;
pub mod event;
pub mod intake;
pub mod kafka;
pub mod ledger;
pub mod object_listing;
pub mod object_store;
pub mod objects;
pub mod publish;
pub mod queue;
pub mod spool;
pub mod store_feed;
pub mod task_feed;
pub mod tracker;

pub use dir_feed::DirFeed;
pub use object_store::{StoreAt, StoreUrlError, open_url};
pub use publish::{KafkaPublisher, Publish, PublishError};
pub use store_feed::{SpoolConfig, StoreFeed};
pub use task_feed::TaskFeed;
