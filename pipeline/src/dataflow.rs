//! The Argus dataflow, wired in one place from the named operators.

use std::sync::Arc;
use std::time::Duration;

use timely::dataflow::operators::vec::{Map, ToStream};
use timely::dataflow::operators::{Concat, Concatenate, Probe};
use timely::dataflow::{ProbeHandle, Scope};

use crate::feed::Feed;
use crate::fleet::{FleetEntry, fact_collection, fleet_view};
use crate::gather::gather;
use crate::items::{GatherPart, SourceItem, Time};
use crate::metrics::Metrics;
use crate::parse::parse_ranges;
use crate::resolve::MapCache;
use crate::source::{SourceConfig, file_source};
use crate::split::{SplitConfig, SplitItem, split_files};
use crate::write::{ErrorSlot, FleetChange, FleetView, Writers, batch_sink, fleet_sink};

/// Everything that shapes the dataflow (identical on every worker).
#[derive(Debug, Clone)]
pub struct DataflowConfig {
    /// Entries in `top_errors`. Default 10.
    pub k: usize,
    pub source: SourceConfig,
    pub split: SplitConfig,
    /// See [`crate::parse::DEFAULT_BYTES_PER_ACTIVATION`].
    pub bytes_per_activation: u64,
    /// Also maintain a fleet report over batches whose sessions ended within this window.
    pub window: Option<Duration>,
}

impl Default for DataflowConfig {
    fn default() -> Self {
        Self {
            k: crate::DEFAULT_K,
            source: SourceConfig::default(),
            split: SplitConfig::default(),
            bytes_per_activation: crate::parse::DEFAULT_BYTES_PER_ACTIVATION,
            window: None,
        }
    }
}

/// What one worker brings to the dataflow.
pub struct WorkerParts {
    /// `Some` on the worker that reads the feed.
    pub feed: Option<Box<dyn Feed>>,
    pub cache: MapCache,
    pub writers: Writers,
    pub errors: ErrorSlot,
    pub metrics: Arc<Metrics>,
    /// The completed batches already in the store, counted into the fleet at time 0 when
    /// a restart re-seeds it (given to one worker; empty on the others).
    pub fleet_seed: Vec<FleetEntry>,
}

/// Builds the dataflow; returns the probe that tells which times are durably written.
pub fn build(scope: Scope<'_, Time>, config: &DataflowConfig, parts: WorkerParts) -> ProbeHandle<Time> {
    let WorkerParts { feed, cache, writers, errors, metrics, fleet_seed } = parts;
    let durable = ProbeHandle::new();

    let items = file_source(scope, feed, config.source.clone(), durable.clone());
    let opened = items.clone().flat_map(|item| match item {
        SourceItem::Open { time, batch_id, file_count, first_event_ms } => {
            Some(GatherPart::Open { time, batch_id, file_count, first_event_ms })
        }
        SourceItem::File { .. } => None,
    });
    let files = items.flat_map(|item| match item {
        SourceItem::File { time, file } => Some((time, file)),
        SourceItem::Open { .. } => None,
    });

    let split = split_files(files, cache.clone(), config.split);
    let heads =
        split.clone().flat_map(|s| if let SplitItem::Head(h) = s { Some(GatherPart::Head(h)) } else { None });
    let ranges = split.flat_map(|s| if let SplitItem::Range(r) = s { Some(r) } else { None });
    let parsed = parse_ranges(ranges, cache, metrics.clone(), config.bytes_per_activation);

    let finished = gather(opened.concat(heads).concat(parsed), config.k, writers.clone());
    let mut written = vec![batch_sink(finished.clone(), writers.clone(), errors.clone(), metrics)];

    let seed = fleet_seed.into_iter().map(|entry| (0, entry)).to_stream(scope);
    let completed = finished.clone().flat_map(|(time, batch)| FleetEntry::of(&batch).map(|e| (time, e)));
    let entries = seed.concat(completed);

    let mut views = vec![(FleetView::AllTime, None)];
    views.extend(config.window.map(|w| (FleetView::Window, Some(w))));
    for (view, window) in views {
        let (totals, top) = fleet_view(fact_collection(entries.clone(), window), config.k);
        let changes = totals
            .inner
            .map(|((total, amount), t, r)| (FleetChange::Total(total, amount), t, r))
            .concat(top.inner.map(|(rank, t, r)| (FleetChange::Top(rank), t, r)));
        written.push(fleet_sink(changes, config.k, view, writers.clone(), errors.clone()));
    }

    scope.concatenate(written).probe_with(&durable);
    durable
}
