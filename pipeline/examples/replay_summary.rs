//! Runs the Argus dataflow over a replay root and prints one line per finished batch and
//! the fleet's Top-3, using an in-memory report writer.
//!
//! ```text
//! cargo run -p argus-pipeline --example replay_summary -- ../shared/spec/vectors/data 2
//! ```
//! (the second argument is the number of worker threads).

use std::sync::{Arc, Mutex};

use argus_pipeline::{
    BatchAck, ClusterConfig, DataflowConfig, Feed, FeedEvent, FileReady, FinishedBatch, FleetReport, Job,
    LocalResolver, Metrics, ReportWriter, SinkError, VecFeed,
};

/// Prints batches as they finish; keeps the latest fleet report.
struct Printer {
    fleet: Arc<Mutex<Option<FleetReport>>>,
}

impl ReportWriter for Printer {
    fn write_batch(&mut self, batch: Arc<FinishedBatch>, ack: BatchAck) {
        let r = &batch.report;
        let top = r.top_errors.first().map_or("-", |t| t.code.as_str());
        println!("{} {:?} files={} records={} top={top}", r.batch_id, r.status, r.files.len(), r.records);
        ack.durable();
    }

    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        *self.fleet.lock().unwrap() = Some(fleet.clone());
        Ok(())
    }
}

/// Lists ROOT/<batch>/*.rec as feed events (the `argus` command uses a lazy listing).
fn events(root: &str) -> std::io::Result<Vec<FeedEvent>> {
    let mut events = Vec::new();
    for batch in std::fs::read_dir(root)? {
        let batch = batch?.path();
        let id = batch.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&batch)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rec"))
            .collect();
        files.sort();
        if files.is_empty() {
            events.push(FeedEvent::EmptyBatch { batch_id: id });
            continue;
        }
        for path in &files {
            events.push(FeedEvent::File(FileReady {
                batch_id: id.clone(),
                file_id: path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                location: path.to_string_lossy().into_owned(),
                file_count: files.len() as u32,
                size: std::fs::metadata(path).ok().map(|m| m.len()),
                position: None,
            }));
        }
    }
    Ok(events)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: replay_summary ROOT [WORKERS]")?;
    let workers: usize = args.next().map_or(Ok(1), |w| w.parse())?;
    let feed = Mutex::new(Some(Box::new(VecFeed::new(events(&root)?)) as Box<dyn Feed + Send>));
    let fleet = Arc::new(Mutex::new(None));
    let writer_fleet = fleet.clone();
    argus_pipeline::run(Job {
        dataflow: DataflowConfig::default(),
        cluster: ClusterConfig::single(workers),
        // Only worker 0 reads the input; the others parse what the exchange gives them.
        feeds: Arc::new(
            move |index, _| if index == 0 { feed.lock().unwrap().take().map(|f| f as _) } else { None },
        ),
        writers: Arc::new(move |_| Ok(vec![Box::new(Printer { fleet: writer_fleet.clone() }) as _])),
        resolver: Arc::new(LocalResolver),
        metrics: Arc::new(Metrics::default()),
        fleet_seed: Vec::new(),
    })?;
    if let Some(fleet) = fleet.lock().unwrap().as_ref() {
        println!("fleet: {} batches, {} records", fleet.batches, fleet.records);
        for top in fleet.top_errors.iter().take(3) {
            println!("  {} x{} in {} batches", top.code, top.count, top.batches);
        }
    }
    Ok(())
}
