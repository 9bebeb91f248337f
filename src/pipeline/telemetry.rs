//! The pipeline's Prometheus endpoint: the exporter serves `/metrics` on the address the
//! operator chose; the dataflow's process-wide counters are copied into it every second
//! (the Kafka feed and the store writer record their own metrics directly).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use argus_pipeline::Metrics;
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::runtime::Runtime;

/// Latency buckets (seconds) of the first-event-to-stored histogram: the goal is 1 s.
const LATENCY_BUCKETS: [f64; 12] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0];

/// Serves `/metrics` at `addr` and starts copying `metrics` into it.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>, runtime: &Runtime) -> anyhow::Result<()> {
    let _guard = runtime.enter();
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("argus_batch_latency_seconds".into()),
            &LATENCY_BUCKETS,
        )
        .context("latency buckets")?
        .install()
        .with_context(|| format!("serving metrics on {addr}"))?;
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            copy_counters(&metrics);
        }
    });
    Ok(())
}

fn copy_counters(m: &Metrics) {
    let counters = [
        ("argus_batches_stored_total", &m.batches_finished),
        ("argus_batches_failed_total", &m.batches_failed),
        ("argus_files_rejected_total", &m.files_rejected),
        ("argus_files_partial_total", &m.files_partial),
        ("argus_bytes_parsed_total", &m.bytes_parsed),
        ("argus_records_parsed_total", &m.records_parsed),
        ("argus_store_write_retries_total", &m.store_write_retries),
    ];
    for (name, value) in counters {
        metrics::counter!(name).absolute(Metrics::get(value));
    }
}
