//! The database keeps its promises (migration 0006): the statements a person would type by
//! hand are refused, on both backends, and the store's own writes still pass.

use std::time::Duration;

use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{KafkaOffset, NewUpload, Store, StoreError, WriteOutcome, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

const VIN: &str = "WAUZZZ8V1KA000001";
const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every table holding a batch's rows, with its order for a dump.
const BATCH_TABLES: [(&str, &str); 7] = [
    ("batches", "batch_id"),
    ("files", "batch_id, file_id"),
    ("reports", "batch_id"),
    ("batch_codes", "batch_id, code"),
    ("diagnoses", "batch_id"),
    ("completed_codes", "batch_id, code"),
    ("uploads", "batch_id, file_id"),
];

async fn snapshot(db: &TestDb) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for (table, order) in BATCH_TABLES {
        all.push(db.dump(table, order).await);
    }
    all
}

/// Runs `sql` and insists that the database refuses it as a broken rule.
async fn refused(db: &TestDb, sql: &str) {
    match db.exec(sql).await {
        Ok(n) => panic!("accepted ({n} rows): {sql}"),
        Err(e) => {
            let e = StoreError::from(e);
            assert!(e.is_constraint_violation(), "refused, but not as a broken rule: {sql}: {e}");
        }
    }
}

fn is_sqlite(db: &TestDb) -> bool {
    matches!(db.store, Store::Sqlite(_))
}

/// A completed batch `id` written by the store, with an upload, so that every table holds
/// one of its rows.
async fn completed(db: &TestDb, id: &str) {
    assert!(db.store.create_batch(id, Some("car-17"), Some(VIN)).await.expect("create"));
    let upload =
        NewUpload { batch_id: id, file_id: "seg-00.rec", name: "seg-00", bytes: 4096, sha256: SHA, uri: "u" };
    db.store.record_upload(&upload).await.expect("upload");
    db.store.complete_batch(id).await.expect("complete");
    let batch = synthetic(id, VIN, &[("P0301-00", 12), ("U0100-87", 3)]);
    let outcome = write_finished_batch(&db.store, &Diagnoser::rules_only(), &batch, &[]).await;
    assert!(matches!(outcome, Ok(WriteOutcome::Written(_))), "{outcome:?}");
}

fn file_row(batch: &str, file_id: &str) -> String {
    format!(
        "INSERT INTO files (batch_id, file_id, bytes, status, records, error_events, chunks_good, \
         chunks_corrupt, bytes_skipped, truncated) VALUES ('{batch}', '{file_id}', 1, 'ok', 0, 0, 1, 0, 0, false)"
    )
}

fn upload_row(batch: &str, file_id: &str) -> String {
    format!(
        "INSERT INTO uploads (batch_id, file_id, name, bytes, sha256, uri) \
         VALUES ('{batch}', '{file_id}', 'n', 1, '{SHA}', 'u')"
    )
}

async fn final_batches_do_not_change(db: &TestDb) {
    completed(db, "done").await;
    let before = snapshot(db).await;
    assert!(before.iter().all(|rows| rows.len() == 1 || rows.len() == 2), "every table holds the batch");
    for sql in [
        "UPDATE batches SET records = records + 1, error_events = error_events + 1 WHERE batch_id = 'done'",
        "UPDATE batches SET status = 'completed' WHERE batch_id = 'done'",
        "UPDATE batches SET vehicle_id = 'car-18' WHERE batch_id = 'done'",
        "DELETE FROM batches WHERE batch_id = 'done'",
        "INSERT INTO batches (batch_id, status) VALUES ('done', 'pending') \
         ON CONFLICT (batch_id) DO UPDATE SET status = 'pending'",
        &file_row("done", "extra.rec"),
        "UPDATE files SET bytes = bytes + 1 WHERE batch_id = 'done'",
        "DELETE FROM files WHERE batch_id = 'done'",
        "INSERT INTO batch_codes (batch_id, code, events) VALUES ('done', 'P0420-00', 1)",
        "UPDATE batch_codes SET events = events + 1 WHERE batch_id = 'done'",
        "DELETE FROM batch_codes WHERE batch_id = 'done'",
        "UPDATE reports SET k = 1 WHERE batch_id = 'done'",
        "DELETE FROM reports WHERE batch_id = 'done'",
        "UPDATE diagnoses SET risk = 'low' WHERE batch_id = 'done'",
        "DELETE FROM diagnoses WHERE batch_id = 'done'",
        "UPDATE completed_codes SET events = events + 1 WHERE batch_id = 'done'",
        "DELETE FROM completed_codes WHERE batch_id = 'done'",
        "UPDATE uploads SET bytes = 2 WHERE batch_id = 'done'",
        "DELETE FROM uploads WHERE batch_id = 'done'",
    ] {
        refused(db, sql).await;
    }
    if is_sqlite(db) {
        // REPLACE deletes the old row without delete triggers (recursive_triggers is off).
        refused(db, "INSERT OR REPLACE INTO batches (batch_id, status) VALUES ('done', 'pending')").await;
        refused(db, "INSERT OR REPLACE INTO reports (batch_id, k, document, top_errors) VALUES ('done', 0, '{}', '[]')")
            .await;
        refused(db, "INSERT OR REPLACE INTO diagnoses (batch_id, source, risk, document) VALUES ('done', 'rules', 'low', '{}')")
            .await;
        // A plain INSERT OR IGNORE changes nothing, and says so.
        refused(db, "INSERT OR IGNORE INTO batches (batch_id, status) VALUES ('done', 'pending')").await;
    } else {
        refused(db, "TRUNCATE batches CASCADE").await;
        refused(db, "TRUNCATE files").await;
    }
    assert_eq!(snapshot(db).await, before, "a refused statement changed a final batch");
    // The store's own second write of the batch is still a quiet no-op.
    let batch = synthetic("done", VIN, &[("P0301-00", 1)]);
    let again = db.store.write_batch(&batch, &Diagnoser::rules_only().rules(&batch)).await;
    assert!(matches!(again, Ok(WriteOutcome::AlreadyFinal(_))), "{again:?}");

    // A failed batch is final too.
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('gone', 'uploaded')").await.expect("insert");
    db.exec("UPDATE batches SET status = 'failed', failure = 'timed out' WHERE batch_id = 'gone'")
        .await
        .expect("fail");
    refused(db, "UPDATE batches SET failure = 'other' WHERE batch_id = 'gone'").await;
    refused(db, &file_row("gone", "late.rec")).await;
    refused(db, "DELETE FROM batches WHERE batch_id = 'gone'").await;
}
both_backends!(final_batch_immutable, final_batches_do_not_change);

async fn reports_only_for_final_batches(db: &TestDb) {
    let report = |id: &str| {
        format!("INSERT INTO reports (batch_id, k, document, top_errors) VALUES ('{id}', 10, '{{}}', '[]')")
    };
    let diagnosis = |id: &str| {
        format!(
            "INSERT INTO diagnoses (batch_id, source, risk, document) VALUES ('{id}', 'rules', 'low', '{{}}')"
        )
    };
    let posting = |id: &str| {
        format!(
            "INSERT INTO completed_codes (batch_id, code, events, weight) VALUES ('{id}', 'P0301-00', 1, 1)"
        )
    };
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('open', 'pending')").await.expect("insert");
    for status in ["pending", "uploaded", "scattering", "gathering", "diagnosing"] {
        if status != "pending" {
            db.exec(&format!("UPDATE batches SET status = '{status}' WHERE batch_id = 'open'"))
                .await
                .expect("step");
        }
        for sql in [report("open"), diagnosis("open"), posting("open")] {
            refused(db, &sql).await;
        }
    }
    for sql in [report("nobody"), diagnosis("nobody"), posting("nobody")] {
        refused(db, &sql).await;
    }
    // A failed batch has a report and a diagnosis, but no postings.
    db.exec("UPDATE batches SET status = 'failed', failure = 'x' WHERE batch_id = 'open'")
        .await
        .expect("fail");
    refused(db, &posting("open")).await;
    db.exec(&report("open")).await.expect("a final batch takes its report");
    db.exec(&diagnosis("open")).await.expect("a final batch takes its diagnosis");
    refused(db, &report("open")).await;
}
both_backends!(final_rows_need_final_batches, reports_only_for_final_batches);

async fn pruned_ids_never_come_back(db: &TestDb) {
    completed(db, "old").await;
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('open', 'uploaded')").await.expect("open batch");
    assert_eq!(db.store.prunable(Duration::from_secs(3600)).await.expect("count").batches, 0);
    assert_eq!(db.store.prune(Duration::from_secs(3600)).await.expect("prune").batches, 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(db.store.prunable(Duration::from_millis(1)).await.expect("count").batches, 1);
    assert_eq!(db.store.prune(Duration::from_millis(1)).await.expect("prune").batches, 1);

    for (table, _) in BATCH_TABLES {
        let n = db.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE batch_id = 'old'")).await;
        assert_eq!(n, 0, "{table} kept rows of a pruned batch");
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM batches WHERE batch_id = 'open'").await,
        1,
        "open batch pruned"
    );
    assert!(db.store.is_pruned("old").await.expect("tombstone"));
    if is_sqlite(db) {
        assert_eq!(db.scalar("SELECT COUNT(*) FROM prune_in_progress").await, 0, "the prune mark stayed");
    }

    refused(db, "INSERT INTO batches (batch_id, status) VALUES ('old', 'pending')").await;
    refused(db, "INSERT INTO batches (batch_id, status) VALUES ('old', 'uploaded')").await;
    refused(db, "DELETE FROM batch_tombstones").await;
    refused(db, "UPDATE batch_tombstones SET batch_id = 'other'").await;
    let err = db.store.create_batch("old", None, None).await.unwrap_err();
    assert!(err.is_constraint_violation(), "{err}");
    // The pipeline meeting the batch again (events delivered twice) stores nothing.
    let batch = synthetic("old", VIN, &[("P0301-00", 12)]);
    let again = write_finished_batch(&db.store, &Diagnoser::rules_only(), &batch, &[]).await.expect("write");
    assert_eq!(again, WriteOutcome::Pruned);
    let diagnosis = Diagnoser::rules_only().rules(&batch);
    assert_eq!(db.store.write_batch(&batch, &diagnosis).await.expect("write"), WriteOutcome::Pruned);
    assert!(!db.store.advance_status("old", argus_sinks::BatchState::Gathering).await.expect("advance"));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM batches WHERE batch_id = 'old'").await, 0);
}
both_backends!(pruned_batch_stays_pruned, pruned_ids_never_come_back);

async fn offsets_only_move_forward(db: &TestDb) {
    let at = |next_offset| KafkaOffset { topic: "t".into(), partition: 0, next_offset };
    db.store.commit_offsets(&[at(10)]).await.expect("commit");
    for sql in [
        "UPDATE kafka_offsets SET next_offset = 5 WHERE topic = 't'",
        "UPDATE kafka_offsets SET partition_id = 1 WHERE topic = 't'",
        "DELETE FROM kafka_offsets",
        "INSERT INTO kafka_offsets (topic, partition_id, next_offset) VALUES ('t', 0, 3) \
         ON CONFLICT (topic, partition_id) DO UPDATE SET next_offset = excluded.next_offset",
    ] {
        refused(db, sql).await;
    }
    if is_sqlite(db) {
        refused(
            db,
            "INSERT OR REPLACE INTO kafka_offsets (topic, partition_id, next_offset) VALUES ('t', 0, 3)",
        )
        .await;
    } else {
        refused(db, "TRUNCATE kafka_offsets").await;
    }
    // The store's own commit of an older position is a quiet no-op; forward moves pass.
    db.store.commit_offsets(&[at(4)]).await.expect("older commit");
    assert_eq!(db.store.kafka_offsets("t").await.expect("read"), [at(10)]);
    db.exec("UPDATE kafka_offsets SET next_offset = 11 WHERE topic = 't'").await.expect("forward by hand");
    db.store.commit_offsets(&[at(12)]).await.expect("forward");
    assert_eq!(db.store.kafka_offsets("t").await.expect("read"), [at(12)]);
}
both_backends!(offsets_forward_only, offsets_only_move_forward);

async fn transitions_cannot_be_edited(db: &TestDb) {
    for sql in [
        "INSERT INTO batch_status_transitions (from_status, to_status) VALUES ('completed', 'pending')",
        "UPDATE batch_status_transitions SET to_status = 'completed' WHERE from_status = 'new'",
        "DELETE FROM batch_status_transitions WHERE to_status = 'failed'",
    ] {
        refused(db, sql).await;
    }
    if !is_sqlite(db) {
        refused(db, "TRUNCATE batch_status_transitions").await;
    }
    assert_eq!(db.scalar("SELECT COUNT(*) FROM batch_status_transitions").await, 11);
}
both_backends!(transitions_read_only, transitions_cannot_be_edited);

async fn vins_have_the_iso_shape(db: &TestDb) {
    for (i, vin) in
        ["abc", "WAUZZZ8V1KA00000I", "WAUZZZ8V1KA00000O", "wauzzz8v1ka000001", "WAUZZZ8V1KA0000011", ""]
            .iter()
            .enumerate()
    {
        refused(
            db,
            &format!("INSERT INTO batches (batch_id, status, vin) VALUES ('v{i}', 'pending', '{vin}')"),
        )
        .await;
    }
    db.exec(&format!("INSERT INTO batches (batch_id, status, vin) VALUES ('ok', 'pending', '{VIN}')"))
        .await
        .expect("an ISO VIN");
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('none', 'pending')").await.expect("no VIN");
    refused(db, "UPDATE batches SET vin = 'abc' WHERE batch_id = 'ok'").await;
    let err = db.store.create_batch("api", None, Some("abc")).await.unwrap_err();
    assert!(err.is_constraint_violation(), "{err}");
    // A file header may carry any 17 ASCII bytes (rec-format.md): the report keeps them,
    // the batch row keeps no VIN.
    let odd = "wauzzz8v1ka00000?";
    let batch = synthetic("odd", odd, &[("P0301-00", 2)]);
    write_finished_batch(&db.store, &Diagnoser::rules_only(), &batch, &[]).await.expect("write");
    let stored = db.store.get_batch("odd").await.expect("read").expect("batch");
    assert_eq!(stored.vin, None);
    assert_eq!(db.store.get_report("odd").await.expect("read").expect("report").vin.as_deref(), Some(odd));
}
both_backends!(vins_iso_3779, vins_have_the_iso_shape);

async fn file_ids_are_one_segment(db: &TestDb) {
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('p', 'pending')").await.expect("pending");
    db.exec("INSERT INTO batches (batch_id, status) VALUES ('u', 'uploaded')").await.expect("uploaded");
    for id in ["../../etc/passwd", "a/b.rec", "a\\b.rec", "..", ".", ""] {
        refused(db, &file_row("u", id)).await;
        refused(db, &upload_row("p", id)).await;
    }
    if is_sqlite(db) {
        refused(db, &file_row("u", "a' || char(0) || 'b")).await;
        refused(db, &upload_row("p", "a' || char(0) || 'b")).await;
    }
    db.exec(&file_row("u", "drive..01.rec")).await.expect("dots inside a name are fine");
    db.exec(&upload_row("p", "drive-01.rec")).await.expect("a plain name");
    refused(db, "UPDATE files SET file_id = '../x' WHERE batch_id = 'u'").await;
    refused(db, "UPDATE uploads SET file_id = 'x/y' WHERE batch_id = 'p'").await;
}
both_backends!(file_ids_one_segment, file_ids_are_one_segment);
