//! Getting rec files to the dataflow: replay listings of a directory or object-store
//! prefix (objects spooled by a task, never on a worker), and the live feeds: the Kafka
//! consumer of `argus pipeline` and the embedded queue of `argus serve`, which share one
//! intake (checks, fetch, status steps) and hand events to the workers through
//! [`TaskFeed`]s. The upload API publishes through [`Publish`].

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
