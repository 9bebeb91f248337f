//! Retrying store calls that failed transiently, with capped exponential backoff. A batch
//! whose write keeps failing keeps its time open in the dataflow (its ack is not
//! completed), so retrying forever costs nothing but the wait; it ends when the write
//! succeeds, when the store refuses it for good, or when the run no longer waits for it.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use argus_pipeline::Metrics;

use crate::error::StoreError;

/// How long to wait between attempts: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    /// Quick enough to notice a store that restarts, slow enough not to hammer one that
    /// is down.
    fn default() -> Self {
        Self { first: Duration::from_millis(100), max: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The waits before the second, third, … attempt.
    pub fn delays(self) -> impl Iterator<Item = Duration> {
        std::iter::successors(Some(self.first.min(self.max)), move |d| {
            Some(d.saturating_mul(2).min(self.max))
        })
    }
}

/// Why retrying stopped without a result.
#[derive(Debug)]
pub(crate) enum GaveUp {
    /// Trying again will not help.
    Refused(StoreError),
    /// Nobody waits for the result any more.
    Abandoned,
}

/// Runs `attempt` until it succeeds or fails for good, waiting `backoff` between
/// attempts and counting each retry in `retries`. `awaited` is asked before each wait.
pub(crate) async fn retrying<T, F, Fut>(
    what: &str,
    batch_id: &str,
    backoff: Backoff,
    retries: &AtomicU64,
    awaited: impl Fn() -> bool,
    mut attempt: F,
) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut delays = backoff.delays();
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if !error.is_transient() => return Err(GaveUp::Refused(error)),
            Err(error) => error,
        };
        if !awaited() {
            tracing::warn!(batch_id, what, %error, "store call failed and the run is over, giving up");
            return Err(GaveUp::Abandoned);
        }
        let delay = delays.next().unwrap_or(backoff.max);
        Metrics::add(retries, 1);
        tracing::warn!(batch_id, what, %error, retry_in = ?delay, "store call failed, retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_millis(500) };
        let delays: Vec<u128> = backoff.delays().take(5).map(|d| d.as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
    }
}
