//! Poison messages of every kind go to the dead-letter topic with their reason and where
//! they came from, interleaved good batches are all reported, and events produced by a
//! client other than Argus (Python's confluent-kafka) are read like Argus's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use argus_sinks::BatchState;
use serde_json::json;

use super::harness::*;
use super::pipeline_args;
use crate::util::{generate, run_ok};

/// A small root: `batches` generated batches of two files.
fn small_root(into: &Path, batches: u32, seed: u64) -> PathBuf {
    let root = into.join("root");
    generate(&root, &format!("--batches {batches} --files-per-batch 2 --size 16KiB --seed {seed}"));
    root
}

/// The files of a batch directory, sorted, with their sizes.
fn files_of(batch: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(batch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::metadata(&p).unwrap().len())
        })
        .collect();
    files.sort();
    files
}

fn event(batch: &str, file: &str, size: u64, file_count: u32) -> Vec<u8> {
    let uri = format!("{batch}/{file}");
    serde_json::to_vec(
        &json!({"batch_id": batch, "file_id": file, "uri": uri, "size": size, "file_count": file_count}),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_goes_to_the_dead_letter_topic_and_good_batches_are_all_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = small_root(tmp.path(), 6, 3);
    let broker = broker_with_topics(2);
    let mut sent = Vec::new();
    let mut poison = |key: &str, value: &[u8], reason: &'static str| {
        let at = broker.produce(TOPIC, Some(key.as_bytes()), Some(value), &[("trace-id", b"t-1")]);
        sent.push((at, reason));
    };
    poison("not-json", b"{not json", "not JSON");
    poison("missing", br#"{"batch_id":"m","file_id":"f","size":1,"file_count":1}"#, "missing field: uri");
    poison(
        "ill-typed",
        br#"{"batch_id":"t","file_id":"f","uri":"t/f","size":"ten","file_count":1}"#,
        "ill-typed field",
    );
    publish(&broker, &root);

    // A batch announced by hand: its second file first with a file count that disagrees
    // with the first event's (poison), then rightly.
    let donor = std::fs::read_dir(&root).unwrap().next().unwrap().unwrap().path();
    crate::util::copy_tree(&donor, &root.join("mismatch"));
    let files = files_of(&root.join("mismatch"));
    let (first, second) = (&files[0], &files[1]);
    broker.produce(TOPIC, Some(b"mismatch"), Some(&event("mismatch", &first.0, first.1, 2)), &[]);
    poison("mismatch", &event("mismatch", &second.0, second.1, 3), "file_count 3 disagrees");
    broker.produce(TOPIC, Some(b"mismatch"), Some(&event("mismatch", &second.0, second.1, 2)), &[]);
    // Objects that are missing, or not the size the event says.
    poison("ghost", &event("ghost", "nothing.rec", 10, 1), "does not exist");
    let wrong = json!({"batch_id": "wrong-size", "file_id": "f.rec", "uri": format!("mismatch/{}", first.0),
        "size": first.1 + 1, "file_count": 1});
    poison("wrong-size", &serde_json::to_vec(&wrong).unwrap(), "bytes, the event says");
    let good = batches_with_files(&root);

    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let port = crate::util::free_port();
    let extra = vec!["--metrics-addr".into(), format!("127.0.0.1:{port}")];
    let _pipeline =
        PipelineProcess::start(&PipelineArgs { extra, ..pipeline_args(&broker, &db.url(), &root, &log) });
    wait_final(&store, good.len(), Duration::from_secs(120), &[&log]).await;
    for batch in &good {
        assert_eq!(store.get_status(batch).await.unwrap(), Some(BatchState::Completed), "{batch}");
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let letters = broker.consume_all(DLQ, 1);
        if letters.len() >= sent.len() || std::time::Instant::now() > deadline {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(letters.len(), sent.len(), "one dead letter per poison message: {letters:?}");
    for ((partition, offset), reason) in &sent {
        let header = |letter: &crate::broker::Consumed, name: &str| {
            letter.4.iter().find(|(k, _)| k == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let letter = letters
            .iter()
            .find(|l| {
                header(l, "argus-source-partition") == Some(partition.to_string())
                    && header(l, "argus-source-offset") == Some(offset.to_string())
            })
            .unwrap_or_else(|| panic!("no dead letter for {partition}/{offset} ({reason})"));
        let error = header(letter, "argus-error").expect("a reason");
        assert!(error.contains(reason), "{partition}/{offset}: {error:?} should say {reason:?}");
        assert_eq!(header(letter, "argus-source-topic").as_deref(), Some(TOPIC));
    }
    let first = letters
        .iter()
        .find(|l| l.2.as_deref() == Some(b"not-json".as_slice()))
        .expect("not-json kept its key");
    assert_eq!(first.3.as_deref(), Some(b"{not json".as_slice()), "the value is kept");
    assert!(first.4.iter().any(|(k, v)| k == "trace-id" && v == b"t-1"), "the headers are kept");

    // The operator sees the same on /metrics (counters are copied every second).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let expected = [
        "argus_kafka_dead_lettered_total{reason=\"not_json\"} 1".to_owned(),
        "argus_kafka_dead_lettered_total{reason=\"file_count_mismatch\"} 1".to_owned(),
        format!("argus_batches_stored_total {}", good.len()),
        "argus_batch_latency_seconds_bucket".to_owned(),
        "argus_kafka_events_read_total".to_owned(),
    ];
    loop {
        let text = scrape(port);
        let missing: Vec<_> = expected.iter().filter(|e| !text.contains(e.as_str())).collect();
        if missing.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "/metrics lacks {missing:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    store.close().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_from_an_outside_client_are_read_like_argus_own() {
    let tmp = tempfile::tempdir().unwrap();
    let root = small_root(tmp.path(), 3, 5);
    let replayed = replay(&root);
    let broker = broker_with_topics(2);
    let mut script = String::from(
        "import json, sys\nfrom confluent_kafka import Producer\n\
         p = Producer({'bootstrap.servers': sys.argv[1], 'enable.idempotence': True, 'acks': 'all'})\n",
    );
    let ids = batches_with_files(&root);
    for batch in &ids {
        let files = files_of(&root.join(batch));
        for (file, size) in &files {
            let value = String::from_utf8(event(batch, file, *size, files.len() as u32)).unwrap();
            script.push_str(&format!("p.produce('{TOPIC}', key='{batch}', value={value:?})\n"));
        }
    }
    script.push_str("assert p.flush(30) == 0\n");
    let tools = std::env::var_os("ARGUS_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/argus-tools"));
    let python = tools.join("pyclient/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/tools.sh first", python.display());
    run_ok(Command::new(python).arg("-c").arg(&script).arg(broker.bootstrap()));

    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let _pipeline = PipelineProcess::start(&pipeline_args(&broker, &db.url(), &root, &log));
    wait_final(&store, ids.len(), Duration::from_secs(120), &[&log]).await;
    let stored = stored_reports(&store, &ids).await;
    for id in &ids {
        assert_eq!(stored.get(id), replayed.reports.get(id), "{id}");
    }
    store.close().await;
    db.drop_it().await;
}
