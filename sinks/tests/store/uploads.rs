//! The upload API's store: files recorded only while a batch is pending (the trigger
//! refuses them otherwise, whoever inserts), `complete_batch` closing a batch and handing
//! back its files on every call, an empty batch refused, and the report's file rows
//! taking the uploads' sha256.

use argus_sinks::BatchState::*;
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::store::PrunedObject;
use argus_sinks::{NewUpload, UploadError, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;

const SHA: &str = "9dbf17e461d819a55fed8c5a05993ae51619ab00171d9b46388749fbfc647411";

fn upload<'a>(batch_id: &'a str, file_id: &'a str) -> NewUpload<'a> {
    NewUpload { batch_id, file_id, name: file_id, bytes: 4096, sha256: SHA, uri: "batches/x/seg-00.rec" }
}

async fn uploads_follow_the_batch(db: &TestDb) {
    let store = &db.store;
    assert!(matches!(store.record_upload(&upload("nope", "a.rec")).await, Err(UploadError::UnknownBatch(_))));
    assert!(matches!(store.complete_batch("nope").await, Err(UploadError::UnknownBatch(_))));
    assert!(store.create_batch("b", Some("car-17"), Some("WVW00000000000001")).await.unwrap());
    assert!(matches!(store.complete_batch("b").await, Err(UploadError::EmptyBatch(_))));
    assert_eq!(store.get_status("b").await.unwrap(), Some(Pending), "an empty batch stays pending");

    let recorded = store.record_upload(&upload("b", "seg-00.rec")).await.unwrap();
    assert_eq!((recorded.bytes, recorded.sha256.as_str()), (4096, SHA));
    assert!(matches!(
        store.record_upload(&upload("b", "seg-00.rec")).await,
        Err(UploadError::FileExists { .. })
    ));
    assert!(store.has_upload("b", "seg-00.rec").await.unwrap());

    let first = store.complete_batch("b").await.unwrap();
    assert_eq!((first.was, first.vehicle_id.as_deref(), first.uploads.len()), (Pending, Some("car-17"), 1));
    let batch = store.get_batch("b").await.unwrap().unwrap();
    assert_eq!((batch.status, batch.file_count), (Uploaded, Some(1)));
    let again = store.complete_batch("b").await.unwrap();
    assert_eq!((again.was, &again.uploads), (Uploaded, &first.uploads), "a repeat hands the files back");
    assert!(matches!(
        store.record_upload(&upload("b", "late.rec")).await,
        Err(UploadError::NotPending { status: Uploaded, .. })
    ));
    // The database refuses it too, whoever inserts.
    let raw = "INSERT INTO uploads (batch_id, file_id, name, bytes, sha256, uri) \
               VALUES ('b', 'raw.rec', 'raw.rec', 1, '9dbf17e461d819a55fed8c5a05993ae51619ab00171d9b46388749fbfc647411', 'u')";
    assert!(db.exec(raw).await.is_err(), "the trigger refuses uploads after pending");

    // The report writer's file row takes the upload's digest; the batch keeps its vehicle.
    let mut finished = synthetic("b", "WVW00000000000001", &[("P0301-00", 2)]);
    finished.report.files[0].file_id = "seg-00.rec".into();
    write_finished_batch(store, &Diagnoser::rules_only(), &finished, &[]).await.unwrap();
    let batch = store.get_batch("b").await.unwrap().unwrap();
    assert_eq!(batch.status, Completed);
    assert_eq!(batch.vehicle_id.as_deref(), Some("car-17"));
    assert_eq!(batch.files[0].sha256.as_deref(), Some(SHA));
    // A replayed batch, never uploaded, keeps NULL.
    write_finished_batch(
        store,
        &Diagnoser::rules_only(),
        &synthetic("r", "WVW00000000000002", &[("P0301-00", 1)]),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(store.get_batch("r").await.unwrap().unwrap().files[0].sha256, None);
    let completed = store.complete_batch("b").await.unwrap();
    assert_eq!(completed.was, Completed, "completing a final batch re-publishes, changing nothing");
}
both_backends!(uploads_follow_the_batch_, uploads_follow_the_batch);

/// A pruned batch's uploads are listed for deletion from the object store, in the prune's
/// transaction, until `argus prune` forgets them; a batch that is not pruned lists none.
async fn pruned_uploads_are_listed_until_forgotten(db: &TestDb) {
    let store = &db.store;
    for (id, vin) in [("old", "WVW00000000000001"), ("open", "WVW00000000000002")] {
        assert!(store.create_batch(id, None, Some(vin)).await.unwrap());
        for file in ["seg-00.rec", "seg-01.rec"] {
            let uri = format!("batches/{id}/{file}");
            store.record_upload(&NewUpload { uri: &uri, ..upload(id, file) }).await.unwrap();
        }
    }
    store.complete_batch("old").await.unwrap();
    let mut finished = synthetic("old", "WVW00000000000001", &[("P0301-00", 2)]);
    finished.report.files[0].file_id = "seg-00.rec".into();
    write_finished_batch(store, &Diagnoser::rules_only(), &finished, &[]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let age = std::time::Duration::from_millis(5);
    let due = store.prunable(age).await.unwrap();
    assert_eq!((due.batches, due.objects), (1, 2), "the dry run counts the final batch's two uploads");
    assert_eq!(store.pruned_object_count().await.unwrap(), 0, "a dry run lists nothing");
    let pruned = store.prune(age).await.unwrap();
    assert_eq!((pruned.batches, pruned.objects), (1, 2));
    let uris = |objects: Vec<PrunedObject>| {
        let mut uris: Vec<String> = objects.into_iter().map(|o| o.uri).collect();
        uris.sort();
        uris
    };
    let listed = store.pruned_objects(None, 10).await.unwrap();
    assert_eq!(uris(listed.clone()), ["batches/old/seg-00.rec", "batches/old/seg-01.rec"]);
    // Read on from a row: the rows after it, in the list's order.
    assert_eq!(store.pruned_objects(None, 1).await.unwrap(), listed[..1], "the limit holds");
    assert_eq!(store.pruned_objects(Some(&listed[0]), 10).await.unwrap(), listed[1..]);
    assert!(store.pruned_objects(Some(&listed[1]), 10).await.unwrap().is_empty());
    assert_eq!(store.list_uploads("open").await.unwrap().len(), 2, "the open batch keeps its uploads");

    store.forget_pruned_objects(&["batches/old/seg-00.rec".to_owned()]).await.unwrap();
    assert_eq!(uris(store.pruned_objects(None, 10).await.unwrap()), ["batches/old/seg-01.rec"]);
    store.forget_pruned_objects(&["batches/old/seg-01.rec".to_owned()]).await.unwrap();
    assert_eq!(store.pruned_object_count().await.unwrap(), 0);
    assert_eq!(store.prune(age).await.unwrap(), Default::default(), "nothing more to prune");
}
both_backends!(pruned_uploads_are_listed_until_forgotten_, pruned_uploads_are_listed_until_forgotten);
