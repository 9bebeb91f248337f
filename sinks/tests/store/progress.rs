//! `Store::record_progress`: files-parsed progress only moves forward, only while a batch
//! is being worked on, and the batch's final write records what its report holds.

use argus_sinks::BatchState::*;
use argus_sinks::diagnosis::Diagnoser;

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

async fn progress_of(db: &TestDb, id: &str) -> (u32, Option<u32>) {
    let batch = db.store.get_batch(id).await.expect("read").expect("batch");
    (batch.files_parsed, batch.file_count)
}

async fn progress_moves_forward(db: &TestDb) {
    let store = &db.store;
    assert!(!store.record_progress("missing", 1, 2).await.expect("progress"), "an unknown batch");

    store.advance_status("b", Gathering).await.expect("step");
    assert_eq!(progress_of(db, "b").await, (0, None), "nothing parsed yet");
    assert!(store.record_progress("b", 2, 5).await.expect("progress"));
    assert_eq!(progress_of(db, "b").await, (2, Some(5)));
    assert!(!store.record_progress("b", 1, 5).await.expect("late figure"), "never backwards");
    assert!(!store.record_progress("b", 2, 5).await.expect("repeat"), "a repeat changes nothing");
    assert!(store.record_progress("b", 4, 5).await.expect("progress"));
    assert_eq!(progress_of(db, "b").await, (4, Some(5)));

    // The final write records the files its report holds (one, here), whatever came before.
    let diagnoser = Diagnoser::rules_only();
    let done = synthetic("b", "WVW0000000000000B", &[("P0301-00", 3)]);
    store.write_batch(&done, &diagnoser.rules(&done)).await.expect("write");
    assert_eq!(progress_of(db, "b").await, (1, Some(5)), "a batch that stopped short keeps its count");
    assert!(!store.record_progress("b", 5, 5).await.expect("late figure"), "a final batch is left alone");
    assert_eq!(progress_of(db, "b").await, (1, Some(5)));

    let fresh = synthetic("c", "WVW0000000000000C", &[("P0301-00", 1)]);
    store.write_batch(&fresh, &diagnoser.rules(&fresh)).await.expect("write");
    assert_eq!(progress_of(db, "c").await, (1, Some(1)), "a batch written at once");
    assert_eq!(db.store.get_status("c").await.expect("status"), Some(Completed));
}
both_backends!(progress_forward_only, progress_moves_forward);

/// The store writer commits the gather's progress calls off the caller's thread.
async fn writer_commits_progress(db: &TestDb) {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use argus_pipeline::Metrics;
    use argus_pipeline::sink::ReportWriter;
    use argus_sinks::StoreWriter;

    db.store.advance_status("big", Scattering).await.expect("step");
    let diagnoser = Arc::new(Diagnoser::rules_only());
    let metrics = Arc::new(Metrics::default());
    let mut writer =
        StoreWriter::new(db.store.clone(), diagnoser, tokio::runtime::Handle::current(), metrics);
    for parsed in 1..=3 {
        writer.file_parsed("big", parsed, 4);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while progress_of(db, "big").await != (3, Some(4)) {
        assert!(Instant::now() < deadline, "progress not committed: {:?}", progress_of(db, "big").await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
both_backends!(store_writer_commits_progress, writer_commits_progress);
