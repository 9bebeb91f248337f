//! The tokio runtime of the subcommands that talk to stores, object stores and Kafka: two
//! threads beside the timely workers, which never run async code themselves.

use anyhow::Context;
use tokio::runtime::Runtime;

pub fn start() -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")
}
