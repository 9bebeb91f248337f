//! Two writers (two pools, as two processes would have) racing on one batch.

use std::sync::Arc;

use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{BatchState, WriteOutcome, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

const ROUNDS: usize = 40;

async fn racing_writers(db: &TestDb) {
    let first = db.store.clone();
    let second = db.open_another().await;
    let diagnoser = Arc::new(Diagnoser::rules_only());
    for round in 0..ROUNDS {
        let id = format!("race-{round}");
        let batch = Arc::new(synthetic(
            &id,
            "WVW0000000000RACE",
            &[("P0301-00", 50), ("P0302-00", 7), ("U0100-87", 1)],
        ));
        // Half the rounds start from a batch the API created, so both writers also race
        // through the status walk.
        if round % 2 == 1 {
            db.store.create_batch(&id, Some("car"), Some("WVW0000000000RACE")).await.expect("create");
        }
        let tasks = [first.clone(), second.clone()].map(|store| {
            let (batch, diagnoser) = (batch.clone(), diagnoser.clone());
            tokio::spawn(async move { write_finished_batch(&store, &diagnoser, &batch, &[]).await })
        });
        let mut written = 0;
        for task in tasks {
            match task.await.expect("task").expect("write") {
                WriteOutcome::Written(BatchState::Completed) => written += 1,
                WriteOutcome::AlreadyFinal(BatchState::Completed) => {}
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!(written, 1, "round {round}: exactly one writer stores the batch");
        let count = |table: &str| format!("SELECT COUNT(*) FROM {table} WHERE batch_id = '{id}'");
        assert_eq!(db.scalar(&count("reports")).await, 1);
        assert_eq!(db.scalar(&count("diagnoses")).await, 1);
        assert_eq!(db.scalar(&count("files")).await, 1);
        assert_eq!(db.scalar(&count("batch_codes")).await, 3);
    }
    assert_eq!(db.scalar("SELECT COUNT(*) FROM batches WHERE status = 'completed'").await, ROUNDS as i64);
    second.close().await;
}
both_backends!(concurrent_writers, racing_writers);
