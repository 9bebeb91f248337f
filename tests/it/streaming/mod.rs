//! `argus pipeline` against a real Kafka broker and real PostgreSQL: streaming gives the
//! replay's reports, whatever the workers, processes, crashes and poison in between.

mod crashes;
mod equals_replay;
pub(crate) mod harness;
mod poison;
mod shutdown;
mod two_hosts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::*;

use crate::broker::KafkaBroker;

use crate::util::{copy_tree, generate, vector_root};

/// A root with the conformance vectors and a generated fleet of `batches` batches.
fn fleet_root(into: &Path, batches: u32) -> PathBuf {
    let root = into.join("root");
    generate(
        &root,
        &format!("--batches {batches} --files-per-batch 2 --size 24KiB --seed 11 --corrupt 0.05"),
    );
    copy_tree(&vector_root(into), &root);
    root
}

pub fn pipeline_args(
    broker: &crate::broker::KafkaBroker,
    url: &str,
    root: &Path,
    log: &Path,
) -> PipelineArgs {
    PipelineArgs {
        brokers: broker.bootstrap(),
        database_url: url.to_owned(),
        object_store: root.to_owned(),
        log: log.to_owned(),
        extra: Vec::new(),
    }
}

/// A fleet published on a broker of its own: the conformance vectors and `batches`
/// generated batches over `partitions` partitions, and what `argus replay` makes of them.
pub struct Published {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    /// The batches with files (an empty batch has no file to announce).
    pub ids: Vec<String>,
    pub replayed: Replayed,
    pub broker: KafkaBroker,
    pub partitions: i32,
}

impl Published {
    pub fn new(batches: u32, partitions: i32) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = fleet_root(tmp.path(), batches);
        let broker = broker_with_topics(partitions);
        publish(&broker, &root);
        Self { ids: batches_with_files(&root), replayed: replay(&root), root, tmp, broker, partitions }
    }

    /// Arguments of a pipeline over this fleet, logging to `log` in the temp dir.
    pub fn args(&self, database_url: &str, log: &str) -> PipelineArgs {
        pipeline_args(&self.broker, database_url, &self.root, &self.tmp.path().join(log))
    }

    /// Checks the store against the replay: every batch with files reported exactly as
    /// the replay reports it, the fleet the same (the store's query and the dataflow's
    /// own report), and the commit points at the end of the topic.
    pub async fn assert_stored(&self, store: &argus_sinks::Store, what: &str) {
        assert_matches_replay(store, &self.replayed, &self.ids, &self.broker, self.partitions, what).await;
    }
}

async fn assert_matches_replay(
    store: &argus_sinks::Store,
    replayed: &Replayed,
    ids: &[String],
    broker: &KafkaBroker,
    partitions: i32,
    what: &str,
) {
    let stored = stored_reports(store, ids).await;
    for id in ids {
        assert_eq!(stored.get(id), replayed.reports.get(id), "{what}: batch {id}");
    }
    assert_eq!(stored_fleet(store).await, replayed.fleet, "{what}: the fleet query over the stored batches");
    // The dataflow's own fleet report (re-seeded from the store after each restart):
    // equal to the replay's only if no batch was counted twice or lost.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = store.get_fleet_report_json(argus_sinks::store::FleetView::AllTime).await.unwrap();
        let fleet: Option<argus_pipeline::FleetReport> = row.map(|json| serde_json::from_str(&json).unwrap());
        if fleet.as_ref() == Some(&replayed.fleet) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: the dataflow's fleet report {fleet:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ends = end_offsets(broker, TOPIC, partitions);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stored_offsets(store).await != ends {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: commit points {:?} never reached {ends:?}",
            stored_offsets(store).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
