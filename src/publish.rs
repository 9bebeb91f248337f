//! `argus publish ROOT --brokers … --topic …`: one file-ready event per file of an archived
//! layout (a directory or `s3://` prefix, as `argus replay` reads it), with the idempotent
//! producer (`acks=all`). Operators backfill with it; the tests feed the pipeline with it.
//! Each event's `uri` is the file's path relative to ROOT, so the pipeline reading them
//! runs with `--object-store ROOT`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use argus_ingest::dir_feed::batch_events;
use argus_ingest::kafka::{FileReadyEvent, idempotent_producer, publish_event};
use argus_ingest::object_listing::{batch_files, batch_prefixes};
use argus_ingest::{DirFeed, StoreAt};
use argus_pipeline::{Feed, FeedEvent, FeedState};
use futures::future::try_join_all;

use crate::replay::{Root, root_of};

/// Arguments of `argus publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// A directory (or `file://`, `s3://bucket/prefix` URL) whose sub-directories are batches.
    pub root: String,
    /// Kafka bootstrap servers, `host:port[,…]`.
    #[arg(long)]
    pub brokers: String,
    #[arg(long, default_value = "argus.files.ready")]
    pub topic: String,
    /// Events in flight at once (they are sent concurrently and awaited together).
    #[arg(long, default_value_t = 1000)]
    pub in_flight: usize,
}

pub fn run(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let runtime = Arc::new(crate::runtime::start()?);
    let root = root_of(&args.root)?;
    let (listed, prefix) = match root {
        Root::Dir(dir) => {
            anyhow::ensure!(dir.is_dir(), "publish root {} is not a directory", dir.display());
            let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
            let prefix = format!("{}/", dir.display());
            (list_dir(&dir)?, prefix)
        }
        Root::Store(at) => {
            let prefix =
                if at.prefix.as_ref().is_empty() { String::new() } else { format!("{}/", at.prefix) };
            let base = at.base.clone();
            (runtime.block_on(list_store(&at)).with_context(|| format!("listing {base}"))?, prefix)
        }
    };
    let (events, empty) = file_ready_events(listed, &prefix)?;
    let producer = idempotent_producer(&args.brokers).context("creating the producer")?;
    let published = runtime.block_on(async {
        for chunk in events.chunks(args.in_flight.max(1)) {
            try_join_all(chunk.iter().map(|event| publish_event(&producer, &args.topic, event))).await?;
        }
        anyhow::Ok(events.len())
    })?;
    tracing::info!(events = published, topic = %args.topic, "published");
    if empty > 0 {
        // A file-ready event names a file: a batch without files cannot be announced.
        tracing::warn!(batches = empty, "empty batches have no file to announce and were not published");
    }
    println!("{published}");
    Ok(ExitCode::SUCCESS)
}

/// Every batch of a layout in a directory, as the replay lists it.
fn list_dir(dir: &std::path::Path) -> anyhow::Result<Vec<FeedEvent>> {
    let mut feed = DirFeed::open(dir)?;
    let mut events = Vec::new();
    while feed.poll(64, &mut events) != FeedState::Finished {}
    Ok(events)
}

/// Every batch of a layout in an object store, as the replay lists it.
async fn list_store(at: &StoreAt) -> anyhow::Result<Vec<FeedEvent>> {
    let mut events = Vec::new();
    for (batch_id, prefix) in batch_prefixes(at).await? {
        events.extend(batch_events(&batch_id, batch_files(at, &prefix).await?));
    }
    Ok(events)
}

/// Every file of the layout as a file-ready event, in listing order, and the number of
/// empty batches.
fn file_ready_events(listed: Vec<FeedEvent>, prefix: &str) -> anyhow::Result<(Vec<FileReadyEvent>, usize)> {
    let (mut events, mut empty) = (Vec::new(), 0);
    for event in listed {
        let file = match event {
            FeedEvent::File(file) => file,
            FeedEvent::EmptyBatch { .. } => {
                empty += 1;
                continue;
            }
            FeedEvent::Passed(_) => continue,
        };
        let uri = file.location.strip_prefix(prefix).unwrap_or(&file.location).to_owned();
        let size = file.size.with_context(|| format!("{uri}: the listing gave no size"))?;
        events.push(FileReadyEvent {
            batch_id: file.batch_id,
            file_id: file.file_id,
            uri,
            size,
            file_count: file.file_count,
            vin: None,
            vehicle_id: None,
            uploaded_at: None,
        });
    }
    Ok((events, empty))
}
