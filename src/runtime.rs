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

/// Runs one command's async body to its end on a single-thread runtime: for the short
/// store commands (`migrate`, `prune`), which have nothing to run beside it.
pub fn run_to_end<F: Future>(body: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(body))
}
