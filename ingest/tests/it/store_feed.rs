//! Replay from an object store: the spooling task hands the source local copies, reads
//! ahead no further than its byte bound, and removes each batch's copies once the commit
//! points pass it, the rest when the dataflow drops the feed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_ingest::{SpoolConfig, StoreAt, StoreFeed, TaskFeed};
use argus_pipeline::{Feed, FeedEvent, FeedState, FileReady, Position};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Polls until `n` events arrived (or the feed finished), as the source would.
fn poll_events(feed: &mut TaskFeed, n: usize) -> (Vec<FeedEvent>, FeedState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = Vec::new();
    loop {
        let state = feed.poll(n - events.len(), &mut events);
        if events.len() == n || state == FeedState::Finished {
            return (events, state);
        }
        assert!(Instant::now() < deadline, "only {} of {n} events", events.len());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spooled(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "rec"))
        .count()
}

fn file(event: &FeedEvent) -> &FileReady {
    match event {
        FeedEvent::File(file) => file,
        other => panic!("not a file event: {other:?}"),
    }
}

#[test]
fn the_spool_reads_ahead_one_bound_and_is_emptied_as_batches_become_durable() {
    let runtime = runtime();
    let memory = Arc::new(InMemory::new());
    let put = |key: &str, bytes: &'static [u8]| {
        runtime.block_on(memory.put(&ObjectPath::from(key), bytes.into())).unwrap();
    };
    put("fleet/b1/a.rec", b"first file of b1");
    put("fleet/b1/b.rec", b"second file of b1");
    put("fleet/b2/c.rec", b"the file of b2");
    put("fleet/b3/notes.txt", b"no rec file: an empty batch");
    let at = StoreAt { store: memory.clone(), prefix: ObjectPath::from("fleet"), base: "memory://".into() };
    let dir = tempfile::tempdir().unwrap();
    let config = SpoolConfig { dir: dir.path().join("spool"), max_bytes_ahead: 1 };
    let feed = runtime.block_on(StoreFeed::open(at, config.clone())).unwrap();
    let (mut feed, task) = feed.start(runtime.handle()).unwrap();

    let (b1, _) = poll_events(&mut feed, 2);
    let b1: Vec<&FileReady> = b1.iter().map(file).collect();
    assert_eq!(
        b1.iter().map(|f| (f.batch_id.as_str(), f.file_id.as_str(), f.file_count)).collect::<Vec<_>>(),
        [("b1", "a.rec", 2), ("b1", "b.rec", 2)]
    );
    assert_eq!(std::fs::read(&b1[1].location).unwrap(), b"second file of b1", "a local copy");
    assert_eq!(b1[0].position, Some(Position { partition: 0, offset: 0 }));
    assert_eq!(b1[1].position, Some(Position { partition: 0, offset: 1 }));

    // One byte ahead at most: nothing more until b1 is durable.
    std::thread::sleep(Duration::from_millis(200));
    let mut more = Vec::new();
    assert_eq!(feed.poll(10, &mut more), FeedState::Idle);
    assert!(more.is_empty(), "read ahead past the bound: {more:?}");
    assert_eq!(spooled(&config.dir), 2);

    feed.commit(&[Position { partition: 0, offset: 2 }]);
    let (b2, _) = poll_events(&mut feed, 1);
    assert_eq!(file(&b2[0]).batch_id, "b2");
    assert_eq!(file(&b2[0]).position, Some(Position { partition: 0, offset: 2 }));
    assert!(!Path::new(&b1[0].location).exists(), "b1's copies go once it is durable");

    feed.commit(&[Position { partition: 0, offset: 3 }]);
    let (rest, state) = poll_events(&mut feed, 2);
    assert_eq!(rest, [FeedEvent::EmptyBatch { batch_id: "b3".into() }]);
    assert_eq!(state, FeedState::Finished);

    // A run that stops early: the copies of batches never passed go with the feed.
    drop(feed);
    runtime.block_on(task).unwrap();
    assert_eq!(spooled(&config.dir), 0);
}

#[test]
fn copies_not_passed_by_the_commit_points_go_when_the_feed_is_dropped() {
    let runtime = runtime();
    let memory = Arc::new(InMemory::new());
    runtime.block_on(memory.put(&ObjectPath::from("b/x.rec"), b"bytes".as_slice().into())).unwrap();
    let at = StoreAt { store: memory, prefix: ObjectPath::from(""), base: "memory://".into() };
    let dir = tempfile::tempdir().unwrap();
    let config = SpoolConfig::new(dir.path().to_owned());
    let (mut feed, task) =
        runtime.block_on(StoreFeed::open(at, config)).unwrap().start(runtime.handle()).unwrap();
    let (events, _) = poll_events(&mut feed, 1);
    assert!(Path::new(&file(&events[0]).location).exists());
    drop(feed);
    runtime.block_on(task).unwrap();
    assert_eq!(spooled(dir.path()), 0, "nothing left behind");
}
