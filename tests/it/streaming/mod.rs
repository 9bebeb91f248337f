//! `argus pipeline` against a real Kafka broker and real PostgreSQL: streaming gives the
//! replay's reports, whatever the workers, processes, crashes and poison in between.

mod harness;

use std::path::Path;
use std::time::Duration;

use harness::*;

use crate::util::{argus, copy_tree, free_port, run_ok, vector_root};

/// A root with the conformance vectors and a generated fleet of `batches` batches.
fn fleet_root(into: &Path, batches: u32) -> std::path::PathBuf {
    let root = into.join("root");
    run_ok(argus().arg("gen").arg(&root).args([
        "--batches",
        &batches.to_string(),
        "--files-per-batch",
        "2",
        "--size",
        "24KiB",
        "--seed",
        "11",
        "--corrupt",
        "0.05",
    ]));
    copy_tree(&vector_root(into), &root);
    root
}

fn pipeline_args(
    broker: &crate::broker::KafkaBroker,
    url: &str,
    root: &Path,
    log: &Path,
) -> PipelineArgs<'static> {
    PipelineArgs {
        brokers: broker.bootstrap(),
        database_url: url.to_owned(),
        object_store: Box::leak(root.to_path_buf().into_boxed_path()),
        log: log.to_owned(),
        extra: Vec::new(),
    }
}

/// Checks the store against the replay: every batch with files reported exactly as the
/// replay reports it, the fleet the same, and the commit points at the end of the topic.
async fn assert_matches_replay(
    store: &argus_sinks::Store,
    replayed: &Replayed,
    ids: &[String],
    broker: &crate::broker::KafkaBroker,
    partitions: i32,
    what: &str,
) {
    let stored = stored_reports(store, ids).await;
    for id in ids {
        assert_eq!(stored.get(id), replayed.reports.get(id), "{what}: batch {id}");
    }
    assert_eq!(stored_fleet(store).await, replayed.fleet, "{what}: the fleet report");
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

#[tokio::test(flavor = "multi_thread")]
async fn streaming_equals_replay_with_one_or_two_workers_and_two_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fleet_root(tmp.path(), 200);
    let ids = batches_with_files(&root);
    let replayed = replay(&root);
    let partitions = 4;
    let broker = broker_with_topics(partitions);
    publish(&broker, &root);

    let layouts: [(&str, Vec<Vec<String>>); 3] = [
        ("-w 1", vec![vec!["-w".into(), "1".into()]]),
        ("-w 2", vec![vec!["-w".into(), "2".into()]]),
        ("2 processes x 2 workers", {
            let hostfile = tmp.path().join("hostfile");
            std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()))
                .unwrap();
            (0..2)
                .map(|p| {
                    ["-w", "2", "-n", "2", "-p", &p.to_string(), "--hostfile", hostfile.to_str().unwrap()]
                        .map(String::from)
                        .to_vec()
                })
                .collect()
        }),
    ];
    for (what, processes) in layouts {
        let (db, store) = fresh_db().await;
        let logs: Vec<_> = (0..processes.len()).map(|i| tmp.path().join(format!("{what}-{i}.log"))).collect();
        let mut running: Vec<PipelineProcess> = processes
            .into_iter()
            .zip(&logs)
            .map(|(extra, log)| {
                PipelineProcess::start(&PipelineArgs {
                    extra,
                    ..pipeline_args(&broker, &db.url(), &root, log)
                })
            })
            .collect();
        let log_refs: Vec<&Path> = logs.iter().map(|l| l.as_path()).collect();
        wait_final(&store, ids.len(), Duration::from_secs(180), &log_refs).await;
        assert_matches_replay(&store, &replayed, &ids, &broker, partitions, what).await;
        running.iter_mut().for_each(PipelineProcess::kill9);
        store.close().await;
        db.drop_it().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pipeline_killed_at_twenty_random_moments_stores_every_batch_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fleet_root(tmp.path(), 200);
    let ids = batches_with_files(&root);
    let replayed = replay(&root);
    let partitions = 4;
    let broker = broker_with_topics(partitions);
    publish(&broker, &root);
    let (db, store) = fresh_db().await;
    let log = tmp.path().join("pipeline.log");
    let args = PipelineArgs {
        extra: vec!["-w".into(), "2".into()],
        ..pipeline_args(&broker, &db.url(), &root, &log)
    };

    // Deterministic "random" moments between 0.2 and 2 s after each start.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut finals_seen = Vec::new();
    for _ in 0..20 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = Duration::from_millis(200 + (state >> 33) % 1800);
        let mut pipeline = PipelineProcess::start(&args);
        tokio::time::sleep(after).await;
        pipeline.kill9();
        finals_seen.push(final_batches(&store).await);
    }
    assert!(finals_seen.iter().any(|&n| n > 0 && n < ids.len()), "some kills fell mid-run: {finals_seen:?}");
    let _pipeline = PipelineProcess::start(&args);
    wait_final(&store, ids.len(), Duration::from_secs(180), &[&log]).await;
    assert_matches_replay(&store, &replayed, &ids, &broker, partitions, "after 20 crashes").await;
    let reports: i64 = match &store {
        argus_sinks::Store::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM reports").fetch_one(pool).await.unwrap()
        }
        argus_sinks::Store::Sqlite(_) => unreachable!("the test uses Postgres"),
    };
    assert_eq!(reports as usize, ids.len(), "one report per batch");
    store.close().await;
    db.drop_it().await;
}
