//! `Store::advance_status`: forward-only status steps, safe when the ingest and writers
//! step the same batch at once.

use argus_sinks::BatchState::{self, *};
use argus_sinks::diagnosis::Diagnoser;

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

async fn status(db: &TestDb, id: &str) -> Option<BatchState> {
    db.store.get_status(id).await.expect("status")
}

async fn steps_only_forward(db: &TestDb) {
    let store = &db.store;
    assert!(store.advance_status("new", Scattering).await.expect("step"), "a missing batch is created");
    assert_eq!(status(db, "new").await, Some(Scattering));
    assert!(store.advance_status("new", Diagnosing).await.expect("step"), "two steps at once");
    assert_eq!(status(db, "new").await, Some(Diagnosing));
    assert!(!store.advance_status("new", Gathering).await.expect("late step"), "never backwards");
    assert!(!store.advance_status("new", Diagnosing).await.expect("repeat"), "a repeat changes nothing");
    assert_eq!(status(db, "new").await, Some(Diagnosing));

    store.create_batch("api", Some("car"), Some("WVW00000000000AP1")).await.expect("create");
    assert!(store.advance_status("api", Gathering).await.expect("step"), "from pending");
    assert_eq!(status(db, "api").await, Some(Gathering));

    let diagnoser = Diagnoser::rules_only();
    let done = synthetic("done", "WVW0000000000D0NE", &[("P0301-00", 3)]);
    store.write_batch(&done, &diagnoser.rules(&done)).await.expect("write");
    assert!(!store.advance_status("done", Scattering).await.expect("step on a final batch"));
    assert_eq!(status(db, "done").await, Some(Completed));
    store.advance_status("gone", Uploaded).await.expect("step");
    store.move_status("gone", Failed, Some("timed out")).await.expect("fail");
    assert!(!store.advance_status("gone", Diagnosing).await.expect("step on a failed batch"));
    assert_eq!(status(db, "gone").await, Some(Failed));

    for final_state in [Completed, Failed, Pending] {
        assert!(store.advance_status("new", final_state).await.is_err(), "{final_state} is not a step");
    }
    // The batch written after its steps walks on from where they left it.
    let stepped = synthetic("new", "WVW00000000000NEW", &[("P0301-00", 1)]);
    store.write_batch(&stepped, &diagnoser.rules(&stepped)).await.expect("write after steps");
    assert_eq!(status(db, "new").await, Some(Completed));
}
both_backends!(advance_forward_only, steps_only_forward);

/// Steppers on two pools (two processes) race through every step of many batches in
/// opposite orders: none fails, and each batch ends at the furthest step.
async fn concurrent_steppers(db: &TestDb) {
    let stores = [db.store.clone(), db.open_another().await];
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        for round in 0..2 {
            let store = store.clone();
            let order: Vec<BatchState> = if (n + round) % 2 == 0 {
                vec![Scattering, Gathering, Diagnosing]
            } else {
                vec![Diagnosing, Gathering, Scattering]
            };
            tasks.push(tokio::spawn(async move {
                for i in 0..15 {
                    for &step in &order {
                        store.advance_status(&format!("race-{i}"), step).await.expect("step");
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("stepper");
    }
    assert_eq!(db.scalar("SELECT COUNT(*) FROM batches WHERE status = 'diagnosing'").await, 15);
    stores[1].close().await;
}
both_backends!(advance_concurrently, concurrent_steppers);
