//! Streaming gives the replay's reports and fleet, with any number of workers and processes.

use std::path::Path;
use std::time::Duration;

use super::harness::*;
use super::{Published, pipeline_args};
use crate::util::free_port;

#[tokio::test(flavor = "multi_thread")]
async fn streaming_equals_replay_with_one_or_two_workers_and_two_processes() {
    let fleet = Published::new(200, 4);

    let layouts: [(&str, Vec<Vec<String>>); 3] = [
        ("-w 1", vec![vec!["-w".into(), "1".into()]]),
        ("-w 2", vec![vec!["-w".into(), "2".into()]]),
        ("2 processes x 2 workers", {
            let hostfile = fleet.tmp.path().join("hostfile");
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
        let logs: Vec<_> =
            (0..processes.len()).map(|i| fleet.tmp.path().join(format!("{what}-{i}.log"))).collect();
        let mut running: Vec<PipelineProcess> = processes
            .into_iter()
            .zip(&logs)
            .map(|(extra, log)| {
                PipelineProcess::start(&PipelineArgs {
                    extra,
                    ..pipeline_args(&fleet.broker, &db.url(), &fleet.root, log)
                })
            })
            .collect();
        let log_refs: Vec<&Path> = logs.iter().map(|l| l.as_path()).collect();
        wait_final(&store, fleet.ids.len(), Duration::from_secs(180), &log_refs).await;
        fleet.assert_stored(&store, what).await;
        running.iter_mut().for_each(PipelineProcess::kill9);
        store.close().await;
        db.drop_it().await;
    }
}
