//! Progress of a long run: a bar (batches, bytes, MB/s) when stderr is a terminal, a log
//! line every few seconds otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use argus_pipeline::Metrics;
use indicatif::{ProgressBar, ProgressStyle};

/// How often the display refreshes.
const REFRESH: Duration = Duration::from_millis(200);

/// A running progress display; [`Progress::finish`] stops it.
pub struct Progress {
    /// Dropping it wakes and stops the thread at once, not at its next refresh.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn start(metrics: Arc<Metrics>) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let terminal = std::io::stderr().is_terminal();
            let bar = terminal.then(|| {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            });
            let mut last_log = Instant::now();
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH) {
                let line = status_line(&metrics, started.elapsed());
                match &bar {
                    Some(bar) => bar.set_message(line),
                    None if last_log.elapsed() >= Duration::from_secs(5) => {
                        last_log = Instant::now();
                        tracing::info!("{line}");
                    }
                    None => {}
                }
            }
            if let Some(bar) = bar {
                bar.finish_with_message(status_line(&metrics, started.elapsed()));
            }
        });
        Self { stop: Some(stop), thread: Some(thread) }
    }

    pub fn finish(mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn status_line(metrics: &Metrics, elapsed: Duration) -> String {
    let bytes = Metrics::get(&metrics.bytes_parsed);
    let mb_per_s = bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "batches {} ({} failed), ranges {}, {:.1} MB parsed, {:.1} MB/s",
        Metrics::get(&metrics.batches_finished),
        Metrics::get(&metrics.batches_failed),
        Metrics::get(&metrics.ranges_parsed),
        bytes as f64 / 1e6,
        mb_per_s
    )
}
