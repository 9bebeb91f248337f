//! Batch writes: complete and idempotent, offsets monotone, bad input refused whole.

use std::sync::Arc;
use std::time::Duration;

use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{BatchState, KafkaOffset, WriteOutcome, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

const TABLES: [(&str, &str); 5] = [
    ("batches", "batch_id"),
    ("files", "batch_id, file_id"),
    ("reports", "batch_id"),
    ("batch_codes", "batch_id, code"),
    ("diagnoses", "batch_id"),
];

async fn snapshot(db: &TestDb) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for (table, order) in TABLES {
        all.push(db.dump(table, order).await);
    }
    all
}

async fn rewrite_changes_nothing(db: &TestDb) {
    let diagnoser = Diagnoser::rules_only();
    let batch =
        synthetic("b-1", "WVW00000000000001", &[("P0301-00", 120), ("U0100-87", 4), ("APP-07E0-7", 2)]);
    let outcome = write_finished_batch(&db.store, &diagnoser, &batch, &[]).await.expect("first write");
    assert_eq!(outcome, WriteOutcome::Written(BatchState::Completed));
    let before = snapshot(db).await;
    assert_eq!(before[0].len(), 1);
    assert_eq!(before[1].len(), 1);
    assert_eq!(before[3].len(), 3);

    // Again through the writer path, and straight through the store with another diagnosis.
    let again = write_finished_batch(&db.store, &diagnoser, &batch, &[]).await.expect("second write");
    assert_eq!(again, WriteOutcome::AlreadyFinal(BatchState::Completed));
    let mut other = diagnoser.rules(&batch);
    other.summary.text = "a different text".into();
    let direct = db.store.write_batch(&batch, &other).await.expect("third write");
    assert_eq!(direct, WriteOutcome::AlreadyFinal(BatchState::Completed));
    assert_eq!(snapshot(db).await, before, "a rewrite changed stored rows");

    let stored = db.store.get_report(&batch.report.batch_id).await.expect("read").expect("report");
    assert_eq!(stored, batch.report);
    let json = db.store.get_report_json("b-1").await.expect("read").expect("json");
    assert_eq!(json, serde_json::to_string(&batch.report).expect("serialize"), "document bytes kept");
    let diagnosis = db.store.get_diagnosis("b-1").await.expect("read").expect("diagnosis");
    assert_eq!(diagnosis, diagnoser.rules(&batch));
}
both_backends!(idempotent_rewrite, rewrite_changes_nothing);

async fn pending_batch_walks_to_completed(db: &TestDb) {
    assert!(db.store.create_batch("b-2", Some("car-17"), Some("WVW00000000000002")).await.expect("create"));
    assert!(!db.store.create_batch("b-2", Some("car-18"), None).await.expect("create again"));
    assert_eq!(db.store.get_status("b-2").await.expect("status"), Some(BatchState::Pending));
    let batch = synthetic("b-2", "WVW00000000000002", &[("P0171-00", 3)]);
    let outcome =
        write_finished_batch(&db.store, &Diagnoser::rules_only(), &batch, &[]).await.expect("write");
    assert_eq!(outcome, WriteOutcome::Written(BatchState::Completed));
    let stored = db.store.get_batch("b-2").await.expect("read").expect("batch");
    assert_eq!(stored.status, BatchState::Completed);
    assert_eq!(stored.vehicle_id.as_deref(), Some("car-17"), "the API's vehicle id is kept");
    assert_eq!(stored.firmware.as_deref(), Some("fw-1.0"));
    assert_eq!(stored.files.len(), 1);
    assert_eq!(stored.files[0].entry, batch.report.files[0]);
    assert_eq!(stored.files[0].uri.as_deref(), Some("batches/b-2/seg-00.rec"));
    assert_eq!(stored.files[0].sha256, None);
    assert_eq!((stored.records, stored.error_events), (batch.report.records, 3));
}
both_backends!(pending_batch, pending_batch_walks_to_completed);

async fn failed_batch_is_stored_with_its_reason(db: &TestDb) {
    let mut batch = synthetic("b-3", "WVW00000000000003", &[]);
    batch.report = argus_pipeline::report::assemble_batch("b-3", 10, Vec::new()).report;
    batch.meta.failure = Some("batch has no files".into());
    let outcome =
        write_finished_batch(&db.store, &Diagnoser::rules_only(), &batch, &[]).await.expect("write");
    assert_eq!(outcome, WriteOutcome::Written(BatchState::Failed));
    let stored = db.store.get_batch("b-3").await.expect("read").expect("batch");
    assert_eq!(stored.failure.as_deref(), Some("batch has no files"));
    assert_eq!((stored.first_ts_ns, stored.files.len()), (None, 0));
    assert_eq!(db.store.get_report("b-3").await.expect("read"), Some(batch.report));
}
both_backends!(failed_batch, failed_batch_is_stored_with_its_reason);

async fn offsets_only_move_forward(db: &TestDb) {
    let diagnoser = Diagnoser::rules_only();
    let offset = |p, n| KafkaOffset { topic: "argus.files.ready".into(), partition: p, next_offset: n };
    let batch = synthetic("b-4", "WVW00000000000004", &[("P0420-00", 1)]);
    write_finished_batch(&db.store, &diagnoser, &batch, &[offset(0, 10), offset(1, 5)]).await.expect("write");
    db.store.commit_offsets(&[offset(0, 7)]).await.expect("older offset");
    let stored = db.store.kafka_offsets("argus.files.ready").await.expect("offsets");
    assert_eq!(stored, [offset(0, 10), offset(1, 5)]);
    // A replayed batch (already final) still carries its offsets forward.
    write_finished_batch(&db.store, &diagnoser, &batch, &[offset(1, 9)]).await.expect("rewrite");
    let stored = db.store.kafka_offsets("argus.files.ready").await.expect("offsets");
    assert_eq!(stored, [offset(0, 10), offset(1, 9)]);
    assert!(db.store.kafka_offsets("other").await.expect("offsets").is_empty());
}
both_backends!(offsets, offsets_only_move_forward);

async fn inconsistent_batch_writes_nothing(db: &TestDb) {
    let mut batch = synthetic("b-5", "WVW00000000000005", &[("P0301-00", 5)]);
    batch.code_counts[0].1 = 4;
    let diagnosis = Diagnoser::rules_only().rules(&batch);
    let err = db.store.write_batch(&batch, &diagnosis).await.unwrap_err();
    assert!(err.to_string().contains("code counts add up to 4"), "{err}");
    // A file whose counts contradict its status: the database refuses, the transaction
    // rolls back, and no trace of the batch remains.
    let mut batch = synthetic("b-6", "WVW00000000000006", &[("P0301-00", 5)]);
    batch.report.files[0].stats.error = Some("should not be here".into());
    let err = db.store.write_batch(&batch, &diagnosis).await.unwrap_err();
    assert!(err.is_constraint_violation(), "{err}");
    assert_eq!(db.store.get_status("b-6").await.expect("status"), None);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM batch_codes").await, 0);
}
both_backends!(inconsistent_batch, inconsistent_batch_writes_nothing);

async fn checks_refuse_raw_rows(db: &TestDb) {
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('raw', 'uploaded')").await.expect("insert");
    let refused = [
        "UPDATE batches SET error_events = 5, records = 4, first_ts_ns = 1, last_ts_ns = 1 WHERE batch_id = 'raw'",
        "UPDATE batches SET records = -1 WHERE batch_id = 'raw'",
        "UPDATE batches SET first_ts_ns = 5, last_ts_ns = 4, records = 1 WHERE batch_id = 'raw'",
        "UPDATE batches SET failure = 'x' WHERE batch_id = 'raw'",
        "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('raw', 'f', 10, 'rejected', 'bad header', 3, 0, 0, 0, 0, false)",
        "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('raw', 'f', 10, 'rejected', NULL, 0, 0, 0, 0, 0, false)",
        "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('raw', 'f', 10, 'ok', NULL, 3, 0, 1, -1, 0, false)",
        "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('raw', 'f', 10, 'partial', NULL, 3, 0, 1, 0, 0, false)",
        "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('nope', 'f', 10, 'ok', NULL, 3, 0, 1, 0, 0, false)",
        "INSERT INTO batch_codes (batch_id, code, events) VALUES ('raw', 'P0301-00', 0)",
        "INSERT INTO diagnoses (batch_id, source, fallback_reason, risk, document) VALUES ('raw', 'llm', 'x', 'low', '{}')",
        "INSERT INTO diagnoses (batch_id, source, risk, document) VALUES ('raw', 'rules', 'extreme', '{}')",
        "INSERT INTO kafka_offsets (topic, partition_id, next_offset) VALUES ('t', 0, -1)",
    ];
    for sql in refused {
        assert!(db.exec(sql).await.is_err(), "accepted: {sql}");
    }
    let accepted = "INSERT INTO files (batch_id, file_id, bytes, status, error, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('raw', 'f', 10, 'rejected', 'bad header', 0, 0, 0, 0, 0, false)";
    db.exec(accepted).await.expect("a well-formed rejected file");
}
both_backends!(raw_checks, checks_refuse_raw_rows);

/// The pipeline calls the writer from a plain (timely worker) thread: `write_batch`
/// returns at once, the batch is stored on the runtime the store was opened on and
/// acknowledged once committed.
async fn report_writer_from_a_worker_thread(db: &TestDb) {
    use argus_pipeline::sink::ReportWriter;

    let mut writer = argus_sinks::StoreWriter::new(
        db.store.clone(),
        Arc::new(Diagnoser::rules_only()),
        tokio::runtime::Handle::current(),
        Arc::new(argus_pipeline::Metrics::default()),
    );
    let batch = synthetic("w-1", "WVW0000000000000W", &[("P0301-00", 2)]);
    let fleet = argus_pipeline::report::FleetReport::from_batches([&batch], 10);
    let written = Arc::new(batch.clone());
    tokio::task::spawn_blocking(move || {
        for what in ["write", "rewrite"] {
            let (ack, watch) = argus_pipeline::BatchAck::standalone();
            writer.write_batch(written.clone(), ack);
            watch.wait(Duration::from_secs(30)).expect(what).expect(what);
        }
        writer.write_fleet(&fleet).expect("fleet");
    })
    .await
    .expect("worker thread");
    assert_eq!(db.store.get_report("w-1").await.expect("read"), Some(batch.report));
    assert_eq!(db.store.get_status("w-1").await.expect("status"), Some(BatchState::Completed));
}
both_backends!(report_writer, report_writer_from_a_worker_thread);

/// A batch the store refuses fails its ack at once: no retries, nothing stored, and the
/// pipeline stops the run instead of spinning on it.
async fn refused_batch_fails_its_ack(db: &TestDb) {
    use argus_pipeline::sink::ReportWriter;

    let metrics = Arc::new(argus_pipeline::Metrics::default());
    let mut writer = argus_sinks::StoreWriter::new(
        db.store.clone(),
        Arc::new(Diagnoser::rules_only()),
        tokio::runtime::Handle::current(),
        metrics.clone(),
    );
    let mut batch = synthetic("w-bad", "WVW0000000000000W", &[("P0301-00", 2)]);
    batch.report.error_events += 1; // the code counts no longer add up
    let outcome = tokio::task::spawn_blocking(move || {
        let (ack, watch) = argus_pipeline::BatchAck::standalone();
        writer.write_batch(Arc::new(batch), ack);
        watch.wait(Duration::from_secs(30))
    })
    .await
    .expect("worker thread");
    let error = outcome.expect("acknowledged").expect_err("refused");
    assert!(error.to_string().contains("invalid batch w-bad"), "{error}");
    assert_eq!(argus_pipeline::Metrics::get(&metrics.store_write_retries), 0);
    assert_eq!(db.store.get_report("w-bad").await.expect("read"), None);
}
both_backends!(refused_batch, refused_batch_fails_its_ack);
